//! The admin console's reads and the refused requests' journal, shared by both backends: the
//! filter of the Operations page, answered by keyset (`seq` below the last one shown, newest
//! first, never `OFFSET`), so a year of journal pages as fast as a day; the requests the bridge
//! refused (400, 409) before any operation was opened; counts by state since an instant.

use super::columns::{cutoff, kind_from_str};
use super::rows::Row;
use super::{ResourceKind, StoreError, StoreResult};
use serde_json::Value;

/// The Operations page's filter. Every field but `limit` is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationFilter {
    /// `running`, `succeeded`, `failed` (and `refused`: refusals only, no operation).
    pub state: Option<String>,
    pub kind: Option<ResourceKind>,
    /// Part of the `userName` or `displayName` (case-insensitive), or a resource id exactly.
    pub text: Option<String>,
    /// RFC 3339 instants, any offset: created at or after `since`, before `until`.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Keyset: only rows whose `seq` is below this one (the last row of the previous page).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// The filter's values in the order the `SEARCH_*` statements bind them (`$1`..`$9`).
pub(crate) struct FilterValues {
    pub tenant: String,
    pub state: Option<String>,
    pub kind: Option<&'static str>,
    pub pattern: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub text: Option<String>,
    pub before_seq: i64,
    pub limit: i64,
}

impl FilterValues {
    pub fn new(tenant: &str, f: &OperationFilter) -> StoreResult<Self> {
        let text = f
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok(FilterValues {
            tenant: tenant.to_owned(),
            state: f.state.clone(),
            kind: f.kind.map(ResourceKind::as_str),
            pattern: text.as_deref().map(like_pattern),
            since: f.since.as_deref().map(cutoff).transpose()?,
            until: f.until.as_deref().map(cutoff).transpose()?,
            text,
            before_seq: f.before_seq.unwrap_or(i64::MAX),
            limit: f.limit.clamp(0, 1000),
        })
    }
}

/// `%text%`, lower-case, with LIKE's wildcards in `text` escaped (`ESCAPE '\'`).
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The conditions both searches share. `CAST(... AS TEXT)` types the parameters the same way
/// on both backends when they are NULL.
macro_rules! filter_where {
    () => {
        "WHERE tenant = $1 \
         AND (CAST($3 AS TEXT) IS NULL OR resource_kind = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR lower(resource_name) LIKE $4 ESCAPE '\\' \
              OR resource_id = $7) \
         AND (CAST($5 AS TEXT) IS NULL OR created >= $5) \
         AND (CAST($6 AS TEXT) IS NULL OR created < $6) \
         AND seq < $8 "
    };
}

/// Operations (without steps), newest first; the columns of `sql::operation_select!`. `resource_id` exists on operations only: the
/// refusals' statement names it as a NULL column below.
pub(crate) const SEARCH_OPERATIONS: &str = concat!(
    "SELECT seq, tenant, id, idem_key, explicit_key, principal, method, path, digest, \
     resource_kind, resource_id, intent, state, attempts, response_status, error_body, \
     created, updated, finished, request_id, removals, held, note, request_body, resource_name \
     FROM operations ",
    filter_where!(),
    "AND (CAST($2 AS TEXT) IS NULL OR state = $2) ORDER BY seq DESC LIMIT $9"
);

/// The refused requests' columns (`refusal`).
macro_rules! refusal_columns {
    () => {
        "seq, tenant, created, request_id, principal, method, path, resource_kind, \
         resource_name, request_body, CAST(status AS BIGINT), error_body"
    };
}

pub(crate) const SEARCH_REFUSALS: &str = concat!(
    "SELECT ",
    refusal_columns!(),
    " FROM (SELECT r.*, CAST(NULL AS TEXT) AS resource_id FROM refused_requests AS r) AS q ",
    filter_where!(),
    "AND (CAST($2 AS TEXT) IS NULL OR $2 = 'refused') ORDER BY seq DESC LIMIT $9"
);

pub(crate) const INSERT_REFUSAL: &str = "INSERT INTO refused_requests (tenant, created, \
     request_id, principal, method, path, resource_kind, resource_name, request_body, status, \
     error_body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Operations by state created at or after `$2`, then the refusals as state `refused`.
pub(crate) const COUNTS_SINCE: &str = "SELECT state, COUNT(*) FROM operations \
     WHERE tenant = $1 AND created >= $2 GROUP BY state \
     UNION ALL SELECT 'refused', COUNT(*) FROM refused_requests \
     WHERE tenant = $1 AND created >= $2";

/// Retention: up to `$2` refusals older than `$1`, oldest first.
pub(crate) const PRUNE_REFUSALS: &str = "DELETE FROM refused_requests WHERE seq IN \
     (SELECT seq FROM refused_requests WHERE created < $1 ORDER BY created LIMIT $2)";

/// A request the bridge refused before journaling an operation, as the handler records it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefusal {
    pub tenant: String,
    pub request_id: Option<String>,
    /// A non-secret label of the credential.
    pub principal: String,
    pub method: String,
    pub path: String,
    pub resource_kind: Option<ResourceKind>,
    /// The `userName` or `displayName` the body named, if any.
    pub resource_name: Option<String>,
    /// The body with its secrets redacted.
    pub request_body: Option<Value>,
    pub status: u16,
    /// The SCIM error answered.
    pub error_body: Value,
}

/// A refused request as journaled.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub seq: i64,
    pub created: String,
    pub request: NewRefusal,
}

/// A refusal from `refusal_columns!`.
pub(crate) fn refusal(row: &dyn Row) -> StoreResult<Refusal> {
    let seq = row.int(0)?;
    let json = |text: Option<String>| -> StoreResult<Option<Value>> {
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt(format!("refused request {seq}: {e}")))
        })
        .transpose()
    };
    let status = row.int(10)?;
    Ok(Refusal {
        seq,
        created: row.text(2)?,
        request: NewRefusal {
            tenant: row.text(1)?,
            request_id: row.opt_text(3)?,
            principal: row.text(4)?,
            method: row.text(5)?,
            path: row.text(6)?,
            resource_kind: row.opt_text(7)?.as_deref().map(kind_from_str).transpose()?,
            resource_name: row.opt_text(8)?,
            request_body: json(row.opt_text(9)?)?,
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("refused request {seq}: {status}")))?,
            error_body: json(Some(row.text(11)?))?.unwrap_or(Value::Null),
        },
    })
}

/// A `(state, count)` row of [`COUNTS_SINCE`].
pub(crate) fn count(row: &dyn Row) -> StoreResult<(String, i64)> {
    Ok((row.text(0)?, row.int(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Al_1%"), "%al\\_1\\%%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
    }

    #[test]
    fn blank_text_is_no_filter_and_limits_are_bounded() {
        let f = OperationFilter {
            text: Some("  ".into()),
            limit: 5000,
            ..Default::default()
        };
        let v = FilterValues::new("t", &f).map_err(|e| e.to_string());
        let v = v
            .as_ref()
            .map(|v| (v.pattern.is_none(), v.limit, v.before_seq));
        assert_eq!(v, Ok((true, 1000, i64::MAX)));
        let bad = OperationFilter {
            since: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(FilterValues::new("t", &bad).is_err());
    }
}
