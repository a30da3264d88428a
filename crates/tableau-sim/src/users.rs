//! Site users: add, update (answered without `id`), remove (content owners, `mapAssetsTo`),
//! query one, list (paging, filter, sort, fields), groups of a user.

use std::borrow::Cow;

use super::directory::UserUpdate;
use super::errors::{ApiError, ApiResult};
use super::groups::group_node;
use super::model::{SiteRole, User};
use super::node::Node;
use super::query::{Fields, FilterFields, ListQuery, Op, Queryable};
use super::router::Ctx;
use super::wire::Reply;

const READ: &str = "tableau:users:read";
const CREATE: &str = "tableau:users:create";
const UPDATE: &str = "tableau:users:update";
const DELETE: &str = "tableau:users:delete";

const USER_FILTERS: FilterFields = &[
    ("name", &[Op::Eq, Op::Cieq, Op::In]),
    ("siteRole", &[Op::Eq, Op::In]),
    ("luid", &[Op::Eq, Op::In]),
    ("friendlyName", &[Op::Eq, Op::In]),
    ("domainName", &[Op::Eq, Op::In]),
    ("isLocal", &[Op::Eq]),
    ("lastLogin", &[Op::Eq, Op::Gt, Op::Gte, Op::Lt, Op::Lte]),
];
const USER_SORTS: &[&str] = &[
    "name",
    "siteRole",
    "lastLogin",
    "friendlyName",
    "fullName",
    "email",
    "luid",
];
const AUTH_SETTINGS: &[&str] = &["ServerDefault", "SAML", "OpenID", "TableauIDWithMFA"];

/// Every attribute Tableau can answer for a user, in Tableau's order.
const ALL_FIELDS: &[&str] = &[
    "id",
    "name",
    "fullName",
    "email",
    "siteRole",
    "authSetting",
    "lastLogin",
    "externalAuthUserId",
    "idpConfigurationId",
    "language",
    "locale",
    "domain",
];
/// What Get Users answers without `fields` (no e-mail or full name, as on Tableau).
const DEFAULT_FIELDS: &[&str] = &["id", "name", "siteRole", "lastLogin", "externalAuthUserId"];

impl Queryable for User {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        Some(match name {
            "name" => Cow::Borrowed(self.name.as_str()),
            "siteRole" => Cow::Borrowed(self.site_role.as_str()),
            "luid" | "id" => Cow::Borrowed(self.id.as_str()),
            "friendlyName" | "fullName" => Cow::Borrowed(self.full_name.as_deref()?),
            "email" => Cow::Borrowed(self.email.as_deref()?),
            "domainName" => Cow::Borrowed("local"),
            "isLocal" => Cow::Borrowed("true"),
            "lastLogin" => Cow::Borrowed(self.last_login.as_deref()?),
            _ => return None,
        })
    }
}

fn wants(fields: &Fields, field: &str) -> bool {
    match fields {
        Fields::All => true,
        Fields::Default => DEFAULT_FIELDS.contains(&field),
        Fields::Named(names) => {
            names.iter().any(|n| n == field)
                || (names.iter().any(|n| n == "_default_") && DEFAULT_FIELDS.contains(&field))
        }
    }
}

/// A `<user>` element with the requested fields.
pub fn user_node(user: &User, fields: &Fields) -> Node {
    let mut node = Node::new("user");
    for field in ALL_FIELDS {
        if !wants(fields, field) {
            continue;
        }
        let value: Option<&str> = match *field {
            "id" => Some(&user.id),
            "name" => Some(&user.name),
            "fullName" => user.full_name.as_deref(),
            "email" => user.email.as_deref(),
            "siteRole" => Some(user.site_role.as_str()),
            "authSetting" => Some(&user.auth_setting),
            "lastLogin" => user.last_login.as_deref(),
            "externalAuthUserId" => Some(""),
            "idpConfigurationId" => user.idp_configuration_id.as_deref(),
            "language" => Some("en"),
            "locale" => Some(""),
            _ => None,
        };
        if let Some(value) = value {
            node = node.attr(field, value);
        }
    }
    if wants(fields, "domain") {
        node = node.child(Node::new("domain").attr("name", "local"));
    }
    node
}

/// The short form used by Add User to Group and group member lists.
pub fn user_summary(user: &User) -> Node {
    Node::new("user")
        .attr("id", user.id.clone())
        .attr("name", user.name.clone())
        .attr("siteRole", user.site_role.as_str())
        .attr("externalAuthUserId", "")
}

pub fn pagination(query: &ListQuery, total: usize) -> Node {
    Node::new("pagination")
        .attr("pageNumber", query.page_number.to_string())
        .attr("pageSize", query.page_size.to_string())
        .attr("totalAvailable", total.to_string())
}

fn parse_role(value: &str, on_add: bool) -> ApiResult<SiteRole> {
    match SiteRole::parse(value) {
        Some(SiteRole::Guest) if on_add => Err(ApiError::guest_conflict()),
        Some(role) if role.assignable_on_add() => Ok(role),
        _ => Err(ApiError::invalid_site_role(value)),
    }
}

fn parse_auth_setting(value: Option<&str>) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if AUTH_SETTINGS.contains(&v) => Ok(Some(v.to_owned())),
        Some(v) => Err(ApiError::bad_request(format!(
            "Invalid authentication setting '{v}'."
        ))),
    }
}

