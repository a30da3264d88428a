//! tableau-scim: a SCIM 2.0 service provider that provisions Tableau users and groups.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod check;
pub mod config;
pub mod config_check;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod ops_held;
pub mod provision;
pub mod reconcile;
pub mod reconcile_cli;
pub mod redact;
pub mod scim;
pub mod secrets;
pub mod signals;
pub mod store;
pub mod tableau;
pub mod tls;
pub mod trusted_proxies;

/// Install the process-wide TLS crypto provider (ring) that HTTPS to Tableau uses. reqwest is
/// built without a provider of its own, to keep aws-lc-rs (a slow C build) out of the tree;
/// every HTTP client in this process needs this called first. Idempotent.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
