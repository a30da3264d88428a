//! How a simulator is set up: site, API version, credentials, licence seats, faults, seed.
//! The CLI parses its flags into this; tests build it directly.

use std::net::SocketAddr;
use std::time::Duration;

use super::faults::FaultRule;
use super::model::LicenceTier;

/// A site administrator who signs in with a password (`--user NAME:PASSWORD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordUser {
    pub name: String,
    pub password: String,
}

/// A personal access token (`--pat NAME:SECRET`); its owner is a site administrator of the
/// same name. One session at a time per token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalAccessToken {
    pub name: String,
    pub secret: String,
}

/// A connected app with direct trust (`--connected-app CLIENT_ID:SECRET_ID:SECRET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    pub secret_id: String,
    pub secret: String,
}

/// Everything a simulator starts with. `SimConfig::default()` serves the default site `""`
/// on an ephemeral port of 127.0.0.1 with API 3.27, one admin `admin`/`admin-password`, one PAT
/// `sim-pat`/`sim-pat-secret`, one connected app `sim-client`/`sim-secret-id`/`sim-secret-value`,
/// unlimited seats and no faults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// Site content URL clients sign in to (`""` = Tableau Server's default site).
    pub site_content_url: String,
    /// Highest REST API version served (`major.minor`); higher path versions answer 404003.
    pub api_version: String,
    pub users: Vec<PasswordUser>,
    pub pats: Vec<PersonalAccessToken>,
    pub connected_apps: Vec<ConnectedApp>,
    /// Licence seats per tier; a tier not listed is unlimited.
    pub seats: Vec<(LicenceTier, usize)>,
    pub faults: Vec<FaultRule>,
    /// Seeds LUIDs, tokens and fault draws: the same requests in the same order give the
    /// same answers.
    pub seed: u64,
    /// A session unused this long answers 401002 (Tableau Server's default is 240 minutes).
    pub token_idle_timeout: Duration,
    /// actix worker threads.
    pub workers: usize,
    /// Remove User answers `mapAssetsTo` with 403 (**assumed** code 403000): Tableau Server
    /// lets only server administrators use the parameter, and a site administrator's sign-in
    /// then has to move content item by item. Off: Tableau Cloud, or a server administrator.
    pub map_assets_to_forbidden: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_content_url: String::new(),
            api_version: "3.27".to_owned(),
            users: vec![PasswordUser {
                name: "admin".to_owned(),
                password: "admin-password".to_owned(),
            }],
            pats: vec![PersonalAccessToken {
                name: "sim-pat".to_owned(),
                secret: "sim-pat-secret".to_owned(),
            }],
            connected_apps: vec![ConnectedApp {
                client_id: "sim-client".to_owned(),
                secret_id: "sim-secret-id".to_owned(),
                secret: "sim-secret-value".to_owned(),
            }],
            seats: Vec::new(),
            faults: Vec::new(),
            seed: 0x7ab1_ea00,
            token_idle_timeout: Duration::from_secs(240 * 60),
            workers: 2,
            map_assets_to_forbidden: false,
        }
    }
}

impl SimConfig {
    pub fn with_site(mut self, content_url: &str) -> Self {
        self.site_content_url = content_url.to_owned();
        self
    }

    pub fn with_api_version(mut self, version: &str) -> Self {
        self.api_version = version.to_owned();
        self
    }

    pub fn with_seats(mut self, tier: LicenceTier, seats: usize) -> Self {
        self.seats.push((tier, seats));
        self
    }

    pub fn with_fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    pub fn with_token_idle_timeout(mut self, timeout: Duration) -> Self {
        self.token_idle_timeout = timeout;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// `major.minor` → comparable pair; `None` for anything else.
pub fn parse_api_version(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.split_once('.')?;
    let parsed = (major.parse().ok()?, minor.parse().ok()?);
    (!major.is_empty() && !minor.is_empty() && !minor.starts_with('+')).then_some(parsed)
}

/// Splits `A:B` (or `A:B:C`) at the first colons; the last part keeps any further colons.
#[cfg(any(feature = "cli", test))]
pub fn split_credential(s: &str, parts: usize) -> Option<Vec<String>> {
    let pieces: Vec<String> = s.splitn(parts, ':').map(str::to_owned).collect();
    (pieces.len() == parts && pieces.iter().all(|p| !p.is_empty())).then_some(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_credentials_parse() {
        assert_eq!(parse_api_version("3.21"), Some((3, 21)));
        assert_eq!(parse_api_version("3"), None);
        assert_eq!(parse_api_version("3.x"), None);
        assert_eq!(
            split_credential("pat:se:cret", 2),
            Some(vec!["pat".to_owned(), "se:cret".to_owned()])
        );
        assert_eq!(split_credential("pat:", 2), None);
    }
}
