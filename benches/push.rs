//! End-to-end throughput of a user push: N `POST /Users` (Okta's create shape) through the
//! bridge (SQLite journal in a temporary directory, Tableau = the in-process simulator), against
//! the very Tableau requests the bridge makes for them (Add User, then Update User for the
//! full name and e-mail) sent straight to the simulator, with the same concurrency. Both with
//! the simulator answering at once and with 50 ms of latency on every call. Everything talks to
//! 127.0.0.1 only, and every scenario stops by itself after a fixed number of users.
//!
//! Run: `cargo bench --bench push`. Under `cargo test --all-targets` (no `--bench` argument) it
//! makes a smoke run of a few users per scenario, so it cannot rot.
//!
//! Env: `PUSH_BENCH_USERS` (users per 0 ms scenario, default 10000), `PUSH_BENCH_SLOW_USERS`
//! (per 50 ms scenario, default 5000), `PUSH_BENCH_CONCURRENCY` (default 64),
//! `PUSH_BENCH_LATENCY_MS` (default 50), `PUSH_BENCH_ONLY` (`fast` or `slow`: one latency).
//!
//! The process allocates with jemalloc, the `tableau-scim` binary's allocator (src/main.rs),
//! so that the bridge is measured as it ships; the direct baseline runs in the same process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail loudly"
)]

use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::Client;
use serde_json::{Value, json};
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::tableau::{TableauAuth, TableauSettings};
use tableau_sim::{FaultRule, PersonalAccessToken, RunningSim, SimConfig};

const TOKEN: &str = "push-bench-token-0123456789abcdef";
const SITE: &str = "acme";
const PAT_NAME: &str = "bridge";
const PAT_SECRET: &str = "bridge-secret";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn user_name(run: &str, i: usize) -> String {
    format!("{run}.user{i:06}@example.com")
}

/// What Okta sends to create a user (catalog app): name, e-mails, active, no groups.
fn okta_create(run: &str, i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(run, i),
        "name": {"givenName": "Bench", "familyName": format!("User {i}")},
        "emails": [{"primary": true, "value": user_name(run, i), "type": "work"}],
        "displayName": format!("Bench User {i}"),
        "locale": "en-US",
        "externalId": format!("00u{i:017}"),
        "groups": [],
        "active": true
    })
}

async fn spawn_sim(latency_ms: u64) -> Result<RunningSim, BoxError> {
    let mut config = SimConfig::default().with_site(SITE);
    config.pats.push(PersonalAccessToken {
        name: PAT_NAME.into(),
        secret: PAT_SECRET.into(),
    });
    if latency_ms > 0 {
        config
            .faults
            .push(FaultRule::parse(&format!("/**=latency:{latency_ms}ms"))?);
    }
    Ok(tableau_sim::spawn(config).await?)
}

fn http_client(concurrency: usize) -> Result<Client, BoxError> {
    Ok(Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(120))
        .build()?)
}

struct Measured {
    users: usize,
    failed: usize,
    secs: f64,
}

impl Measured {
    fn per_second(&self) -> f64 {
        (self.users - self.failed) as f64 / self.secs
    }
}

/// Runs `make(i)` for `0..n` with at most `concurrency` in flight; counts failures.
async fn drive<F, Fut>(n: usize, concurrency: usize, make: F) -> Measured
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let ok = stream::iter(0..n)
        .map(make)
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    Measured {
        users: n,
        failed: n - ok,
        secs: started.elapsed().as_secs_f64(),
    }
}

/// N `POST /Users` through the bridge.
async fn through_bridge(
    latency_ms: u64,
    n: usize,
    concurrency: usize,
) -> Result<Measured, BoxError> {
    let sim = spawn_sim(latency_ms).await?;
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    let mut tableau = TableauSettings::new(
        sim.url(),
        sim.site_content_url(),
        TableauAuth::Pat {
            name: PAT_NAME.into(),
            secret: PAT_SECRET.into(),
        },
    );
    // The defaults protect Tableau Cloud (20 requests/s, 8 in flight); here the simulator is
    // the target, and the direct baseline has the same concurrency and no rate limit.
    tableau.requests_per_second = 1_000_000;
    tableau.max_concurrency = concurrency;
    settings.tableau = Some(tableau);
    // The bridge runs on a runtime of its own, as in its own process (`#[tokio::main]`): its
    // store writer must not queue behind this process's load-generating client tasks.
    let (started, bridge) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(e) => {
                    let _ = started.send(Err(e.to_string()));
                    return Ok(());
                }
            };
            let _ = started.send(Ok((app.base_url(), app.handle())));
            app.run_until_stopped().await.map_err(|e| e.to_string())
        })
    });
    let (base, handle) = bridge.recv()??;
    let http = http_client(concurrency)?;

    // One warm-up user outside the measurement: the sign-in and the server-info discovery.
    let post = |run: &'static str, i: usize| {
        let http = http.clone();
        let url = format!("{base}/Users");
        async move {
            match http
                .post(url)
                .bearer_auth(TOKEN)
                .header("Content-Type", "application/scim+json")
                .body(okta_create(run, i).to_string())
                .send()
                .await
            {
                Ok(r) => r.status().as_u16() == 201 && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    };
    if !post("warmup", 0).await {
        return Err("the warm-up POST /Users through the bridge failed".into());
    }
    let measured = drive(n, concurrency, |i| post("bridge", i)).await;
    let in_tableau = sim.state().snapshot().users.len();
    handle.stop(true).await;
    let _ = tokio::task::spawn_blocking(move || server.join()).await;
    sim.stop().await;
    // The admin and the PAT owner, if listed, plus the warm-up user.
    if in_tableau < n - measured.failed {
        return Err(format!("the simulator has {in_tableau} users, expected ≥ {n}").into());
    }
    Ok(measured)
}

