//! `tableau-scim reconcile`: one reconcile (or, with `--adopt`, the going-live forecast) from
//! the command line, on the store and Tableau site of the config. The report goes to stdout;
//! a progress line goes to stderr when it is a terminal; the exit code says the outcome
//! (docs/operations.md, "Exit codes").

use crate::config::Settings;
use crate::provision::{Engine, JournalSettings};
use crate::reconcile::report::{EXIT_IN_SYNC, EXIT_TABLEAU};
use crate::reconcile::{Options, Reconciler, adopt, desired};
use crate::store::DEFAULT_TENANT;
use crate::tableau::TableauClient;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A repair waits this long for its operation (a request waits `journal.deadline_secs`): the
/// command line has no IdP timing out, and ending before the repairs would leave them to
/// finish in a process that is exiting.
const REPAIR_DEADLINE_SECS: u64 = 600;

pub struct Request {
    pub config: Option<PathBuf>,
    pub store: Option<String>,
    pub apply: bool,
    pub remove_unmanaged: bool,
    pub adopt: bool,
    pub users: Option<PathBuf>,
    pub groups: Option<PathBuf>,
    pub json: bool,
}

/// Runs the request; the exit code. Errors before Tableau is read (settings, store) are `Err`
/// (exit code 1); Tableau unreadable is [`EXIT_TABLEAU`].
pub async fn run(req: Request) -> anyhow::Result<u8> {
    let settings = Settings::load(req.config.as_deref())?;
    crate::logging::init(settings.log.format);
    let Some(tableau) = settings.tableau.clone() else {
        anyhow::bail!(
            "no [tableau] settings, so there is no Tableau site to reconcile with: give --config a \
             file with a [tableau] section (url, site, credentials; docs/configuration.md)"
        );
    };
    let url = req.store.clone().unwrap_or_else(|| settings.store_url());
    if let Some(path) = crate::store::sqlite_file(&url)
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {} (the server creates it on its first start): check --store, or \
             store / data_dir in the config",
            path.display()
        );
    }
    let store = crate::store::connect(&url)
        .await
        .with_context(|| format!("cannot open the store {}", crate::app::redact_url(&url)))?;
    let client = TableauClient::new(tableau).context("invalid [tableau] settings")?;
    let progress = Progress::new();
    if req.adopt {
        let names = adopt::Names {
            users: read_names(req.users.as_ref())?,
            groups: read_names(req.groups.as_ref())?,
        };
        let desired = desired::load(store.as_ref(), DEFAULT_TENANT, &settings.provision).await?;
        let read = async {
            let users = client
                .all_users(&|n, t| progress.show("users", n, t))
                .await?;
            let groups = client
                .all_groups(&|n, t| progress.show("groups", n, t))
                .await?;
            Ok::<_, crate::tableau::TableauError>((users, groups))
        };
        let read = read.await;
        progress.clear();
        let (users, groups) = match read {
            Ok(read) => read,
            Err(e) => {
                eprintln!("error: cannot read Tableau: {e}");
                return Ok(EXIT_TABLEAU);
            }
        };
        let forecast = adopt::forecast(&desired, &names, &users, &groups);
        print_out(if req.json {
            forecast.to_json() + "\n"
        } else {
            forecast.to_text()
        });
        return Ok(EXIT_IN_SYNC);
    }
    let journal = JournalSettings {
        deadline_secs: REPAIR_DEADLINE_SECS.max(settings.journal.deadline_secs),
        ..settings.journal.clone()
    };
    let engine = Engine::new(
        store,
        Some(client.clone()),
        settings.provision.clone(),
        journal,
    );
    let reconciler = Reconciler::new(engine, client, DEFAULT_TENANT);
    let options = Options {
        apply: req.apply,
        remove_unmanaged: req.remove_unmanaged,
    };
    let result = reconciler
        .run(options, &|what, n, total| progress.show(what, n, total))
        .await;
    progress.clear();
    match result {
        Ok(report) => {
            print_out(if req.json {
                report.to_json() + "\n"
            } else {
                report.to_text()
            });
            Ok(report.exit_code())
        }
        Err(crate::reconcile::ReconcileError::Tableau(e)) => {
            eprintln!("error: cannot read Tableau: {e}");
            Ok(EXIT_TABLEAU)
        }
        Err(e) => Err(e.into()),
    }
}

fn print_out(text: String) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a second message.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn read_names(path: Option<&PathBuf>) -> anyhow::Result<Vec<String>> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Ok(adopt::parse_names(&text))
        }
        None => Ok(Vec::new()),
    }
}

/// One line on stderr, rewritten in place, at most every 200 ms; only on a terminal.
struct Progress {
    on: bool,
    last: std::sync::Mutex<Option<Instant>>,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            last: std::sync::Mutex::new(None),
        }
    }

    fn show(&self, what: &str, n: usize, total: Option<u64>) {
        if !self.on {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let finished = total.is_some_and(|t| n as u64 >= t);
        if !finished && last.is_some_and(|l| l.elapsed() < Duration::from_millis(200)) {
            return;
        }
        *last = Some(Instant::now());
        let of = total.map(|t| format!("/{t}")).unwrap_or_default();
        eprint!("\r\x1b[2Kreading Tableau: {what} {n}{of}");
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}
