//! `tableau-scim healthcheck [URL]`: for a container's `HEALTHCHECK` (the image has no curl).
//! Succeeds when the server answers the URL with a 2xx status within 5 s (`/healthz` answers
//! 200; a 404 means the URL is wrong, e.g. the probes moved to `metrics.listen`); `https://`
//! URLs on loopback are accepted with the server's own (possibly self-signed) certificate.

use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/healthz";

pub async fn run(url: &str) -> anyhow::Result<()> {
    crate::init_crypto();
    let parsed = url::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("healthcheck: '{url}' is not a URL ({e})"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        // Only on loopback: the process checks itself, not a remote peer.
        .danger_accept_invalid_certs(loopback)
        .build()
        .map_err(|e| anyhow::anyhow!("healthcheck: cannot build the HTTP client: {e}"))?;
    let answer = client
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("healthcheck: {url}: no answer ({e})"))?;
    let status = answer.status();
    if !status.is_success() {
        anyhow::bail!("healthcheck: {url} answered {status}");
    }
    println!("healthcheck: {url} answered {status}");
    Ok(())
}
