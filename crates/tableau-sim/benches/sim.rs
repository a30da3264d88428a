//! Throughput of the Tableau REST API simulator: requests per second for Add User and
//! Get Users, through real HTTP on localhost, with a bounded number of concurrent clients.
//! It stops by itself.
//!
//! Run: `cargo bench -p tableau-sim --bench sim` (optimised) or add `--profile dev`.
//! Env: `SIM_BENCH_REQUESTS` (per scenario, default 5000), `SIM_BENCH_CONCURRENCY` (default 32),
//! `SIM_BENCH_WORKERS` (simulator threads, default 2).

use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};
use tableau_sim::SimConfig;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Target {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Target {
    async fn send(&self, request: reqwest::RequestBuilder) -> bool {
        match request
            .header("Accept", "application/json")
            .header("X-Tableau-Auth", &self.token)
            .send()
            .await
        {
            Ok(response) => {
                let ok = response.status().is_success();
                ok && response.bytes().await.is_ok()
            }
            Err(_) => false,
        }
    }
}

/// Runs `requests` calls of `make(i)` with at most `concurrency` in flight; prints req/s.
async fn scenario<F, Fut>(label: &str, requests: usize, concurrency: usize, make: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let ok = stream::iter(0..requests)
        .map(make)
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:<44} {requests:>6} requests, {concurrency:>3} concurrent: {:>9.0} req/s ({:.2} s, {} failed)",
        requests as f64 / secs,
        secs,
        requests - ok
    );
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; anything else (`cargo test --all-targets`) gets a quick
    // smoke run, so test runs stay fast.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let requests = env_usize("SIM_BENCH_REQUESTS", if benchmarking { 5000 } else { 50 });
    let concurrency = env_usize("SIM_BENCH_CONCURRENCY", 32);
    let workers = env_usize("SIM_BENCH_WORKERS", 2);
    let sim = tableau_sim::spawn(SimConfig {
        workers,
        ..SimConfig::default()
    })
    .await?;
    // reqwest is built without a TLS crypto provider of its own; a client needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let signin: Value = http
        .post(format!("{}/auth/signin", sim.api_url()))
        .header("Accept", "application/json")
        .json(&json!({"credentials": {"name": "admin", "password": "admin-password", "site": {"contentUrl": ""}}}))
        .send()
        .await?
        .json()
        .await?;
    let credentials = &signin["credentials"];
    let target = Target {
        http,
        base: format!(
            "{}/sites/{}",
            sim.api_url(),
            credentials["site"]["id"].as_str().unwrap_or_default()
        ),
        token: credentials["token"].as_str().unwrap_or_default().to_owned(),
    };
    let t = &target;
    println!("simulator: {workers} worker threads, in-process client on the same machine");

    scenario(
        "POST users (Add User)",
        requests,
        concurrency,
        |i| async move {
            let body =
                json!({"user": {"name": format!("bench{i:06}@example.com"), "siteRole": "Viewer"}});
            t.send(t.http.post(format!("{}/users", t.base)).json(&body))
                .await
        },
    )
    .await;
    let users = sim.state().snapshot().users.len();
    let pages = users.div_ceil(100).max(1);
    scenario(
        &format!("GET users?pageSize=100 ({users} users)"),
        requests,
        concurrency,
        |i| async move {
            let page = i % pages + 1;
            t.send(
                t.http
                    .get(format!("{}/users?pageSize=100&pageNumber={page}", t.base)),
            )
            .await
        },
    )
    .await;
    scenario(
        "GET users?filter=name:eq:… (index)",
        requests,
        concurrency,
        |i| async move {
            let name = format!("bench{:06}@example.com", i % requests.max(1));
            t.send(
                t.http
                    .get(format!("{}/users?filter=name:eq:{name}", t.base)),
            )
            .await
        },
    )
    .await;
    sim.stop().await;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}
