//! Idempotency and concurrency end to end: a re-sent POST attaches to the running operation,
//! `Idempotency-Key` replays, identical PATCHes are free, concurrent member additions are all
//! kept, and two servers on one PostgreSQL database agree.

use crate::harness::*;
use serde_json::{Value, json};
use std::sync::Arc;
use tableau_scim::store::OperationState;
use tableau_sim::{FaultRule, SimConfig};

fn new_user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "displayName": "Slow Poke",
        "emails": [{"value": name, "primary": true}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_resent_while_running_attaches_and_tableau_sees_one_add() {
    let b = Arc::new(spawn_bridge().await);
    // Add User takes 1.5 s; the latency rule also counts the Add User calls.
    b.sim
        .state()
        .add_fault(FaultRule::parse("POST:/api/*/sites/*/users=latency:1500ms").unwrap());
    let first = {
        let b = b.clone();
        tokio::spawn(async move { b.post("/Users", new_user("slow@example.com")).await })
    };
    // Re-send once the first request's operation is journaled and running.
    eventually("the first POST is running", || async {
        b.operations(None)
            .await
            .iter()
            .any(|o| o.state == OperationState::Running)
    })
    .await;
    let (s2, u2) = b.post("/Users", new_user("slow@example.com")).await;
    let (s1, u1) = first.await.unwrap();
    assert_eq!((s1, s2), (201, 201), "{u1} {u2}");
    assert_eq!(
        u1["id"], u2["id"],
        "the retry got the first request's resource"
    );
    assert_eq!(
        b.snapshot().injected_faults.delays,
        1,
        "Tableau saw one Add User"
    );
    assert_eq!(b.tableau_user_names(), vec!["slow@example.com"]);
    assert_eq!(
        b.tableau_user("slow@example.com")
            .unwrap()
            .full_name
            .as_deref(),
        Some("Slow Poke")
    );
    let ops = b.operations(None).await;
    assert_eq!(ops.len(), 1, "one journaled operation: {ops:?}");
    assert_eq!(ops[0].state, OperationState::Succeeded);
    assert_eq!(ops[0].resource_id, u1["id"].as_str().unwrap());
    assert_eq!(count_by_user_name(&b, "slow@example.com").await, 1);
}

#[tokio::test]
async fn idempotency_key_replays_the_recorded_201() {
    let b = spawn_bridge().await;
    let body = new_user("keyed@example.com");
    let (s, u) = b.post_with_key("/Users", &body, "okta-req-1").await;
    assert_eq!(s, 201, "{u}");
    b.count_tableau_calls();
    let calls = b.tableau_calls();
    // The re-sent POST (after completion) gets the recorded 201 and the same resource.
    let (s, again) = b.post_with_key("/Users", &body, "okta-req-1").await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["id"], u["id"]);
    assert_eq!(again["userName"], "keyed@example.com");
    assert_eq!(b.tableau_calls(), calls, "the replay makes no Tableau call");
    assert_eq!(b.operations(None).await.len(), 1);
    // Without the key the same POST is a new request: 409 uniqueness.
    let (s, e) = b.post("/Users", body.clone()).await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{e}"
    );
    // The key reused for another body is refused: 422 (IETF Idempotency-Key draft).
    let (s, e) = b
        .post_with_key("/Users", &new_user("other@example.com"), "okta-req-1")
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(b.tableau_user_names(), vec!["keyed@example.com"]);
}

#[tokio::test]
async fn an_identical_repeated_patch_makes_no_tableau_call() {
    let b = spawn_bridge().await;
    let uid = b.create_user("same@example.com").await;
    let gid = b.create_group("Same", &[]).await;
    b.count_tableau_calls();
    let user_patch =
        patch_ops(json!([{"op": "replace", "path": "displayName", "value": "Same Again"}]));
    let group_patch =
        patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let (s, _) = b.patch(&format!("/Users/{uid}"), user_patch.clone()).await;
    assert_eq!(s, 200);
    let (s, _) = b
        .patch(&format!("/Groups/{gid}"), group_patch.clone())
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_user("same@example.com")
            .unwrap()
            .full_name
            .as_deref(),
        Some("Same Again")
    );
    assert_eq!(
        b.tableau_group_members("Same").unwrap(),
        vec!["same@example.com"]
    );
    let ops = b.operations(None).await.len();
    let calls = b.tableau_calls();
    for _ in 0..3 {
        let (s, u) = b.patch(&format!("/Users/{uid}"), user_patch.clone()).await;
        assert_eq!((s, u["displayName"].as_str()), (200, Some("Same Again")));
        let (s, _) = b
            .patch(&format!("/Groups/{gid}"), group_patch.clone())
            .await;
        assert_eq!(s, 204);
    }
    assert_eq!(b.tableau_calls(), calls, "no Tableau call");
    assert_eq!(b.operations(None).await.len(), ops, "no journal entry");
}

