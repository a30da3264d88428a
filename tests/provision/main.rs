//! End-to-end provisioning tests: the real server on port 0, provisioning into the in-process
//! Tableau simulator; each test checks both the SCIM answers and the simulator's state.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod catalog_apps;
mod compensation;
mod concurrency;
mod console;
mod demotion;
mod dry_run;
mod entra;
mod faults;
mod guard;
mod harness;
mod idempotency;
mod input_rules;
mod lifecycle;
mod okta;
mod paging;
mod policies;
mod reconcile;
mod rename;
#[path = "../support/mod.rs"]
mod support;
mod unavailable;
