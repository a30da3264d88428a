//! Groups: create, update, delete, list (filter), members, add one or many (3.21+), remove
//! one or many (3.21+). Local groups only: an `<import>` (Active Directory) answers 403011.

use std::borrow::Cow;

use super::directory::Directory;
use super::errors::{ApiError, ApiResult};
use super::model::{Group, SiteRole};
use super::node::Node;
use super::query::{FilterFields, ListQuery, Op, Queryable};
use super::router::Ctx;
use super::users::{pagination, user_summary};
use super::wire::{Reply, RequestDoc};

const READ: &str = "tableau:groups:read";
const CREATE: &str = "tableau:groups:create";
const UPDATE: &str = "tableau:groups:update";
const DELETE: &str = "tableau:groups:delete";

const GROUP_FILTERS: FilterFields = &[
    ("name", &[Op::Eq, Op::Cieq, Op::In, Op::Like]),
    ("luid", &[Op::Eq, Op::In]),
    ("minimumSiteRole", &[Op::Eq, Op::In]),
    ("domainName", &[Op::Eq, Op::In]),
    ("domainNickname", &[Op::Eq, Op::In]),
    ("isLocal", &[Op::Eq]),
    ("isExternalUserEnabled", &[Op::Eq]),
    ("userCount", &[Op::Eq, Op::Gt, Op::Gte, Op::Lt, Op::Lte]),
];
const GROUP_SORTS: &[&str] = &["name", "userCount", "minimumSiteRole", "luid"];
const GROUP_ATTRS: &[&str] = &[
    "name",
    "minimumSiteRole",
    "grantLicenseMode",
    "ephemeralUsersEnabled",
    "externalUserEnabled",
];

/// A group with its member count, as filters and sorts see it.
struct GroupView<'a> {
    group: &'a Group,
    user_count: usize,
}

impl Queryable for GroupView<'_> {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        Some(match name {
            "name" => Cow::Borrowed(self.group.name.as_str()),
            "luid" => Cow::Borrowed(self.group.id.as_str()),
            "minimumSiteRole" => Cow::Borrowed(self.group.minimum_site_role?.as_str()),
            "domainName" | "domainNickname" => Cow::Borrowed("local"),
            "isLocal" => Cow::Borrowed("true"),
            "isExternalUserEnabled" => Cow::Borrowed("false"),
            "userCount" => Cow::Owned(self.user_count.to_string()),
            _ => return None,
        })
    }
}

/// A `<group>` element. The grant-on-sign-in role is given both as `minimumSiteRole` and, for
/// clients that read it there (tableauserverclient), in a local `<import>` element.
pub fn group_node(dir: &Directory, group: &Group, with_count: bool) -> Node {
    let mut node = Node::new("group")
        .attr("id", group.id.clone())
        .attr("name", group.name.clone())
        .attr_opt(
            "minimumSiteRole",
            group.minimum_site_role.map(SiteRole::as_str),
        );
    if with_count {
        node = node.attr("userCount", dir.member_count(group).to_string());
    }
    node = node.child(Node::new("domain").attr("name", "local"));
    if let Some(role) = group.minimum_site_role {
        node = node.child(
            Node::new("import")
                .attr("domainName", "local")
                .attr("siteRole", role.as_str())
                .attr("grantLicenseMode", "onLogin"),
        );
    }
    node
}

fn parse_min_role(value: Option<&str>) -> ApiResult<Option<SiteRole>> {
    value
        .map(|v| match SiteRole::parse(v) {
            Some(role) if role.assignable_on_add() => Ok(role),
            _ => Err(ApiError::invalid_site_role(v)),
        })
        .transpose()
}

/// The `<group>` of a create/update request: (name, minimumSiteRole).
fn group_request(doc: &RequestDoc) -> ApiResult<(Option<String>, Option<SiteRole>)> {
    let group = doc.only_child(&["group"])?;
    doc.check(group, GROUP_ATTRS, &["import"], "GroupType")?;
    if group.find("import").is_some() {
        return Err(ApiError::new(
            403011,
            "Forbidden",
            "Active Directory is not configured on this server: only local groups can be created.",
        ));
    }
    let name = match group.get("name") {
        Some(n) if n.trim().is_empty() => {
            return Err(ApiError::bad_request("The group name is empty."));
        }
        other => other.map(str::to_owned),
    };
    Ok((name, parse_min_role(group.get("minimumSiteRole"))?))
}

