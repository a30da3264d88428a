//! Content owned by users: projects, workbooks, data sources and flows, as far as ownership
//! goes (no files, views or permissions). What a user rename on Tableau has to move: the REST
//! API lists each kind by owner (`filter=ownerName:eq:…`, and for workbooks and flows
//! `users/{id}/workbooks|flows`), changes an item's owner (`PUT …/{kind}/{id}` with
//! `<owner id>`), and Remove User `?mapAssetsTo=` moves all of a user's content at once.

use std::borrow::Cow;

use serde::Serialize;

use super::directory::Directory;
use super::errors::{ApiError, ApiResult};
use super::model::User;
use super::node::Node;
use super::query::{FilterFields, ListQuery, Op, Queryable};
use super::router::Ctx;
use super::users::pagination;
use super::wire::Reply;

/// The kinds of content the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentKind {
    Project,
    Workbook,
    Datasource,
    Flow,
}

impl ContentKind {
    pub const ALL: [ContentKind; 4] = [
        ContentKind::Project,
        ContentKind::Workbook,
        ContentKind::Datasource,
        ContentKind::Flow,
    ];

    /// The element name (`<workbook>`), also the kind's name in the control API.
    pub fn element(self) -> &'static str {
        match self {
            ContentKind::Project => "project",
            ContentKind::Workbook => "workbook",
            ContentKind::Datasource => "datasource",
            ContentKind::Flow => "flow",
        }
    }

    /// The URI collection (`sites/{site}/workbooks`).
    pub fn collection(self) -> &'static str {
        match self {
            ContentKind::Project => "projects",
            ContentKind::Workbook => "workbooks",
            ContentKind::Datasource => "datasources",
            ContentKind::Flow => "flows",
        }
    }

    pub fn from_collection(s: &str) -> Option<ContentKind> {
        Self::ALL.into_iter().find(|k| k.collection() == s)
    }

    /// `workbook` or `workbooks` (the control API takes either).
    pub fn parse(s: &str) -> Option<ContentKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.element() == s || k.collection() == s)
    }

    /// The API version that introduced the kind's methods (flows: 3.3, with Prep Conductor).
    pub fn since(self) -> (u32, u32) {
        match self {
            ContentKind::Flow => (3, 3),
            _ => (2, 0),
        }
    }

    /// Tableau's not-found code per kind (404005 project, 404006 workbook, 404011 data
    /// source; the flow code 404004 is assumed, see docs/simulator.md).
    pub fn not_found(self, id: &str) -> ApiError {
        let (code, what) = match self {
            ContentKind::Project => (404005, "Project"),
            ContentKind::Workbook => (404006, "Workbook"),
            ContentKind::Datasource => (404011, "Datasource"),
            ContentKind::Flow => (404004, "Flow"),
        };
        ApiError::new(
            code,
            "Resource Not Found",
            format!("{what} '{id}' could not be found."),
        )
    }

    fn update_scope(self) -> &'static str {
        match self {
            ContentKind::Project => "tableau:projects:update",
            ContentKind::Workbook => "tableau:workbooks:update",
            ContentKind::Datasource => "tableau:datasources:update",
            ContentKind::Flow => "tableau:flows:update",
        }
    }
}

/// Reading content needs this connected-app scope, as on Tableau.
const READ: &str = "tableau:content:read";

/// One item of content and who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentItem {
    pub id: String,
    pub kind: ContentKind,
    pub name: String,
    pub owner_id: String,
    /// The project it lives in (workbooks, data sources, flows; a project's parent).
    pub project_id: Option<String>,
}

impl Directory {
    /// Creates an item owned by `owner_id` (the control API's way to give a user content).
    pub fn add_content(
        &mut self,
        kind: ContentKind,
        name: &str,
        owner_id: &str,
        project_id: Option<&str>,
    ) -> ApiResult<&ContentItem> {
        self.user(owner_id)?;
        if let Some(project) = project_id {
            self.content_item(ContentKind::Project, project)?;
        }
        let id = self.new_luid();
        self.content.insert(
            id.clone(),
            ContentItem {
                id: id.clone(),
                kind,
                name: name.to_owned(),
                owner_id: owner_id.to_owned(),
                project_id: project_id.map(str::to_owned),
            },
        );
        self.content_item(kind, &id)
    }

    pub fn content_item(&self, kind: ContentKind, id: &str) -> ApiResult<&ContentItem> {
        self.content
            .get(id)
            .filter(|c| c.kind == kind)
            .ok_or_else(|| kind.not_found(id))
    }

