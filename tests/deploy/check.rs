//! `tableau-scim check` against the simulator: exit codes and lines.

use crate::TOKEN;
use crate::procs::{BIN, spawn_sim};
use std::path::Path;
use std::process::Command;

fn write_config(dir: &Path, sim_url: &str, secret: &str, provision: &str) -> std::path::PathBuf {
    let path = dir.join(format!("check-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "store = \"sqlite://{}/bridge.db\"\npublic_url = \"https://scim.example.com\"\n\
             [auth]\ntokens = [\"{TOKEN}\"]\n\
             [tableau]\nurl = \"{sim_url}\"\nsite = \"acme\"\n\
             [tableau.auth]\nkind = \"pat\"\nname = \"bridge\"\nsecret = \"{secret}\"\n\
             [provision]\n{provision}\n",
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn check(config: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_with_good_settings_and_names_each_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_url) = spawn_sim(dir.path(), &["--seats", "Creator=5"]).await;
    let good = write_config(
        dir.path(),
        &sim_url,
        "bridge-secret",
        "idp_configuration_id = \"5a31d0c4-0000-4000-8000-000000000001\"\n\
         group_roles = [{ group = \"Analysts\", site_role = \"Explorer\" }]",
    );
    let (code, text) = check(&good);
    assert_eq!(code, 0, "{text}");
    for line in [
        "✔ settings:",
        "✔ IdP credentials: 1 bearer token(s), HTTP Basic off",
        "✔ public_url https://scim.example.com is well formed",
        "✔ store sqlite://",
        "not created yet",
        "REST API 3.27",
        "product 2025.3.0",
        "✔ sign-in: site 'acme' found",
        "✔ licences: seats Creator 5",
        "✔ signed-in user bridge is a site administrator",
        "✔ provision.idp_configuration_id 5a31d0c4-0000-4000-8000-000000000001 is enabled",
        "Analysts → Explorer",
    ] {
        assert!(text.contains(line), "no '{line}' in:\n{text}");
    }
    assert!(!text.contains('✘'), "{text}");
    assert!(
        !dir.path().join("bridge.db").exists(),
        "check creates no database"
    );

    let bad = write_config(
        dir.path(),
        &sim_url,
        "wrong-secret",
        "auth_setting = \"OpenID\"",
    );
    let (code, text) = check(&bad);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("✘ sign-in to site 'acme'"), "{text}");
    assert!(text.contains("check tableau.site"), "{text}");
    assert!(text.contains("error: 1 check(s) failed"), "{text}");
    assert!(
        !text.contains("wrong-secret"),
        "no secret in the output:\n{text}"
    );

    let bad_idp = write_config(
        dir.path(),
        &sim_url,
        "bridge-secret",
        "auth_setting = \"OpenID\"",
    );
    let (code, text) = check(&bad_idp);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("✘ provision.auth_setting OpenID is not enabled on the site; use one of: SAML, TableauIDWithMFA"),
        "{text}"
    );

    let unreachable = write_config(dir.path(), "http://127.0.0.1:9", "bridge-secret", "");
    let (code, text) = check(&unreachable);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("✘ Tableau at http://127.0.0.1:9"), "{text}");
    assert!(text.contains("check tableau.url"), "{text}");
}

/// A store migrated by this version passes; one whose recorded migrations were edited, or that a
/// newer version migrated, fails with the line saying so, before a start would refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_edited_and_unknown_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim_url) = spawn_sim(dir.path(), &[]).await;
    let config = write_config(dir.path(), &sim_url, "bridge-secret", "");
    let db = dir.path().join("bridge.db");
    let store = tableau_scim::store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    drop(store);
    let (code, text) = check(&config);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("opens, schema up to date"), "{text}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE schema_migrations SET checksum = x'00' WHERE version = 1",
        [],
    )
    .unwrap();
    let (code, text) = check(&config);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("migration(s) 0001 were applied from another text"),
        "{text}"
    );

    conn.execute(
        "INSERT INTO schema_migrations (version, description, checksum, applied) \
         SELECT 9999, 'from the future', checksum, applied FROM schema_migrations WHERE version = 2",
        [],
    )
    .unwrap();
    let (code, text) = check(&config);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("migration(s) 9999 recorded in it are unknown to this version"),
        "{text}"
    );
}
