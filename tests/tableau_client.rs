//! The Tableau client against the in-process simulator: sign-in kinds, version discovery,
//! users, groups, bulk and single membership paths, retries under injected faults, session
//! replacement, and secrets kept out of `Debug`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::time::Duration;

use tableau_scim::tableau::{
    CallRecord, TableauAuth, TableauClient, TableauCode, TableauError, TableauSettings, UserUpdate,
    record_calls,
};
use tableau_sim::{FaultRule, RunningSim, SimConfig};

fn pat() -> TableauAuth {
    TableauAuth::Pat {
        name: "sim-pat".into(),
        secret: "sim-pat-secret".into(),
    }
}

/// A client with generous limits: the tests exercise behaviour, not throttling.
fn client_for(sim: &RunningSim, auth: TableauAuth) -> TableauClient {
    let mut settings = TableauSettings::new(sim.url(), sim.site_content_url(), auth);
    settings.requests_per_second = 2000;
    TableauClient::new(settings).unwrap()
}

async fn start(config: SimConfig) -> RunningSim {
    tableau_sim::spawn(config.with_site("acme")).await.unwrap()
}

/// Runs `fut` and returns its output with the calls it made.
async fn recorded<F: std::future::Future>(fut: F) -> (F::Output, Vec<CallRecord>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let out = record_calls(tx, fut).await;
    let mut calls = Vec::new();
    while let Ok(c) = rx.try_recv() {
        calls.push(c);
    }
    (out, calls)
}

