//! `/Users` and `/Groups`: list (with filter, paging, sorting, projection), create, read,
//! replace, patch, delete, and `POST .search`. Handlers parse, call the pure `scim` layer to
//! compute the new state, and hand it to the provisioner; they know nothing of Tableau.

use super::AppState;
use super::body::read_json;
use super::error::scim_json;
use crate::http::auth::{Principal, sha256_hex};
use crate::model::Resource;
use crate::provision::{Finished, Membership, RequestMeta};
use crate::scim::document::prepare_document;
use crate::scim::filter::{self, Filter};
use crate::scim::list::{ListQuery, list_response, page};
use crate::scim::patch::apply_patch;
use crate::scim::projection::Projection;
use crate::scim::render::{etag, patchable_document, render};
use crate::scim::schema::{ResourceKind, ResourceSchema};
use crate::scim::{ErrorKind, ScimError, ScimResult};
use crate::store::{DEFAULT_TENANT, StoreError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};
use std::sync::Arc;

/// How often a write is retried when another writer changed the resource in between.
const MAX_WRITE_ATTEMPTS: usize = 8;

/// The resource kind from the `{resource}` path segment (`Users` or `Groups`, any case).
pub fn kind_from_segment(segment: &str) -> ScimResult<ResourceKind> {
    if segment.eq_ignore_ascii_case("Users") {
        Ok(ResourceKind::User)
    } else if segment.eq_ignore_ascii_case("Groups") {
        Ok(ResourceKind::Group)
    } else {
        Err(ScimError::not_found(format!(
            "no resource type at /{segment}"
        )))
    }
}

fn relation_attr(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    }
}

/// The journal identity of a mutating request: credential label, method, path, a digest of
/// the canonical body (keys sorted, so key order does not matter) and `Idempotency-Key`.
fn request_meta(req: &HttpRequest, body: Option<&Value>) -> RequestMeta {
    let principal = req
        .extensions()
        .get::<Principal>()
        .map(|p| p.label.clone())
        .unwrap_or_default();
    let canonical = body.map(canonical_json).unwrap_or_default();
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 255);
    RequestMeta {
        tenant: DEFAULT_TENANT.to_string(),
        principal,
        method: req.method().to_string(),
        path: req.path().to_string(),
        body_digest: sha256_hex(canonical.as_bytes()),
        idempotency_key,
    }
}

/// JSON text with object keys sorted at every level.
fn canonical_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&o[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

/// The resource a finished operation answers with (a replayed create of a since-deleted
/// resource has none).
fn finished_resource(f: Finished, kind: ResourceKind) -> ScimResult<Resource> {
    f.resource
        .ok_or_else(|| ScimError::not_found(format!("the {} no longer exists", kind.as_str())))
}

/// Whether members (groups) or groups (users) must be loaded to answer.
fn needs_relations(
    kind: ResourceKind,
    projection: &Projection,
    filter: Option<&Filter>,
    schema: &ResourceSchema,
) -> bool {
    let attr = relation_attr(kind);
    let wanted = schema
        .resolve(None, attr)
        .is_some_and(|r| projection.wants(attr, r.def));
    // A filter that merely mentions the word loads relations needlessly, which is harmless.
    wanted || filter.is_some_and(|f| f.to_string().to_ascii_lowercase().contains(attr))
}

fn if_match_ok(req: &HttpRequest, current: &Resource) -> ScimResult<()> {
    let Some(v) = req.headers().get(header::IF_MATCH) else {
        return Ok(());
    };
    let v = v.to_str().unwrap_or("");
    let tag = etag(current.revision);
    let strong = tag.trim_start_matches("W/");
    let ok = v
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.trim_start_matches("W/") == strong);
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            ErrorKind::PreconditionFailed,
            format!("If-Match {v} does not match the current version {tag}"),
        ))
    }
}

fn if_none_match_hits(req: &HttpRequest, current: &Resource) -> bool {
    let Some(v) = req.headers().get(header::IF_NONE_MATCH) else {
        return false;
    };
    let v = v.to_str().unwrap_or("");
    let tag = etag(current.revision);
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag.trim_start_matches("W/"))
}

