//! The IdP apps made for Tableau's own SCIM service, pointed at the bridge unchanged: the Okta
//! catalog app "Tableau Cloud" and the Entra gallery app "Tableau Cloud". Their traffic is
//! Tableau's documented dialect (SCIM API "Add User": the `urn:…:tableau:3.0` extension with
//! `siteRoles` and `entitlements`, `siteRoles` evaluated first) in Okta's OIN request shapes
//! (reference §1.3), and Entra's `roles` as the gallery app maps app roles (reference §8.3,
//! E18). Each step is checked in the simulator.

use crate::harness::*;
use serde_json::{Value, json};

/// Tableau's Add User body, as the Okta app sends it.
fn tableau_add_user(user_name: &str, site_role: &str, entitlement: &str) -> Value {
    json!({
        "schemas": [USER, TABLEAU_EXT, TABLEAU_NATIVE_EXT],
        "userName": user_name,
        "name": {"familyName": "Doe", "givenName": "Jo"},
        "active": true,
        TABLEAU_NATIVE_EXT: {
            "siteRoles": [{"value": site_role}],
            "entitlements": [{"value": entitlement}]
        }
    })
}

#[tokio::test]
async fn okta_tableau_cloud_app_sets_site_roles_in_every_form() {
    let b = spawn_bridge().await;
    let name = "jo.doe@okta.local";
    // O0: Okta's connection test.
    let (s, l) = b.get("/Users?startIndex=1&count=2").await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(0)));
    // O1: existence check, then Tableau's Add User body; siteRoles wins over entitlements.
    let (s, l) = b
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=100",
            urlencode(&format!("userName eq \"{name}\""))
        ))
        .await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(0)));
    let (s, u) = b
        .post("/Users", tableau_add_user(name, "Creator", "Explorer"))
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role(name), "Creator");
    assert_eq!(
        b.tableau_user(name).unwrap().full_name.as_deref(),
        Some("Jo Doe")
    );
    let schemas = u["schemas"].as_array().unwrap();
    assert!(schemas.contains(&json!(TABLEAU_NATIVE_EXT)), "{u}");
    assert_eq!(
        u[TABLEAU_NATIVE_EXT]["siteRoles"],
        json!([{"value": "Creator"}])
    );
    let path = format!("/Users/{}", u["id"].as_str().unwrap());

    // O2: GET, then a full PUT with another site role.
    let (_, mut read) = b.get(&path).await;
    read[TABLEAU_NATIVE_EXT]["siteRoles"] = json!([{"value": "Explorer"}]);
    let (s, u) = b.put(&path, read).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Explorer");

    // PATCH, path-less, the extension object keyed by its URN.
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "replace", "value": {
                TABLEAU_NATIVE_EXT: {"siteRoles": [{"value": "SiteAdministratorExplorer"}]}}}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "SiteAdministratorExplorer");
    // PATCH with the attribute's full path (answered invalidPath before).
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "replace",
                "path": format!("{TABLEAU_NATIVE_EXT}:siteRoles"), "value": [{"value": "Viewer"}]}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Viewer");
    // Our `…:tableau:3.0:User` extension is read first; removing it falls back to Tableau's.
    let ours = format!("{TABLEAU_EXT}:siteRoles");
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "add", "path": ours, "value": [{"value": "Creator"}]}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Creator");
    let (s, u) = b
        .patch(&path, patch_ops(json!([{"op": "remove", "path": ours}])))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Viewer");
    // Removing the role by filter leaves entitlements to decide.
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "remove",
                "path": format!("{TABLEAU_NATIVE_EXT}:siteRoles[value eq \"Viewer\"]")}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert!(u[TABLEAU_NATIVE_EXT].get("siteRoles").is_none(), "{u}");
    assert_eq!(b.role(name), "Explorer", "entitlements decide");
    // Path-less, URN-qualified attribute name; add sets the one role.
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "add", "value": {
                format!("{TABLEAU_NATIVE_EXT}:entitlements"): [{"value": "Creator"}]}}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        u[TABLEAU_NATIVE_EXT]["entitlements"],
        json!([{"value": "Creator"}])
    );
    assert_eq!(b.role(name), "Creator");

    // An invalid role is refused before Tableau is called, naming the valid ones.
    let (s, e) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "replace",
                "path": format!("{TABLEAU_NATIVE_EXT}:siteRoles"), "value": [{"value": "Publisher"}]}])),
        )
        .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{e}"
    );
    assert_eq!(b.role(name), "Creator");

    // O3/O4: deactivation (Tableau: active false = unlicensed), reactivation restores it.
    let active = |v: bool| patch_ops(json!([{"op": "replace", "value": {"active": v}}]));
    assert_eq!(b.patch(&path, active(false)).await.0, 200);
    assert_eq!(b.role(name), "Unlicensed");
    assert_eq!(b.patch(&path, active(true)).await.0, 200);
    assert_eq!(b.role(name), "Creator");
    assert_eq!(b.tableau_user_names(), vec![name]);
}

