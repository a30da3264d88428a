//! Between HTTP and the handlers: which format a client speaks, reading the request document,
//! checking it holds only what Tableau knows, and writing replies and errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use super::errors::{ApiError, ApiResult};
use super::node::Node;
use super::{json, xml};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// Responses are JSON when the client accepts `application/json`, XML otherwise.
    pub fn of_response(req: &HttpRequest) -> Format {
        header_has_json(req.headers().get(ACCEPT))
    }

    /// Request bodies are JSON when sent as `application/json`.
    pub fn of_request(req: &HttpRequest) -> Format {
        header_has_json(req.headers().get(CONTENT_TYPE))
    }
}

fn header_has_json(value: Option<&HeaderValue>) -> Format {
    match value.and_then(|v| v.to_str().ok()) {
        Some(v) if v.to_ascii_lowercase().contains("application/json") => Format::Json,
        _ => Format::Xml,
    }
}

/// A handler's successful answer.
#[derive(Debug)]
pub enum Reply {
    Document(StatusCode, Vec<Node>),
    NoContent,
}

impl Reply {
    pub fn ok(children: Vec<Node>) -> Reply {
        Reply::Document(StatusCode::OK, children)
    }

    pub fn created(child: Node) -> Reply {
        Reply::Document(StatusCode::CREATED, vec![child])
    }
}

/// The parsed request document (root `tsRequest`) and the format it came in.
pub struct RequestDoc {
    pub root: Node,
    pub format: Format,
}

impl RequestDoc {
    pub fn parse(body: &[u8], format: Format) -> ApiResult<RequestDoc> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "The content of the request body is missing or incomplete.",
            ));
        }
        let root = match format {
            Format::Json => json::parse(body)?,
            Format::Xml => xml::parse(body)?,
        };
        if root.name != "tsRequest" {
            return Err(ApiError::malformed_payload());
        }
        Ok(RequestDoc { root, format })
    }

    /// The root must hold exactly one of `allowed` elements; returns it.
    pub fn only_child(&self, allowed: &[&str]) -> ApiResult<&Node> {
        check_keys(&self.root, &[], allowed, "TsRequest", self.format)?;
        match self.root.children.as_slice() {
            [one] => Ok(one),
            _ => Err(ApiError::malformed_payload()),
        }
    }

    /// Like Tableau's deserialiser, refuses attributes or elements it does not know.
    pub fn check(
        &self,
        node: &Node,
        attrs: &[&str],
        children: &[&str],
        class: &str,
    ) -> ApiResult<()> {
        check_keys(node, attrs, children, class, self.format)
    }
}

fn check_keys(
    node: &Node,
    attrs: &[&str],
    children: &[&str],
    class: &str,
    format: Format,
) -> ApiResult<()> {
    let unknown = node
        .attrs
        .iter()
        .map(|(k, _)| k.as_ref())
        .find(|k| !attrs.contains(k))
        .or_else(|| {
            node.children
                .iter()
                .map(|c| c.name.as_ref())
                .find(|k| !children.contains(k))
        });
    match (unknown, format) {
        (None, _) => Ok(()),
        (Some(field), Format::Json) => Err(ApiError::unknown_json_field(field, class)),
        (Some(_), Format::Xml) => Err(ApiError::malformed_payload()),
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Xml => "application/xml;charset=utf-8",
        Format::Json => "application/json;charset=utf-8",
    }
}

pub fn render_reply(reply: Reply, format: Format, api_version: &str) -> HttpResponse {
    match reply {
        Reply::NoContent => HttpResponse::NoContent().finish(),
        Reply::Document(status, children) => {
            let body = match format {
                Format::Xml => xml::render(&children, api_version),
                Format::Json => json::render(&children),
            };
            HttpResponse::build(status)
                .content_type(content_type(format))
                .body(body)
        }
    }
}

pub fn render_error(error: &ApiError, format: Format, api_version: &str) -> HttpResponse {
    let body = match format {
        // Tableau's JSON error keeps the order summary, detail, code; code is a string.
        Format::Json => serde_json::json!({
            "error": {"summary": error.summary, "detail": error.detail, "code": error.code.to_string()}
        })
        .to_string(),
        Format::Xml => xml::render(
            &[Node::new("error")
                .attr("code", error.code.to_string())
                .child(Node::text_element("summary", error.summary.clone()))
                .child(Node::text_element("detail", error.detail.clone()))],
            api_version,
        ),
    };
    HttpResponse::build(error.status())
        .content_type(content_type(format))
        .body(body)
}
