//! Health, readiness, metrics and logs, against the real server: in this process for
//! readiness and the listeners (`health`), as the real binary for what needs a process of its
//! own — exact metric counts (the registry is per process) and its stderr (`binary`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod binary;
mod health;
mod prom;
