//! HTTPS with a certificate the test makes, and SIGHUP: new certificate for new connections,
//! open connections kept, new credentials in force, old ones refused.

use crate::procs::{BIN, Proc, http, spawn_sim};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const OLD_TOKEN: &str = "old-token-0123456789abcdef";
const NEW_TOKEN: &str = "new-token-0123456789abcdef";

/// A self-signed certificate for 127.0.0.1 and localhost, written to `dir/NAME.crt|key`;
/// returns its PEM and DER.
fn certificate(dir: &Path, name: &str) -> (String, Vec<u8>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), cert.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    (cert.cert.pem(), cert.cert.der().to_vec())
}

/// A client trusting both certificates, one connection per request unless `keep_alive`;
/// without TLS session resumption, so that every new connection sees the served certificate.
fn client(pems: &[&str], keep_alive: bool) -> reqwest::Client {
    let _ = http(); // installs the crypto provider
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let mut tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.resumption = rustls::client::Resumption::disabled();
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if !keep_alive {
        b = b.pool_max_idle_per_host(0);
    }
    b.build().unwrap()
}

/// Status and served certificate (DER) of `GET {url}/Users` with `token`.
async fn get(client: &reqwest::Client, url: &str, token: &str) -> (u16, Vec<u8>) {
    let r = client
        .get(format!("{url}/Users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let der = r
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    (r.status().as_u16(), der)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_a_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_sim, sim_url) = spawn_sim(d, &[]).await;
    let (pem_a, der_a) = certificate(d, "a");
    let (pem_b, der_b) = certificate(d, "b");
    std::fs::copy(d.join("a.crt"), d.join("server.crt")).unwrap();
    std::fs::copy(d.join("a.key"), d.join("server.key")).unwrap();
    std::fs::write(d.join("tokens"), format!("# the IdP's\n{OLD_TOKEN}\n")).unwrap();

    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--store")
        .arg(format!("sqlite://{}", d.join("bridge.db").display()))
        .arg("--tls-cert")
        .arg(d.join("server.crt"))
        .arg("--tls-key")
        .arg(d.join("server.key"))
        .args(["--tableau-url", &sim_url, "--tableau-site", "acme"])
        .args(["--tableau-pat", "bridge:bridge-secret"])
        .env("TABLEAU_SCIM_AUTH__TOKENS_FILE", d.join("tokens"));
    let mut server = Proc::spawn(&mut cmd, &d.join("bridge.log"));
    let url = server.url_after("tableau-scim serving SCIM 2.0").await;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let fresh = client(&[&pem_a, &pem_b], false);
    let kept = client(&[&pem_a, &pem_b], true);
    assert_eq!(get(&fresh, &url, OLD_TOKEN).await, (200, der_a.clone()));
    assert_eq!(get(&fresh, &url, NEW_TOKEN).await.0, 401);
    // Plain HTTP on the TLS port is refused.
    let plain = url.replacen("https://", "http://", 1);
    let answer = http().get(format!("{plain}/Users")).send().await;
    assert!(answer.map(|r| r.status().as_u16()).ok() != Some(200));

    std::fs::copy(d.join("b.crt"), d.join("server.crt")).unwrap();
    std::fs::copy(d.join("b.key"), d.join("server.key")).unwrap();
    std::fs::write(d.join("tokens"), format!("{NEW_TOKEN}\n")).unwrap();
    // A connection opened before the reload (actix keeps an idle one 5 s).
    assert_eq!(get(&kept, &url, OLD_TOKEN).await, (200, der_a.clone()));
    server.signal("HUP");
    server
        .line_with("SIGHUP: reloaded the TLS certificate")
        .await;
    server
        .line_with("SIGHUP: reloaded the credentials (1 bearer token(s), HTTP Basic off)")
        .await;

    assert_eq!(get(&fresh, &url, NEW_TOKEN).await, (200, der_b.clone()));
    assert_eq!(get(&fresh, &url, OLD_TOKEN).await, (401, der_b.clone()));
    // The connection opened before the reload is still open, with the old certificate.
    assert_eq!(get(&kept, &url, NEW_TOKEN).await, (200, der_a.clone()));

    // A broken certificate file: the reload keeps what is in use, and says so.
    std::fs::write(d.join("server.crt"), "garbage").unwrap();
    std::fs::write(d.join("tokens"), "short\n").unwrap();
    server.signal("HUP");
    server
        .line_with("the TLS certificate does not load; kept the old one")
        .await;
    server
        .line_with("the new credentials do not load; kept the old ones")
        .await;
    assert_eq!(get(&fresh, &url, NEW_TOKEN).await, (200, der_b));
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    // The container HEALTHCHECK command: /healthz's 200, self-signed on loopback accepted;
    // another answer (a 401) or nothing listening fails.
    let hc = |url: String| {
        Command::new(BIN)
            .args(["healthcheck", &url])
            .output()
            .unwrap()
            .status
            .code()
    };
    let root = url.trim_end_matches("/scim/v2");
    assert_eq!(hc(format!("{root}/healthz")), Some(0));
    assert_eq!(hc(format!("{url}/ServiceProviderConfig")), Some(1));
    assert_eq!(hc("http://127.0.0.1:9/healthz".into()), Some(1));
    server.signal("TERM");
    let status = server.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0));
}
