//! Child processes of the real binary, each with one log file (stdout and stderr), SIGKILLed
//! when dropped; signals sent with kill(1).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");

pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(cmd: &mut Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info,sqlx=warn")
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

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for a log line containing `marker` and returns the first URL on it.
    pub async fn url_after(&mut self, marker: &str) -> String {
        let line = self.line_with(marker).await;
        let at = line
            .find("https://")
            .or_else(|| line.find("http://"))
            .unwrap_or_else(|| panic!("no URL on '{line}'"));
        line[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '\u{1b}' && *c != '"')
            .collect::<String>()
            .trim_end_matches('/')
            .to_string()
    }

    /// Waits (bounded, 30 s) for a log line containing `marker`.
    pub async fn line_with(&mut self, marker: &str) -> String {
        for _ in 0..600 {
            let text = self.text();
            if let Some(line) = text.lines().find(|l| l.contains(marker)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{text}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no '{marker}' in {} within 30 s:\n{}",
            self.log.display(),
            self.text()
        );
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to end.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > limit {
                panic!(
                    "{} still running {limit:?} after the signal:\n{}",
                    self.log.display(),
                    self.text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tableau-scim sim` on a free port with the PAT bridge:bridge-secret on site "acme", and
/// extra flags (faults); returns it and its URL.
pub async fn spawn_sim(dir: &Path, extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["sim", "--listen", "127.0.0.1:0", "--site", "acme"])
        .args(["--pat", "bridge:bridge-secret"])
        .args(extra);
    let mut sim = Proc::spawn(&mut cmd, &dir.join("sim.log"));
    let url = sim
        .url_after("Tableau REST API simulator listening on")
        .await;
    (sim, url)
}

/// `tableau-scim serve` on a free port against the simulator at `sim_url`, its SQLite store in
/// `dir`, with the given extra flags and environment.
pub fn serve_cmd(dir: &Path, sim_url: &str) -> Command {
    let mut cmd = serve_without_store(sim_url);
    cmd.arg("--store")
        .arg(format!("sqlite://{}", dir.join("bridge.db").display()));
    cmd
}

/// `serve_cmd` without `--store`: the default store in the data directory.
pub fn serve_without_store(sim_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--token", crate::TOKEN])
        .args(["--tableau-url", sim_url, "--tableau-site", "acme"])
        .args(["--tableau-pat", "bridge:bridge-secret"])
        .env("TABLEAU_SCIM_TABLEAU__REQUESTS_PER_SECOND", "1000")
        .env("TABLEAU_SCIM_JOURNAL__RESUME_AFTER_SECS", "1")
        .env("TABLEAU_SCIM_JOURNAL__WORKER_INTERVAL_SECS", "1");
    cmd
}

/// The names of the simulator's users that end in `@example.com` (the tests' own).
pub async fn sim_user_names(sim_url: &str) -> Vec<String> {
    let state: serde_json::Value = reqwest::get(format!("{sim_url}/_sim/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str().map(str::to_string))
        .filter(|n| n.ends_with("@example.com"))
        .collect()
}

pub fn http() -> reqwest::Client {
    tableau_scim::init_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn user(name: &str) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
    })
}
