//! Operations: the journal newest first with the refused requests among them, filtered by
//! state, resource kind, userName / displayName and time, paged by keyset. Operations and
//! refusals are two tables with a `seq` each: a page takes the newest of both below the
//! cursor `OPSEQ-REFSEQ`, and the next cursor is the oldest of each shown, so no row is
//! skipped or shown twice, and no page costs more than its rows. While the first page is
//! open, `console.js` fetches its rows again every few seconds (`fragment=rows`).

use super::layout::{badge, error_page, page, respond, short_time};
use super::{Admin, held, signed_in};
use crate::http::AppState;
use crate::model::ResourceKind;
use crate::store::{DEFAULT_TENANT, Operation, OperationFilter, Refusal};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

/// Rows per page.
pub const PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Query {
    state: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<String>,
    fragment: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A time from the filter form: RFC 3339, or `datetime-local`'s `YYYY-MM-DDTHH:MM[:SS]`
/// taken as UTC.
fn instant(v: &Option<String>) -> Option<String> {
    let v = given(v)?;
    if v.ends_with('Z') || v.contains('+') {
        return Some(v);
    }
    Some(match v.len() {
        16 => format!("{v}:00Z"),
        _ => format!("{v}Z"),
    })
}

/// `OPSEQ-REFSEQ`.
fn cursor(v: &Option<String>) -> (Option<i64>, Option<i64>) {
    let Some(v) = given(v) else {
        return (None, None);
    };
    let mut parts = v.splitn(2, '-').map(|p| p.parse::<i64>().ok());
    (parts.next().flatten(), parts.next().flatten())
}

/// One row of the list.
#[allow(
    clippy::large_enum_variant,
    reason = "one page of rows, built once and rendered: boxing would only add allocations"
)]
pub enum Row {
    Op(Operation),
    Refused(Refusal),
}

