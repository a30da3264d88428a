//! Dry-run (`provision.mode = "dry_run"`): an Okta and an Entra lifecycle answer as usual and
//! are stored, make no Tableau write (counted in the simulator) and journal the calls they
//! would make; a server started live on the same store then converges Tableau to the store.

use crate::entra::entra_user;
use crate::harness::*;
use crate::okta::okta_user;
use serde_json::json;
use tableau_scim::provision::dry_run::ProvisionMode;
use tableau_scim::store::{OperationState, StepState};
use tableau_sim::FaultRule;

async fn dry_run_bridge() -> Bridge {
    let b = spawn_bridge_with(Default::default(), |s| {
        s.provision.mode = ProvisionMode::DryRun;
    })
    .await;
    // Every write the simulator answers counts as one "delay" (reads are not matched).
    for rule in [
        "POST:/api/*/sites/**=latency:0ms",
        "PUT:/api/**=latency:0ms",
        "DELETE:/api/**=latency:0ms",
    ] {
        b.sim
            .state()
            .add_fault(FaultRule::parse(rule).expect("rule"));
    }
    b
}

fn writes(b: &Bridge) -> u64 {
    b.snapshot().injected_faults.delays
}

/// A server started live on the dry-run bridge's store and simulator.
async fn live_on(b: &Bridge) -> Bridge {
    let url = b.store_url.clone();
    spawn_bridge_on(b.sim.clone(), move |s| {
        s.store = Some(url);
        use_second_pat(s);
    })
    .await
}

/// Every operation planned, each step with the call it would make.
async fn assert_all_planned(b: &Bridge) {
    let ops = b.operations(None).await;
    assert!(!ops.is_empty());
    for op in &ops {
        assert_eq!(
            op.state,
            OperationState::Planned,
            "{} {}",
            op.method,
            op.path
        );
        for s in &op.steps {
            assert_eq!(s.state, StepState::Planned, "{op:?}");
        }
    }
    let add = ops
        .iter()
        .flat_map(|o| &o.steps)
        .find(|s| s.kind == "AddUser")
        .expect("an AddUser step");
    assert_eq!(add.method.as_deref(), Some("POST"));
    assert!(
        add.path
            .as_deref()
            .unwrap_or("")
            .ends_with("/sites/{site}/users"),
        "{add:?}"
    );
    assert!(
        add.request_body
            .as_deref()
            .unwrap_or("")
            .contains("\"siteRole\""),
        "{add:?}"
    );
    // `tableau-scim ops` shows them, with the body each call would have sent.
    let text: String = ops.iter().map(tableau_scim::ops::describe).collect();
    assert!(text.contains("(planned)"), "{text}");
    assert!(text.contains("planned POST /api/"), "{text}");
    assert!(text.contains("      body {\"user\""), "{text}");
}

