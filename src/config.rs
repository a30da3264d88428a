//! Settings: built-in defaults, then a TOML file, then environment variables
//! (`TABLEAU_SCIM_<KEY>`, nested keys joined with `__`), then command-line flags. Any secret
//! can also come from a file (`<key>_file`), so it need not sit in the config or environment.

use crate::logging::LogSettings;
use crate::provision::JournalSettings;
use crate::provision::guard::GuardSettings;
use crate::provision::rules::ProvisionPolicy;
use crate::reconcile::ReconcileSettings;
use crate::tableau::TableauSettings;
use crate::trusted_proxies::TrustedProxies;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const ENV_PREFIX: &str = "TABLEAU_SCIM_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the SCIM server listens on.
    pub listen: String,
    /// Public base URL used in `meta.location` and `Location` headers, e.g.
    /// `https://scim.example.com`. Defaults to `http://<listen address>`.
    pub public_url: Option<String>,
    /// Path prefix of every SCIM endpoint.
    pub base_path: String,
    /// Peers (IP addresses or CIDR networks) whose `Forwarded` / `X-Forwarded-Host` /
    /// `X-Forwarded-Proto` headers are believed when building URLs without `public_url`;
    /// empty (the default) believes none: the URL is built from the request's own `Host`.
    pub trusted_proxies: TrustedProxies,
    /// Directory for the default SQLite database.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; defaults to `sqlite://<data_dir>/tableau-scim.db`.
    pub store: Option<String>,
    pub auth: AuthSettings,
    /// The admin console (`/admin/`): off without a token.
    pub admin: AdminSettings,
    pub limits: LimitSettings,
    /// The Tableau site to provision into; without it the server only stores resources.
    #[serde(skip_serializing)]
    pub tableau: Option<TableauSettings>,
    /// Site roles, sign-in settings for new users, content owner, userName changes.
    pub provision: ProvisionPolicy,
    /// Deadline and recovery timing of the operation journal.
    pub journal: JournalSettings,
    /// The background reconcile against Tableau (off by default).
    pub reconcile: ReconcileSettings,
    /// The mass-removal guard (on by default: 50 removals an hour).
    pub guard: GuardSettings,
    /// Log format (`text` or `json`); logs go to stderr.
    pub log: LogSettings,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics: MetricsSettings,
    /// HTTPS: a certificate chain and its key (PEM); plain HTTP without them.
    pub tls: TlsSettings,
    /// On SIGTERM or SIGINT, how long requests in flight may take to finish.
    pub shutdown_grace_secs: u64,
}

/// The `[metrics]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A separate address (e.g. `127.0.0.1:9090`) for `/metrics`, `/healthz` and `/readyz`;
    /// they are then not served on `listen`. Unset: they are served on `listen`.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The server's certificate followed by its intermediates (PEM), re-read on SIGHUP.
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1), re-read on SIGHUP.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Bearer tokens in clear text (hashed at start-up; the clear text is then dropped).
    pub tokens: Vec<String>,
    /// A file holding one bearer token per line.
    pub tokens_file: Option<PathBuf>,
    /// Bearer tokens given as `sha256:<hex>` digests (see `tableau-scim hash-token`), so the
    /// config never holds a usable secret.
    pub token_hashes: Vec<String>,
    /// Optional HTTP Basic credentials (Okta supports them).
    pub basic_username: Option<String>,
    pub basic_password: Option<String>,
    pub basic_password_file: Option<PathBuf>,
}

