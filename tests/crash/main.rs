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
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod fuzz;
mod idp;
mod model;
mod procs;
mod reconcile;
mod rename;
#[path = "../support/mod.rs"]
mod support;

use idp::{Idp, Script, group_name, user_name};
use procs::{Server, spawn_sim};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const TOKEN: &str = "crash-test-token-0123456789";
const USERS: usize = 30;
const GROUPS: usize = 5;
/// IdP requests in flight at once.
const IN_FLIGHT: usize = 4;

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

/// A read-only connection of our own to the journal.
fn journal(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("journal opens")
}

/// One number from the journal.
async fn journal_count(db: &Path, sql: &'static str) -> i64 {
    journal(db)
        .query_row(sql, [], |r| r.get(0))
        .expect("journal query")
}

/// Failed operations: method, path, error body, and the steps they carried out (if any).
async fn journal_failures(db: &Path) -> Vec<(String, String, Option<String>, Option<String>)> {
    let db = journal(db);
    let mut stmt = db
        .prepare(
            "SELECT o.method, o.path, o.error_body, \
             (SELECT group_concat(s.kind || ' ' || coalesce(s.error, ''), ' | ') \
              FROM operation_steps s WHERE s.operation_id = o.id AND s.state != 'pending') \
             FROM operations o WHERE o.state = 'failed'",
        )
        .expect("journal query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("journal query")
        .collect::<Result<_, _>>()
        .expect("journal rows")
}

const RUNNING: &str = "SELECT count(*) FROM operations WHERE state = 'running'";

async fn push_with_kills(kill_points: &[usize], seed: u64) {
    tableau_scim::init_crypto();
    let kept = KeptOnFailure(Some(tempfile::tempdir().expect("temp dir")));
    let dir = kept.path();
    let (sim, sim_url) = spawn_sim(dir, seed).await;
    let mut server = Server::new(dir, &sim_url, None, None);
    let url = server.url.clone();
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