    /// Items of a kind, in name order (case-insensitive), then LUID.
    pub fn content_of_kind(&self, kind: ContentKind) -> Vec<&ContentItem> {
        let mut items: Vec<&ContentItem> =
            self.content.values().filter(|c| c.kind == kind).collect();
        items.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
        items
    }

    /// Does the user own any item (besides the control API's `ownsContent` flag)?
    pub fn owns_items(&self, user_id: &str) -> bool {
        self.content.values().any(|c| c.owner_id == user_id)
    }

    /// Update X with `<owner id>`: 404002 for an unknown new owner.
    pub fn set_content_owner(
        &mut self,
        kind: ContentKind,
        id: &str,
        owner_id: &str,
    ) -> ApiResult<&ContentItem> {
        self.content_item(kind, id)?;
        self.user(owner_id)?;
        if let Some(item) = self.content.get_mut(id) {
            item.owner_id = owner_id.to_owned();
        }
        self.content_item(kind, id)
    }

    fn rename_content(&mut self, kind: ContentKind, id: &str, name: &str) -> ApiResult<()> {
        self.content_item(kind, id)?;
        if let Some(item) = self.content.get_mut(id) {
            item.name = name.to_owned();
        }
        Ok(())
    }

    /// Every item of `from` now belongs to `to` (Remove User with `mapAssetsTo`).
    pub fn move_all_content(&mut self, from: &str, to: &str) {
        for item in self.content.values_mut() {
            if item.owner_id == from {
                item.owner_id = to.to_owned();
            }
        }
    }
}

/// An item with its owner, as filters see it.
struct ContentView<'a> {
    item: &'a ContentItem,
    owner: Option<&'a User>,
    project: Option<&'a ContentItem>,
}

impl Queryable for ContentView<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        Some(match name {
            "name" => Cow::Borrowed(self.item.name.as_str()),
            "luid" => Cow::Borrowed(self.item.id.as_str()),
            "ownerName" => Cow::Borrowed(self.owner?.name.as_str()),
            "ownerEmail" => Cow::Borrowed(self.owner?.email.as_deref()?),
            "ownerDomain" => Cow::Borrowed("local"),
            "projectName" => Cow::Borrowed(self.project?.name.as_str()),
            "parentProjectId" => Cow::Borrowed(self.item.project_id.as_deref()?),
            _ => return None,
        })
    }
}

/// Filters Tableau documents on every kind's list (owner fields included).
const CONTENT_FILTERS: FilterFields = &[
    ("name", &[Op::Eq, Op::In]),
    ("luid", &[Op::Eq, Op::In]),
    ("ownerName", &[Op::Eq, Op::In]),
    ("ownerEmail", &[Op::Eq, Op::In]),
    ("ownerDomain", &[Op::Eq, Op::In]),
    ("projectName", &[Op::Eq, Op::In]),
    ("parentProjectId", &[Op::Eq]),
];
const CONTENT_SORTS: &[&str] = &["name", "ownerName", "projectName", "luid"];

fn view<'a>(dir: &'a Directory, item: &'a ContentItem) -> ContentView<'a> {
    ContentView {
        item,
        owner: dir.user(&item.owner_id).ok(),
        project: item
            .project_id
            .as_deref()
            .and_then(|p| dir.content_item(ContentKind::Project, p).ok()),
    }
}

/// `<workbook id name><project id name/><owner id name/></workbook>`; a project carries its
/// parent as `parentProjectId`.
fn content_node(dir: &Directory, item: &ContentItem) -> Node {
    let v = view(dir, item);
    let mut node = Node::new(item.kind.element())
        .attr("id", item.id.clone())
        .attr("name", item.name.clone());
    if item.kind == ContentKind::Project {
        node = node.attr_opt("parentProjectId", item.project_id.clone());
    } else if let Some(project) = v.project {
        node = node.child(
            Node::new("project")
                .attr("id", project.id.clone())
                .attr("name", project.name.clone()),
        );
    }
    let mut owner = Node::new("owner").attr("id", item.owner_id.clone());
    if let Some(user) = v.owner {
        owner = owner.attr("name", user.name.clone());
    }
    node.child(owner)
}

fn check_version(ctx: &Ctx<'_>, kind: ContentKind, path: &str) -> ApiResult<()> {
    let (major, minor) = kind.since();
    if ctx.at_least(major, minor) {
        Ok(())
    } else {
        Err(ApiError::unknown_resource(path))
    }
}

