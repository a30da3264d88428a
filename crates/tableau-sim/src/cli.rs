//! `tableau-scim sim`: flags, and a foreground run that prints what it serves.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use super::config::{ConnectedApp, PasswordUser, PersonalAccessToken, SimConfig, split_credential};
use super::faults::FaultRule;
use super::model::LicenceTier;

/// Run a Tableau REST API simulator (users and groups) on this machine.
///
/// Without any --user, --pat or --connected-app, the defaults of `SimConfig` are used
/// (admin/admin-password, PAT sim-pat/sim-pat-secret, connected app
/// sim-client:sim-secret-id:sim-secret-value).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Site content URL clients sign in to ("" = the default site).
    #[arg(long, default_value = "")]
    pub site: String,
    /// Highest REST API version served.
    #[arg(long = "api-version", default_value = "3.27")]
    pub api_version: String,
    /// Personal access token NAME:SECRET, owned by a site administrator named NAME (repeatable).
    #[arg(long = "pat", value_name = "NAME:SECRET")]
    pub pats: Vec<String>,
    /// Site administrator NAME:PASSWORD (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    pub users: Vec<String>,
    /// Connected app with direct trust CLIENT_ID:SECRET_ID:SECRET (repeatable).
    #[arg(long = "connected-app", value_name = "CLIENT_ID:SECRET_ID:SECRET")]
    pub connected_apps: Vec<String>,
    /// Licence seats ROLE=N for Creator, Explorer or Viewer (repeatable; default unlimited).
    #[arg(long = "seats", value_name = "ROLE=N")]
    pub seats: Vec<String>,
    /// Fault rule, e.g. `POST:/api/*/sites/*/users=429:0.2,latency:50ms` (repeatable; see
    /// docs/simulator.md).
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Seed for LUIDs, tokens and fault draws.
    #[arg(long, default_value_t = SimConfig::default().seed)]
    pub seed: u64,
    /// Seconds of inactivity after which a session token answers 401002.
    #[arg(long = "token-idle-timeout", value_name = "SECS", default_value_t = 240 * 60)]
    pub token_idle_timeout: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

