//! Tableau's JSON wire format (reference §4.2), written from the documentation, independent of
//! the simulator. Tableau maps its XML mechanically: every scalar is a string, a list is
//! `{"users":{"user":[…]}}`, an empty list may be `{}` and a one-element list may be a bare
//! object. Responses are therefore parsed leniently: unknown keys are ignored, numbers may be
//! strings or numbers, lists may be absent, `{}`, an object or an array.
//!
//! Requests are the opposite: Tableau rejects unknown keys (400000 "Unrecognized field"), so
//! request types serialise only what is set.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- requests

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInRequest<'a> {
    pub credentials: Credentials<'a>,
}

/// Exactly one credential kind is set; the others are skipped (both at once is 400000).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_access_token_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_access_token_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<&'a str>,
    pub site: SiteRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRef<'a> {
    pub content_url: &'a str,
}

impl<'a> Credentials<'a> {
    /// No credential yet, only the site.
    pub fn for_site(content_url: &'a str) -> Self {
        Self {
            name: None,
            password: None,
            personal_access_token_name: None,
            personal_access_token_secret: None,
            jwt: None,
            site: SiteRef { content_url },
        }
    }
}

/// `{"user":{…}}` for Add User, Update User and Add User to Group.
#[derive(Serialize)]
pub struct UserRequest<'a> {
    pub user: UserFields<'a>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_setting: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_configuration_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

/// `{"users":{"user":[{"id":…},…]}}` for the 3.21+ bulk membership calls.
#[derive(Serialize)]
pub struct UserIdsRequest<'a> {
    pub users: UserIdList<'a>,
}

#[derive(Serialize)]
pub struct UserIdList<'a> {
    pub user: Vec<UserId<'a>>,
}

#[derive(Serialize)]
pub struct UserId<'a> {
    pub id: &'a str,
}

/// `{"group":{"name":…}}` for Create Group and Update Group.
#[derive(Serialize)]
pub struct GroupRequest<'a> {
    pub group: GroupName<'a>,
}

#[derive(Serialize)]
pub struct GroupName<'a> {
    pub name: &'a str,
}

// ---------------------------------------------------------------- responses

#[derive(Deserialize)]
pub struct SignInResponse {
    pub credentials: SignedIn,
}

#[derive(Deserialize)]
pub struct SignedIn {
    #[serde(deserialize_with = "text")]
    pub token: String,
    pub site: IdOnly,
    #[serde(default)]
    pub user: Option<IdOnly>,
}

#[derive(Deserialize)]
pub struct IdOnly {
    #[serde(deserialize_with = "text")]
    pub id: String,
}

#[derive(Deserialize, Debug)]
pub struct UserResponse {
    pub user: WireUser,
}

/// A user as Tableau sends it; every field optional so a sparse answer (Update User has no
/// `id`) still parses. The client checks what it needs.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct WireUser {
    #[serde(deserialize_with = "opt_text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub site_role: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub email: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct GroupResponse {
    pub group: WireGroup,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct WireGroup {
    #[serde(deserialize_with = "opt_text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// The "grant role on sign-in" role (XSD `groupType`).
    #[serde(rename = "minimumSiteRole", deserialize_with = "opt_text")]
    pub minimum_site_role: Option<String>,
    /// Some servers and clients give that role in an `<import siteRole=…>` child instead.
    pub import: Option<WireImport>,
}

/// A group's `import` directive (XSD `importDirectiveType`): only its role is read.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct WireImport {
    #[serde(rename = "siteRole", deserialize_with = "opt_text")]
    pub site_role: Option<String>,
}

/// `{"pagination":{…},"users":{"user":[…]}}`.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct UserPage {
    pub pagination: Option<Pagination>,
    pub users: Wrapped<WireUser, UserKey>,
}

/// `{"pagination":{…},"groups":{"group":[…]}}`.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct GroupPage {
    pub pagination: Option<Pagination>,
    pub groups: Wrapped<WireGroup, GroupKey>,
}

#[derive(Deserialize, Debug, Default, Clone, Copy)]
#[serde(rename_all = "camelCase", default)]
pub struct Pagination {
    #[serde(deserialize_with = "opt_number")]
    pub page_number: Option<u64>,
    #[serde(deserialize_with = "opt_number")]
    pub page_size: Option<u64>,
    #[serde(deserialize_with = "opt_number")]
    pub total_available: Option<u64>,
}

