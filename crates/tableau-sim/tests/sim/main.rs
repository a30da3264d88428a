//! The simulator's integration tests, in one binary (each test binary links everything, which
//! is slow on small CI machines): a real server on port 0, driven over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod auth;
mod content;
mod faults;
mod groups;
mod robustness;
mod support;
mod users;
