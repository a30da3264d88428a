//! What `tableau-scim check` asks Tableau before going live: the server's versions, the site
//! (licence capacity per tier, where the server reports it), the signed-in user, and the site's
//! authentication configurations (3.24+, reference §2.2). Answers are read leniently
//! (strings or numbers, `{"value": …}` wrappers, one item or a list).

use reqwest::Method;
use serde_json::Value;

use super::client::{DISCOVERY_VERSION, TableauClient, parse_json};
use super::errors::TableauError;

/// `GET /api/2.4/serverInfo`: what `check` shows, and where the client learns the API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub product_version: Option<String>,
    pub build: Option<String>,
    pub rest_api_version: String,
}

/// Query Site: the site signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteDetails {
    pub id: String,
    pub name: Option<String>,
    pub content_url: String,
    /// Licence capacity per tier (`Creator`, `Explorer`, `Viewer`) that the server reports;
    /// a tier not listed has no reported limit.
    pub capacity: Vec<(&'static str, u64)>,
}

/// One of the site's authentication configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteAuthConfiguration {
    pub auth_setting: String,
    pub enabled: bool,
    pub idp_configuration_id: Option<String>,
    pub idp_configuration_name: Option<String>,
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(map) => scalar(map.get("value")),
        _ => None,
    }
}

/// `{"list": {"item": [...]}}` or `{"list": {"item": {...}}}` → the items.
fn items<'a>(v: &'a Value, list: &str, item: &str) -> Vec<&'a Value> {
    match v.get(list).and_then(|l| l.get(item)) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

/// The versions in a `serverInfo` answer (plain strings or `{"value": …}` wrappers).
fn server_info_of(v: &Value) -> Result<ServerInfo, TableauError> {
    let info = &v["serverInfo"];
    let rest_api_version = scalar(info.get("restApiVersion"))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| TableauError::Protocol("serverInfo has no restApiVersion".into()))?;
    Ok(ServerInfo {
        product_version: scalar(info.get("productVersion")),
        build: info
            .get("productVersion")
            .and_then(|p| scalar(p.get("build"))),
        rest_api_version,
    })
}

impl TableauClient {
    /// The server's product and REST API versions (no sign-in needed). `serverInfo` exists from
    /// API 2.4 and answers under any version the server knows.
    pub async fn server_info(&self) -> Result<ServerInfo, TableauError> {
        let url = format!("{}/api/{DISCOVERY_VERSION}/serverInfo", self.base_url());
        let body = self.get_unauthenticated(&url).await?;
        server_info_of(&parse_json(&body, "serverInfo")?)
    }

    /// The LUID of the user the session belongs to (after a sign-in).
    pub fn signed_in_user_id(&self) -> Option<String> {
        self.session_user_id()
    }

    /// Query Site for the site signed in to.
    pub async fn site_details(&self) -> Result<SiteDetails, TableauError> {
        let body = self.site_call(Method::GET, "", &[], None).await?;
        let v: Value = parse_json(&body, "Query Site")?;
        let site = &v["site"];
        let mut capacity = Vec::new();
        for (tier, key) in [
            ("Creator", "tierCreatorCapacity"),
            ("Explorer", "tierExplorerCapacity"),
            ("Viewer", "tierViewerCapacity"),
        ] {
            if let Some(n) = scalar(site.get(key)).and_then(|s| s.trim().parse().ok()) {
                capacity.push((tier, n));
            }
        }
        Ok(SiteDetails {
            id: scalar(site.get("id")).unwrap_or_default(),
            name: scalar(site.get("name")),
            content_url: scalar(site.get("contentUrl")).unwrap_or_default(),
            capacity,
        })
    }

    /// The site's authentication configurations (REST API 3.24+).
    pub async fn site_auth_configurations(
        &self,
    ) -> Result<Vec<SiteAuthConfiguration>, TableauError> {
        let body = self
            .site_call(Method::GET, "site-auth-configurations", &[], None)
            .await?;
        let v: Value = parse_json(&body, "site-auth-configurations")?;
        Ok(items(&v, "siteAuthConfigurations", "siteAuthConfiguration")
            .into_iter()
            .map(|c| SiteAuthConfiguration {
                auth_setting: scalar(c.get("authSetting")).unwrap_or_default(),
                enabled: scalar(c.get("enabled")).is_none_or(|e| e.eq_ignore_ascii_case("true")),
                idp_configuration_id: scalar(c.get("idpConfigurationId")),
                idp_configuration_name: scalar(c.get("idpConfigurationName")),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_info_reads_wrapped_and_plain_versions() {
        let wrapped = serde_json::json!({"serverInfo": {
            "productVersion": {"value": "2025.3.0", "build": "20253.25.0101"},
            "restApiVersion": {"value": "3.27"}}});
        let info = server_info_of(&wrapped).unwrap();
        assert_eq!(info.rest_api_version, "3.27");
        assert_eq!(info.product_version.as_deref(), Some("2025.3.0"));
        assert_eq!(info.build.as_deref(), Some("20253.25.0101"));
        let plain = serde_json::json!({"serverInfo": {"restApiVersion": " 3.4 "}});
        assert_eq!(server_info_of(&plain).unwrap().rest_api_version, "3.4");
        assert!(server_info_of(&serde_json::json!({"serverInfo": {}})).is_err());
    }

    #[test]
    fn lists_of_one_or_many() {
        let one: Value = serde_json::json!({"l": {"i": {"a": 1}}});
        let many: Value = serde_json::json!({"l": {"i": [{"a": 1}, {"a": 2}]}});
        let none: Value = serde_json::json!({"l": {}});
        assert_eq!(items(&one, "l", "i").len(), 1);
        assert_eq!(items(&many, "l", "i").len(), 2);
        assert!(items(&none, "l", "i").is_empty());
        assert_eq!(
            scalar(Some(&serde_json::json!({"value": 3}))),
            Some("3".into())
        );
    }
}
