//! How the client reaches one Tableau site: server URL, site, credentials and the limits it
//! keeps to. Deserialised from the `[tableau]` config section; durations are in seconds. Each
//! secret may instead come from a file (`secret_file`, `password_file`), like every secret of
//! the project's config.
//!
//! `Serialize` exists for figment's defaults layer and leaves secrets out: settings can never
//! be dumped with their secrets through serde, nor through `Debug`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableauSettings {
    /// Server root, e.g. `https://10ay.online.tableau.com` (no `/api/...`).
    pub url: String,
    /// Site content URL; `""` is Tableau Server's Default site.
    #[serde(default)]
    pub site: String,
    /// REST API version to use (`"3.24"`); discovered from `serverinfo` when absent.
    #[serde(default)]
    pub api_version: Option<String>,
    pub auth: TableauAuth,
    /// Requests in flight at once, per client (= per site).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// Requests started per second, per client. Tableau Cloud throttles without publishing
    /// limits (reference §5), so the default is conservative.
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    /// Per HTTP request, seconds in the config file.
    #[serde(
        default = "default_request_timeout",
        deserialize_with = "seconds",
        serialize_with = "as_seconds"
    )]
    pub request_timeout: Duration,
    /// Retries after a transient failure (429, 5xx, timeout, lost connection).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First API version with bulk group membership calls (Tableau: 3.21).
    #[serde(default = "default_bulk_min_version")]
    pub bulk_min_version: String,
}

/// Credentials for sign-in. `Debug` and `Serialize` never show secrets. `PartialEq` tells a
/// SIGHUP whether the secret changed (settings compared with settings, not a client's input).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawAuth")]
pub enum TableauAuth {
    /// Personal access token. Tableau allows one session per PAT: do not share one PAT between
    /// several processes or replicas (they sign each other out).
    Pat {
        name: String,
        #[serde(skip_serializing)]
        secret: String,
    },
    Password {
        username: String,
        #[serde(skip_serializing)]
        password: String,
    },
    /// Connected app with direct trust; the client mints a short-lived JWT per sign-in.
    ConnectedApp {
        client_id: String,
        secret_id: String,
        #[serde(skip_serializing)]
        secret: String,
        /// The Tableau user the JWT signs in as (`sub`), case-sensitive.
        username: String,
    },
}

/// The config file's form: each secret inline or from a file.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawAuth {
    Pat {
        name: String,
        secret: Option<String>,
        secret_file: Option<PathBuf>,
    },
    Password {
        username: String,
        password: Option<String>,
        password_file: Option<PathBuf>,
    },
    ConnectedApp {
        client_id: String,
        secret_id: String,
        secret: Option<String>,
        secret_file: Option<PathBuf>,
        username: String,
    },
}

impl TryFrom<RawAuth> for TableauAuth {
    type Error = String;

    fn try_from(raw: RawAuth) -> Result<Self, String> {
        Ok(match raw {
            RawAuth::Pat {
                name,
                secret,
                secret_file,
            } => Self::Pat {
                name,
                secret: one_secret("secret", secret, secret_file)?,
            },
            RawAuth::Password {
                username,
                password,
                password_file,
            } => Self::Password {
                username,
                password: one_secret("password", password, password_file)?,
            },
            RawAuth::ConnectedApp {
                client_id,
                secret_id,
                secret,
                secret_file,
                username,
            } => Self::ConnectedApp {
                client_id,
                secret_id,
                secret: one_secret("secret", secret, secret_file)?,
                username,
            },
        })
    }
}

/// The secret given inline or in a file, exactly one of the two, not empty.
fn one_secret(key: &str, inline: Option<String>, file: Option<PathBuf>) -> Result<String, String> {
    let secret = match (inline, file) {
        (Some(value), None) => value,
        (None, Some(path)) => crate::secrets::read_secret_file(&path)
            .map_err(|e| format!("{key}_file {}: {e}", path.display()))?,
        (None, None) => return Err(format!("tableau.auth needs `{key}` or `{key}_file`")),
        (Some(_), Some(_)) => {
            return Err(format!(
                "tableau.auth takes `{key}` or `{key}_file`, not both"
            ));
        }
    };
    if secret.is_empty() {
        return Err(format!("tableau.auth `{key}` is empty"));
    }
    Ok(secret)
}

impl TableauSettings {
    /// Settings with every limit at its default.
    pub fn new(url: impl Into<String>, site: impl Into<String>, auth: TableauAuth) -> Self {
        Self {
            url: url.into(),
            site: site.into(),
            api_version: None,
            auth,
            max_concurrency: default_max_concurrency(),
            requests_per_second: default_requests_per_second(),
            request_timeout: default_request_timeout(),
            max_retries: default_max_retries(),
            bulk_min_version: default_bulk_min_version(),
        }
    }
}

