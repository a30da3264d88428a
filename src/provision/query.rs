//! Lists and searches (`GET /Users`, `POST /.search`) with bounded work per request: one page
//! is read, rendered and given relations, whatever the number of resources stored.
//!
//! - **No filter, no `sortBy`**: the store answers the page itself (`Store::page`: the window
//!   by offset in the list index, the total from the kept `resource_counts`); nothing else is
//!   read.
//! - **A filter an index answers exactly** (one `eq` on `id`, `externalId`, or on `userName`
//!   or `displayName` with an ASCII value; see `filter::exact_lookup`), under the default
//!   projection and without `sortBy`: the store's matches are the answer, serialised from
//!   their stored text; nothing is evaluated or parsed.
//! - **A filter the store can index** (`id`, `userName`, `externalId`, `displayName`,
//!   `emails.value` with `eq`, alone or in an `and`): the store finds the candidates by index and
//!   the whole filter is evaluated on those only.
//! - **Any other filter, or a `sortBy`**: the resources are read in batches of [`SCAN_BATCH`]
//!   (by cursor, in creation order) and the filter is evaluated batch by batch, off the async
//!   workers; only the matches inside the requested window are kept (without `sortBy`), or one
//!   small sort key and the id per match (with `sortBy`: the page's resources are read again by
//!   id once sorted). Memory is bounded by the batch and the page, plus one key per match when
//!   sorting; the work is a scan, which is what such a filter costs without an index.
//!
//! Relations (`groups` of users, `members` of groups) are loaded for the page's resources only,
//! and for a batch only when the filter itself names them.
//!
//! Each resource is rendered once (`scim::render`, with the request's base URL): the document a
//! filter is evaluated on is the one the page answers, not rendered again by the caller.

use crate::model::{Resource, ResourceKind};
use crate::scim::filter::{self, AttrPath, Filter};
use crate::scim::render::render;
use crate::scim::render_text::{Rendered, render_text};
use crate::scim::schema::ResourceSchema;
use crate::scim::{ScimError, ScimResult};
use crate::store::{PageRequest, PageStart, Store};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Resources read (and evaluated) at once when a filter or a sort needs a scan.
pub const SCAN_BATCH: u64 = 500;

/// Candidates evaluated on the calling task at most; more go to the blocking pool.
const INLINE_EVALUATION: usize = 64;

/// One list or search of one resource type.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub tenant: String,
    pub kind: ResourceKind,
    pub schema: Arc<ResourceSchema>,
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 0-based: SCIM's `startIndex` - 1.
    pub offset: usize,
    /// At most this many resources in the page (0: only the total).
    pub limit: usize,
    /// Load relations of the page's resources (the answer shows them).
    pub page_relations: bool,
    /// Load relations before filtering (the filter names `groups` or `members`).
    pub filter_relations: bool,
    /// The base URL resources are rendered with (`meta.location`, `$ref`).
    pub base_url: String,
    /// The answer shows resources under the default projection (no `attributes` nor
    /// `excludedAttributes`): an unfiltered page may then be serialised straight from the
    /// stored documents (`scim::render_text`).
    pub default_projection: bool,
}

/// A page of the resources matching a list request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    /// Every match, not only the page's.
    pub total: usize,
    /// The page's resources, rendered with the request's base URL: a document before
    /// projection, or (`default_projection`) already serialised.
    pub resources: Vec<Rendered>,
}

/// Answer `request` from `store` (see the module's documentation).
pub async fn run(store: &Arc<dyn Store>, request: &ListRequest) -> ScimResult<ListPage> {
    let tenant = request.tenant.as_str();
    if request.filter.is_none() && request.sort_by.is_none() {
        let page = store
            .page(
                tenant,
                request.kind,
                &PageRequest {
                    start: PageStart::Offset(request.offset as u64),
                    limit: request.limit as u64,
                    count_total: true,
                    with_relations: request.page_relations,
                    doc_text: request.default_projection,
                },
            )
            .await?;
        let total = usize::try_from(page.total.unwrap_or(0)).unwrap_or(usize::MAX);
        let resources = match request.default_projection {
            true => splice_all(request, page.resources, page.texts)?,
            false => render_all(request, page.resources),
        };
        return Ok(ListPage { total, resources });
    }
    if let Some(page) = exact_lookup(store, request).await? {
        return Ok(page);
    }
    let lookup = request
        .filter
        .as_ref()
        .and_then(|f| filter::equality_lookup(f, &request.schema));
    let mut selection = Selection::new(request);
    match lookup {
        Some(lookup) => {
            // The candidates are few: their relations come with them, in one read.
            selection.relations_loaded = request.filter_relations || request.page_relations;
            let candidates = store
                .list(
                    tenant,
                    request.kind,
                    Some(&lookup),
                    selection.relations_loaded,
                )
                .await?;
            selection.add(evaluate(request, candidates).await?);
        }
        None => {
            let mut cursor = 0;
            loop {
                let batch = store
                    .page(
                        tenant,
                        request.kind,
                        &PageRequest {
                            start: PageStart::After(cursor),
                            limit: SCAN_BATCH,
                            count_total: false,
                            with_relations: request.filter_relations,
                            doc_text: false,
                        },
                    )
                    .await?;
                let (Some(next), read) = (batch.cursor, batch.resources.len()) else {
                    break;
                };
                selection.add(evaluate(request, batch.resources).await?);
                if (read as u64) < SCAN_BATCH {
                    break;
                }
                cursor = next;
            }
        }
    }
    selection.finish(store, request).await
}

