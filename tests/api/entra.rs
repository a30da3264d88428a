//! Replays of Microsoft Entra ID's documented SCIM traffic (reference §2.3, §2.4), with and
//! without the `aadOptscim062020` flag.

use crate::helpers::*;
use crate::users::urlencode;
use serde_json::{Value, json};

fn entra_user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

async fn lifecycle(app: &TestApp, q: &str) {
    // E1 create, E3/E4 queries.
    let (s, u) = app.post(&format!("/Users{q}"), entra_user()).await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let sep = if q.is_empty() { "?" } else { "&" };
    let (_, b) = app
        .get(&format!(
            "/Users{q}{sep}filter={}",
            urlencode("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
        ))
        .await;
    assert_eq!(b["totalResults"], 1);
    let (_, b) = app
        .get(&format!(
            "/Users{q}{sep}filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22"
        ))
        .await;
    assert_eq!(b["totalResults"], 1);
    let (_, b) = app.get(&format!("/Users{q}{sep}filter={}", urlencode("emails[type eq \"work\"].value eq \"test_user_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com\""))).await;
    assert_eq!(b["totalResults"], 1);
    let (s, b) = app
        .get(&format!(
            "/Users{q}{sep}filter={}",
            urlencode("userName eq \"non-existent user\"")
        ))
        .await;
    assert_eq!(
        (s, b["totalResults"].as_u64(), b["Resources"].clone()),
        (200, Some(0), json!([]))
    );
    let (s, b) = app.get(&format!("/Users/5171a35d82074e068ce2{q}")).await;
    assert_error(s, &b, 404, None);
    let (s, _) = app.delete(&format!("/Users/{id}{q}")).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn user_lifecycle_default_and_flagged() {
    for q in ["", "?aadOptscim062020"] {
        let app = spawn_app().await;
        lifecycle(&app, q).await;
    }
}

#[tokio::test]
async fn user_updates_default_shapes() {
    let app = spawn_app().await;
    let (_, u) = app.post("/Users", entra_user()).await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    // E5: multi-valued and sub-attribute replace.
    let (s, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(b["emails"].as_array().unwrap().len(), 1);
    assert_eq!(b["name"]["familyName"], "updatedFamilyName");
    assert_eq!(
        b["name"]["formatted"], "givenName familyName",
        "stored as sent"
    );
    // Add on a valuePath whose element does not exist yet creates it.
    let (s, b) = app
        .patch(
            &path,
            json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"},
        {"op": "Add", "path": "nickName", "value": "Babs"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(b["addresses"][0]["locality"], "Seattle");
    assert_eq!(b["nickName"], "Babs");
    // E6: single-valued replace.
    let (s, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]})).await;
    assert_eq!(
        (s, b["userName"].as_str()),
        (
            200,
            Some("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com")
        )
    );
    // E17: manager as a bare string under the URN path; returned as an object.
    let (s, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"}]})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b[ENTERPRISE]["manager"]["value"],
        "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"
    );
    // E7: disable with the string "False" (default) and re-enable with "True".
    let (s, b) = app.patch(&path, json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}], "schemas": [PATCH_OP]})).await;
    assert_eq!((s, &b["active"]), (200, &json!(false)));
    let (_, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]})).await;
    assert_eq!(b["active"], true);
    // E8: delete, then 404.
    let (s, _) = app.delete(&path).await;
    assert_eq!(s, 204);
    let (s, b) = app.get(&path).await;
    assert_error(s, &b, 404, None);
}

#[tokio::test]
async fn user_updates_flagged_shapes() {
    let app = spawn_app().await;
    let (_, u) = app.post("/Users?aadOptscim062020", entra_user()).await;
    let path = format!("/Users/{}?aadOptscim062020", u["id"].as_str().unwrap());
    let (s, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}]})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    assert_eq!(b["displayName"], "Bjfe");
    assert_eq!(b["name"]["givenName"], "Kkom");
    assert_eq!(b["name"]["familyName"], "Unua");
    assert_eq!(b[ENTERPRISE]["employeeNumber"], "Aklq");
    let (_, b) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]})).await;
    assert_eq!(b["active"], false);
}

#[tokio::test]
async fn group_lifecycle_default_and_flagged() {
    let app = spawn_app().await;
    let u1 = app.create_user("m1@testuser.com").await;
    let u2 = app.create_user("m2@testuser.com").await;
    // E9: the non-SCIM Microsoft schema URI is accepted.
    let (s, g) = app.post("/Groups", json!({
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "EDU All personal", "meta": {"resourceType": "Group"}})).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["members"], json!([]));
    let gid = g["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");
    // E10, E11.
    let (_, g) = app.get(&format!("{path}?excludedAttributes=members")).await;
    assert!(g.get("members").is_none());
    let (_, l) = app
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22EDU+All+personal%22")
        .await;
    assert_eq!(l["totalResults"], 1);
    assert!(l["Resources"][0].get("members").is_none());
    // E13: add members with "$ref": null.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]}]})).await;
    assert_eq!(s, 204);
    // E14 default: Remove with a value array removes only those.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}]})).await;
    assert_eq!(s, 204);
    let (_, g) = app.get(&path).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    // E14 flagged: remove by filter.
    let (s, _) = app.patch(&format!("{path}?aadOptscim062020"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]})).await;
    assert_eq!(s, 204);
    let (_, g) = app.get(&path).await;
    assert_eq!(g["members"], json!([]));
    // E12: rename answers 204.
    let (s, _) = app.patch(&path, json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]})).await;
    assert_eq!(s, 204);
    // E15.
    let (s, _) = app.delete(&path).await;
    assert_eq!(s, 204);
}
