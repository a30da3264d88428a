//! The HTTP layer: routing, authentication, media types, limits. It parses requests, calls the
//! `scim` layer and the provisioning service, and renders `ScimError`s; it knows nothing of Tableau.

pub mod access;
pub mod admin;
pub mod auth;
pub mod body;
pub mod discovery;
pub mod error;
pub mod health;
pub mod middleware;
pub mod refusals;
pub mod resources;

use crate::config::Settings;
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
        let root = match &self.settings.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None if req
                .peer_addr()
                .is_some_and(|peer| self.settings.trusted_proxies.contains(peer.ip())) =>
            {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
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
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
                    .or_else(|| req.uri().authority().map(ToString::to_string))
                    .unwrap_or_else(|| req.app_config().host().to_owned());
                format!("{scheme}://{host}")
            }
        };
        format!("{root}{}", self.settings.base_path)
    }
}

/// Register every SCIM route under the configured base path.
pub fn routes(cfg: &mut web::ServiceConfig, base_path: &str) {
    use actix_web::web::{get, patch, post, put, resource};
    let not_allowed = || web::route().to(error::method_not_allowed);
    let rt = "{resource:(?i:users|groups)}";
    cfg.service(
        web::scope(base_path)
            .wrap(actix_web::middleware::from_fn(middleware::authenticate))
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
            )
            .service(
                resource(format!("/{rt}"))
                    .route(get().to(resources::list))
                    .route(post().to(resources::create))
                    .default_service(not_allowed()),
            )
            .service(
                resource(format!("/{rt}/.search"))
                    .route(post().to(resources::search))
                    .default_service(not_allowed()),
            )
            .service(
                resource(format!("/{rt}/{{id}}"))
                    .route(get().to(resources::get))
                    .route(put().to(resources::replace))
                    .route(patch().to(resources::patch))
                    .route(web::delete().to(resources::delete))
                    .default_service(not_allowed()),
            )
            .default_service(web::route().to(error::not_found)),
    );
}
