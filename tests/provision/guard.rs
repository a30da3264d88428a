//! The mass-removal guard through the real server and the simulator: the removal past the
//! limit is answered as usual but held (Tableau untouched), `tableau-scim ops held | release |
//! discard` (the real binary) list, carry out and drop it, group-member removals count, a
//! later change supersedes a held one, the window slides, and a restart keeps held operations.

use crate::harness::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tableau_scim::store::{DEFAULT_TENANT, Operation, OperationState};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");

async fn bridge_with_limit(max_removals: u32, window_secs: u64) -> Bridge {
    spawn_bridge_with(Default::default(), |s| {
        s.guard.max_removals = max_removals;
        s.guard.window_secs = window_secs;
    })
    .await
}

/// A licensed user (Viewer); its id.
async fn viewer(b: &Bridge, name: &str) -> String {
    let (s, u) = b
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": name,
                TABLEAU_EXT: {"siteRoles": [{"value": "Viewer"}]}}),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

async fn set_active(b: &Bridge, id: &str, active: bool) -> (u16, Value) {
    b.patch(
        &format!("/Users/{id}"),
        patch_ops(json!([{"op": "replace", "value": {"active": active}}])),
    )
    .await
}

/// The newest operation on a resource.
async fn last_op(b: &Bridge, id: &str) -> Operation {
    b.operations(Some(id)).await.remove(0)
}

/// `tableau-scim ops ARGS` on the bridge's store, with a config naming the simulator (the
/// second PAT: the server holds the first one's session): exit code, stdout, stderr.
async fn ops_cli(b: &Bridge, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "store = \"{}\"\n[tableau]\nurl = \"{}\"\nsite = \"{}\"\nrequests_per_second = 10000\n\
             [tableau.auth]\nkind = \"pat\"\nname = \"bridge2\"\nsecret = \"bridge2-secret\"\n",
            b.store_url,
            b.sim.url(),
            b.sim.site_content_url()
        ),
    )
    .unwrap();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .arg("ops")
            .args(&args)
            .arg("--config")
            .arg(&config)
            .env_remove("TABLEAU_SCIM_CONFIG")
            .output()
    })
    .await
    .unwrap()
    .expect("tableau-scim runs");
    drop(dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_removal_past_the_limit_is_held_then_released() {
    let b = bridge_with_limit(3, 3600).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(viewer(&b, &format!("u{i}@example.com")).await);
    }
    for id in &ids[..3] {
        let (s, body) = set_active(&b, id, false).await;
        assert_eq!(s, 200, "{body}");
    }
    assert_eq!(
        b.role("u2@example.com"),
        "Unlicensed",
        "the 3rd is within the limit"
    );

    // The 4th: answered as usual, stored, Tableau untouched.
    let (s, body) = set_active(&b, &ids[3], false).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["active"], false);
    let (_, stored) = b.get(&format!("/Users/{}", ids[3])).await;
    assert_eq!(stored["active"], false);
    assert_eq!(b.role("u3@example.com"), "Viewer");
    let op = last_op(&b, &ids[3]).await;
    assert_eq!(op.state, OperationState::Held);
    assert_eq!(op.removals, 1);

    let metrics = b
        .client
        .get(b.base_url.replace("/scim/v2", "/metrics"))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("tableau_scim_guard_held_operations_total"),
        "{text}"
    );

    let (code, out, err) = ops_cli(&b, &["held"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&op.id), "{out}");
    assert!(out.contains("u3@example.com"), "{out}");
    assert!(out.contains("siteRole → Unlicensed"), "{out}");
    assert!(
        out.contains(&format!("PATCH /scim/v2/Users/{}", ids[3])),
        "{out}"
    );

    let (code, out, err) = ops_cli(&b, &["release", &op.id]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        b.role("u3@example.com"),
        "Unlicensed",
        "released: Tableau changed"
    );
    let done = last_op(&b, &ids[3]).await;
    assert_eq!(done.state, OperationState::Succeeded);
    assert!(
        done.steps.iter().all(|s| s.method.is_some()),
        "journaled calls"
    );
    let (_, stored) = b.get(&format!("/Users/{}", ids[3])).await;
    assert_eq!(stored["active"], false, "nothing committed twice");

    // Errors: one line, exit 1.
    let (code, _, err) = ops_cli(&b, &["release", &op.id]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!("error: operation {} is succeeded, not held", op.id)
    );
    let (code, _, err) = ops_cli(&b, &["discard", "no-such-op"]).await;
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: no operation no-such-op in the journal");
    let (code, out, _) = ops_cli(&b, &["held"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "no held operations");
}

