//! Model-based randomized test: seeded random sequences of Okta- and Entra-shaped SCIM
//! requests (valid, invalid, duplicated, concurrent, with the hostile values the fuzz campaign
//! of the hardening issue used) against the bridge binary and the simulator binary, with random
//! Tableau faults (429, 5xx, dropped connections, latency) and a SIGKILL of the bridge now and
//! then. At each quiescent point (faults cleared, the journal has nothing running), Tableau,
//! read through its REST API, must equal the projection of the store read through SCIM:
//!
//! - every SCIM user is one Tableau user of that name, with the site role the rules give;
//! - every SCIM group is one Tableau group of that name whose members are the group's users;
//! - Tableau has no user and no group the store does not know of (but those it had before);
//! - no Tableau user belongs to two SCIM users;
//! - and no response was a 5xx other than the documented 503.
//!
//! Runs on SQLite and, with `TABLEAU_SCIM_TEST_POSTGRES`, on a fresh PostgreSQL database.
//! `TABLEAU_SCIM_TEST_MODEL_SEED=N` runs one seed; `TABLEAU_SCIM_TEST_MODEL_RUNS=K` adds K fresh random
//! seeds to the kept ones (a failing seed is printed; add it to `REGRESSION_SEEDS`).

use crate::procs::{Proc, Server};
use crate::support::{drop_database, fresh_database};
use crate::{KeptOnFailure, TOKEN};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");
const SCIM: &str = "application/scim+json";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const TABLEAU_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
const API: &str = "/api/3.27";

