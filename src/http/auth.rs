//! Authentication of IdP requests: bearer tokens and optional HTTP Basic credentials. Secrets
//! are kept only as SHA-256 digests and compared in constant time over every configured
//! credential, so neither timing nor length reveals which one (if any) nearly matched.

use crate::config::{AuthSettings, ConfigError, read_secret_file};
use crate::secrets::sha256;
use base64::Engine;
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

/// The shortest bearer token, Basic password or hashed token accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// The verified credentials, as digests only.
#[derive(Clone, Default)]
pub struct Credentials {
    token_digests: Vec<[u8; 32]>,
    basic_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for Credentials {
    // Never print digests either: they are what an attacker would brute-force offline.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tokens", &self.token_digests.len())
            .field("basic", &self.basic_digest.is_some())
            .finish()
    }
}

/// Which credential a request used: recorded with operations, never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A short, non-reversible label: `token:<first 8 hex digits of the digest>` or `basic`.
    pub label: String,
}

/// `sha256:<hex>`, the form accepted in `auth.token_hashes`.
pub fn token_hash_string(token: &str) -> String {
    format!("sha256:{}", hex::encode(sha256(token.as_bytes())))
}

/// The digest of a `sha256:<hex>` entry of the setting `key`.
pub fn parse_token_hash(h: &str, key: &str) -> Result<[u8; 32], ConfigError> {
    let hex_part = h
        .strip_prefix("sha256:")
        .ok_or_else(|| ConfigError::Invalid(format!("{key} entries must start with `sha256:`")))?;
    hex::decode(hex_part.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| ConfigError::Invalid(format!("{key} entry is not 64 hex digits")))
}

impl Credentials {
    /// Whether a bearer token with this digest opens the SCIM API (start-up refuses an admin
    /// token that does).
    pub fn accepts_digest(&self, digest: &[u8; 32]) -> bool {
        self.token_digests.iter().any(|d| d == digest)
    }

    pub fn from_settings(auth: &AuthSettings) -> Result<Self, ConfigError> {
        let mut token_digests = Vec::new();
        let mut add_token = |t: &str| -> Result<(), ConfigError> {
            if t.len() < MIN_SECRET_LEN {
                return Err(ConfigError::Invalid(format!(
                    "bearer tokens must be at least {MIN_SECRET_LEN} characters long \
                     (make one with: openssl rand -base64 32)"
                )));
            }
            token_digests.push(sha256(t.as_bytes()));
            Ok(())
        };
        for t in &auth.tokens {
            add_token(t.trim())?;
        }
        if let Some(path) = &auth.tokens_file {
            for line in read_secret_file(path)?.lines() {
                let line = line.trim();
                if !line.is_empty() && !line.starts_with('#') {
                    add_token(line)?;
                }
            }
        }
        for h in &auth.token_hashes {
            token_digests.push(parse_token_hash(h, "auth.token_hashes")?);
        }
        let password = match (&auth.basic_password, &auth.basic_password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(path)) => Some(read_secret_file(path)?),
            (None, None) => None,
        };
        let basic_digest = match (&auth.basic_username, password) {
            (Some(_), Some(pass)) if pass.chars().count() < MIN_SECRET_LEN => {
                return Err(ConfigError::Invalid(format!(
                    "auth.basic_password must be at least {MIN_SECRET_LEN} characters long \
                     (make one with: openssl rand -base64 32)"
                )));
            }
            (Some(user), Some(pass)) => Some(sha256(format!("{user}:{pass}").as_bytes())),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "HTTP Basic needs both auth.basic_username and auth.basic_password".into(),
                ));
            }
        };
        Ok(Self {
            token_digests,
            basic_digest,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.token_digests.is_empty() && self.basic_digest.is_none()
    }

    /// Check an `Authorization` header value. Scheme names are case-insensitive (RFC 7235).
    pub fn verify(&self, header: &str) -> Option<Principal> {
        let (scheme, rest) = header.trim().split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let digest = sha256(rest.as_bytes());
            let mut found: Option<usize> = None;
            // Compare against every digest without an early exit.
            for (i, d) in self.token_digests.iter().enumerate() {
                if bool::from(d.ct_eq(&digest)) && found.is_none() {
                    found = Some(i);
                }
            }
            found.map(|_| Principal {
                label: format!("token:{}", &hex::encode(digest)[..8]),
            })
        } else if scheme.eq_ignore_ascii_case("basic") {
            let expected = self.basic_digest?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let digest = sha256(&decoded);
            bool::from(expected.ct_eq(&digest)).then(|| Principal {
                label: "basic".into(),
            })
        } else {
            None
        }
    }
}