#[tokio::test]
async fn discard_drops_a_held_delete() {
    let b = bridge_with_limit(1, 3600).await;
    let a = viewer(&b, "a@example.com").await;
    let c = viewer(&b, "c@example.com").await;
    assert_eq!(b.delete(&format!("/Users/{a}")).await, 204);
    assert!(b.tableau_user("a@example.com").is_none());
    assert_eq!(b.delete(&format!("/Users/{c}")).await, 204);
    let (s, _) = b.get(&format!("/Users/{c}")).await;
    assert_eq!(s, 404, "the SCIM side is committed");
    assert!(b.tableau_user("c@example.com").is_some(), "held");
    let op = last_op(&b, &c).await;
    assert_eq!(op.state, OperationState::Held);

    let (code, out, err) = ops_cli(&b, &["discard", "--all", "--note", "test: kept"]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains(&format!("discarded {}", op.id)), "{out}");
    let op = last_op(&b, &c).await;
    assert_eq!(op.state, OperationState::Discarded);
    assert_eq!(op.note.as_deref(), Some("test: kept"));
    assert!(b.tableau_user("c@example.com").is_some(), "never removed");
    let (code, _, err) = ops_cli(&b, &["release", &op.id]).await;
    assert_eq!(code, 1);
    assert!(err.contains("is discarded, not held"), "{err}");
}

