//! Okta's documented traffic (reference §1.3 O0–O8) end to end: the OIN catalog app (PATCH)
//! and its Group Push, and the custom app (PUT only); each step checked in the simulator.

use crate::harness::*;
use serde_json::{Value, json};

pub(crate) fn okta_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn active(value: bool) -> Value {
    patch_ops(json!([{"op": "replace", "value": {"active": value}}]))
}

#[tokio::test]
async fn okta_oin_user_lifecycle_reaches_tableau() {
    let b = spawn_bridge().await;
    // O0: test connector configuration, nothing in Tableau yet.
    let (s, l) = b.get("/Users?startIndex=1&count=2").await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(0)));
    let (s, _) = b.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(s, 200);
    // O1: existence check, create.
    let (s, l) = b
        .get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")
        .await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(0)));
    let (s, u) = b
        .post(
            "/Users",
            okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let t = b
        .tableau_user("test.user@okta.local")
        .expect("user in Tableau");
    assert_eq!(t.site_role.as_str(), "Viewer", "the default site role");
    assert_eq!(t.full_name.as_deref(), Some("Test User"));
    assert_eq!(t.email.as_deref(), Some("test.user@okta.local"));
    assert_eq!(u[TABLEAU_EXT]["luid"], t.id.as_str());
    // A second POST of the same user: 409 uniqueness, still one Tableau user.
    let (s, e) = b
        .post(
            "/Users",
            okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"),
        )
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{e}"
    );
    assert_eq!(b.tableau_user_names(), vec!["test.user@okta.local"]);

    // O2: GET, then a full PUT echoing id, meta and groups, with a new profile.
    let (_, mut read) = b.get(&format!("/Users/{id}")).await;
    read["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    read["displayName"] = json!("Another Excited User");
    read["emails"] = json!([{"primary": true, "value": "another.user@okta.local", "type": "work"}]);
    read["meta"] = json!({"resourceType": "User", "created": "04-12-2018 00:00:00"});
    read["groups"] = json!([]);
    let (s, u) = b.put(&format!("/Users/{id}"), read).await;
    assert_eq!(s, 200, "{u}");
    let t = b.tableau_user("test.user@okta.local").unwrap();
    assert_eq!(t.full_name.as_deref(), Some("Another Excited User"));
    assert_eq!(t.email.as_deref(), Some("another.user@okta.local"));
    assert_eq!(t.site_role.as_str(), "Viewer");

    // O3: deactivate → Unlicensed, the user stays (content kept) and stays visible in SCIM.
    let (s, u) = b.patch(&format!("/Users/{id}"), active(false)).await;
    assert_eq!((s, &u["active"]), (200, &json!(false)), "{u}");
    assert_eq!(b.role("test.user@okta.local"), "Unlicensed");
    assert_eq!(count_by_user_name(&b, "test.user@okta.local").await, 1);
    // O4: reactivate → the computed role again.
    let (s, u) = b.patch(&format!("/Users/{id}"), active(true)).await;
    assert_eq!((s, &u["active"]), (200, &json!(true)));
    assert_eq!(b.role("test.user@okta.local"), "Viewer");
    assert_eq!(b.tableau_user_names(), vec!["test.user@okta.local"]);
}

#[tokio::test]
async fn okta_reactivation_restores_an_explicit_role() {
    let b = spawn_bridge().await;
    let mut body = okta_user("explorer@okta.local", "00uexp");
    body[TABLEAU_EXT] = json!({"siteRoles": [{"value": "Explorer"}]});
    let (s, u) = b.post("/Users", body).await;
    assert_eq!(s, 201, "{u}");
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    assert_eq!(b.role("explorer@okta.local"), "Explorer");
    assert_eq!(b.patch(&path, active(false)).await.0, 200);
    assert_eq!(b.role("explorer@okta.local"), "Unlicensed");
    assert_eq!(b.patch(&path, active(true)).await.0, 200);
    assert_eq!(b.role("explorer@okta.local"), "Explorer");
}

