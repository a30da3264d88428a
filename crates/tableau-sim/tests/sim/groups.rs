//! Groups in JSON: create, rename, delete, list with filters, the built-in All Users group,
//! members one by one and in bulk (3.21+), version gating, groups of a user.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tableau_sim::SimConfig;

#[tokio::test]
async fn create_rename_delete_with_case_insensitive_names() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, body) = client
        .post(
            "groups",
            json!({"group": {"name": "Finance", "minimumSiteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["group"]["name"], "Finance");
    assert_eq!(body["group"]["minimumSiteRole"], "Viewer");
    assert_eq!(body["group"]["domain"]["name"], "local");
    let id = body["group"]["id"].as_str().unwrap().to_owned();
    let other = client.create_group("Sales").await;

    let (status, body) = client
        .post("groups", json!({"group": {"name": "FINANCE"}}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "409009"));
    let (_, body) = client
        .put(
            &format!("groups/{other}"),
            json!({"group": {"name": "finance"}}),
        )
        .await;
    assert_eq!(code(&body), "409009");
    // Renaming a group to a new case of its own name is fine.
    let (status, body) = client
        .put(
            &format!("groups/{id}"),
            json!({"group": {"name": "FINANCE"}}),
        )
        .await;
    assert_eq!(
        (status, body["group"]["name"].as_str()),
        (StatusCode::OK, Some("FINANCE"))
    );
    let (_, body) = client
        .put(
            &format!("groups/{id}"),
            json!({"group": {"name": "Finance Analysts"}}),
        )
        .await;
    assert_eq!(body["group"]["name"], "Finance Analysts");
    assert_eq!(body["group"]["id"], id.as_str());
    // The old name is free again.
    client.create_group("finance").await;

    let (_, body) = client
        .post(
            "groups",
            json!({"group": {"name": "x", "minimumSiteRole": "Boss"}}),
        )
        .await;
    assert_eq!(code(&body), "400013");
    let (_, body) = client
        .post(
            "groups",
            json!({"group": {"name": "ad", "import": {"source": "ActiveDirectory"}}}),
        )
        .await;
    assert_eq!(code(&body), "403011");
    let (_, body) = client
        .post("groups", json!({"group": {"name": "x", "colour": "red"}}))
        .await;
    assert_eq!(code(&body), "400000");

    assert_eq!(
        client.delete(&format!("groups/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    for (method, path) in [
        (Method::DELETE, format!("groups/{id}")),
        (Method::GET, format!("groups/{id}/users")),
    ] {
        let (status, body) = client.call(method, &path, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "404012"),
            "{path}"
        );
    }
    let (_, body) = client
        .put(&format!("groups/{id}"), json!({"group": {"name": "again"}}))
        .await;
    assert_eq!(code(&body), "404012");
    sim.stop().await;
}

#[tokio::test]
async fn list_groups_with_filters_and_all_users() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    for name in ["Alpha", "Beta", "Gamma"] {
        client.create_group(name).await;
    }
    let (_, body) = client.get("groups").await;
    let names: Vec<_> = items(&body, "groups", "group")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["All Users", "Alpha", "Beta", "Gamma"]);
    assert_eq!(body["pagination"]["totalAvailable"], "4");
    let all_users = items(&body, "groups", "group")[0].clone();
    assert_eq!(all_users["userCount"], "2", "admin and sim-pat");

    let (_, body) = client.get("groups?filter=name:eq:Beta").await;
    assert_eq!(items(&body, "groups", "group").len(), 1);
    let (_, body) = client.get("groups?filter=name:cieq:beta").await;
    assert_eq!(items(&body, "groups", "group")[0]["name"], "Beta");
    let (_, body) = client.get("groups?filter=name:in:[Alpha,Gamma]").await;
    assert_eq!(items(&body, "groups", "group").len(), 2);
    let (_, body) = client.get("groups?filter=userCount:gte:1").await;
    assert_eq!(items(&body, "groups", "group").len(), 1);
    let (_, body) = client
        .get("groups?sort=name:desc&pageSize=2&pageNumber=2")
        .await;
    let names: Vec<_> = items(&body, "groups", "group")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Alpha", "All Users"]);
    let (_, body) = client.get("groups?filter=name:eq:nothing").await;
    assert_eq!(body["groups"], json!({}));

    // All Users cannot be removed, renamed, or have members removed; adding says "already a member".
    let all_id = all_users["id"].as_str().unwrap();
    assert_eq!(
        client.delete(&format!("groups/{all_id}")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        client
            .put(
                &format!("groups/{all_id}"),
                json!({"group": {"name": "Everyone"}})
            )
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (_, body) = client
        .post(
            &format!("groups/{all_id}/users"),
            json!({"user": {"id": client.user_id}}),
        )
        .await;
    assert_eq!(code(&body), "409011");
    let (_, body) = client
        .delete(&format!("groups/{all_id}/users/{}", client.user_id))
        .await;
    assert_eq!(code(&body), "400032");
    let (_, body) = client
        .post("groups", json!({"group": {"name": "all users"}}))
        .await;
    assert_eq!(code(&body), "409009");
    // New users join All Users by themselves.
    client.add_user("new@example.com", "Viewer").await;
    let (_, body) = client.get(&format!("groups/{all_id}/users")).await;
    assert_eq!(body["pagination"]["totalAvailable"], "3");
    sim.stop().await;
}

#[tokio::test]
async fn members_one_at_a_time() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let group = client.create_group("Team").await;
    let user = client.add_user("ivy@example.com", "Explorer").await;
    let (status, body) = client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": user}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["id"], user.as_str());
    assert_eq!(body["user"]["name"], "ivy@example.com");
    assert_eq!(body["user"]["siteRole"], "Explorer");
    let (status, body) = client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": user}}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "409011"));
    let (_, body) = client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": "nope"}}),
        )
        .await;
    assert_eq!(code(&body), "404002");
    let (_, body) = client
        .post("groups/nope/users", json!({"user": {"id": user}}))
        .await;
    assert_eq!(code(&body), "404012");

    let (_, body) = client.get(&format!("groups/{group}/users")).await;
    assert_eq!(items(&body, "users", "user").len(), 1);
    let (_, body) = client.get(&format!("users/{user}/groups")).await;
    let names: Vec<_> = items(&body, "groups", "group")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["All Users", "Team"]);

    assert_eq!(
        client
            .delete(&format!("groups/{group}/users/{user}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = client.delete(&format!("groups/{group}/users/{user}")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "404002"),
        "not a member any more"
    );
    let (_, body) = client.get(&format!("groups/{group}/users")).await;
    assert_eq!(body["users"], json!({}));

    // Deleting a group keeps its users; deleting a user drops their memberships.
    client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": user}}),
        )
        .await;
    client.delete(&format!("users/{user}")).await;
    let snapshot = sim.state().snapshot();
    assert!(
        snapshot
            .groups
            .iter()
            .all(|g| !g.member_ids.contains(&user))
    );
    sim.stop().await;
}

#[tokio::test]
async fn members_in_bulk_from_3_21() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let group = client.create_group("Bulk").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(client.add_user(&format!("b{i:02}"), "Viewer").await);
    }
    let users = |ids: &[String]| json!({"users": {"user": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()}});
    client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": ids[0]}}),
        )
        .await;
    // Already-members are skipped; the answer lists every requested user.
    let (status, body) = client
        .post(&format!("groups/{group}/users"), users(&ids[..20]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(items(&body, "users", "user").len(), 20);
    // One unknown id fails the whole call and changes nothing.
    let mut with_unknown = ids[20..].to_vec();
    with_unknown.push("nope".into());
    let (_, body) = client
        .post(&format!("groups/{group}/users"), users(&with_unknown))
        .await;
    assert_eq!(code(&body), "404002");
    let (_, body) = client
        .get(&format!("groups/{group}/users?pageSize=7&pageNumber=3"))
        .await;
    assert_eq!(body["pagination"]["totalAvailable"], "20");
    assert_eq!(items(&body, "users", "user").len(), 6);

    let (status, _) = client
        .put(&format!("groups/{group}/users/remove"), users(&ids[..15]))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = client.get(&format!("groups/{group}/users")).await;
    assert_eq!(body["pagination"]["totalAvailable"], "5");
    let (_, body) = client
        .put(
            &format!("groups/{group}/users/remove"),
            users(&["nope".to_owned()]),
        )
        .await;
    assert_eq!(code(&body), "404002");

    // On a 3.20 path the bulk methods do not exist.
    let old_client = Client {
        api: client.api.replace("/3.27", "/3.20"),
        ..Client::pat(&sim).await
    };
    let (status, body) = old_client
        .put(&format!("groups/{group}/users/remove"), users(&ids[15..]))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404003"));
    let (status, body) = old_client
        .post(&format!("groups/{group}/users"), users(&ids[20..]))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "400000"));
    // Single add is 2.0 and works there.
    let (status, _) = old_client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": ids[29]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn groups_of_a_user_need_3_7() {
    let sim = start(SimConfig::default().with_api_version("3.6")).await;
    let client = Client::pat(&sim).await;
    let (status, body) = client
        .get(&format!("users/{}/groups", client.user_id))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404003"));
    sim.stop().await;
}

#[tokio::test]
async fn xml_group_round_trip() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, text) = client
        .xml(
            Method::POST,
            "groups",
            r#"<tsRequest><group name="Ops" minimumSiteRole="Explorer"/></tsRequest>"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.contains(r#"name="Ops""#) && text.contains(r#"<domain name="local"/>"#),
        "{text}"
    );
    // tableauserverclient reads the grant-on-sign-in role from <import siteRole>.
    assert!(
        text.contains(
            r#"<import domainName="local" siteRole="Explorer" grantLicenseMode="onLogin"/>"#
        ),
        "{text}"
    );
    let id = text
        .split("id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let (_, text) = client
        .xml(
            Method::POST,
            &format!("groups/{id}/users"),
            &format!(
                r#"<tsRequest><users><user id="{}"/></users></tsRequest>"#,
                client.user_id
            ),
        )
        .await;
    assert!(text.contains("<users><user id="), "{text}");
    let (_, text) = client
        .xml(Method::GET, "groups?filter=name:eq:Ops", "")
        .await;
    assert!(text.contains(r#"userCount="1""#), "{text}");
    sim.stop().await;
}
