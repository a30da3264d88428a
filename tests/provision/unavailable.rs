use crate::harness::*;
use reqwest::Method;
use serde_json::json;
use tableau_sim::{FaultRule, SimConfig};

/// Tableau unreachable (every connection dropped): reads keep working from the store; writes
/// answer 503 with Retry-After and nothing is committed while Tableau is away.
#[tokio::test]
async fn tableau_down_reads_work_writes_503() {
    let b = spawn_bridge_with(SimConfig::default(), |s| {
        s.journal.deadline_secs = 2;
        if let Some(t) = s.tableau.as_mut() {
            t.max_retries = 2;
        }
    })
    .await;
    let (s, u) = b
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "before@example.com"})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    b.sim
        .state()
        .add_fault(FaultRule::parse("/**=drop:1.0").expect("fault spec"));
    let (s, l) = b
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22before@example.com%22",
            None,
        )
        .await;
    assert_eq!((s, l["totalResults"].as_u64()), (200, Some(1)));
    let resp = b
        .send(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "during@example.com"})),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    let body: serde_json::Value = resp.json().await.expect("JSON body");
    assert_eq!(body["status"], "503");
    let (_, l) = b
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22during@example.com%22",
            None,
        )
        .await;
    assert_eq!(
        l["totalResults"], 0,
        "nothing committed while Tableau is away"
    );
}
