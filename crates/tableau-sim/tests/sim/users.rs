//! Site users in JSON (and a few XML checks): add, update, remove, query, list with paging,
//! filters, sort and fields, licence seats, content owners.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tableau_sim::{LicenceTier, SimConfig, SiteRole};

#[tokio::test]
async fn add_user_answers_201_with_string_scalars() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, body) = client
        .post("users", json!({"user": {"name": "ana@example.com", "siteRole": "Explorer", "authSetting": "SAML"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let user = &body["user"];
    assert_eq!(user["name"], "ana@example.com");
    assert_eq!(user["siteRole"], "Explorer");
    assert_eq!(user["authSetting"], "SAML");
    assert_eq!(user["externalAuthUserId"], "");
    let id = user["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let snapshot = sim.state().snapshot();
    let stored = snapshot.users.iter().find(|u| u.id == id).unwrap();
    assert_eq!(stored.site_role, SiteRole::Explorer);
    sim.stop().await;
}

#[tokio::test]
async fn add_user_errors() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    client.add_user("bo@example.com", "Viewer").await;
    let cases = [
        (
            json!({"user": {"name": "BO@example.com", "siteRole": "Viewer"}}),
            "409000",
        ),
        (
            json!({"user": {"name": "cy", "siteRole": "viewer"}}),
            "400013",
        ),
        (
            json!({"user": {"name": "cy", "siteRole": "Publisher"}}),
            "400013",
        ),
        (
            json!({"user": {"name": "cy", "siteRole": "ServerAdministrator"}}),
            "400013",
        ),
        (
            json!({"user": {"name": "cy", "siteRole": "Guest"}}),
            "409005",
        ),
        (json!({"user": {"name": "cy"}}), "400000"),
        (json!({"user": {"siteRole": "Viewer"}}), "400000"),
        (
            json!({"user": {"name": "cy", "siteRole": "Viewer", "authSetting": "Kerberos"}}),
            "400000",
        ),
        (
            json!({"user": {"name": "cy", "siteRole": "Viewer", "email": "not-an-address"}}),
            "400000",
        ),
    ];
    for (body, expected) in cases {
        let (_, answer) = client.post("users", body.clone()).await;
        assert_eq!(code(&answer), expected, "{body} → {answer}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn unknown_json_keys_are_rejected_like_tableau() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, body) = client
        .post(
            "users",
            json!({"user": {"name": "d", "siteRole": "Viewer"}, "id": "x"}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "400000"));
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Unrecognized field \"id\"") && detail.contains("TsRequest"),
        "{detail}"
    );
    let (_, body) = client
        .post(
            "users",
            json!({"user": {"name": "d", "siteRole": "Viewer", "nickname": "dd"}}),
        )
        .await;
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("\"nickname\"")
    );
    let (_, body) = client.post("users", json!({"group": {"name": "g"}})).await;
    assert_eq!(code(&body), "400000");
    assert!(sim.state().snapshot().users.iter().all(|u| u.name != "d"));
    sim.stop().await;
}

#[tokio::test]
async fn update_user_answers_without_id() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let id = client.add_user("eve@example.com", "Viewer").await;
    let (status, body) = client
        .put(&format!("users/{id}"), json!({"user": {"fullName": "Eve Example", "email": "eve@example.com", "siteRole": "Creator"}}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let user = &body["user"];
    assert!(user.get("id").is_none(), "{user}");
    assert_eq!(user["name"], "eve@example.com");
    assert_eq!(user["fullName"], "Eve Example");
    assert_eq!(user["siteRole"], "Creator");
    let (_, body) = client.get(&format!("users/{id}")).await;
    assert_eq!(body["user"]["email"], "eve@example.com");
    assert_eq!(body["user"]["domain"]["name"], "local");
    let (_, body) = client
        .put(
            &format!("users/{id}"),
            json!({"user": {"siteRole": "Boss"}}),
        )
        .await;
    assert_eq!(code(&body), "400013");
    let (_, body) = client
        .put(
            "users/00000000-0000-4000-8000-000000000000",
            json!({"user": {"fullName": "x"}}),
        )
        .await;
    assert_eq!(code(&body), "404002");
    let (_, body) = client
        .put(&format!("users/{id}"), json!({"user": {"name": "renamed"}}))
        .await;
    assert_eq!(code(&body), "400000");
    // An administrator cannot change their own site role.
    let (_, body) = client
        .put(
            &format!("users/{}", client.user_id),
            json!({"user": {"siteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(code(&body), "403009");
    sim.stop().await;
}

#[tokio::test]
async fn query_and_remove_unknown_users_answer_404002() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    for (method, path) in [
        (Method::GET, "users/nope"),
        (Method::DELETE, "users/nope"),
        (Method::GET, "users/nope/groups"),
    ] {
        let (status, body) = client.call(method, path, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "404002"),
            "{path}"
        );
    }
    let id = client.add_user("gone@example.com", "Viewer").await;
    assert_eq!(
        client.delete(&format!("users/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(code(&client.get(&format!("users/{id}")).await.1), "404002");
    sim.stop().await;
}

#[tokio::test]
async fn list_users_pages_filters_sorts() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    for i in 0..25 {
        let role = if i % 5 == 0 { "Creator" } else { "Viewer" };
        client.add_user(&format!("u{i:02}@example.com"), role).await;
    }
    // 25 added + admin + sim-pat = 27 users.
    let (_, body) = client.get("users?pageSize=10&pageNumber=3").await;
    assert_eq!(
        body["pagination"],
        json!({"pageNumber": "3", "pageSize": "10", "totalAvailable": "27"})
    );
    let page: Vec<_> = items(&body, "users", "user")
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page.len(), 7);
    assert_eq!(page.last().unwrap(), "u24@example.com");

    let (_, body) = client.get("users?filter=name:eq:u07@example.com").await;
    assert_eq!(items(&body, "users", "user").len(), 1);
    assert_eq!(body["pagination"]["totalAvailable"], "1");
    let (_, body) = client.get("users?filter=name:eq:U07@EXAMPLE.COM").await;
    assert_eq!(
        body["users"],
        json!({}),
        "eq is case-sensitive; an empty list is {{}}"
    );
    let (_, body) = client.get("users?filter=name:cieq:U07@EXAMPLE.COM").await;
    assert_eq!(items(&body, "users", "user").len(), 1);
    let (_, body) = client
        .get("users?filter=name:in:%5Bu01@example.com,u02@example.com,zz%5D")
        .await;
    assert_eq!(items(&body, "users", "user").len(), 2);
    let (_, body) = client
        .get("users?filter=siteRole:eq:Creator,name:in:[u00@example.com,u01@example.com]")
        .await;
    assert_eq!(items(&body, "users", "user").len(), 1);
    let (_, body) = client
        .get("users?filter=siteRole:in:[Creator,SiteAdministratorCreator]&pageSize=100")
        .await;
    assert_eq!(body["pagination"]["totalAvailable"], "7");
    let (_, body) = client.get("users?filter=name:eq:u1*").await;
    assert_eq!(items(&body, "users", "user").len(), 10, "* is a wildcard");

    let (_, body) = client.get("users?sort=name:desc&pageSize=1").await;
    assert_eq!(items(&body, "users", "user")[0]["name"], "u24@example.com");
    let (_, body) = client
        .get("users?sort=siteRole:asc,name:desc&pageSize=1")
        .await;
    assert_eq!(items(&body, "users", "user")[0]["name"], "u20@example.com");

    for (query, expected) in [
        ("pageSize=1001", "403014"),
        ("pageSize=0", "400007"),
        ("pageNumber=0", "400006"),
        ("pageNumber=4&pageSize=10", "400006"),
        ("filter=email:eq:x", "400000"),
        ("filter=siteRole:cieq:viewer", "400000"),
        ("sort=colour:asc", "400000"),
    ] {
        let (_, body) = client.get(&format!("users?{query}")).await;
        assert_eq!(code(&body), expected, "{query}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn list_fields_default_all_and_named() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let id = client.add_user("fay@example.com", "Viewer").await;
    client
        .put(
            &format!("users/{id}"),
            json!({"user": {"fullName": "Fay", "email": "fay@example.com"}}),
        )
        .await;
    let find = |body: &serde_json::Value| {
        items(body, "users", "user")
            .into_iter()
            .find(|u| u["name"] == "fay@example.com")
            .cloned()
            .unwrap()
    };
    let (_, body) = client.get("users").await;
    let user = find(&body);
    assert!(
        user.get("email").is_none() && user.get("fullName").is_none(),
        "{user}"
    );
    assert_eq!(user["siteRole"], "Viewer");
    let (_, body) = client.get("users?fields=_all_").await;
    let user = find(&body);
    assert_eq!(
        (user["email"].as_str(), user["fullName"].as_str()),
        (Some("fay@example.com"), Some("Fay"))
    );
    assert_eq!(user["domain"]["name"], "local");
    let (_, body) = client.get("users?fields=name,email").await;
    let user = find(&body);
    assert_eq!(
        user,
        json!({"name": "fay@example.com", "email": "fay@example.com"})
    );
    sim.stop().await;
}

#[tokio::test]
async fn licence_seats_downgrade_on_add_and_refuse_on_update() {
    // admin and sim-pat already hold two Creator seats.
    let config = SimConfig::default()
        .with_seats(LicenceTier::Creator, 3)
        .with_seats(LicenceTier::Viewer, 1);
    let sim = start(config).await;
    let client = Client::pat(&sim).await;
    let (_, body) = client
        .post(
            "users",
            json!({"user": {"name": "c1", "siteRole": "Creator"}}),
        )
        .await;
    assert_eq!(body["user"]["siteRole"], "Creator");
    let (status, body) = client
        .post(
            "users",
            json!({"user": {"name": "c2", "siteRole": "SiteAdministratorCreator"}}),
        )
        .await;
    assert_eq!(
        (status, body["user"]["siteRole"].as_str()),
        (StatusCode::CREATED, Some("Unlicensed"))
    );
    let viewer = client.add_user("v1", "Viewer").await;
    let (_, body) = client
        .post(
            "users",
            json!({"user": {"name": "e1", "siteRole": "Explorer"}}),
        )
        .await;
    assert_eq!(
        body["user"]["siteRole"], "Explorer",
        "Explorer is unlimited"
    );
    let (status, body) = client
        .put(
            &format!("users/{viewer}"),
            json!({"user": {"siteRole": "Creator"}}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "409014"));
    // Moving within a tier needs no new seat; freeing a seat makes room.
    let c1 = sim
        .state()
        .snapshot()
        .users
        .iter()
        .find(|u| u.name == "c1")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        client
            .put(
                &format!("users/{c1}"),
                json!({"user": {"siteRole": "SiteAdministratorCreator"}})
            )
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        client.delete(&format!("users/{c1}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, body) = client
        .put(
            &format!("users/{viewer}"),
            json!({"user": {"siteRole": "Creator"}}),
        )
        .await;
    assert_eq!(body["user"]["siteRole"], "Creator");
    let seats = sim.state().snapshot().seats;
    assert_eq!(
        (seats["Creator"].used, seats["Creator"].limit),
        (3, Some(3))
    );
    assert_eq!(seats["Viewer"].used, 0);
    sim.stop().await;
}

#[tokio::test]
async fn content_owners_stay_unlicensed_unless_assets_are_mapped() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let owner = client.add_user("owner@example.com", "Creator").await;
    let heir = client.add_user("heir@example.com", "Creator").await;
    let marked = http()
        .put(format!(
            "{}/_sim/users/owner@example.com/content",
            sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), StatusCode::OK);
    let (status, body) = client.delete(&format!("users/{owner}")).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "409003"));
    let (_, body) = client.get(&format!("users/{owner}")).await;
    assert_eq!(body["user"]["siteRole"], "Unlicensed");
    let (_, body) = client
        .delete(&format!("users/{owner}?mapAssetsTo=nobody"))
        .await;
    assert_eq!(code(&body), "404002");
    assert_eq!(
        client
            .delete(&format!("users/{owner}?mapAssetsTo={heir}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let snapshot = sim.state().snapshot();
    assert!(snapshot.users.iter().all(|u| u.id != owner));
    assert!(
        snapshot
            .users
            .iter()
            .find(|u| u.id == heir)
            .unwrap()
            .owns_content
    );
    sim.stop().await;
}

#[tokio::test]
async fn removed_users_lose_their_sessions() {
    let sim = start_default().await;
    let admin = Client::admin(&sim).await;
    let pat = Client::pat(&sim).await;
    assert_eq!(
        admin.delete(&format!("users/{}", pat.user_id)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(code(&pat.get("users").await.1), "401002");
    sim.stop().await;
}

#[tokio::test]
async fn xml_add_and_list_users() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, text) = client
        .xml(
            Method::POST,
            "users",
            r#"<tsRequest><user name="x&amp;y@example.com" siteRole="Viewer"/></tsRequest>"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(text.contains(r#"name="x&amp;y@example.com""#), "{text}");
    let (_, text) = client
        .xml(Method::POST, "users", r#"<tsRequest xmlns="http://tableau.com/api"><user name="z@example.com" siteRole="Viewer"/></tsRequest>"#)
        .await;
    assert!(text.contains(r#"siteRole="Viewer""#), "{text}");
    let (_, text) = client
        .xml(
            Method::POST,
            "users",
            r#"<tsRequest><user name="w" siteRole="Viewer" colour="red"/></tsRequest>"#,
        )
        .await;
    assert!(text.contains(r#"<error code="400000">"#), "{text}");
    let (_, text) = client.xml(Method::GET, "users?pageSize=2", "").await;
    assert!(
        text.contains(r#"<pagination pageNumber="1" pageSize="2" totalAvailable="4"/>"#),
        "{text}"
    );
    let (_, text) = client
        .xml(Method::GET, "users?filter=name:eq:none", "")
        .await;
    assert!(text.contains("<users/>"), "{text}");
    sim.stop().await;
}
