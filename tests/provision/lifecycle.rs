use crate::harness::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn user_and_group_lifecycle_reaches_tableau() {
    let b = spawn_bridge().await;
    let (s, u) = b
        .call(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "ada@example.com",
            "displayName": "Ada Lovelace", "emails": [{"value": "ada@example.com", "primary": true}],
            TABLEAU_EXT: {"siteRoles": [{"value": "Creator"}]}})))
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let t = b.tableau_user("ada@example.com").expect("user in Tableau");
    assert_eq!(t.site_role.as_str(), "Creator");
    assert_eq!(t.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(t.email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        u[TABLEAU_EXT]["luid"],
        t.id.as_str(),
        "the LUID is returned"
    );

    let (s, g) = b
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "Analysts", "members": [{"value": id}]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(
        b.tableau_group_members("Analysts"),
        Some(vec!["ada@example.com".to_string()])
    );

    let (s, _) = b.call(Method::PATCH, &format!("/Users/{id}"), Some(json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]}))).await;
    assert_eq!(s, 200);
    assert_eq!(
        b.tableau_user("ada@example.com")
            .unwrap()
            .site_role
            .as_str(),
        "Unlicensed"
    );

    let (s, _) = b
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(s, 204);
    assert!(b.tableau_group_members("Analysts").is_none());
    let (s, _) = b.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(s, 204);
    assert!(b.tableau_user("ada@example.com").is_none());
}
