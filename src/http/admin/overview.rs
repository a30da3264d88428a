//! Overview: store and Tableau health, users and groups managed, operations by state in the
//! last 24 hours, the failures needing attention, seats per licence and the last reconcile's
//! drift counts (when a reconcile ran in this process).

use super::layout::{badge, error_page, page, respond, short_time};
use super::{Admin, held, signed_in};
use crate::http::AppState;
use crate::model::ResourceKind;
use crate::store::{DEFAULT_TENANT, OperationFilter, PageRequest, PageStart, Store, StoreResult};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

/// Failed operations listed on the Overview.
const ATTENTION: i64 = 10;

async fn managed(store: &dyn Store, kind: ResourceKind) -> StoreResult<u64> {
    let request = PageRequest {
        start: PageStart::After(0),
        limit: 0,
        count_total: true,
        with_relations: false,
        doc_text: false,
    };
    let page = store.page(DEFAULT_TENANT, kind, &request).await?;
    Ok(page.total.unwrap_or(0))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
) -> HttpResponse {
    let Some(session) = signed_in(&req, &admin) else {
        return super::sign_in();
    };
    let store = state.provisioning.engine().store().clone();
    let since = time::OffsetDateTime::now_utc() - time::Duration::hours(24);
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let failed = OperationFilter {
        state: Some("failed".into()),
        limit: ATTENTION,
        ..Default::default()
    };
    let (health, users, groups, counts, failures) = tokio::join!(
        admin.health.check(),
        managed(store.as_ref(), ResourceKind::User),
        managed(store.as_ref(), ResourceKind::Group),
        store.counts_since(DEFAULT_TENANT, &since),
        store.search_operations(DEFAULT_TENANT, &failed),
    );
    let (users, groups, counts, failures) = match (users, groups, counts, failures) {
        (Ok(u), Ok(g), Ok(c), Ok(f)) => (u, g, c, f),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                &format!("The store cannot answer: {e}"),
            );
        }
    };
    let count = |s: &str| {
        counts
            .iter()
            .filter(|(state, _)| state == s)
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    let last = crate::reconcile::last::get();
    let held = held::section(&state, &session.csrf).await;
    let body = html! {
        section.cards {
            div.card #health {
                h2 { "Health" }
                dl {
                    dt { "Store" } dd { (health.checks.store) }
                    dt { "Tableau" } dd { (health.checks.tableau) }
                }
            }
            div.card #managed {
                h2 { "Managed" }
                dl {
                    dt { "Users" } dd { (users) }
                    dt { "Groups" } dd { (groups) }
                }
            }
            div.card #last24h {
                h2 { "Operations, last 24 h" }
                dl {
                    @for s in ["running", "succeeded", "failed", "held", "planned", "refused"] {
                        dt { a href={ "/admin/operations?state=" (s) } { (badge(s)) } }
                        dd { (count(s)) }
                    }
                }
            }
        }
        section #attention {
            h2 { "Failures needing attention" }
            @if failures.is_empty() {
                p.hint { "No failed operation." }
            } @else {
                table {
                    thead { tr { th { "When" } th { "Request" } th { "Resource" } th { "Status" } } }
                    tbody {
                        @for op in &failures {
                            tr {
                                td { (short_time(&op.created)) }
                                td { a href={ "/admin/operations/" (op.id) } { (op.method) " " (op.path) } }
                                td { (op.resource_name.as_deref().unwrap_or(&op.resource_id)) }
                                td { (op.response_status.map(|s| s.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        section #reconcile {
            h2 { "Reconcile" }
            @match &last {
                Some(run) => {
                    p { "Last run " (short_time(&run.at)) " UTC: " @if run.in_sync { "in sync." } @else { "drift found." } }
                    table.counts {
                        thead { tr { th { "Drift" } th { "Count" } } }
                        tbody { @for (kind, n) in &run.counts { tr { td { (kind) } td { (n) } } } }
                    }
                    @if !run.seats.is_empty() {
                        h3 { "Seats per licence" }
                        table.counts #seats {
                            thead { tr { th { "Licence" } th { "Used" } th { "Capacity" } } }
                            tbody {
                                @for s in &run.seats {
                                    tr { td { (s.tier) } td { (s.used) } td { (s.capacity.map(|c| c.to_string()).unwrap_or_else(|| "not reported".into())) } }
                                }
                            }
                        }
                    }
                }
                None => { p.hint { "No reconcile has run since the server started." } }
            }
            @if admin.tableau.is_some() {
                form method="post" action="/admin/reconcile" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Run a reconcile report" }
                }
                p.hint { "A report only: it reads Tableau and changes nothing." }
            }
        }
        (held)
    };
    respond(StatusCode::OK, page("Overview", Some(&session), body))
}