/// Seeds that found a divergence once (what each found, on the code of the day), and a few
/// plain ones; each runs on every test run.
const REGRESSION_SEEDS: &[u64] = &[
    // A refused create left its Tableau user behind (finding 1 of the hardening issue).
    0x5eed_0001,
    // A group created with a member deleted meanwhile: the Tableau group stayed, the commit
    // was refused.
    0x5eed_0002,
    0x5eed_0003,
    // Two creates of one name (another case), both left running by a kill: the second linked
    // the first one's Tableau user, changed its role, then failed its commit.
    0x69,
    // Orphan Tableau groups after refused group creates.
    0x67,
    0x77,
    0x79,
];
/// Requests per run, in phases of this many requests between quiescent checks.
const REQUESTS: usize = 90;
const PHASE: usize = 30;
/// The group whose members the config makes Creators.
const CREATORS: &str = "Creators";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tableau_equals_the_projection_of_the_store_under_random_traffic() {
    tableau_scim::init_crypto();
    let seeds: Vec<u64> = match std::env::var("TABLEAU_SCIM_TEST_MODEL_SEED") {
        Ok(s) => vec![parse_seed(&s)],
        Err(_) => {
            let extra: usize = std::env::var("TABLEAU_SCIM_TEST_MODEL_RUNS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut seeds = REGRESSION_SEEDS.to_vec();
            seeds.extend((0..extra).map(|_| fastrand::u64(..)));
            seeds
        }
    };
    let postgres = std::env::var("TABLEAU_SCIM_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    for seed in seeds {
        run(seed, None).await;
        match &postgres {
            Some(base) => {
                let (url, name) = fresh_database(base).await;
                let outcome = tokio::spawn(run(seed, Some(url))).await;
                drop_database(base, &name).await;
                if let Err(e) = outcome {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
            None => eprintln!("model: PostgreSQL part skipped (TABLEAU_SCIM_TEST_POSTGRES unset)"),
        }
    }
}

fn parse_seed(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).expect("a hex seed"),
        None => s.parse().expect("a decimal or 0x… seed"),
    }
}

/// One seeded run on one store.
async fn run(seed: u64, store: Option<String>) {
    let backend = if store.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let started = Instant::now();
    let kept = KeptOnFailure(Some(tempfile::tempdir().expect("temp dir")));
    let dir = kept.path();
    let (sim, sim_url) = spawn_sim(dir, seed).await;
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        format!("[[provision.group_roles]]\ngroup = \"{CREATORS}\"\nsite_role = \"Creator\"\n"),
    )
    .expect("config written");
    let mut server = Server::new(dir, &sim_url, store, Some(config));
    let url = server.url.clone();
    server.start().await;
    let tableau = Tableau::new(&sim_url);
    let before = tableau.read().await;
    let mut world = World {
        rng: fastrand::Rng::with_seed(seed),
        client: reqwest::Client::new(),
        url,
        users: Vec::new(),
        groups: Vec::new(),
        last: None,
        statuses: BTreeMap::new(),
    };
    let context = |server: &Server| {
        format!(
            "seed {seed:#x} on {backend} (rerun: TABLEAU_SCIM_TEST_MODEL_SEED={seed:#x}; keep the \
             logs with TABLEAU_SCIM_TEST_KEEP_CRASH_DIR=1)\n{}",
            tail(&server.logs(), 60)
        )
    };
    let mut sent = 0;
    while sent < REQUESTS {
        set_random_faults(&world.client, &sim_url, &mut world.rng).await;
        let mut in_phase = 0;
        while in_phase < PHASE {
            let batch = 1 + world.rng.usize(..4);
            let kill = world.rng.u8(..100) < 6;
            let requests: Vec<Request> = (0..batch).map(|_| world.next_request()).collect();
            let pause = Duration::from_millis(world.rng.u64(..80));
            let sends = requests.iter().map(|r| world.send(r));
            if kill {
                let (answers, ()) = tokio::join!(futures_util::future::join_all(sends), async {
                    tokio::time::sleep(pause).await;
                    server.kill();
                    server.start().await;
                });
                world.learn(&requests, answers);
            } else {
                let answers = futures_util::future::join_all(sends).await;
                world.learn(&requests, answers);
            }
            in_phase += batch;
        }
        sent += in_phase;
        if let Err(why) = quiesce_and_compare(&world, &server, &tableau, &before).await {
            panic!("after {sent} requests: {why}\n{}", context(&server));
        }
    }
    let bad: Vec<_> = world
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500 && **s != 503)
        .collect();
    assert!(
        bad.is_empty(),
        "5xx other than 503: {bad:?}\n{}",
        context(&server)
    );
    eprintln!(
        "model: seed {seed:#x} on {backend}: {sent} requests, {} starts, statuses {:?}, {:.1} s",
        server.starts,
        world.statuses,
        started.elapsed().as_secs_f64()
    );
    drop(server);
    drop(sim);
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

async fn spawn_sim(dir: &Path, seed: u64) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["sim", "--listen", "127.0.0.1:0", "--site", "acme"])
        .args([
            "--pat",
            "bridge:bridge-secret",
            "--pat",
            "checker:checker-secret",
        ])
        .args(["--seed", &seed.to_string()])
        .env("NO_COLOR", "1");
    let mut sim = Proc::spawn(&mut cmd, &dir.join("sim.log"));
    let url = sim
        .url_after("Tableau REST API simulator listening on")
        .await;
    (sim, url)
}

/// Replaces the simulator's fault rules with a random mix (sometimes none).
async fn set_random_faults(client: &reqwest::Client, sim: &str, rng: &mut fastrand::Rng) {
    const RULES: [&str; 6] = [
        "/api/**=429:0.15",
        "/api/**=503:0.1",
        "POST:/api/**=500:0.1",
        "/api/**=drop:0.05",
        "/api/**=latency:40ms:0.3",
        "PUT:/api/**=429:0.2:retry-after=1",
    ];
    let specs: Vec<&str> = RULES.iter().copied().filter(|_| rng.bool()).collect();
    let resp = client
        .put(format!("{sim}/_sim/faults"))
        .json(&json!({ "specs": specs }))
        .send()
        .await
        .expect("simulator control API");
    assert!(resp.status().is_success(), "fault rules refused: {specs:?}");
}

