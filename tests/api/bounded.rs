//! Bounded work per request (issue 9, findings 8, 9 and 10): PATCH and multi-valued limits
//! (`400 tooMany`), a large legitimate PATCH that does not stall other requests, the body-read
//! timeout (a slow-loris upload gets `408`), and forwarded headers believed only from
//! `trusted_proxies`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn emails(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"value": format!("e{i}@example.com"), "type": "work"}))
        .collect()
}

#[tokio::test]
async fn patch_operations_and_multi_values_are_limited() {
    let app = spawn_app_with(|s| {
        s.limits.max_patch_operations = 3;
        s.limits.max_multi_values = 4;
        s.limits.max_page_size = 250;
    })
    .await;
    let (_, spc) = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc["filter"]["maxResults"], 250, "{spc}");

    // A create (or replace) with too many e-mails.
    let user = |n: usize| json!({"schemas": [USER], "userName": "limits@example.com", "emails": emails(n)});
    let (s, b) = app.post("/Users", user(5)).await;
    assert_error(s, &b, 400, Some("tooMany"));
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .contains("limits.max_multi_values"),
        "{b}"
    );
    let (s, b) = app.post("/Users", user(4)).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app.put(&format!("/Users/{id}"), user(5)).await;
    assert_error(s, &b, 400, Some("tooMany"));

    // Too many operations: refused before any is applied.
    let op = json!({"op": "replace", "path": "title", "value": "T"});
    let patch = |ops: Vec<Value>| json!({"schemas": [PATCH_OP], "Operations": ops});
    let (s, b) = app
        .patch(&format!("/Users/{id}"), patch(vec![op.clone(); 4]))
        .await;
    assert_error(s, &b, 400, Some("tooMany"));
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .contains("limits.max_patch_operations"),
        "{b}"
    );
    let (s, b) = app
        .patch(&format!("/Users/{id}"), patch(vec![op.clone(); 3]))
        .await;
    assert_eq!((s, b["title"].as_str()), (200, Some("T")), "{b}");

    // A PATCH whose result has too many values: nothing written.
    let add = json!({"op": "add", "path": "emails", "value": [{"value": "fifth@example.com"}]});
    let (s, b) = app.patch(&format!("/Users/{id}"), patch(vec![add])).await;
    assert_error(s, &b, 400, Some("tooMany"));
    let (_, b) = app.get(&format!("/Users/{id}")).await;
    assert_eq!(b["emails"].as_array().unwrap().len(), 4, "{b}");

    // A group's members are not limited by max_multi_values.
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(app.create_user(&format!("member{i}@example.com")).await);
    }
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    app.create_group("Six members", &members).await;
}

