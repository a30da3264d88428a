//! The `tableau-scim` command: `serve` (the SCIM endpoint), `demo` (everything on one machine,
//! ready to try), `hash-token` (a token digest for the config file).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::http::auth::{MIN_SECRET_LEN, token_hash_string};
use tableau_scim::logging::LogFormat;
use tableau_scim::provision::rules::UserNameChange;
use tableau_scim::signals::Signals;
use tableau_scim::tableau::{TableauAuth, TableauSettings};
use tableau_sim::{PersonalAccessToken, SimArgs, SimConfig, run_cli};

/// jemalloc, not glibc's malloc: memory freed after a burst goes back to the system (Cargo.toml).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "tableau-scim",
    version,
    about = "SCIM 2.0 endpoint that provisions Tableau users and groups"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SCIM server.
    Serve(ServeArgs),
    /// Run the SCIM server on a throw-away SQLite store with a generated token, and print how
    /// to reach it.
    Demo(DemoArgs),
    /// Show the journal: the latest operations and their Tableau calls, newest first;
    /// `ops prune` deletes old succeeded ones.
    Ops(OpsArgs),
    /// Run the Tableau REST API simulator (see docs/simulator.md).
    Sim(SimArgs),
    /// Check the settings, the store and Tableau before going live: a checklist, each line ✔
    /// or ✘ with the fix; exit code 1 on any ✘.
    Check {
        /// TOML configuration file (see docs/configuration.md).
        #[arg(long, env = "TABLEAU_SCIM_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Exit 0 when the server answers URL (status below 500): a container HEALTHCHECK.
    Healthcheck {
        #[arg(default_value = tableau_scim::healthcheck::DEFAULT_URL)]
        url: String,
    },
    /// Compare Tableau with the stored state and report each drift; `--apply` repairs it
    /// through the journal; `--adopt` forecasts what going live links, creates and leaves.
    /// Exit codes: 0 in sync (or all repaired), 1 usage, settings or store error, 2 drift
    /// left, 3 Tableau could not be read, 4 a repair failed or is unfinished.
    Reconcile(ReconcileArgs),
    /// Print the `sha256:` digest of a bearer token, for `auth.token_hashes`.
    HashToken {
        /// The token; read from standard input when omitted (keeps it out of shell history).
        token: Option<String>,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct OpsArgs {
    #[command(subcommand)]
    action: Option<OpsAction>,
    /// TOML configuration file: the store URL, the journal's retention, and for `ops release` the
    /// `[tableau]` section it signs in with.
    #[arg(long, env = "TABLEAU_SCIM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...` (default: from the config).
    #[arg(long, global = true)]
    store: Option<String>,
    /// Only operations on this SCIM resource id.
    #[arg(long)]
    resource: Option<String>,
    /// How many operations to show.
    #[arg(long, default_value_t = 20)]
    limit: i64,
}

#[derive(Args)]
struct ReconcileArgs {
    /// TOML configuration file (for the store, [tableau] and [provision]).
    #[arg(long, env = "TABLEAU_SCIM_CONFIG")]
    config: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...` (default: from the config).
    #[arg(long)]
    store: Option<String>,
    /// Repair the drift: each repair a journaled operation (see `tableau-scim ops`).
    #[arg(long, conflicts_with = "adopt")]
    apply: bool,
    /// With --apply: also remove Tableau users no SCIM resource manages (never administrators).
    #[arg(long, requires = "apply")]
    remove_unmanaged: bool,
    /// Forecast going live: which Tableau users and groups will be linked, created or left
    /// alone (changes nothing).
    #[arg(long)]
    adopt: bool,
    /// With --adopt: the userNames the IdP will push, one a line (beyond those stored).
    #[arg(long, value_name = "FILE", requires = "adopt")]
    users: Option<PathBuf>,
    /// With --adopt: the group displayNames the IdP will push, one a line.
    #[arg(long, value_name = "FILE", requires = "adopt")]
    groups: Option<PathBuf>,
    /// Output: text for people, json for scripts (docs/operations.md lists the fields).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum OpsAction {
    /// Delete succeeded operations that finished more than the retention ago (failed and
    /// unfinished ones are kept), as the server's background worker does every hour.
    Prune {
        /// Keep this many days (default: `journal.retention_days` from the config, 30).
        #[arg(long)]
        older_than_days: Option<u32>,
    },
    /// List the operations the mass-removal guard held (docs/operations.md).
    Held,
    /// Carry out held operations now (their Tableau steps, journaled, resumable).
    Release {
        /// The operation id (from `ops held`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every held operation, oldest first.
        #[arg(long)]
        all: bool,
    },
    /// Drop held operations: their Tableau steps never run; the SCIM side stays as committed.
    Discard {
        /// The operation id (from `ops held`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every held operation.
        #[arg(long)]
        all: bool,
        /// Why, kept with each operation.
        #[arg(
            long,
            default_value = "discarded by an admin (tableau-scim ops discard)"
        )]
        note: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "TABLEAU_SCIM_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, e.g. 0.0.0.0:8080.
    #[arg(long)]
    listen: Option<String>,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long)]
    store: Option<String>,
    /// A bearer token the IdP may use (repeatable). Prefer the config file or a tokens file:
    /// command lines are visible to other local users.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// A token for the admin console at /admin/ (repeatable; never an IdP token). Prefer
    /// `[admin] token_hashes` or TABLEAU_SCIM_ADMIN__TOKENS: command lines are visible to
    /// other local users.
    #[arg(long = "admin-token")]
    admin_tokens: Vec<String>,
    /// Public base URL for `meta.location`, e.g. https://scim.example.com.
    #[arg(long)]
    public_url: Option<String>,
    /// HTTPS: the certificate chain, PEM, server certificate first (with --tls-key).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// HTTPS: the certificate's private key, PEM (with --tls-cert).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Directory for the default SQLite database.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Tableau server URL, e.g. https://10ay.online.tableau.com (with --tableau-pat).
    #[arg(long)]
    tableau_url: Option<String>,
    /// Tableau site content URL ("" for the Default site).
    #[arg(long)]
    tableau_site: Option<String>,
    /// Personal access token NAME:SECRET the bridge signs in with. Prefer the config file or
    /// TABLEAU_SCIM_TABLEAU__AUTH__SECRET: command lines are visible to other local users.
    #[arg(long, value_name = "NAME:SECRET")]
    tableau_pat: Option<String>,
    /// Log format on stderr: text or json (default: `log.format`, text).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Dry-run: answer SCIM and store, read Tableau but never write it; each change journals
    /// the calls it would make (`provision.mode = "dry_run"`, docs/operations.md).
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Listen address of the SCIM server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Bearer token to accept (generated when omitted).
    #[arg(long)]
    token: Option<String>,
    /// The admin console's token (generated when omitted).
    #[arg(long)]
    admin_token: Option<String>,
    /// Directory for the SQLite store (a temporary directory when omitted).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Listen address of the built-in Tableau simulator.
    #[arg(long, default_value = "127.0.0.1:8090")]
    sim_listen: String,
    /// An extra simulator token NAME:SECRET for a person to look with (e.g. with
    /// tableauserverclient); the bridge signs in with a token of its own.
    #[arg(long, value_name = "NAME:SECRET")]
    sim_pat: Option<String>,
    /// Log format on stderr: text or json (default: `log.format`, text).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// What a userName change does (`provision.on_user_name_change`): refuse it, or rename
    /// by recreating the Tableau user (groups and content moved, old user removed).
    #[arg(long, value_enum, value_name = "POLICY")]
    on_user_name_change: Option<RenamePolicy>,
    /// Dry-run: SCIM is answered and stored, the simulator is read but never written; each
    /// change journals the calls it would make (see them in the console).
    #[arg(long)]
    dry_run: bool,
}

/// `--on-user-name-change`, as the CLI spells `provision.on_user_name_change`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RenamePolicy {
    Refuse,
    Recreate,
}

impl From<RenamePolicy> for UserNameChange {
    fn from(p: RenamePolicy) -> Self {
        match p {
            RenamePolicy::Refuse => UserNameChange::Refuse,
            RenamePolicy::Recreate => UserNameChange::Recreate,
        }
    }
}

async fn reconcile(args: ReconcileArgs) -> anyhow::Result<u8> {
    tableau_scim::reconcile_cli::run(tableau_scim::reconcile_cli::Request {
        config: args.config,
        store: args.store,
        apply: args.apply,
        remove_unmanaged: args.remove_unmanaged,
        adopt: args.adopt,
        users: args.users,
        groups: args.groups,
        json: args.format == OutputFormat::Json,
    })
    .await
}

async fn ops(args: OpsArgs) -> anyhow::Result<()> {
    let settings = Settings::load(args.config.as_deref())?;
    let url = args.store.unwrap_or_else(|| settings.store_url());
    existing_store(&url)?;
    let store = tableau_scim::store::connect(&url).await.with_context(|| {
        format!(
            "cannot open the store {}",
            tableau_scim::app::redact_url(&url)
        )
    })?;
    match args.action {
        None => {
            tableau_scim::ops::print_operations(
                store.as_ref(),
                args.resource.as_deref(),
                args.limit,
            )
            .await
        }
        Some(OpsAction::Held) => {
            tableau_scim::ops_held::print_held(store.as_ref(), args.limit.max(1)).await
        }
        Some(OpsAction::Release { id, all }) => {
            let Some(tableau) = settings.tableau.clone() else {
                anyhow::bail!(
                    "no [tableau] settings, so there is no Tableau site to carry the operations \
                     out on: give --config the server's file"
                );
            };
            let client = tableau_scim::tableau::TableauClient::new(tableau)
                .context("invalid [tableau] settings")?;
            tableau_scim::ops_held::release(store, client, &settings, which(id, all)).await
        }
        Some(OpsAction::Discard { id, all, note }) => {
            tableau_scim::ops_held::discard(store, which(id, all), &note).await
        }
        Some(OpsAction::Prune { older_than_days }) => {
            let days = older_than_days.unwrap_or(settings.journal.retention_days);
            if days == 0 {
                anyhow::bail!(
                    "a retention of 0 days keeps every operation; give --older-than-days N (N >= 1)"
                );
            }
            let now = time::OffsetDateTime::now_utc();
            let deleted = tableau_scim::provision::retention::prune(store.as_ref(), days, now)
                .await
                .context("cannot delete old operations")?;
            println!(
                "deleted {deleted} succeeded operations finished before {} ({days} days ago)",
                tableau_scim::provision::retention::cutoff(now, days)
            );
            Ok(())
        }
    }
}

fn which(id: Option<String>, all: bool) -> tableau_scim::ops_held::Which {
    match (id, all) {
        (Some(id), false) => tableau_scim::ops_held::Which::One(id),
        _ => tableau_scim::ops_held::Which::All,
    }
}

/// `ops` reads a store that the server made: a SQLite file that is not there is a typo, not a
/// database to create.
fn existing_store(url: &str) -> anyhow::Result<()> {
    if let Some(path) = tableau_scim::store::sqlite_file(url)
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {} (the server creates it on its first start): check --store, or \
             store / data_dir in the config",
            path.display()
        );
    }
    Ok(())
}

/// Errors end the process as one line on stderr (the causes joined with `: `), exit code 1:
/// never a backtrace, whatever `RUST_BACKTRACE` says, nor a source location.
fn main() -> std::process::ExitCode {
    // jemalloc purges freed pages (after its decay time) on a thread of its own, so memory goes
    // back to the system when a burst ends even if no request follows. Without the thread, the
    // allocator still works, only lazier: a failure is not worth stopping for.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("warning: jemalloc's background purging is off ({e})");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<std::process::ExitCode> {
    tableau_scim::init_crypto();
    // A usage error exits 1, like every other error: clap's own 2 is `reconcile`'s "drift
    // left" (docs/operations.md, exit codes). `--help` and `--version` exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            });
        }
    };
    run_command(cli.command).await
}

async fn run_command(command: Command) -> anyhow::Result<std::process::ExitCode> {
    let done = match command {
        // The one command with exit codes of its own (2, 3, 4).
        Command::Reconcile(args) => {
            return reconcile(args).await.map(std::process::ExitCode::from);
        }
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Sim(args) => run_cli(args).await,
        Command::Ops(args) => ops(args).await,
        Command::Healthcheck { url } => tableau_scim::healthcheck::run(&url).await,
        Command::Check { config } => {
            let checklist = tableau_scim::check::run(config.as_deref()).await;
            print!("{}", checklist.render());
            match checklist.failures() {
                0 => Ok(()),
                n => anyhow::bail!("{n} check(s) failed (✘ above)"),
            }
        }
        Command::HashToken { token } => {
            let token = match token {
                Some(t) => t,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim().to_string()
                }
            };
            if token.len() < MIN_SECRET_LEN {
                anyhow::bail!(
                    "the token is {} characters long; tokens must be at least {MIN_SECRET_LEN} \
                     (make one with: openssl rand -base64 32)",
                    token.len()
                );
            }
            println!("{}", token_hash_string(&token));
            Ok(())
        }
    };
    done.map(|()| std::process::ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // First: from here on SIGHUP, SIGTERM and SIGINT are ours, even during start-up.
    let signals = Signals::install().context("cannot install signal handlers")?;
    let flags = serve_flags(&args)?;
    let settings = Settings::load_with_flags(args.config.as_deref(), flags.clone())?;
    tableau_scim::logging::init(settings.log.format);
    let grace = settings.shutdown_grace_secs;
    let app = Application::build(settings).await?;
    tracing::info!(url = %app.base_url(), "tableau-scim serving SCIM 2.0");
    tracing::info!(
        url = %app.metrics_url(),
        "serving /metrics, /healthz and /readyz"
    );
    let config = args.config.clone();
    let reload = move || {
        Settings::load_with_flags(config.as_deref(), flags.clone()).map_err(|e| e.to_string())
    };
    tableau_scim::signals::serve_until_signalled(app, signals, grace, reload)
        .await
        .context("server failed")
}

/// The flags of `serve` as a settings layer shaped like the config file.
fn serve_flags(args: &ServeArgs) -> anyhow::Result<serde_json::Value> {
    let mut flags = serde_json::Map::new();
    let mut put = |key: &str, value: Option<serde_json::Value>| {
        if let Some(v) = value {
            flags.insert(key.to_string(), v);
        }
    };
    put("listen", args.listen.clone().map(Into::into));
    put("store", args.store.clone().map(Into::into));
    put("public_url", args.public_url.clone().map(Into::into));
    put(
        "log",
        args.log_format.map(|f| serde_json::json!({ "format": f })),
    );
    put(
        "data_dir",
        args.data_dir
            .as_ref()
            .map(|d| d.display().to_string().into()),
    );
    if !args.tokens.is_empty() {
        flags.insert("auth".into(), serde_json::json!({ "tokens": args.tokens }));
    }
    if args.dry_run {
        flags.insert("provision".into(), serde_json::json!({ "mode": "dry_run" }));
    }
    if !args.admin_tokens.is_empty() {
        flags.insert(
            "admin".into(),
            serde_json::json!({ "tokens": args.admin_tokens }),
        );
    }
    let mut tls = serde_json::Map::new();
    if let Some(c) = &args.tls_cert {
        tls.insert("cert_file".into(), c.display().to_string().into());
    }
    if let Some(k) = &args.tls_key {
        tls.insert("key_file".into(), k.display().to_string().into());
    }
    if !tls.is_empty() {
        flags.insert("tls".into(), tls.into());
    }
    let mut tableau = serde_json::Map::new();
    if let Some(u) = &args.tableau_url {
        tableau.insert("url".into(), u.clone().into());
    }
    if let Some(s) = &args.tableau_site {
        tableau.insert("site".into(), s.clone().into());
    }
    if let Some(p) = &args.tableau_pat {
        let (name, secret) = split_pair(p, "--tableau-pat")?;
        tableau.insert(
            "auth".into(),
            serde_json::json!({"kind": "pat", "name": name, "secret": secret}),
        );
    }
    if !tableau.is_empty() {
        flags.insert("tableau".into(), tableau.into());
    }
    Ok(flags.into())
}

fn split_pair(value: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match value.split_once(':') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => anyhow::bail!("{flag} takes NAME:SECRET"),
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(None)?;
    if let Some(format) = args.log_format {
        settings.log.format = format;
    }
    tableau_scim::logging::init(settings.log.format);
    let mut signals = Signals::install().context("cannot install signal handlers")?;
    // Kept alive until the demo ends; removed afterwards when it is a temporary directory.
    let (data_dir, _temp) = match args.data {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("tableau-scim-demo-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let token = args
        .token
        .unwrap_or_else(|| format!("demo-{}", uuid::Uuid::new_v4().simple()));

    // The simulated Tableau: the bridge signs in with a token of its own (a PAT allows one
    // session at a time), a person may look with another (--sim-pat) or as admin.
    let bridge_pat = PersonalAccessToken {
        name: "tableau-scim-bridge".into(),
        secret: format!("bridge-{}", uuid::Uuid::new_v4().simple()),
    };
    let mut sim_config = SimConfig::default().with_site("demo");
    sim_config.listen = args
        .sim_listen
        .parse()
        .context("--sim-listen must be HOST:PORT")?;
    sim_config.pats = vec![bridge_pat.clone()];
    let person_pat = match &args.sim_pat {
        Some(p) => {
            let (name, secret) = split_pair(p, "--sim-pat")?;
            sim_config.pats.push(PersonalAccessToken {
                name: name.clone(),
                secret,
            });
            Some(name)
        }
        None => None,
    };
    let sim = tableau_sim::spawn(sim_config)
        .await
        .context("cannot start the Tableau simulator")?;

    settings.listen = args.listen;
    settings.data_dir = data_dir.clone();
    settings.store = None;
    settings.auth.tokens = vec![token.clone()];
    let admin_token = args
        .admin_token
        .unwrap_or_else(|| format!("admin-{}", uuid::Uuid::new_v4().simple()));
    settings.admin.tokens = vec![admin_token.clone()];
    if let Some(policy) = args.on_user_name_change {
        settings.provision.on_user_name_change = policy.into();
    }
    if args.dry_run {
        settings.provision.mode = tableau_scim::provision::dry_run::ProvisionMode::DryRun;
    }
    let renames = settings.provision.on_user_name_change;
    settings.tableau = Some(TableauSettings::new(
        sim.url(),
        sim.site_content_url(),
        TableauAuth::Pat {
            name: bridge_pat.name,
            secret: bridge_pat.secret,
        },
    ));
    let app = Application::build(settings).await?;
    let url = app.base_url();
    println!("tableau-scim demo is running.");
    println!();
    println!("  SCIM base URL : {url}");
    println!("  Bearer token  : {token}");
    println!("  Admin console : {}/admin/", app.root_url());
    println!("  Admin token   : {admin_token}   (sign in to the console with it)");
    println!(
        "  Store         : sqlite://{}/tableau-scim.db",
        data_dir.display()
    );
    println!();
    println!(
        "  Tableau (simulated): {}  site \"{}\"",
        sim.url(),
        sim.site_content_url()
    );
    println!("    sign in as admin / admin-password");
    match person_pat {
        Some(name) => println!("    or with the personal access token {name}"),
        None => println!("    (or add a personal access token with --sim-pat NAME:SECRET)"),
    }
    println!("    whole state: curl -s {}/_sim/state", sim.url());
    println!();
    println!("Try:");
    println!("  curl -s -H 'Authorization: Bearer {token}' {url}/Users");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/scim+json' \\\n    \
         -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"ada@example.com\"}}' {url}/Users"
    );
    if renames == UserNameChange::Recreate {
        println!(
            "  userName changes recreate the Tableau user (see README, \"A rename\"): PATCH \
             /Users/{{id}} with {{\"op\":\"replace\",\"path\":\"userName\",\"value\":…}}"
        );
    } else {
        println!("  userName changes are refused (--on-user-name-change recreate to allow them)");
    }
    if args.dry_run {
        println!(
            "  Dry-run: the simulator is never written; each change's planned Tableau calls are \
             in the console (Operations)"
        );
    }
    println!();
    println!("Press Ctrl-C to stop.");
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let name = signals.wait_for_stop("the demo").await;
    tracing::info!("{name}: stopping the demo (the SCIM server, then the simulator)");
    handle.stop(true).await;
    server.await??;
    sim.stop().await;
    tracing::info!("stopped");
    Ok(())
}
