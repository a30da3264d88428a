//! Settings checks that make start-up errors one clear line: figment's errors without source
//! locations or type names, and the URLs, TLS files and secrets a deployment needs right.

use crate::config::Settings;
use figment::error::Kind;
use std::path::PathBuf;

/// One line per problem, naming the key as the config file spells it and where the value came
/// from (a file or the environment), never a source-code location or a Rust type.
pub fn describe_figment_error(error: figment::Error) -> String {
    let mut lines = Vec::new();
    for e in error {
        let mut key = e.path.join(".");
        let join = |key: &str, field: &str| {
            if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            }
        };
        let what = match &e.kind {
            Kind::MissingField(field) => {
                key = join(&key, field);
                format!("{key} is missing{}", missing_hint(&key))
            }
            Kind::UnknownField(field, _) => {
                key = join(&key, field);
                format!("unknown key {key} (see docs/configuration.md for the keys)")
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!("{key} must be {expected}, not {}", kind_only(actual))
            }
            Kind::UnknownVariant(v, expected) => {
                format!(
                    "{key}: unknown value '{v}' (one of: {})",
                    expected.join(", ")
                )
            }
            other => {
                if key.is_empty() {
                    other.to_string()
                } else {
                    format!("{key}: {other}")
                }
            }
        };
        lines.push(format!("{what}{}", origin(e.metadata.as_ref())));
    }
    lines.join("; ")
}

/// What a wrong value is (`string`, `integer`, `sequence`…) without the value itself: it may
/// be a token or a password, and this line reaches stderr, `check` and the SIGHUP log.
fn kind_only(actual: &figment::error::Actual) -> String {
    let text = actual.to_string();
    let cut = text.find(['"', '`', '\'']).unwrap_or(text.len());
    let kind = text[..cut].trim();
    if kind.is_empty() {
        "that value".to_string()
    } else {
        format!("a {kind}")
    }
}

/// Where a value came from, for a file or the environment only (figment's defaults and the
/// command line are code, whose location means nothing to an admin).
fn origin(metadata: Option<&figment::Metadata>) -> String {
    let Some(m) = metadata else {
        return String::new();
    };
    match &m.source {
        Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
        _ if m.name.contains("environment") => " (from TABLEAU_SCIM_* variables)".into(),
        _ => String::new(),
    }
}

fn missing_hint(key: &str) -> &'static str {
    match key {
        "tableau.auth" => {
            ": give --tableau-pat NAME:SECRET, a [tableau.auth] section in the config file, or \
             TABLEAU_SCIM_TABLEAU__AUTH__KIND/NAME/SECRET"
        }
        "tableau.url" => ": give --tableau-url https://SERVER or url in [tableau]",
        _ => "",
    }
}

/// The checks of a deployment's settings that need no network: URLs with a scheme, TLS files
/// given together.
pub fn validate_deployment(settings: &Settings) -> Result<(), String> {
    if let Some(url) = &settings.public_url {
        check_public_url(url)?;
    }
    if let Some(t) = &settings.tableau {
        check_tableau_url(&t.url)?;
    }
    tls_files(settings)?;
    Ok(())
}

/// `public_url` is where the IdP reaches the bridge: `https://HOST[:PORT][/PATH]`, or `http://`
/// behind nothing at all (tests, a demo).
pub fn check_public_url(url: &str) -> Result<(), String> {
    let parsed = parse_http_url(url)
        .map_err(|why| format!("public_url '{url}' {why}: write it as https://scim.example.com"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "public_url '{url}' must not have a query or fragment: write it as \
             https://scim.example.com"
        ));
    }
    Ok(())
}

/// `tableau.url` is the server root: `https://10ay.online.tableau.com`, without `/api/...`.
pub fn check_tableau_url(url: &str) -> Result<(), String> {
    let parsed = parse_http_url(url).map_err(|why| {
        format!("tableau.url '{url}' {why}: write it as https://tableau.example.com")
    })?;
    let path = parsed.path().trim_end_matches('/');
    if path == "/api" || path.starts_with("/api/") || path.contains("/api/") {
        let root = parsed.origin().ascii_serialization();
        return Err(format!(
            "tableau.url '{url}' names the REST API, not the server: give the server root, \
             e.g. {root} (the API version is discovered)"
        ));
    }
    Ok(())
}

fn parse_http_url(url: &str) -> Result<url::Url, &'static str> {
    if !url.contains("://") {
        return Err("has no scheme");
    }
    let parsed = url::Url::parse(url).map_err(|_| "is not a URL")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with https:// (or http://)");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    Ok(parsed)
}

/// Both TLS files or neither; `Some((cert, key))` when TLS is on.
pub fn tls_files(settings: &Settings) -> Result<Option<(PathBuf, PathBuf)>, String> {
    match (&settings.tls.cert_file, &settings.tls.key_file) {
        (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(
            "tls.cert_file is set but tls.key_file is not: give both (--tls-cert and --tls-key)"
                .into(),
        ),
        (None, Some(_)) => Err(
            "tls.key_file is set but tls.cert_file is not: give both (--tls-cert and --tls-key)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        assert!(check_public_url("https://scim.example.com").is_ok());
        assert!(check_public_url("http://127.0.0.1:8080/base").is_ok());
        let e = check_public_url("scim.example.com").unwrap_err();
        assert!(e.contains("has no scheme") && e.contains("https://"), "{e}");
        assert!(check_public_url("ftp://scim.example.com").is_err());
        assert!(check_public_url("https://x.example.com/?a=b").is_err());
    }

    #[test]
    fn tableau_urls() {
        assert!(check_tableau_url("https://10ay.online.tableau.com").is_ok());
        assert!(check_tableau_url("http://127.0.0.1:8090/").is_ok());
        assert!(
            check_tableau_url("10ay.online.tableau.com")
                .unwrap_err()
                .contains("no scheme")
        );
        let e = check_tableau_url("https://tableau.example.com/api/3.24").unwrap_err();
        assert!(e.contains("e.g. https://tableau.example.com "), "{e}");
        assert!(check_tableau_url("https://tableau.example.com/api").is_err());
    }

    #[test]
    fn figment_errors_name_the_key_without_code_locations() {
        let flags = serde_json::json!({"tableau": {"url": "http://127.0.0.1:9"}});
        let e = Settings::load_with_flags(None, flags)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tableau.auth is missing"), "{e}");
        assert!(e.contains("--tableau-pat"), "{e}");
        assert!(
            !e.contains(".rs:") && !e.contains("serde_json") && !e.contains('\n'),
            "{e}"
        );
    }

    /// A value of the wrong type is described by its type, never quoted: it may be a secret.
    #[test]
    fn a_wrong_value_is_not_repeated() {
        let flags = serde_json::json!({"auth": {"tokens": "my-very-secret-token-value"}});
        let e = Settings::load_with_flags(None, flags)
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.tokens must be"), "{e}");
        assert!(e.contains("a string"), "{e}");
        assert!(!e.contains("my-very-secret-token-value"), "{e}");
    }
}
