use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_returns_201_with_location_meta_and_etag() {
    let app = spawn_app().await;
    let resp = app
        .send(Method::POST, "/Users", Some(json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "Bjensen@Example.com",
            "externalId": "ext-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true,
            "password": "t1meMa$heen",
            ENTERPRISE: {"employeeNumber": "701984", "manager": "26118915-6090-4610-87e4-49d8ca9f808d"},
        })))
        .await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let (s, b) = json_of(resp).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap();
    assert_eq!(location, b["meta"]["location"]);
    assert!(location.ends_with(&format!("/scim/v2/Users/{id}")));
    assert_eq!(etag, b["meta"]["version"]);
    assert_eq!(b["meta"]["resourceType"], "User");
    assert!(b["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(b["meta"]["created"], b["meta"]["lastModified"]);
    assert_eq!(b["userName"], "Bjensen@Example.com", "original case kept");
    assert!(b.get("password").is_none(), "password is never returned");
    assert_eq!(
        b[ENTERPRISE]["manager"]["value"],
        "26118915-6090-4610-87e4-49d8ca9f808d"
    );
    assert_eq!(b["schemas"], json!([USER, ENTERPRISE]));
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively() {
    let app = spawn_app().await;
    app.create_user("bjensen@example.com").await;
    let (s, b) = app
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "BJENSEN@example.com"}),
        )
        .await;
    assert_error(s, &b, 409, Some("uniqueness"));
}

#[tokio::test]
async fn missing_user_name_is_invalid_value() {
    let app = spawn_app().await;
    let (s, b) = app
        .post("/Users", json!({"schemas": [USER], "displayName": "x"}))
        .await;
    assert_error(s, &b, 400, Some("invalidValue"));
}

#[tokio::test]
async fn get_unknown_is_404_and_delete_is_hard() {
    let app = spawn_app().await;
    let (s, b) = app.get("/Users/does-not-exist").await;
    assert_error(s, &b, 404, None);
    let id = app.create_user("gone@example.com").await;
    let (s, _) = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(s, 204);
    let (s, b) = app.get(&format!("/Users/{id}")).await;
    assert_error(s, &b, 404, None);
    let (s, b) = app.delete(&format!("/Users/{id}")).await;
    assert_error(s, &b, 404, None);
}

#[tokio::test]
async fn put_replaces_and_ignores_read_only_keys() {
    let app = spawn_app().await;
    let id = app.create_user("put@example.com").await;
    let (s, b) = app
        .put(
            &format!("/Users/{id}"),
            json!({
                "schemas": [USER], "id": "someone-else", "meta": {"version": "W/\"x\""},
                "groups": [{"value": "g"}],
                "userName": "put@example.com", "displayName": "Put Person", "active": "False",
            }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["displayName"], "Put Person");
    assert_eq!(b["active"], false);
    assert!(b.get("groups").is_none());
}

#[tokio::test]
async fn inactive_users_stay_visible() {
    let app = spawn_app().await;
    let id = app.create_user("sleepy@example.com").await;
    let (s, _) = app.patch(&format!("/Users/{id}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]})).await;
    assert_eq!(s, 200);
    let (s, b) = app.get(&format!("/Users/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(b["active"], false);
    let (_, b) = app.get("/Users?filter=active%20eq%20false").await;
    assert_eq!(b["totalResults"], 1);
}

#[tokio::test]
async fn etags_give_412_and_304() {
    let app = spawn_app().await;
    let id = app.create_user("etag@example.com").await;
    let path = format!("/Users/{id}");
    let resp = app.send(Method::GET, &path, None).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let resp = app
        .request(Method::GET, &path)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "E"}]});
    let resp = app
        .request(Method::PATCH, &path)
        .header("If-Match", "W/\"999\"")
        .header("Content-Type", SCIM)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 412, None);
    let resp = app
        .request(Method::PATCH, &path)
        .header("If-Match", &etag)
        .header("Content-Type", SCIM)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let resp = app
        .request(Method::DELETE, &path)
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
}

async fn seed(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (s, b) = app
            .post("/Users", json!({"schemas": [USER], "userName": format!("user{i:02}@example.com"),
                "title": if i % 2 == 0 { "Engineer" } else { "Manager" },
                "emails": [{"value": format!("user{i:02}@{}.com", if i < 5 { "example" } else { "corp" }), "type": "work"}]}))
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    ids
}

