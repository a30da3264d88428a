use crate::helpers::*;
use serde_json::{Value, json};

fn member_ids(b: &Value) -> Vec<String> {
    let mut v: Vec<String> = b["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn group_with_members_and_computed_user_groups() {
    let app = spawn_app().await;
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let (s, b) = app.post("/Groups", json!({"schemas": [GROUP], "displayName": "Sales",
        "members": [{"value": alice, "display": "alice"}, {"value": bob, "type": "User", "$ref": null}]})).await;
    assert_eq!(s, 201, "{b}");
    let gid = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["members"].as_array().unwrap().len(), 2);
    assert!(b["members"][0].get("display").is_none());
    assert_eq!(b["members"][0]["type"], "User");
    let (_, u) = app.get(&format!("/Users/{alice}")).await;
    assert_eq!(
        u["groups"],
        json!([{"value": gid, "$ref": format!("{}/Groups/{gid}", app.base_url), "display": "Sales", "type": "direct"}])
    );
    let (s, b) = app
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert_eq!(s, 200);
    assert!(b.get("members").is_none());
    let (_, b) = app
        .get("/Groups?filter=displayName%20eq%20%22sales%22&excludedAttributes=members")
        .await;
    assert_eq!(b["totalResults"], 1);
    assert!(b["Resources"][0].get("members").is_none());
}

#[tokio::test]
async fn display_name_is_unique_case_insensitively() {
    let app = spawn_app().await;
    app.create_group("Tableau Admins", &[]).await;
    let (s, b) = app
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "TABLEAU admins"}),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));
}

#[tokio::test]
async fn unknown_member_is_invalid_value() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": "nope"}]}),
        )
        .await;
    assert_error(s, &b, 400, Some("invalidValue"));
}

#[tokio::test]
async fn patch_members_answers_204_unless_attributes_given() {
    let app = spawn_app().await;
    let a = app.create_user("a@example.com").await;
    let b_ = app.create_user("b@example.com").await;
    let c = app.create_user("c@example.com").await;
    let gid = app.create_group("Team", &[&a]).await;
    let path = format!("/Groups/{gid}");
    let (s, body) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": b_}, {"value": c}]}]})).await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(body, Value::Null);
    let (s, body) = app.patch(&format!("{path}?attributes=members"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]})).await;
    assert_eq!(s, 200);
    let mut want = vec![b_.clone(), c.clone()];
    want.sort();
    assert_eq!(member_ids(&body), want);
    assert!(body.get("displayName").is_none());
    // Entra: remove with a value array removes only those members.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members", "value": [{"value": c}]}]})).await;
    assert_eq!(s, 204);
    let (_, g) = app.get(&path).await;
    assert_eq!(member_ids(&g), vec![b_.clone()]);
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_groups() {
    let app = spawn_app().await;
    let a = app.create_user("leaver@example.com").await;
    let gid = app.create_group("Leavers", &[&a]).await;
    app.delete(&format!("/Users/{a}")).await;
    let (_, g) = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g["members"], json!([]));
}

#[tokio::test]
async fn concurrent_member_patches_lose_nothing() {
    let app = spawn_app().await;
    let gid = app.create_group("Crowd", &[]).await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(app.create_user(&format!("crowd{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for u in users.clone() {
        let client = app.client.clone();
        let url = app.url(&format!("/Groups/{gid}"));
        tasks.push(tokio::spawn(async move {
            let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]});
            client.patch(url).bearer_auth(TOKEN).header("Content-Type", SCIM).body(body.to_string()).send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let (_, g) = app.get(&format!("/Groups/{gid}")).await;
    users.sort();
    assert_eq!(member_ids(&g), users);
}

#[tokio::test]
async fn put_group_diffs_membership() {
    let app = spawn_app().await;
    let a = app.create_user("pa@example.com").await;
    let b_ = app.create_user("pb@example.com").await;
    let gid = app.create_group("PutGroup", &[&a]).await;
    let (s, g) = app.put(&format!("/Groups/{gid}"), json!({"schemas": [GROUP], "id": gid, "displayName": "PutGroup renamed", "members": [{"value": b_}]})).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(member_ids(&g), vec![b_.clone()]);
    assert_eq!(g["displayName"], "PutGroup renamed");
    // A PUT without members keeps them.
    let (_, g) = app
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP], "displayName": "PutGroup"}),
        )
        .await;
    assert_eq!(member_ids(&g), vec![b_]);
}
