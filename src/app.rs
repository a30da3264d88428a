//! Building and running the HTTP server. `Application::build` binds the listener first, so
//! tests can ask for port 0 and learn the real port before serving.

use crate::config::Settings;
use crate::http::auth::{Credentials, SharedCredentials};
use crate::http::{AppState, health, middleware, routes};
use crate::provision::health::Health;
use crate::provision::{Engine, Service};
use crate::scim::limits::WriteLimits;
use crate::scim::schema::SchemaRegistry;
use crate::store::{self, Store};
use crate::tableau::TableauClient;
use crate::tls::CertResolver;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    /// Resumes unfinished operations; stopped with the server.
    worker: tokio::task::JoinHandle<()>,
    /// The background reconcile (`reconcile.interval_secs`), when on; stopped with the server.
    reconcile: Option<tokio::task::JoinHandle<()>>,
    port: u16,
    host: String,
    base_path: String,
    server: Server,
    /// `/metrics`, `/healthz` and `/readyz` on `metrics.listen`, when set.
    metrics: Option<(Server, u16)>,
    /// The host of `metrics.listen` as reachable here.
    metrics_host: String,
    /// What SIGHUP reloads.
    credentials: Arc<SharedCredentials>,
    tls: Option<Arc<CertResolver>>,
    tableau: Option<TableauClient>,
    /// The engine, whose mass-removal guard settings SIGHUP replaces.
    engine: Arc<Engine>,
    /// The console's state, whose admin tokens SIGHUP replaces (`None`: the console is off).
    admin: Option<web::Data<crate::http::admin::Admin>>,
}

