//! Sign-in sessions: tokens with idle expiry, Tableau's one-session-per-PAT rule, and the
//! connected-app scopes a JWT session carries.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::errors::{ApiError, ApiResult};

/// How a session was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    Password,
    /// Named PAT: a new sign-in with it ends this session.
    PersonalAccessToken(String),
    /// Connected-app JWT with its `scp` scopes.
    ConnectedApp(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub kind: SessionKind,
    last_used: Instant,
}

impl Session {
    /// Connected-app sessions may only call methods their scopes grant; others may call all.
    pub fn require_scope(&self, scope: &str) -> ApiResult<()> {
        let SessionKind::ConnectedApp(scopes) = &self.kind else {
            return Ok(());
        };
        let granted = scopes.iter().any(|s| {
            s == scope
                || s.strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with(':') && scope.starts_with(prefix))
        });
        if granted {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }
}

#[derive(Debug)]
pub struct Sessions {
    by_token: HashMap<String, Session>,
    token_of_pat: HashMap<String, String>,
    /// JWT ids already used, with their expiry (seconds since the epoch): a replay is refused.
    used_jtis: HashMap<String, i64>,
    idle_timeout: Duration,
    /// Table sizes at which expired sessions / JWT ids are next swept (amortised O(1)).
    sweep_sessions_at: usize,
    sweep_jtis_at: usize,
    rng: fastrand::Rng,
}

/// Tables smaller than this are never swept.
const MIN_SWEEP: usize = 1024;

impl Sessions {
    pub fn new(idle_timeout: Duration, seed: u64) -> Self {
        Self {
            by_token: HashMap::new(),
            token_of_pat: HashMap::new(),
            used_jtis: HashMap::new(),
            idle_timeout,
            sweep_sessions_at: MIN_SWEEP,
            sweep_jtis_at: MIN_SWEEP,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Opens a session and returns its token. A PAT's earlier session is invalidated.
    pub fn open(&mut self, user_id: &str, kind: SessionKind) -> String {
        if self.by_token.len() >= self.sweep_sessions_at {
            self.sweep_idle();
        }
        let token: String = (0..32).map(|_| self.rng.alphanumeric()).collect();
        if let SessionKind::PersonalAccessToken(name) = &kind
            && let Some(old) = self.token_of_pat.insert(name.clone(), token.clone())
        {
            self.by_token.remove(&old);
        }
        self.by_token.insert(
            token.clone(),
            Session {
                user_id: user_id.to_owned(),
                kind,
                last_used: Instant::now(),
            },
        );
        token
    }

    /// Checks a token and refreshes its idle clock: 401000 without one, 401002 if unknown,
    /// ended, or idle too long.
    pub fn touch(&mut self, token: Option<&str>) -> ApiResult<Session> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::no_credentials)?;
        let now = Instant::now();
        let session = self
            .by_token
            .get_mut(token)
            .ok_or_else(ApiError::invalid_credentials)?;
        if now.duration_since(session.last_used) > self.idle_timeout {
            self.close(token);
            return Err(ApiError::invalid_credentials());
        }
        session.last_used = now;
        Ok(session.clone())
    }

    /// Forgets idle sessions, so clients that never sign out do not grow the table forever.
    fn sweep_idle(&mut self) {
        let now = Instant::now();
        let timeout = self.idle_timeout;
        self.by_token
            .retain(|_, s| now.duration_since(s.last_used) <= timeout);
        let live = &self.by_token;
        self.token_of_pat
            .retain(|_, token| live.contains_key(token));
        self.sweep_sessions_at = (self.by_token.len() * 2).max(MIN_SWEEP);
    }

    pub fn close(&mut self, token: &str) -> bool {
        match self.by_token.remove(token) {
            Some(session) => {
                if let SessionKind::PersonalAccessToken(name) = session.kind
                    && self.token_of_pat.get(&name).is_some_and(|t| t == token)
                {
                    self.token_of_pat.remove(&name);
                }
                true
            }
            None => false,
        }
    }

    /// Ends every session of a user (the user was removed from the site).
    pub fn close_user(&mut self, user_id: &str) {
        let tokens: Vec<String> = self
            .by_token
            .iter()
            .filter(|(_, s)| s.user_id == user_id)
            .map(|(t, _)| t.clone())
            .collect();
        for token in tokens {
            self.close(&token);
        }
    }

    /// Ends every session (control API), so clients see 401002 and must sign in again.
    pub fn close_all(&mut self) -> usize {
        let n = self.by_token.len();
        self.by_token.clear();
        self.token_of_pat.clear();
        n
    }

    pub fn count(&self) -> usize {
        self.by_token.len()
    }

    /// Records a JWT id; false when it was seen before and has not expired yet.
    pub fn claim_jti(&mut self, jti: &str, exp: i64, now: i64) -> bool {
        if self.used_jtis.len() >= self.sweep_jtis_at {
            self.used_jtis.retain(|_, e| *e >= now);
            self.sweep_jtis_at = (self.used_jtis.len() * 2).max(MIN_SWEEP);
        }
        if self.used_jtis.get(jti).is_some_and(|exp| *exp >= now) {
            return false;
        }
        self.used_jtis.insert(jti.to_owned(), exp);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_pat_sign_in_ends_the_first_session() {
        let mut s = Sessions::new(Duration::from_secs(60), 1);
        let pat = || SessionKind::PersonalAccessToken("p".into());
        let first = s.open("u", pat());
        let second = s.open("u", pat());
        assert_eq!(s.touch(Some(&first)).unwrap_err().code, 401002);
        assert!(s.touch(Some(&second)).is_ok());
        assert_eq!(s.touch(None).unwrap_err().code, 401000);
        let pw1 = s.open("u", SessionKind::Password);
        let _pw2 = s.open("u", SessionKind::Password);
        assert!(s.touch(Some(&pw1)).is_ok());
    }

    #[test]
    fn idle_sessions_expire() {
        let mut s = Sessions::new(Duration::ZERO, 1);
        let t = s.open("u", SessionKind::Password);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(s.touch(Some(&t)).unwrap_err().code, 401002);
    }

    #[test]
    fn idle_sessions_and_old_jtis_are_swept_as_tables_grow() {
        let mut s = Sessions::new(Duration::ZERO, 1);
        for _ in 0..MIN_SWEEP {
            s.open("u", SessionKind::Password);
        }
        std::thread::sleep(Duration::from_millis(2));
        s.open("u", SessionKind::Password);
        assert_eq!(s.count(), 1);
        assert!(s.claim_jti("a", 100, 50));
        assert!(!s.claim_jti("a", 100, 60), "replay before expiry");
        assert!(s.claim_jti("a", 300, 200), "an expired id may come back");
    }

    #[test]
    fn scopes_allow_exact_and_wildcard() {
        let session = Session {
            user_id: "u".into(),
            kind: SessionKind::ConnectedApp(vec![
                "tableau:users:*".into(),
                "tableau:groups:read".into(),
            ]),
            last_used: Instant::now(),
        };
        assert!(session.require_scope("tableau:users:create").is_ok());
        assert!(session.require_scope("tableau:groups:read").is_ok());
        assert_eq!(
            session
                .require_scope("tableau:groups:create")
                .unwrap_err()
                .code,
            403000
        );
    }
}