/// Finding 8: PATCHes that take seconds of CPU (allowed here by raised limits) run on the
/// blocking pool; `GET /ServiceProviderConfig` meanwhile answers at once. Before, each such
/// PATCH held an HTTP worker for its whole duration, and with one per worker nothing else was
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_patch_does_not_stall_other_requests() {
    const EMAILS: usize = 3_000;
    const OPS: usize = 400;
    let app = spawn_app_with(|s| {
        s.limits.max_patch_operations = OPS;
        s.limits.max_multi_values = EMAILS;
        s.limits.max_body_bytes = 8 << 20;
    })
    .await;
    // One heavy PATCH per HTTP worker (actix starts one per CPU), each on a user of its own.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut ids = Vec::new();
    for w in 0..workers {
        let body = json!({"schemas": [USER], "userName": format!("heavy{w}@example.com"),
            "emails": emails(EMAILS)});
        let (s, b) = app.post("/Users", body).await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    let ops: Vec<Value> = (0..OPS)
        .map(|i| {
            json!({"op": "replace", "path": "emails[type eq \"work\"].display",
                "value": format!("d{i}")})
        })
        .collect();
    let body = json!({"schemas": [PATCH_OP], "Operations": ops});
    let started = Instant::now();
    let patches: Vec<_> = ids
        .iter()
        .map(|id| {
            let (client, url, body) = (
                app.client.clone(),
                app.url(&format!("/Users/{id}")),
                body.clone(),
            );
            tokio::spawn(async move {
                let resp = client
                    .patch(url)
                    .bearer_auth(TOKEN)
                    .header("Content-Type", SCIM)
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    let mut answered_at = Duration::ZERO;
    for _ in 0..5 {
        let asked = Instant::now();
        let resp = app
            .client
            .get(app.url("/ServiceProviderConfig"))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        slowest = slowest.max(asked.elapsed());
        answered_at = started.elapsed();
    }
    let mut patch_done = Vec::new();
    for p in patches {
        let (status, done) = p.await.unwrap();
        assert_eq!(status, 200);
        patch_done.push(done);
    }
    let first_patch_done = patch_done.iter().min().copied().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "GET /ServiceProviderConfig took {slowest:?} while PATCHes ran ({patch_done:?})"
    );
    // The test proves something only if the PATCHes were still running meanwhile.
    assert!(
        answered_at < first_patch_done,
        "the PATCHes ({patch_done:?}) finished before the reads ({answered_at:?}): make them heavier"
    );
}

/// Starts a `POST /Users` announcing 1,000 bytes of body and sends one more byte after every
/// 200 ms of silence from the server (a slow-loris upload), until the server closes the
/// connection or `within` passes. What the server answered (if anything), and whether it closed.
async fn slow_upload(app: &TestApp, auth: bool, within: Duration) -> (Option<String>, bool) {
    let addr = app
        .base_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let auth = if auth {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let mut closed = false;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => {
                // Nothing to read: one more byte of the body, as a slow-loris client does.
                if stream.write_all(b" ").await.is_err() {
                    closed = true;
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    ((!text.is_empty()).then_some(text), closed)
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let app = spawn_app_with(|s| s.limits.body_timeout_secs = 1).await;
    let started = Instant::now();
    let (answer, closed) = slow_upload(&app, true, Duration::from_secs(10)).await;
    let answer = answer.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("limits.body_timeout_secs"), "{answer}");
    assert!(closed, "the connection is closed after the 408");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Unauthenticated: refused at once, and the upload is not waited for.
    let started = Instant::now();
    let (answer, closed) = slow_upload(&app, false, Duration::from_secs(10)).await;
    assert!(answer.expect("an answer").starts_with("HTTP/1.1 401"));
    assert!(closed, "the connection is closed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A body sent at a normal pace is unaffected.
    let (s, b) = app
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "prompt@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

async fn created_location(app: &TestApp, name: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = app
        .request(Method::POST, "/Users")
        .header("Content-Type", SCIM)
        .body(json!({"schemas": [USER], "userName": name}).to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let resp = request.send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, body) = json_of(resp).await;
    (
        location,
        body["meta"]["location"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let forged = [
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
    ];
    let rfc7239 = [("Forwarded", "host=evil.example;proto=https")];

    // Default: nobody is trusted; the URL is the one the client connected to.
    let app = spawn_app().await;
    for (i, headers) in [&forged[..], &rfc7239[..]].into_iter().enumerate() {
        let (location, meta) = created_location(&app, &format!("a{i}@example.com"), headers).await;
        assert!(location.starts_with(&app.base_url), "{location}");
        assert_eq!(location, meta);
        assert!(!location.contains("evil"), "{location}");
    }
    let resp = app
        .request(Method::GET, "/ServiceProviderConfig")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .unwrap();
    let (_, spc) = json_of(resp).await;
    let meta = spc["meta"]["location"].as_str().unwrap();
    assert!(meta.starts_with(&app.base_url), "{meta}");

    // The test client connects from 127.0.0.1: trusted as a proxy, its headers are believed.
    let app = spawn_app_with(|s| s.trusted_proxies = "127.0.0.0/8".parse().unwrap()).await;
    for (i, headers) in [&forged[..], &rfc7239[..]].into_iter().enumerate() {
        let (location, meta) = created_location(&app, &format!("b{i}@example.com"), headers).await;
        assert!(
            location.starts_with("https://evil.example/scim/v2/Users/"),
            "{location}"
        );
        assert_eq!(location, meta);
    }
    // Without forwarded headers, a trusted proxy's request is its own Host.
    let (location, _) = created_location(&app, "c@example.com", &[]).await;
    assert!(location.starts_with(&app.base_url), "{location}");

    // public_url wins over everything.
    let app = spawn_app_with(|s| {
        s.trusted_proxies = "127.0.0.1".parse().unwrap();
        s.public_url = Some("https://scim.example.com/".into());
    })
    .await;
    let (location, _) = created_location(&app, "d@example.com", &forged).await;
    assert!(
        location.starts_with("https://scim.example.com/scim/v2/Users/"),
        "{location}"
    );
}

/// A list page answers each resource exactly as `GET /{kind}/{id}` does (the same keys in the
/// same order, groups and members, extensions), whether it was serialised from the stored
/// document or rendered, and with a projection.
#[tokio::test]
async fn list_pages_answer_resources_as_a_read_does() {
    let app = spawn_app().await;
    let plain = app.create_user("plain@example.com").await;
    let (s, b) = app
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "userName": "ext@example.com",
                "name": {"givenName": "Éva", "familyName": "\"Q\" \u{1}"},
                "emails": [{"value": "ext@example.com", "type": "work", "primary": true}],
                "password": "never-shown-0123456789",
                ENTERPRISE: {"department": "R&D", "employeeNumber": "7"}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let ext = b["id"].as_str().unwrap().to_owned();
    let group = app.create_group("Sales", &[&plain, &ext]).await;
    let empty = app.create_group("Nobody", &[]).await;

    let text = |v: &Value| serde_json::to_string(v).unwrap();
    for (kind, ids) in [
        ("Users", vec![&plain, &ext]),
        ("Groups", vec![&group, &empty]),
    ] {
        for query in [
            "",
            "&attributes=displayName,userName",
            "&excludedAttributes=emails",
        ] {
            let (s, page) = app
                .get(&format!("/{kind}?startIndex=1&count=10{query}"))
                .await;
            assert_eq!(s, 200, "{page}");
            assert_eq!(page["totalResults"], ids.len(), "{page}");
            for (i, id) in ids.iter().enumerate() {
                let (s, read) = app.get(&format!("/{kind}/{id}?x=1{query}")).await;
                assert_eq!(s, 200, "{read}");
                assert_eq!(
                    text(&page["Resources"][i]),
                    text(&read),
                    "{kind} {id} {query}"
                );
            }
        }
    }
}
