//! Content owned by users (projects, workbooks, data sources, flows): the control API gives a
//! user items, the REST API lists them by owner, changes their owner, and Remove User needs
//! `mapAssetsTo` for an owner and moves everything with it. Groups with a minimum site role
//! ("grant role on sign-in") block a demotion below it with 400012 and grant it on sign-in.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tableau_sim::{ContentKind, SimConfig};

/// `POST /_sim/users/{who}/content`; returns the item's LUID.
async fn give(
    sim: &tableau_sim::RunningSim,
    who: &str,
    kind: &str,
    name: &str,
    project: Option<&str>,
) -> String {
    let response = http()
        .post(format!("{}/_sim/users/{who}/content", sim.url()))
        .json(&json!({"kind": kind, "name": name, "projectId": project}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn names(body: &Value, plural: &str, singular: &str) -> Vec<String> {
    items(body, plural, singular)
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn content_is_listed_by_owner_and_changes_owner() {
    let sim = start_default().await;
    let admin = Client::pat(&sim).await;
    let alice = admin.add_user("alice@example.com", "Creator").await;
    let bob = admin.add_user("bob@example.com", "Creator").await;
    let project = give(&sim, "alice@example.com", "project", "Finance", None).await;
    let workbook = give(&sim, &alice, "workbook", "Budget", Some(&project)).await;
    give(&sim, &alice, "datasource", "Ledger", Some(&project)).await;
    give(&sim, &alice, "flow", "Clean ledger", Some(&project)).await;
    give(&sim, &bob, "workbook", "Bob's", None).await;

    for (collection, element, expected) in [
        ("projects", "project", vec!["Finance"]),
        ("workbooks", "workbook", vec!["Budget"]),
        ("datasources", "datasource", vec!["Ledger"]),
        ("flows", "flow", vec!["Clean ledger"]),
    ] {
        let (status, body) = admin
            .get(&format!(
                "{collection}?filter=ownerName:eq:alice@example.com"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(names(&body, collection, element), expected, "{collection}");
        assert_eq!(
            body["pagination"]["totalAvailable"],
            expected.len().to_string()
        );
    }
    let (_, body) = admin.get("workbooks").await;
    assert_eq!(names(&body, "workbooks", "workbook"), ["Bob's", "Budget"]);
    let budget = items(&body, "workbooks", "workbook")[1].clone();
    assert_eq!(budget["owner"]["id"], alice.as_str());
    assert_eq!(budget["project"]["name"], "Finance");
    let (_, body) = admin
        .get(&format!("users/{alice}/workbooks?ownedBy=true"))
        .await;
    assert_eq!(names(&body, "workbooks", "workbook"), ["Budget"]);
    let (_, body) = admin.get(&format!("users/{alice}/flows")).await;
    assert_eq!(names(&body, "flows", "flow"), ["Clean ledger"]);

    // Update Workbook with <owner id>: the item moves, alice no longer lists it.
    let (status, body) = admin
        .put(
            &format!("workbooks/{workbook}"),
            json!({"workbook": {"owner": {"id": bob}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["workbook"]["owner"]["id"], bob.as_str());
    let (_, body) = admin.get(&format!("users/{alice}/workbooks")).await;
    assert!(names(&body, "workbooks", "workbook").is_empty(), "{body}");
    let (_, body) = admin.get(&format!("workbooks/{workbook}")).await;
    assert_eq!(body["workbook"]["owner"]["id"], bob.as_str());
    // Projects change owner the same way (XML, as tableauserverclient sends it).
    let (status, text) = admin
        .xml(
            Method::PUT,
            &format!("projects/{project}"),
            &format!(
                r#"<tsRequest><project name="Finance"><owner id="{bob}"/></project></tsRequest>"#
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(&format!(r#"<owner id="{bob}""#)), "{text}");

    // Errors: an unknown owner, an unknown item of each kind, the wrong method.
    let (status, body) = admin
        .put(
            &format!("workbooks/{workbook}"),
            json!({"workbook": {"owner": {"id": "00000000-0000-4000-8000-000000000000"}}}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404002"));
    for (collection, element, expected) in [
        ("workbooks", "workbook", "404006"),
        ("datasources", "datasource", "404011"),
        ("projects", "project", "404005"),
    ] {
        let (status, body) = admin
            .put(
                &format!("{collection}/00000000-0000-4000-8000-000000000000"),
                json!({element: {"owner": {"id": bob}}}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, expected),
            "{collection}"
        );
    }
    let (status, body) = admin.delete("workbooks").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "405000")
    );
    // The snapshot shows every item with its owner.
    let snapshot = sim.state().snapshot();
    let owners: Vec<(ContentKind, &str)> = snapshot
        .content
        .iter()
        .filter(|c| c.owner_id == alice)
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    sim.stop().await;
}

#[tokio::test]
async fn removing_an_owner_needs_map_assets_to_which_moves_everything() {
    let sim = start_default().await;
    let admin = Client::pat(&sim).await;
    let old = admin.add_user("old@example.com", "Creator").await;
    let new = admin.add_user("new@example.com", "Creator").await;
    let project = give(&sim, &old, "project", "Team", None).await;
    let workbook = give(&sim, &old, "workbook", "Sales", Some(&project)).await;
    let datasource = give(&sim, &old, "datasource", "Orders", None).await;

    let (status, body) = admin.delete(&format!("users/{old}")).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "409003"));
    let (_, body) = admin.get(&format!("users/{old}")).await;
    assert_eq!(body["user"]["siteRole"], "Unlicensed");

    let (status, _) = admin
        .delete(&format!("users/{old}?mapAssetsTo={new}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (path, element) in [
        (
            "projects?filter=ownerName:eq:new@example.com".to_owned(),
            None,
        ),
        (format!("workbooks/{workbook}"), Some("workbook")),
        (format!("datasources/{datasource}"), Some("datasource")),
    ] {
        let (status, body) = admin.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let owner = match element {
            Some(e) => body[e]["owner"]["id"].clone(),
            None => items(&body, "projects", "project")[0]["owner"]["id"].clone(),
        };
        assert_eq!(owner, new.as_str(), "{path}");
    }
    assert!(
        sim.state()
            .snapshot()
            .content
            .iter()
            .all(|c| c.owner_id == new)
    );
    // The new owner now owns content: removing them needs mapAssetsTo too.
    let (_, body) = admin.delete(&format!("users/{new}")).await;
    assert_eq!(code(&body), "409003");
    sim.stop().await;
}

/// A site administrator on Tableau Server may not use `mapAssetsTo`: with
/// `map_assets_to_forbidden` Remove User answers 403 and changes nothing, and the content is
/// moved item by item with Update Workbook's `<owner id>` before a plain remove.
#[tokio::test]
async fn map_assets_to_forbidden_leaves_the_owner_changes_to_do_one_by_one() {
    let sim = start(SimConfig {
        map_assets_to_forbidden: true,
        ..SimConfig::default()
    })
    .await;
    let admin = Client::pat(&sim).await;
    let old = admin.add_user("old@example.com", "Creator").await;
    let new = admin.add_user("new@example.com", "Creator").await;
    let workbook = give(&sim, &old, "workbook", "Sales", None).await;

    let (status, body) = admin
        .delete(&format!("users/{old}?mapAssetsTo={new}"))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "403000"));
    let (_, body) = admin.get(&format!("users/{old}")).await;
    assert_eq!(body["user"]["siteRole"], "Creator", "nothing changed");

    let (status, body) = admin
        .put(
            &format!("workbooks/{workbook}"),
            json!({"workbook": {"owner": {"id": new}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = admin.delete(&format!("users/{old}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        sim.state()
            .snapshot()
            .content
            .iter()
            .all(|c| c.owner_id == new)
    );
    sim.stop().await;
}

#[tokio::test]
async fn control_api_refuses_bad_content_requests() {
    let sim = start_default().await;
    let post = |who: &str, body: Value| {
        let url = format!("{}/_sim/users/{who}/content", sim.url());
        async move { http().post(url).json(&body).send().await.unwrap().status() }
    };
    assert_eq!(
        post("admin", json!({"kind": "view", "name": "x"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post("admin", json!({"kind": "workbook"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post("nobody", json!({"kind": "workbook", "name": "x"})).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("admin", json!({"kind": "workbook", "name": "x", "projectId": "00000000-0000-4000-8000-000000000000"})).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("admin", json!({"kind": "workbooks", "name": "x"})).await,
        StatusCode::CREATED
    );
    sim.stop().await;
}

#[tokio::test]
async fn flows_need_3_3() {
    let sim = start(SimConfig::default().with_api_version("3.2")).await;
    let client = Client::pat(&sim).await;
    let (status, body) = client.get("flows").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404003"));
    assert_eq!(client.get("workbooks").await.0, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn grant_role_on_sign_in_group_blocks_demotion_with_400012() {
    let sim = start_default().await;
    let admin = Client::pat(&sim).await;
    let user = admin.add_user("ann@example.com", "Creator").await;
    let (status, body) = admin
        .post("groups", json!({"group": {"name": "Analysts", "minimumSiteRole": "Explorer", "grantLicenseMode": "onLogin"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let group = body["group"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin
            .post(
                &format!("groups/{group}/users"),
                json!({"user": {"id": user}})
            )
            .await
            .0,
        StatusCode::OK
    );

    // Down to the group's minimum is fine; below it is refused and nothing changes.
    let (status, _) = admin
        .put(
            &format!("users/{user}"),
            json!({"user": {"siteRole": "Explorer"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for role in ["Viewer", "Unlicensed"] {
        let (status, body) = admin
            .put(
                &format!("users/{user}"),
                json!({"user": {"siteRole": role}}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "400012"),
            "{role}"
        );
        assert_eq!(
            body["error"]["detail"],
            format!("There was a problem updating user '{user}'.")
        );
    }
    let (_, body) = admin.get(&format!("users/{user}")).await;
    assert_eq!(body["user"]["siteRole"], "Explorer");
    // Other fields still update.
    let (status, _) = admin
        .put(
            &format!("users/{user}"),
            json!({"user": {"fullName": "Ann"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Lowering the group's minimum (Update Group) lifts the block.
    let (status, _) = admin
        .put(
            &format!("groups/{group}"),
            json!({"group": {"name": "Analysts", "minimumSiteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin
        .put(
            &format!("users/{user}"),
            json!({"user": {"siteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Out of the group, anything goes.
    assert_eq!(
        admin
            .delete(&format!("groups/{group}/users/{user}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = admin
        .put(
            &format!("users/{user}"),
            json!({"user": {"siteRole": "Unlicensed"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn grant_role_on_sign_in_raises_an_unlicensed_member() {
    let sim = start_default().await;
    let admin = Client::pat(&sim).await;
    let group = admin.create_group("Viewers").await;
    admin
        .put(
            &format!("groups/{group}"),
            json!({"group": {"name": "Viewers", "minimumSiteRole": "Viewer"}}),
        )
        .await;
    // "admin" signs in with a password; make a second password user through Update User.
    let user = admin.add_user("carl", "Unlicensed").await;
    admin
        .put(
            &format!("users/{user}"),
            json!({"user": {"password": "pw-carl"}}),
        )
        .await;
    let credentials = json!({"name": "carl", "password": "pw-carl", "site": {"contentUrl": SITE}});
    let (status, body) = sign_in_raw(&sim.api_url(), credentials.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "401001"));
    admin
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": user}}),
        )
        .await;
    let carl = Client::sign_in_at(sim.api_url(), credentials).await;
    assert_eq!(carl.user_id, user);
    let (_, body) = admin.get(&format!("users/{user}")).await;
    assert_eq!(body["user"]["siteRole"], "Viewer");
    sim.stop().await;
}
