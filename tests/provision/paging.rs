//! Lists and searches page in the store (issue 9, finding 7): SCIM paging semantics over HTTP
//! (1-based `startIndex`, `count`, `totalResults`, `itemsPerPage`, `count=0`, a start past the
//! end) for unfiltered lists, filters the store cannot index (scanned in batches) and `sortBy`,
//! and `POST /.search` across both resource types. On SQLite and PostgreSQL.

use crate::harness::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tableau_scim::model::ResourceKind;
use tableau_scim::store::{DEFAULT_TENANT, Store};

/// More than two scan batches (`provision::query::SCAN_BATCH` is 500).
const USERS: usize = 1_050;

fn name(i: usize) -> String {
    format!("p{i:04}@example.com")
}

/// `USERS` users stored directly (reads do not need them in Tableau), in creation order.
async fn seed(store: &Arc<dyn Store>) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..USERS {
        let id = uuid::Uuid::new_v4().to_string();
        let doc = json!({"userName": name(i), "active": i % 2 == 0});
        store
            .create(DEFAULT_TENANT, ResourceKind::User, &id, &object(doc), &[])
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn page_ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_page(body: &Value, total: usize, start: usize, items: usize) {
    assert_eq!(body["totalResults"], json!(total), "{body}");
    assert_eq!(body["startIndex"], json!(start), "{body}");
    assert_eq!(body["itemsPerPage"], json!(items), "{body}");
    assert_eq!(body["Resources"].as_array().unwrap().len(), items, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_searches_page_in_the_store() {
    on_both_backends(|store| async move {
        let b = spawn_bridge_with(Default::default(), |s| s.store = store).await;
        let ids = seed(&b.store).await;

        // Unfiltered: pages in creation order, the total of all.
        let (status, body) = b.get("/Users?startIndex=1&count=100").await;
        assert_eq!(status, 200, "{body}");
        assert_page(&body, USERS, 1, 100);
        assert_eq!(page_ids(&body), ids[..100]);
        let (_, body) = b.get("/Users?startIndex=1001&count=100").await;
        assert_page(&body, USERS, 1001, 50);
        assert_eq!(page_ids(&body), ids[1000..]);
        // Without count: the default page size (100).
        let (_, body) = b.get("/Users?startIndex=51").await;
        assert_eq!(page_ids(&body), ids[50..150]);
        // count=0: the total alone.
        let (_, body) = b.get("/Users?count=0").await;
        assert_page(&body, USERS, 1, 0);
        // A start past the end: an empty page, the total still right.
        let (_, body) = b.get("/Users?startIndex=5000&count=10").await;
        assert_page(&body, USERS, 5000, 0);
        // startIndex below 1 reads as 1.
        let (_, body) = b.get("/Users?startIndex=-3&count=2").await;
        assert_page(&body, USERS, 1, 2);
        assert_eq!(page_ids(&body), ids[..2]);

        // A filter the store cannot index: scanned in batches, the window kept.
        let ends_in_7: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == 7)
            .map(|(_, id)| id.clone())
            .collect();
        let filter = urlencode("userName ew \"7@example.com\"");
        let (status, body) = b
            .get(&format!("/Users?filter={filter}&startIndex=101&count=10"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_page(&body, ends_in_7.len(), 101, ends_in_7.len() - 100);
        assert_eq!(page_ids(&body), ends_in_7[100..]);
        let (_, body) = b.get(&format!("/Users?filter={filter}&count=0")).await;
        assert_page(&body, ends_in_7.len(), 1, 0);
        // An indexed one: its candidates only.
        let filter = urlencode(&format!("userName eq \"{}\"", name(777)));
        let (_, body) = b.get(&format!("/Users?filter={filter}")).await;
        assert_page(&body, 1, 1, 1);
        assert_eq!(page_ids(&body), [ids[777].clone()]);

        // sortBy: the whole match set ordered, one page of it answered.
        let filter = urlencode("active eq true");
        let (_, body) = b
            .get(&format!(
                "/Users?filter={filter}&sortBy=userName&sortOrder=descending&startIndex=2&count=3"
            ))
            .await;
        assert_page(&body, USERS / 2, 2, 3);
        let names: Vec<&str> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap())
            .collect();
        assert_eq!(names, [name(1046), name(1044), name(1042)]);

        // Relations of the page: a user's groups.
        let group = uuid::Uuid::new_v4().to_string();
        let doc = object(json!({"displayName": "Paged"}));
        let members = [(ids[3].clone(), ResourceKind::User)];
        b.store
            .create(DEFAULT_TENANT, ResourceKind::Group, &group, &doc, &members)
            .await
            .unwrap();
        let (_, body) = b.get("/Users?startIndex=3&count=2").await;
        assert_eq!(page_ids(&body), ids[2..4]);
        let no_groups = &body["Resources"][0]["groups"];
        assert!(
            no_groups.is_null() || no_groups.as_array().is_some_and(Vec::is_empty),
            "{body}"
        );
        assert_eq!(body["Resources"][1]["groups"][0]["value"], json!(group));

        // POST /.search: users, then groups, one window across both.
        let search = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": USERS, "count": 5,
        });
        let (status, body) = b.post("/.search", search).await;
        assert_eq!(status, 200, "{body}");
        assert_page(&body, USERS + 1, USERS, 2);
        assert_eq!(page_ids(&body), [ids[USERS - 1].clone(), group.clone()]);
    })
    .await;
}
