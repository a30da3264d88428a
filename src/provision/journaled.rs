//! Whether a request reached the journal: the HTTP layer runs a mutating request inside
//! [`watch`], and the engine [`mark`]s it when the request opened an operation or attached to
//! one. An error answered without the mark was a refusal before any operation (invalid input,
//! a name taken), which the HTTP layer journals separately (`refused_requests`); an error
//! with it is already the operation's.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static JOURNALED: Cell<bool>;
}

/// Runs `fut`; its output and whether it reached the journal.
pub async fn watch<F: Future>(fut: F) -> (F::Output, bool) {
    JOURNALED
        .scope(Cell::new(false), async {
            let out = fut.await;
            (out, JOURNALED.with(Cell::get))
        })
        .await
}

/// The request being served has an operation in the journal (outside [`watch`]: nothing).
pub(crate) fn mark() {
    let _ = JOURNALED.try_with(|j| j.set(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_marked_request_counts_as_journaled() {
        assert_eq!(watch(async { 1 }).await, (1, false));
        assert_eq!(watch(async { mark() }).await, ((), true));
        mark(); // outside a watch: no effect, no panic
    }
}
