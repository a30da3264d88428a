//! Writers that race: the guarantees `provision::service` and the planner give when requests
//! for the same name or the same users arrive at once. Each runs on SQLite and PostgreSQL.

use crate::harness::*;
use serde_json::json;
use std::sync::Arc;
use tableau_scim::provision::rules::GroupRoleRule;
use tableau_scim::provision::site_role::SiteRole;
use tableau_scim::store::OperationState;
use tableau_sim::{FaultRule, SimConfig};

/// Two different `POST /Users` of one `userName` at once: Tableau sees one Add User, one
/// request gets 201 and the other `409 uniqueness`, and one user is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_reach_tableau_once() {
    on_both_backends(|store| async move {
        let b = Arc::new(spawn_bridge_with(SimConfig::default(), |s| s.store = store).await);
        // Add User takes 400 ms, so the two requests overlap; the rule counts the calls.
        b.sim
            .state()
            .add_fault(FaultRule::parse("POST:/api/*/sites/*/users=latency:400ms").unwrap());
        let name = format!("race-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = |display: &str| {
            json!({"schemas": [USER], "userName": name, "displayName": display,
                "emails": [{"value": name, "primary": true}]})
        };
        let (first, second) = tokio::join!(b.post("/Users", body("First")), async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            b.post("/Users", body("Second")).await
        });
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{} {}", first.1, second.1);
        let loser = if first.0 == 409 { &first.1 } else { &second.1 };
        assert_eq!(loser["scimType"], "uniqueness", "{loser}");
        assert_eq!(
            b.snapshot().injected_faults.delays,
            1,
            "Tableau saw one Add User"
        );
        assert_eq!(b.tableau_user_names(), vec![name.clone()]);
        assert_eq!(count_by_user_name(&b, &name).await, 1);
    })
    .await;
}

/// A group change that recomputes a member's site role holds that user: a user write arriving
/// meanwhile waits, and then computes the role from the membership the group change made.
/// Without the lock, the user write (an explicit Explorer role) would land in Tableau first
/// and the group change's Creator would overwrite it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_change_holds_the_users_whose_roles_it_recomputes() {
    on_both_backends(|store| async move {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let group = format!("Creators-{suffix}");
        let rule_group = group.clone();
        let b = Arc::new(
            spawn_bridge_with(SimConfig::default(), move |s| {
                s.store = store;
                s.provision.group_roles = vec![GroupRoleRule {
                    group: rule_group,
                    site_role: SiteRole::Creator,
                }];
            })
            .await,
        );
        let name = format!("member-{suffix}@example.com");
        let user_id = b.create_user(&name).await;
        assert_eq!(b.role(&name), "Viewer");
        // Creating the group in Tableau takes 600 ms: the first step of the group's operation.
        b.sim
            .state()
            .add_fault(FaultRule::parse("POST:/api/*/sites/*/groups=latency:600ms").unwrap());
        let group_write = {
            let b = b.clone();
            let group = group.clone();
            let user_id = user_id.clone();
            tokio::spawn(async move {
                b.post(
                    "/Groups",
                    json!({"schemas": [GROUP], "displayName": group,
                        "members": [{"value": user_id}]}),
                )
                .await
            })
        };
        let b2 = b.clone();
        eventually("the group's operation is running", move || {
            let b = b2.clone();
            async move {
                b.operations(None)
                    .await
                    .iter()
                    .any(|o| o.state == OperationState::Running && o.path.ends_with("/Groups"))
            }
        })
        .await;
        let (s, u) = b
            .patch(
                &format!("/Users/{user_id}"),
                patch_ops(json!([{"op": "add", "path": TABLEAU_EXT,
                    "value": {"siteRoles": [{"value": "Explorer"}]}}])),
            )
            .await;
        assert_eq!(s, 200, "{u}");
        let (s, g) = group_write.await.unwrap();
        assert_eq!(s, 201, "{g}");
        assert_eq!(
            b.role(&name),
            "Explorer",
            "the explicit role, written after the group change, is what Tableau has"
        );
        assert_eq!(b.tableau_group_members(&group).unwrap(), vec![name.clone()]);
    })
    .await;
}

/// A create that outlives its request (Tableau slower than the journal's deadline: the IdP gets
/// 503, the operation goes on in the background) still holds its name: a second create of the
/// name in another case waits for it (503 while it still runs, as the IdP re-sends) and then
/// gets `409 uniqueness`, without a Tableau call. Before
/// the journal's name claim, the second passed the name check (nothing was committed yet),
/// linked the first one's Tableau user, changed its site role, and then failed its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_left_running_holds_its_name() {
    on_both_backends(|store| async move {
        let b = Arc::new(
            spawn_bridge_with(SimConfig::default(), |s| {
                s.store = store;
                s.journal.deadline_secs = 1;
            })
            .await,
        );
        b.sim
            .state()
            .add_fault(FaultRule::parse("POST:/api/*/sites/*/users=latency:2500ms").unwrap());
        let name = format!("slow-{}@example.com", uuid::Uuid::new_v4().simple());
        let (status, body) = b
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": name, "active": true}),
            )
            .await;
        assert_eq!(status, 503, "the first create outlives its request: {body}");
        let second = json!({"schemas": [USER], "userName": name.to_uppercase(), "active": false});
        let (mut status, mut body) = b.post("/Users", second.clone()).await;
        for _ in 0..20 {
            if status != 503 {
                break;
            }
            (status, body) = b.post("/Users", second.clone()).await;
        }
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["scimType"], "uniqueness", "{body}");
        assert_eq!(b.role(&name), "Viewer", "the first create's role stands");
        assert_eq!(count_by_user_name(&b, &name).await, 1);
        let ops = b.operations(None).await;
        assert!(
            ops.iter().all(|op| op.state != OperationState::Running),
            "{ops:?}"
        );
        let refused: Vec<_> = ops
            .iter()
            .filter(|op| op.state == OperationState::Failed)
            .collect();
        assert!(
            refused
                .iter()
                .all(|op| op.steps.iter().all(|s| s.http_status.is_none())),
            "the refused create made no Tableau call: {refused:?}"
        );
    })
    .await;
}