fn check_email(value: Option<&str>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if !v.contains('@') || v.contains(char::is_whitespace) => {
            Err(ApiError::bad_request("Invalid email address."))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

pub fn add(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(CREATE)?;
    let doc = ctx.doc()?;
    let user = doc.only_child(&["user"])?;
    doc.check(
        user,
        &[
            "name",
            "siteRole",
            "authSetting",
            "idpConfigurationId",
            "identityPoolName",
            "email",
        ],
        &[],
        "UserType",
    )?;
    let name = user
        .get("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("The user name is missing."))?;
    let role = user
        .get("siteRole")
        .ok_or_else(|| ApiError::bad_request("The site role is missing."))?;
    let role = parse_role(role, true)?;
    let auth_setting = parse_auth_setting(user.get("authSetting"))?;
    let email = check_email(user.get("email"))?;
    let idp = user.get("idpConfigurationId").map(str::to_owned);
    let dir = &mut inner.directory;
    let id = dir.add_user(name, role, auth_setting, idp)?.id.clone();
    if email.is_some() {
        dir.update_user(
            &id,
            UserUpdate {
                email,
                ..UserUpdate::default()
            },
        )?;
    }
    let created = dir.user(&id)?;
    let mut fields: Vec<String> = [
        "id",
        "name",
        "siteRole",
        "authSetting",
        "externalAuthUserId",
    ]
    .map(String::from)
    .to_vec();
    if created.email.is_some() {
        fields.push("email".into());
    }
    Ok(Reply::created(user_node(created, &Fields::Named(fields))))
}

pub fn update(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, session) = ctx.authorize(UPDATE)?;
    let doc = ctx.doc()?;
    let user = doc.only_child(&["user"])?;
    doc.check(
        user,
        &[
            "fullName",
            "email",
            "password",
            "siteRole",
            "authSetting",
            "idpConfigurationId",
            "identityPoolName",
        ],
        &[],
        "UserType",
    )?;
    let site_role = user
        .get("siteRole")
        .map(|r| parse_role(r, false))
        .transpose()?;
    let current = inner.directory.user(id)?;
    if session.user_id == id && site_role.is_some_and(|r| r != current.site_role) {
        return Err(ApiError::new(
            403009,
            "Forbidden",
            "Licensing update on self forbidden: you cannot change your own site role.",
        ));
    }
    if let Some(role) = site_role
        && role != current.site_role
    {
        inner.directory.check_demotion(id, role)?;
    }
    let update = UserUpdate {
        full_name: user.get("fullName").map(str::to_owned),
        email: check_email(user.get("email"))?,
        password: user.get("password").map(str::to_owned),
        site_role,
        auth_setting: parse_auth_setting(user.get("authSetting"))?,
        idp_configuration_id: user.get("idpConfigurationId").map(str::to_owned),
    };
    let updated = inner.directory.update_user(id, update)?;
    // Tableau answers Update User without the user's id.
    let fields = ["name", "fullName", "email", "siteRole", "authSetting"]
        .map(String::from)
        .to_vec();
    Ok(Reply::ok(vec![user_node(updated, &Fields::Named(fields))]))
}

pub fn remove(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (mut inner, _session) = ctx.authorize(DELETE)?;
    let map_assets_to = url::form_urlencoded::parse(ctx.query.as_bytes())
        .find(|(k, _)| k == "mapAssetsTo")
        .map(|(_, v)| v.into_owned());
    if map_assets_to.is_some() && ctx.state.map_assets_to_forbidden {
        return Err(ApiError::new(
            403000,
            "Forbidden",
            "Only server administrators can use the mapAssetsTo parameter.",
        ));
    }
    inner.directory.remove_user(id, map_assets_to.as_deref())?;
    inner.sessions.close_user(id);
    Ok(Reply::NoContent)
}

pub fn get(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    Ok(Reply::ok(vec![user_node(
        inner.directory.user(id)?,
        &Fields::All,
    )]))
}

pub fn list(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    let query = ListQuery::parse(ctx.query, USER_FILTERS, USER_SORTS)?;
    let dir = &inner.directory;
    if query.filter.is_empty() && query.sort.is_empty() {
        // Plain paging walks the name index: O(page), not O(users).
        let total = dir.user_count();
        let range = query.page_range(total)?;
        let nodes = dir
            .users_page(range.start, range.len())
            .map(|u| user_node(u, &query.fields))
            .collect();
        return Ok(Reply::ok(vec![
            pagination(&query, total),
            Node::list("users", nodes),
        ]));
    }
    // `name:eq:x` (what a provisioning client sends most) is answered from the name index.
    let mut matches: Vec<&User> = match query.exact("name") {
        Some(name) => dir
            .user_by_name(name)
            .filter(|u| query.matches(*u))
            .into_iter()
            .collect(),
        None => dir.users().filter(|u| query.matches(*u)).collect(),
    };
    query.sort(&mut matches);
    let range = query.page_range(matches.len())?;
    let nodes = matches[range]
        .iter()
        .map(|u| user_node(u, &query.fields))
        .collect();
    Ok(Reply::ok(vec![
        pagination(&query, matches.len()),
        Node::list("users", nodes),
    ]))
}

pub fn groups_of(ctx: &Ctx<'_>, id: &str) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    let query = ListQuery::parse(ctx.query, &[], &[])?;
    let dir = &inner.directory;
    let groups = dir.groups_of(id)?;
    let range = query.page_range(groups.len())?;
    let nodes = groups[range]
        .iter()
        .map(|g| group_node(dir, g, false))
        .collect();
    Ok(Reply::ok(vec![
        pagination(&query, groups.len()),
        Node::list("groups", nodes),
    ]))
}