fn code(result: Result<impl std::fmt::Debug, TableauError>) -> TableauCode {
    match result {
        Err(e) => e.code().cloned().unwrap_or_else(|| panic!("no code: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Signs in with `auth` over plain HTTP, as another process would.
async fn sign_in_elsewhere(sim: &RunningSim, name: &str, secret: &str) {
    let body = serde_json::json!({"credentials": {"personalAccessTokenName": name,
        "personalAccessTokenSecret": secret, "site": {"contentUrl": sim.site_content_url()}}});
    tableau_scim::init_crypto();
    let answer = reqwest::Client::new()
        .post(format!("{}/auth/signin", sim.api_url()))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn signs_in_with_each_credential_kind() {
    let sim = start(SimConfig::default()).await;
    let kinds = [
        pat(),
        TableauAuth::Password {
            username: "admin".into(),
            password: "admin-password".into(),
        },
        TableauAuth::ConnectedApp {
            client_id: "sim-client".into(),
            secret_id: "sim-secret-id".into(),
            secret: "sim-secret-value".into(),
            username: "admin".into(),
        },
    ];
    for auth in kinds {
        let client = client_for(&sim, auth);
        client.sign_in().await.unwrap();
        // The JWT's scopes must cover users and groups.
        let admin = client.find_user_by_name("admin").await.unwrap().unwrap();
        assert_eq!(admin.site_role, "SiteAdministratorCreator");
        assert!(
            client
                .find_group_by_name("All Users")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(client.sign_in_count(), 1);
    }
    let wrong = client_for(
        &sim,
        TableauAuth::Pat {
            name: "sim-pat".into(),
            secret: "nope".into(),
        },
    );
    let (result, calls) = recorded(wrong.sign_in()).await;
    assert!(matches!(result, Err(TableauError::Auth(_))), "{result:?}");
    assert_eq!(
        calls.iter().filter(|c| c.path.ends_with("signin")).count(),
        1
    );
}

#[tokio::test]
async fn api_version_comes_from_serverinfo_unless_configured() {
    let sim = start(SimConfig::default().with_api_version("3.24")).await;
    let client = client_for(&sim, pat());
    let (version, calls) = recorded(async {
        let first = client.api_version().await.unwrap();
        let again = client.api_version().await.unwrap();
        (first, again)
    })
    .await;
    assert_eq!(version, ("3.24".to_owned(), "3.24".to_owned()));
    assert_eq!(calls.len(), 1, "asked once: {calls:?}");
    assert!(calls[0].path.to_lowercase().ends_with("/serverinfo"));

    let mut settings = TableauSettings::new(sim.url(), "acme", pat());
    settings.api_version = Some("3.19".into());
    let configured = TableauClient::new(settings).unwrap();
    let (version, calls) = recorded(configured.api_version()).await;
    assert_eq!(version.unwrap(), "3.19");
    assert!(calls.is_empty());
    assert!(!configured.supports_bulk_membership().await.unwrap());
}

#[tokio::test]
async fn user_lifecycle() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());

    let alice = client
        .add_user("Alice@example.com", "Explorer", Some("ServerDefault"), None)
        .await
        .unwrap();
    assert_eq!(alice.name, "Alice@example.com");
    assert_eq!(alice.site_role, "Explorer");

    // Tableau compares names case-insensitively: a second add is a typed conflict.
    let again = client
        .add_user("alice@example.com", "Viewer", None, None)
        .await;
    assert_eq!(code(again), TableauCode::UserConflict);

    let updated = client
        .update_user(
            &alice.luid,
            &UserUpdate {
                full_name: Some("Alice Doe".into()),
                email: Some("alice@example.com".into()),
                site_role: Some("Creator".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.luid, alice.luid, "Update User has no id: filled in");
    assert_eq!(updated.site_role, "Creator");
    assert_eq!(updated.full_name.as_deref(), Some("Alice Doe"));

    let fetched = client.get_user(&alice.luid).await.unwrap();
    assert_eq!(fetched, updated);

    // Exact name, other case, and a name the filter syntax cannot carry.
    assert_eq!(
        client.find_user_by_name("Alice@example.com").await.unwrap(),
        Some(fetched.clone())
    );
    assert_eq!(
        client.find_user_by_name("ALICE@EXAMPLE.COM").await.unwrap(),
        Some(fetched.clone())
    );
    assert_eq!(
        client
            .find_user_by_name("nobody@example.com")
            .await
            .unwrap(),
        None
    );
    let odd = client
        .add_user("o'brien, pat & co", "Viewer", None, None)
        .await
        .unwrap();
    assert_eq!(
        client
            .find_user_by_name("O'Brien, Pat & Co")
            .await
            .unwrap()
            .map(|u| u.luid),
        Some(odd.luid.clone())
    );
    assert_eq!(
        client.find_user_by_name("Alice*").await.unwrap(),
        None,
        "no wildcard match"
    );

    // Content owners cannot be removed without mapAssetsTo.
    sim.state().set_owns_content(&odd.luid, true).unwrap();
    assert_eq!(
        code(client.remove_user(&odd.luid, None).await),
        TableauCode::UserOwnsContent
    );
    let admin = client.find_user_by_name("admin").await.unwrap().unwrap();
    client
        .remove_user(&odd.luid, Some(&admin.luid))
        .await
        .unwrap();

    client.remove_user(&alice.luid, None).await.unwrap();
    assert_eq!(
        code(client.get_user(&alice.luid).await),
        TableauCode::UserNotFound
    );
    assert_eq!(
        code(client.remove_user(&alice.luid, None).await),
        TableauCode::UserNotFound
    );
    assert!(matches!(
        client.get_user("../groups").await,
        Err(TableauError::Protocol(_))
    ));
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());
    client.sign_in().await.unwrap();
    let (result, calls) = recorded(client.add_user("bob@example.com", "Boss", None, None)).await;
    assert_eq!(code(result), TableauCode::InvalidSiteRole);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].status, Some(400));
    assert_eq!(calls[0].code.as_deref(), Some("400013"));
    assert_eq!(calls[0].method, "POST");
}

#[tokio::test]
async fn groups_of_a_user_from_api_3_7() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());
    let user = client
        .add_user("member@example.com", "Viewer", None, None)
        .await
        .unwrap();
    let group = client.create_group("Sales").await.unwrap();
    client
        .add_group_members(&group.luid, std::slice::from_ref(&user.luid))
        .await
        .unwrap();
    let groups = client.groups_of_user(&user.luid).await.unwrap().unwrap();
    let sales = groups
        .iter()
        .find(|g| g.group == group)
        .expect("Sales listed");
    assert_eq!(sales.minimum_site_role, None);
    // Before 3.7 the call does not exist: the client says so instead of failing.
    let old = start(SimConfig::default().with_api_version("3.6")).await;
    let client = client_for(&old, pat());
    let user = client
        .add_user("member@example.com", "Viewer", None, None)
        .await
        .unwrap();
    assert_eq!(client.groups_of_user(&user.luid).await.unwrap(), None);
}

#[tokio::test]
async fn group_lifecycle() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());
    let group = client.create_group("Finance").await.unwrap();
    assert_eq!(group.name, "Finance");
    assert_eq!(
        code(client.create_group("FINANCE").await),
        TableauCode::GroupNameConflict
    );

    let renamed = client
        .rename_group(&group.luid, "Finance, EMEA")
        .await
        .unwrap();
    assert_eq!(renamed.luid, group.luid);
    assert_eq!(renamed.name, "Finance, EMEA");
    assert_eq!(
        client.find_group_by_name("finance, emea").await.unwrap(),
        Some(renamed.clone())
    );
    client.rename_group(&group.luid, "Finance").await.unwrap();
    assert_eq!(
        client
            .find_group_by_name("finance")
            .await
            .unwrap()
            .map(|g| g.luid),
        Some(group.luid.clone())
    );

    client.delete_group(&group.luid).await.unwrap();
    assert_eq!(client.find_group_by_name("Finance").await.unwrap(), None);
    assert_eq!(
        code(client.delete_group(&group.luid).await),
        TableauCode::GroupNotFound
    );
}

