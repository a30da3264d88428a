//! User and Group pages: the SCIM resource beside its Tableau side (the LUID; for a user the
//! site role the rules give and which rule gave it, and what Tableau holds now: role and
//! groups), then its operations.

use super::layout::{badge, error_page, page, pretty, respond, short_time};
use super::{Admin, signed_in};
use crate::http::AppState;
use crate::model::{Resource, ResourceKind};
use crate::provision::role_explain::explain_site_role;
use crate::store::DEFAULT_TENANT;
use crate::tableau::TableauClient;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use std::time::Duration;

/// Operations listed on a resource's page.
const OPERATIONS: i64 = 50;
/// The longest the page waits for Tableau.
const TABLEAU_WAIT: Duration = Duration::from_secs(5);

/// What Tableau holds for a user now, as text for the page.
async fn tableau_user(client: &TableauClient, luid: &str) -> Markup {
    let read = async {
        let user = client.get_user(luid).await?;
        let groups = client.groups_of_user(luid).await?;
        Ok::<_, crate::tableau::TableauError>((user, groups))
    };
    match tokio::time::timeout(TABLEAU_WAIT, read).await {
        Ok(Ok((user, groups))) => html! {
            dl #tableau-user {
                dt { "Name" } dd { (user.name) }
                dt { "Site role" } dd { (user.site_role) }
                dt { "Groups" } dd {
                    @match groups {
                        Some(g) => { (g.iter().map(|g| g.group.name.as_str()).collect::<Vec<_>>().join(", ")) }
                        None => { "(not reported by this Tableau version)" }
                    }
                }
            }
        },
        Ok(Err(e)) => html! { p.error { "Tableau: " (crate::provision::health::describe(&e)) } },
        Err(_) => html! { p.error { "Tableau did not answer within 5 s." } },
    }
}

async fn operations(state: &AppState, id: &str) -> Markup {
    let store = state.provisioning.engine().store();
    match store
        .list_operations(DEFAULT_TENANT, Some(id), OPERATIONS)
        .await
    {
        Ok(ops) if ops.is_empty() => {
            html! { p.hint { "No operation journaled (or all past retention)." } }
        }
        Ok(ops) => html! {
            table {
                thead { tr { th { "When (UTC)" } th { "State" } th { "Request" } th { "Status" } } }
                tbody {
                    @for op in &ops {
                        tr {
                            td { (short_time(&op.created)) }
                            td { (badge(op.state.as_str())) }
                            td { a href={ "/admin/operations/" (op.id) } { (op.method) " " (op.path) } }
                            td { (op.response_status.map(|s| s.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
        },
        Err(e) => html! { p.error { (e.to_string()) } },
    }
}

async fn load(state: &AppState, kind: ResourceKind, id: &str) -> Result<Option<Resource>, String> {
    state
        .provisioning
        .engine()
        .store()
        .get(DEFAULT_TENANT, kind, id, true)
        .await
        .map_err(|e| e.to_string())
}

pub async fn user(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some(session) = signed_in(&req, &admin) else {
        return super::sign_in();
    };
    let user = match load(&state, ResourceKind::User, &id).await {
        Ok(u) => u,
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, Some(&session), &e),
    };
    let title = user
        .as_ref()
        .and_then(|u| u.doc.get("userName"))
        .and_then(|v| v.as_str())
        .unwrap_or(&id)
        .to_owned();
    let side = match &user {
        Some(u) => {
            let groups: Vec<String> = u.groups.iter().map(|g| g.display.clone()).collect();
            let policy = &state.provisioning.engine().policy;
            let role = explain_site_role(&u.doc, &groups, policy);
            let live = match (&admin.tableau, &u.tableau_luid) {
                (Some(client), Some(luid)) => Some(tableau_user(client, luid).await),
                _ => None,
            };
            html! {
                div.side-by-side {
                    section {
                        h2 { "SCIM" }
                        pre.body #scim-resource { (pretty(&crate::redact::redact_json(&serde_json::Value::Object(u.doc.clone())))) }
                        h3 { "Groups" }
                        ul { @for g in &u.groups { li { a href={ "/admin/groups/" (g.id) } { (g.display) } } } }
                    }
                    section {
                        h2 { "Tableau" }
                        dl {
                            dt { "LUID" } dd { code { (u.tableau_luid.as_deref().unwrap_or("not provisioned")) } }
                            dt { "Site role by the rules" }
                            dd #site-role {
                                @match &role {
                                    Ok((r, why)) => { strong { (r) } " — " (why) }
                                    Err(e) => { (e.detail) }
                                }
                            }
                        }
                        @if let Some(live) = live { h3 { "Now in Tableau" } (live) }
                    }
                }
            }
        }
        None => html! { p.hint { "No such user now (deleted?): its operations follow." } },
    };
    let body = html! { (side) h2 { "Operations" } (operations(&state, &id).await) };
    respond(StatusCode::OK, page(&title, Some(&session), body))
}

pub async fn group(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some(session) = signed_in(&req, &admin) else {
        return super::sign_in();
    };
    let group = match load(&state, ResourceKind::Group, &id).await {
        Ok(g) => g,
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, Some(&session), &e),
    };
    let title = group
        .as_ref()
        .and_then(|g| g.doc.get("displayName"))
        .and_then(|v| v.as_str())
        .unwrap_or(&id)
        .to_owned();
    let side = match &group {
        Some(g) => html! {
            div.side-by-side {
                section {
                    h2 { "SCIM" }
                    pre.body { (pretty(&serde_json::Value::Object(g.doc.clone()))) }
                    h3 { "Members (" (g.members.len()) ")" }
                    ul { @for m in g.members.iter().take(200) {
                        li { @match m.kind {
                            ResourceKind::User => { a href={ "/admin/users/" (m.id) } { (m.id) } }
                            ResourceKind::Group => { a href={ "/admin/groups/" (m.id) } { (m.id) } }
                        } }
                    } }
                }
                section {
                    h2 { "Tableau" }
                    dl { dt { "LUID" } dd { code { (g.tableau_luid.as_deref().unwrap_or("not provisioned")) } } }
                }
            }
        },
        None => html! { p.hint { "No such group now (deleted?): its operations follow." } },
    };
    let body = html! { (side) h2 { "Operations" } (operations(&state, &id).await) };
    respond(StatusCode::OK, page(&title, Some(&session), body))
}