/// A filter an index answers exactly (`filter::exact_lookup`: Okta's and Entra's
/// `userName eq "…"`), shown under the default projection without `sortBy`: the store's
/// matches are the filter's, so they are not evaluated, and each is serialised from its stored
/// text (`render_text`) instead of being parsed and rendered. `None` for any other request.
async fn exact_lookup(
    store: &Arc<dyn Store>,
    request: &ListRequest,
) -> ScimResult<Option<ListPage>> {
    let (true, None, Some(filter)) = (
        request.default_projection,
        &request.sort_by,
        &request.filter,
    ) else {
        return Ok(None);
    };
    let Some(lookup) = filter::exact_lookup(filter, &request.schema) else {
        return Ok(None);
    };
    let mut found = store
        .lookup_texts(
            &request.tenant,
            request.kind,
            &lookup,
            request.page_relations,
        )
        .await?;
    let total = found.resources.len();
    let shown = window(
        request.offset,
        request.offset.saturating_add(request.limit),
        total,
    );
    let resources = found.resources.drain(shown.clone()).collect();
    let texts = found.texts.drain(shown).collect();
    Ok(Some(ListPage {
        total,
        resources: splice_all(request, resources, texts)?,
    }))
}

/// The indexes of `len` matches that the window `start..end` (the request's `startIndex` and
/// `count`) shows: empty when it starts past them.
fn window(start: usize, end: usize, len: usize) -> std::ops::Range<usize> {
    let end = end.min(len);
    start.min(end)..end
}

/// What a batch's evaluation keeps of each match.
enum Matched {
    /// The match, rendered.
    Resource(Map<String, Value>),
    /// With `sortBy`: the match's sort attribute (a document with that attribute alone) and id.
    Key(Value, String),
}

/// The matches of a request so far, bounded: the page window, or the sort keys.
struct Selection {
    total: usize,
    window: Vec<Map<String, Value>>,
    keys: Vec<(Value, String)>,
    start: usize,
    end: usize,
    /// Whether the resources read carry their relations.
    relations_loaded: bool,
}

impl Selection {
    fn new(request: &ListRequest) -> Self {
        Self {
            total: 0,
            window: Vec::new(),
            keys: Vec::new(),
            start: request.offset,
            end: request.offset.saturating_add(request.limit),
            relations_loaded: request.filter_relations,
        }
    }

    fn add(&mut self, matched: Vec<Matched>) {
        for m in matched {
            match m {
                Matched::Resource(r) => {
                    if (self.start..self.end).contains(&self.total) {
                        self.window.push(r);
                    }
                }
                Matched::Key(key, id) => self.keys.push((key, id)),
            }
            self.total += 1;
        }
    }