#[derive(Deserialize, Debug)]
pub struct ErrorResponse {
    pub error: WireError,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct WireError {
    #[serde(deserialize_with = "opt_text")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub summary: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub detail: Option<String>,
}

// ---------------------------------------------------------------- lenient lists

/// Names the singular key inside a plural wrapper (`users` → `user`).
pub trait ItemKey {
    const KEY: &'static str;
}

#[derive(Debug)]
pub struct UserKey;
impl ItemKey for UserKey {
    const KEY: &'static str = "user";
}

#[derive(Debug)]
pub struct GroupKey;
impl ItemKey for GroupKey {
    const KEY: &'static str = "group";
}

/// The items of `{"user":[…]}`, `{"user":{…}}` (one item), `{}` or `null` (none).
#[derive(Debug)]
pub struct Wrapped<T, K> {
    pub items: Vec<T>,
    _key: std::marker::PhantomData<K>,
}

impl<T, K> Default for Wrapped<T, K> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            _key: std::marker::PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned, K: ItemKey> Deserialize<'de> for Wrapped<T, K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let inner = match value {
            serde_json::Value::Null => serde_json::Value::Null,
            serde_json::Value::Object(mut map) => map.remove(K::KEY).unwrap_or_default(),
            // Some serialisers drop the wrapper level; accept a bare array too.
            other @ serde_json::Value::Array(_) => other,
            _ => return Err(de::Error::custom("expected a list object")),
        };
        let items = match inner {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>()
                .map_err(de::Error::custom)?,
            one @ serde_json::Value::Object(_) => {
                vec![serde_json::from_value(one).map_err(de::Error::custom)?]
            }
            _ => return Err(de::Error::custom("expected list items")),
        };
        Ok(Self {
            items,
            _key: std::marker::PhantomData,
        })
    }
}

// ---------------------------------------------------------------- lenient scalars

/// A scalar as a string: Tableau sends strings, but a number or boolean is accepted, and so is
/// an element with text in `{"value": …}` form.
fn scalar_to_string(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Object(mut map) => map.remove("value").and_then(scalar_to_string),
        _ => None,
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    scalar_to_string(value).ok_or_else(|| de::Error::custom("expected a string"))
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_to_string(serde_json::Value::deserialize(d)?))
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(scalar_to_string(serde_json::Value::deserialize(d)?).and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_in_every_shape() {
        let empty: UserPage = serde_json::from_str(
            r#"{"pagination":{"pageNumber":"1","pageSize":"100","totalAvailable":"0"},"users":{}}"#,
        )
        .unwrap();
        assert!(empty.users.items.is_empty());
        assert_eq!(empty.pagination.unwrap().total_available, Some(0));

        let one: UserPage =
            serde_json::from_str(r#"{"users":{"user":{"id":"a","name":"x","siteRole":"Viewer"}}}"#)
                .unwrap();
        assert_eq!(one.users.items.len(), 1);
        assert!(one.pagination.is_none());

        let many: GroupPage = serde_json::from_str(
            r#"{"pagination":{"pageNumber":1,"pageSize":1000,"totalAvailable":2},
                "groups":{"group":[{"id":"g1","name":"All Users","userCount":"2","domain":{"name":"local"}},
                                    {"id":"g2","name":"b"}]}}"#,
        )
        .unwrap();
        assert_eq!(many.groups.items.len(), 2);
        assert_eq!(many.pagination.unwrap().page_size, Some(1000));

        let missing: GroupPage = serde_json::from_str("{}").unwrap();
        assert!(missing.groups.items.is_empty());
    }

    #[test]
    fn a_groups_minimum_site_role_parses_from_either_place() {
        let page: GroupPage = serde_json::from_str(
            r#"{"groups":{"group":[
                {"id":"g1","name":"a","minimumSiteRole":"Explorer","domain":{"name":"local"}},
                {"id":"g2","name":"b","import":{"domainName":"local","siteRole":"Creator","grantLicenseMode":"onLogin"}},
                {"id":"g3","name":"c"}]}}"#,
        )
        .unwrap();
        let roles: Vec<(Option<&str>, Option<&str>)> = page
            .groups
            .items
            .iter()
            .map(|g| {
                (
                    g.minimum_site_role.as_deref(),
                    g.import.as_ref().and_then(|i| i.site_role.as_deref()),
                )
            })
            .collect();
        assert_eq!(
            roles,
            vec![
                (Some("Explorer"), None),
                (None, Some("Creator")),
                (None, None)
            ]
        );
    }

    #[test]
    fn sparse_user_and_text_elements_parse() {
        let u: UserResponse =
            serde_json::from_str(r#"{"user":{"name":"a","siteRole":"Viewer","extra":{"x":"1"}}}"#)
                .unwrap();
        assert_eq!(u.user.id, None);
        let err: ErrorResponse =
            serde_json::from_str(r#"{"error":{"summary":"s","detail":"d","code":409000}}"#)
                .unwrap();
        assert_eq!(err.error.code.as_deref(), Some("409000"));
    }

    #[test]
    fn requests_skip_unset_fields() {
        let body = UserRequest {
            user: UserFields {
                name: Some("a@b.c"),
                site_role: Some("Viewer"),
                ..Default::default()
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"user":{"name":"a@b.c","siteRole":"Viewer"}}"#
        );
    }
}