#[tokio::test]
async fn okta_lifecycle_in_dry_run_writes_nothing_then_live_converges() {
    let b = dry_run_bridge().await;
    let (s, u) = b.post("/Users", okta_user("ann@okta.local", "00u1")).await;
    assert_eq!(s, 201, "{u}");
    let ann = u["id"].as_str().unwrap().to_string();
    let (s, u) = b.post("/Users", okta_user("bob@okta.local", "00u2")).await;
    assert_eq!(s, 201, "{u}");
    let bob = u["id"].as_str().unwrap().to_string();
    let (s, u) = b.post("/Users", okta_user("cy@okta.local", "00u3")).await;
    assert_eq!(s, 201, "{u}");
    let cy = u["id"].as_str().unwrap().to_string();
    // Profile change, deactivation and reactivation, deactivation for good.
    let (s, _) = b
        .patch(
            &format!("/Users/{ann}"),
            patch_ops(json!([{"op": "replace", "value": {"name.givenName": "Ann"}}])),
        )
        .await;
    assert_eq!(s, 200);
    for active in [false, true] {
        let (s, _) = b
            .patch(
                &format!("/Users/{bob}"),
                patch_ops(json!([{"op": "replace", "value": {"active": active}}])),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = b
        .patch(
            &format!("/Users/{cy}"),
            patch_ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(s, 200);
    // Group Push: create, members, rename.
    let (s, g) = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Okta Team", "members": []}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (s, _) = b
        .patch(
            &format!("/Groups/{gid}"),
            patch_ops(json!([
                {"op": "replace", "value": {"id": gid, "displayName": "Okta Analysts"}},
                {"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}
            ])),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");
    let (s, _) = b
        .patch(
            &format!("/Groups/{gid}"),
            patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}])),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");

    assert_eq!(writes(&b), 0, "no Tableau write in dry-run");
    assert!(b.tableau_user_names().is_empty());
    assert!(b.tableau_group_names().is_empty());
    assert_all_planned(&b).await;

    let live = live_on(&b).await;
    eventually("Tableau converges to the store", || async {
        live.tableau_user_names() == ["ann@okta.local", "bob@okta.local", "cy@okta.local"]
            && live.tableau_group_members("Okta Analysts")
                == Some(vec!["ann@okta.local".to_string()])
    })
    .await;
    assert_eq!(live.role("ann@okta.local"), "Viewer");
    assert_eq!(live.role("bob@okta.local"), "Viewer");
    assert_eq!(live.role("cy@okta.local"), "Unlicensed");
    assert_eq!(live.tableau_group_names(), ["Okta Analysts"]);
    assert!(
        writes(&live) > 0,
        "the counter counts the live server's writes"
    );
    eventually("the planned operations are converged", || async {
        live.operations(None)
            .await
            .iter()
            .all(|o| o.state != OperationState::Planned)
    })
    .await;
    let converged = live.operations(None).await;
    assert!(
        converged
            .iter()
            .any(|o| o.state == OperationState::Converged),
        "{converged:?}"
    );
}

#[tokio::test]
async fn entra_lifecycle_in_dry_run_writes_nothing_then_live_converges() {
    let b = dry_run_bridge().await;
    let (s, u) = b
        .post(
            "/Users",
            entra_user("dee@contoso.com", "dee@contoso.com", json!([])),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let dee = u["id"].as_str().unwrap().to_string();
    let mut second = entra_user("eve@contoso.com", "eve@contoso.com", json!([]));
    second["externalId"] = json!("5e0b6c1e-0000-4000-8000-000000000002");
    let (s, u) = b.post("/Users", second).await;
    assert_eq!(s, 201, "{u}");
    let eve = u["id"].as_str().unwrap().to_string();
    // E5: a profile change with Entra's capitalised op; E7: disable.
    let (s, _) = b
        .patch(
            &format!("/Users/{dee}"),
            patch_ops(
                json!([{"op": "Replace", "path": "emails[type eq \"work\"].value",
                "value": "dee.new@contoso.com"}]),
            ),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = b
        .patch(
            &format!("/Users/{eve}"),
            patch_ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(s, 200);
    // E9, E13: a group and its members.
    let (s, g) = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Entra Sales",
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (s, _) = b
        .patch(
            &format!("/Groups/{gid}"),
            patch_ops(json!([{"op": "Add", "path": "members",
                "value": [{"value": dee}, {"value": eve}]}])),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");

    assert_eq!(writes(&b), 0, "no Tableau write in dry-run");
    assert!(b.tableau_user_names().is_empty());
    assert_all_planned(&b).await;

    let live = live_on(&b).await;
    eventually("Tableau converges to the store", || async {
        live.tableau_user_names() == ["dee@contoso.com", "eve@contoso.com"]
            && live.tableau_group_members("Entra Sales")
                == Some(vec![
                    "dee@contoso.com".to_string(),
                    "eve@contoso.com".to_string(),
                ])
    })
    .await;
    assert_eq!(live.role("dee@contoso.com"), "Viewer");
    assert_eq!(live.role("eve@contoso.com"), "Unlicensed");
    let email = live.tableau_user("dee@contoso.com").unwrap().email;
    assert_eq!(email.as_deref(), Some("dee.new@contoso.com"));
}

/// `reconcile --apply` in dry-run reports the drift and repairs nothing.
#[tokio::test]
async fn reconcile_apply_in_dry_run_writes_nothing() {
    let b = dry_run_bridge().await;
    b.create_user("fay@example.com").await;
    let store = b.store.clone();
    let client =
        tableau_scim::tableau::TableauClient::new(tableau_scim::tableau::TableauSettings::new(
            b.sim.url(),
            b.sim.site_content_url(),
            tableau_scim::tableau::TableauAuth::Pat {
                name: "bridge2".into(),
                secret: "bridge2-secret".into(),
            },
        ))
        .unwrap();
    let policy = tableau_scim::provision::rules::ProvisionPolicy {
        mode: ProvisionMode::DryRun,
        ..Default::default()
    };
    let engine = tableau_scim::provision::Engine::new(
        store,
        Some(client.clone()),
        policy,
        Default::default(),
    );
    let reconciler = tableau_scim::reconcile::Reconciler::new(
        engine,
        client,
        tableau_scim::store::DEFAULT_TENANT,
    );
    let options = tableau_scim::reconcile::Options {
        apply: true,
        remove_unmanaged: false,
    };
    let report = reconciler.run(options, &|_, _, _| {}).await.unwrap();
    assert!(report.dry_run && report.applied.is_none());
    assert_eq!(report.drifts.len(), 1, "{:?}", report.drifts);
    assert!(report.to_text().contains("dry-run"), "{}", report.to_text());
    assert_eq!(writes(&b), 0);
    assert!(b.tableau_user_names().is_empty());
}

/// SIGHUP from dry-run to live: the next changes reach Tableau, and what was planned before
/// converges as at a live start.
#[tokio::test]
async fn sighup_to_live_converges_and_writes_from_then_on() {
    let b = dry_run_bridge().await;
    let gus = b.create_user("gus@example.com").await;
    assert_eq!(writes(&b), 0);
    let mut live = tableau_scim::config::Settings::default();
    live.auth.tokens = vec![TOKEN.into()];
    b.reloader.reload(Ok(live));
    eventually("the planned user reaches Tableau", || async {
        b.tableau_user("gus@example.com").is_some()
    })
    .await;
    eventually(
        "its POST is converged (the repair is an operation of its own)",
        || async {
            b.operations(Some(&gus))
                .await
                .iter()
                .any(|o| o.method == "POST" && o.state == OperationState::Converged)
        },
    )
    .await;
    b.create_user("hal@example.com").await;
    assert_eq!(b.role("hal@example.com"), "Viewer", "live: written at once");
}
