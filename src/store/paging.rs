//! Pages of resources: what `Store::page` and `Store::get_many` take and answer, and their
//! statements (both backends run the page statements as they stand; `get_many` passes a list,
//! as JSON on SQLite and as an array on PostgreSQL).
//!
//! A page is a window of the resources of one kind in creation order (`seq`, which never
//! changes and is never reused), read through the `(tenant, kind, seq)` index: by offset (SCIM's
//! `startIndex`) or after a cursor (the `seq` of the last resource of the previous page, for a
//! scan in batches). Only the page's rows are read, and relations are loaded for them alone; the
//! total, when asked for, is the count the database keeps per tenant and kind
//! (`resource_counts`, maintained by triggers on `resources`).

use super::rows::{self, Row};
use super::{Resource, StoreResult};

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// Skip this many resources (0 = from the first).
    Offset(u64),
    /// The resources after this cursor (a [`Page::cursor`]); `After(0)` starts at the first.
    After(i64),
}

/// A page to read: where it starts, at most how many resources, whether to count them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub start: PageStart,
    /// At most this many resources; 0 reads none (a count alone, with `count_total`).
    pub limit: u64,
    /// Whether to count every resource of the kind (`Page::total`).
    pub count_total: bool,
    /// Load members (groups) or groups (users) of the page's resources.
    pub with_relations: bool,
    /// Answer each document as the JSON text it is stored as (`Page::texts`), leaving the
    /// resources' `doc` empty: for a caller that splices the text instead of parsing it
    /// (`scim::render_text`).
    pub doc_text: bool,
}

/// A page of resources in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub resources: Vec<Resource>,
    /// Every resource of the kind, when asked for (`PageRequest::count_total`).
    pub total: Option<u64>,
    /// Where the next page starts (`PageStart::After`): the position of the last resource of
    /// this page; `None` when the page is empty.
    pub cursor: Option<i64>,
    /// With `PageRequest::doc_text`: the stored document of each resource, in order.
    pub texts: Vec<String>,
}

/// The resource columns of `rows::resource`, then `seq`.
macro_rules! page_columns {
    () => {
        "r.id, r.kind, r.doc, r.created, r.last_modified, r.revision, r.tableau_luid, r.seq"
    };
}

/// The number of resources of a kind, as the triggers of migration 7 keep it (one row read; no
/// row yet means none).
pub(crate) const COUNT: &str = "SELECT COALESCE((SELECT n FROM resource_counts \
     WHERE tenant = $1 AND kind = $2), 0)";

/// `$3` resources after skipping `$4`. The offset is taken in the index alone (the subquery
/// reads `seq` only), and the rows of the page are then read by `seq`: skipping does not read
/// the skipped documents.
pub(crate) const BY_OFFSET: &str = concat!(
    "SELECT ",
    page_columns!(),
    " FROM (SELECT seq FROM resources WHERE tenant = $1 AND kind = $2 \
     ORDER BY seq LIMIT $3 OFFSET $4) AS p \
     CROSS JOIN resources AS r WHERE r.tenant = $1 AND r.kind = $2 AND r.seq = p.seq \
     ORDER BY r.seq"
);

/// `$4` resources after the cursor `$3`.
pub(crate) const AFTER: &str = concat!(
    "SELECT ",
    page_columns!(),
    " FROM resources AS r WHERE r.tenant = $1 AND r.kind = $2 AND r.seq > $3 \
     ORDER BY r.seq LIMIT $4"
);

/// The resources whose ids are in the JSON array `$3`, in its order (SQLite).
pub(crate) const SQLITE_GET_MANY: &str = concat!(
    "SELECT ",
    page_columns!(),
    " FROM json_each($3) AS j CROSS JOIN resources AS r \
     WHERE r.tenant = $1 AND r.kind = $2 AND r.id = j.value ORDER BY j.key"
);

/// The resources whose ids are in the array `$3`, in its order (PostgreSQL).
pub(crate) const POSTGRES_GET_MANY: &str = concat!(
    "SELECT ",
    page_columns!(),
    " FROM unnest($3::text[]) WITH ORDINALITY AS u(id, ord) \
     JOIN resources AS r ON r.tenant = $1 AND r.kind = $2 AND r.id = u.id ORDER BY u.ord"
);

/// A row of the statements above: the resource and its `seq`.
pub(crate) fn resource_and_seq(row: &dyn Row) -> StoreResult<(Resource, i64)> {
    Ok((rows::resource(row)?, row.int(7)?))
}

/// A row of a page as `request` asks for it: the resource, its `seq`, and with `doc_text` its
/// stored document (the resource's `doc` then empty).
pub(crate) type PageRow = (Resource, i64, Option<String>);

pub(crate) fn page_row(row: &dyn Row, request: &PageRequest) -> StoreResult<PageRow> {
    if request.doc_text {
        let (resource, text) = rows::resource_unparsed(row)?;
        return Ok((resource, row.int(7)?, Some(text)));
    }
    Ok((rows::resource(row)?, row.int(7)?, None))
}

/// The resources a lookup found (`rows::resource_read`), in order, as a page without a total
/// or a cursor.
pub(crate) fn found_of(rows: Vec<(Resource, Option<String>)>) -> Page {
    let mut page = Page {
        resources: Vec::with_capacity(rows.len()),
        ..Page::default()
    };
    for (resource, text) in rows {
        page.resources.push(resource);
        page.texts.extend(text);
    }
    page
}

/// The page of rows read (in order), with the total if counted.
pub(crate) fn page_of(rows: Vec<PageRow>, total: Option<u64>) -> Page {
    let cursor = rows.last().map(|(_, seq, _)| *seq);
    let mut page = Page {
        resources: Vec::with_capacity(rows.len()),
        total,
        cursor,
        texts: Vec::new(),
    };
    for (resource, _, text) in rows {
        page.resources.push(resource);
        page.texts.extend(text);
    }
    page
}

/// A `u64` (limit, offset) as SQL takes it; beyond `i64::MAX` means "all".
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count as read from SQL.
pub(crate) fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
