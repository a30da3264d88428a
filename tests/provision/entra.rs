//! Microsoft Entra ID's documented traffic (reference §2.3, §2.4) end to end, in the default
//! shapes and with `?aadOptscim062020`; each step checked in the simulator.

use crate::harness::*;
use serde_json::{Value, json};

const FLAG: &str = "?aadOptscim062020";

pub(crate) fn entra_user(user_name: &str, email: &str, roles: Value) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": roles
    })
}

fn with_flag(path: &str, flagged: bool) -> String {
    if flagged {
        format!("{path}{FLAG}")
    } else {
        path.to_string()
    }
}

/// E1, E5/E6 profile changes, E17 manager, E18 app roles, E7 disable/enable, E8 delete.
async fn user_lifecycle(flagged: bool) {
    let b = spawn_bridge().await;
    let name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
    let (s, u) = b
        .post(
            &with_flag("/Users", flagged),
            entra_user(name, "Test_User_11bb11bb@testuser.com", json!([])),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let path = with_flag(&format!("/Users/{id}"), flagged);
    let t = b.tableau_user(name).expect("user in Tableau");
    assert_eq!(t.site_role.as_str(), "Viewer");
    assert_eq!(t.full_name.as_deref(), Some("givenName familyName"));
    assert_eq!(t.email.as_deref(), Some("Test_User_11bb11bb@testuser.com"));

    // Work e-mail and names: default = one Replace per attribute; flagged = a path-less
    // replace with dotted keys.
    let ops = if flagged {
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}])
    } else {
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "Replace", "path": "displayName", "value": "Bjfe"},
            {"op": "Replace", "path": "name.givenName", "value": "Kkom"},
            {"op": "Replace", "path": "name.familyName", "value": "Unua"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Aklq"}])
    };
    let (s, u) = b.patch(&path, patch_ops(ops)).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    let t = b.tableau_user(name).unwrap();
    assert_eq!(t.email.as_deref(), Some("TestMhvaes@test.microsoft.com"));
    assert_eq!(t.full_name.as_deref(), Some("Bjfe"));

    // E17 manager: a SCIM-only attribute, no Tableau call.
    b.count_tableau_calls();
    let calls = b.tableau_calls();
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        u[ENTERPRISE]["manager"]["value"],
        "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"
    );
    assert_eq!(
        b.tableau_calls(),
        calls,
        "a manager change needs no Tableau call"
    );

    // E18 app role "Creator" (AppRoleAssignmentsComplex only PATCH-adds roles).
    let (s, u) = b
        .patch(
            &path,
            patch_ops(
                json!([{"op": if flagged {"add"} else {"Add"}, "path": "roles", "value": [
            {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Creator"}]}]),
            ),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Creator");

    // E7 disable: the string "False" by default, a boolean with the flag.
    let (off, on) = if flagged {
        (json!(false), json!(true))
    } else {
        (json!("False"), json!("True"))
    };
    let op = if flagged { "replace" } else { "Replace" };
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": op, "path": "active", "value": off}])),
        )
        .await;
    assert_eq!((s, &u["active"]), (200, &json!(false)), "{u}");
    assert_eq!(b.role(name), "Unlicensed");
    assert_eq!(count_by_user_name(&b, name).await, 1);
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([{"op": op, "path": "active", "value": on}])),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b.role(name), "Creator", "enabling restores the app role");

    // E8 delete: the Tableau user goes.
    assert_eq!(b.delete(&path).await, 204);
    assert!(b.tableau_user(name).is_none());
    let (s, _) = b.get(&path).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn entra_user_lifecycle_default_shapes() {
    user_lifecycle(false).await;
}

#[tokio::test]
async fn entra_user_lifecycle_aad_opt_scim_062020() {
    user_lifecycle(true).await;
}

#[tokio::test]
async fn entra_app_role_on_create_sets_the_site_role() {
    let b = spawn_bridge().await;
    let roles =
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Creator"}]);
    let (s, u) = b
        .post(
            "/Users",
            entra_user("creator@testuser.com", "creator@testuser.com", roles),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("creator@testuser.com"), "Creator");
    // An app role that is not a site role is ignored: the default applies.
    let roles =
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "ADMIN"}]);
    let (s, u) = b
        .post(
            "/Users",
            entra_user("admin-role@testuser.com", "a@testuser.com", roles),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role("admin-role@testuser.com"), "Viewer");
}

async fn group_lifecycle(flagged: bool) {
    let b = spawn_bridge().await;
    let u1 = b.create_user("m1@testuser.com").await;
    let u2 = b.create_user("m2@testuser.com").await;
    let u3 = b.create_user("m3@testuser.com").await;
    // E9 create, with Microsoft's non-SCIM schema URI.
    let (s, g) = b.post(&with_flag("/Groups", flagged), json!({
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "EDU All personal",
        "meta": {"resourceType": "Group"}})).await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let path = with_flag(&format!("/Groups/{gid}"), flagged);
    assert_eq!(b.tableau_group_members("EDU All personal"), Some(vec![]));
    // E13: add members with "$ref": null.
    let add = if flagged { "add" } else { "Add" };
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([{"op": add, "path": "members", "value": [
        {"$ref": null, "value": u1}, {"$ref": null, "value": u2}, {"$ref": null, "value": u3}]}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("EDU All personal").unwrap(),
        vec!["m1@testuser.com", "m2@testuser.com", "m3@testuser.com"]
    );
    // E14: remove one member: a value array by default, a filter with the flag.
    let remove = if flagged {
        json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}])
    } else {
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}])
    };
    let (s, _) = b.patch(&path, patch_ops(remove)).await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("EDU All personal").unwrap(),
        vec!["m2@testuser.com", "m3@testuser.com"],
        "only the named member is removed"
    );
    // The other shape works too, whatever the flag.
    let remove = if flagged {
        json!([{"op": "Remove", "path": "members", "value": [{"value": u2}]}])
    } else {
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}])
    };
    let (s, _) = b.patch(&path, patch_ops(remove)).await;
    assert_eq!(s, 204);
    assert_eq!(
        b.tableau_group_members("EDU All personal").unwrap(),
        vec!["m3@testuser.com"]
    );
    // E12: rename.
    let op = if flagged { "replace" } else { "Replace" };
    let (s, _) = b
        .patch(
            &path,
            patch_ops(json!([{"op": op, "path": "displayName", "value": "EDU renamed"}])),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(b.tableau_group_names(), vec!["EDU renamed"]);
    assert_eq!(
        b.tableau_group_members("EDU renamed").unwrap(),
        vec!["m3@testuser.com"]
    );
    // E15: delete.
    assert_eq!(b.delete(&path).await, 204);
    assert!(b.tableau_group_names().is_empty());
    assert_eq!(b.tableau_user_names().len(), 3);
}

#[tokio::test]
async fn entra_group_lifecycle_default_shapes() {
    group_lifecycle(false).await;
}

#[tokio::test]
async fn entra_group_lifecycle_aad_opt_scim_062020() {
    group_lifecycle(true).await;
}
