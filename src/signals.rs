//! Process signals of `serve` and `demo` (the simulator's `sim` stops the same way through its
//! own crate): SIGTERM and SIGINT stop accepting connections, let requests in flight finish
//! within `shutdown_grace_secs`, and end the process with exit code 0 (operations left
//! unfinished stay in the journal and are resumed by the next start). SIGHUP reloads the
//! credentials, the Tableau sign-in credentials and the TLS certificate of `serve` without
//! dropping connections; `demo` ignores it with a log line.

use crate::app::Application;
use crate::config::Settings;
use crate::http::auth::{Credentials, SharedCredentials};
use crate::tableau::TableauClient;
use crate::tls::CertResolver;
use std::sync::Arc;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGTERM or SIGINT, by name.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
}

/// The handlers, installed once at start-up (from then on none of these signals kills the
/// process by its default action).
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Event {
        tokio::select! {
            _ = self.term.recv() => Event::Stop("SIGTERM"),
            _ = self.int.recv() => Event::Stop("SIGINT"),
            _ = self.hup.recv() => Event::Reload,
        }
    }

    /// Waits for SIGTERM or SIGINT, logging any SIGHUP as ignored (`what` names the program).
    pub async fn wait_for_stop(&mut self, what: &str) -> &'static str {
        loop {
            match self.next().await {
                Event::Stop(name) => return name,
                Event::Reload => {
                    tracing::info!("SIGHUP: {what} has nothing to reload; still running")
                }
            }
        }
    }
}

/// What SIGHUP replaces in a running server.
pub struct Reloader {
    credentials: Arc<SharedCredentials>,
    tls: Option<Arc<CertResolver>>,
    /// The Tableau client, given the sign-in credentials of each reload.
    tableau: Option<TableauClient>,
    /// The engine, given the mass-removal guard settings of each reload.
    engine: Option<Arc<crate::provision::Engine>>,
    /// The admin console, given the admin tokens of each reload (`None`: the console is off).
    admin: Option<actix_web::web::Data<crate::http::admin::Admin>>,
}

impl Reloader {
    pub fn new(
        credentials: Arc<SharedCredentials>,
        tls: Option<Arc<CertResolver>>,
        tableau: Option<TableauClient>,
        engine: Option<Arc<crate::provision::Engine>>,
    ) -> Self {
        Self {
            credentials,
            tls,
            tableau,
            engine,
            admin: None,
        }
    }

    /// The console whose admin tokens each reload replaces, if it is on.
    pub fn with_admin(
        mut self,
        admin: Option<actix_web::web::Data<crate::http::admin::Admin>>,
    ) -> Self {
        self.admin = admin;
        self
    }

    /// Replace the credentials with those of `settings` (freshly loaded: config file, tokens
    /// file, secret files, environment, flags) and re-read the certificate files. Each part is
    /// replaced only when it loads whole; otherwise the old one stays and the log says why.
    pub fn reload(&self, settings: Result<Settings, String>) {
        match settings {
            Err(e) => tracing::warn!(
                error = %e,
                "SIGHUP: the configuration does not load; kept the old credentials"
            ),
            Ok(settings) => {
                self.reload_tableau_auth(&settings);
                self.reload_guard(&settings);
                self.reload_mode(&settings);
                match Credentials::from_settings(&settings.auth) {
                    Ok(c) if c.is_empty() => tracing::warn!(
                        "SIGHUP: the new configuration has no credentials; kept the old ones"
                    ),
                    Ok(c) => {
                        let summary = c.summary();
                        self.credentials.replace(c);
                        tracing::info!("SIGHUP: reloaded the credentials ({summary})");
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "SIGHUP: the new credentials do not load; kept the old ones"
                    ),
                }
                // After the IdP's: an admin token must not be one of theirs.
                self.reload_admin_tokens(&settings);
            }
        }
        if let Some(tls) = &self.tls {
            match tls.reload() {
                Ok(()) => {
                    tracing::info!(
                        file = %tls.cert_file().display(),
                        "SIGHUP: reloaded the TLS certificate"
                    );
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "SIGHUP: the TLS certificate does not load; kept the old one"
                ),
            }
        }
    }
}

