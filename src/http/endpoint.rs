//! Which resource type, and which resource, a request to `/Users` or `/Groups` addresses.
//!
//! Each resource type has routes of its own with a fixed path (`/Users`, `/Users/{id}`), in
//! the case RFC 7643 names them, and the type is data of the route ([`RouteKind`]): a
//! request in that case, which is what IdPs send, is routed by comparing strings. Paths in
//! any other case (`/users`) reach the same handlers through routes whose `{resource}` segment
//! is a case-insensitive pattern, matched by actix's regular expressions.

use super::resources::kind_from_segment;
use crate::model::ResourceKind;
use crate::scim::ScimResult;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use std::convert::Infallible;
use std::future::{Ready, ready};

/// The resource type a route serves, kept as its data.
#[derive(Debug, Clone, Copy)]
pub struct RouteKind(pub ResourceKind);

/// The resource type (and, under `/{type}/{id}`, the id) a request addresses.
#[derive(Debug)]
pub struct Endpoint {
    /// The `{resource}` segment as sent, when the route does not fix the type.
    segment: Option<String>,
    fixed: Option<ResourceKind>,
    /// The `{id}` segment (empty under `/Users` and `/Groups`).
    pub id: String,
}

impl Endpoint {
    /// The resource type, or SCIM's 404 for a segment that names none.
    pub fn kind(&self) -> ScimResult<ResourceKind> {
        match self.fixed {
            Some(kind) => Ok(kind),
            None => kind_from_segment(self.segment.as_deref().unwrap_or_default()),
        }
    }
}

impl FromRequest for Endpoint {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let info = req.match_info();
        ready(Ok(Endpoint {
            segment: info.get("resource").map(str::to_owned),
            fixed: req.app_data::<RouteKind>().map(|k| k.0),
            id: info.get("id").unwrap_or_default().to_owned(),
        }))
    }
}
