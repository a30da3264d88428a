//! Issue 9: the input rules, member types, "All Users", one LUID per resource and
//! `Idempotency-Key` binding, end to end against the simulator, on SQLite and PostgreSQL.
//! Refused input never reaches the journal or Tableau, whatever the backend.

use super::harness::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use tableau_scim::store::{OperationState, StepState};
use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};
use tableau_sim::{FaultRule, SimConfig};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A 400 invalidValue whose detail starts with (or names) `attribute`.
fn assert_refused(status: u16, body: &Value, attribute: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(attribute), "names {attribute}: {detail}");
}

/// What no refused request may leave behind: no operation, no Tableau call.
async fn assert_untouched(b: &Bridge, ops_before: usize, calls_before: u64) {
    assert_eq!(
        b.operations(None).await.len(),
        ops_before,
        "nothing journaled"
    );
    assert_eq!(b.tableau_calls(), calls_before, "no Tableau call");
}

async fn bridge(store: Option<String>) -> Bridge {
    let b = spawn_bridge_with(SimConfig::default(), |s| s.store = store).await;
    b.count_tableau_calls();
    b
}

/// Findings 2 (input part) and 5: names with control, separator or bidi characters, edge
/// whitespace, NUL or 900 KB; bad e-mails; a `password` object; "All Users" — each a 400 on
/// POST, PUT and PATCH, with no journal entry and no Tableau call (so no 503 and no operation
/// retried for ever on PostgreSQL).
#[tokio::test]
async fn bad_input_is_refused_before_the_journal_and_tableau() {
    on_both_backends(|store| async move {
        let b = bridge(store).await;
        let user_id = b
            .create_user(&format!("{}@example.com", unique("ok")))
            .await;
        let group_id = b.create_group(&unique("Team"), &[]).await;
        let (ops, calls) = (b.operations(None).await.len(), b.tableau_calls());

        let huge = format!("{}@example.com", "a".repeat(900_000));
        for bad in [
            "\tws@example.com",
            "ws@example.com\r\n",
            "line\u{2028}sep@example.com",
            "evil\u{202E}moc.elpmaxe@x",
            "nul\u{0}@example.com",
            " lead@example.com",
            "trail@example.com ",
            huge.as_str(),
        ] {
            let (s, e) = b
                .post("/Users", json!({"schemas": [USER], "userName": bad}))
                .await;
            assert_refused(s, &e, "userName");
            let (s, e) = b
                .put(
                    &format!("/Users/{user_id}"),
                    json!({"schemas": [USER], "userName": bad}),
                )
                .await;
            assert_refused(s, &e, "userName");
            let (s, e) = b
                .post("/Groups", json!({"schemas": [GROUP], "displayName": bad}))
                .await;
            assert_refused(s, &e, "displayName");
            let (s, e) = b
                .patch(
                    &format!("/Groups/{group_id}"),
                    patch_ops(json!([{"op": "replace", "path": "displayName", "value": bad}])),
                )
                .await;
            assert_refused(s, &e, "displayName");
        }
        // E-mails Tableau refuses (400000 "Invalid email address") never reach it.
        for bad in [
            "not-an-email",
            "a b@example.com",
            "a@@example.com",
            "@example.com",
        ] {
            let (s, e) = b
                .post(
                    "/Users",
                    json!({"schemas": [USER], "userName": unique("mail"),
                           "emails": [{"value": bad, "type": "work", "primary": true}]}),
                )
                .await;
            assert_refused(s, &e, "emails.value");
            let (s, e) = b
                .patch(
                    &format!("/Users/{user_id}"),
                    patch_ops(json!([{"op": "add", "path": "emails",
                                      "value": [{"value": bad, "type": "work"}]}])),
                )
                .await;
            assert_refused(s, &e, "emails.value");
        }
        // NUL in any string, other strings bounded.
        let (s, e) = b
            .patch(
                &format!("/Users/{user_id}"),
                patch_ops(json!([{"op": "replace", "path": "title", "value": "a\u{0}b"}])),
            )
            .await;
        assert_refused(s, &e, "title");
        let (s, e) = b
            .patch(
                &format!("/Users/{user_id}"),
                patch_ops(json!([{"op": "replace", "path": "title", "value": "t".repeat(1025)}])),
            )
            .await;
        assert_refused(s, &e, "title");
        // Types: a password object.
        let (s, e) = b
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": unique("pw"),
                       "password": {"nested": {"deep": true}}}),
            )
            .await;
        assert_refused(s, &e, "password");
        // "All Users", any case, is Tableau's built-in group.
        for name in ["All Users", "all users", "ALL USERS"] {
            let (s, e) = b
                .post("/Groups", json!({"schemas": [GROUP], "displayName": name}))
                .await;
            assert_refused(s, &e, "built-in");
            let (s, e) = b
                .put(
                    &format!("/Groups/{group_id}"),
                    json!({"schemas": [GROUP], "displayName": name}),
                )
                .await;
            assert_refused(s, &e, "built-in");
            let (s, e) = b
                .patch(
                    &format!("/Groups/{group_id}"),
                    patch_ops(json!([{"op": "replace", "value": {"displayName": name}}])),
                )
                .await;
            assert_refused(s, &e, "built-in");
        }
        assert_untouched(&b, ops, calls).await;
        let snap = b.snapshot();
        assert_eq!(
            snap.groups.iter().filter(|g| g.group.built_in).count(),
            1,
            "only Tableau's own All Users"
        );
        // The resources are as they were and still writable.
        let (s, u) = b
            .patch(
                &format!("/Users/{user_id}"),
                patch_ops(json!([{"op": "replace", "path": "active", "value": false}])),
            )
            .await;
        assert_eq!((s, &u["active"]), (200, &json!(false)), "{u}");
        // No operation is left running (the 503-for-ever of finding 2).
        assert!(
            b.operations(None)
                .await
                .iter()
                .all(|o| o.state != OperationState::Running)
        );
    })
    .await;
}

