//! A faithful Tableau REST API simulator (users, groups, and content as far as ownership goes),
//! for tests, demos and benchmarks.
//!
//! It speaks XML (the default, namespace `http://tableau.com/api`, what
//! `tableauserverclient` sends) and JSON (`Accept`/`Content-Type: application/json`), signs
//! in with passwords, personal access tokens (one session per token) and connected-app JWTs,
//! and answers with Tableau's error codes. Behaviour and fault injection are described in
//! `docs/simulator.md`.
//!
//! # In-process use
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tableau_sim::SimConfig;
//!
//! let sim = tableau_sim::spawn(SimConfig::default().with_site("acme")).await?;
//! let base = sim.url();                // "http://127.0.0.1:PORT"
//! let api = sim.api_url();             // "http://127.0.0.1:PORT/api/3.27"
//! let site = sim.site_content_url().to_owned(); // "acme"
//! // … drive it over HTTP, then look inside:
//! let snapshot = sim.state().snapshot();
//! assert!(snapshot.users.iter().any(|u| u.name == "admin"));
//! sim.stop().await;
//! # let _ = (base, api, site);
//! # Ok(()) }
//! ```
//!
//! At run time [`SimState`] (from `sim.state()`) also offers the in-process versions of the
//! `/_sim/` control API: `add_content`, `set_owns_content`, `set_seats`, `add_fault`, `replace_faults`,
//! `clear_faults`, `end_all_sessions`.
//!
//! With the `cli` feature, `SimArgs` (the clap flags of a `sim` command) and `run_cli` (serve
//! in the foreground until Ctrl-C) are available too; `tableau-scim sim` is built on them.
//!
//! `SimConfig::default()` has an administrator `admin` / `admin-password`, a PAT `sim-pat` /
//! `sim-pat-secret` and a connected app `sim-client` / `sim-secret-id` / `sim-secret-value`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod auth;
#[cfg(feature = "cli")]
mod cli;
mod config;
mod content;
mod control;
mod directory;
mod errors;
mod faults;
mod groups;
mod json;
mod licences;
mod model;
mod node;
mod query;
mod router;
mod server_info;
mod sessions;
mod sites;
mod state;
mod users;
mod wire;
mod xml;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

#[cfg(feature = "cli")]
pub use cli::{SimArgs, run_cli};
pub use config::{ConnectedApp, PasswordUser, PersonalAccessToken, SimConfig};
pub use content::{ContentItem, ContentKind};
pub use directory::{DirectorySnapshot, GroupSnapshot};
pub use errors::ApiError;
pub use faults::{FaultCounts, FaultEffect, FaultRule};
pub use licences::SeatUsage;
pub use model::{Group, LicenceTier, SiteRole, User};
pub use state::{SimSnapshot, SimState, SiteInfo};

/// Largest request body accepted (bulk membership calls carry many ids).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A simulator running in the background of the current Tokio runtime. Dropping it stops the
/// server without waiting; [`RunningSim::stop`] waits for in-flight requests to finish.
pub struct RunningSim {
    addr: SocketAddr,
    state: Arc<SimState>,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/{highest version}`.
    pub fn api_url(&self) -> String {
        format!("{}/api/{}", self.url(), self.state.api_version)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn site_content_url(&self) -> &str {
        &self.state.site.content_url
    }

    /// The site LUID clients get from sign-in.
    pub fn site_id(&self) -> &str {
        &self.state.site.id
    }

    /// Direct access to the state, e.g. `sim.state().snapshot()`.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server to end.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if self.task.is_some() {
            // The stop command is sent at once; not awaiting it is fine when nobody waits.
            drop(self.handle.stop(false));
        }
    }
}

/// Binds `config.listen` (port 0 = any free port) and serves in the background.
pub async fn spawn(config: SimConfig) -> std::io::Result<RunningSim> {
    let state = Arc::new(SimState::new(&config).map_err(std::io::Error::other)?);
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let data = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .default_service(web::to(router::dispatch))
    })
    .workers(config.workers.max(1))
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningSim {
        addr,
        state,
        handle,
        task: Some(task),
    })
}
