use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn media_types_accepted_and_answered_as_scim_json() {
    let app = spawn_app().await;
    for ct in [
        Some("application/scim+json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/scim+json;charset=UTF-8"),
        None,
    ] {
        let name = format!("ct-{}@example.com", ct.unwrap_or("none").len());
        let body = json!({"schemas": [USER], "userName": format!("{name}{}", uuid_like())});
        let mut r = app.request(Method::POST, "/Users").body(body.to_string());
        if let Some(ct) = ct {
            r = r.header("Content-Type", ct);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], SCIM);
        assert_eq!(resp.status(), 201, "{ct:?}");
    }
    let resp = app
        .request(Method::POST, "/Users")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 415, None);
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn malformed_json_is_invalid_syntax_naming_the_position() {
    let app = spawn_app().await;
    let resp = app
        .request(Method::POST, "/Users")
        .header("Content-Type", SCIM)
        .body("{\"userName\": \"x\",\n \"active\": tru }")
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 400, Some("invalidSyntax"));
    assert!(b["detail"].as_str().unwrap().contains("line 2"), "{b}");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let (s, b) = app
        .post("/Users", json!({"schemas": [USER], "userName": big}))
        .await;
    assert_error(s, &b, 413, None);
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored_and_plus_is_a_space() {
    let app = spawn_app().await;
    app.create_user("Ada Lovelace").await;
    let (s, b) = app
        .get("/Users?filter=userName+eq+%22ada%20lovelace%22&aadOptscim062020")
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["totalResults"], 1, "{b}");
}

#[tokio::test]
async fn no_input_makes_the_server_answer_500() {
    let app = spawn_app().await;
    let bodies = [
        "null",
        "[]",
        "\"x\"",
        "42",
        "{\"userName\": 5}",
        "{\"userName\": null}",
        "{\"emails\": \"x\"}",
        "{\"userName\": \"a\", \"name\": []}",
        "{\"userName\": \"a\", \"active\": \"maybe\"}",
        "{\"userName\": \"a\", \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\": 3}",
    ];
    for body in bodies {
        for (m, p) in [
            (Method::POST, "/Users"),
            (Method::POST, "/Groups"),
            (Method::PUT, "/Users/x"),
            (Method::PATCH, "/Users/x"),
            (Method::POST, "/.search"),
        ] {
            let resp = app
                .request(m.clone(), p)
                .header("Content-Type", SCIM)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert!(status < 500, "{m} {p} {body} -> {status}");
        }
    }
    for q in [
        "filter=(((",
        "filter=userName%20eq",
        "sortBy=%5B",
        "count=x",
        "startIndex=-9",
        "attributes=,,,",
        "filter=",
    ] {
        let (s, _) = app.get(&format!("/Users?{q}")).await;
        assert!(s < 500, "{q} -> {s}");
    }
}