/// The `[admin]` section: the console's own credential, never the IdP's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Admin tokens in clear text (hashed at start-up).
    pub tokens: Vec<String>,
    /// A file holding one admin token per line.
    pub tokens_file: Option<PathBuf>,
    /// Admin tokens as `sha256:<hex>` digests (`tableau-scim hash-token`).
    pub token_hashes: Vec<String>,
    /// How long a console session lasts after sign-in.
    pub session_minutes: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            tokens_file: None,
            token_hashes: Vec::new(),
            session_minutes: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest accepted request body; larger answers 413.
    pub max_body_bytes: usize,
    /// Largest page a list or search returns (`filter.maxResults`).
    pub max_page_size: usize,
    /// Page size when the client sends no `count`.
    pub default_page_size: usize,
    /// Most operations in one PATCH request; more answers `400 tooMany`.
    pub max_patch_operations: usize,
    /// Most values of one multi-valued attribute (`emails`, `phoneNumbers`, … — not a
    /// group's `members`); more answers `400 tooMany`.
    pub max_multi_values: usize,
    /// Seconds a client has to send a request's whole body once its headers are in; slower
    /// answers `408` (a slow or stalled upload cannot hold a worker or a connection).
    pub body_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            base_path: "/scim/v2".into(),
            trusted_proxies: TrustedProxies::default(),
            data_dir: PathBuf::from("data"),
            store: None,
            auth: AuthSettings::default(),
            admin: AdminSettings::default(),
            limits: LimitSettings::default(),
            tableau: None,
            provision: ProvisionPolicy::default(),
            journal: JournalSettings::default(),
            reconcile: ReconcileSettings::default(),
            guard: GuardSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            tls: TlsSettings::default(),
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_page_size: 1000,
            default_page_size: 100,
            max_patch_operations: 100,
            max_multi_values: 100,
            body_timeout_secs: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Settings {
    /// Defaults, then the TOML file (if any), then `TABLEAU_SCIM_*` environment variables.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_flags(config_file, serde_json::Value::Null)
    }

    /// Like [`Settings::load`], with command-line flags as the last layer: `flags` is a JSON
    /// object shaped like the config file (`{"listen": …, "tableau": {"url": …}}`). Lists are
    /// appended (a `--token` adds to the configured tokens); anything else overrides. The
    /// layers are merged before the settings are checked, so a section may be split between
    /// them (e.g. `[tableau]` from the environment and `--tableau-url`).
    pub fn load_with_flags(
        config_file: Option<&Path>,
        flags: serde_json::Value,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // TABLEAU_SCIM_CONFIG names the file (a CLI flag's variable) and TABLEAU_SCIM_TEST_*
        // configure the test suite: neither is a setting.
        let env = Env::prefixed(ENV_PREFIX)
            .ignore(&["CONFIG"])
            .filter(|k| !k.as_str().to_ascii_uppercase().starts_with("TEST_"));
        figment = figment.merge(env.split("__").map(|k| {
            // `TABLEAU_SCIM_AUTH__TOKENS` → `auth.tokens`; keys are lower-case in the file.
            k.as_str().to_ascii_lowercase().into()
        }));
        if !flags.is_null() {
            figment = figment.admerge(Serialized::defaults(flags));
        }
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(crate::config_check::describe_figment_error(e)))?;
        settings.base_path = normalise_base_path(&settings.base_path);
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.limits.max_page_size == 0 {
            return Err(ConfigError::Invalid(
                "limits.max_page_size must be at least 1".into(),
            ));
        }
        if self.limits.default_page_size == 0 {
            return Err(ConfigError::Invalid(
                "limits.default_page_size must be at least 1".into(),
            ));
        }
        for (value, key) in [
            (
                self.limits.max_patch_operations,
                "limits.max_patch_operations",
            ),
            (self.limits.max_multi_values, "limits.max_multi_values"),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        if self.limits.body_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "limits.body_timeout_secs must be at least 1".into(),
            ));
        }
        if self.limits.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "limits.max_body_bytes must be at least 1024".into(),
            ));
        }
        self.provision
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("provision: {e}")))?;
        if let Some(listen) = &self.metrics.listen
            && listen.trim().is_empty()
        {
            return Err(ConfigError::Invalid(
                "metrics.listen is empty: give HOST:PORT (e.g. 127.0.0.1:9090) or leave it out"
                    .into(),
            ));
        }
        if self.admin.session_minutes == 0 {
            return Err(ConfigError::Invalid(
                "admin.session_minutes must be at least 1".into(),
            ));
        }
        if self.journal.deadline_secs == 0 {
            return Err(ConfigError::Invalid(
                "journal.deadline_secs must be at least 1".into(),
            ));
        }
        crate::config_check::validate_deployment(self).map_err(ConfigError::Invalid)
    }

    /// The store URL, defaulting to an SQLite file in the data directory.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("tableau-scim.db").display()
            ),
        }
    }
}