    async fn finish(self, store: &Arc<dyn Store>, request: &ListRequest) -> ScimResult<ListPage> {
        let relations_loaded = self.relations_loaded;
        let wanted_relations = request.page_relations || request.filter_relations;
        let (ids, resources) = match request.sort_by.clone() {
            None if request.page_relations && !relations_loaded && !self.window.is_empty() => {
                // Read again with their relations: the ids the rendered documents carry.
                let ids = self
                    .window
                    .iter()
                    .filter_map(|doc| doc.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                (ids, None)
            }
            None => (Vec::new(), Some(self.window)),
            Some(path) => {
                let (schema, descending) = (request.schema.clone(), request.descending);
                let (start, end) = (self.start, self.end);
                let mut keys = self.keys;
                let ids = blocking(move || {
                    // Stable: equal keys keep creation order.
                    keys.sort_by(|a, b| {
                        let o = filter::compare_for_sort(&a.0, &b.0, &path, &schema);
                        if descending { o.reverse() } else { o }
                    });
                    let shown = window(start, end, keys.len());
                    keys.drain(shown).map(|(_, id)| id).collect::<Vec<_>>()
                })
                .await?;
                (ids, None)
            }
        };
        let resources = match resources {
            Some(resources) => resources.into_iter().map(Rendered::Document).collect(),
            None if ids.is_empty() => Vec::new(),
            None => {
                let found = store
                    .get_many(&request.tenant, request.kind, &ids, wanted_relations)
                    .await?;
                render_all(request, found)
            }
        };
        Ok(ListPage {
            total: self.total,
            resources,
        })
    }
}

/// Evaluate the request's filter on `candidates`: on the calling task when they are few, else
/// on the blocking pool (a filter over large resources must not hold up an HTTP worker).
async fn evaluate(request: &ListRequest, candidates: Vec<Resource>) -> ScimResult<Vec<Matched>> {
    if candidates.len() <= INLINE_EVALUATION {
        return evaluate_now(request, candidates);
    }
    let request = request.clone();
    blocking(move || evaluate_now(&request, candidates)).await?
}

fn evaluate_now(request: &ListRequest, candidates: Vec<Resource>) -> ScimResult<Vec<Matched>> {
    let schema = &request.schema;
    let mut out = Vec::new();
    for res in candidates {
        let id = match request.sort_by {
            Some(_) => res.id.clone(),
            None => String::new(),
        };
        let doc = Value::Object(render(res, schema, &request.base_url));
        if let Some(f) = &request.filter
            && !filter::matches(f, &doc, schema)?
        {
            continue;
        }
        out.push(match (&request.sort_by, doc) {
            (None, Value::Object(doc)) => Matched::Resource(doc),
            (Some(path), doc) => Matched::Key(sort_key(doc, path), id),
            // `doc` was built as an object above.
            (None, _) => continue,
        });
    }
    Ok(out)
}

/// The resources of a page, rendered as the request asks (base URL), in order.
fn render_all(request: &ListRequest, resources: Vec<Resource>) -> Vec<Rendered> {
    resources
        .into_iter()
        .map(|res| Rendered::Document(render(res, &request.schema, &request.base_url)))
        .collect()
}

/// The resources of a page read with their stored documents' text (`doc` empty): each
/// serialised from its text when `render_text` can, else parsed and rendered.
fn splice_all(
    request: &ListRequest,
    resources: Vec<Resource>,
    texts: Vec<String>,
) -> ScimResult<Vec<Rendered>> {
    if resources.len() != texts.len() {
        return Err(ScimError::internal(
            "the store answered a page without its documents",
        ));
    }
    let (schema, base) = (&request.schema, request.base_url.as_str());
    let mut out = Vec::with_capacity(resources.len());
    for (mut res, text) in resources.into_iter().zip(texts) {
        if let Some(json) = render_text(&res, &text, schema, base) {
            out.push(Rendered::Json(json));
            continue;
        }
        res.doc = match serde_json::from_str(&text) {
            Ok(Value::Object(doc)) => doc,
            _ => {
                return Err(ScimError::internal(format!(
                    "resource {}: its stored document is not a JSON object",
                    res.id
                )));
            }
        };
        out.push(Rendered::Document(render(res, schema, base)));
    }
    Ok(out)
}

/// The part of a rendered document a sort on `path` reads: its top-level attribute (or the
/// extension object it is in).
fn sort_key(doc: Value, path: &AttrPath) -> Value {
    let Value::Object(doc) = doc else {
        return Value::Null;
    };
    let keep = |k: &str| {
        k.eq_ignore_ascii_case(&path.name)
            || path
                .urn
                .as_deref()
                .is_some_and(|u| k.eq_ignore_ascii_case(u))
    };
    Value::Object(
        doc.into_iter()
            .filter(|(k, _)| keep(k))
            .collect::<Map<String, Value>>(),
    )
}

/// Run CPU-bound work on Tokio's blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ScimResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ScimError::internal(format!("a list evaluation did not finish: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sort_key_keeps_the_sorted_attribute_only() {
        let doc = json!({"id": "1", "userName": "b", "name": {"givenName": "x"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}});
        let path = filter::parse_attr_path("name.givenName").unwrap();
        assert_eq!(
            sort_key(doc.clone(), &path),
            json!({"name": {"givenName": "x"}})
        );
        let path = filter::parse_attr_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        )
        .unwrap();
        assert_eq!(
            sort_key(doc, &path),
            json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}})
        );
    }
}
