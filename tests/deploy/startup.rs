//! Start-up errors: each bad input ends the process with exit code 1 and one `error:` line
//! that names the fix, with `RUST_BACKTRACE=1` set: no backtrace, no source location, no Rust
//! type names.

use crate::TOKEN;
use crate::procs::BIN;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the binary in `dir` and returns its one error line.
fn one_error_line(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env_remove("TABLEAU_SCIM_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let all = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{args:?} exit code:\n{all}");
    for bad in ["backtrace", ".rs:", "Caused by", "serde_json", "panicked"] {
        assert!(!all.contains(bad), "{args:?} printed '{bad}':\n{all}");
    }
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{args:?} should print one error line:\n{all}"
    );
    errors[0].to_string()
}

fn serve(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--token", TOKEN];
    args.extend_from_slice(extra);
    args
}

fn assert_has(line: &str, parts: &[&str]) {
    for p in parts {
        assert!(line.contains(p), "'{line}' should contain '{p}'");
    }
}

#[test]
fn store_urls_are_checked_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_error_line(dir.path(), &serve(&["--store", "mysql://x@y/z"]), &[]);
    assert_has(
        &line,
        &["unsupported store URL scheme 'mysql:'", "sqlite://PATH"],
    );
    let line = one_error_line(dir.path(), &serve(&["--store", "data/bridge.db"]), &[]);
    assert_has(&line, &["has no scheme", "sqlite://data/bridge.db"]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn a_refused_postgresql_connection_is_reported_at_once_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let start = Instant::now();
    let line = one_error_line(
        dir.path(),
        &serve(&["--store", "postgres://scim:hunter2-secret@127.0.0.1:9/scim"]),
        &[],
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_has(&line, &["cannot open the store", "refused"]);
    assert!(!line.contains("hunter2-secret"), "{line}");
    assert!(!line.contains("timed out"), "{line}");
}

#[test]
fn tableau_settings_errors() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_error_line(
        dir.path(),
        &serve(&["--tableau-url", "https://tableau.example.com"]),
        &[],
    );
    assert_has(
        &line,
        &["tableau.auth is missing", "--tableau-pat NAME:SECRET"],
    );
    let pat = ["--tableau-pat", "bridge:bridge-secret"];
    let line = one_error_line(
        dir.path(),
        &serve(&["--tableau-url", "tableau.example.com", pat[0], pat[1]]),
        &[],
    );
    assert_has(
        &line,
        &[
            "tableau.url 'tableau.example.com' has no scheme",
            "https://",
        ],
    );
    let line = one_error_line(
        dir.path(),
        &serve(&[
            "--tableau-url",
            "https://tableau.example.com/api/3.24",
            pat[0],
            pat[1],
        ]),
        &[],
    );
    assert_has(
        &line,
        &["names the REST API", "https://tableau.example.com"],
    );
}

#[test]
fn public_url_needs_a_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_error_line(
        dir.path(),
        &serve(&["--public-url", "scim.example.com"]),
        &[],
    );
    assert_has(
        &line,
        &["public_url 'scim.example.com' has no scheme", "https://"],
    );
}

#[test]
fn short_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_error_line(
        dir.path(),
        &serve(&[]),
        &[
            ("TABLEAU_SCIM_AUTH__BASIC_USERNAME", "okta"),
            ("TABLEAU_SCIM_AUTH__BASIC_PASSWORD", "pw"),
        ],
    );
    assert_has(
        &line,
        &["auth.basic_password must be at least 16 characters"],
    );
    let line = one_error_line(dir.path(), &["hash-token", "12345"], &[]);
    assert_has(&line, &["at least 16", "openssl rand"]);
    let line = one_error_line(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", "--token", "short"],
        &[],
    );
    assert_has(&line, &["bearer tokens must be at least 16 characters"]);
}

#[test]
fn config_and_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_error_line(dir.path(), &serve(&["--config", "nope.toml"]), &[]);
    assert_has(&line, &["config file nope.toml does not exist"]);
    std::fs::write(dir.path().join("c.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let line = one_error_line(dir.path(), &serve(&["--config", "c.toml"]), &[]);
    assert_has(&line, &["unknown key lisen", "c.toml"]);
    let line = one_error_line(dir.path(), &serve(&["--tls-cert", "cert.pem"]), &[]);
    assert_has(&line, &["tls.key_file is not", "--tls-key"]);
    let line = one_error_line(
        dir.path(),
        &serve(&["--tls-cert", "cert.pem", "--tls-key", "key.pem"]),
        &[],
    );
    assert_has(&line, &["cannot read tls.cert_file cert.pem"]);
}

#[test]
fn ops_does_not_create_a_database_for_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let url = format!("sqlite://{}", db.display());
    let line = one_error_line(dir.path(), &["ops", "--store", &url], &[]);
    assert_has(&line, &["no database at", "--store"]);
    assert!(!db.exists());
}
