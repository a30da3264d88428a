//! Integration tests: each spawns the real server on port 0 with its own store and talks HTTP.

mod auth;
mod discovery;
mod entra;
mod groups;
mod helpers;
mod http_rules;
mod okta;
mod users;