/// Finding 4: a member whose `type` disagrees with the resource it references is refused,
/// naming the member; SCIM and Tableau agree on the members that are accepted.
#[tokio::test]
async fn a_member_with_the_wrong_type_is_refused() {
    on_both_backends(|store| async move {
        let b = bridge(store).await;
        let name = format!("{}@example.com", unique("member"));
        let user_id = b.create_user(&name).await;
        let other_group = b.create_group(&unique("Inner"), &[]).await;
        let group_name = unique("Outer");
        let (ops, calls) = (b.operations(None).await.len(), b.tableau_calls());

        let wrong = json!([{"value": user_id, "type": "Group"}]);
        let (s, e) = b
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": group_name, "members": wrong}),
            )
            .await;
        assert_refused(s, &e, &user_id);
        assert!(e["detail"].as_str().unwrap().contains("is a User"), "{e}");
        let (s, e) = b
            .patch(
                &format!("/Groups/{other_group}"),
                patch_ops(json!([{"op": "add", "path": "members", "value": wrong}])),
            )
            .await;
        assert_refused(s, &e, &user_id);
        // The other way round: a group's id typed as a User.
        let (s, e) = b
            .patch(
                &format!("/Groups/{other_group}"),
                patch_ops(json!([{"op": "add", "path": "members",
                                  "value": [{"value": other_group, "type": "User"}]}])),
            )
            .await;
        assert_refused(s, &e, &other_group);
        assert_untouched(&b, ops, calls).await;

        // The right type (or none) is accepted, and Tableau has the member.
        let (s, g) = b
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": group_name,
                       "members": [{"value": user_id, "type": "User"}]}),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        assert_eq!(g["members"][0]["type"], "User");
        assert_eq!(b.tableau_group_members(&group_name), Some(vec![name]));
    })
    .await;
}