/// Render and project one resource into a response with `ETag` (and `Location` on 201).
fn resource_response(
    status: StatusCode,
    state: &AppState,
    req: &HttpRequest,
    res: &Resource,
    projection: &Projection,
) -> HttpResponse {
    let schema = state.registry.resource(res.kind);
    let base = state.base_url(req);
    let mut doc = render(res, schema, &base);
    projection.apply(&mut doc, schema);
    let location = crate::scim::render::location(&base, res.kind, &res.id);
    let mut resp = scim_json(status, &Value::Object(doc));
    if let Ok(v) = header::HeaderValue::from_str(&etag(res.revision)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = header::HeaderValue::from_str(&location)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn query_projection(
    req: &HttpRequest,
    state: &AppState,
    schema: &ResourceSchema,
) -> ScimResult<(ListQuery, Projection)> {
    let q = ListQuery::from_query_string(req.query_string(), state.settings.limits.max_page_size)?;
    let p = Projection::from_lists(&q.attributes, &q.excluded_attributes, schema)?;
    Ok((q, p))
}

/// Run a query against one resource type: filter, sort; returns rendered, unprojected
/// documents in order.
async fn run_query(
    state: &AppState,
    req: &HttpRequest,
    kind: ResourceKind,
    q: &ListQuery,
    projection: &Projection,
) -> ScimResult<Vec<Map<String, Value>>> {
    let schema = state.registry.resource(kind);
    let filter = q.filter.as_deref().map(filter::parse_filter).transpose()?;
    // Type errors (e.g. `active gt true`) are reported even when nothing is there to compare.
    if let Some(f) = &filter {
        filter::validate_filter(f, schema)?;
    }
    let sort_path = q
        .sort_by
        .as_deref()
        .map(filter::parse_attr_path)
        .transpose()?;
    let lookup = filter
        .as_ref()
        .and_then(|f| filter::equality_lookup(f, schema));
    let with_rel = needs_relations(kind, projection, filter.as_ref(), schema);
    let stored = state
        .store
        .list(DEFAULT_TENANT, kind, lookup.as_ref(), with_rel)
        .await?;
    let base = state.base_url(req);
    let mut docs = Vec::with_capacity(stored.len());
    for res in &stored {
        let doc = Value::Object(render(res, schema, &base));
        if let Some(f) = &filter
            && !filter::matches(f, &doc, schema)?
        {
            continue;
        }
        if let Value::Object(o) = doc {
            docs.push(o);
        }
    }
    if let Some(path) = &sort_path {
        // Stable sort: equal keys keep the store's creation order.
        let mut keyed: Vec<Value> = docs.into_iter().map(Value::Object).collect();
        keyed.sort_by(|a, b| {
            let o = filter::compare_for_sort(a, b, path, schema);
            if q.descending { o.reverse() } else { o }
        });
        docs = keyed
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect();
    }
    Ok(docs)
}

fn paged_response(
    state: &AppState,
    q: &ListQuery,
    docs: Vec<(Map<String, Value>, Arc<ResourceSchema>)>,
    projections: &dyn Fn(ResourceKind) -> Projection,
) -> HttpResponse {
    let total = docs.len();
    let size = q.page_size(
        state.settings.limits.default_page_size,
        state.settings.limits.max_page_size,
    );
    let items: Vec<Map<String, Value>> = page(docs, q.start_index, size)
        .into_iter()
        .map(|(mut d, schema)| {
            projections(schema.kind).apply(&mut d, &schema);
            d
        })
        .collect();
    scim_json(StatusCode::OK, &list_response(total, q.start_index, items))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    segment: web::Path<String>,
) -> ScimResult<HttpResponse> {
    let kind = kind_from_segment(&segment)?;
    let schema = state.registry.resource(kind).clone();
    let (q, projection) = query_projection(&req, &state, &schema)?;
    let docs = run_query(&state, &req, kind, &q, &projection).await?;
    let docs = docs.into_iter().map(|d| (d, schema.clone())).collect();
    Ok(paged_response(&state, &q, docs, &|_| projection.clone()))
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    segment: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = kind_from_segment(&segment)?;
    search_kinds(req, state, payload, &[kind]).await
}

/// `POST /.search`: both resource types, users first.
pub async fn search_root(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    search_kinds(
        req,
        state,
        payload,
        &[ResourceKind::User, ResourceKind::Group],
    )
    .await
}

async fn search_kinds(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    kinds: &[ResourceKind],
) -> ScimResult<HttpResponse> {
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    let q = ListQuery::from_search_request(&body, state.settings.limits.max_page_size)?;
    let mut all = Vec::new();
    let mut projections = Vec::new();
    for &kind in kinds {
        let schema = state.registry.resource(kind).clone();
        let projection = Projection::from_lists(&q.attributes, &q.excluded_attributes, &schema)?;
        let docs = run_query(&state, &req, kind, &q, &projection).await?;
        all.extend(docs.into_iter().map(|d| (d, schema.clone())));
        projections.push((kind, projection));
    }
    let pick = |k: ResourceKind| {
        projections
            .iter()
            .find(|(pk, _)| *pk == k)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    };
    Ok(paged_response(&state, &q, all, &pick))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    segment: web::Path<String>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = kind_from_segment(&segment)?;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    let doc = prepare_document(&body, &schema)?;
    let meta = request_meta(&req, Some(&body));
    let finished = state.provisioner.create(&meta, kind, doc).await?;
    let status = StatusCode::from_u16(finished.status).unwrap_or(StatusCode::CREATED);
    let created = finished_resource(finished, kind)?;
    Ok(resource_response(
        status,
        &state,
        &req,
        &created,
        &projection,
    ))
}

async fn load(
    state: &AppState,
    kind: ResourceKind,
    id: &str,
    with_relations: bool,
) -> ScimResult<Resource> {
    state
        .store
        .get(DEFAULT_TENANT, kind, id, with_relations)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.as_str())))
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_from_segment(&segment)?;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let with_rel = needs_relations(kind, &projection, None, &schema);
    let res = load(&state, kind, &id, with_rel).await?;
    if if_none_match_hits(&req, &res) {
        let mut resp = HttpResponse::NotModified().finish();
        if let Ok(v) = header::HeaderValue::from_str(&etag(res.revision)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &req,
        &res,
        &projection,
    ))
}

