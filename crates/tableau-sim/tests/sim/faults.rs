//! Fault injection (429 with and without Retry-After, 500/503, latency, dropped connections),
//! its determinism under a seed, and the `/_sim/` control API.

use std::time::{Duration, Instant};

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tableau_sim::{FaultRule, SimConfig};

async fn control(
    sim_url: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http().request(method, format!("{sim_url}/_sim/{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn too_many_requests_with_and_without_retry_after() {
    let config = SimConfig::default()
        .with_fault(FaultRule::parse("GET:/api/*/sites/*/users=429:1").unwrap())
        .with_fault(FaultRule::parse("GET:/api/*/sites/*/groups=429:1:retry-after=7").unwrap());
    let sim = start(config).await;
    let client = Client::pat(&sim).await;
    let response = client
        .http
        .get(client.url("users"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(code(&response.json().await.unwrap()), "429000");
    let response = client.http.get(client.url("groups")).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"<error code="429000">"#)
    );
    // Other methods and paths are untouched.
    assert_eq!(
        client
            .post(
                "users",
                json!({"user": {"name": "a", "siteRole": "Viewer"}})
            )
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(sim.state().snapshot().injected_faults.too_many_requests, 2);
    sim.stop().await;
}

#[tokio::test]
async fn server_errors_latency_and_drops() {
    let config = SimConfig::default()
        .with_fault(FaultRule::parse("/api/*/sites/*/groups=500:1").unwrap())
        .with_fault(FaultRule::parse("DELETE:/api/**=503:1").unwrap())
        .with_fault(FaultRule::parse("GET:/api/*/serverinfo=latency:150ms").unwrap())
        .with_fault(FaultRule::parse("PUT:/api/**=drop:1").unwrap());
    let sim = start(config).await;
    let client = Client::pat(&sim).await;
    let (status, body) = client.get("groups").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "500000")
    );
    let (status, body) = client.delete("users/x").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "503000")
    );
    let started = Instant::now();
    assert_eq!(client.get("/serverinfo").await.0, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the latency is added"
    );
    let dropped = client
        .http
        .put(client.url(&format!("users/{}", client.user_id)))
        .header("X-Tableau-Auth", &client.token)
        .json(&json!({"user": {"fullName": "x"}}))
        .send()
        .await;
    let dropped = match dropped {
        Ok(response) => response.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    let counts = sim.state().snapshot().injected_faults;
    assert_eq!(
        (counts.server_errors, counts.delays, counts.drops),
        (2, 1, 1)
    );
    // The simulator keeps serving after a dropped connection.
    assert_eq!(client.get("users").await.0, StatusCode::OK);
    sim.stop().await;
}

/// The statuses of 40 identical requests under a 50 % fault.
async fn fault_pattern(seed: u64) -> Vec<u16> {
    let config = SimConfig::default()
        .with_seed(seed)
        .with_fault(FaultRule::parse("GET:/api/*/serverinfo=503:0.5").unwrap());
    let sim = start(config).await;
    let client = http();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let response = client
            .get(format!("{}/serverinfo", sim.api_url()))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    sim.stop().await;
    statuses
}

#[tokio::test]
async fn faults_are_deterministic_under_a_seed() {
    let a = fault_pattern(42).await;
    assert_eq!(a, fault_pattern(42).await);
    assert_ne!(a, fault_pattern(43).await);
    let failures = a.iter().filter(|s| **s == 503).count();
    assert!((5..=35).contains(&failures), "about half fail: {failures}");
}

#[tokio::test]
async fn control_api_sets_and_clears_faults() {
    let sim = start_default().await;
    let url = sim.url();
    let client = Client::pat(&sim).await;
    let (status, body) = control(
        &url,
        reqwest::Method::POST,
        "faults",
        Some(json!({"spec": "GET:/api/*/sites/*/users=429:1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rules"][0]["spec"], "GET:/api/*/sites/*/users=429:1");
    assert_eq!(code(&client.get("users").await.1), "429000");
    let (_, body) = control(&url, reqwest::Method::GET, "faults", None).await;
    assert_eq!(body["injected"]["tooManyRequests"], 1);
    let (status, body) = control(
        &url,
        reqwest::Method::POST,
        "faults",
        Some(json!({"spec": "GET:/x=teapot:1"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("teapot"));
    let (_, body) = control(
        &url,
        reqwest::Method::PUT,
        "faults",
        Some(json!({"specs": ["/a=500:0.1", "/b=drop:0.2"]})),
    )
    .await;
    assert_eq!(body["rules"].as_array().unwrap().len(), 2);
    let (_, body) = control(&url, reqwest::Method::DELETE, "faults", None).await;
    assert_eq!(body["rules"], json!([]));
    assert_eq!(client.get("users").await.0, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn control_api_dumps_state_and_manages_sessions_and_seats() {
    let sim = start_default().await;
    let url = sim.url();
    let client = Client::pat(&sim).await;
    let user = client.add_user("kim@example.com", "Viewer").await;
    let group = client.create_group("Dump").await;
    client
        .post(
            &format!("groups/{group}/users"),
            json!({"user": {"id": user}}),
        )
        .await;

    let (status, state) = control(&url, reqwest::Method::GET, "state", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["site"]["contentUrl"], SITE);
    assert_eq!(state["site"]["id"], client.site_id.as_str());
    let kim = state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "kim@example.com")
        .unwrap();
    assert_eq!(kim["siteRole"], "Viewer");
    assert!(kim.get("password").is_none(), "passwords are never dumped");
    let dump = state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Dump")
        .unwrap();
    assert_eq!(dump["memberIds"], json!([user]));
    assert_eq!(state["sessions"], 1);

    let (status, body) = control(
        &url,
        reqwest::Method::PUT,
        &format!("users/{user}/content"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["ownsContent"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, _) = control(&url, reqwest::Method::PUT, "users/nobody/content", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = control(
        &url,
        reqwest::Method::DELETE,
        &format!("users/{user}/content"),
        None,
    )
    .await;
    assert_eq!(body["ownsContent"], false);

    let (status, body) = control(
        &url,
        reqwest::Method::PUT,
        "seats",
        Some(json!({"Viewer": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["seats"]["Viewer"], json!({"used": 1, "limit": 1}));
    let (_, body) = client
        .post(
            "users",
            json!({"user": {"name": "late", "siteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(body["user"]["siteRole"], "Unlicensed");
    let (status, _) = control(
        &url,
        reqwest::Method::PUT,
        "seats",
        Some(json!({"Gold": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, body) = control(&url, reqwest::Method::DELETE, "sessions", None).await;
    assert_eq!(body["ended"], 1);
    assert_eq!(code(&client.get("users").await.1), "401002");
    let (status, _) = control(&url, reqwest::Method::GET, "nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sim.stop().await;
}

#[tokio::test]
async fn in_process_controls_match_the_control_api() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let owner = client.add_user("lee@example.com", "Creator").await;
    assert_eq!(
        sim.state()
            .set_owns_content("lee@example.com", true)
            .unwrap(),
        owner
    );
    assert_eq!(
        sim.state()
            .set_owns_content("nobody", true)
            .unwrap_err()
            .code,
        404002
    );
    assert_eq!(
        code(&client.delete(&format!("users/{owner}")).await.1),
        "409003"
    );

    sim.state()
        .add_fault(FaultRule::parse("GET:/api/**=503:1").unwrap());
    assert_eq!(code(&client.get("users").await.1), "503000");
    sim.state()
        .replace_faults(vec![FaultRule::parse("GET:/api/**=429:1").unwrap()]);
    assert_eq!(code(&client.get("users").await.1), "429000");
    sim.state().clear_faults();

    sim.state()
        .set_seats(tableau_sim::LicenceTier::Viewer, Some(0));
    let (_, body) = client
        .post(
            "users",
            json!({"user": {"name": "nv", "siteRole": "Viewer"}}),
        )
        .await;
    assert_eq!(body["user"]["siteRole"], "Unlicensed");
    assert_eq!(sim.state().end_all_sessions(), 1);
    assert_eq!(code(&client.get("users").await.1), "401002");
    sim.stop().await;
}
