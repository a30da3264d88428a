//! Replays of Okta's documented SCIM 2.0 traffic (reference §1.3, §1.5): the OIN template
//! (PATCH) lifecycle, Group Push, the custom-app (PUT only) flavour and the Runscope SPEC test.

use crate::helpers::*;
use crate::users::urlencode;
use reqwest::Method;
use serde_json::{Value, json};

fn okta_user(user_name: &str, external_id: &str) -> Value {
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

#[tokio::test]
async fn oin_user_lifecycle() {
    let app = spawn_app().await;
    // O0: test connector configuration.
    let (s, b) = app.get("/Users?startIndex=1&count=2").await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            b["totalResults"].as_u64(),
            b["startIndex"].as_u64(),
            b["itemsPerPage"].as_u64()
        ),
        (Some(0), Some(1), Some(0))
    );
    let (s, _) = app.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(s, 200);
    // O1: existence check in both encodings, then create.
    let (s, b) = app
        .get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")
        .await;
    assert_eq!((s, b["totalResults"].as_u64()), (200, Some(0)));
    let (s, b) = app
        .post(
            "/Users",
            okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["active"], true);
    assert!(b.get("password").is_none());
    let (_, b) = app
        .get("/Users?filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100")
        .await;
    assert_eq!(b["totalResults"], 1);
    // Duplicate create is a 409.
    let (s, b) = app
        .post(
            "/Users",
            okta_user("test.user@okta.local", "00ujl29u0le5T6Aj10h7"),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));
    // O2: GET then full PUT echoing id, meta, groups.
    let (_, mut read) = app.get(&format!("/Users/{id}")).await;
    read["name"] = json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"});
    read["emails"][0]["display"] = json!("test.user@okta.local");
    read["meta"] = json!({"resourceType": "User", "created": "04-12-2018 00:00:00"});
    read["groups"] = json!([]);
    let (s, b) = app.put(&format!("/Users/{id}"), read).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["name"]["middleName"], "Excited");
    assert_eq!(b["active"], true);
    // O3: deactivate (path-less replace), the user stays visible; O4: reactivate.
    let (s, b) = app.patch(&format!("/Users/{id}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]})).await;
    assert_eq!(s, 200);
    assert_eq!(b["active"], false);
    let (_, b) = app
        .get(&format!(
            "/Users?filter={}",
            urlencode("userName eq \"test.user@okta.local\"")
        ))
        .await;
    assert_eq!(b["Resources"][0]["active"], false);
    let (_, b) = app.patch(&format!("/Users/{id}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": true}}]})).await;
    assert_eq!(b["active"], true);
}

#[tokio::test]
async fn group_push() {
    let app = spawn_app().await;
    let u1 = app.create_user("u1@okta.local").await;
    let u2 = app.create_user("u2@okta.local").await;
    let (s, g) = app
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");
    // Rename reconciliation with the id inside the value.
    let (s, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}]})).await;
    assert!(s == 204 || s == 200, "{s} {b}");
    // Membership change: removes by filter, then one add with several values.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": u1, "display": "u1@okta.local"}, {"value": u2, "display": "u2@okta.local"}]}]})).await;
    assert_eq!(s, 204);
    let (s, _) = app
        .patch(
            &path,
            json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{u1}\"]")},
        {"op": "add", "path": "members", "value": [{"value": u2, "display": "u2@okta.local"}]}]}),
        )
        .await;
    assert_eq!(s, 204);
    let (_, g) = app.get(&path).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    assert_eq!(g["members"][0]["value"], u2.as_str());
    // Full push: replace all members.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u2}]}]})).await;
    assert_eq!(s, 204);
    let (_, g) = app.get(&path).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    // Delete the group in the target app.
    let (s, _) = app.delete(&path).await;
    assert_eq!(s, 204);
    let (s, b) = app.get(&path).await;
    assert_error(s, &b, 404, None);
}

#[tokio::test]
async fn custom_app_put_only() {
    let app = spawn_app().await;
    let (_, u) = app
        .post("/Users", okta_user("aiw@okta.local", "00uaiw"))
        .await;
    let uid = u["id"].as_str().unwrap().to_string();
    // Deactivation through PUT with active false.
    let mut body = okta_user("aiw@okta.local", "00uaiw");
    body["active"] = json!(false);
    let (s, b) = app.put(&format!("/Users/{uid}"), body).await;
    assert_eq!((s, &b["active"]), (200, &json!(false)));
    // Membership and rename through PUT /Groups/{id}.
    let gid = app.create_group("AIW Group", &[]).await;
    let (s, g) = app.put(&format!("/Groups/{gid}"), json!({"schemas": [GROUP], "id": gid, "displayName": "AIW Group 2", "members": [{"value": uid, "display": "aiw@okta.local"}]})).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["displayName"], "AIW Group 2");
    assert_eq!(g["members"][0]["value"], uid.as_str());
    let (s, g) = app
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP], "displayName": "AIW Group 2", "members": []}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(g["members"], json!([]));
}

#[tokio::test]
async fn runscope_spec_test() {
    let app = spawn_app().await;
    app.post("/Users", okta_user("seed@okta.local", "00useed"))
        .await;
    let (s, b) = app.get("/Users?count=1&startIndex=1").await;
    assert_eq!(s, 200);
    let r0 = &b["Resources"][0];
    for k in ["id", "userName", "active"] {
        assert!(r0.get(k).is_some(), "{k}");
    }
    assert!(r0["name"]["familyName"].is_string() && r0["emails"][0]["value"].is_string());
    // Literal spaces and quotes, as Runscope sends them (reqwest encodes them).
    let resp = app
        .request(
            Method::GET,
            "/Users?filter=userName eq \"nobody@okta.local\"",
        )
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_eq!((s, b["totalResults"].as_u64()), (200, Some(0)));
    let (s, b) = app.get("/Users/010101001010101011001010101011").await;
    assert_error(s, &b, 404, None);
    let (s, _) = app
        .get(&format!(
            "/Users?filter={}",
            urlencode("userName eq \"SEED@OKTA.LOCAL\"")
        ))
        .await;
    assert_eq!(s, 200);
    let resp = app
        .client
        .get(app.url("/Users?filter=userName%20eq%20%22x%22"))
        .header("Authorization", "non-token")
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 401, None);
}