fn listing(
    ctx: &Ctx<'_>,
    dir: &Directory,
    items: Vec<&ContentItem>,
    kind: ContentKind,
) -> ApiResult<Reply> {
    let query = ListQuery::parse(ctx.query, CONTENT_FILTERS, CONTENT_SORTS)?;
    let mut matches: Vec<ContentView<'_>> = items
        .into_iter()
        .map(|item| view(dir, item))
        .filter(|v| query.matches(v))
        .collect();
    query.sort(&mut matches);
    let range = query.page_range(matches.len())?;
    let nodes = matches[range]
        .iter()
        .map(|v| content_node(dir, v.item))
        .collect();
    Ok(Reply::ok(vec![
        pagination(&query, matches.len()),
        Node::list(kind.collection(), nodes),
    ]))
}

/// Query Workbooks / Data Sources / Flows / Projects for Site, filterable by owner.
pub fn list(ctx: &Ctx<'_>, kind: ContentKind, path: &str) -> ApiResult<Reply> {
    check_version(ctx, kind, path)?;
    let (inner, _session) = ctx.authorize(READ)?;
    let dir = &inner.directory;
    listing(ctx, dir, dir.content_of_kind(kind), kind)
}

/// Query Workbooks / Flows for User (`users/{id}/workbooks`, `…/flows`): what the user owns
/// (**assumed** for calls without `ownedBy=true`, where Tableau also lists what the user may
/// read).
pub fn list_for_user(ctx: &Ctx<'_>, kind: ContentKind, user: &str, path: &str) -> ApiResult<Reply> {
    check_version(ctx, kind, path)?;
    let (inner, _session) = ctx.authorize(READ)?;
    let dir = &inner.directory;
    dir.user(user)?;
    let items = dir
        .content_of_kind(kind)
        .into_iter()
        .filter(|c| c.owner_id == user)
        .collect();
    listing(ctx, dir, items, kind)
}

/// Query Workbook / Data Source / Flow.
pub fn get(ctx: &Ctx<'_>, kind: ContentKind, id: &str, path: &str) -> ApiResult<Reply> {
    check_version(ctx, kind, path)?;
    let (inner, _session) = ctx.authorize(READ)?;
    let dir = &inner.directory;
    Ok(Reply::ok(vec![content_node(
        dir,
        dir.content_item(kind, id)?,
    )]))
}

/// What Update Workbook / Data Source / Flow / Project accept (what tableauserverclient
/// sends); only `name`, `<owner id>` and `<project id>` change anything here.
const UPDATE_ATTRS: &[&str] = &[
    "name",
    "showTabs",
    "description",
    "contentPermissions",
    "parentProjectId",
    "isCertified",
    "certificationNote",
    "encryptExtracts",
    "useRemoteQueryAgent",
    "thumbnailsUserId",
    "thumbnailsGroupId",
];
const UPDATE_CHILDREN: &[&str] = &[
    "owner",
    "project",
    "views",
    "dataAccelerationConfig",
    "dataFreshnessPolicy",
];

/// Update Workbook / Data Source / Flow / Project: the owner change a rename needs
/// (`<owner id>`; an unknown user answers 404002).
pub fn update(ctx: &Ctx<'_>, kind: ContentKind, id: &str, path: &str) -> ApiResult<Reply> {
    check_version(ctx, kind, path)?;
    let (mut inner, _session) = ctx.authorize(kind.update_scope())?;
    let doc = ctx.doc()?;
    let element = doc.only_child(&[kind.element()])?;
    doc.check(element, UPDATE_ATTRS, UPDATE_CHILDREN, "ContentType")?;
    let owner = match element.find("owner") {
        Some(owner) => {
            doc.check(owner, &["id"], &[], "UserType")?;
            Some(
                owner
                    .get("id")
                    .ok_or_else(|| ApiError::bad_request("The owner id is missing."))?,
            )
        }
        None => None,
    };
    let project = match element.find("project") {
        Some(project) if kind != ContentKind::Project => {
            doc.check(project, &["id", "name"], &[], "ProjectType")?;
            project.get("id")
        }
        Some(_) => return Err(ApiError::malformed_payload()),
        None => None,
    };
    let dir = &mut inner.directory;
    dir.content_item(kind, id)?;
    if let Some(project) = project {
        dir.content_item(ContentKind::Project, project)?;
    }
    if let Some(owner) = owner {
        dir.user(owner)?;
    }
    if let Some(name) = element.get("name").filter(|n| !n.trim().is_empty()) {
        dir.rename_content(kind, id, name)?;
    }
    if let Some(project) = project
        && let Some(item) = dir.content.get_mut(id)
    {
        item.project_id = Some(project.to_owned());
    }
    if let Some(owner) = owner {
        dir.set_content_owner(kind, id, owner)?;
    }
    Ok(Reply::ok(vec![content_node(
        dir,
        dir.content_item(kind, id)?,
    )]))
}
