//! Crash: the bridge runs as a child process (`tableau-scim serve`, SQLite store) against a
//! simulator child process (`tableau-scim sim`, slowed down so that kills land in the middle of
//! operations). An IdP pushes a fixed script of requests; the bridge is SIGKILLed during the
//! push (at several kill points), restarted on the same database, and the IdP re-sends every
//! request that got no final answer (same body, no `Idempotency-Key`) and carries on. At the
//! end, Tableau (the simulator's `/_sim/state`) holds exactly the intended users, roles and
//! memberships, and the journal has no unfinished operation.
//!
//! With `TABLEAU_SCIM_TEST_KEEP_CRASH_DIR=1`, a failing run keeps its directory (database,
//! simulator and bridge logs) and prints where it is.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");
const TOKEN: &str = "crash-test-token-0123456789";
const SCIM: &str = "application/scim+json";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const TABLEAU_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
const ROLES: [&str; 4] = ["Viewer", "Explorer", "ExplorerCanPublish", "Creator"];

const USERS: usize = 30;
const GROUPS: usize = 5;
/// IdP requests in flight at once.
const IN_FLIGHT: usize = 4;
/// Attempts per IdP request (each bounded by the client timeout; waits ≤ 200 ms between).
const MAX_ATTEMPTS: usize = 600;

// ---------------------------------------------------------------------------------------------
// Child processes