/// A client of the simulator signed in with the second PAT (the bridge uses the first).
fn outside_client(b: &Bridge) -> TableauClient {
    let mut settings = TableauSettings::new(
        b.sim.url(),
        b.sim.site_content_url(),
        TableauAuth::Pat {
            name: "bridge2".into(),
            secret: "bridge2-secret".into(),
        },
    );
    settings.requests_per_second = 1000;
    TableauClient::new(settings).unwrap()
}

/// Finding 3: a Tableau group found by name whose LUID another SCIM group holds is not linked
/// to a second resource: 409 uniqueness naming the holder, and nothing is stored.
#[tokio::test]
async fn a_luid_held_by_another_resource_is_not_linked_again() {
    on_both_backends(|store| async move {
        let b = bridge(store).await;
        let first_name = unique("Sales");
        let first = b.create_group(&first_name, &[]).await;
        // Someone renames the Tableau group outside tableau-scim.
        let tableau = outside_client(&b);
        let group = tableau
            .find_group_by_name(&first_name)
            .await
            .unwrap()
            .expect("the group is in Tableau");
        let renamed = unique("Marketing");
        tableau.rename_group(&group.luid, &renamed).await.unwrap();

        // A SCIM group of the new name meets Tableau's 409009 and finds the group by name:
        // its LUID belongs to `first`.
        let (s, e) = b
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": renamed}),
            )
            .await;
        assert_eq!(
            (s, e["scimType"].as_str()),
            (409, Some("uniqueness")),
            "{e}"
        );
        let detail = e["detail"].as_str().unwrap();
        assert!(
            detail.contains(&first) && detail.contains(&group.luid),
            "names the holder and the LUID: {detail}"
        );
        let (s, list) = b
            .get(&format!(
                "/Groups?filter={}",
                urlencode(&format!("displayName eq \"{renamed}\""))
            ))
            .await;
        assert_eq!((s, list["totalResults"].as_u64()), (200, Some(0)), "{list}");
        // The failed operation is journaled as failed, not left running.
        let failed = b
            .operations(None)
            .await
            .into_iter()
            .find(|o| o.method == "POST" && o.state == OperationState::Failed)
            .expect("a failed operation");
        assert_eq!(failed.response_status, Some(409));
        // Refused when linking (the step failed), not only by the store's unique index later.
        assert_eq!(failed.steps.len(), 1, "{failed:?}");
        assert_eq!(failed.steps[0].state, StepState::Failed, "{failed:?}");
        // The first group still holds its link.
        let held = b
            .store
            .find_by_luid(
                tableau_scim::store::DEFAULT_TENANT,
                tableau_scim::model::ResourceKind::Group,
                &group.luid,
            )
            .await
            .unwrap()
            .expect("linked");
        assert_eq!(held.id, first);
    })
    .await;
}

