//! A rotated Tableau secret, picked up on SIGHUP: while Tableau refuses the bridge's
//! credentials (401001) a change waits (503 to the IdP, the operation left running); once the
//! secret file holds the right secret and the server gets SIGHUP, the waiting change goes
//! through without a restart.

use crate::TOKEN;
use crate::procs::{BIN, Proc, http, sim_user_names, spawn_sim, user};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tableau_secret_is_used_after_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_sim, sim_url) = spawn_sim(d, &[]).await;
    let secret = d.join("pat-secret");
    std::fs::write(&secret, "not-the-secret\n").unwrap();
    let config = d.join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            "store = \"sqlite://{}/bridge.db\"\n[auth]\ntokens = [\"{TOKEN}\"]\n\
             [tableau]\nurl = \"{sim_url}\"\nsite = \"acme\"\nrequests_per_second = 1000\n\
             [tableau.auth]\nkind = \"pat\"\nname = \"bridge\"\nsecret_file = \"{}\"\n\
             [journal]\ndeadline_secs = 2\nresume_after_secs = 1\nworker_interval_secs = 1\n",
            d.display(),
            secret.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("NO_COLOR", "1");
    let mut server = Proc::spawn(&mut cmd, &d.join("bridge.log"));
    let url = server.url_after("tableau-scim serving SCIM 2.0").await;

    let answer = http()
        .post(format!("{url}/Users"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(user("rotated@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status().as_u16(),
        503,
        "credentials refused: the change waits"
    );
    let body = answer.text().await.unwrap();
    assert!(body.contains("401001"), "{body}");

    std::fs::write(&secret, "bridge-secret\n").unwrap();
    server.signal("HUP");
    server
        .line_with("SIGHUP: reloaded the Tableau sign-in credentials")
        .await;
    // The background worker resumes the waiting operation with the new secret.
    let mut found = false;
    for _ in 0..100 {
        found = sim_user_names(&sim_url)
            .await
            .iter()
            .any(|n| n == "rotated@example.com");
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        found,
        "the waiting create reached Tableau:\n{}",
        server.text()
    );
    assert!(
        !server.text().contains("bridge-secret"),
        "the secret is never logged"
    );
}