fn default_max_concurrency() -> usize {
    8
}
fn default_requests_per_second() -> u32 {
    20
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_retries() -> u32 {
    6
}
fn default_bulk_min_version() -> String {
    "3.21".to_owned()
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

fn as_seconds<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for TableauAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pat { name, .. } => f
                .debug_struct("Pat")
                .field("name", name)
                .field("secret", &REDACTED)
                .finish(),
            Self::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &REDACTED)
                .finish(),
            Self::ConnectedApp {
                client_id,
                secret_id,
                username,
                ..
            } => f
                .debug_struct("ConnectedApp")
                .field("client_id", client_id)
                .field("secret_id", secret_id)
                .field("secret", &REDACTED)
                .field("username", username)
                .finish(),
        }
    }
}

impl fmt::Debug for TableauSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableauSettings")
            .field("url", &self.url)
            .field("site", &self.site)
            .field("api_version", &self.api_version)
            .field("auth", &self.auth)
            .field("max_concurrency", &self.max_concurrency)
            .field("requests_per_second", &self.requests_per_second)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("bulk_min_version", &self.bulk_min_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialises_with_defaults_and_hides_secrets() {
        let s: TableauSettings = serde_json::from_str(
            r#"{"url":"https://t.example","auth":{"kind":"pat","name":"bridge","secret":"TOPSECRET"},
                "request_timeout":2.5}"#,
        )
        .unwrap();
        assert_eq!(s.site, "");
        assert_eq!(s.max_concurrency, 8);
        assert_eq!(s.requests_per_second, 20);
        assert_eq!(s.max_retries, 6);
        assert_eq!(s.request_timeout, Duration::from_millis(2500));
        assert_eq!(s.bulk_min_version, "3.21");
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("TOPSECRET"), "{dbg}");
        assert!(dbg.contains("bridge"));
    }

    #[test]
    fn rejects_unknown_keys() {
        let unknown_top = serde_json::from_str::<TableauSettings>(
            r#"{"url":"u","auth":{"kind":"password","username":"a","password":"b"},"sitee":"x"}"#,
        );
        assert!(unknown_top.is_err());
        let unknown_auth = serde_json::from_str::<TableauSettings>(
            r#"{"url":"u","auth":{"kind":"password","username":"a","password":"b","pwd":"c"}}"#,
        );
        assert!(unknown_auth.is_err());
        let app = serde_json::from_str::<TableauSettings>(
            r#"{"url":"u","auth":{"kind":"connected_app","client_id":"c","secret_id":"i","secret":"SEKRIT","username":"admin"}}"#,
        )
        .unwrap();
        assert!(!format!("{app:?}").contains("SEKRIT"));
        let serialised = serde_json::to_string(&app).unwrap();
        assert!(!serialised.contains("SEKRIT"), "{serialised}");
        assert!(
            serialised.contains("\"kind\":\"connected_app\""),
            "{serialised}"
        );
    }

    #[test]
    fn reads_the_toml_config_form() {
        use figment::providers::{Format, Toml};
        let toml = r#"
            url = "https://10ay.online.tableau.com"
            site = "acme"
            request_timeout = 30
            max_retries = 3
            [auth]
            kind = "connected_app"
            client_id = "c"
            secret_id = "i"
            secret = "v"
            username = "admin@acme.com"
        "#;
        let s: TableauSettings = figment::Figment::from(Toml::string(toml))
            .extract()
            .unwrap();
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.max_retries, 3);
        assert!(matches!(s.auth, TableauAuth::ConnectedApp { .. }));
    }

    #[test]
    fn secrets_come_inline_or_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pat");
        std::fs::write(&path, "from-file\n").unwrap();
        let json = format!(
            r#"{{"url":"u","auth":{{"kind":"pat","name":"n","secret_file":{:?}}}}}"#,
            path.display().to_string()
        );
        let s: TableauSettings = serde_json::from_str(&json).unwrap();
        assert!(matches!(&s.auth, TableauAuth::Pat { secret, .. } if secret == "from-file"));
        let both =
            r#"{"url":"u","auth":{"kind":"pat","name":"n","secret":"a","secret_file":"/x"}}"#;
        assert!(serde_json::from_str::<TableauSettings>(both).is_err());
        let none = r#"{"url":"u","auth":{"kind":"pat","name":"n"}}"#;
        assert!(serde_json::from_str::<TableauSettings>(none).is_err());
    }
}
