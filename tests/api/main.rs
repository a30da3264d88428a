//! Integration tests: each spawns the real server on port 0 with its own store and talks HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod auth;
mod discovery;
mod embedding;
mod entra;
mod groups;
mod helpers;
mod http_rules;
mod okta;
mod request_id;
mod users;
