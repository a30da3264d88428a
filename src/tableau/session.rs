//! The one session a client holds for its site, and single-flight sign-in.
//!
//! A PAT allows one session at a time: every sign-in with it ends the previous session
//! (reference §1.3). If each request that met 401002 signed in on its own, N concurrent
//! requests would sign each other out in a loop. So sign-in happens under one lock, and a
//! request re-signs in only if the token that failed is still the current one (tracked by a
//! generation number); otherwise somebody already replaced it and the request just retries
//! with the new token.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::errors::TableauError;

/// A signed-in session: the token for `X-Tableau-Auth` and the site LUID for paths.
pub struct Session {
    pub token: String,
    pub site_id: String,
    pub user_id: Option<String>,
    /// Increases with every sign-in of this client.
    pub generation: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("site_id", &self.site_id)
            .field("user_id", &self.user_id)
            .field("generation", &self.generation)
            .finish()
    }
}

/// What a sign-in call returns, before it becomes the current session.
pub struct SignedIn {
    pub token: String,
    pub site_id: String,
    pub user_id: Option<String>,
}

#[derive(Default)]
pub struct SessionCell {
    /// Read on every request; a std lock held for an `Arc` clone only.
    current: RwLock<Option<Arc<Session>>>,
    /// Held for the whole sign-in so only one happens at a time.
    signing_in: tokio::sync::Mutex<()>,
    sign_ins: AtomicU64,
}

impl SessionCell {
    pub fn current(&self) -> Option<Arc<Session>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Successful sign-ins so far (observability and tests).
    pub fn sign_ins(&self) -> u64 {
        self.sign_ins.load(Ordering::Relaxed)
    }

    /// The current session, signing in if there is none.
    pub async fn get<F, Fut>(&self, sign_in: F) -> Result<Arc<Session>, TableauError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SignedIn, TableauError>>,
    {
        match self.current() {
            Some(session) => Ok(session),
            None => self.replace(None, sign_in).await,
        }
    }

    /// A session newer than generation `stale`: signs in only if `stale` is still current
    /// (or there is no session); otherwise returns the one another request already got.
    pub async fn replace<F, Fut>(
        &self,
        stale: Option<u64>,
        sign_in: F,
    ) -> Result<Arc<Session>, TableauError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SignedIn, TableauError>>,
    {
        let _one_at_a_time = self.signing_in.lock().await;
        if let Some(session) = self.current()
            && Some(session.generation) != stale
        {
            return Ok(session);
        }
        let signed_in = sign_in().await?;
        let generation = self.sign_ins.fetch_add(1, Ordering::Relaxed) + 1;
        let session = Arc::new(Session {
            token: signed_in.token,
            site_id: signed_in.site_id,
            user_id: signed_in.user_id,
            generation,
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(session)
    }

    /// Forgets the session (after sign-out).
    pub fn clear(&self) -> Option<Arc<Session>> {
        self.current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn signed(token: &str) -> SignedIn {
        SignedIn {
            token: token.into(),
            site_id: "site".into(),
            user_id: None,
        }
    }

    #[tokio::test]
    async fn concurrent_refreshes_of_one_stale_token_sign_in_once() {
        let cell = Arc::new(SessionCell::default());
        let first = cell.get(|| async { Ok(signed("t1")) }).await.unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cell, calls, stale) = (cell.clone(), calls.clone(), first.generation);
            tasks.push(tokio::spawn(async move {
                cell.replace(Some(stale), || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok(signed("t2"))
                })
                .await
                .map(|s| s.token.clone())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "t2");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cell.sign_ins(), 2);
        assert!(!format!("{:?}", cell.current().unwrap()).contains("t2"));
    }
}