/// Create `n` users `{prefix}{i}` and an empty group; their ids and the group id.
async fn users_and_group(b: &Bridge, prefix: &str, n: usize, group: &str) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(b.create_user(&format!("{prefix}{i:02}@example.com")).await);
    }
    (ids, b.create_group(group, &[]).await)
}

fn add_member(id: &str) -> Value {
    patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_patches_lose_none() {
    let b = Arc::new(spawn_bridge().await);
    let (ids, gid) = users_and_group(&b, "c", 20, "Crowd").await;
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (b, id, gid) = (b.clone(), id.clone(), gid.clone());
            tokio::spawn(async move { b.patch(&format!("/Groups/{gid}"), add_member(&id)).await })
        })
        .collect();
    for t in tasks {
        let (s, e) = t.await.unwrap();
        assert_eq!(s, 204, "{e}");
    }
    let (_, g) = b.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 20, "{g}");
    let expected: Vec<String> = (0..20).map(|i| format!("c{i:02}@example.com")).collect();
    assert_eq!(b.tableau_group_members("Crowd").unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_agree() {
    let Some(base) = std::env::var("TABLEAU_SCIM_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: set TABLEAU_SCIM_TEST_POSTGRES to a PostgreSQL URL");
        return;
    };
    let (url, db) = fresh_database(&base).await;
    // Run in a task of its own so that the database is dropped even when an assertion fails.
    let outcome = tokio::spawn(two_servers_agree(url)).await;
    drop_database(&base, &db).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn two_servers_agree(url: String) {
    let sim = spawn_sim(SimConfig::default()).await;
    let url_a = url.clone();
    let a = Arc::new(spawn_bridge_on(sim.clone(), move |s| s.store = Some(url_a)).await);
    let url_b = url.clone();
    let b = Arc::new(
        spawn_bridge_on(sim.clone(), move |s| {
            s.store = Some(url_b);
            use_second_pat(s);
        })
        .await,
    );
    let (ids, gid) = users_and_group(&a, "pg", 20, "Shared").await;
    // Both servers see the same resources.
    let (s, g) = b.get(&format!("/Groups/{gid}")).await;
    assert_eq!(s, 200, "{g}");
    // Members added concurrently, alternating between the servers.
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let server = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (id, gid) = (id.clone(), gid.clone());
            tokio::spawn(async move {
                server
                    .patch(&format!("/Groups/{gid}"), add_member(&id))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let (s, e) = t.await.unwrap();
        assert_eq!(s, 204, "{e}");
    }
    let members = |g: &Value| -> Vec<String> {
        let mut m: Vec<String> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    };
    let (_, ga) = a.get(&format!("/Groups/{gid}")).await;
    let (_, gb) = b.get(&format!("/Groups/{gid}")).await;
    let mut want = ids.clone();
    want.sort();
    assert_eq!(members(&ga), want, "server A has every member");
    assert_eq!(members(&gb), want, "server B agrees");
    let expected: Vec<String> = (0..20).map(|i| format!("pg{i:02}@example.com")).collect();
    assert_eq!(a.tableau_group_members("Shared").unwrap(), expected);
    // Every operation finished. One server can commit a change computed from a revision the
    // other has meanwhile replaced: that operation fails with 412 and the request is computed
    // again (so it is retried, not lost).
    let ops = a.operations(Some(&gid)).await;
    for o in &ops {
        assert!(
            o.state == OperationState::Succeeded
                || (o.state == OperationState::Failed && o.response_status == Some(412)),
            "{:?} {:?}",
            o.state,
            o.error_body
        );
    }
    let added: usize = ops
        .iter()
        .filter(|o| o.state == OperationState::Succeeded && o.method == "PATCH")
        .count();
    assert_eq!(added, 20, "one successful operation per PATCH");
}

#[tokio::test]
async fn a_delete_resent_with_its_key_gets_the_recorded_204() {
    let b = spawn_bridge().await;
    let uid = b.create_user("leaving@example.com").await;
    let delete = || async {
        b.client
            .delete(format!("{}/Users/{uid}", b.base_url))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "entra-delete-1")
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    };
    assert_eq!(delete().await, 204);
    assert_eq!(
        delete().await,
        204,
        "the re-sent DELETE replays the recorded answer"
    );
    assert!(b.tableau_user_names().is_empty());
    // Without the key, SCIM semantics: the resource is gone.
    let (s, _) = b
        .call(reqwest::Method::DELETE, &format!("/Users/{uid}"), None)
        .await;
    assert_eq!(s, 404);
}