#[tokio::test]
async fn okta_group_push_reaches_tableau() {
    let b = spawn_bridge().await;
    let u1 = b.create_user("u1@okta.local").await;
    let u2 = b.create_user("u2@okta.local").await;
    let u3 = b.create_user("u3@okta.local").await;
    // O8 create, with no members.
    let (s, g) = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");
    assert_eq!(b.tableau_group_members("Test SCIMv2"), Some(vec![]));
    // Rename reconciliation with the id in the value, same name: nothing changes in Tableau.
    let (s, _) = b
        .patch(
            &path,
            patch_ops(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}]),
            ),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");
    assert_eq!(b.tableau_group_names(), vec!["Test SCIMv2"]);
    // Members added with one add of several values.
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "add", "path": "members", "value": [
        {"value": u1, "display": "u1@okta.local"}, {"value": u2, "display": "u2@okta.local"}]}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("Test SCIMv2").unwrap(),
        vec!["u1@okta.local", "u2@okta.local"]
    );
    // The documented membership change: remove by filter, then add.
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([
                {"op": "remove", "path": format!("members[value eq \"{u1}\"]")},
                {"op": "add", "path": "members", "value": [{"value": u3, "display": "u3@okta.local"}]}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("Test SCIMv2").unwrap(),
        vec!["u2@okta.local", "u3@okta.local"]
    );
    // Full push: replace all members.
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "replace", "path": "members", "value": [
        {"value": u1, "display": "u1@okta.local"}, {"value": u2, "display": "u2@okta.local"}]}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("Test SCIMv2").unwrap(),
        vec!["u1@okta.local", "u2@okta.local"]
    );
    // Rename (path-less value with the id, as Okta sends it).
    let (s, _) = b
        .patch(
            &path,
            patch_ops(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Okta Pushed"}}]),
            ),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");
    assert_eq!(b.tableau_group_names(), vec!["Okta Pushed"]);
    assert_eq!(
        b.tableau_group_members("Okta Pushed").unwrap(),
        vec!["u1@okta.local", "u2@okta.local"],
        "a rename keeps the members"
    );
    let (_, g) = b.get(&path).await;
    assert_eq!(g["displayName"], "Okta Pushed");
    // Delete the group in the target app: the group goes, its users stay.
    assert_eq!(b.delete(&path).await, 204);
    assert!(b.tableau_group_names().is_empty());
    assert_eq!(
        b.tableau_user_names(),
        vec!["u1@okta.local", "u2@okta.local", "u3@okta.local"]
    );
    let (s, _) = b.get(&path).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn okta_custom_app_put_only() {
    let b = spawn_bridge().await;
    let (s, u) = b
        .post("/Users", okta_user("aiw@okta.local", "00uaiw"))
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["id"].as_str().unwrap().to_string();
    assert_eq!(b.role("aiw@okta.local"), "Viewer");
    // Deactivation through PUT with active false, reactivation through PUT with true.
    let mut body = okta_user("aiw@okta.local", "00uaiw");
    body["active"] = json!(false);
    let (s, u) = b.put(&format!("/Users/{uid}"), body.clone()).await;
    assert_eq!((s, &u["active"]), (200, &json!(false)), "{u}");
    assert_eq!(b.role("aiw@okta.local"), "Unlicensed");
    body["active"] = json!(true);
    body["displayName"] = json!("Aiw Renamed");
    let (s, _) = b.put(&format!("/Users/{uid}"), body).await;
    assert_eq!(s, 200);
    let t = b.tableau_user("aiw@okta.local").unwrap();
    assert_eq!(
        (t.site_role.as_str(), t.full_name.as_deref()),
        ("Viewer", Some("Aiw Renamed"))
    );
}

#[tokio::test]
async fn okta_custom_app_group_put_moves_only_the_changed_members() {
    let b = spawn_bridge().await;
    let mut ids = Vec::new();
    for i in 0..31 {
        ids.push(b.create_user(&format!("m{i:02}@okta.local")).await);
    }
    let names = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("m{i:02}@okta.local")).collect()
    };
    let members = |sel: &[usize]| -> Value {
        Value::Array(
            sel.iter()
                .map(|&i| json!({"value": ids[i], "display": format!("m{i:02}@okta.local")}))
                .collect(),
        )
    };
    let gid = b.create_group("AIW Group", &[]).await;
    let path = format!("/Groups/{gid}");
    // The first full PUT: 30 members.
    let first: Vec<usize> = (0..30).collect();
    let (s, g) = b
        .put(
            &path,
            json!({"schemas": [GROUP], "id": gid, "displayName": "AIW Group", "members": members(&first)}),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(b.tableau_group_members("AIW Group").unwrap(), names(0..30));
    // The next PUT drops m00 and adds m30: exactly one removal and one addition go to Tableau.
    let before = b.operations(Some(&gid)).await.len();
    let second: Vec<usize> = (1..31).collect();
    let (s, g) = b
        .put(
            &path,
            json!({"schemas": [GROUP], "id": gid, "displayName": "AIW Group", "members": members(&second)}),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["members"].as_array().unwrap().len(), 30);
    assert_eq!(b.tableau_group_members("AIW Group").unwrap(), names(1..31));
    let ops = b.operations(Some(&gid)).await;
    assert_eq!(ops.len(), before + 1, "one journaled operation for the PUT");
    let steps: Vec<(String, usize)> = ops[0]
        .steps
        .iter()
        .map(|s| {
            (
                s.kind.clone(),
                s.description["user_ids"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("RemoveGroupMembers".to_string(), 1),
            ("AddGroupMembers".to_string(), 1)
        ]
    );
    // The same PUT again changes nothing: no operation, no Tableau call.
    b.count_tableau_calls();
    let calls = b.tableau_calls();
    let (s, _) = b
        .put(
            &path,
            json!({"schemas": [GROUP], "displayName": "AIW Group", "members": members(&second)}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b.operations(Some(&gid)).await.len(), before + 1);
    assert_eq!(b.tableau_calls(), calls, "no Tableau call");
    // Rename plus an emptied membership through PUT.
    let (s, g) = b
        .put(
            &path,
            json!({"schemas": [GROUP], "displayName": "AIW Group 2", "members": []}),
        )
        .await;
    assert_eq!((s, &g["members"]), (200, &json!([])), "{g}");
    assert_eq!(b.tableau_group_names(), vec!["AIW Group 2"]);
    assert_eq!(b.tableau_group_members("AIW Group 2"), Some(vec![]));
    assert_eq!(
        b.tableau_user_names().len(),
        31,
        "members leave the group, not the site"
    );
}
