use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn service_provider_config_is_truthful() {
    let app = spawn_app().await;
    let (s, b) = app.get("/ServiceProviderConfig").await;
    assert_eq!(s, 200);
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], false);
    assert_eq!(b["filter"]["supported"], true);
    assert_eq!(b["filter"]["maxResults"], 1000);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert!(
        b["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/scim/v2/ServiceProviderConfig")
    );
}

#[tokio::test]
async fn schemas_list_and_lookup() {
    let app = spawn_app().await;
    let (s, b) = app.get("/Schemas").await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 5);
    let ids: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:tableau:3.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:tableau:3.0"));
    let (s, b) = app.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(s, 200);
    assert_eq!(b["id"], USER);
    assert_eq!(b["meta"]["resourceType"], "Schema");
    let user_name = b["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    let (s, b) = app.get("/Schemas/urn:nope").await;
    assert_error(s, &b, 404, None);
}

#[tokio::test]
async fn resource_types_list_and_lookup() {
    let app = spawn_app().await;
    let (s, b) = app.get("/ResourceTypes").await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 2);
    let (s, b) = app.get("/ResourceTypes/User").await;
    assert_eq!(s, 200);
    assert_eq!(b["endpoint"], "/Users");
    assert_eq!(b["schemaExtensions"][0]["schema"], ENTERPRISE);
    let (s, b) = app.get("/ResourceTypes/Nope").await;
    assert_error(s, &b, 404, None);
}

#[tokio::test]
async fn discovery_endpoints_are_read_only() {
    let app = spawn_app().await;
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/ResourceTypes/User",
    ] {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let (s, b) = json_of(app.send(m.clone(), path, Some(json!({}))).await).await;
            assert_error(s, &b, 405, None);
        }
    }
}

#[tokio::test]
async fn unknown_endpoint_is_a_scim_404() {
    let app = spawn_app().await;
    let (s, b) = app.get("/Nope").await;
    assert_error(s, &b, 404, None);
    let (s, b) = app.get("/Me").await;
    assert!(s == 404 || s == 501, "{b}");
}

/// `/Users` and `/Groups` are served under their names as RFC 7643 spells them and in any other
/// case, with the same answers; methods a path does not take are 405.
#[tokio::test]
async fn resource_endpoints_in_any_case() {
    let app = spawn_app().await;
    let (s, created) = app
        .post(
            "/users",
            json!({"schemas": [USER], "userName": "any.case@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    for base in ["/Users", "/users", "/USERS"] {
        let (s, b) = app.get(&format!("{base}/{id}")).await;
        assert_eq!(
            (s, &b["userName"]),
            (200, &json!("any.case@example.com")),
            "{base}"
        );
        let (s, b) = app
            .get(&format!(
                "{base}?filter=userName%20eq%20%22ANY.case@example.com%22"
            ))
            .await;
        assert_eq!((s, &b["totalResults"]), (200, &json!(1)), "{base}");
        let (s, b) = json_of(
            app.send(
                Method::POST,
                &format!("{base}/.search"),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                            "filter": format!("id eq \"{id}\"")}),
                ),
            )
            .await,
        )
        .await;
        assert_eq!((s, &b["totalResults"]), (200, &json!(1)), "{base}/.search");
        for m in [Method::PUT, Method::PATCH, Method::DELETE] {
            let (s, b) = json_of(app.send(m.clone(), base, Some(json!({}))).await).await;
            assert_error(s, &b, 405, None);
        }
    }
    for base in ["/Groups", "/groups"] {
        let (s, b) = app.get(base).await;
        assert_eq!((s, &b["totalResults"]), (200, &json!(0)), "{base}");
    }
    let (s, b) = app.get("/Userz").await;
    assert_error(s, &b, 404, None);
}
