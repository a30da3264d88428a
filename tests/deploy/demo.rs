//! `demo --dry-run`: SCIM answered and stored, the simulator never written, each change
//! journaled with the calls it would make (`planned`).

use crate::procs::{BIN, Proc, http, sim_user_names, user};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_demo_stores_and_plans_but_never_writes_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let mut cmd = Command::new(BIN);
    cmd.args(["demo", "--dry-run", "--listen", "127.0.0.1:0"])
        .args(["--sim-listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(&data)
        .env("NO_COLOR", "1");
    let mut demo = Proc::spawn(&mut cmd, &dir.path().join("demo.log"));
    let url = demo.url_after("SCIM base URL").await;
    let token = demo.line_with("Bearer token").await;
    let token = token.rsplit(' ').next().unwrap().to_owned();
    let sim = demo.line_with("Tableau (simulated):").await;
    let sim_url = sim
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    demo.line_with("Dry-run: the simulator is never written")
        .await;

    let created = http()
        .post(format!("{url}/Users"))
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .body(user("planned@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "stored and answered");

    let names = sim_user_names(&sim_url).await;
    assert!(
        !names.iter().any(|n| n == "planned@example.com"),
        "the simulator was written: {names:?}"
    );
    let db = rusqlite::Connection::open(data.join("tableau-scim.db")).unwrap();
    let (state, planned_steps): (String, i64) = db
        .query_row(
            "SELECT o.state, (SELECT count(*) FROM operation_steps s \
             WHERE s.operation_id = o.id AND s.state = 'planned') \
             FROM operations o WHERE o.method = 'POST'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "planned");
    assert!(planned_steps > 0, "the calls it would make are journaled");

    demo.signal("TERM");
    let status = demo.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{}", demo.text());
}
