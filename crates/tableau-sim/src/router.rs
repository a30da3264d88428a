//! One entry point for every request: control API, fault injection, then Tableau's URI
//! space under `/api/{version}/`, with 404003 for unknown resources, 405000 for wrong methods
//! and version gating.

use std::sync::MutexGuard;

use actix_web::http::header::RETRY_AFTER;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use super::config::parse_api_version;
use super::content::{self, ContentKind};
use super::errors::{ApiError, ApiResult};
use super::faults::FaultOutcome;
use super::sessions::Session;
use super::state::{Inner, SimState};
use super::wire::{Format, Reply, RequestDoc, render_error, render_reply};
use super::{auth, control, groups, server_info, sites, users};

/// What a handler gets to see of one request.
pub struct Ctx<'a> {
    pub state: &'a SimState,
    pub version: (u32, u32),
    pub query: &'a str,
    pub body: &'a [u8],
    pub request_format: Format,
    pub token: Option<&'a str>,
    /// Site LUID from the path, for site-scoped methods.
    pub site: Option<&'a str>,
}

impl Ctx<'_> {
    /// Checks the session (401000/401002), the connected-app scope, then the site (404000);
    /// returns the locked state.
    pub fn authorize(&self, scope: &str) -> ApiResult<(MutexGuard<'_, Inner>, Session)> {
        let mut inner = self.state.lock();
        let session = inner.sessions.touch(self.token)?;
        session.require_scope(scope)?;
        if let Some(site) = self.site
            && site != self.state.site.id
        {
            return Err(ApiError::site_not_found(site));
        }
        Ok((inner, session))
    }

    pub fn doc(&self) -> ApiResult<RequestDoc> {
        RequestDoc::parse(self.body, self.request_format)
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }
}

pub async fn dispatch(req: HttpRequest, body: Bytes, state: Data<SimState>) -> HttpResponse {
    let format = Format::of_response(&req);
    let path = req.path();
    let method = req.method().as_str();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return control::handle(&state, method, path, &body);
    }

    let decision = state.faults().decide(method, path);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    match decision.outcome {
        FaultOutcome::Pass => {}
        FaultOutcome::Drop => return control::dropped_connection(),
        FaultOutcome::Fail {
            error,
            retry_after_secs,
        } => {
            let mut response = render_error(&error, format, &state.api_version);
            if let Some(secs) = retry_after_secs
                && let Ok(value) = secs.to_string().parse()
            {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            return response;
        }
    }

    let token = req
        .headers()
        .get("x-tableau-auth")
        .and_then(|v| v.to_str().ok());
    let ctx = Ctx {
        state: &state,
        // Set by `route` once the path's version is known.
        version: (0, 0),
        query: req.query_string(),
        body: &body,
        request_format: Format::of_request(&req),
        token,
        site: None,
    };
    let result = route(ctx, method, path);
    match result {
        Ok(reply) => render_reply(reply, format, &state.api_version),
        Err(error) => render_error(&error, format, &state.api_version),
    }
}

fn route<'a>(mut ctx: Ctx<'a>, method: &str, path: &'a str) -> ApiResult<Reply> {
    let api_path = path.strip_prefix("/api").unwrap_or(path);
    let unknown = || ApiError::unknown_resource(api_path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["api", version, rest @ ..] = segments.as_slice() else {
        return Err(unknown());
    };
    ctx.version = parse_api_version(version)
        .filter(|v| *v >= (2, 0) && *v <= ctx.state.api_version_parsed)
        .ok_or_else(unknown)?;
    let wrong_method = || Err(ApiError::method_not_allowed(method));
    match rest {
        [info] if info.eq_ignore_ascii_case("serverinfo") => match method {
            "GET" => Ok(server_info::server_info(&ctx)),
            _ => wrong_method(),
        },
        ["auth", "signin"] => match method {
            "POST" => auth::sign_in(&ctx),
            _ => wrong_method(),
        },
        ["auth", "signout"] => match method {
            "POST" => auth::sign_out(&ctx),
            _ => wrong_method(),
        },
        ["sites", site, resource @ ..] => {
            ctx.site = Some(site);
            match (resource, method) {
                ([], "GET") => sites::query_site(&ctx),
                (["site-auth-configurations"], _) if !ctx.at_least(3, 24) => Err(unknown()),
                (["site-auth-configurations"], "GET") => sites::auth_configurations(&ctx),
                (["users"], "GET") => users::list(&ctx),
                (["users"], "POST") => users::add(&ctx),
                (["users", id], "GET") => users::get(&ctx, id),
                (["users", id], "PUT") => users::update(&ctx, id),
                (["users", id], "DELETE") => users::remove(&ctx, id),
                (["users", _, "groups"], _) if !ctx.at_least(3, 7) => Err(unknown()),
                (["users", id, "groups"], "GET") => users::groups_of(&ctx, id),
                (["groups"], "GET") => groups::list(&ctx),
                (["groups"], "POST") => groups::create(&ctx),
                (["groups", id], "PUT") => groups::update(&ctx, id),
                (["groups", id], "DELETE") => groups::delete(&ctx, id),
                (["groups", id, "users"], "GET") => groups::members(&ctx, id),
                (["groups", id, "users"], "POST") => groups::add_members(&ctx, id),
                (["groups", _, "users", "remove"], "PUT") if !ctx.at_least(3, 21) => Err(unknown()),
                (["groups", id, "users", "remove"], "PUT") => groups::remove_members(&ctx, id),
                (["groups", id, "users", user], "DELETE") => groups::remove_member(&ctx, id, user),
                (["users", user, "workbooks"], "GET") => {
                    content::list_for_user(&ctx, ContentKind::Workbook, user, api_path)
                }
                (["users", user, "flows"], "GET") => {
                    content::list_for_user(&ctx, ContentKind::Flow, user, api_path)
                }
                ([c @ ("workbooks" | "datasources" | "flows" | "projects")], "GET") => {
                    content::list(&ctx, content_kind(c)?, api_path)
                }
                ([c @ ("workbooks" | "datasources" | "flows"), id], "GET") => {
                    content::get(&ctx, content_kind(c)?, id, api_path)
                }
                ([c @ ("workbooks" | "datasources" | "flows" | "projects"), id], "PUT") => {
                    content::update(&ctx, content_kind(c)?, id, api_path)
                }
                (
                    []
                    | ["site-auth-configurations"]
                    | ["users"]
                    | ["users", _]
                    | ["users", _, "groups"]
                    | ["groups"]
                    | ["groups", _]
                    | ["groups", _, "users"]
                    | ["groups", _, "users", _]
                    | ["users", _, "workbooks" | "flows"]
                    | ["workbooks" | "datasources" | "flows" | "projects"]
                    | ["workbooks" | "datasources" | "flows" | "projects", _],
                    _,
                ) => wrong_method(),
                _ => Err(unknown()),
            }
        }
        _ => Err(unknown()),
    }
}

fn content_kind(collection: &str) -> ApiResult<ContentKind> {
    ContentKind::from_collection(collection).ok_or_else(|| ApiError::unknown_resource(collection))
}