async fn clear_faults(client: &reqwest::Client, sim: &str) {
    client
        .delete(format!("{sim}/_sim/faults"))
        .send()
        .await
        .expect("simulator control API");
}

/// One request the IdP sends; `key` is an `Idempotency-Key`.
#[derive(Debug, Clone)]
struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
    key: Option<String>,
}

/// What the IdP knows: the ids it was given, and what it saw.
struct World {
    rng: fastrand::Rng,
    client: reqwest::Client,
    url: Arc<Mutex<String>>,
    users: Vec<String>,
    groups: Vec<String>,
    last: Option<Request>,
    statuses: BTreeMap<u16, usize>,
}

/// The user names requests draw from: few, so that requests collide on them.
fn user_name(rng: &mut fastrand::Rng) -> String {
    let n = rng.u8(..8);
    match rng.u8(..20) {
        // The same person, another case: one user to SCIM and to Tableau.
        0 => format!("U{n}@Example.COM"),
        // Hostile values from the fuzz campaign.
        1 => format!("\tu{n}@example.com"),
        2 => format!("u{n}@example.com\u{0}"),
        3 => format!("u{n}\u{202e}@example.com"),
        4 => format!(" u{n}@example.com"),
        5 => format!("u{n}\r\n@example.com"),
        6 => format!("{}@example.com", "x".repeat(300 + rng.usize(..2000))),
        _ => format!("u{n}@example.com"),
    }
}

fn group_name(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..12) {
        0 => "All Users".into(),
        1 => "all users".into(),
        2 | 3 => CREATORS.into(),
        4 => "\tg0".into(),
        _ => format!("g{}", rng.u8(..4)),
    }
}

fn email(rng: &mut fastrand::Rng, name: &str) -> Value {
    let value = match rng.u8(..8) {
        0 => "not-an-email".to_string(),
        1 => "a@@b".to_string(),
        _ => name.trim().to_string(),
    };
    json!([{"value": value, "type": "work", "primary": true}])
}

fn pick(rng: &mut fastrand::Rng, ids: &[String]) -> Option<String> {
    if ids.is_empty() {
        None
    } else {
        Some(ids[rng.usize(..ids.len())].clone())
    }
}

