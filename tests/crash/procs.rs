//! The child processes: the simulator and the bridge, each with its log file, SIGKILLed and
//! reaped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::TOKEN;

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");

/// A child process, SIGKILLed and reaped when dropped; its output goes to a log file.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("child process starts");
        Proc {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Waits (bounded) for a log line containing `marker`, and returns the `http://…` URL on it.
    pub async fn url_after(&mut self, marker: &str) -> String {
        for _ in 0..600 {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(marker))
                && let Some(at) = line.find("http://")
            {
                let url: String = line[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                    .collect();
                return url.trim_end_matches('/').to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{text}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no '{marker}' in {} within 30 s", self.log.display());
    }

    /// `kill -9`: `Child::kill` sends SIGKILL on Unix.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn spawn_sim(dir: &Path, seed: u64) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["sim", "--listen", "127.0.0.1:0", "--site", "acme"])
        .args(["--pat", "bridge:bridge-secret", "--seed", &seed.to_string()])
        .args(["--fault", "POST:/api/**=latency:30ms"])
        .args(["--fault", "PUT:/api/**=latency:20ms"])
        .args(["--fault", "DELETE:/api/**=latency:20ms"])
        .env("NO_COLOR", "1");
    let mut sim = Proc::spawn(&mut cmd, &dir.join("sim.log"));
    let url = sim
        .url_after("Tableau REST API simulator listening on")
        .await;
    (sim, url)
}

/// The bridge as an operator runs it; one log file per start.
pub struct Server {
    pub dir: PathBuf,
    pub sim_url: String,
    pub starts: usize,
    pub proc: Option<Proc>,
    /// `http://127.0.0.1:PORT/scim/v2` of the running process; empty while it is down.
    pub url: Arc<Mutex<String>>,
    /// The store's URL; `None`: `bridge.db` in `dir`.
    pub store: Option<String>,
    /// A config file passed with `--config`.
    pub config: Option<PathBuf>,
}

impl Server {
    /// Not started yet: `start` runs it against the simulator at `sim_url`, its files in `dir`.
    pub fn new(dir: &Path, sim_url: &str, store: Option<String>, config: Option<PathBuf>) -> Self {
        Server {
            dir: dir.to_path_buf(),
            sim_url: sim_url.to_owned(),
            starts: 0,
            proc: None,
            url: Arc::new(Mutex::new(String::new())),
            store,
            config,
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("bridge.db")
    }

    pub fn store_url(&self) -> String {
        self.store
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.db().display()))
    }

    pub async fn start(&mut self) {
        self.starts += 1;
        let log = self.dir.join(format!("bridge-{}.log", self.starts));
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .arg("--store")
            .arg(self.store_url());
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(["--tableau-url", &self.sim_url, "--tableau-site", "acme"])
            .args(["--tableau-pat", "bridge:bridge-secret"])
            // A short deadline and quick resumption; the Tableau section is given in full by
            // the environment too, since a partial `[tableau]` from the environment is refused.
            .env("TABLEAU_SCIM_JOURNAL__DEADLINE_SECS", "3")
            .env("TABLEAU_SCIM_JOURNAL__RESUME_AFTER_SECS", "1")
            .env("TABLEAU_SCIM_JOURNAL__WORKER_INTERVAL_SECS", "1")
            // These tests remove many users for other reasons than the mass-removal guard
            // (tests/provision/guard.rs is its test): it would hold their removals.
            .env("TABLEAU_SCIM_GUARD__ENABLED", "false")
            .env("TABLEAU_SCIM_TABLEAU__URL", &self.sim_url)
            .env("TABLEAU_SCIM_TABLEAU__SITE", "acme")
            .env("TABLEAU_SCIM_TABLEAU__AUTH__KIND", "pat")
            .env("TABLEAU_SCIM_TABLEAU__AUTH__NAME", "bridge")
            .env("TABLEAU_SCIM_TABLEAU__AUTH__SECRET", "bridge-secret")
            .env("TABLEAU_SCIM_TABLEAU__REQUESTS_PER_SECOND", "1000")
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1");
        let mut proc = Proc::spawn(&mut cmd, &log);
        let url = proc.url_after("tableau-scim serving SCIM 2.0").await;
        *self.url.lock().unwrap() = url;
        self.proc = Some(proc);
    }

    /// Every start's log, for failure messages.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|i| {
                let log = self.dir.join(format!("bridge-{i}.log"));
                format!(
                    "--- start {i}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .collect()
    }

    pub fn kill(&mut self) {
        self.url.lock().unwrap().clear();
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}