impl SimArgs {
    pub fn into_config(self) -> anyhow::Result<SimConfig> {
        let defaults = SimConfig::default();
        let any_credentials =
            !(self.users.is_empty() && self.pats.is_empty() && self.connected_apps.is_empty());
        let mut config = SimConfig {
            listen: self.listen,
            site_content_url: self.site,
            api_version: self.api_version,
            seed: self.seed,
            token_idle_timeout: Duration::from_secs(self.token_idle_timeout),
            workers: self.workers,
            ..defaults
        };
        if super::config::parse_api_version(&config.api_version).is_none() {
            bail!("--api-version must look like 3.27");
        }
        if any_credentials {
            config.users = self
                .users
                .iter()
                .map(|s| {
                    let p = split_credential(s, 2)
                        .ok_or_else(|| anyhow!("--user '{s}': expected NAME:PASSWORD"))?;
                    Ok(PasswordUser {
                        name: p[0].clone(),
                        password: p[1].clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            config.pats = self
                .pats
                .iter()
                .map(|s| {
                    let p = split_credential(s, 2)
                        .ok_or_else(|| anyhow!("--pat '{s}': expected NAME:SECRET"))?;
                    Ok(PersonalAccessToken {
                        name: p[0].clone(),
                        secret: p[1].clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            config.connected_apps = self
                .connected_apps
                .iter()
                .map(|s| {
                    let p = split_credential(s, 3).ok_or_else(|| {
                        anyhow!("--connected-app '{s}': expected CLIENT_ID:SECRET_ID:SECRET")
                    })?;
                    Ok(ConnectedApp {
                        client_id: p[0].clone(),
                        secret_id: p[1].clone(),
                        secret: p[2].clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        for s in &self.seats {
            let (tier, n) = s
                .split_once('=')
                .ok_or_else(|| anyhow!("--seats '{s}': expected ROLE=N"))?;
            let tier = LicenceTier::parse(tier).ok_or_else(|| {
                anyhow!("--seats '{s}': the role must be Creator, Explorer or Viewer")
            })?;
            let n = n
                .parse()
                .with_context(|| format!("--seats '{s}': N must be a number"))?;
            config.seats.push((tier, n));
        }
        for s in &self.faults {
            config
                .faults
                .push(FaultRule::parse(s).map_err(|e| anyhow!(e))?);
        }
        Ok(config)
    }
}

/// Starts the simulator, prints what it serves, and runs until SIGTERM or Ctrl-C.
pub async fn run_cli(args: SimArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    let sim = super::spawn(config.clone())
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let mut out = String::new();
    out.push_str(&format!(
        "Tableau REST API simulator listening on {}\n",
        sim.url()
    ));
    out.push_str(&format!(
        "  REST API   {} (2.0 … {})\n",
        sim.api_url(),
        config.api_version
    ));
    out.push_str(&format!(
        "  site       contentUrl \"{}\" (id {})\n",
        sim.site_content_url(),
        sim.site_id()
    ));
    for u in &config.users {
        out.push_str(&format!(
            "  user       {} / {} (site administrator)\n",
            u.name, u.password
        ));
    }
    for p in &config.pats {
        out.push_str(&format!(
            "  PAT        {} / {} (one session at a time)\n",
            p.name, p.secret
        ));
    }
    for a in &config.connected_apps {
        out.push_str(&format!(
            "  JWT        client id {}, secret id {}, secret {} (HS256, aud \"tableau\")\n",
            a.client_id, a.secret_id, a.secret
        ));
    }
    for (tier, n) in &config.seats {
        out.push_str(&format!("  seats      {} = {n}\n", tier.as_str()));
    }
    for f in &config.faults {
        out.push_str(&format!("  fault      {}\n", f.spec));
    }
    out.push_str(&format!(
        "  control    {}/_sim/state (see docs/simulator.md)\n",
        sim.url()
    ));
    let mut stdout = std::io::stdout();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    wait_for_stop().await?;
    sim.stop().await;
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C) stop the simulator alike, after the requests in flight; SIGHUP is
/// ignored (it would otherwise end the process).
#[cfg(unix)]
async fn wait_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => {}
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn config(args: &[&str]) -> anyhow::Result<SimConfig> {
        let mut argv = vec!["sim"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv)?.sim.into_config()
    }

    #[test]
    fn flags_become_a_config() {
        let c = config(&[
            "--listen",
            "127.0.0.1:0",
            "--site",
            "acme",
            "--api-version",
            "3.21",
            "--pat",
            "bridge:se:cret",
            "--connected-app",
            "cid:sid:s3cret",
            "--seats",
            "Creator=2",
            "--seats",
            "viewer=10",
            "--fault",
            "POST:/api/**=429:0.5",
            "--seed",
            "9",
            "--token-idle-timeout",
            "60",
        ])
        .unwrap();
        assert_eq!(c.site_content_url, "acme");
        assert_eq!(c.api_version, "3.21");
        assert!(
            c.users.is_empty(),
            "explicit credentials replace the defaults"
        );
        assert_eq!(c.pats[0].secret, "se:cret");
        assert_eq!(c.connected_apps[0].secret_id, "sid");
        assert_eq!(
            c.seats,
            vec![(LicenceTier::Creator, 2), (LicenceTier::Viewer, 10)]
        );
        assert_eq!(c.faults.len(), 1);
        assert_eq!((c.seed, c.token_idle_timeout), (9, Duration::from_secs(60)));
    }

    #[test]
    fn defaults_and_bad_flags() {
        let c = config(&[]).unwrap();
        assert_eq!(c.users[0].name, "admin");
        assert_eq!(c.listen.port(), 8090);
        for bad in [
            &["--pat", "no-secret"][..],
            &["--connected-app", "a:b"],
            &["--seats", "Gold=1"],
            &["--seats", "Creator=many"],
            &["--fault", "nonsense"],
            &["--api-version", "three"],
        ] {
            assert!(config(bad).is_err(), "{bad:?}");
        }
    }
}