async fn add_users(client: &TableauClient, prefix: &str, n: usize) -> Vec<String> {
    let adds = (0..n).map(|i| {
        let name = format!("{prefix}{i:04}@example.com");
        async move { client.add_user(&name, "Viewer", None, None).await }
    });
    futures_util::future::try_join_all(adds)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.luid)
        .collect()
}

fn members_of(sim: &RunningSim, group: &str) -> Vec<String> {
    let snap = sim.state().snapshot();
    let mut ids = snap
        .groups
        .iter()
        .find(|g| g.group.id == group)
        .map(|g| g.member_ids.clone())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn bulk_membership_on_3_21_and_later() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());
    let users = add_users(&client, "bulk", 1100).await;
    let group = client.create_group("Everyone").await.unwrap();

    let (result, calls) = recorded(client.add_group_members(&group.luid, &users)).await;
    result.unwrap();
    assert_eq!(calls.len(), 2, "two bulk calls of ≤1000: {calls:?}");
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(members_of(&sim, &group.luid), expected);

    // Members already in are fine; all pages are read back.
    client
        .add_group_members(&group.luid, &users[..10])
        .await
        .unwrap();
    let (listed, calls) = recorded(client.group_member_luids(&group.luid)).await;
    let mut listed = listed.unwrap();
    listed.sort();
    assert_eq!(listed, expected);
    assert_eq!(calls.len(), 2, "two pages of 1000: {calls:?}");

    let (result, calls) = recorded(client.remove_group_members(&group.luid, &users[..600])).await;
    result.unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].path.ends_with("/users/remove"));
    assert_eq!(members_of(&sim, &group.luid).len(), 500);
    // Removing non-members again is done, not an error.
    client
        .remove_group_members(&group.luid, &users[..600])
        .await
        .unwrap();
    assert_eq!(members_of(&sim, &group.luid).len(), 500);
}

#[tokio::test]
async fn single_membership_calls_before_3_21() {
    let sim = start(SimConfig::default().with_api_version("3.20")).await;
    let client = client_for(&sim, pat());
    let users = add_users(&client, "single", 12).await;
    let group = client.create_group("Small").await.unwrap();

    let (result, calls) = recorded(client.add_group_members(&group.luid, &users)).await;
    result.unwrap();
    assert_eq!(calls.len(), 12);
    assert!(
        calls
            .iter()
            .all(|c| c.method == "POST" && c.status == Some(200))
    );
    // 409011 (already a member) counts as added.
    let (result, calls) = recorded(client.add_group_members(&group.luid, &users[..1])).await;
    result.unwrap();
    assert_eq!(calls[0].code.as_deref(), Some("409011"));

    client
        .remove_group_members(&group.luid, &users[..5])
        .await
        .unwrap();
    assert_eq!(members_of(&sim, &group.luid).len(), 7);
    // 404 for a non-member counts as removed.
    let (result, calls) = recorded(client.remove_group_members(&group.luid, &users[..1])).await;
    result.unwrap();
    assert_eq!(calls[0].code.as_deref(), Some("404002"));
    assert_eq!(
        client.group_member_luids(&group.luid).await.unwrap().len(),
        7
    );

    // A group that is gone is an error, not "done".
    client.delete_group(&group.luid).await.unwrap();
    let gone = client.remove_group_members(&group.luid, &users[5..6]).await;
    assert_eq!(code(gone), TableauCode::GroupNotFound);
}