/// `scim/v2/` → `/scim/v2`; `/` → `` (endpoints at the root).
pub fn normalise_base_path(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Read a secret from a file: surrounding whitespace (the trailing newline) is trimmed.
pub fn read_secret_file(path: &Path) -> Result<String, ConfigError> {
    crate::secrets::read_secret_file(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed
mod tests {
    use super::*;

    #[test]
    fn base_path_is_normalised() {
        assert_eq!(normalise_base_path("scim/v2/"), "/scim/v2");
        assert_eq!(normalise_base_path("/"), "");
    }

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"0.0.0.0:9000\"\n[limits]\nmax_page_size = 50\n",
            )?;
            jail.set_env("TABLEAU_SCIM_LIMITS__MAX_PAGE_SIZE", "20");
            jail.set_env("TABLEAU_SCIM_AUTH__TOKENS", "[\"t1\"]");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "0.0.0.0:9000");
            assert_eq!(s.limits.max_page_size, 20);
            assert_eq!(s.auth.tokens, vec!["t1".to_string()]);
            assert_eq!(s.limits.default_page_size, 100);
            Ok(())
        });
    }

    #[test]
    fn provision_mode_is_live_by_default_and_dry_run_on_request() {
        use crate::provision::dry_run::ProvisionMode;
        figment::Jail::expect_with(|jail| {
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.provision.mode, ProvisionMode::Live);
            jail.create_file("c.toml", "[provision]\nmode = \"dry_run\"\n")?;
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.provision.mode, ProvisionMode::DryRun);
            jail.create_file("d.toml", "[provision]\nmode = \"dry\"\n")?;
            assert!(
                Settings::load(Some(Path::new("d.toml"))).is_err(),
                "an unknown mode"
            );
            Ok(())
        });
    }

    #[test]
    fn the_guard_is_on_by_default_and_read_from_file_and_environment() {
        figment::Jail::expect_with(|jail| {
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.guard, GuardSettings::default());
            assert!(s.guard.enabled);
            assert_eq!((s.guard.max_removals, s.guard.window_secs), (50, 3600));
            jail.create_file("c.toml", "[guard]\nmax_removals = 3\n")?;
            jail.set_env("TABLEAU_SCIM_GUARD__WINDOW_SECS", "60");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!((s.guard.max_removals, s.guard.window_secs), (3, 60));
            jail.set_env("TABLEAU_SCIM_GUARD__ENABLED", "false");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert!(!s.guard.enabled);
            jail.create_file("d.toml", "[guard]\nmax = 5\n")?;
            assert!(
                Settings::load(Some(Path::new("d.toml"))).is_err(),
                "unknown key"
            );
            Ok(())
        });
    }

    #[test]
    fn reconcile_is_off_by_default_and_read_from_file_and_environment() {
        figment::Jail::expect_with(|jail| {
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(!s.reconcile.enabled());
            assert!(!s.reconcile.apply);
            jail.create_file("c.toml", "[reconcile]\ninterval_secs = 3600\n")?;
            jail.set_env("TABLEAU_SCIM_RECONCILE__APPLY", "true");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.reconcile.interval_secs, 3600);
            assert!(s.reconcile.enabled() && s.reconcile.apply);
            jail.create_file("d.toml", "[reconcile]\nevery = 5\n")?;
            assert!(
                Settings::load(Some(Path::new("d.toml"))).is_err(),
                "unknown key"
            );
            Ok(())
        });
    }

    #[test]
    fn flags_complete_a_section_started_in_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TABLEAU_SCIM_TABLEAU__REQUESTS_PER_SECOND", "1000");
            jail.set_env("TABLEAU_SCIM_AUTH__TOKENS", "[\"from-env-0123456789\"]");
            let flags = serde_json::json!({
                "auth": {"tokens": ["from-flag-0123456789"]},
                "tableau": {"url": "http://127.0.0.1:9", "auth": {"kind": "pat", "name": "n", "secret": "s"}},
            });
            let s = Settings::load_with_flags(None, flags).map_err(|e| e.to_string())?;
            let t = s.tableau.expect("tableau section");
            assert_eq!(
                (t.url.as_str(), t.requests_per_second),
                ("http://127.0.0.1:9", 1000)
            );
            assert_eq!(
                s.auth.tokens,
                ["from-env-0123456789", "from-flag-0123456789"]
            );
            Ok(())
        });
    }

    #[test]
    fn limits_and_trusted_proxies() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "trusted_proxies = [\"10.0.0.0/8\"]\n[limits]\nmax_patch_operations = 7\n",
            )?;
            jail.set_env("TABLEAU_SCIM_LIMITS__BODY_TIMEOUT_SECS", "5");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.limits.max_patch_operations, 7);
            assert_eq!(s.limits.max_multi_values, 100);
            assert_eq!(s.limits.body_timeout_secs, 5);
            assert!(s.trusted_proxies.contains([10, 1, 1, 1].into()));
            jail.set_env("TABLEAU_SCIM_TRUSTED_PROXIES", "[\"10.0.0.0/33\"]");
            let e = Settings::load(None).unwrap_err().to_string();
            assert!(e.contains("10.0.0.0/33"), "{e}");
            jail.set_env("TABLEAU_SCIM_TRUSTED_PROXIES", "[]");
            jail.set_env("TABLEAU_SCIM_LIMITS__BODY_TIMEOUT_SECS", "0");
            let e = Settings::load(None).unwrap_err().to_string();
            assert!(e.contains("limits.body_timeout_secs"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn log_format_and_metrics_listen_from_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[log]\nformat = \"json\"\n[metrics]\nlisten = \"127.0.0.1:9090\"\n",
            )?;
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.log.format, crate::logging::LogFormat::Json);
            assert_eq!(s.metrics.listen.as_deref(), Some("127.0.0.1:9090"));
            jail.create_file("bad.toml", "[log]\nformat = \"xml\"\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
            jail.set_env("TABLEAU_SCIM_LOG__FORMAT", "text");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.log.format, crate::logging::LogFormat::Text);
            let d = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(d.metrics.listen.is_none());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "lisen = \"x\"\n")?;
            assert!(Settings::load(Some(Path::new("c.toml"))).is_err());
            Ok(())
        });
    }
}