#[tokio::test]
async fn schemas_endpoint_describes_both_tableau_extensions() {
    let b = spawn_bridge().await;
    for urn in [TABLEAU_EXT, TABLEAU_NATIVE_EXT] {
        let (s, schema) = b.get(&format!("/Schemas/{urn}")).await;
        assert_eq!(s, 200, "{schema}");
        let names: Vec<&str> = schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert!(
            names.contains(&"siteRoles") && names.contains(&"entitlements"),
            "{urn}: {names:?}"
        );
    }
    let (_, rt) = b.get("/ResourceTypes/User").await;
    let extensions: Vec<&str> = rt["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["schema"].as_str())
        .collect();
    assert!(extensions.contains(&TABLEAU_NATIVE_EXT), "{rt}");
}

fn entra_user(user_name: &str, roles: Value) -> Value {
    // The gallery app maps userName, active and roles only.
    json!({"schemas": [USER], "userName": user_name, "active": true, "roles": roles})
}

fn app_role(value: &str, primary: bool) -> Value {
    json!({"primary": primary, "type": "WindowsAzureActiveDirectoryRole", "display": value, "value": value})
}

#[tokio::test]
async fn entra_tableau_cloud_app_roles_set_the_site_role() {
    let b = spawn_bridge().await;
    let name = "adele@contoso.example";
    let (s, l) = b
        .get(&format!(
            "/Users?filter={}",
            urlencode(&format!("userName eq \"{name}\""))
        ))
        .await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(0)));
    // AppRoleAssignmentsComplex: every assigned app role, added one by one.
    let (s, u) = b
        .post(
            "/Users",
            entra_user(name, json!([app_role("Explorer", false)])),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role(name), "Explorer");
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    // A second assignment (another group with the Creator role): the highest wins, as Tableau.
    let (s, u) = b
        .patch(
            &path,
            patch_ops(
                json!([{"op": "Add", "path": "roles", "value": [app_role("Creator", false)]}]),
            ),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Creator");
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "Remove", "path": "roles", "value": [{"value": "Creator"}]}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Explorer");
    let (s, u) = b
        .patch(
            &path,
            patch_ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(name), "Unlicensed");

    // SingleAppRoleAssignment mapped to roles[primary eq "True"].value: a replace demotes.
    let single = "megan@contoso.example";
    let (s, u) = b
        .post(
            "/Users",
            entra_user(single, json!([app_role("Creator", true)])),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(b.role(single), "Creator");
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let (s, u) = b
        .patch(
            &path,
            patch_ops(
                json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value",
                "value": "Viewer"}]),
            ),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(b.role(single), "Viewer");

    // Groups and memberships, as the gallery app provisions them.
    let (s, g) = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Tableau - Creators", "members": []}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap();
    let (s, _) = b
        .patch(
            &format!("/Groups/{gid}"),
            patch_ops(json!([{"op": "Add", "path": "members",
                "value": [{"value": u["id"].as_str().unwrap()}]}])),
        )
        .await;
    assert_eq!(s, 204, "a group PATCH answers without a body");
    assert_eq!(
        b.tableau_group_members("Tableau - Creators"),
        Some(vec![single.to_string()])
    );
}