#[tokio::test]
async fn completes_correctly_under_throttling_and_server_errors() {
    // About 40 % of all attempts fail (Add User's: 45 %); 12 retries make a call's final
    // failure a one-in-a-million event.
    let faults = [
        "POST:/api/*/sites/*/users=429:0.25:retry-after=0",
        "/api/**=503:0.2",
        "GET:/api/**=429:0.2",
        "/api/**=drop:0.03",
    ];
    let mut config = SimConfig::default().with_seed(42);
    for f in faults {
        config = config.with_fault(FaultRule::parse(f).unwrap());
    }
    let sim = start(config).await;
    let mut settings = TableauSettings::new(sim.url(), "acme", pat());
    settings.requests_per_second = 2000;
    settings.max_retries = 12;
    let client = TableauClient::new(settings).unwrap();

    let users = add_users(&client, "faulty", 40).await;
    let group = client.create_group("Resilient").await.unwrap();
    client.add_group_members(&group.luid, &users).await.unwrap();
    client
        .remove_group_members(&group.luid, &users[..10])
        .await
        .unwrap();
    let mut listed = client.group_member_luids(&group.luid).await.unwrap();
    listed.sort();

    let mut expected = users[10..].to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(members_of(&sim, &group.luid), expected);
    let snap = sim.state().snapshot();
    let faulty = snap
        .users
        .iter()
        .filter(|u| u.name.starts_with("faulty"))
        .count();
    assert_eq!(faulty, 40, "no user lost or duplicated");
    assert!(snap.injected_faults.too_many_requests > 0);
    assert!(snap.injected_faults.server_errors > 0);
}

#[tokio::test]
async fn replaced_session_is_renewed_once_for_concurrent_calls() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(&sim, pat());
    let admin = client.find_user_by_name("admin").await.unwrap().unwrap();
    assert_eq!(client.sign_in_count(), 1);

    // Another process signs in with the same PAT: our session ends (401002).
    sign_in_elsewhere(&sim, "sim-pat", "sim-pat-secret").await;
    let (user, calls) = recorded(client.get_user(&admin.luid)).await;
    assert_eq!(user.unwrap().luid, admin.luid);
    assert_eq!(client.sign_in_count(), 2);
    assert_eq!(calls[0].code.as_deref(), Some("401002"));

    // Many calls meet the dead token together: one sign-in serves them all.
    for round in 0..2 {
        if round == 0 {
            sign_in_elsewhere(&sim, "sim-pat", "sim-pat-secret").await;
        } else {
            sim.state().end_all_sessions();
        }
        let before = client.sign_in_count();
        let calls = (0..16).map(|_| client.get_user(&admin.luid));
        for user in futures_util::future::join_all(calls).await {
            assert_eq!(user.unwrap().luid, admin.luid);
        }
        assert_eq!(client.sign_in_count(), before + 1);
    }
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_call_records() {
    let sim = start(SimConfig::default()).await;
    let auths = [
        pat(),
        TableauAuth::ConnectedApp {
            client_id: "sim-client".into(),
            secret_id: "sim-secret-id".into(),
            secret: "sim-secret-value".into(),
            username: "admin".into(),
        },
    ];
    for auth in auths {
        let client = client_for(&sim, auth);
        let (result, calls) = recorded(client.sign_in()).await;
        result.unwrap();
        let shown = format!("{client:?} {calls:?}");
        for secret in ["sim-pat-secret", "sim-secret-value"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"));
        // The live token is not shown either.
        assert!(shown.contains("token: \"<redacted>\""), "{shown}");
        client.sign_out().await.unwrap();
        client.sign_out().await.unwrap();
    }
    // A request timeout surfaces as Timeout after the retries.
    let slow =
        start(SimConfig::default().with_fault(FaultRule::parse("/api/**=latency:2s").unwrap()))
            .await;
    let mut settings = TableauSettings::new(slow.url(), "acme", pat());
    settings.request_timeout = Duration::from_millis(200);
    settings.max_retries = 1;
    let client = TableauClient::new(settings).unwrap();
    let result = client.api_version().await;
    assert!(matches!(result, Err(TableauError::Timeout)), "{result:?}");
}

#[tokio::test]
async fn transient_errors_are_retried_up_to_the_limit() {
    let config = SimConfig::default()
        .with_fault(FaultRule::parse("GET:/api/*/sites/*/users/*=503:1").unwrap())
        .with_fault(FaultRule::parse("POST:/api/*/sites/*/groups=429:1:retry-after=1").unwrap());
    let sim = start(config).await;
    let mut settings = TableauSettings::new(sim.url(), "acme", pat());
    settings.max_retries = 3;
    let client = TableauClient::new(settings).unwrap();
    client.sign_in().await.unwrap();

    let (result, calls) = recorded(client.get_user("0000-unknown")).await;
    assert_eq!(code(result), TableauCode::ServerError("503000".into()));
    assert_eq!(calls.len(), 4, "1 try + 3 retries: {calls:?}");

    let (result, calls) = recorded(client.create_group("Throttled")).await;
    let error = result.unwrap_err();
    assert_eq!(error.code(), Some(&TableauCode::TooManyRequests));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert!(error.is_transient());
    assert_eq!(calls.len(), 4);
}

#[tokio::test]
async fn https_urls_use_rustls_with_ring() {
    // The simulator speaks plain HTTP, so the TLS handshake fails: a transport error, not a
    // panic for want of a crypto provider.
    let sim = start(SimConfig::default()).await;
    let url = sim.url().replace("http://", "https://");
    let mut settings = TableauSettings::new(url, "acme", pat());
    settings.max_retries = 0;
    let client = TableauClient::new(settings).unwrap();
    let result = client.api_version().await;
    assert!(
        matches!(result, Err(TableauError::Transport(_))),
        "{result:?}"
    );
    assert!(matches!(
        TableauClient::new(TableauSettings::new("ftp://x", "", pat())),
        Err(TableauError::Protocol(_))
    ));
}

/// Everything this test binary logs from the first call on (`tableau_scim=debug`): a
/// thread-local subscriber would miss events whose callsites other tests' threads met first.
fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("tableau_scim=debug"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the only subscriber of this test binary");
        logs
    })
    .clone()
}

