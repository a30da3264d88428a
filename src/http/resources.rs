//! `/Users` and `/Groups`: list (with filter, paging, sorting, projection), create, read,
//! replace, patch, delete, and `POST .search`. Handlers parse the request, call one function of
//! the provisioning service (which locks, reads, retries and journals), and render its answer;
//! they know nothing of Tableau or the store.

use super::AppState;
use super::body::read_json;
use super::endpoint::Endpoint;
use super::error::{scim_json, scim_json_bytes};
use super::refusals;
use crate::http::auth::Principal;
use crate::model::Resource;
use crate::provision::{ListRequest, Membership, Precondition, RequestMeta};
use crate::scim::document::prepare_document;
use crate::scim::filter::{self, Filter};
use crate::scim::list::{ListQuery, list_response_json};
use crate::scim::projection::Projection;
use crate::scim::render::{etag, render};
use crate::scim::render_text::Rendered;
use crate::scim::schema::{ResourceKind, ResourceSchema};
use crate::scim::{ScimError, ScimResult};
use crate::store::DEFAULT_TENANT;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::Value;

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

/// The journal identity of a mutating request: credential label, method, path, body and
/// `Idempotency-Key` (see `provision::idempotency`).
fn request_meta(req: &HttpRequest, body: Option<&Value>) -> RequestMeta {
    let principal = req
        .extensions()
        .get::<Principal>()
        .map(|p| p.label.clone())
        .unwrap_or_default();
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok());
    RequestMeta::new(
        DEFAULT_TENANT,
        &principal,
        req.method().as_str(),
        req.path(),
        body,
        idempotency_key,
    )
    .with_request_id(
        req.extensions()
            .get::<super::middleware::RequestId>()
            .map(|id| id.as_str()),
    )
    // Redacted once, when the handler read it (`refusals::keep_body`).
    .with_request_body(
        req.extensions()
            .get::<refusals::ReadBody>()
            .map(|b| b.0.clone()),
    )
}

/// The client's `If-Match`, for the service to check against the version it reads.
fn precondition(req: &HttpRequest) -> Precondition {
    Precondition {
        if_match: req
            .headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or("").to_string()),
    }
}

/// Whether the answer shows members (groups) or groups (users).
fn shows_relations(kind: ResourceKind, projection: &Projection, schema: &ResourceSchema) -> bool {
    let attr = relation_attr(kind);
    schema
        .resolve(None, attr)
        .is_some_and(|r| projection.wants(attr, r.def))
}