impl Application {
    /// Connect the store named in the settings (running its migrations) and bind the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // The SQLite store creates its file (0600) and directory (0700) itself.
        let url = settings.store_url();
        let store = store::connect(&url)
            .await
            .with_context(|| format!("cannot open the store {}", redact_url(&url)))?;
        Self::build_with_store(settings, store)
    }

    pub fn build_with_store(settings: Settings, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let credentials = Credentials::from_settings(&settings.auth)?;
        if credentials.is_empty() {
            anyhow::bail!(
                "no credentials configured: set auth.tokens (or --token, or TABLEAU_SCIM_AUTH__TOKENS) \
                 so that only your identity provider can call this server"
            );
        }
        let tableau = match &settings.tableau {
            Some(t) => Some(TableauClient::new(t.clone()).context("invalid [tableau] settings")?),
            None => {
                tracing::warn!(
                    "no [tableau] settings: resources are stored but not provisioned to Tableau"
                );
                None
            }
        };
        let tls = match crate::config_check::tls_files(&settings).map_err(anyhow::Error::msg)? {
            Some((cert, key)) => Some(Arc::new(
                CertResolver::load(&cert, &key).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local = listener.local_addr()?;
        let health = web::Data::new(Health::new(store.clone(), tableau.clone()));
        let admin = console(
            &settings,
            &credentials,
            &health,
            tableau.clone(),
            tls.is_some(),
        )?;
        // SIGHUP hands the client new sign-in credentials when they change.
        let reloadable_tableau = tableau.clone();
        let engine = Engine::new(
            store.clone(),
            tableau,
            settings.provision.clone(),
            settings.journal.clone(),
        );
        engine.set_guard(settings.guard.clone());
        // SQLite has one writer process: every unfinished operation is ours to resume now.
        // With PostgreSQL, another replica may be working on one; the worker resumes those
        // that stop making progress.
        let single_process = !settings.store_url().starts_with("postgres");
        let worker = engine.spawn_worker(single_process);
        // Started live after a dry-run: carry out what the planned operations did not.
        if let (Some(client), false) = (&reloadable_tableau, engine.dry_run()) {
            let reconciler = crate::reconcile::Reconciler::new(
                engine.clone(),
                client.clone(),
                crate::store::DEFAULT_TENANT,
            );
            tokio::spawn(crate::reconcile::converge::after_dry_run(reconciler));
        }
        if engine.dry_run() {
            tracing::warn!(
                "dry-run (provision.mode = \"dry_run\"): Tableau is read but never written; each change journals the calls it would make (tableau-scim ops)"
            );
        }
        let reconcile = match (&reloadable_tableau, settings.reconcile.enabled()) {
            (Some(client), true) => {
                let reconciler = crate::reconcile::Reconciler::new(
                    engine.clone(),
                    client.clone(),
                    crate::store::DEFAULT_TENANT,
                );
                Some(crate::reconcile::periodic::spawn(
                    reconciler,
                    settings.reconcile.clone(),
                ))
            }
            (None, true) => {
                tracing::warn!("reconcile.interval_secs is set but [tableau] is not: no reconcile");
                None
            }
            _ => None,
        };
        let settings = Arc::new(settings);
        let credentials = Arc::new(SharedCredentials::new(credentials));
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            registry: SchemaRegistry::builtin(),
            provisioning: Service::new(engine.clone()).with_limits(WriteLimits {
                max_patch_operations: settings.limits.max_patch_operations,
                max_multi_values: settings.limits.max_multi_values,
            }),
            credentials: credentials.clone(),
        });
        let (metrics, metrics_host) = match &settings.metrics.listen {
            Some(address) => {
                let (server, local) = metrics_server(address, health.clone())?;
                let host = match local.ip() {
                    ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
                    ip => ip.to_string(),
                };
                (Some((server, local.port())), host)
            }
            None => (None, String::new()),
        };
        // Without `metrics.listen`, the main listener serves them.
        let health_here = metrics.is_none().then_some(health);
        let base_path = settings.base_path.clone();
        let reloadable_admin = admin.clone();
        let server = HttpServer::new(move || {
            let base_path = base_path.clone();
            let health_here = health_here.clone();
            let admin = admin.clone();
            App::new()
                .wrap(actix_web::middleware::from_fn(middleware::catch_panic))
                // Outermost (actix runs the last `wrap` first): the span covers a panic's log.
                .wrap(actix_web::middleware::from_fn(middleware::trace_request))
                .app_data(state.clone())
                .configure(move |cfg| {
                    // Before the SCIM scope, which may sit at the root.
                    if let Some(health) = health_here {
                        cfg.app_data(health);
                        health::routes(cfg);
                    }
                    // Without an admin token the console is off: `/admin/*` is not served.
                    if let Some(admin) = admin {
                        cfg.app_data(admin);
                        crate::http::admin::routes(cfg);
                    }
                    routes(cfg, &base_path)
                })
                .default_service(web::route().to(crate::http::error::not_found))
        })
        // Signals are the caller's (`crate::signals`): one handler for the whole process.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_grace_secs);
        let server = match &tls {
            Some(resolver) => server.listen_rustls_0_23(
                listener,
                crate::tls::server_config(resolver.clone()).map_err(anyhow::Error::msg)?,
            )?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Self {
            worker,
            reconcile,
            port: local.port(),
            host: local.ip().to_string(),
            base_path: settings.base_path.clone(),
            server,
            metrics,
            metrics_host,
            credentials,
            tls,
            tableau: reloadable_tableau,
            engine,
            admin: reloadable_admin,
        })
    }

    /// `http://HOST:PORT` of `/metrics`, `/healthz` and `/readyz` as reachable on this
    /// machine: on `metrics.listen` when set, else on the main listener.
    pub fn metrics_url(&self) -> String {
        let host = if self.host == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &self.host
        };
        match &self.metrics {
            Some((_, port)) => format!("http://{}:{port}", self.metrics_host),
            None => format!("http://{host}:{}", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://HOST:PORT/scim/v2` (`https://` with TLS) as reachable on this machine.
    pub fn base_url(&self) -> String {
        let host = if self.host == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &self.host
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}{}", self.port, self.base_path)
    }

    /// `http://HOST:PORT` (`https://` with TLS) as reachable on this machine: where the admin
    /// console is (`/admin/`).
    pub fn root_url(&self) -> String {
        let base = self.base_url();
        base.strip_suffix(&self.base_path)
            .unwrap_or(&base)
            .to_owned()
    }

    /// What SIGHUP replaces: the credentials (the IdP's, Tableau's, the console's), the TLS
    /// certificate, the guard's settings and the provisioning mode.
    pub fn reloader(&self) -> crate::signals::Reloader {
        crate::signals::Reloader::new(
            self.credentials.clone(),
            self.tls.clone(),
            self.tableau.clone(),
            Some(self.engine.clone()),
        )
        .with_admin(self.admin.clone())
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        self.worker.abort();
        if let Some(r) = &self.reconcile {
            r.abort();
        }
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        result
    }
}

/// The admin console's state, or `None` (the console off) without an admin token. An admin
/// token that is also an IdP token stops the start-up.
fn console(
    settings: &Settings,
    idp: &Credentials,
    health: &web::Data<Health>,
    tableau: Option<TableauClient>,
    tls: bool,
) -> anyhow::Result<Option<web::Data<crate::http::admin::Admin>>> {
    use crate::http::admin::{Admin, session};
    let tokens = session::AdminTokens::from_settings(&settings.admin, idp)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let minutes = settings.admin.session_minutes;
    let secure_cookies = tls
        || settings
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    Ok(Some(web::Data::new(Admin {
        tokens,
        sessions: session::Sessions::new(std::time::Duration::from_secs(
            minutes.saturating_mul(60),
        )),
        secure_cookies,
        health: health.clone(),
        tableau,
    })))
}

/// The server of `metrics.listen`: `/metrics`, `/healthz` and `/readyz` only (one worker).
fn metrics_server(
    address: &str,
    health: web::Data<Health>,
) -> anyhow::Result<(Server, std::net::SocketAddr)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} (metrics.listen)"))?;
    let local = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(middleware::trace_request))
            .app_data(health.clone())
            .configure(health::routes)
            .default_service(web::route().to(crate::http::error::not_found))
    })
    .workers(1)
    // The process has one signal handler (`signals.rs`); the probes stay up while the main
    // server drains, and stop with it.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, local))
}

/// A store URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        // Unparsable (e.g. a password with a `/`): hide everything between the scheme and the
        // last `@`, where a password would be.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***{}", &url[..scheme], &url[at..])
            }
            _ => url.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn store_urls_lose_their_password_even_when_unparsable() {
        assert_eq!(
            redact_url("postgres://scim:secret@db:5432/scim"),
            "postgres://scim:***@db:5432/scim"
        );
        // A `/` in the password makes the URL unparsable.
        let shown = redact_url("postgres://scim:ab/cd+e=@db:5432/scim");
        assert!(!shown.contains("ab/cd"), "{shown}");
        assert_eq!(shown, "postgres://***@db:5432/scim");
        assert_eq!(redact_url("sqlite:///data/x.db"), "sqlite:///data/x.db");
    }
}