impl Reloader {
    /// Hands new Tableau sign-in credentials (e.g. a rotated PAT secret, from the config or a
    /// secret file) to the client, which drops its session; operations waiting on a refused
    /// sign-in (401001) then go through. Unchanged credentials keep the session.
    /// The mass-removal guard's settings take effect for the next operation.
    fn reload_guard(&self, settings: &Settings) {
        if let Some(engine) = &self.engine
            && engine.guard() != settings.guard
        {
            engine.set_guard(settings.guard.clone());
            tracing::info!(
                enabled = settings.guard.enabled,
                max_removals = settings.guard.max_removals,
                window_secs = settings.guard.window_secs,
                "SIGHUP: reloaded the mass-removal guard settings"
            );
        }
    }

    /// `provision.mode`: dry-run or live for the next operations. From dry-run to live, the
    /// planned operations are converged as at a live start (`reconcile::converge`).
    fn reload_mode(&self, settings: &Settings) {
        use crate::provision::dry_run::ProvisionMode;
        let Some(engine) = &self.engine else { return };
        let dry_run = settings.provision.mode == ProvisionMode::DryRun;
        if engine.dry_run() == dry_run {
            return;
        }
        engine.set_dry_run(dry_run);
        if dry_run {
            tracing::warn!("SIGHUP: switched to dry-run: Tableau is no longer written");
            return;
        }
        tracing::info!("SIGHUP: switched to live mode");
        if let Some(client) = &self.tableau {
            let reconciler = crate::reconcile::Reconciler::new(
                engine.clone(),
                client.clone(),
                crate::store::DEFAULT_TENANT,
            );
            tokio::spawn(crate::reconcile::converge::after_dry_run(reconciler));
        }
    }

    /// The console's tokens, checked against the IdP's credentials in force. A token removed
    /// ends the sessions signed in with it. The console is turned on or off at start-up only.
    fn reload_admin_tokens(&self, settings: &Settings) {
        use crate::http::admin::session::AdminTokens;
        let loaded = AdminTokens::from_settings(&settings.admin, &self.credentials.current());
        let Some(admin) = &self.admin else {
            if loaded.is_ok_and(|t| !t.is_empty()) {
                tracing::warn!(
                    "SIGHUP: admin tokens are configured but the console was off at start-up; \
                     restart to turn it on"
                );
            }
            return;
        };
        match loaded {
            Ok(tokens) if tokens.is_empty() => tracing::warn!(
                "SIGHUP: the new configuration has no admin tokens; kept the old ones \
                 (restart to turn the console off)"
            ),
            Ok(tokens) => {
                let count = tokens.len();
                admin.tokens.replace(tokens);
                tracing::info!(
                    "SIGHUP: reloaded the admin tokens ({count}); sessions of a removed one are ended"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "SIGHUP: the new admin tokens do not load; kept the old ones"
            ),
        }
    }

    fn reload_tableau_auth(&self, settings: &Settings) {
        if let (Some(client), Some(new)) = (&self.tableau, &settings.tableau)
            && client.set_auth(new.auth.clone())
        {
            tracing::info!("SIGHUP: reloaded the Tableau sign-in credentials");
        }
    }
}

/// Runs `app` until SIGTERM or SIGINT; on SIGHUP, `load` reads the settings again and the
/// credentials and certificate are reloaded. Returns once the server has stopped.
pub async fn serve_until_signalled(
    app: Application,
    mut signals: Signals,
    grace_secs: u64,
    load: impl Fn() -> Result<Settings, String>,
) -> anyhow::Result<()> {
    let reloader = app.reloader();
    let handle = app.handle();
    let mut server = tokio::spawn(app.run_until_stopped());
    loop {
        tokio::select! {
            ended = &mut server => return Ok(ended??),
            event = signals.next() => match event {
                Event::Reload => {
                    reloader.reload(load());
                }
                Event::Stop(name) => {
                    tracing::info!(
                        "{name}: stopping; requests in flight have {grace_secs} s to finish"
                    );
                    handle.stop(true).await;
                    server.await??;
                    tracing::info!("stopped");
                    return Ok(());
                }
            }
        }
    }
}
