//! The real binary, `serve --log-format json`, against a simulator: every stderr line is a
//! JSON object, each request has its access-log line, failed authentication is logged once per
//! peer per minute, no secret reaches the log (the bearer token, a wrong one, the PAT secret,
//! a password sent in a POST), `/metrics` counts exactly what was sent, the journal keeps the
//! request id, and every metric the Grafana dashboard queries exists.

use reqwest::Client;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tableau_sim::{PersonalAccessToken, SimConfig};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-scim");
const TOKEN: &str = "observability-token-0123456789";
const WRONG_TOKEN: &str = "not-the-token-but-long-enough-42";
const PAT_SECRET: &str = "bridge-pat-secret-4711";
const PASSWORD: &str = "Okta-Pa55word-n0t-for-logs";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The child, SIGKILLed when dropped.
struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn json_lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n--- log:\n{text}"))
        })
        .collect()
}

/// The `url` field of the first line with this message (bounded wait).
async fn url_logged(bridge: &mut Bridge, log: &Path, message: &str) -> String {
    for _ in 0..600 {
        if let Some(url) = json_lines(log)
            .iter()
            .find(|l| l["message"] == message)
            .and_then(|l| l["url"].as_str())
        {
            return url.to_owned();
        }
        if let Ok(Some(status)) = bridge.0.try_wait() {
            panic!(
                "the bridge exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no '{message}' logged within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_metrics_and_no_secrets() {
    tableau_scim::init_crypto();
    let mut sim_config = SimConfig::default().with_site("acme");
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: PAT_SECRET.into(),
    });
    let sim = tableau_sim::spawn(sim_config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let store = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--token", TOKEN, "--store", &store])
        .args(["--tableau-url", &sim.url(), "--tableau-site", "acme"])
        .args(["--tableau-pat", &format!("bridge:{PAT_SECRET}")])
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .env_remove("TABLEAU_SCIM_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut bridge = Bridge(child);
    let scim = url_logged(&mut bridge, &log, "tableau-scim serving SCIM 2.0").await;
    let root = url_logged(&mut bridge, &log, "serving /metrics, /healthz and /readyz").await;
    let client = Client::new();

    let (status, ready) = {
        let r = client.get(format!("{root}/readyz")).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{ready}");

    // Three creates (one with a password, as Okta sends), one delete, three refused requests.
    let mut ids = Vec::new();
    for i in 1..=3 {
        let mut user = json!({"schemas": [USER], "userName": format!("obs{i}@example.com")});
        if i == 1 {
            user["password"] = json!(PASSWORD);
        }
        let resp = client
            .post(format!("{scim}/Users"))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/scim+json")
            .header("X-Request-Id", format!("obs-create-{i}"))
            .body(user.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(
            resp.headers()["x-request-id"],
            format!("obs-create-{i}").as_str()
        );
        let body: Value = resp.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let resp = client
        .delete(format!("{scim}/Users/{}", ids[2]))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    for auth in [Some(WRONG_TOKEN), Some(WRONG_TOKEN), None] {
        let mut r = client.get(format!("{scim}/Users?filter=userName%20eq%20%22x%22"));
        if let Some(t) = auth {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("x-request-id"));
    }

    // Metrics: exactly what was sent.
    let text = client
        .get(format!("{root}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let m = crate::prom::parse(&text);
    let req = |method, status| {
        m.value(
            "tableau_scim_requests_total",
            &[
                ("resource", "Users"),
                ("method", method),
                ("status", status),
            ],
        )
    };
    assert_eq!(req("POST", "201"), 3.0, "{text}");
    assert_eq!(req("DELETE", "204"), 1.0, "{text}");
    assert_eq!(req("GET", "401"), 3.0, "{text}");
    assert_eq!(
        m.value(
            "tableau_scim_request_duration_seconds_count",
            &[("resource", "Users"), ("method", "POST"), ("status", "201")]
        ),
        3.0
    );
    let auth = |reason| m.value("tableau_scim_auth_failures_total", &[("reason", reason)]);
    assert_eq!((auth("invalid"), auth("missing")), (2.0, 1.0), "{text}");
    let calls = |call, status, code| {
        m.value(
            "tableau_scim_tableau_calls_total",
            &[("call", call), ("status", status), ("code", code)],
        )
    };
    assert_eq!(calls("POST users", "201", "none"), 3.0, "{text}");
    assert_eq!(calls("DELETE users/{id}", "204", "none"), 1.0, "{text}");
    assert_eq!(calls("POST auth/signin", "200", "none"), 1.0, "{text}");
    let sim_users = sim
        .state()
        .snapshot()
        .users
        .iter()
        .filter(|u| u.name.starts_with("obs"))
        .count();
    assert_eq!(sim_users, 2);
    let ops = |state| m.value("tableau_scim_operations", &[("state", state)]);
    assert_eq!(
        (ops("succeeded"), ops("running"), ops("failed")),
        (4.0, 0.0, 0.0)
    );
    assert_eq!(
        m.value("tableau_scim_oldest_unfinished_operation_age_seconds", &[]),
        0.0
    );
    let batches = m.value("tableau_scim_sqlite_commit_batch_size_count", &[]);
    let writes = m.value("tableau_scim_sqlite_commit_batch_size_sum", &[]);
    assert!(batches >= 1.0 && writes >= batches, "{text}");

    // Every metric the dashboard queries is exposed.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let names = m.names();
    let used = dashboard_metric_names(&dashboard);
    assert!(used.len() >= 8, "{used:?}");
    for name in &used {
        assert!(
            names.contains(name),
            "the dashboard queries {name}, not in:\n{text}"
        );
    }

    // The journal keeps the request id; `ops` shows it.
    let ops = Command::new(BIN)
        .args(["ops", "--store", &store, "--limit", "10"])
        .env_remove("TABLEAU_SCIM_CONFIG")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ops.stdout);
    assert!(ops.status.success(), "{listing}");
    assert!(listing.contains("request obs-create-2"), "{listing}");

    drop(bridge);
    let lines = json_lines(&log);
    // One access line per request, with its fields at the top level.
    let access = lines
        .iter()
        .find(|l| l["message"] == "request done" && l["request_id"] == "obs-create-1")
        .unwrap_or_else(|| panic!("no access line for obs-create-1 in {lines:#?}"));
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["method"], "POST");
    assert_eq!(access["path"], "/scim/v2/Users");
    assert_eq!(access["status"], 201);
    assert!(access["duration_ms"].is_u64(), "{access}");
    let credential = access["credential"].as_str().unwrap();
    assert!(
        credential.starts_with("token:") && credential.len() == 14,
        "{credential}"
    );
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request done" && l["status"] == 401)
        .collect();
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|l| l["path"] == "/scim/v2/Users" && l["credential"] == "-")
    );
    let auth_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("authentication failed"))
        })
        .collect();
    assert_eq!(auth_lines.len(), 1, "{auth_lines:#?}");
    assert_eq!(auth_lines[0]["level"], "WARN");
    assert_eq!(auth_lines[0]["peer"], "127.0.0.1");

    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [TOKEN, WRONG_TOKEN, PAT_SECRET, PASSWORD] {
        assert!(!text.contains(secret), "{secret} is in the log");
    }
    // Nor the query string.
    assert!(!text.contains("filter=userName"));
    // No colour: stderr is a file.
    assert!(!text.contains('\u{1b}'));
}

/// Every `tableau_scim_*` name in the `expr` of the dashboard's panels.
fn dashboard_metric_names(dashboard: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![dashboard];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    let mut rest = expr.as_str();
                    while let Some(at) = rest.find("tableau_scim_") {
                        let name: String = rest[at..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        rest = &rest[at + name.len()..];
                        out.insert(name);
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

/// Text logs (the default) go to stderr, without colour when stderr is no terminal; stdout
/// stays empty.
#[tokio::test]
async fn text_logs_go_to_stderr_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--token", TOKEN])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("TABLEAU_SCIM_CONFIG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut bridge = Bridge(child);
    let mut text = String::new();
    for _ in 0..600 {
        text = std::fs::read_to_string(&err).unwrap_or_default();
        if text.contains("serving /metrics, /healthz and /readyz") {
            break;
        }
        assert!(bridge.0.try_wait().unwrap().is_none(), "exited:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(bridge);
    assert!(
        text.contains("INFO") && text.contains("tableau-scim serving SCIM 2.0"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "colour codes in a file:\n{text}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap()).is_err());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
}