/// A held delete keeps the user's LUID: released after the resource is gone, it still
/// removes the right Tableau user.
#[tokio::test]
async fn a_released_delete_removes_the_user_it_held() {
    let b = bridge_with_limit(0, 3600).await;
    let a = viewer(&b, "gone@example.com").await;
    assert_eq!(b.delete(&format!("/Users/{a}")).await, 204);
    assert!(b.tableau_user("gone@example.com").is_some());
    let op = last_op(&b, &a).await;
    let (code, out, err) = ops_cli(&b, &["release", "--all"]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(b.tableau_user("gone@example.com").is_none());
    assert_eq!(last_op(&b, &a).await.state, OperationState::Succeeded);
    assert_eq!(op.state, OperationState::Held);
}

#[tokio::test]
async fn group_member_removals_count() {
    let b = bridge_with_limit(3, 3600).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(viewer(&b, &format!("m{i}@example.com")).await);
    }
    let g = b.create_group("Team", &ids).await;
    let remove = |from: usize, to: usize| {
        let members: Vec<Value> = ids[from..to]
            .iter()
            .map(|id| json!({"value": id}))
            .collect();
        patch_ops(json!([{"op": "remove", "path": "members", "value": members}]))
    };
    let (s, body) = b.patch(&format!("/Groups/{g}"), remove(0, 2)).await;
    assert!(s == 200 || s == 204, "{s} {body}");
    assert_eq!(b.tableau_group_members("Team").unwrap().len(), 3);
    let (s, body) = b.patch(&format!("/Groups/{g}"), remove(2, 4)).await;
    assert!(s == 200 || s == 204, "{s} {body}");
    let (_, stored) = b.get(&format!("/Groups/{g}")).await;
    assert_eq!(
        stored["members"].as_array().map(Vec::len),
        Some(1),
        "{stored}"
    );
    assert_eq!(
        b.tableau_group_members("Team").unwrap().len(),
        3,
        "2 + 2 > 3: held"
    );
    let op = last_op(&b, &g).await;
    assert_eq!((op.state, op.removals), (OperationState::Held, 2));
    let (code, out, err) = ops_cli(&b, &["held"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RemoveGroupMembers"), "{out}");
    assert!(out.contains("Team"), "{out}");
    let (code, out, err) = ops_cli(&b, &["release", &op.id]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        b.tableau_group_members("Team"),
        Some(vec!["m4@example.com".to_string()])
    );
}

/// A held deactivation followed by a reactivation: the later change supersedes it (it was
/// computed from the stored state), so the user stays licensed and nothing waits for ever.
#[tokio::test]
async fn a_later_change_supersedes_a_held_one() {
    let b = bridge_with_limit(1, 3600).await;
    let a = viewer(&b, "a@example.com").await;
    let c = viewer(&b, "c@example.com").await;
    assert_eq!(set_active(&b, &a, false).await.0, 200);
    assert_eq!(set_active(&b, &c, false).await.0, 200);
    let held = last_op(&b, &c).await;
    assert_eq!(held.state, OperationState::Held);
    let (s, body) = set_active(&b, &c, true).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(b.role("c@example.com"), "Viewer");
    let held = b
        .store
        .get_operation(DEFAULT_TENANT, &held.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.state, OperationState::Discarded);
    assert!(
        held.note
            .as_deref()
            .unwrap_or("")
            .starts_with("superseded by operation"),
        "{:?}",
        held.note
    );
    assert_eq!(last_op(&b, &c).await.state, OperationState::Succeeded);
}

#[tokio::test]
async fn the_window_slides() {
    let b = bridge_with_limit(1, 2).await;
    let a = viewer(&b, "a@example.com").await;
    let c = viewer(&b, "c@example.com").await;
    let d = viewer(&b, "d@example.com").await;
    assert_eq!(set_active(&b, &a, false).await.0, 200);
    assert_eq!(set_active(&b, &c, false).await.0, 200);
    assert_eq!(last_op(&b, &c).await.state, OperationState::Held);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(set_active(&b, &d, false).await.0, 200);
    assert_eq!(
        b.role("d@example.com"),
        "Unlicensed",
        "the window has passed"
    );
    assert_eq!(last_op(&b, &d).await.state, OperationState::Succeeded);
}

/// A server started again on the same store leaves held operations held (its worker resumes
/// running ones only), and they can still be released.
#[tokio::test]
async fn a_restart_keeps_held_operations() {
    let b = bridge_with_limit(0, 3600).await;
    let a = viewer(&b, "a@example.com").await;
    assert_eq!(set_active(&b, &a, false).await.0, 200);
    let url = b.store_url.clone();
    let again = spawn_bridge_on(b.sim.clone(), |s| {
        s.store = Some(url);
        s.guard.max_removals = 0;
        use_second_pat(s);
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(last_op(&again, &a).await.state, OperationState::Held);
    assert_eq!(again.role("a@example.com"), "Viewer");
    let (code, out, err) = ops_cli(&b, &["release", "--all"]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(again.role("a@example.com"), "Unlicensed");
}

/// The defaults: 50 removals an hour; the 51st is held.
#[tokio::test]
async fn the_51st_removal_is_held_by_default() {
    let b = spawn_bridge().await;
    let mut ids = Vec::new();
    for i in 0..51 {
        ids.push(viewer(&b, &format!("d{i}@example.com")).await);
    }
    for id in &ids[..50] {
        assert_eq!(set_active(&b, id, false).await.0, 200);
    }
    assert_eq!(last_op(&b, &ids[49]).await.state, OperationState::Succeeded);
    let (s, body) = b
        .call(Method::DELETE, &format!("/Users/{}", ids[50]), None)
        .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(last_op(&b, &ids[50]).await.state, OperationState::Held);
    assert_eq!(b.role("d50@example.com"), "Viewer");
}

/// Reconcile repairs are operations like the others: one that takes a member out of a group
/// is held past the limit (reported as held, exit code 4) and carried out once released.
#[tokio::test]
async fn reconcile_repairs_are_held_too() {
    use tableau_scim::provision::guard::GuardSettings;
    use tableau_scim::reconcile::{Options, Reconciler};
    use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};
    let b = bridge_with_limit(0, 3600).await;
    let a = viewer(&b, "a@example.com").await;
    viewer(&b, "c@example.com").await;
    b.create_group("Team", &[a]).await;
    // A Tableau admin adds c to the managed group by hand: an extra membership.
    let client = |name: &str, secret: &str| {
        let mut s = TableauSettings::new(
            b.sim.url(),
            b.sim.site_content_url(),
            TableauAuth::Pat {
                name: name.into(),
                secret: secret.into(),
            },
        );
        s.requests_per_second = 10_000;
        TableauClient::new(s).expect("client")
    };
    let admin = client("sim-pat", "sim-pat-secret");
    let group = admin
        .find_group_by_name("Team")
        .await
        .unwrap()
        .expect("group");
    let c_luid = b.tableau_user("c@example.com").unwrap().id;
    admin
        .add_group_members(&group.luid, &[c_luid.to_string()])
        .await
        .unwrap();
    let tableau = client("bridge2", "bridge2-secret");
    let engine = tableau_scim::provision::Engine::new(
        b.store.clone(),
        Some(tableau.clone()),
        Default::default(),
        Default::default(),
    );
    engine.set_guard(GuardSettings {
        max_removals: 0,
        ..GuardSettings::default()
    });
    let reconciler = Reconciler::new(engine, tableau, DEFAULT_TENANT);
    let options = Options {
        apply: true,
        remove_unmanaged: false,
    };
    let report = reconciler.run(options, &|_, _, _| {}).await.unwrap();
    let applied = report.applied.clone().expect("applied");
    assert_eq!(applied.held.len(), 1, "{applied:?}");
    assert_eq!(report.exit_code(), 4);
    assert!(report.to_text().contains("1 held"), "{}", report.to_text());
    assert_eq!(
        b.tableau_group_members("Team").unwrap().len(),
        2,
        "Tableau untouched"
    );
    let (code, out, err) = ops_cli(&b, &["held"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RECONCILE"), "{out}");
    let (code, out, err) = ops_cli(&b, &["release", "--all"]).await;
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        b.tableau_group_members("Team"),
        Some(vec!["a@example.com".to_string()])
    );
}
