//! `auth/signin` and `auth/signout`: password, personal access token (one session per token)
//! and connected-app JWT, checked the way Tableau checks them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::config::ConnectedApp;
use super::errors::{ApiError, ApiResult};
use super::model::SiteRole;
use super::node::Node;
use super::router::Ctx;
use super::sessions::SessionKind;
use super::state::Inner;
use super::wire::Reply;

/// Tableau refuses connected-app tokens valid for longer than this.
const MAX_JWT_LIFETIME_SECS: i64 = 600;

const CREDENTIAL_ATTRS: &[&str] = &[
    "name",
    "password",
    "personalAccessTokenName",
    "personalAccessTokenSecret",
    "jwt",
    "isUat",
];

fn login_error(why: &str) -> ApiError {
    ApiError::signin_error(format!("Error signing in to Tableau Server: {why}"))
}

/// Every credential kind is accepted at every API version served: Sign In is one method
/// (2.0+) whose credentials differ only in attributes, and Tableau reads them whatever the
/// URL's version (tableauserverclient signs in at its default 2.4 with a PAT or JWT, then
/// switches to the server's version).
pub fn sign_in(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let doc = ctx.doc()?;
    let credentials = doc.only_child(&["credentials"])?;
    doc.check(
        credentials,
        CREDENTIAL_ATTRS,
        &["site", "user"],
        "CredentialsType",
    )?;
    let site = credentials
        .find("site")
        .ok_or_else(|| ApiError::bad_request("The credentials must name a site."))?;
    doc.check(site, &["contentUrl", "id", "name"], &[], "SiteType")?;
    let content_url = site.get("contentUrl").unwrap_or("");

    let password = credentials.get("password");
    let pat = credentials.get("personalAccessTokenName");
    let jwt = credentials.get("jwt");
    let kinds = [password.is_some(), pat.is_some(), jwt.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(ApiError::bad_request(
            "Exactly one of password, personal access token or JWT must be given.",
        ));
    }

    let state = ctx.state;
    let mut inner = state.lock();
    if !content_url.eq_ignore_ascii_case(&state.site.content_url) {
        return Err(login_error("the site does not exist"));
    }
    let (user_id, kind) = if let Some(pat_name) = pat {
        let secret = credentials.get("personalAccessTokenSecret").unwrap_or("");
        match state.pats.get(pat_name) {
            Some((expected, owner)) if expected == secret => (
                owner.clone(),
                SessionKind::PersonalAccessToken(pat_name.to_owned()),
            ),
            _ => return Err(login_error("invalid personal access token")),
        }
    } else if let Some(jwt) = jwt {
        let (user_id, scopes) = verify_jwt(&state.connected_apps, &mut inner, jwt)?;
        (user_id, SessionKind::ConnectedApp(scopes))
    } else {
        let name = credentials.get("name").unwrap_or("");
        match inner.directory.user_by_name(name) {
            Some(user) if user.password.is_some() && user.password.as_deref() == password => {
                (user.id.clone(), SessionKind::Password)
            }
            _ => return Err(login_error("invalid user name or password")),
        }
    };

    // Impersonation: sign in as another user of the site (Tableau Server admins only).
    let user_id = match credentials.find("user").and_then(|u| u.get("id")) {
        Some(other) => inner.directory.user(other)?.id.clone(),
        None => user_id,
    };
    inner.directory.grant_role_on_sign_in(&user_id);
    let user = inner.directory.user(&user_id)?;
    if user.site_role == SiteRole::Unlicensed {
        return Err(login_error("the user is unlicensed"));
    }
    let token = inner.sessions.open(&user_id, kind);
    if let Ok(now) = OffsetDateTime::now_utc().replace_nanosecond(0)
        && let Ok(stamp) = now.format(&Rfc3339)
    {
        inner.directory.set_last_login(&user_id, stamp);
    }
    Ok(Reply::ok(vec![
        Node::new("credentials")
            .attr("token", token)
            .child(
                Node::new("site")
                    .attr("id", state.site.id.clone())
                    .attr("contentUrl", state.site.content_url.clone()),
            )
            .child(Node::new("user").attr("id", user_id)),
    ]))
}

pub fn sign_out(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let token = ctx
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::no_credentials)?;
    if ctx.state.lock().sessions.close(token) {
        Ok(Reply::NoContent)
    } else {
        Err(ApiError::invalid_credentials())
    }
}

#[derive(Debug, Deserialize)]
struct JwtHeader {
    alg: String,
    kid: Option<String>,
    iss: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scopes {
    List(Vec<String>),
    One(String),
}

#[derive(Debug, Deserialize)]
struct JwtClaims {
    sub: String,
    exp: i64,
    jti: Option<String>,
    scp: Option<Scopes>,
}

/// Direct-trust checks: HS256, `kid` = a secret ID, `iss` = its client ID (header `iss`
/// optional), `aud` = "tableau", `exp` in the future and at most 10 minutes ahead, unused
/// `jti`, non-empty `scp`, `sub` = an existing user name (case-sensitive).
fn verify_jwt(
    apps: &[ConnectedApp],
    inner: &mut Inner,
    jwt: &str,
) -> ApiResult<(String, Vec<String>)> {
    let header_b64 = jwt.split('.').next().unwrap_or("");
    let header: JwtHeader = URL_SAFE_NO_PAD
        .decode(header_b64.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| login_error("the JWT is malformed"))?;
    if header.alg != "HS256" {
        return Err(login_error("the JWT must be signed with HS256"));
    }
    let kid = header
        .kid
        .ok_or_else(|| login_error("the JWT header has no 'kid'"))?;
    let app = apps
        .iter()
        .find(|a| a.secret_id == kid)
        .ok_or_else(|| login_error("no connected app has this secret ID ('kid')"))?;
    if header.iss.as_ref().is_some_and(|iss| *iss != app.client_id) {
        return Err(login_error(
            "the JWT header 'iss' is not the connected app's client ID",
        ));
    }

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["tableau"]);
    validation.set_issuer(&[app.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<JwtClaims>(
        jwt,
        &DecodingKey::from_secret(app.secret.as_bytes()),
        &validation,
    )
    .map_err(|e| login_error(&format!("the JWT was refused ({e})")))?
    .claims;

    let now = OffsetDateTime::now_utc().unix_timestamp();
    if claims.exp - now > MAX_JWT_LIFETIME_SECS {
        return Err(login_error(
            "'exp' exceeds the maximum validity period of 10 minutes",
        ));
    }
    let scopes = match claims.scp {
        Some(Scopes::List(list)) => list,
        Some(Scopes::One(s)) => s.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    };
    if scopes.is_empty() {
        return Err(login_error("the JWT has no 'scp' scopes"));
    }
    let jti = claims
        .jti
        .ok_or_else(|| login_error("the JWT has no 'jti'"))?;
    let user_id = inner
        .directory
        .user_by_name(&claims.sub)
        .filter(|u| u.name == claims.sub)
        .map(|u| u.id.clone())
        .ok_or_else(|| {
            login_error("'sub' does not name a user of the site (names are case-sensitive)")
        })?;
    if !inner.sessions.claim_jti(&jti, claims.exp, now) {
        return Err(login_error("the JWT 'jti' was already used"));
    }
    Ok((user_id, scopes))
}
