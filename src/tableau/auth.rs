//! Sign-in bodies for the three credential kinds (reference §1.1), and the connected-app JWT
//! (§1.2). The body is built per sign-in and dropped right after: secrets live only in the
//! settings.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::errors::TableauError;
use super::settings::TableauAuth;
use super::wire::{Credentials, SignInRequest};

/// Lifetime of a minted JWT: it is used at once, and Tableau refuses more than 10 minutes.
const JWT_LIFETIME_SECS: u64 = 5 * 60;

/// What a provisioning bridge needs: users and groups (memberships are `groups:update`).
/// The wildcards are what Tableau's own SCIM asks for (reference §1.2, §8.1).
pub const JWT_SCOPES: [&str; 2] = ["tableau:users:*", "tableau:groups:*"];

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    jti: String,
    scp: [&'a str; 2],
}

/// The JSON body of `POST /api/{v}/auth/signin`. Serialised at once so the borrowed secret
/// never outlives this call.
pub fn sign_in_body(auth: &TableauAuth, site: &str) -> Result<Vec<u8>, TableauError> {
    let jwt;
    let credentials = match auth {
        TableauAuth::Pat { name, secret } => Credentials {
            personal_access_token_name: Some(name),
            personal_access_token_secret: Some(secret),
            ..Credentials::for_site(site)
        },
        TableauAuth::Password { username, password } => Credentials {
            name: Some(username),
            password: Some(password),
            ..Credentials::for_site(site)
        },
        TableauAuth::ConnectedApp {
            client_id,
            secret_id,
            secret,
            username,
        } => {
            jwt = mint_jwt(client_id, secret_id, secret, username)?;
            Credentials {
                jwt: Some(&jwt),
                ..Credentials::for_site(site)
            }
        }
    };
    serde_json::to_vec(&SignInRequest { credentials })
        .map_err(|e| TableauError::Protocol(format!("cannot encode sign-in: {e}")))
}

/// An HS256 direct-trust JWT: header `kid` = secret ID; claims `iss` = client ID, `sub` = the
/// Tableau user, `aud` = "tableau", `exp` 5 minutes ahead, a fresh `jti`, the scopes.
pub fn mint_jwt(
    client_id: &str,
    secret_id: &str,
    secret: &str,
    username: &str,
) -> Result<String, TableauError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TableauError::Auth("the system clock is before 1970".into()))?
        .as_secs();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(secret_id.to_owned());
    let claims = Claims {
        iss: client_id,
        sub: username,
        aud: "tableau",
        exp: now + JWT_LIFETIME_SECS,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        scp: JWT_SCOPES,
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| TableauError::Auth(format!("cannot mint the connected-app JWT: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    #[test]
    fn jwt_has_the_documented_shape() {
        let jwt = mint_jwt("client", "sid", "value", "admin@x").unwrap();
        let header = decode_header(&jwt).unwrap();
        assert_eq!(header.kid.as_deref(), Some("sid"));
        assert_eq!(header.alg, Algorithm::HS256);
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&["tableau"]);
        v.set_issuer(&["client"]);
        let data =
            decode::<serde_json::Value>(&jwt, &DecodingKey::from_secret(b"value"), &v).unwrap();
        assert_eq!(data.claims["sub"], "admin@x");
        assert_eq!(data.claims["scp"][1], "tableau:groups:*");
        let exp = data.claims["exp"].as_u64().unwrap();
        let iat = data.claims["iat"].as_u64().unwrap();
        assert!(exp > iat && exp - iat <= 600);
        let other = mint_jwt("client", "sid", "value", "admin@x").unwrap();
        assert_ne!(jwt, other, "every JWT has its own jti");
    }

    #[test]
    fn bodies_carry_one_credential_kind() {
        let body = sign_in_body(
            &TableauAuth::Pat {
                name: "n".into(),
                secret: "s".into(),
            },
            "acme",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"credentials":{"personalAccessTokenName":"n",
                "personalAccessTokenSecret":"s","site":{"contentUrl":"acme"}}})
        );
    }
}