/// Read, compute, commit; repeated when a concurrent writer got in between, so that two
/// PATCHes adding members to one group both take effect.
async fn write_loop<F>(
    state: &AppState,
    req: &HttpRequest,
    body: &Value,
    kind: ResourceKind,
    id: &str,
    membership: Membership,
    compute: F,
) -> ScimResult<Resource>
where
    F: Fn(&Resource) -> ScimResult<Option<Map<String, Value>>>,
{
    let _writer = state
        .provisioner
        .locks
        .lock(&format!("{}/{id}", kind.as_str()))
        .await;
    let meta = request_meta(req, Some(body));
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let old = load(state, kind, id, true).await?;
        if_match_ok(req, &old)?;
        let Some(new_doc) = compute(&old)? else {
            return Ok(old);
        };
        match state
            .provisioner
            .update(&meta, &old, new_doc, membership)
            .await
        {
            Err(e) if e.kind == ErrorKind::PreconditionFailed => continue,
            Err(e) => return Err(e),
            Ok(f) => return finished_resource(f, kind),
        }
    }
    Err(ScimError::from(StoreError::RevisionMismatch).with_retry_after(1))
}

pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_from_segment(&segment)?;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    if let Some(body_id) = body.get("id").and_then(Value::as_str)
        && body_id != id
    {
        // `id` is readOnly: a different one in the body is ignored, as RFC 7644 §3.5.1 allows.
        tracing::debug!(%id, %body_id, "PUT body names another id; ignored");
    }
    let new_doc = prepare_document(&body, &schema)?;
    // A PUT without `members` keeps the membership (RFC 7644 §3.5.1 lets the server keep
    // omitted values); Okta's group PUT always sends the full list, which is diffed.
    let mentions_members = body
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case("members")));
    let membership = if mentions_members {
        Membership::Complete
    } else {
        Membership::Unchanged
    };
    let updated = write_loop(&state, &req, &body, kind, &id, membership, |_old| {
        Ok(Some(new_doc.clone()))
    })
    .await?;
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &req,
        &updated,
        &projection,
    ))
}

pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_from_segment(&segment)?;
    let schema = state.registry.resource(kind).clone();
    let (q, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    let updated = write_loop(
        &state,
        &req,
        &body,
        kind,
        &id,
        Membership::Complete,
        |old| {
            let current = patchable_document(old);
            let new_doc = apply_patch(&current, &body, &schema)?;
            // An identical repeated PATCH changes nothing and writes nothing.
            Ok((new_doc != current).then_some(new_doc))
        },
    )
    .await?;
    if kind == ResourceKind::Group && q.attributes.is_empty() {
        let mut resp = HttpResponse::NoContent().finish();
        if let Ok(v) = header::HeaderValue::from_str(&etag(updated.revision)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        return Ok(resp);
    }
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &req,
        &updated,
        &projection,
    ))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ScimResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_from_segment(&segment)?;
    let _writer = state
        .provisioner
        .locks
        .lock(&format!("{}/{id}", kind.as_str()))
        .await;
    let meta = request_meta(&req, None);
    // A DELETE re-sent with the `Idempotency-Key` of one that succeeded gets its 204 again.
    if state.provisioner.engine().replay(&meta).await?.is_some() {
        return Ok(HttpResponse::NoContent().finish());
    }
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(&state, kind, &id, true).await?;
        if_match_ok(&req, &current)?;
        match state.provisioner.delete(&meta, &current).await {
            Err(e) if e.kind == ErrorKind::PreconditionFailed => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(HttpResponse::NoContent().finish()),
        }
    }
    Err(ScimError::from(StoreError::RevisionMismatch).with_retry_after(1))
}
