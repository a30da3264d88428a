//! SIGTERM and SIGINT stop `serve`, `demo` and `sim` with exit code 0 after the requests in
//! flight; unfinished operations are resumed by the next start. SIGHUP does not kill.

use crate::TOKEN;
use crate::procs::{
    BIN, Proc, http, serve_cmd, serve_without_store, sim_user_names, spawn_sim, user,
};
use std::process::Command;
use std::time::Duration;

/// Creates `names` at once against `url`; the answers' statuses (or the transport error).
fn push(url: &str, names: &[String]) -> Vec<tokio::task::JoinHandle<Result<u16, String>>> {
    let client = http();
    names
        .iter()
        .map(|n| {
            let (client, url, body) = (client.clone(), format!("{url}/Users"), user(n));
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/scim+json")
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string())
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_push_answers_the_requests_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    // Each Add User takes 700 ms: the requests are in flight when SIGTERM arrives.
    let (_sim, sim_url) = spawn_sim(
        dir.path(),
        &["--fault", "POST:/api/*/sites/*/users=latency:700ms"],
    )
    .await;
    let data = dir.path().join("fresh/data");
    let mut cmd = serve_without_store(&sim_url);
    cmd.arg("--data-dir").arg(&data);
    let mut server = Proc::spawn(&mut cmd, &dir.path().join("bridge-1.log"));
    let url = server.url_after("tableau-scim serving SCIM 2.0").await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "data directory");
        assert_eq!(mode(&data.join("tableau-scim.db")), 0o600, "database file");
    }

    let names: Vec<String> = (0..8).map(|i| format!("term{i}@example.com")).collect();
    let answers = push(&url, &names);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");
    let status = server.exit_within(Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(0), "{}", server.text());
    for a in answers {
        assert_eq!(a.await.unwrap(), Ok(201), "{}", server.text());
    }
    let log = server.text();
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    let mut on_tableau = sim_user_names(&sim_url).await;
    on_tableau.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(on_tableau, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_cut_off_by_the_grace_period_complete_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Add User takes 4 s, the grace period is 1 s: the operations are cut off mid-way.
    let (_sim, sim_url) = spawn_sim(
        dir.path(),
        &["--fault", "POST:/api/*/sites/*/users=latency:4s"],
    )
    .await;
    let mut cmd = serve_cmd(dir.path(), &sim_url);
    cmd.env("TABLEAU_SCIM_SHUTDOWN_GRACE_SECS", "1");
    let mut server = Proc::spawn(&mut cmd, &dir.path().join("bridge-1.log"));
    let url = server.url_after("tableau-scim serving SCIM 2.0").await;
    let names: Vec<String> = (0..4).map(|i| format!("cut{i}@example.com")).collect();
    let answers = push(&url, &names);
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal("INT");
    let status = server.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", server.text());
    for a in answers {
        // Cut off: the connection closed without an answer (or an error status).
        assert_ne!(a.await.unwrap(), Ok(201));
    }

    let mut cmd = serve_cmd(dir.path(), &sim_url);
    let mut server = Proc::spawn(&mut cmd, &dir.path().join("bridge-2.log"));
    server.url_after("tableau-scim serving SCIM 2.0").await;
    let mut expected = names.clone();
    expected.sort();
    for _ in 0..300 {
        let mut on_tableau = sim_user_names(&sim_url).await;
        on_tableau.sort();
        // A resumed Add User whose first attempt did reach Tableau links the user instead.
        on_tableau.dedup();
        if on_tableau == expected {
            let ops = Command::new(BIN)
                .args(["ops", "--store"])
                .arg(format!(
                    "sqlite://{}",
                    dir.path().join("bridge.db").display()
                ))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&ops.stdout);
            if !text.contains("running") && text.contains("succeeded") {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the operations were not completed after the restart; sim has {:?}\n{}",
        sim_user_names(&sim_url).await,
        server.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_and_sim_exit_0_on_sigterm_and_sighup_kills_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--sim-listen",
        "127.0.0.1:0",
    ])
    .arg("--data")
    .arg(dir.path().join("demo"));
    let mut demo = Proc::spawn(&mut cmd, &dir.path().join("demo.log"));
    let url = demo.url_after("SCIM base URL").await;
    demo.signal("HUP");
    demo.line_with("SIGHUP: the demo has nothing to reload")
        .await;
    let token = demo.line_with("Bearer token").await;
    let token = token.rsplit(' ').next().unwrap().to_string();
    let r = http()
        .get(format!("{url}/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    demo.signal("TERM");
    let status = demo.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", demo.text());

    let (mut sim, sim_url) = spawn_sim(dir.path(), &[]).await;
    sim.signal("HUP");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        reqwest::get(format!("{sim_url}/_sim/state")).await.is_ok(),
        "sim survives SIGHUP"
    );
    sim.signal("TERM");
    let status = sim.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", sim.text());
}
