//! The Tableau client's log of refused credentials, in a binary of its own: it installs a
//! log subscriber, which other tests running in the same process would race with.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};
use tableau_sim::SimConfig;

fn pat() -> TableauAuth {
    TableauAuth::Pat {
        name: "sim-pat".into(),
        secret: "sim-pat-secret".into(),
    }
}

fn client_for(sim: &tableau_sim::RunningSim, auth: TableauAuth) -> TableauClient {
    let settings = TableauSettings::new(sim.url(), sim.site_content_url(), auth);
    TableauClient::new(settings).unwrap()
}

async fn start(config: SimConfig) -> tableau_sim::RunningSim {
    tableau_sim::spawn(config.with_site("acme")).await.unwrap()
}

/// What a test subscriber wrote.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Refused credentials are logged once a minute however many sign-ins meet them (never with
/// the secret), and their end is logged once.
#[tokio::test]
async fn refused_credentials_are_logged_once_a_minute() {
    let sim = start(SimConfig::default()).await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = client_for(
        &sim,
        TableauAuth::Pat {
            name: "sim-pat".into(),
            secret: "wrong-secret-value".into(),
        },
    );
    for _ in 0..5 {
        assert!(client.sign_in().await.is_err());
    }
    let log = captured.text();
    assert_eq!(
        log.matches("Tableau refuses the bridge's credentials")
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("401001") && !log.contains("wrong-secret-value"),
        "{log}"
    );
    client.set_auth(pat());
    client.sign_in().await.unwrap();
    client.sign_in().await.unwrap();
    let log = captured.text();
    assert_eq!(
        log.matches("accepts the bridge's credentials again")
            .count(),
        1,
        "{log}"
    );
}
