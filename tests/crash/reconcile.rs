//! `tableau-scim reconcile` as an operator runs it, against the simulator child process: the
//! exit codes and the JSON report, and a SIGKILL in the middle of `--apply` — the next
//! `--apply` resumes the killed repairs from the journal and reaches the same end state as an
//! uninterrupted run: every user in Tableau once, in its groups, nothing left running.

use crate::procs::{Proc, Server, spawn_sim};
use crate::{KeptOnFailure, RUNNING, TOKEN, journal_count};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");
const USERS: usize = 24;

fn reconcile_cmd(sim_url: &str, store: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("reconcile")
        .args(["--store", store])
        .args(args)
        .env("TABLEAU_SCIM_TABLEAU__URL", sim_url)
        .env("TABLEAU_SCIM_TABLEAU__SITE", "acme")
        .env("TABLEAU_SCIM_TABLEAU__AUTH__KIND", "pat")
        .env("TABLEAU_SCIM_TABLEAU__AUTH__NAME", "bridge")
        .env("TABLEAU_SCIM_TABLEAU__AUTH__SECRET", "bridge-secret")
        .env("TABLEAU_SCIM_TABLEAU__REQUESTS_PER_SECOND", "1000")
        // A repair left running by a killed run is taken over after a second.
        .env("TABLEAU_SCIM_JOURNAL__RESUME_AFTER_SECS", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs `reconcile ARGS` to the end: exit code and stdout (stderr shown on failure).
fn reconcile(sim_url: &str, store: &str, args: &[&str]) -> (i32, String) {
    let out = reconcile_cmd(sim_url, store, args)
        .output()
        .expect("reconcile runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.code().unwrap_or(-1),
        format!("{stdout}\n--- stderr\n{stderr}"),
    )
}

fn counts(output: &str) -> BTreeMap<String, u64> {
    let json = output.split("\n--- stderr").next().unwrap_or_default();
    let report: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {output}"));
    report["counts"]
        .as_object()
        .expect("counts")
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect()
}

fn user(i: usize) -> String {
    format!("r{i:02}@example.com")
}

async fn post(client: &reqwest::Client, url: &str, endpoint: &str, body: Value) -> String {
    let resp = client
        .post(format!("{url}/{endpoint}"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn operations_done(db: &Path) -> i64 {
    journal_count(
        db,
        "SELECT count(*) FROM operations WHERE method = 'RECONCILE' AND state = 'succeeded'",
    )
    .await
}

#[tokio::test]
async fn reconcile_cli_exit_codes_and_sigkill_during_apply() {
    tableau_scim::init_crypto();
    let kept = KeptOnFailure(Some(tempfile::tempdir().expect("temp dir")));
    let dir = kept.path();
    let (_sim, sim_url) = spawn_sim(dir, 11).await;
    let mut server = Server::new(dir, &sim_url, None, None);
    server.start().await;
    let base = server.url.lock().unwrap().clone();
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..USERS {
        let body =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user(i)});
        ids.push(post(&http, &base, "Users", body).await);
    }
    for (g, chunk) in ids.chunks(USERS / 2).enumerate() {
        let members: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                          "displayName": format!("team-{g}"), "members": members});
        post(&http, &base, "Groups", body).await;
    }
    server.kill();
    let store = server.store_url();
    let (code, out) = reconcile(&sim_url, &store, &[]);
    assert_eq!(code, 0, "in sync: {out}");
    assert!(out.contains("in sync: no drift"), "{out}");

    // Drift: every user removed in Tableau by an administrator (their memberships go with them), one added.
    let mut settings = TableauSettings::new(
        sim_url.clone(),
        "acme",
        // The simulator child's one credential, owned by a site administrator; the server
        // is down, and each `reconcile` run signs in afresh.
        TableauAuth::Pat {
            name: "bridge".into(),
            secret: "bridge-secret".into(),
        },
    );
    settings.requests_per_second = 1000;
    let admin = TableauClient::new(settings).expect("client");
    for u in admin.all_users(&|_, _| {}).await.unwrap() {
        if u.name.ends_with("@example.com") {
            admin.remove_user(&u.luid, None).await.unwrap();
        }
    }
    admin
        .add_user("manual@corp.com", "Viewer", None, None)
        .await
        .unwrap();

    let (code, out) = reconcile(&sim_url, &store, &["--format", "json"]);
    assert_eq!(code, 2, "drift found: {out}");
    assert_eq!(
        counts(&out),
        BTreeMap::from([
            ("member_missing".to_string(), USERS as u64),
            ("user_missing".to_string(), USERS as u64),
            ("user_unmanaged".to_string(), 1),
        ]),
        "{out}"
    );
    let (code, out) = reconcile(&sim_url, &store, &["--remove-unmanaged"]);
    assert_eq!(
        code, 1,
        "--remove-unmanaged needs --apply (a usage error): {out}"
    );

    // Slow Add User down, start --apply, and kill it once some repairs are done.
    http.post(format!("{sim_url}/_sim/faults"))
        .json(&json!({"spec": "POST:/api/**/users=latency:150ms"}))
        .send()
        .await
        .expect("fault added");
    let mut apply = Proc::spawn(
        &mut reconcile_cmd(&sim_url, &store, &["--apply"]),
        &dir.join("apply-1.log"),
    );
    let db = server.db();
    // Repairs run as many at once as the client's concurrency, each Add User taking 150 ms,
    // so they start and end nearly together: between the last of them ending and the next
    // being journaled nothing is running. The kill waits for a moment when a repair is
    // (mid-call, most likely).
    for _ in 0..600 {
        if operations_done(&db).await >= 2 && journal_count(&db, RUNNING).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    apply.kill();
    let left_running = journal_count(&db, RUNNING).await;
    assert!(
        left_running > 0,
        "the kill landed between repairs: {}",
        std::fs::read_to_string(&apply.log).unwrap_or_default()
    );
    assert!(operations_done(&db).await < USERS as i64 + 2);

    let (code, out) = reconcile(&sim_url, &store, &["--apply"]);
    assert_eq!(code, 2, "repaired, the unmanaged user left alone: {out}");
    assert!(out.contains("0 failed, 0 unfinished"), "{out}");
    assert_eq!(journal_count(&db, RUNNING).await, 0, "nothing left running");
    let (code, out) = reconcile(&sim_url, &store, &["--format", "json"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        counts(&out),
        BTreeMap::from([("user_unmanaged".to_string(), 1)]),
        "{out}"
    );
    let (code, out) = reconcile(&sim_url, &store, &["--apply", "--remove-unmanaged"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = reconcile(&sim_url, &store, &[]);
    assert_eq!(code, 0, "{out}");

    // The same end state as without the kill: each user once, in its team.
    let state: Value = reqwest::get(format!("{sim_url}/_sim/state"))
        .await
        .expect("sim state")
        .json()
        .await
        .expect("sim state JSON");
    let mut names: Vec<String> = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_lowercase())
        .filter(|n| n.ends_with("@example.com") || n.ends_with("@corp.com"))
        .collect();
    names.sort();
    let wanted: Vec<String> = (0..USERS).map(user).collect();
    assert_eq!(names, wanted);
    for g in state["groups"].as_array().unwrap() {
        if g["group"]["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("team-")
        {
            assert_eq!(g["member_ids"].as_array().unwrap().len(), USERS / 2, "{g}");
        }
    }
}
