//! The console's credential and sessions: admin tokens kept as SHA-256 digests and compared in
//! constant time (never an IdP token: start-up refuses one that is both), replaced whole on
//! SIGHUP; sessions in memory (a restart signs everyone out), each with its CSRF token and the
//! digest of the token it signed in with (a session lives only while that token is an admin
//! token), and a sign-in rate limit per client address.

use crate::config::{AdminSettings, ConfigError, read_secret_file};
use crate::http::auth::{Credentials, MIN_SECRET_LEN, parse_token_hash};
use crate::secrets::sha256;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Sign-in attempts a client may make per [`LOGIN_WINDOW`]; more answer 429.
pub const LOGIN_ATTEMPTS: u32 = 10;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// Sessions kept at most; the oldest go first (sign-ins are rate-limited, so this bounds the
/// memory an attacker with the token could take, and a leak of forgotten sessions).
const MAX_SESSIONS: usize = 1000;

/// The SHA-256 digest of an admin token.
pub type TokenDigest = [u8; 32];

/// The admin tokens, as digests; replaced whole on SIGHUP ([`AdminTokens::replace`]).
#[derive(Default)]
pub struct AdminTokens {
    digests: RwLock<Vec<TokenDigest>>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminTokens({})", self.len())
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
        Ok(Self {
            digests: RwLock::new(digests),
        })
    }

    fn digests(&self) -> std::sync::RwLockReadGuard<'_, Vec<TokenDigest>> {
        // Written only by a whole swap: a poisoned lock still holds a whole list.
        self.digests.read().unwrap_or_else(|p| p.into_inner())
    }

    /// How many admin tokens there are.
    pub fn len(&self) -> usize {
        self.digests().len()
    }

    /// Whether there is none (the console is off).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The digest of `token` if it is an admin token: compared with every digest, without an
    /// early exit.
    pub fn verify(&self, token: &str) -> Option<TokenDigest> {
        let digest = sha256(token.trim().as_bytes());
        self.accepts(&digest).then_some(digest)
    }

    /// Whether `digest` is that of an admin token (constant time, as `verify`).
    pub fn accepts(&self, digest: &TokenDigest) -> bool {
        let mut found = false;
        for d in self.digests().iter() {
            found |= bool::from(d.ct_eq(digest));
        }
        found
    }

    /// Put `new`'s tokens in place of these (SIGHUP). Sessions signed in with a token that is
    /// gone end at their next request ([`Sessions::get`]).
    pub fn replace(&self, new: AdminTokens) {
        let new = new.digests.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.digests.write().unwrap_or_else(|p| p.into_inner()) = new;
    }
}

/// A signed-in admin.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    pub expires: Instant,
    /// The digest of the admin token it signed in with.
    pub token: TokenDigest,
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

    /// A new session for the admin token of `token` (its digest): its id (the cookie's value)
    /// and the session.
    pub fn open(&self, token: TokenDigest) -> (String, Session) {
        let now = Instant::now();
        let session = Session {
            csrf: random_id(),
            expires: now + self.lifetime,
            token,
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

    /// The live session with this id: not expired, and signed in with a token `tokens` still
    /// holds (one that is not is removed).
    pub fn get(&self, id: &str, tokens: &AdminTokens) -> Option<Session> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() && tokens.accepts(&s.token) => Some(s.clone()),
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
        assert!(tokens.verify("the-admin-token-0123456789").is_some());
        assert!(tokens.verify("hashed-admin-token-0123").is_some());
        assert!(tokens.verify("the-idp-token-0123456789").is_none());
        assert!(tokens.verify("").is_none());
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

    fn admin_tokens(tokens: &[&str]) -> AdminTokens {
        let admin = AdminSettings {
            tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        };
        AdminTokens::from_settings(&admin, &idp()).unwrap_or_default()
    }

    #[test]
    fn sessions_expire_and_close() {
        let tokens = admin_tokens(&["the-admin-token-0123456789"]);
        let Some(token) = tokens.verify("the-admin-token-0123456789") else {
            panic!("an admin token");
        };
        let sessions = Sessions::new(Duration::from_millis(30));
        let (id, s) = sessions.open(token);
        assert_eq!(id.len(), 64);
        assert!(
            sessions
                .get(&id, &tokens)
                .is_some_and(|g| same_token(&g.csrf, &s.csrf))
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(sessions.get(&id, &tokens).is_none());
        let (id, _) = sessions.open(token);
        sessions.close(&id);
        assert!(sessions.get(&id, &tokens).is_none());
        assert!(!same_token("abc", "abd") && !same_token("abc", "ab"));
    }

    /// A rotated token (SIGHUP): the new one signs in, the sessions of the one removed end,
    /// those of a token kept go on.
    #[test]
    fn replaced_tokens_end_the_sessions_of_those_removed() {
        let (old, kept, new) = (
            "the-old-admin-token-0123",
            "the-kept-admin-token-0123",
            "the-new-admin-token-0123",
        );
        let tokens = admin_tokens(&[old, kept]);
        let sessions = Sessions::new(Duration::from_secs(60));
        let (Some(old_digest), Some(kept_digest)) = (tokens.verify(old), tokens.verify(kept))
        else {
            panic!("admin tokens");
        };
        let (of_old, _) = sessions.open(old_digest);
        let (of_kept, _) = sessions.open(kept_digest);
        assert!(tokens.verify(new).is_none());

        tokens.replace(admin_tokens(&[kept, new]));
        assert_eq!(tokens.len(), 2);
        assert!(tokens.verify(new).is_some());
        assert!(tokens.verify(old).is_none());
        assert!(sessions.get(&of_old, &tokens).is_none());
        assert!(sessions.get(&of_kept, &tokens).is_some());
        // Ended for good: the old token coming back does not bring the session back.
        tokens.replace(admin_tokens(&[old, kept]));
        assert!(sessions.get(&of_old, &tokens).is_none());
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