/// The newest `limit` of both lists (each newest first), and how many of each were taken.
pub fn merge(ops: Vec<Operation>, refused: Vec<Refusal>, limit: usize) -> (Vec<Row>, bool) {
    let total = ops.len() + refused.len();
    let mut ops = ops.into_iter().peekable();
    let mut refused = refused.into_iter().peekable();
    let mut rows = Vec::with_capacity(limit.min(total));
    while rows.len() < limit {
        let take_op = match (ops.peek(), refused.peek()) {
            (Some(o), Some(r)) => o.created >= r.created,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let row = if take_op {
            ops.next().map(Row::Op)
        } else {
            refused.next().map(Row::Refused)
        };
        rows.extend(row);
    }
    (rows, total > limit)
}

/// The cursor after `rows`: the oldest operation and refusal shown, else the previous ones.
fn next_cursor(rows: &[Row], previous: (Option<i64>, Option<i64>)) -> String {
    let op = rows
        .iter()
        .filter_map(|r| match r {
            Row::Op(op) => Some(op.seq),
            Row::Refused(_) => None,
        })
        .min()
        .or(previous.0)
        .unwrap_or(i64::MAX);
    let refused = rows
        .iter()
        .filter_map(|r| match r {
            Row::Refused(r) => Some(r.seq),
            Row::Op(_) => None,
        })
        .min()
        .or(previous.1)
        .unwrap_or(i64::MAX);
    format!("{op}-{refused}")
}

fn resource_link(kind: ResourceKind, id: &str, name: &str) -> Markup {
    let base = match kind {
        ResourceKind::User => "/admin/users/",
        ResourceKind::Group => "/admin/groups/",
    };
    html! { a href={ (base) (id) } { (name) } }
}

pub fn rows_markup(rows: &[Row]) -> Markup {
    html! {
        @for row in rows {
            @match row {
                Row::Op(op) => {
                    tr.op data-state=(op.state.as_str()) {
                        td { (short_time(&op.created)) }
                        td { (badge(op.state.as_str())) }
                        td { a href={ "/admin/operations/" (op.id) } { (op.method) " " (op.path) } }
                        td {
                            (op.resource_kind.as_str()) " "
                            (resource_link(op.resource_kind, &op.resource_id, op.resource_name.as_deref().unwrap_or(&op.resource_id)))
                        }
                        td { (op.response_status.map(|s| s.to_string()).unwrap_or_default()) }
                        td.detail { (op.error_body.as_ref().and_then(|b| b.get("detail")).and_then(|d| d.as_str()).unwrap_or("")) }
                    }
                }
                Row::Refused(r) => {
                    tr.refused data-state="refused" {
                        td { (short_time(&r.created)) }
                        td { (badge("refused")) }
                        td { (r.request.method) " " (r.request.path) }
                        td {
                            (r.request.resource_kind.map(|k| k.as_str()).unwrap_or("")) " "
                            (r.request.resource_name.as_deref().unwrap_or(""))
                        }
                        td { (r.request.status) }
                        td.detail {
                            (r.request.error_body.get("scimType").and_then(|t| t.as_str()).map(|t| format!("{t}: ")).unwrap_or_default())
                            (r.request.error_body.get("detail").and_then(|d| d.as_str()).unwrap_or(""))
                        }
                    }
                }
            }
        }
    }
}

fn filters(q: &Query) -> Markup {
    let state = given(&q.state).unwrap_or_default();
    let kind = given(&q.kind).unwrap_or_default();
    html! {
        form.filters method="get" action="/admin/operations" {
            label { "State "
                select name="state" {
                    @for s in ["", "running", "succeeded", "failed", "held", "discarded", "planned", "converged", "refused"] {
                        option value=(s) selected[s == state] { @if s.is_empty() { "any" } @else { (s) } }
                    }
                }
            }
            label { "Resource "
                select name="kind" {
                    @for k in ["", "User", "Group"] {
                        option value=(k) selected[k == kind] { @if k.is_empty() { "any" } @else { (k) } }
                    }
                }
            }
            label { "userName / displayName "
                input type="search" name="q" value=(given(&q.q).unwrap_or_default());
            }
            label { "From (UTC) " input type="datetime-local" name="since" value=(given(&q.since).unwrap_or_default()); }
            label { "To (UTC) " input type="datetime-local" name="until" value=(given(&q.until).unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    query: web::Query<Query>,
) -> HttpResponse {
    let Some(session) = signed_in(&req, &admin) else {
        return super::sign_in();
    };
    let q = query.into_inner();
    let wanted_state = given(&q.state);
    let kind = match given(&q.kind).as_deref() {
        Some("User") => Some(ResourceKind::User),
        Some("Group") => Some(ResourceKind::Group),
        _ => None,
    };
    let (op_before, refused_before) = cursor(&q.before);
    let filter = OperationFilter {
        state: wanted_state.clone(),
        kind,
        text: given(&q.q),
        since: instant(&q.since),
        until: instant(&q.until),
        before_seq: op_before,
        limit: PAGE as i64 + 1,
    };
    let store = state.provisioning.engine().store().clone();
    let want_ops = wanted_state.as_deref() != Some("refused");
    let want_refused = matches!(wanted_state.as_deref(), None | Some("refused"));
    let ops = match want_ops {
        true => store.search_operations(DEFAULT_TENANT, &filter).await,
        false => Ok(Vec::new()),
    };
    let refused_filter = OperationFilter {
        before_seq: refused_before,
        ..filter.clone()
    };
    let refused = match want_refused {
        true => store.search_refusals(DEFAULT_TENANT, &refused_filter).await,
        false => Ok(Vec::new()),
    };
    let (ops, refused) = match (ops, refused) {
        (Ok(o), Ok(r)) => (o, r),
        (Err(e), _) | (_, Err(e)) => {
            // A filter the store cannot read (a time that is no instant) is the request's
            // fault; anything else is the store's.
            let status = match e {
                crate::store::StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return error_page(status, Some(&session), &e.to_string());
        }
    };
    let (rows, more) = merge(ops, refused, PAGE);
    if q.fragment.as_deref() == Some("rows") {
        return respond(StatusCode::OK, rows_markup(&rows));
    }
    let first_page = given(&q.before).is_none();
    let next = more.then(|| {
        let mut params: Vec<(&str, String)> = [
            ("state", &q.state),
            ("kind", &q.kind),
            ("q", &q.q),
            ("since", &q.since),
            ("until", &q.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| given(v).map(|v| (k, v)))
        .collect();
        params.push(("before", next_cursor(&rows, (op_before, refused_before))));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/admin/operations?{query}")
    });
    let held = held::section(&state, &session.csrf).await;
    let body = html! {
        (filters(&q))
        table.operations {
            thead { tr { th { "When (UTC)" } th { "State" } th { "Request" } th { "Resource" } th { "Status" } th { "Detail" } } }
            tbody #rows data-live=[first_page.then_some("rows")] { (rows_markup(&rows)) }
        }
        @if rows.is_empty() { p.hint #empty { "Nothing matches." } }
        @if first_page { p.hint.live { "This page updates itself while it is open." } }
        @if let Some(next) = next { p { a.next href=(next) { "Older →" } } }
        (held)
    };
    respond(StatusCode::OK, page("Operations", Some(&session), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_and_cursors_parse() {
        assert_eq!(
            instant(&Some("2026-12-06T01:30".into())).as_deref(),
            Some("2026-12-06T01:30:00Z")
        );
        assert_eq!(
            instant(&Some("2026-12-06T01:30:00Z".into())).as_deref(),
            Some("2026-12-06T01:30:00Z")
        );
        assert_eq!(instant(&Some(" ".into())), None);
        assert_eq!(cursor(&Some("12-7".into())), (Some(12), Some(7)));
        assert_eq!(cursor(&Some("x".into())), (None, None));
    }
}