/// A child process, SIGKILLed and reaped when dropped; its output goes to a log file.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut Command, log: &Path) -> Proc {
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
    async fn url_after(&mut self, marker: &str) -> String {
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
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn spawn_sim(dir: &Path, seed: u64) -> (Proc, String) {
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
struct Server {
    dir: PathBuf,
    sim_url: String,
    starts: usize,
    proc: Option<Proc>,
    /// `http://127.0.0.1:PORT/scim/v2` of the running process; empty while it is down.
    url: Arc<Mutex<String>>,
}

impl Server {
    fn db(&self) -> PathBuf {
        self.dir.join("bridge.db")
    }

    async fn start(&mut self) {
        self.starts += 1;
        let log = self.dir.join(format!("bridge-{}.log", self.starts));
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--token", TOKEN])
            .arg("--store")
            .arg(format!("sqlite://{}", self.db().display()))
            .args(["--tableau-url", &self.sim_url, "--tableau-site", "acme"])
            .args(["--tableau-pat", "bridge:bridge-secret"])
            // A short deadline and quick resumption; the Tableau section is given in full by
            // the environment too, since a partial `[tableau]` from the environment is refused.
            .env("TABLEAU_SCIM_JOURNAL__DEADLINE_SECS", "3")
            .env("TABLEAU_SCIM_JOURNAL__RESUME_AFTER_SECS", "1")
            .env("TABLEAU_SCIM_JOURNAL__WORKER_INTERVAL_SECS", "1")
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
    fn logs(&self) -> String {
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

    fn kill(&mut self) {
        self.url.lock().unwrap().clear();
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The IdP and its script

#[derive(Clone, Debug)]
enum Req {
    CreateUser(usize),
    CreateGroup(usize),
    AddMembers(usize, Vec<usize>),
    RemoveMembers(usize, Vec<usize>),
    SetActive(usize, bool),
    DeleteUser(usize),
    DeleteGroup(usize),
}

/// The intended end state, and the requests that lead there, in phases (a phase starts once
/// the previous one got all its answers, as an IdP's sync would).
struct Script {
    initial: Vec<Vec<usize>>,
    added: Vec<Vec<usize>>,
    removed: Vec<Vec<usize>>,
    deactivated: BTreeSet<usize>,
    reactivated: BTreeSet<usize>,
    deleted: BTreeSet<usize>,
    deleted_groups: BTreeSet<usize>,
}

impl Script {
    fn new() -> Script {
        let mut rng = fastrand::Rng::with_seed(0xc4a5_4ed1);
        let mut initial = Vec::new();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for _ in 0..GROUPS {
            let mut all: Vec<usize> = (0..USERS).collect();
            rng.shuffle(&mut all);
            initial.push(all[..8].to_vec());
            added.push(all[8..11].to_vec());
            removed.push(all[..2].to_vec());
        }
        let reactivated: BTreeSet<usize> = [7, 19].into();
        // Deleted: three members of group 0 that stay members until then (and are not
        // reactivated at the same time).
        let deleted: BTreeSet<usize> = initial[0][2..]
            .iter()
            .copied()
            .filter(|u| !reactivated.contains(u))
            .take(3)
            .collect();
        assert_eq!(deleted.len(), 3);
        Script {
            initial,
            added,
            removed,
            deactivated: [3, 7, 11, 19, 23].into(),
            reactivated,
            deleted,
            deleted_groups: [4].into(),
        }
    }

    fn phases(&self) -> Vec<Vec<Req>> {
        let mut membership = Vec::new();
        for g in 0..GROUPS {
            membership.push(Req::AddMembers(g, self.added[g].clone()));
            membership.push(Req::RemoveMembers(g, self.removed[g].clone()));
        }
        membership.extend(self.deactivated.iter().map(|&u| Req::SetActive(u, false)));
        let mut last: Vec<Req> = self.deleted.iter().map(|&u| Req::DeleteUser(u)).collect();
        last.extend(self.reactivated.iter().map(|&u| Req::SetActive(u, true)));
        last.extend(self.deleted_groups.iter().map(|&g| Req::DeleteGroup(g)));
        vec![
            (0..USERS).map(Req::CreateUser).collect(),
            (0..GROUPS).map(Req::CreateGroup).collect(),
            membership,
            last,
        ]
    }

    fn requests(&self) -> usize {
        self.phases().iter().map(Vec::len).sum()
    }

    fn final_members(&self, g: usize) -> BTreeSet<usize> {
        let mut m: BTreeSet<usize> = self.initial[g].iter().copied().collect();
        for r in &self.removed[g] {
            m.remove(r);
        }
        m.extend(&self.added[g]);
        m.retain(|u| !self.deleted.contains(u));
        m
    }

    fn final_role(&self, u: usize) -> &'static str {
        if self.deactivated.contains(&u) && !self.reactivated.contains(&u) {
            "Unlicensed"
        } else {
            ROLES[u % ROLES.len()]
        }
    }
}

fn user_name(u: usize) -> String {
    format!("crash{u:02}@example.com")
}

fn group_name(g: usize) -> String {
    format!("Crew {g}")
}

struct Idp {
    client: reqwest::Client,
    url: Arc<Mutex<String>>,
    /// Script requests started (first attempts), for the kill points.
    started: AtomicUsize,
    resent: AtomicUsize,
    user_ids: Mutex<HashMap<usize, String>>,
    group_ids: Mutex<HashMap<usize, String>>,
}

struct Answer {
    status: u16,
    body: Value,
    retried: bool,
}

impl Idp {
    /// Sends until a final answer: lost connections (the server died), 429 and 5xx are
    /// retried with the same request, after `Retry-After` capped at 200 ms.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut retried = false;
        for _ in 0..MAX_ATTEMPTS {
            let base = self.url.lock().unwrap().clone();
            let wait = if base.is_empty() {
                Duration::from_millis(50)
            } else {
                let mut req = self
                    .client
                    .request(method.clone(), format!("{base}{path}"))
                    .bearer_auth(TOKEN)
                    .timeout(Duration::from_secs(20));
                if let Some(b) = body {
                    req = req.header("Content-Type", SCIM).body(b.to_string());
                }
                match req.send().await {
                    Err(_) => Duration::from_millis(50),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let after = resp
                            .headers()
                            .get("Retry-After")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok());
                        match (status, resp.text().await) {
                            (429 | 500..=599, _) => {
                                Duration::from_millis(after.map_or(100, |s| (s * 1000).min(200)))
                            }
                            // The body was cut off: the server died while answering.
                            (_, Err(_)) => Duration::from_millis(50),
                            (_, Ok(text)) => {
                                let body = if text.is_empty() {
                                    Value::Null
                                } else {
                                    serde_json::from_str(&text).expect("JSON")
                                };
                                return Answer {
                                    status,
                                    body,
                                    retried,
                                };
                            }
                        }
                    }
                }
            };
            if !retried {
                self.resent.fetch_add(1, Ordering::Relaxed);
            }
            retried = true;
            tokio::time::sleep(wait).await;
        }
        panic!("{method} {path}: no final answer after {MAX_ATTEMPTS} attempts");
    }

    /// POST; a 409 on a re-sent request whose first attempt went through is resolved by a
    /// lookup, as IdPs do.
    async fn create(&self, endpoint: &str, attr: &str, name: &str, body: Value) -> String {
        let a = self
            .send(reqwest::Method::POST, endpoint, Some(&body))
            .await;
        match a.status {
            201 => a.body["id"].as_str().expect("id").to_string(),
            409 if a.retried => {
                let filter = format!("{attr} eq \"{name}\"")
                    .replace(' ', "%20")
                    .replace('"', "%22");
                let found = self
                    .send(
                        reqwest::Method::GET,
                        &format!("{endpoint}?filter={filter}"),
                        None,
                    )
                    .await;
                assert_eq!(found.status, 200, "{}", found.body);
                assert_eq!(found.body["totalResults"], 1, "{}", found.body);
                found.body["Resources"][0]["id"]
                    .as_str()
                    .expect("id")
                    .to_string()
            }
            s => panic!("POST {endpoint} {name}: {s} {}", a.body),
        }
    }

    fn user(&self, u: usize) -> String {
        self.user_ids.lock().unwrap()[&u].clone()
    }

    fn members(&self, users: &[usize]) -> Value {
        Value::Array(
            users
                .iter()
                .map(|&u| json!({"value": self.user(u), "display": user_name(u)}))
                .collect(),
        )
    }

    async fn patch(&self, path: &str, operations: Value) {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        let a = self.send(reqwest::Method::PATCH, path, Some(&body)).await;
        assert!(
            a.status == 200 || a.status == 204,
            "PATCH {path}: {} {}",
            a.status,
            a.body
        );
    }

    async fn delete(&self, path: &str) {
        let a = self.send(reqwest::Method::DELETE, path, None).await;
        // 404 on a re-sent DELETE whose first attempt went through is success.
        assert!(
            a.status == 204 || (a.status == 404 && a.retried),
            "DELETE {path}: {} {}",
            a.status,
            a.body
        );
    }

    async fn run(&self, script: &Script, req: Req) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let adding = matches!(req, Req::AddMembers(..));
        match req {
            Req::CreateUser(u) => {
                let name = user_name(u);
                let body = json!({"schemas": [USER], "userName": name,
                    "name": {"givenName": "Crash", "familyName": format!("Test {u}")},
                    "emails": [{"value": name, "type": "work", "primary": true}], "active": true,
                    TABLEAU_EXT: {"siteRoles": [{"value": ROLES[u % ROLES.len()]}]}});
                let id = self.create("/Users", "userName", &name, body).await;
                self.user_ids.lock().unwrap().insert(u, id);
            }
            Req::CreateGroup(g) => {
                let name = group_name(g);
                let body = json!({"schemas": [GROUP], "displayName": name,
                    "members": self.members(&script.initial[g])});
                let id = self.create("/Groups", "displayName", &name, body).await;
                self.group_ids.lock().unwrap().insert(g, id);
            }
            Req::AddMembers(g, users) | Req::RemoveMembers(g, users) => {
                let op = if adding { "add" } else { "remove" };
                let gid = self.group_ids.lock().unwrap()[&g].clone();
                let value = self.members(&users);
                self.patch(
                    &format!("/Groups/{gid}"),
                    json!([{"op": op, "path": "members", "value": value}]),
                )
                .await;
            }
            Req::SetActive(u, active) => {
                self.patch(
                    &format!("/Users/{}", self.user(u)),
                    json!([{"op": "replace", "path": "active", "value": active}]),
                )
                .await;
            }
            Req::DeleteUser(u) => self.delete(&format!("/Users/{}", self.user(u))).await,
            Req::DeleteGroup(g) => {
                let gid = self.group_ids.lock().unwrap()[&g].clone();
                self.delete(&format!("/Groups/{gid}")).await
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One run: a push with kills at the given request counts

/// A run's directory; kept when the run fails and `TABLEAU_SCIM_TEST_KEEP_CRASH_DIR` is set.
struct KeptOnFailure(Option<tempfile::TempDir>);

impl KeptOnFailure {
    fn path(&self) -> &Path {
        self.0.as_ref().expect("directory").path()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking()
            && std::env::var_os("TABLEAU_SCIM_TEST_KEEP_CRASH_DIR").is_some()
            && let Some(dir) = self.0.take()
        {
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// One number from the journal, read with a read-only connection of our own.
async fn journal_count(db: &Path, sql: &'static str) -> i64 {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
            .expect("sqlite url")
            .read_only(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .expect("journal opens");
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&mut conn)
        .await
        .expect("journal query")
}

/// Failed operations: method, path, error body, and the steps they carried out (if any).
async fn journal_failures(db: &Path) -> Vec<(String, String, Option<String>, Option<String>)> {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
            .expect("sqlite url")
            .read_only(true);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .expect("journal opens");
    sqlx::query_as(
        "SELECT o.method, o.path, o.error_body, \
         (SELECT group_concat(s.kind || ' ' || coalesce(s.error, ''), ' | ') \
          FROM operation_steps s WHERE s.operation_id = o.id AND s.state != 'pending') \
         FROM operations o WHERE o.state = 'failed'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("journal query")
}

const RUNNING: &str = "SELECT count(*) FROM operations WHERE state = 'running'";

async fn push_with_kills(kill_points: &[usize], seed: u64) {
    tableau_scim::init_crypto();
    let kept = KeptOnFailure(Some(tempfile::tempdir().expect("temp dir")));
    let dir = kept.path();
    let (sim, sim_url) = spawn_sim(dir, seed).await;
    let url = Arc::new(Mutex::new(String::new()));
    let mut server = Server {
        dir: dir.to_path_buf(),
        sim_url: sim_url.clone(),
        starts: 0,
        proc: None,
        url: url.clone(),
    };
    server.start().await;
    let idp = Arc::new(Idp {
        client: reqwest::Client::new(),
        url,
        started: AtomicUsize::new(0),
        resent: AtomicUsize::new(0),
        user_ids: Mutex::new(HashMap::new()),
        group_ids: Mutex::new(HashMap::new()),
    });
    let script = Arc::new(Script::new());
    assert!(kill_points.iter().all(|&k| k < script.requests()));

    // The killer: once the k-th request has started, wait a seeded 0–40 ms (so that the kill
    // lands while Tableau calls are in flight), SIGKILL, count the operations the dead process
    // left unfinished, restart on the same database after a seeded 0–300 ms.
    let orphaned = Arc::new(AtomicUsize::new(0));
    let killer = {
        let idp = idp.clone();
        let orphaned = orphaned.clone();
        let points = kill_points.to_vec();
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            for k in points {
                for _ in 0..30_000 {
                    if idp.started.load(Ordering::SeqCst) >= k {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                tokio::time::sleep(Duration::from_millis(rng.u64(0..=40))).await;
                server.kill();
                let left = journal_count(&server.db(), RUNNING).await;
                orphaned.fetch_add(left as usize, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(rng.u64(0..=300))).await;
                server.start().await;
            }
            server
        })
    };

    for phase in script.phases() {
        let limit = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut set = JoinSet::new();
        for req in phase {
            let (idp, script, limit) = (idp.clone(), script.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                idp.run(&script, req).await;
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("IdP request");
        }
    }
    let server = tokio::time::timeout(Duration::from_secs(60), killer)
        .await
        .expect("every kill point was reached")
        .expect("killer task");
    assert_eq!(server.starts, kill_points.len() + 1);

    // The journal: nothing left running (the worker gets a bounded moment for operations no
    // request waits on any more), nothing failed.
    let db = server.db();
    let mut running = -1;
    for _ in 0..300 {
        running = journal_count(&db, RUNNING).await;
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(running, 0, "unfinished operations in the journal");
    // A failed operation is acceptable only as a lost race that touched nothing: a request
    // computed its change before a resumed operation committed, and was refused before any
    // Tableau call (412: the HTTP layer read again; 409: the IdP's own earlier attempt had
    // created the resource).
    let failed = journal_failures(&db).await;
    let harmful: Vec<_> = failed
        .iter()
        .filter(|f| {
            let status = f.2.as_deref().unwrap_or_default();
            !(status.contains("\"412\"") || status.contains("\"409\"")) || f.3.is_some()
        })
        .collect();
    assert!(
        harmful.is_empty(),
        "failed operations that did something: {harmful:#?}\n{}",
        server.logs()
    );
    let ops = journal_count(&db, "SELECT count(*) FROM operations").await;
    let resumed = journal_count(&db, "SELECT count(*) FROM operations WHERE attempts > 1").await;
    // Steps whose Tableau call had gone through before the kill, found again on resumption.
    let linked = journal_count(
        &db,
        "SELECT count(*) FROM operation_steps WHERE error LIKE '%linked the existing%'",
    )
    .await;

    // Tableau: exactly the intended users (once each, with their roles) and memberships.
    let state: Value = reqwest::get(format!("{sim_url}/_sim/state"))
        .await
        .expect("sim state")
        .json()
        .await
        .expect("sim state JSON");
    let users: Vec<&Value> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["name"].as_str().unwrap().ends_with("@example.com"))
        .collect();
    let mut by_name: BTreeMap<String, &Value> = BTreeMap::new();
    for u in &users {
        let name = u["name"].as_str().unwrap().to_lowercase();
        assert!(
            by_name.insert(name.clone(), u).is_none(),
            "duplicate {name}"
        );
    }
    let wanted: BTreeSet<String> = (0..USERS)
        .filter(|u| !script.deleted.contains(u))
        .map(user_name)
        .collect();
    assert_eq!(
        by_name.keys().cloned().collect::<BTreeSet<_>>(),
        wanted,
        "the Tableau users"
    );
    let mut luid_user = HashMap::new();
    for u in (0..USERS).filter(|u| !script.deleted.contains(u)) {
        let t = by_name[&user_name(u)];
        assert_eq!(
            t["siteRole"],
            script.final_role(u),
            "site role of {}",
            user_name(u)
        );
        luid_user.insert(t["id"].as_str().unwrap().to_string(), u);
    }
    let groups: Vec<&Value> = state["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["builtIn"] != true)
        .collect();
    let live: Vec<usize> = (0..GROUPS)
        .filter(|g| !script.deleted_groups.contains(g))
        .collect();
    assert_eq!(groups.len(), live.len(), "the Tableau groups: {groups:?}");
    for &g in &live {
        let tg = groups
            .iter()
            .find(|t| t["name"] == group_name(g).as_str())
            .unwrap_or_else(|| panic!("{} in Tableau", group_name(g)));
        let ids = tg["memberIds"].as_array().expect("memberIds");
        let members: BTreeSet<usize> = ids.iter().map(|l| luid_user[l.as_str().unwrap()]).collect();
        assert_eq!(members.len(), ids.len());
        assert_eq!(
            members,
            script.final_members(g),
            "members of {}",
            group_name(g)
        );
    }

    // The SCIM side agrees: one resource per user, memberships as intended.
    let all = idp
        .send(reqwest::Method::GET, "/Users?count=1000", None)
        .await;
    assert_eq!(all.body["totalResults"], wanted.len(), "SCIM users");
    for &g in &live {
        let gid = idp.group_ids.lock().unwrap()[&g].clone();
        let a = idp
            .send(reqwest::Method::GET, &format!("/Groups/{gid}"), None)
            .await;
        let scim: BTreeSet<String> = a.body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x["value"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let want: BTreeSet<String> = script
            .final_members(g)
            .iter()
            .map(|&u| idp.user(u))
            .collect();
        assert_eq!(scim, want, "SCIM members of {}", group_name(g));
    }
    for &g in &script.deleted_groups {
        let gid = idp.group_ids.lock().unwrap()[&g].clone();
        let a = idp
            .send(reqwest::Method::GET, &format!("/Groups/{gid}"), None)
            .await;
        assert_eq!(a.status, 404, "deleted {}", group_name(g));
    }
    eprintln!(
        "kill points {kill_points:?}: {} requests, {} re-sent; {} operations orphaned by the kills; \
         journal: {ops} operations, {resumed} resumed, {linked} steps found done in Tableau, \
         {} refused as stale",
        script.requests(),
        idp.resent.load(Ordering::Relaxed),
        orphaned.load(Ordering::Relaxed),
        failed.len(),
    );
    drop(server);
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_push_the_bridge_converges_after_restart() {
    // Kill points: early (users), mid-users, during group creation, during membership
    // changes, during deletions; and one run killed three times.
    let runs: [&[usize]; 6] = [&[3], &[17], &[32], &[42], &[52], &[9, 28, 47]];
    for (i, points) in runs.iter().enumerate() {
        push_with_kills(points, 0x0c4a_5100 + i as u64).await;
    }
}