/// The same Tableau requests straight to the simulator: sign in once with the PAT, then per
/// user Add User and Update User (full name, e-mail), as the bridge sends them.
async fn direct(latency_ms: u64, n: usize, concurrency: usize) -> Result<Measured, BoxError> {
    let sim = spawn_sim(latency_ms).await?;
    let http = http_client(concurrency)?;
    let api = sim.api_url();
    let signin: Value = http
        .post(format!("{api}/auth/signin"))
        .header("Accept", "application/json")
        .json(&json!({"credentials": {
            "personalAccessTokenName": PAT_NAME,
            "personalAccessTokenSecret": PAT_SECRET,
            "site": {"contentUrl": SITE}
        }}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let credentials = &signin["credentials"];
    let token = credentials["token"].as_str().unwrap_or_default().to_owned();
    let site = credentials["site"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let users_url = format!("{api}/sites/{site}/users");
    let (http, token, users_url) = (&http, &token, &users_url);
    let create = |i: usize| async move {
        let name = user_name("direct", i);
        let added = http
            .post(users_url.as_str())
            .header("Accept", "application/json")
            .header("X-Tableau-Auth", token.as_str())
            .json(&json!({"user": {"name": name, "siteRole": "Viewer"}}))
            .send()
            .await;
        let Ok(added) = added else { return false };
        if !added.status().is_success() {
            return false;
        }
        let Ok(added) = added.json::<Value>().await else {
            return false;
        };
        let Some(luid) = added["user"]["id"].as_str() else {
            return false;
        };
        let updated = http
            .put(format!("{users_url}/{luid}"))
            .header("Accept", "application/json")
            .header("X-Tableau-Auth", token.as_str())
            .json(&json!({"user": {"fullName": format!("Bench User {i}"), "email": name}}))
            .send()
            .await;
        match updated {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        }
    };
    let measured = drive(n, concurrency, create).await;
    sim.stop().await;
    Ok(measured)
}

struct Row {
    scenario: String,
    bridge: Measured,
    direct: Measured,
}

async fn run() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: a smoke run then.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let fast_users = env_usize("PUSH_BENCH_USERS", if benchmarking { 10_000 } else { 20 });
    let slow_users = env_usize(
        "PUSH_BENCH_SLOW_USERS",
        if benchmarking { 5000 } else { 20 },
    );
    let concurrency = env_usize("PUSH_BENCH_CONCURRENCY", 64);
    let latency = env_usize("PUSH_BENCH_LATENCY_MS", 50) as u64;
    let only = std::env::var("PUSH_BENCH_ONLY").unwrap_or_default();
    tableau_scim::init_crypto();
    println!(
        "push benchmark: {concurrency} concurrent clients; simulator, bridge and clients \
         share this machine ({} CPUs)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut scenarios = Vec::new();
    if only != "slow" {
        scenarios.push((0, fast_users));
    }
    if only != "fast" {
        scenarios.push((latency, slow_users));
    }
    let mut rows = Vec::new();
    for (latency_ms, n) in scenarios {
        // Direct first, then the bridge, so that neither always runs on a warmer machine.
        let direct = direct(latency_ms, n, concurrency).await?;
        let bridge = through_bridge(latency_ms, n, concurrency).await?;
        for (label, m) in [("direct", &direct), ("bridge", &bridge)] {
            println!(
                "  sim {latency_ms:>3} ms  {label:<6} {:>6} users in {:>6.2} s: {:>8.0} users/s ({} failed)",
                m.users,
                m.secs,
                m.per_second(),
                m.failed
            );
        }
        rows.push(Row {
            scenario: format!("simulator {latency_ms} ms/call, {n} users"),
            bridge,
            direct,
        });
    }
    println!();
    println!(
        "| {:<34} | {:>15} | {:>15} | {:>14} |",
        "scenario", "bridge users/s", "direct users/s", "bridge/direct"
    );
    println!("|{:-<36}|{:->17}|{:->17}|{:->16}|", "", "", "", "");
    for r in &rows {
        println!(
            "| {:<34} | {:>15.0} | {:>15.0} | {:>13.1} % |",
            r.scenario,
            r.bridge.per_second(),
            r.direct.per_second(),
            100.0 * r.bridge.per_second() / r.direct.per_second()
        );
    }
    if let Some(fast) = rows
        .iter()
        .find(|r| r.scenario.starts_with("simulator 0 ms"))
    {
        println!(
            "\njournaled POST /Users on SQLite, simulator at 0 ms: {:.0}/s (target ≥ 2000/s)",
            fast.bridge.per_second()
        );
    }
    let failed: usize = rows.iter().map(|r| r.bridge.failed + r.direct.failed).sum();
    if failed > 0 {
        return Err(format!("{failed} users failed").into());
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}
