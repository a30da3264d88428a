//! `/healthz` and `/readyz` against the real server in this process: no authentication,
//! outside the SCIM base path, the request id echoed; readiness following Tableau as it goes
//! away and comes back, naming refused credentials, and the store-only mode; `metrics.listen`
//! moving the three endpoints off the main listener.

use reqwest::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::tableau::{TableauAuth, TableauSettings};
use tableau_sim::{PersonalAccessToken, RunningSim, SimConfig};

const TOKEN: &str = "observability-token-0123456789";
const PAT_SECRET: &str = "bridge-pat-secret-4711";

struct Server {
    scim: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

async fn sim_on(listen: std::net::SocketAddr) -> RunningSim {
    let mut config = SimConfig::default().with_site("acme");
    config.listen = listen;
    config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: PAT_SECRET.into(),
    });
    tableau_sim::spawn(config).await.expect("simulator starts")
}

async fn server(tableau: Option<(&RunningSim, &str)>, metrics_listen: Option<&str>) -> Server {
    tableau_scim::init_crypto();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    settings.metrics.listen = metrics_listen.map(str::to_owned);
    settings.tableau = tableau.map(|(sim, secret)| {
        let mut t = TableauSettings::new(
            sim.url(),
            sim.site_content_url(),
            TableauAuth::Pat {
                name: "bridge".into(),
                secret: secret.into(),
            },
        );
        t.requests_per_second = 1000;
        t.max_retries = 1;
        t
    });
    let app = Application::build(settings).await.expect("app builds");
    let server = Server {
        scim: app.base_url(),
        metrics: app.metrics_url(),
        _dir: dir,
    };
    tokio::spawn(app.run_until_stopped());
    server
}

async fn get(url: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = Client::new().get(url).send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

/// Polls `/readyz` until it answers `want` (bounded), and returns its body.
async fn ready_becomes(base: &str, want: u16) -> Value {
    let started = Instant::now();
    loop {
        let (status, body, _) = get(&format!("{base}/readyz")).await;
        if status == want {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "/readyz still {status} {body}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn readiness_follows_tableau_going_away_and_coming_back() {
    let sim = sim_on("127.0.0.1:0".parse().unwrap()).await;
    let addr = sim.addr();
    let s = server(Some((&sim, PAT_SECRET)), None).await;
    let (status, body, headers) = get(&format!("{}/readyz", s.metrics)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"store": "ok", "tableau": "ok"}})
    );
    assert!(headers.contains_key("x-request-id"));

    sim.stop().await;
    let down = ready_becomes(&s.metrics, 503).await;
    assert_eq!(down["status"], "not ready", "{down}");
    assert_eq!(down["checks"]["store"], "ok", "{down}");
    let why = down["checks"]["tableau"].as_str().unwrap();
    assert!(
        why.starts_with("unreachable") || why.starts_with("no answer"),
        "{down}"
    );
    // Alive all the same.
    assert_eq!(get(&format!("{}/healthz", s.metrics)).await.0, 200);

    // A new Tableau on the same address (the old session is unknown to it: signed in again).
    let back = sim_on(addr).await;
    let up = ready_becomes(&s.metrics, 200).await;
    assert_eq!(up["checks"]["tableau"], "ok", "{up}");
    back.stop().await;
}

#[tokio::test]
async fn refused_credentials_are_named_without_secrets() {
    let sim = sim_on("127.0.0.1:0".parse().unwrap()).await;
    let s = server(Some((&sim, "a-wrong-pat-secret-0815")), None).await;
    let (status, body, _) = get(&format!("{}/readyz", s.metrics)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        json!({"status": "not ready", "checks": {"store": "ok", "tableau": "sign-in refused (401001)"}})
    );
    assert!(!body.to_string().contains("0815"));
}

#[tokio::test]
async fn without_tableau_the_store_alone_makes_it_ready() {
    let s = server(None, None).await;
    let (status, body, _) = get(&format!("{}/readyz", s.metrics)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"store": "ok", "tableau": "not configured"}})
    );
    // Outside the base path, without credentials; the SCIM endpoints still want them.
    let (status, body, headers) = get(&format!("{}/healthz", s.metrics)).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(get(&format!("{}/Users", s.scim)).await.0, 401);
    let metrics = Client::new()
        .get(format!("{}/metrics", s.metrics))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let scrape = crate::prom::parse(&metrics.text().await.unwrap());
    assert_eq!(scrape.types["tableau_scim_operations"], "gauge");
}

#[tokio::test]
async fn metrics_listen_takes_the_three_endpoints_off_the_main_listener() {
    let s = server(None, Some("127.0.0.1:0")).await;
    let main = s.scim.trim_end_matches("/scim/v2");
    assert_ne!(main, s.metrics);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, _, _) = get(&format!("{main}{path}")).await;
        assert_eq!(status, 404, "{path} on the main listener");
        let resp = Client::new()
            .get(format!("{}{path}", s.metrics))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path} on metrics.listen");
    }
    // And the metrics listener serves nothing else.
    let (status, _, _) = get(&format!("{}/scim/v2/Users", s.metrics)).await;
    assert_eq!(status, 404);
}

/// While a slow Tableau check runs, other probes get the last answer at once instead of
/// waiting for it (a probe with a one-second timeout would otherwise fail).
#[tokio::test]
async fn a_slow_tableau_check_does_not_hold_other_probes() {
    let sim = sim_on("127.0.0.1:0".parse().unwrap()).await;
    let s = server(Some((&sim, PAT_SECRET)), None).await;
    assert_eq!(get(&format!("{}/readyz", s.metrics)).await.0, 200);
    sim.state()
        .add_fault(tableau_sim::FaultRule::parse("GET:/api/**=latency:2s").unwrap());
    // Past the cache: the next probe starts a check that takes 4 s (two lookups).
    tokio::time::sleep(tableau_scim::provision::health::TABLEAU_CACHE).await;
    let url = format!("{}/readyz", s.metrics);
    let slow = tokio::spawn({
        let url = url.clone();
        async move {
            let started = Instant::now();
            let status = get(&url).await.0;
            (status, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let (status, body, _) = get(&url).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((status, &body["checks"]["tableau"]), (200, &json!("ok")));
    let (status, took) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert!(took >= Duration::from_millis(2500), "{took:?}");
}