/// The credentials in use, replaced as a whole on reload (SIGHUP): a request verifies against
/// the set that was current when it arrived, never a mix of old and new.
#[derive(Debug)]
pub struct SharedCredentials {
    current: RwLock<Arc<Credentials>>,
}

impl SharedCredentials {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            current: RwLock::new(Arc::new(credentials)),
        }
    }

    pub fn current(&self) -> Arc<Credentials> {
        // A writer never panics while holding the lock (it only swaps an Arc); a poisoned
        // lock still holds a whole value.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace(&self, credentials: Credentials) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(credentials);
    }

    pub fn verify(&self, header: &str) -> Option<Principal> {
        self.current().verify(header)
    }

    /// Whether HTTP Basic is configured now (for `ServiceProviderConfig`).
    pub fn basic_enabled(&self) -> bool {
        self.current().basic_digest.is_some()
    }
}

impl Credentials {
    /// How many bearer tokens (hashed or not) and whether Basic is set: for the reload log.
    pub fn summary(&self) -> String {
        format!(
            "{} bearer token(s), HTTP Basic {}",
            self.token_digests.len(),
            if self.basic_digest.is_some() {
                "on"
            } else {
                "off"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::from_settings(&AuthSettings {
            tokens: vec!["a-very-long-secret-token".into()],
            token_hashes: vec![token_hash_string("another-long-secret-token")],
            basic_username: Some("okta".into()),
            basic_password: Some("pa:ss-long-enough-16".into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn bearer_tokens_and_hashes_verify() {
        let c = creds();
        assert!(c.verify("Bearer a-very-long-secret-token").is_some());
        assert!(c.verify("bearer another-long-secret-token").is_some());
        assert!(c.verify("Bearer a-very-long-secret-tokeN").is_none());
        assert!(c.verify("Bearer").is_none());
        assert!(c.verify("Token a-very-long-secret-token").is_none());
    }

    #[test]
    fn basic_credentials_verify() {
        let c = creds();
        let good = base64::engine::general_purpose::STANDARD.encode("okta:pa:ss-long-enough-16");
        let bad = base64::engine::general_purpose::STANDARD.encode("okta:nope");
        assert_eq!(c.verify(&format!("Basic {good}")).unwrap().label, "basic");
        assert!(c.verify(&format!("Basic {bad}")).is_none());
        assert!(c.verify("Basic %%%").is_none());
    }

    #[test]
    fn short_tokens_are_refused() {
        let r = Credentials::from_settings(&AuthSettings {
            tokens: vec!["short".into()],
            ..Default::default()
        });
        assert!(r.is_err());
    }

    #[test]
    fn short_basic_passwords_are_refused() {
        let r = Credentials::from_settings(&AuthSettings {
            basic_username: Some("okta".into()),
            basic_password: Some("fifteen-chars!!".into()),
            ..Default::default()
        });
        let err = r.unwrap_err().to_string();
        assert!(err.contains("at least 16"), "{err}");
    }

    #[test]
    fn shared_credentials_are_replaced_whole() {
        let shared = SharedCredentials::new(creds());
        assert!(shared.verify("Bearer a-very-long-secret-token").is_some());
        assert!(shared.basic_enabled());
        shared.replace(
            Credentials::from_settings(&AuthSettings {
                tokens: vec!["the-new-long-secret-token".into()],
                ..Default::default()
            })
            .unwrap(),
        );
        assert!(shared.verify("Bearer a-very-long-secret-token").is_none());
        assert!(shared.verify("Bearer the-new-long-secret-token").is_some());
        assert!(!shared.basic_enabled());
        assert_eq!(
            shared.current().summary(),
            "1 bearer token(s), HTTP Basic off"
        );
    }

    #[test]
    fn debug_shows_no_secret_material() {
        let s = format!("{:?}", creds());
        assert!(!s.contains("secret") && !s.contains("sha"));
    }
}