/// A `Write` into a shared buffer.
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn calls_are_traced_with_their_outcome_and_retries_but_no_secret() {
    let logs = captured_logs();
    let config = SimConfig::default()
        .with_fault(FaultRule::parse("GET:/api/*/sites/*/users/*=503:1").unwrap());
    let sim = start(config).await;
    let mut settings = TableauSettings::new(sim.url(), "acme", pat());
    settings.max_retries = 1;
    let client = TableauClient::new(settings).unwrap();

    let name = "traced-alice@example.com";
    let alice = client.add_user(name, "Explorer", None, None).await.unwrap();
    assert!(client.find_user_by_name(name).await.unwrap().is_some());
    let failed = client.get_user(&alice.luid).await;
    assert_eq!(code(failed), TableauCode::ServerError("503000".into()));

    // Other tests log into the same buffer: each line below names this test's user.
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = |needles: &[&str]| {
        text.lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{text}"))
    };
    // The sign-in is a call of its own, inside Add User's.
    let in_add_user =
        format!("add_user{{name={name} site_role=Explorer}}:tableau_call{{method=POST");
    line(&[
        &format!("{in_add_user}}}:tableau_call{{method=POST path=/api/"),
        "/auth/signin status=200 duration_ms=",
        "Tableau call done",
    ]);
    line(&[
        &format!("{in_add_user} path=/api/"),
        "/users status=201 duration_ms=",
        "Tableau call done",
    ]);
    // The retry is an event in the call's span; the call ends with Tableau's code.
    let in_get_user = format!("get_user{{luid={}}}:tableau_call{{method=GET ", alice.luid);
    let path = format!("/users/{}", alice.luid);
    line(&[
        &in_get_user,
        &format!("{path}}}:"),
        "retrying a Tableau call",
    ]);
    let failed = format!("{path} status=503 code=503000 duration_ms=");
    line(&[&in_get_user, &failed, "Tableau call failed"]);
    // Only paths: no query (a filter names the user), no credential.
    assert!(!text.contains("filter="), "{text}");
    assert!(!text.contains("sim-pat-secret"), "{text}");
}

/// A wrong PAT: the refusal names 401001 and never the secret; `set_auth` with the right
/// secret makes sign-in work without a new client.
#[tokio::test]
async fn refused_credentials_are_named_and_replaceable() {
    let sim = start(SimConfig::default()).await;
    let client = client_for(
        &sim,
        TableauAuth::Pat {
            name: "sim-pat".into(),
            secret: "wrong-secret-value".into(),
        },
    );
    let refused = client.sign_in().await;
    let Err(TableauError::Auth(why)) = &refused else {
        panic!("{refused:?}");
    };
    assert!(why.contains("credentials (401001)"), "{why}");
    assert!(!why.contains("wrong-secret-value"), "{why}");
    client.set_auth(pat());
    client.sign_in().await.unwrap();
    assert_eq!(client.sign_in_count(), 1);
    assert!(client.find_user_by_name("nobody").await.unwrap().is_none());
}
