//! A site-role demotion refused by Tableau (400012) because a "grant role on sign-in" group
//! holds the user's role up: the IdP gets a 409 naming the group and the fix, nothing changes
//! in Tableau or the store, the journal keeps the refusal, and the operation is not retried.

use crate::harness::*;
use reqwest::Method;
use serde_json::json;
use tableau_scim::store::OperationState;

fn set_role(role: &str) -> serde_json::Value {
    patch_ops(json!([{"op": "replace",
        "path": format!("{TABLEAU_NATIVE_EXT}:siteRoles"), "value": [{"value": role}]}]))
}

#[tokio::test]
async fn demotion_below_a_groups_minimum_names_the_group_and_the_fix() {
    let b = spawn_bridge().await;
    let (s, u) = b
        .post(
            "/Users",
            json!({"schemas": [USER, TABLEAU_NATIVE_EXT], "userName": "ana@example.com",
                TABLEAU_NATIVE_EXT: {"siteRoles": [{"value": "Creator"}]}}),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let luid = u[TABLEAU_EXT]["luid"].as_str().unwrap().to_string();
    // In Tableau, by hand: a group that grants Explorer on sign-in, with the user in it.
    let group = b
        .tableau_admin(
            Method::POST,
            "sites/{site}/groups",
            Some(json!({"group": {"name": "Finance Analysts", "minimumSiteRole": "Explorer"}})),
        )
        .await;
    let group_luid = group["group"]["id"].as_str().unwrap();
    b.tableau_admin(
        Method::POST,
        &format!("sites/{{site}}/groups/{group_luid}/users"),
        Some(json!({"user": {"id": luid}})),
    )
    .await;

    let (s, e) = b.patch(&format!("/Users/{id}"), set_role("Viewer")).await;
    assert_eq!(s, 409, "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("400012"), "{detail}");
    assert!(
        detail.contains("\"Finance Analysts\" (minimum site role Explorer)"),
        "{detail}"
    );
    assert!(
        detail.contains("Remove the user from it") && detail.contains("minimum site role"),
        "{detail}"
    );
    // Nothing changed: Tableau keeps the role, the store the old document.
    assert_eq!(b.role("ana@example.com"), "Creator");
    let (_, read) = b.get(&format!("/Users/{id}")).await;
    assert_eq!(
        read[TABLEAU_NATIVE_EXT]["siteRoles"],
        json!([{"value": "Creator"}])
    );
    // The journal shows the refusal: failed, the PUT's 400012, the explanation.
    let ops = b.operations(Some(&id)).await;
    let op = &ops[0];
    assert_eq!(op.state, OperationState::Failed);
    assert_eq!(op.response_status, Some(409));
    let step = op
        .steps
        .iter()
        .find(|s| s.tableau_code.as_deref() == Some("400012"))
        .expect("a step with Tableau's 400012");
    assert_eq!(step.method.as_deref(), Some("PUT"), "{step:?}");
    assert!(
        step.error
            .as_deref()
            .is_some_and(|e| e.contains("Finance Analysts")),
        "{step:?}"
    );

    // Permanent: the same request fails the same way again, and nothing is left running.
    let (s, again) = b.patch(&format!("/Users/{id}"), set_role("Viewer")).await;
    assert_eq!((s, &again["detail"]), (409, &e["detail"]));
    assert!(
        b.operations(Some(&id))
            .await
            .iter()
            .all(|o| o.state != OperationState::Running)
    );

    // The group's minimum itself is allowed, and then the fix works: out of the group, the
    // user can become a Viewer.
    let (s, u) = b.patch(&format!("/Users/{id}"), set_role("Explorer")).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role("ana@example.com"), "Explorer");
    b.tableau_admin(
        Method::DELETE,
        &format!("sites/{{site}}/groups/{group_luid}/users/{luid}"),
        None,
    )
    .await;
    let (s, u) = b.patch(&format!("/Users/{id}"), set_role("Viewer")).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role("ana@example.com"), "Viewer");
}

#[tokio::test]
async fn linking_an_existing_user_below_its_groups_minimum_names_the_group() {
    let b = spawn_bridge().await;
    // In Tableau before the IdP: the user, in a group that grants Creator on sign-in.
    let user = b
        .tableau_admin(
            Method::POST,
            "sites/{site}/users",
            Some(json!({"user": {"name": "old@example.com", "siteRole": "Creator"}})),
        )
        .await;
    let luid = user["user"]["id"].as_str().unwrap();
    let group = b
        .tableau_admin(
            Method::POST,
            "sites/{site}/groups",
            Some(json!({"group": {"name": "Authors", "minimumSiteRole": "Creator"}})),
        )
        .await;
    let group_luid = group["group"]["id"].as_str().unwrap();
    b.tableau_admin(
        Method::POST,
        &format!("sites/{{site}}/groups/{group_luid}/users"),
        Some(json!({"user": {"id": luid}})),
    )
    .await;
    // The IdP creates it as a Viewer: the bridge links the existing user, and Tableau refuses
    // the lower role.
    let (s, e) = b
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "old@example.com",
                TABLEAU_NATIVE_EXT: {"siteRoles": [{"value": "Viewer"}]}}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"Authors\" (minimum site role Creator)"),
        "{detail}"
    );
    // The user existed before: it stays, with its role, and nothing is stored.
    assert_eq!(b.role("old@example.com"), "Creator");
    assert_eq!(count_by_user_name(&b, "old@example.com").await, 0);
}
