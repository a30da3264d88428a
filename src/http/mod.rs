//! The HTTP layer: routing, authentication, media types, limits. It parses requests, calls the
//! `scim` layer and the provisioning service, and renders `ScimError`s; it knows nothing of Tableau.

pub mod access;
pub mod admin;
pub mod auth;
pub mod body;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod health;
pub mod middleware;
pub mod refusals;
pub mod resources;

use crate::config::Settings;
use crate::model::ResourceKind;
use crate::provision::Service;
use crate::scim::schema::SchemaRegistry;
use actix_web::{HttpRequest, web};
use std::sync::Arc;

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub registry: &'static SchemaRegistry,
    /// Every read and write of resources goes through it.
    pub provisioning: Service,
    /// Replaced on reload (SIGHUP).
    pub credentials: Arc<auth::SharedCredentials>,
}

impl AppState {
    /// The absolute base URL of the SCIM endpoints, for `meta.location` and `Location`:
    /// the configured public URL, else what the client used to reach us: the request's own
    /// `Host` and scheme, or what `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto` say
    /// when the peer is one of `trusted_proxies` (anyone else could name any host).
    pub fn base_url(&self, req: &HttpRequest) -> String {
        let base = &self.settings.base_path;
        match &self.settings.public_url {
            Some(u) => format!("{}{base}", u.trim_end_matches('/')),
            None if req
                .peer_addr()
                .is_some_and(|peer| self.settings.trusted_proxies.contains(peer.ip())) =>
            {
                let info = req.connection_info();
                format!("{}://{}{base}", info.scheme(), info.host())
            }
            None => {
                let scheme = if req.app_config().secure() {
                    "https"
                } else {
                    "http"
                };
                let host = req
                    .headers()
                    .get(actix_web::http::header::HOST)
                    .and_then(|h| h.to_str().ok());
                match host {
                    Some(host) => format!("{scheme}://{host}{base}"),
                    None => match req.uri().authority() {
                        Some(authority) => format!("{scheme}://{authority}{base}"),
                        None => format!("{scheme}://{}{base}", req.app_config().host()),
                    },
                }
            }
        }
    }
}

/// Register every SCIM route under the configured base path.
pub fn routes(cfg: &mut web::ServiceConfig, base_path: &str) {
    use actix_web::web::{get, post, resource};
    let not_allowed = || web::route().to(error::method_not_allowed);
    let mut scope =
        web::scope(base_path).wrap(actix_web::middleware::from_fn(middleware::authenticate));
    // First, so that the requests IdPs send most are routed without running a pattern: each
    // type's routes under its own name (see `endpoint`).
    for (name, kind) in [
        ("Users", ResourceKind::User),
        ("Groups", ResourceKind::Group),
    ] {
        scope = resource_routes(scope, &format!("/{name}"), Some(kind));
    }
    scope = scope
        .service(
            resource("/ServiceProviderConfig")
                .route(get().to(discovery::service_provider_config))
                .default_service(not_allowed()),
        )
        .service(
            resource("/Schemas")
                .route(get().to(discovery::schemas))
                .default_service(not_allowed()),
        )
        .service(
            resource("/Schemas/{id:.*}")
                .route(get().to(discovery::schema))
                .default_service(not_allowed()),
        )
        .service(
            resource("/ResourceTypes")
                .route(get().to(discovery::resource_types))
                .default_service(not_allowed()),
        )
        .service(
            resource("/ResourceTypes/{id}")
                .route(get().to(discovery::resource_type))
                .default_service(not_allowed()),
        )
        .service(
            resource("/.search")
                .route(post().to(resources::search_root))
                .default_service(not_allowed()),
        );
    // The same types in any other case (`/users`).
    scope = resource_routes(scope, "/{resource:(?i:users|groups)}", None);
    cfg.service(scope.default_service(web::route().to(error::not_found)));
}

/// The routes of one resource type under `prefix`: the type fixed (`kind`), or read from the
/// prefix's `{resource}` segment.
fn resource_routes<T>(
    scope: actix_web::Scope<T>,
    prefix: &str,
    kind: Option<ResourceKind>,
) -> actix_web::Scope<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        >,
{
    use actix_web::web::{get, patch, post, put, resource};
    let not_allowed = || web::route().to(error::method_not_allowed);
    let typed = |r: actix_web::Resource| match kind {
        Some(kind) => r.app_data(endpoint::RouteKind(kind)),
        None => r,
    };
    scope
        .service(typed(
            resource(prefix.to_owned())
                .route(get().to(resources::list))
                .route(post().to(resources::create))
                .default_service(not_allowed()),
        ))
        .service(typed(
            resource(format!("{prefix}/.search"))
                .route(post().to(resources::search))
                .default_service(not_allowed()),
        ))
        .service(typed(
            resource(format!("{prefix}/{{id}}"))
                .route(get().to(resources::get))
                .route(put().to(resources::replace))
                .route(patch().to(resources::patch))
                .route(web::delete().to(resources::delete))
                .default_service(not_allowed()),
        ))
}
