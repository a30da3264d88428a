//! The one SCIM error type (RFC 7644 §3.12) and the one table that maps every error kind to its
//! HTTP status and `scimType`. Every layer converts its failures into a `ScimError`; the HTTP
//! layer renders it, so a client always gets a SCIM error body and never a panic or a bare 500.

use serde_json::{Value, json};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Defines `ErrorKind`, its table and the list of all kinds from one list of rows, so that a
/// kind cannot exist without its status and `scimType`.
macro_rules! error_table {
    ($($(#[$doc:meta])* $kind:ident => ($status:expr, $scim_type:expr),)+) => {
        /// What went wrong, independent of how it is rendered. Each kind has exactly one row in
        /// [`ErrorKind::status_and_type`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)+
        }

        impl ErrorKind {
            /// The table: HTTP status and RFC 7644 `scimType` (only 400, 403 and 409 carry one).
            pub const fn status_and_type(self) -> (u16, Option<&'static str>) {
                match self {
                    $(ErrorKind::$kind => ($status, $scim_type),)+
                }
            }

            const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)+];
        }
    };
}

error_table! {
    InvalidFilter => (400, Some("invalidFilter")),
    TooMany => (400, Some("tooMany")),
    Uniqueness => (409, Some("uniqueness")),
    Mutability => (400, Some("mutability")),
    InvalidSyntax => (400, Some("invalidSyntax")),
    InvalidPath => (400, Some("invalidPath")),
    NoTarget => (400, Some("noTarget")),
    InvalidValue => (400, Some("invalidValue")),
    InvalidVersion => (400, Some("invalidVers")),
    Sensitive => (403, Some("sensitive")),
    Unauthorized => (401, None),
    Forbidden => (403, None),
    NotFound => (404, None),
    /// A conflict with the target system's state that is not a uniqueness clash (e.g. no
    /// Tableau licence left); RFC 7644 defines no `scimType` for it.
    Conflict => (409, None),
    MethodNotAllowed => (405, None),
    NotAcceptable => (406, None),
    PreconditionFailed => (412, None),
    PayloadTooLarge => (413, None),
    /// An `Idempotency-Key` reused for another request (IETF httpapi Idempotency-Key draft).
    UnprocessableContent => (422, None),
    UnsupportedMediaType => (415, None),
    NotImplemented => (501, None),
    Unavailable => (503, None),
    Internal => (500, None),
}

impl ErrorKind {
    /// The kind a recorded error body stands for (the table read backwards).
    pub fn from_status(status: u16, scim_type: Option<&str>) -> ErrorKind {
        let all = Self::ALL.iter().copied();
        all.clone()
            .find(|k| k.status_and_type() == (status, scim_type))
            .or_else(|| all.clone().find(|k| k.status_and_type().0 == status))
            .unwrap_or(ErrorKind::Internal)
    }
}

/// A SCIM error: a kind plus a human-readable `detail` for the admin reading the IdP's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub kind: ErrorKind,
    pub detail: String,
    /// Seconds for a `Retry-After` header (503 while Tableau is unreachable, 429).
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidFilter, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidSyntax, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidPath, detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidValue, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Mutability, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Uniqueness, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> u16 {
        self.kind.status_and_type().0
    }

    pub fn scim_type(&self) -> Option<&'static str> {
        self.kind.status_and_type().1
    }

    /// The RFC 7644 §3.12 body; `status` is a string, as the RFC requires.
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = Value::String(t.to_string());
        }
        body["detail"] = Value::String(self.detail.clone());
        body
    }
}

pub type ScimResult<T> = Result<T, ScimError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let e = ScimError::uniqueness("userName 'x' is already in use");
        let b = e.to_body();
        assert_eq!(b["status"], "409");
        assert_eq!(b["scimType"], "uniqueness");
        assert_eq!(b["schemas"][0], ERROR_SCHEMA);
    }

    #[test]
    fn the_table_reads_backwards() {
        for &k in ErrorKind::ALL {
            let (status, t) = k.status_and_type();
            assert_eq!(ErrorKind::from_status(status, t), k);
        }
    }

    #[test]
    fn not_found_has_no_scim_type() {
        let b = ScimError::not_found("no such user").to_body();
        assert_eq!(b["status"], "404");
        assert!(b.get("scimType").is_none());
    }
}
