//! `GET /healthz` (the process is alive), `GET /readyz` (the store answers and Tableau
//! accepts the bridge's credentials) and `GET /metrics` (Prometheus text format). Outside the
//! SCIM base path and without authentication: they hold no secret and no personal data. On the
//! main listener, or only on `metrics.listen` when that is set.

use crate::provision::health::Health;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

/// The paths served here, which the access log writes at debug level (probes and scrapes
/// come every few seconds).
pub const PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Register the three endpoints; `health` must be in the app data.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok"}))
}

async fn readyz(health: web::Data<Health>) -> HttpResponse {
    let report = health.check().await;
    let mut response = if report.is_ready() {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(report)
}

async fn metrics(health: web::Data<Health>) -> HttpResponse {
    health.refresh_operation_metrics().await;
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, crate::metrics::CONTENT_TYPE))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(crate::metrics::render())
}