fn ids(b: &Value) -> Vec<String> {
    b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn paging_is_stable_and_follows_the_rfc() {
    let app = spawn_app().await;
    let all = seed(&app, 12).await;
    let (_, b) = app.get("/Users?startIndex=1&count=5").await;
    assert_eq!(
        (
            b["totalResults"].as_u64(),
            b["itemsPerPage"].as_u64(),
            b["startIndex"].as_u64()
        ),
        (Some(12), Some(5), Some(1))
    );
    assert_eq!(ids(&b), all[0..5]);
    let (_, b) = app.get("/Users?startIndex=11&count=5").await;
    assert_eq!(ids(&b), all[10..12]);
    let (_, b) = app.get("/Users?startIndex=0&count=2").await;
    assert_eq!(b["startIndex"], 1);
    assert_eq!(ids(&b), all[0..2]);
    let (_, b) = app.get("/Users?count=0").await;
    assert_eq!(b["totalResults"], 12);
    assert_eq!(b["Resources"], json!([]));
    let (_, b) = app.get("/Users?startIndex=50").await;
    assert_eq!(b["totalResults"], 12);
    assert_eq!(b["Resources"], json!([]));
    let app2 = spawn_app_with(|s| s.limits.max_page_size = 3).await;
    seed(&app2, 5).await;
    let (_, b) = app2.get("/Users?count=100").await;
    assert_eq!(b["itemsPerPage"], 3);
    let (_, b) = app2.get("/Users").await;
    assert_eq!(b["itemsPerPage"], 3);
}

#[tokio::test]
async fn filters_from_rfc_and_idps() {
    let app = spawn_app().await;
    seed(&app, 10).await;
    let count = |b: &Value| b["totalResults"].as_u64().unwrap();
    let q = |f: &str| format!("/Users?filter={}", urlencode(f));
    let (_, b) = app.get(&q("userName eq \"USER03@example.com\"")).await;
    assert_eq!(count(&b), 1);
    let (_, b) = app.get(&q("userName Eq \"nobody\"")).await;
    assert_eq!(count(&b), 0, "no match is 200 with an empty list");
    assert_eq!(b["Resources"], json!([]));
    let (_, b) = app
        .get(&q("title eq \"Engineer\" and emails co \"corp.com\""))
        .await;
    assert_eq!(count(&b), 2, "users 6 and 8");
    let (_, b) = app
        .get(&q("emails[type eq \"work\"].value eq \"user07@corp.com\""))
        .await;
    assert_eq!(count(&b), 1);
    let (_, b) = app
        .get(&q("not (title eq \"Engineer\") and userName sw \"user0\""))
        .await;
    assert_eq!(count(&b), 5);
    let (_, b) = app
        .get(&q(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"USER1\"",
        ))
        .await;
    assert_eq!(count(&b), 0);
    let (_, b) = app
        .get(&q("meta.lastModified gt \"2011-05-13T04:42:34Z\""))
        .await;
    assert_eq!(count(&b), 10);
    let (_, b) = app.get(&q("userName eq \"a \\\"quoted\\\" name\"")).await;
    assert_eq!(count(&b), 0);
    let (s, b) = app.get(&q("userName eq")).await;
    assert_error(s, &b, 400, Some("invalidFilter"));
    let (s, b) = app.get(&q(&"(".repeat(5000))).await;
    assert_error(s, &b, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn sorting_and_projection() {
    let app = spawn_app().await;
    seed(&app, 4).await;
    let (_, b) = app
        .get("/Users?sortBy=userName&sortOrder=descending&attributes=userName")
        .await;
    let names: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "user03@example.com",
            "user02@example.com",
            "user01@example.com",
            "user00@example.com"
        ]
    );
    let r0 = &b["Resources"][0];
    assert!(r0.get("id").is_some() && r0.get("emails").is_none() && r0.get("meta").is_none());
    let (_, b) = app.get("/Users?excludedAttributes=emails,title").await;
    assert!(b["Resources"][0].get("emails").is_none());
    assert!(b["Resources"][0].get("userName").is_some());
}

#[tokio::test]
async fn search_endpoints() {
    let app = spawn_app().await;
    seed(&app, 3).await;
    app.create_group("Searchers", &[]).await;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"user0\"", "attributes": ["userName"], "count": 2});
    let (s, b) = app.post("/Users/.search", body.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["totalResults"], 3);
    assert_eq!(b["itemsPerPage"], 2);
    let (s, b) = app
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 4);
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A lookup answered from the stored text (one `eq` an index answers exactly) shows a user as
/// `GET /Users/{id}` and the general path (a filter evaluated on each candidate) do.
#[tokio::test]
async fn exact_lookups_answer_what_a_read_by_id_does() {
    let app = spawn_app().await;
    let id = app.create_user("Exact.Lookup@example.com").await;
    app.create_user("other@example.com").await;
    let g2 = app.create_group("Second", &[]).await;
    app.create_group("First", &[&id]).await;
    let (s, _) = app
        .patch(
            &format!("/Groups/{g2}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}),
        )
        .await;
    assert!(s == 200 || s == 204, "{s}");
    let (s, by_id) = app.get(&format!("/Users/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(by_id["groups"].as_array().map(Vec::len), Some(2), "{by_id}");
    for filter in [
        // Answered from the stored text.
        r#"userName eq "exact.LOOKUP@example.com""#,
        &format!(r#"id eq "{id}""#),
        // Evaluated on each candidate.
        r#"userName eq "exact.lookup@example.com" and active eq true"#,
        r#"emails.value pr or userName eq "Exact.Lookup@example.com""#,
    ] {
        let query = format!("/Users?filter={}", urlencode(filter));
        let (s, list) = app.get(&query).await;
        assert_eq!(s, 200, "{filter}: {list}");
        assert_eq!(list["totalResults"], 1, "{filter}");
        assert_eq!(list["Resources"][0], by_id, "{filter}");
    }
    // Past the only match: the total, no resources.
    let (s, list) = app
        .get(&format!(
            "/Users?startIndex=2&filter={}",
            urlencode(r#"userName eq "exact.lookup@example.com""#)
        ))
        .await;
    assert_eq!((s, &list["totalResults"]), (200, &json!(1)));
    assert_eq!(
        list["Resources"].as_array().map_or(0, Vec::len),
        0,
        "{list}"
    );
}