/// Whether a filter may read members (groups) or groups (users): whether one of its attribute
/// paths names them (a value path's inner paths are sub-attributes of its attribute, so only
/// its own path counts).
fn filter_names_relations(kind: ResourceKind, filter: Option<&Filter>) -> bool {
    fn names(f: &Filter, attr: &str) -> bool {
        match f {
            Filter::Present(p) | Filter::Compare(p, _, _) | Filter::ValuePath(p, _) => {
                p.name.eq_ignore_ascii_case(attr)
            }
            Filter::Not(inner) => names(inner, attr),
            Filter::And(l, r) | Filter::Or(l, r) => names(l, attr) || names(r, attr),
        }
    }
    filter.is_some_and(|f| names(f, relation_attr(kind)))
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
    res: Resource,
    projection: &Projection,
) -> HttpResponse {
    let schema = state.registry.resource(res.kind);
    let base = state.base_url(req);
    let location = crate::scim::render::location(&base, res.kind, &res.id);
    let tag = etag(res.revision);
    let mut doc = render(res, schema, &base);
    projection.apply(&mut doc, schema);
    let mut resp = scim_json(status, &Value::Object(doc));
    if let Ok(v) = header::HeaderValue::from_str(&tag) {
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

/// Answer a list or search over `kinds` (in that order: users, then groups): one page of
/// `count` from `startIndex` across them, each kind answered by the service with bounded work
/// (`provision::query`), with the total of all matches.
async fn list_kinds(
    state: &AppState,
    req: &HttpRequest,
    q: &ListQuery,
    kinds: &[ResourceKind],
) -> ScimResult<HttpResponse> {
    let limits = &state.settings.limits;
    let mut offset = q.start_index.saturating_sub(1);
    let mut remaining = q.page_size(limits.default_page_size, limits.max_page_size);
    let filter = q.filter.as_deref().map(filter::parse_filter).transpose()?;
    let sort_by = q
        .sort_by
        .as_deref()
        .map(filter::parse_attr_path)
        .transpose()?;
    let base = state.base_url(req);
    let mut total = 0usize;
    let mut items = Vec::new();
    for &kind in kinds {
        let schema = state.registry.resource(kind).clone();
        let projection = Projection::from_lists(&q.attributes, &q.excluded_attributes, &schema)?;
        // Type errors (e.g. `active gt true`) are reported even when nothing is there to compare.
        if let Some(f) = &filter {
            filter::validate_filter(f, &schema)?;
        }
        let request = ListRequest {
            tenant: DEFAULT_TENANT.to_owned(),
            kind,
            schema: schema.clone(),
            filter: filter.clone(),
            sort_by: sort_by.clone(),
            descending: q.descending,
            offset,
            limit: remaining,
            page_relations: shows_relations(kind, &projection, &schema),
            filter_relations: filter_names_relations(kind, filter.as_ref()),
            base_url: base.clone(),
            default_projection: projection.is_default(),
        };
        let page = state.provisioning.query(&request).await?;
        // The next kind's window starts after this kind's matches.
        offset = offset.saturating_sub(page.total);
        remaining = remaining.saturating_sub(page.resources.len());
        total = total.saturating_add(page.total);
        for rendered in page.resources {
            items.push(match rendered {
                Rendered::Json(json) => json,
                Rendered::Document(mut doc) => {
                    projection.apply(&mut doc, &schema);
                    // A map of strings to values always serialises.
                    serde_json::to_vec(&doc).unwrap_or_default()
                }
            });
        }
    }
    Ok(scim_json_bytes(
        StatusCode::OK,
        list_response_json(total, q.start_index, &items),
    ))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let schema = state.registry.resource(kind).clone();
    let (q, _) = query_projection(&req, &state, &schema)?;
    list_kinds(&state, &req, &q, &[kind]).await
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
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
    list_kinds(&state, &req, &q, kinds).await
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind().ok();
    let run = create_inner(req.clone(), state.clone(), endpoint, payload);
    refusals::guard(&state, &req, kind, run).await
}

async fn create_inner(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    refusals::keep_body(&req, &body);
    let doc = prepare_document(&body, &schema)?;
    let meta = request_meta(&req, Some(&body));
    let created = state.provisioning.create(&meta, kind, doc).await?;
    Ok(resource_response(
        StatusCode::CREATED,
        &state,
        &req,
        created,
        &projection,
    ))
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let id = endpoint.id;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let with_rel = shows_relations(kind, &projection, &schema);
    let res = state
        .provisioning
        .get(DEFAULT_TENANT, kind, &id, with_rel)
        .await?;
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
        res,
        &projection,
    ))
}

pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind().ok();
    let run = replace_inner(req.clone(), state.clone(), endpoint, payload);
    refusals::guard(&state, &req, kind, run).await
}

async fn replace_inner(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let id = endpoint.id;
    let schema = state.registry.resource(kind).clone();
    let (_, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    refusals::keep_body(&req, &body);
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
    let meta = request_meta(&req, Some(&body));
    let updated = state
        .provisioning
        .replace(&meta, kind, &id, new_doc, membership, &precondition(&req))
        .await?;
    Ok(resource_response(
        StatusCode::OK,
        &state,
        &req,
        updated,
        &projection,
    ))
}

pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind().ok();
    let run = patch_inner(req.clone(), state.clone(), endpoint, payload);
    refusals::guard(&state, &req, kind, run).await
}

async fn patch_inner(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
    payload: web::Payload,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let id = endpoint.id;
    let schema = state.registry.resource(kind).clone();
    let (q, projection) = query_projection(&req, &state, &schema)?;
    let body = read_json(&req, payload, state.settings.limits.max_body_bytes).await?;
    refusals::keep_body(&req, &body);
    let meta = request_meta(&req, Some(&body));
    let updated = state
        .provisioning
        .patch(&meta, &schema, &id, &body, &precondition(&req))
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
        updated,
        &projection,
    ))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind().ok();
    let run = delete_inner(req.clone(), state.clone(), endpoint);
    refusals::guard(&state, &req, kind, run).await
}

async fn delete_inner(
    req: HttpRequest,
    state: web::Data<AppState>,
    endpoint: Endpoint,
) -> ScimResult<HttpResponse> {
    let kind = endpoint.kind()?;
    let id = endpoint.id;
    let meta = request_meta(&req, None);
    state
        .provisioning
        .delete(&meta, kind, &id, &precondition(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