/// Finding 6: one `Idempotency-Key` on `DELETE /Users/A` then `DELETE /Users/B` (same empty
/// body): B is not answered from A's operation but refused with 422, and B is not deleted
/// only in appearance. The same for PATCH: D is not answered with C's resource.
#[tokio::test]
async fn an_idempotency_key_is_bound_to_method_path_and_body() {
    on_both_backends(|store| async move {
        let b = bridge(store).await;
        let a = b.create_user(&format!("{}@example.com", unique("a"))).await;
        let bee_name = format!("{}@example.com", unique("b"));
        let bee = b.create_user(&bee_name).await;
        let key = unique("key");
        let delete = |id: String| {
            b.request(Method::DELETE, &format!("/Users/{id}"), None)
                .header("Idempotency-Key", key.clone())
                .send()
        };
        assert_eq!(delete(a.clone()).await.unwrap().status(), 204);
        // Re-sent: the recorded 204.
        assert_eq!(delete(a.clone()).await.unwrap().status(), 204);
        let (s, e) = json_of(delete(bee.clone()).await.unwrap()).await;
        assert_eq!(s, 422, "{e}");
        assert!(
            e["detail"].as_str().unwrap().contains("another request"),
            "{e}"
        );
        let (s, _) = b.get(&format!("/Users/{bee}")).await;
        assert_eq!(s, 200, "B still exists");
        assert!(b.tableau_user(&bee_name).is_some(), "and still in Tableau");

        // PATCH to D with C's key and body.
        let c = b.create_user(&format!("{}@example.com", unique("c"))).await;
        let d = b.create_user(&format!("{}@example.com", unique("d"))).await;
        let body = patch_ops(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
        let key = unique("patch-key");
        let patch = |id: &str| {
            b.request(Method::PATCH, &format!("/Users/{id}"), Some(&body))
                .header("Idempotency-Key", key.clone())
                .send()
        };
        let (s, done) = json_of(patch(&c).await.unwrap()).await;
        assert_eq!((s, done["id"].as_str()), (200, Some(c.as_str())), "{done}");
        let (s, e) = json_of(patch(&d).await.unwrap()).await;
        assert_eq!(s, 422, "{e}");
        let (_, d_now) = b.get(&format!("/Users/{d}")).await;
        assert!(d_now.get("title").is_none(), "D unchanged: {d_now}");
        // The same key with another method on the same path is another request too.
        let (s, e) = json_of(
            b.request(Method::DELETE, &format!("/Users/{c}"), None)
                .header("Idempotency-Key", key.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        let (s, _) = b.get(&format!("/Users/{c}")).await;
        assert_eq!(s, 200, "C still exists");
    })
    .await;
}

/// A key is the credential's: another credential's request with the same key is its own
/// request, neither replayed nor refused.
#[tokio::test]
async fn an_idempotency_key_is_scoped_to_the_credential() {
    const OTHER_TOKEN: &str = "provision-test-token-other-9876543210";
    let b = spawn_bridge_with(SimConfig::default(), |s| {
        s.auth.tokens.push(OTHER_TOKEN.into())
    })
    .await;
    let first = b
        .create_user(&format!("{}@example.com", unique("one")))
        .await;
    let second = b
        .create_user(&format!("{}@example.com", unique("two")))
        .await;
    let key = unique("shared");
    let resp = b
        .request(Method::DELETE, &format!("/Users/{first}"), None)
        .header("Idempotency-Key", key.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = b
        .client
        .delete(format!("{}/Users/{second}", b.base_url))
        .bearer_auth(OTHER_TOKEN)
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (s, _) = b.get(&format!("/Users/{second}")).await;
    assert_eq!(s, 404, "the second credential's DELETE was carried out");
}

/// The same key re-sent while its first request is still being processed: 409 (IETF
/// Idempotency-Key draft), and Tableau sees one Add User.
#[tokio::test]
async fn an_idempotency_key_in_use_is_409() {
    on_both_backends(|store| async move {
        let b = Arc::new(bridge(store).await);
        b.sim
            .state()
            .add_fault(FaultRule::parse("POST:/api/*/sites/*/users=latency:1500ms").unwrap());
        let body =
            json!({"schemas": [USER], "userName": format!("{}@example.com", unique("slow"))});
        let key = unique("running");
        let first = {
            let (b, body, key) = (b.clone(), body.clone(), key.clone());
            tokio::spawn(async move { b.post_with_key("/Users", &body, &key).await })
        };
        eventually("the first POST is running", || async {
            b.operations(None)
                .await
                .iter()
                .any(|o| o.state == OperationState::Running)
        })
        .await;
        let resent = b
            .request(Method::POST, "/Users", Some(&body))
            .header("Idempotency-Key", key.clone())
            .send()
            .await
            .unwrap();
        assert!(resent.headers().contains_key("retry-after"));
        let (s, e) = json_of(resent).await;
        assert_eq!(s, 409, "{e}");
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .contains("still being processed")
        );
        let (s, u) = first.await.unwrap();
        assert_eq!(s, 201, "{u}");
        // Once it has finished, the key replays its outcome.
        let (s, again) = b.post_with_key("/Users", &body, &key).await;
        assert_eq!((s, &again["id"]), (201, &u["id"]), "{again}");
    })
    .await;
}