impl World {
    fn user_id(&mut self) -> String {
        pick(&mut self.rng, &self.users).unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    fn group_id(&mut self) -> String {
        pick(&mut self.rng, &self.groups).unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    /// A member reference: mostly a known user, sometimes with the wrong `type`, a group, or
    /// an id nobody has.
    fn member(&mut self) -> Value {
        match self.rng.u8(..10) {
            0 => json!({"value": self.user_id(), "type": "Group"}),
            1 => json!({"value": self.group_id()}),
            2 => json!({"value": uuid::Uuid::new_v4().to_string()}),
            3 => json!({"value": self.user_id(), "type": "User"}),
            _ => json!({"value": self.user_id()}),
        }
    }

    fn members(&mut self) -> Vec<Value> {
        let n = self.rng.usize(..4);
        (0..n).map(|_| self.member()).collect()
    }

    fn user_body(&mut self) -> Value {
        let name = user_name(&mut self.rng);
        let mut body = json!({
            "schemas": [USER],
            "userName": name,
            "name": {"givenName": "Model", "familyName": "Test"},
            "emails": email(&mut self.rng, &name),
            "active": self.rng.u8(..5) != 0,
        });
        match self.rng.u8(..10) {
            // Okta sends a password on create.
            0 | 1 => body["password"] = json!("Secret-Passw0rd!"),
            2 => body["password"] = json!({"nested": {"deep": 1}}),
            3 => body[TABLEAU_EXT] = json!({"siteRoles": [{"value": "Explorer"}]}),
            // Entra's app roles.
            4 => body["roles"] = json!([{"value": "Creator", "primary": true}]),
            5 => body["externalId"] = json!(uuid::Uuid::new_v4().to_string()),
            _ => {}
        }
        body
    }

    fn patch(&self, ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    fn next_request(&mut self) -> Request {
        let key = (self.rng.u8(..6) == 0).then(|| format!("key-{}", self.rng.u32(..)));
        let (method, path, body) = match self.rng.u8(..100) {
            0..=21 => (Method::POST, "/Users".to_string(), Some(self.user_body())),
            22..=29 => {
                let id = self.user_id();
                (Method::PUT, format!("/Users/{id}"), Some(self.user_body()))
            }
            30..=37 => {
                // Okta: deactivate / reactivate.
                let id = self.user_id();
                let active = self.rng.bool();
                let ops = json!([{"op": "replace", "value": {"active": active}}]);
                (Method::PATCH, format!("/Users/{id}"), Some(self.patch(ops)))
            }
            38..=43 => {
                // Entra: capitalised ops, a path per attribute.
                let id = self.user_id();
                let name = format!("u{}@example.com", self.rng.u8(..8));
                let ops = json!([
                    {"op": "Replace", "path": "emails[type eq \"work\"].value",
                     "value": email(&mut self.rng, &name)[0]["value"]},
                    {"op": "Replace", "path": "active", "value": self.rng.bool().to_string()},
                ]);
                (Method::PATCH, format!("/Users/{id}"), Some(self.patch(ops)))
            }
            44..=47 => {
                let id = self.user_id();
                let role = ["Viewer", "Explorer", "Creator", "NotARole"][self.rng.usize(..4)];
                let ops = json!([{"op": "replace", "path": TABLEAU_EXT,
                                  "value": {"siteRoles": [{"value": role}]}}]);
                (Method::PATCH, format!("/Users/{id}"), Some(self.patch(ops)))
            }
            48..=55 => (Method::DELETE, format!("/Users/{}", self.user_id()), None),
            56..=67 => {
                let body = json!({"schemas": [GROUP], "displayName": group_name(&mut self.rng),
                                  "members": self.members()});
                (Method::POST, "/Groups".to_string(), Some(body))
            }
            68..=79 => {
                let id = self.group_id();
                let op = if self.rng.bool() { "Add" } else { "remove" };
                let ops = json!([{"op": op, "path": "members", "value": self.members()}]);
                (
                    Method::PATCH,
                    format!("/Groups/{id}"),
                    Some(self.patch(ops)),
                )
            }
            80..=83 => {
                let id = self.group_id();
                let ops = json!([{"op": "replace", "path": "displayName",
                                  "value": group_name(&mut self.rng)}]);
                (
                    Method::PATCH,
                    format!("/Groups/{id}"),
                    Some(self.patch(ops)),
                )
            }
            84..=86 => {
                let id = self.group_id();
                let body = json!({"schemas": [GROUP], "displayName": group_name(&mut self.rng),
                                  "members": self.members()});
                (Method::PUT, format!("/Groups/{id}"), Some(body))
            }
            87..=91 => (Method::DELETE, format!("/Groups/{}", self.group_id()), None),
            92..=95 => {
                // The IdP re-sends its last request (a lost answer).
                if let Some(last) = self.last.clone() {
                    return last;
                }
                (Method::GET, "/Users?count=5".to_string(), None)
            }
            _ => {
                // The same key on another request (finding 6 of the hardening issue).
                if let Some(last) = self.last.clone().filter(|l| l.key.is_some()) {
                    let id = self.user_id();
                    return Request {
                        method: Method::DELETE,
                        path: format!("/Users/{id}"),
                        body: None,
                        key: last.key,
                    };
                }
                (Method::GET, "/Groups?count=5".to_string(), None)
            }
        };
        let request = Request {
            method,
            path,
            body,
            key,
        };
        self.last = Some(request.clone());
        request
    }

    /// Sends until a final answer: a connection lost to a kill is re-sent, as is a 429 or
    /// 503 a few times (IdPs retry them); `None` when the server never answered.
    async fn send(&self, r: &Request) -> Option<(u16, Value)> {
        let mut unavailable = 0;
        for _ in 0..200 {
            let base = self.url.lock().expect("url lock").clone();
            if base.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let mut req = self
                .client
                .request(r.method.clone(), format!("{base}{}", r.path))
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(30));
            if let Some(body) = &r.body {
                req = req.header("Content-Type", SCIM).body(body.to_string());
            }
            if let Some(key) = &r.key {
                req = req.header("Idempotency-Key", key);
            }
            let Ok(resp) = req.send().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let status = resp.status().as_u16();
            let Ok(text) = resp.text().await else {
                continue;
            };
            if matches!(status, 429 | 503) && unavailable < 3 {
                unavailable += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Some((status, body));
        }
        None
    }

    /// Records what the answers taught: new ids, ids that are gone, the statuses.
    fn learn(&mut self, requests: &[Request], answers: Vec<Option<(u16, Value)>>) {
        for (r, answer) in requests.iter().zip(answers) {
            let Some((status, body)) = answer else {
                continue;
            };
            *self.statuses.entry(status).or_default() += 1;
            let collection = if r.path.starts_with("/Users") {
                &mut self.users
            } else {
                &mut self.groups
            };
            match (r.method.as_str(), status) {
                ("POST", 201) => {
                    if let Some(id) = body["id"].as_str()
                        && !collection.iter().any(|k| k == id)
                    {
                        collection.push(id.to_string());
                    }
                }
                ("DELETE", 204 | 404) => {
                    let id = r.path.rsplit('/').next().unwrap_or_default();
                    collection.retain(|k| k != id);
                }
                _ => {}
            }
        }
    }
}

/// Clears the faults, waits (bounded) until the journal has nothing running, then compares
/// Tableau with the store's projection; a difference is re-read for a while before it counts.
async fn quiesce_and_compare(
    world: &World,
    server: &Server,
    tableau: &Tableau,
    before: &TableauState,
) -> Result<(), String> {
    clear_faults(&world.client, &tableau.url).await;
    let store = tableau_scim::store::connect(&server.store_url())
        .await
        .map_err(|e| format!("store: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    // A difference is re-read a few times once nothing runs: the last commit of an operation
    // and the journal's state may be a moment apart.
    let mut differences = 0;
    while Instant::now() < deadline && differences < 8 {
        let running = store
            .list_operations(tableau_scim::store::DEFAULT_TENANT, None, 100_000)
            .await
            .map_err(|e| format!("journal: {e}"))?
            .into_iter()
            .filter(|op| op.state == tableau_scim::store::OperationState::Running)
            .count();
        if running > 0 {
            last = format!("{running} operations still running after 90 s");
        } else {
            let scim = read_scim(world).await?;
            let actual = tableau.read().await;
            match compare(&scim, &actual, before) {
                Ok(()) => return Ok(()),
                Err(diff) => {
                    differences += 1;
                    last = diff;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(last)
}

struct ScimUser {
    name: String,
    /// The Tableau user's LUID the store holds (the Tableau extension's `luid`).
    luid: Option<String>,
    active: bool,
    explicit_role: Option<String>,
    entra_role: Option<String>,
    groups: Vec<String>,
}

struct ScimState {
    users: BTreeMap<String, ScimUser>,
    /// Group name → the ids of its members.
    groups: BTreeMap<String, Vec<String>>,
}

async fn read_scim(world: &World) -> Result<ScimState, String> {
    let mut users = BTreeMap::new();
    for u in list_all(world, "/Users").await? {
        let roles = |v: &Value| -> Option<String> {
            v.as_array()?
                .iter()
                .filter_map(|r| r["value"].as_str())
                .filter_map(rank)
                .max()
                .map(|(_, r)| r.to_string())
        };
        let user = ScimUser {
            name: u["userName"].as_str().unwrap_or_default().to_string(),
            luid: u[TABLEAU_EXT]["luid"].as_str().map(str::to_string),
            active: u["active"].as_bool().unwrap_or(true),
            explicit_role: roles(&u[TABLEAU_EXT]["siteRoles"]),
            entra_role: roles(&u["roles"]),
            groups: u["groups"]
                .as_array()
                .map(|gs| {
                    gs.iter()
                        .filter_map(|g| g["display"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        users.insert(u["id"].as_str().unwrap_or_default().to_string(), user);
    }
    let mut groups = BTreeMap::new();
    for g in list_all(world, "/Groups").await? {
        let members = g["members"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        groups.insert(
            g["displayName"].as_str().unwrap_or_default().to_string(),
            members,
        );
    }
    Ok(ScimState { users, groups })
}

async fn list_all(world: &World, endpoint: &str) -> Result<Vec<Value>, String> {
    let mut all = Vec::new();
    loop {
        let path = format!("{endpoint}?startIndex={}&count=100", all.len() + 1);
        let request = Request {
            method: Method::GET,
            path: path.clone(),
            body: None,
            key: None,
        };
        let Some((200, page)) = world.send(&request).await else {
            return Err(format!("GET {path} failed"));
        };
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        let total = page["totalResults"].as_u64().unwrap_or(0) as usize;
        let empty = resources.is_empty();
        all.extend(resources);
        if empty || all.len() >= total {
            return Ok(all);
        }
    }
}

/// Site roles this test's requests can name, lowest first.
fn rank(role: &str) -> Option<(u8, &'static str)> {
    match role.to_ascii_lowercase().as_str() {
        "viewer" => Some((1, "Viewer")),
        "explorer" => Some((2, "Explorer")),
        "creator" => Some((3, "Creator")),
        _ => None,
    }
}

/// The site role the rules of docs/configuration.md give this user: inactive → Unlicensed;
/// else the extension's `siteRoles`, else Entra's `roles`, else the group rule, else Viewer.
fn expected_role(user: &ScimUser) -> String {
    if !user.active {
        return "Unlicensed".into();
    }
    if let Some(role) = user.explicit_role.clone().or(user.entra_role.clone()) {
        return role;
    }
    if user.groups.iter().any(|g| g.eq_ignore_ascii_case(CREATORS)) {
        return "Creator".into();
    }
    "Viewer".into()
}

fn compare(scim: &ScimState, tableau: &TableauState, before: &TableauState) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    let mut luids: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, user) in &scim.users {
        let key = user.name.to_lowercase();
        // The link: the store's LUID is the Tableau user of that name, and no other's.
        if user.luid.as_deref() != tableau.ids.get(&key).map(String::as_str) {
            problems.push(format!(
                "SCIM user {id} {:?} holds LUID {:?}, Tableau's user of that name is {:?}",
                user.name,
                user.luid,
                tableau.ids.get(&key)
            ));
        }
        if let Some(luid) = user.luid.as_deref()
            && let Some(other) = luids.insert(luid, id)
        {
            problems.push(format!("SCIM users {other} and {id} hold one LUID {luid}"));
        }
        if let Some(other) = claimed.insert(key.clone(), id.clone()) {
            problems.push(format!(
                "SCIM users {other} and {id} are one Tableau user {:?}",
                user.name
            ));
        }
        match tableau.users.get(&key) {
            None => problems.push(format!("SCIM user {id} {:?} is not in Tableau", user.name)),
            Some(role) if *role != expected_role(user) => problems.push(format!(
                "Tableau user {:?} is {role}, the store says {}",
                user.name,
                expected_role(user)
            )),
            Some(_) => {}
        }
    }
    for name in tableau.users.keys() {
        if !claimed.contains_key(name) && !before.users.contains_key(name) {
            problems.push(format!(
                "Tableau user {name:?} is unknown to the store (an orphan)"
            ));
        }
    }
    let user_names: BTreeMap<&String, String> = scim
        .users
        .iter()
        .map(|(id, u)| (id, u.name.to_lowercase()))
        .collect();
    for (name, members) in &scim.groups {
        let expected: BTreeSet<String> = members
            .iter()
            .filter_map(|m| user_names.get(m).cloned())
            .collect();
        match tableau.groups.get(&name.to_lowercase()) {
            None => problems.push(format!("SCIM group {name:?} is not in Tableau")),
            Some(actual) if *actual != expected => problems.push(format!(
                "Tableau group {name:?} has {actual:?}, the store says {expected:?}"
            )),
            Some(_) => {}
        }
    }
    let scim_groups: BTreeSet<String> = scim.groups.keys().map(|n| n.to_lowercase()).collect();
    for name in tableau.groups.keys() {
        if !scim_groups.contains(name) && !before.groups.contains_key(name) {
            problems.push(format!("Tableau group {name:?} is unknown to the store"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Users (lower-case name → site role) and groups (lower-case name → lower-case member
/// names) on the site.
struct TableauState {
    users: BTreeMap<String, String>,
    /// Lower-case user name → the user's LUID.
    ids: BTreeMap<String, String>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

/// Tableau read through its REST API (JSON), signed in with a PAT of its own.
struct Tableau {
    url: String,
    client: reqwest::Client,
}

impl Tableau {
    fn new(url: &str) -> Tableau {
        Tableau {
            url: url.to_string(),
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}{API}{path}", self.url))
            .header("X-Tableau-Auth", token)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("Tableau answers");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    /// Every item of a paged list (`users.user`, `groups.group`).
    async fn all(&self, token: &str, path: &str, outer: &str, inner: &str) -> Vec<Value> {
        let mut items = Vec::new();
        for page in 1.. {
            let sep = if path.contains('?') { '&' } else { '?' };
            let doc = self
                .get(
                    token,
                    &format!("{path}{sep}pageSize=1000&pageNumber={page}"),
                )
                .await;
            let batch = doc[outer][inner].as_array().cloned().unwrap_or_default();
            let total: usize = doc["pagination"]["totalAvailable"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let empty = batch.is_empty();
            items.extend(batch);
            if empty || items.len() >= total {
                break;
            }
        }
        items
    }

    async fn read(&self) -> TableauState {
        let signin = json!({"credentials": {
            "personalAccessTokenName": "checker",
            "personalAccessTokenSecret": "checker-secret",
            "site": {"contentUrl": "acme"}}});
        let resp: Value = self
            .client
            .post(format!("{}{API}/auth/signin", self.url))
            .header("Accept", "application/json")
            .json(&signin)
            .send()
            .await
            .expect("Tableau answers")
            .json()
            .await
            .expect("JSON");
        let token = resp["credentials"]["token"].as_str().expect("a token");
        let site = resp["credentials"]["site"]["id"].as_str().expect("a site");
        let users = self
            .all(token, &format!("/sites/{site}/users"), "users", "user")
            .await;
        let names: BTreeMap<String, String> = users
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap_or_default().to_string(),
                    u["name"].as_str().unwrap_or_default().to_lowercase(),
                )
            })
            .collect();
        let ids = names
            .iter()
            .map(|(id, name)| (name.clone(), id.clone()))
            .collect();
        let users = users
            .iter()
            .map(|u| {
                (
                    u["name"].as_str().unwrap_or_default().to_lowercase(),
                    u["siteRole"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let mut groups = BTreeMap::new();
        for g in self
            .all(token, &format!("/sites/{site}/groups"), "groups", "group")
            .await
        {
            let name = g["name"].as_str().unwrap_or_default();
            if name == "All Users" {
                continue;
            }
            let gid = g["id"].as_str().unwrap_or_default();
            let members = self
                .all(
                    token,
                    &format!("/sites/{site}/groups/{gid}/users"),
                    "users",
                    "user",
                )
                .await
                .iter()
                .filter_map(|u| names.get(u["id"].as_str().unwrap_or_default()).cloned())
                .collect();
            groups.insert(name.to_lowercase(), members);
        }
        TableauState { users, ids, groups }
    }
}
