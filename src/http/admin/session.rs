//! The console's credential and sessions: admin tokens kept as SHA-256 digests and compared in
//! constant time (never an IdP token: start-up refuses one that is both), sessions in memory
//! (a restart signs everyone out), each with its CSRF token, and a sign-in rate limit per
//! client address.

use crate::config::{AdminSettings, ConfigError, read_secret_file};
use crate::http::auth::{Credentials, MIN_SECRET_LEN, parse_token_hash};
use crate::secrets::sha256;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Sign-in attempts a client may make per [`LOGIN_WINDOW`]; more answer 429.
pub const LOGIN_ATTEMPTS: u32 = 10;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// Sessions kept at most; the oldest go first (sign-ins are rate-limited, so this bounds the
/// memory an attacker with the token could take, and a leak of forgotten sessions).
const MAX_SESSIONS: usize = 1000;

/// The admin tokens, as digests.
#[derive(Default)]
pub struct AdminTokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminTokens({})", self.digests.len())
    }
}

impl AdminTokens {
    /// From `[admin]`; an admin token the IdP's credentials also accept is refused.
    pub fn from_settings(admin: &AdminSettings, idp: &Credentials) -> Result<Self, ConfigError> {
        let mut digests = Vec::new();
        let mut clear: Vec<String> = admin.tokens.iter().map(|t| t.trim().to_owned()).collect();
        if let Some(path) = &admin.tokens_file {
            clear.extend(
                read_secret_file(path)?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        for token in &clear {
            if token.len() < MIN_SECRET_LEN {
                return Err(ConfigError::Invalid(format!(
                    "admin tokens must be at least {MIN_SECRET_LEN} characters long \
                     (make one with: openssl rand -base64 32)"
                )));
            }
            digests.push(sha256(token.as_bytes()));
        }
        for h in &admin.token_hashes {
            digests.push(parse_token_hash(h, "admin.token_hashes")?);
        }
        if digests.iter().any(|d| idp.accepts_digest(d)) {
            return Err(ConfigError::Invalid(
                "an admin token is also an IdP bearer token (auth.tokens): give the console a \
                 token of its own"
                    .into(),
            ));
        }
        Ok(Self { digests })
    }

    /// Whether the console is on.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `token` is an admin token: compared with every digest, without an early exit.
    pub fn verify(&self, token: &str) -> bool {
        let digest = sha256(token.trim().as_bytes());
        let mut found = false;
        for d in &self.digests {
            found |= bool::from(d.ct_eq(&digest));
        }
        found
    }
}

/// A signed-in admin.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    pub expires: Instant,
}

/// Sessions by id, and the sign-in attempts by client.
pub struct Sessions {
    lifetime: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    attempts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// 256 random bits (two v4 UUIDs: 244 bits from the OS's generator) as hex.
fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            sessions: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session: its id (the cookie's value) and the session.
    pub fn open(&self) -> (String, Session) {
        let now = Instant::now();
        let session = Session {
            csrf: random_id(),
            expires: now + self.lifetime,
        };
        let id = random_id();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id (an expired one is removed).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn close(&self, id: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.remove(id);
    }

    /// Count a sign-in attempt from `client`; `false` once it made [`LOGIN_ATTEMPTS`] in the
    /// current window.
    pub fn allow_attempt(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts.retain(|_, (start, _)| now.duration_since(*start) < LOGIN_WINDOW);
        let entry = attempts.entry(client).or_insert((now, 0));
        entry.1 += 1;
        entry.1 <= LOGIN_ATTEMPTS
    }
}

/// Constant-time equality of two CSRF tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthSettings;

    fn idp() -> Credentials {
        Credentials::from_settings(&AuthSettings {
            tokens: vec!["the-idp-token-0123456789".into()],
            ..Default::default()
        })
        .unwrap_or_default()
    }

    #[test]
    fn admin_tokens_verify_and_never_equal_an_idp_token() {
        let admin = AdminSettings {
            tokens: vec!["the-admin-token-0123456789".into()],
            token_hashes: vec![crate::http::auth::token_hash_string(
                "hashed-admin-token-0123",
            )],
            ..Default::default()
        };
        let tokens = AdminTokens::from_settings(&admin, &idp()).map_err(|e| e.to_string());
        let tokens = tokens.unwrap_or_default();
        assert!(tokens.verify("the-admin-token-0123456789"));
        assert!(tokens.verify("hashed-admin-token-0123"));
        assert!(!tokens.verify("the-idp-token-0123456789"));
        assert!(!tokens.verify(""));
        let same = AdminSettings {
            tokens: vec!["the-idp-token-0123456789".into()],
            ..Default::default()
        };
        let err = AdminTokens::from_settings(&same, &idp()).map(|_| ());
        assert!(err.is_err_and(|e| e.to_string().contains("also an IdP bearer token")));
        let short = AdminSettings {
            tokens: vec!["short".into()],
            ..Default::default()
        };
        assert!(AdminTokens::from_settings(&short, &idp()).is_err());
        assert!(!format!("{tokens:?}").contains("admin-token"));
    }

    #[test]
    fn sessions_expire_and_close() {
        let sessions = Sessions::new(Duration::from_millis(30));
        let (id, s) = sessions.open();
        assert_eq!(id.len(), 64);
        assert!(
            sessions
                .get(&id)
                .is_some_and(|g| same_token(&g.csrf, &s.csrf))
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(sessions.get(&id).is_none());
        let (id, _) = sessions.open();
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
        assert!(!same_token("abc", "abd") && !same_token("abc", "ab"));
    }

    #[test]
    fn sign_in_attempts_are_limited_per_client() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..LOGIN_ATTEMPTS {
            assert!(sessions.allow_attempt(a));
        }
        assert!(!sessions.allow_attempt(a));
        assert!(sessions.allow_attempt(b));
    }
}
