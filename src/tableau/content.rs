//! Content a user owns, and moving it to another user: what a rename by recreate needs when
//! Remove User's `mapAssetsTo` is not allowed for the bridge's sign-in. The REST API lists
//! four kinds by owner (`filter=ownerName:eq:…`) and changes their owner with Update
//! Project / Workbook / Data Source / Flow (`<owner id>`); nothing else a user can own
//! (metrics, virtual connections, data roles, collections, …) has an owner update in the REST
//! API, which is why `mapAssetsTo` is tried first.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{TableauClient, parse_version};
use super::errors::TableauError;
use super::paging;
use super::users::encode;
use super::wire::Pagination;

/// The kinds of content whose owner the REST API can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    Project,
    Workbook,
    Datasource,
    Flow,
}

impl ContentKind {
    /// Projects last: a project's owner is moved once what is in it has been.
    pub const ALL: [ContentKind; 4] = [
        ContentKind::Workbook,
        ContentKind::Datasource,
        ContentKind::Flow,
        ContentKind::Project,
    ];

    /// The element name (`workbook`), also the JSON key of one item.
    pub fn element(self) -> &'static str {
        match self {
            ContentKind::Project => "project",
            ContentKind::Workbook => "workbook",
            ContentKind::Datasource => "datasource",
            ContentKind::Flow => "flow",
        }
    }

    fn collection(self) -> &'static str {
        match self {
            ContentKind::Project => "projects",
            ContentKind::Workbook => "workbooks",
            ContentKind::Datasource => "datasources",
            ContentKind::Flow => "flows",
        }
    }

    /// The API version that has the kind's methods (flows came with Prep Conductor, 3.3).
    fn since(self) -> (u32, u32) {
        match self {
            ContentKind::Flow => (3, 3),
            _ => (2, 0),
        }
    }
}

/// One item a user owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedItem {
    pub kind: ContentKind,
    pub id: String,
    pub name: String,
}

impl TableauClient {
    /// Whether this server has the methods of `kind`.
    pub async fn has_content_kind(&self, kind: ContentKind) -> Result<bool, TableauError> {
        Ok(parse_version(&self.api_version().await?)? >= kind.since())
    }

    /// The items of `kind` owned by the user `owner_luid` (named `owner_name`): asked by owner
    /// name where the filter syntax can carry it, and kept by owner id (an `eq` value may hold
    /// a wildcard, and a name is not an identity).
    #[tracing::instrument(skip_all, fields(kind = kind.element(), owner = %owner_luid))]
    pub async fn owned_content(
        &self,
        kind: ContentKind,
        owner_luid: &str,
        owner_name: &str,
    ) -> Result<Vec<OwnedItem>, TableauError> {
        let filter = paging::filterable(owner_name).then(|| format!("ownerName:eq:{owner_name}"));
        let extra: Vec<(&str, &str)> = filter.iter().map(|f| ("filter", f.as_str())).collect();
        let items = self
            .get_all_pages(kind.collection(), &extra, &|_, _| {}, |answer: Value| {
                let pagination = answer
                    .get("pagination")
                    .cloned()
                    .and_then(|p| serde_json::from_value::<Pagination>(p).ok());
                (pagination, items_of(&answer, kind))
            })
            .await?;
        Ok(items
            .into_iter()
            .filter(|(_, owner)| owner == owner_luid)
            .map(|(item, _)| item)
            .collect())
    }

    /// Update Project / Workbook / Data Source / Flow with only `<owner id>`.
    #[tracing::instrument(skip_all, fields(kind = kind.element(), id = %id, owner = %owner_luid))]
    pub async fn set_content_owner(
        &self,
        kind: ContentKind,
        id: &str,
        owner_luid: &str,
    ) -> Result<(), TableauError> {
        let body = encode(&json!({ kind.element(): { "owner": { "id": owner_luid } } }))?;
        let path = format!("{}/{}", kind.collection(), paging::segment(id)?);
        self.site_call(Method::PUT, &path, &[], Some(body))
            .await
            .map(drop)
    }
}

/// `{"workbooks":{"workbook":[{"id","name","owner":{"id"}}…]}}` (one item may come as an
/// object, an empty list as `{}`): each item with its owner's id. Items without an id or an
/// owner are skipped: they cannot be moved.
fn items_of(answer: &Value, kind: ContentKind) -> Vec<(OwnedItem, String)> {
    let list = answer
        .get(kind.collection())
        .and_then(|w| w.get(kind.element()));
    let items: Vec<&Value> = match list {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let id = text(item.get("id"))?;
            let owner = text(item.get("owner").and_then(|o| o.get("id")))?;
            let name = text(item.get("name")).unwrap_or_default();
            Some((OwnedItem { kind, id, name }, owner))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_read_in_every_shape_tableau_sends() {
        let many = json!({"workbooks": {"workbook": [
            {"id": "w1", "name": "Sales", "owner": {"id": "u1"}},
            {"id": "w2", "name": "Ops", "owner": {"id": "u2", "name": "b"}},
            {"id": "w3", "name": "No owner"}
        ]}});
        let got = items_of(&many, ContentKind::Workbook);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0.id.as_str(), got[0].1.as_str()), ("w1", "u1"));
        let one = json!({"flows": {"flow": {"id": "f1", "name": "F", "owner": {"id": "u1"}}}});
        assert_eq!(items_of(&one, ContentKind::Flow).len(), 1);
        let none = json!({"projects": {}});
        assert!(items_of(&none, ContentKind::Project).is_empty());
    }
}
