//! One writer per resource inside this process: writes to the same resource queue up instead
//! of racing and retrying. (Across processes sharing PostgreSQL, the store's revision check
//! still catches a concurrent writer; the caller then re-reads and re-applies.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Held while a resource is being written; dropping it lets the next writer in.
pub type LockGuard = OwnedMutexGuard<()>;

#[derive(Default)]
pub struct ResourceLocks {
    // Weak references: an entry lives only while someone holds or waits for its lock.
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl ResourceLocks {
    /// Wait for exclusive access to the resource named by `key`.
    pub async fn lock(&self, key: &str) -> LockGuard {
        self.entry(key).lock_owned().await
    }

    /// Exclusive access to the resource named by `key` if nobody holds it now.
    pub fn try_lock(&self, key: &str) -> Option<LockGuard> {
        self.entry(key).try_lock_owned().ok()
    }

    fn entry(&self, key: &str) -> Arc<AsyncMutex<()>> {
        {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(key).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(AsyncMutex::new(()));
                    map.insert(key.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_is_exclusive_other_keys_are_not() {
        let locks = Arc::new(ResourceLocks::default());
        let g = locks.lock("Group/1").await;
        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock("Group/2")).await;
        assert!(other.is_ok());
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move {
            l2.lock("Group/1").await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(g);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
