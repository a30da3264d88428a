//! Deployment and operation, against the real binary: start-up errors, signals (SIGTERM,
//! SIGINT, SIGHUP), HTTPS and its reload, `check`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_reload;
mod check;
mod demo;
mod pat_reload;
mod procs;
mod shutdown;
mod startup;
mod tls;

/// A bearer token long enough to be accepted.
pub const TOKEN: &str = "deploy-test-token-0123456789";