pub fn create(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(CREATE)?;
    let (name, min_role) = group_request(&ctx.doc()?)?;
    let name = name.ok_or_else(|| ApiError::bad_request("The group name is missing."))?;
    let dir = &mut inner.directory;
    let id = dir.create_group(&name, min_role)?.id.clone();
    Ok(Reply::created(group_node(dir, dir.group(&id)?, false)))
}

pub fn update(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(UPDATE)?;
    let (name, min_role) = group_request(&ctx.doc()?)?;
    let dir = &mut inner.directory;
    dir.update_group(id, name.as_deref(), min_role)?;
    Ok(Reply::ok(vec![group_node(dir, dir.group(id)?, false)]))
}

pub fn delete(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(DELETE)?;
    inner.directory.delete_group(id)?;
    Ok(Reply::NoContent)
}

pub fn list(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    let query = ListQuery::parse(ctx.query, GROUP_FILTERS, GROUP_SORTS)?;
    let dir = &inner.directory;
    let mut matches: Vec<GroupView<'_>> = dir
        .groups()
        .map(|group| GroupView {
            group,
            user_count: dir.member_count(group),
        })
        .filter(|view| query.matches(view))
        .collect();
    query.sort(&mut matches);
    let range = query.page_range(matches.len())?;
    let nodes = matches[range]
        .iter()
        .map(|view| group_node(dir, view.group, true))
        .collect();
    Ok(Reply::ok(vec![
        pagination(&query, matches.len()),
        Node::list("groups", nodes),
    ]))
}

pub fn members(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    let query = ListQuery::parse(ctx.query, &[], &[])?;
    let members = inner.directory.members(id)?;
    let range = query.page_range(members.len())?;
    let nodes = members[range].iter().map(|u| user_summary(u)).collect();
    Ok(Reply::ok(vec![
        pagination(&query, members.len()),
        Node::list("users", nodes),
    ]))
}

/// The user LUIDs of a `<users><user id="…"/>…</users>` element.
fn user_ids(doc: &RequestDoc, users: &Node) -> ApiResult<Vec<String>> {
    doc.check(users, &[], &["user"], "UserListType")?;
    users
        .children
        .iter()
        .map(|user| {
            doc.check(user, &["id"], &[], "UserType")?;
            user.get("id")
                .map(str::to_owned)
                .ok_or_else(|| ApiError::bad_request("A user id is missing."))
        })
        .collect()
}

/// Add User to Group (`<user id>`), or, from API 3.21, many users at once (`<users>`).
/// Bulk adds are all-or-nothing on unknown ids (404002) and skip users already members.
pub fn add_members(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(UPDATE)?;
    let doc = ctx.doc()?;
    let child = doc.only_child(&["user", "users"])?;
    let dir = &mut inner.directory;
    if child.name == "user" {
        doc.check(child, &["id"], &[], "UserType")?;
        let user_id = child
            .get("id")
            .ok_or_else(|| ApiError::bad_request("The user id is missing."))?;
        let user = dir.add_member(id, user_id)?;
        return Ok(Reply::ok(vec![user_summary(user)]));
    }
    if !ctx.at_least(3, 21) {
        // The `<users>` element only exists in the 3.21+ schema.
        return Err(ApiError::malformed_payload());
    }
    let ids = user_ids(&doc, child)?;
    dir.group(id)?;
    for user_id in &ids {
        dir.user(user_id)?;
    }
    let mut added = Vec::with_capacity(ids.len());
    for user_id in &ids {
        let user = dir.user(user_id)?;
        if !dir.is_member(id, user) {
            dir.add_member(id, user_id)?;
        }
        added.push(user_summary(dir.user(user_id)?));
    }
    Ok(Reply::ok(vec![Node::list("users", added)]))
}

pub fn remove_member(ctx: &Ctx<'_>, id: &str, user_id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(UPDATE)?;
    inner.directory.remove_member(id, user_id)?;
    Ok(Reply::NoContent)
}

/// `PUT …/groups/{id}/users/remove` (3.21+): unknown ids fail the whole call (404002),
/// users who are not members are skipped.
pub fn remove_members(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(UPDATE)?;
    let doc = ctx.doc()?;
    let ids = user_ids(&doc, doc.only_child(&["users"])?)?;
    let dir = &mut inner.directory;
    if dir.group(id)?.built_in {
        return Err(ApiError::deletion_failed(
            "Deletion failed: users cannot be removed from the All Users group.",
        ));
    }
    for user_id in &ids {
        dir.user(user_id)?;
    }
    for user_id in &ids {
        let user = dir.user(user_id)?;
        if dir.is_member(id, user) {
            dir.remove_member(id, user_id)?;
        }
    }
    Ok(Reply::NoContent)
}
