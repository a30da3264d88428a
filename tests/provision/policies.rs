//! Provisioning policies end to end: where a site role comes from (the Tableau extension under
//! both URNs, `roles`, group rules), userName immutability, linking existing Tableau users and
//! groups, licence exhaustion, invalid roles and content-owning users.

use crate::harness::*;
use serde_json::{Value, json};
use tableau_scim::config::Settings;
use tableau_scim::provision::rules::GroupRoleRule;
use tableau_scim::provision::site_role::SiteRole;
use tableau_scim::store::OperationState;
use tableau_sim::{LicenceTier, SimConfig};

fn user(name: &str, extra: Value) -> Value {
    let mut u = json!({"schemas": [USER], "userName": name, "displayName": name,
        "emails": [{"value": name, "primary": true}]});
    for (k, v) in extra.as_object().unwrap() {
        u[k] = v.clone();
    }
    u
}

fn group_rules(settings: &mut Settings) {
    settings.provision.group_roles = vec![
        GroupRoleRule {
            group: "Creators".into(),
            site_role: SiteRole::Creator,
        },
        GroupRoleRule {
            group: "Explorers".into(),
            site_role: SiteRole::Explorer,
        },
    ];
}

#[tokio::test]
async fn site_role_from_the_tableau_extension_under_both_urns() {
    let b = spawn_bridge().await;
    let (s, u) = b
        .post("/Users", user("ours@example.com",
            json!({TABLEAU_EXT: {"siteRoles": [{"value": "Viewer"}, {"value": "ExplorerCanPublish"}]}})))
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(
        b.role("ours@example.com"),
        "ExplorerCanPublish",
        "the highest wins"
    );
    // Tableau's own SCIM URN (no `:User` suffix), as an IdP app mapped for Tableau sends it.
    let (s, u) = b
        .post(
            "/Users",
            json!({"schemas": [USER, TABLEAU_NATIVE_EXT], "userName": "native@example.com",
            TABLEAU_NATIVE_EXT: {"siteRoles": [{"value": "Creator"}]}}),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("native@example.com"), "Creator");
    // A PUT with the native extension changes the role in Tableau (a PATCH path into this
    // URN is refused: the scim layer keeps it verbatim as an unknown extension).
    let id = u["id"].as_str().unwrap().to_string();
    let (s, u) = b
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER, TABLEAU_NATIVE_EXT], "userName": "native@example.com",
            TABLEAU_NATIVE_EXT: {"siteRoles": [{"value": "Explorer"}]}}),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role("native@example.com"), "Explorer");
    // A PATCH of our extension's attribute path changes the role too.
    let (_, l) = b
        .get(&format!(
            "/Users?filter={}",
            urlencode("userName eq \"ours@example.com\"")
        ))
        .await;
    let ours = l["Resources"][0]["id"].as_str().unwrap().to_string();
    let (s, u) = b
        .patch(
            &format!("/Users/{ours}"),
            patch_ops(
                json!([{"op": "replace", "path": format!("{TABLEAU_EXT}:siteRoles"),
                "value": [{"value": "SiteAdministratorCreator"}]}]),
            ),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role("ours@example.com"), "SiteAdministratorCreator");
    // `roles` (Entra app roles) when the extension names none.
    let (s, u) = b
        .post(
            "/Users",
            user(
                "roles@example.com",
                json!({"roles": [{"value": "Explorer"}]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("roles@example.com"), "Explorer");
}

#[tokio::test]
async fn group_rules_follow_membership_and_renames() {
    let b = spawn_bridge_with(SimConfig::default(), group_rules).await;
    let ada = b.create_user("ada@example.com").await;
    let bob = b.create_user("bob@example.com").await;
    assert_eq!(b.role("ada@example.com"), "Viewer", "no rule applies yet");
    // A group created with members applies its rule.
    let explorers = b
        .create_group("Explorers", &[ada.clone(), bob.clone()])
        .await;
    assert_eq!(b.role("ada@example.com"), "Explorer");
    assert_eq!(b.role("bob@example.com"), "Explorer");
    // Added to "Creators" (case-insensitive rule match): the highest role wins.
    let creators = b.create_group("creators", &[]).await;
    let cpath = format!("/Groups/{creators}");
    let (s, _) = b
        .patch(
            &cpath,
            patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": ada}]}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.role("ada@example.com"), "Creator");
    assert_eq!(b.role("bob@example.com"), "Explorer");
    assert_eq!(
        b.tableau_group_members("creators").unwrap(),
        vec!["ada@example.com"]
    );
    // Removed from it: back to the next rule.
    let (s, _) = b
        .patch(
            &cpath,
            patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.role("ada@example.com"), "Explorer");
    // Removed from every rule's group: the default.
    let (s, _) = b
        .patch(
            &format!("/Groups/{explorers}"),
            patch_ops(json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.role("ada@example.com"), "Viewer");
    // Renaming a group recomputes its members' roles: away from a rule, then onto one.
    let (s, _) = b
        .patch(
            &format!("/Groups/{explorers}"),
            patch_ops(
                json!([{"op": "replace", "path": "displayName", "value": "Former Explorers"}]),
            ),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.role("bob@example.com"), "Viewer");
    assert_eq!(
        b.tableau_group_names(),
        vec!["Former Explorers", "creators"]
    );
    let (s, _) = b
        .patch(
            &format!("/Groups/{explorers}"),
            patch_ops(json!([{"op": "replace", "path": "displayName", "value": "Creators"}])),
        )
        .await;
    assert_eq!(s, 409, "the name is taken (case-insensitively)");
    assert_eq!(
        b.role("bob@example.com"),
        "Viewer",
        "a refused rename changes nothing"
    );
    assert_eq!(b.delete(&cpath).await, 204);
    let (s, _) = b
        .patch(
            &format!("/Groups/{explorers}"),
            patch_ops(json!([{"op": "replace", "path": "displayName", "value": "Creators"}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.role("bob@example.com"), "Creator");
    // Deleting the group recomputes too.
    assert_eq!(b.delete(&format!("/Groups/{explorers}")).await, 204);
    assert_eq!(b.role("bob@example.com"), "Viewer");
    // Deactivation wins over every rule, and reactivation restores the computed role.
    b.create_group("Creators", std::slice::from_ref(&bob)).await;
    assert_eq!(b.role("bob@example.com"), "Creator");
    let bpath = format!("/Users/{bob}");
    let (s, _) = b
        .patch(
            &bpath,
            patch_ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b.role("bob@example.com"), "Unlicensed");
    let (s, _) = b
        .patch(
            &bpath,
            patch_ops(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b.role("bob@example.com"), "Creator");
    assert_eq!(
        b.tableau_group_members("Creators").unwrap(),
        vec!["bob@example.com"]
    );
}

#[tokio::test]
async fn an_explicit_role_is_not_raised_by_a_group_rule() {
    let b = spawn_bridge_with(SimConfig::default(), group_rules).await;
    let (s, u) = b
        .post(
            "/Users",
            user(
                "pinned@example.com",
                json!({TABLEAU_EXT: {"siteRoles": [{"value": "Viewer"}]}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    b.create_group("Creators", &[id]).await;
    assert_eq!(b.role("pinned@example.com"), "Viewer");
}

#[tokio::test]
async fn user_name_change_is_refused_and_changes_nothing() {
    let b = spawn_bridge().await;
    let (s, u) = b.post("/Users", user("fixed@example.com", json!({}))).await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let ops_before = b.operations(Some(&id)).await.len();
    b.count_tableau_calls();
    let calls = b.tableau_calls();
    let (s, e) = b
        .patch(
            &path,
            patch_ops(json!([
                {"op": "replace", "path": "userName", "value": "renamed@example.com"},
                {"op": "replace", "path": "displayName", "value": "Renamed"}])),
        )
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("mutability")),
        "{e}"
    );
    assert!(e["detail"].as_str().unwrap().contains("immutable"), "{e}");
    let (_, u) = b.get(&path).await;
    assert_eq!(
        (u["userName"].as_str(), u["displayName"].as_str()),
        (Some("fixed@example.com"), Some("fixed@example.com"))
    );
    assert_eq!(b.tableau_user_names(), vec!["fixed@example.com"]);
    assert_eq!(
        b.tableau_user("fixed@example.com")
            .unwrap()
            .full_name
            .as_deref(),
        Some("fixed@example.com")
    );
    assert_eq!(b.tableau_calls(), calls, "no Tableau call");
    assert_eq!(
        b.operations(Some(&id)).await.len(),
        ops_before,
        "nothing journaled"
    );
    // The same through PUT.
    let (s, e) = b.put(&path, user("renamed@example.com", json!({}))).await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("mutability")),
        "{e}"
    );
    // A change of case only names the same Tableau user: accepted, no new Tableau user.
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "replace", "path": "userName", "value": "Fixed@Example.com"}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["userName"], "Fixed@Example.com");
    assert_eq!(b.tableau_user_names(), vec!["fixed@example.com"]);
}

#[tokio::test]
async fn existing_tableau_user_and_group_are_linked() {
    // A first bridge (with its own store) leaves a user and a group in Tableau; a second bridge
    // with an empty store then provisions the same names.
    let first = spawn_bridge().await;
    let old = first.create_user("linked@example.com").await;
    first.create_group("Linked Group", &[old]).await;
    let luid = first.tableau_user("linked@example.com").unwrap().id;
    let gluid = first
        .snapshot()
        .groups
        .into_iter()
        .find(|g| g.group.name == "Linked Group")
        .unwrap()
        .group
        .id;

    let b = spawn_bridge_on(first.sim.clone(), use_second_pat).await;
    let (s, u) = b
        .post("/Users", user("LINKED@example.com",
            json!({"displayName": "Linked Again", TABLEAU_EXT: {"siteRoles": [{"value": "Explorer"}]}})))
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(
        u[TABLEAU_EXT]["luid"],
        luid.as_str(),
        "the existing Tableau user is linked"
    );
    assert_eq!(
        b.tableau_user_names(),
        vec!["linked@example.com"],
        "one Tableau user"
    );
    let t = b.tableau_user("linked@example.com").unwrap();
    assert_eq!(
        (t.site_role.as_str(), t.full_name.as_deref()),
        ("Explorer", Some("Linked Again"))
    );
    let id = u["id"].as_str().unwrap().to_string();
    let op = &b.operations(Some(&id)).await[0];
    assert!(
        op.steps[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("linked the existing Tableau user"),
        "the journal says so: {:?}",
        op.steps[0]
    );
    // The group: linked by name (409009), members brought in line.
    let other = b.create_user("other@example.com").await;
    let gid = b.create_group("linked group", &[other]).await;
    assert_eq!(
        b.tableau_group_names(),
        vec!["Linked Group"],
        "one Tableau group"
    );
    assert_eq!(
        b.tableau_group_members("Linked Group").unwrap(),
        vec!["linked@example.com", "other@example.com"],
        "the bridge adds its members and leaves the others"
    );
    let op = &b.operations(Some(&gid)).await[0];
    assert!(
        op.steps[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("linked the existing Tableau group")
    );
    assert_eq!(op.steps[0].luid.as_deref(), Some(gluid.as_str()));
    // From now on the linked group is managed: a rename renames the Tableau group.
    let (s, _) = b
        .patch(
            &format!("/Groups/{gid}"),
            patch_ops(json!([{"op": "replace", "path": "displayName", "value": "Relinked"}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.tableau_group_names(), vec!["Relinked"]);
}

#[tokio::test]
async fn licence_exhaustion_is_a_clear_error_and_commits_nothing() {
    let b = spawn_bridge().await;
    let used = b.snapshot().seats["Creator"].used;
    b.sim
        .state()
        .set_seats(LicenceTier::Creator, Some(used + 1));
    let creator = |name: &str| {
        user(
            name,
            json!({TABLEAU_EXT: {"siteRoles": [{"value": "Creator"}]}}),
        )
    };
    let (s, u) = b.post("/Users", creator("first@example.com")).await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("first@example.com"), "Creator");
    // The second Creator: Tableau downgrades silently; the bridge reads the role back.
    let (s, e) = b.post("/Users", creator("second@example.com")).await;
    assert_eq!(s, 409, "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("licence") && detail.contains("Creator"),
        "{detail}"
    );
    assert_eq!(
        count_by_user_name(&b, "second@example.com").await,
        0,
        "nothing committed"
    );
    let failed: Vec<_> = b
        .operations(None)
        .await
        .into_iter()
        .filter(|o| o.state == OperationState::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "the journal shows the failed operation");
    assert_eq!(
        (failed[0].method.as_str(), failed[0].response_status),
        ("POST", Some(409))
    );
    assert!(failed[0].path.ends_with("/Users"), "{}", failed[0].path);
    assert!(
        failed[0].error_body.as_ref().unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("licence")
    );
    // The user Tableau added anyway (as Unlicensed) is removed again: as if the request never
    // came (issue 9, compensation).
    assert!(b.tableau_user("second@example.com").is_none());
    assert!(failed[0].steps.iter().any(|s| s.kind == "undo:RemoveUser"));
    // An update to Creator on a full tier (409014) fails the same way and changes nothing.
    let viewer = b.create_user("viewer@example.com").await;
    let vpath = format!("/Users/{viewer}");
    let (s, e) = b
        .patch(&vpath, patch_ops(json!([{"op": "add", "path": format!("{TABLEAU_EXT}:siteRoles"), "value": [{"value": "Creator"}]}])))
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("409014"), "{e}");
    let (_, v) = b.get(&vpath).await;
    assert!(
        v.get(TABLEAU_EXT)
            .is_none_or(|x| x.get("siteRoles").is_none()),
        "{v}"
    );
    assert_eq!(b.role("viewer@example.com"), "Viewer");
    // Once a licence is free, the IdP's retry succeeds and links the user Tableau kept.
    b.sim
        .state()
        .set_seats(LicenceTier::Creator, Some(used + 2));
    let (s, u) = b.post("/Users", creator("second@example.com")).await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("second@example.com"), "Creator");
    assert_eq!(
        b.tableau_user_names()
            .iter()
            .filter(|n| *n == "second@example.com")
            .count(),
        1
    );
}

#[tokio::test]
async fn invalid_site_role_is_refused_before_any_tableau_call() {
    let b = spawn_bridge().await;
    b.count_tableau_calls();
    let calls = b.tableau_calls();
    let (s, e) = b
        .post(
            "/Users",
            user(
                "bad@example.com",
                json!({TABLEAU_EXT: {"siteRoles": [{"value": "Publisher"}]}}),
            ),
        )
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{e}"
    );
    assert!(
        e["detail"].as_str().unwrap().contains("Creator"),
        "names the valid roles: {e}"
    );
    assert_eq!(b.tableau_calls(), calls, "no Tableau call");
    assert!(b.operations(None).await.is_empty(), "nothing journaled");
    assert_eq!(count_by_user_name(&b, "bad@example.com").await, 0);
    assert!(b.tableau_user_names().is_empty());
    // On an existing user too: the role stays.
    let id = b.create_user("good@example.com").await;
    let calls = b.tableau_calls();
    let (s, e) = b
        .patch(&format!("/Users/{id}"), patch_ops(json!([{"op": "add", "path": format!("{TABLEAU_EXT}:siteRoles"), "value": [{"value": "ServerAdministrator"}]}])))
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{e}"
    );
    assert_eq!(b.tableau_calls(), calls);
    assert_eq!(b.role("good@example.com"), "Viewer");
}

#[tokio::test]
async fn content_owner_deleted_without_and_with_a_content_owner() {
    // Without provision.content_owner: 204, and Tableau keeps the user, Unlicensed.
    let b = spawn_bridge().await;
    let id = b.create_user("owner@example.com").await;
    b.sim
        .state()
        .set_owns_content("owner@example.com", true)
        .unwrap();
    assert_eq!(b.delete(&format!("/Users/{id}")).await, 204);
    let (s, _) = b.get(&format!("/Users/{id}")).await;
    assert_eq!(s, 404);
    assert_eq!(b.role("owner@example.com"), "Unlicensed");
    let op = &b.operations(Some(&id)).await[0];
    assert_eq!(op.state, OperationState::Succeeded);
    assert!(
        op.steps[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("409003"),
        "{:?}",
        op.steps[0]
    );

    // With content_owner = an existing Tableau user: the content moves, the user goes.
    let b = spawn_bridge_with(SimConfig::default(), |s| {
        s.provision.content_owner = Some("admin".into());
    })
    .await;
    let id = b.create_user("owner@example.com").await;
    b.sim
        .state()
        .set_owns_content("owner@example.com", true)
        .unwrap();
    assert_eq!(b.delete(&format!("/Users/{id}")).await, 204);
    assert!(b.tableau_user("owner@example.com").is_none());
    let (s, _) = b.get(&format!("/Users/{id}")).await;
    assert_eq!(s, 404);
}
