//! Typed Tableau errors. Tableau answers `{"error":{"summary","detail","code"}}` where the code
//! is six digits and its first three are the HTTP status (reference §5). The engine decides
//! what a failure means from [`TableauCode`], never from message text.

use std::fmt;
use std::time::Duration;

/// The documented error codes a users-and-groups client can meet (reference §5); anything
/// else is kept verbatim in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TableauCode {
    /// 400000: body missing, malformed or rejected (also "Invalid email address").
    BadRequest,
    /// 400003: payload malformed or incomplete (Add User; the user may exist anyway).
    MalformedPayload,
    /// 400006: invalid page number.
    InvalidPageNumber,
    /// 400007: invalid page size.
    InvalidPageSize,
    /// 400012: Update User refused; Tableau answers it for a site role below the minimum site
    /// role of one of the user's groups ("grant role on sign-in"), without naming the group.
    UserUpdateProblem,
    /// 400013: invalid site role.
    InvalidSiteRole,
    /// 400032: deletion failed (Remove User from Group).
    DeletionFailed,
    /// 401000: no credentials (also seen for expired tokens).
    MissingCredentials,
    /// 401001: sign-in failed (bad credentials or site).
    LoginError,
    /// 401002: invalid or expired token (PAT signed in elsewhere, idle timeout).
    InvalidCredentials,
    /// 403009: cannot change one's own licensing role.
    LicensingUpdateForbidden,
    /// 403014: page size limit exceeded.
    PageSizeLimitExceeded,
    /// 403xxx other than the above (e.g. a connected-app scope missing).
    Forbidden(String),
    /// 404000: site not found.
    SiteNotFound,
    /// 404002: user not found (also a non-member on Remove User from Group).
    UserNotFound,
    /// 404003: unknown resource (wrong URI or API version).
    ResourceNotFound,
    /// 404012: group not found.
    GroupNotFound,
    /// 405000: wrong method.
    InvalidMethod,
    /// 409000: user already on the site (Add) or name clash (Update).
    UserConflict,
    /// 409003: user owns content and cannot be removed (Tableau made them Unlicensed).
    UserOwnsContent,
    /// 409005: guest user conflict.
    GuestUserConflict,
    /// 409009: group name already used (case-insensitive).
    GroupNameConflict,
    /// 409011: user already a member of the group.
    AlreadyGroupMember,
    /// 409014: no licence seat left for the requested role.
    LicenceCapacity,
    /// 429000: throttled.
    TooManyRequests,
    /// 5xx codes (500000, 503000, …).
    ServerError(String),
    /// Any other code, as sent.
    Other(String),
}

impl TableauCode {
    pub fn parse(code: &str) -> Self {
        match code {
            "400000" => Self::BadRequest,
            "400003" => Self::MalformedPayload,
            "400006" => Self::InvalidPageNumber,
            "400007" => Self::InvalidPageSize,
            "400012" => Self::UserUpdateProblem,
            "400013" => Self::InvalidSiteRole,
            "400032" => Self::DeletionFailed,
            "401000" => Self::MissingCredentials,
            "401001" => Self::LoginError,
            "401002" => Self::InvalidCredentials,
            "403009" => Self::LicensingUpdateForbidden,
            "403014" => Self::PageSizeLimitExceeded,
            "404000" => Self::SiteNotFound,
            "404002" => Self::UserNotFound,
            "404003" => Self::ResourceNotFound,
            "404012" => Self::GroupNotFound,
            "405000" => Self::InvalidMethod,
            "409000" => Self::UserConflict,
            "409003" => Self::UserOwnsContent,
            "409005" => Self::GuestUserConflict,
            "409009" => Self::GroupNameConflict,
            "409011" => Self::AlreadyGroupMember,
            "409014" => Self::LicenceCapacity,
            "429000" => Self::TooManyRequests,
            c if c.starts_with("403") => Self::Forbidden(c.to_owned()),
            c if c.starts_with('5') => Self::ServerError(c.to_owned()),
            c => Self::Other(c.to_owned()),
        }
    }

    /// The six-digit code as Tableau writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::BadRequest => "400000",
            Self::MalformedPayload => "400003",
            Self::InvalidPageNumber => "400006",
            Self::InvalidPageSize => "400007",
            Self::UserUpdateProblem => "400012",
            Self::InvalidSiteRole => "400013",
            Self::DeletionFailed => "400032",
            Self::MissingCredentials => "401000",
            Self::LoginError => "401001",
            Self::InvalidCredentials => "401002",
            Self::LicensingUpdateForbidden => "403009",
            Self::PageSizeLimitExceeded => "403014",
            Self::SiteNotFound => "404000",
            Self::UserNotFound => "404002",
            Self::ResourceNotFound => "404003",
            Self::GroupNotFound => "404012",
            Self::InvalidMethod => "405000",
            Self::UserConflict => "409000",
            Self::UserOwnsContent => "409003",
            Self::GuestUserConflict => "409005",
            Self::GroupNameConflict => "409009",
            Self::AlreadyGroupMember => "409011",
            Self::LicenceCapacity => "409014",
            Self::TooManyRequests => "429000",
            Self::Forbidden(c) | Self::ServerError(c) | Self::Other(c) => c,
        }
    }

    /// Codes that mean "the session token is no longer good": sign in again.
    pub fn is_session_expired(&self) -> bool {
        matches!(self, Self::InvalidCredentials | Self::MissingCredentials)
    }
}

impl fmt::Display for TableauCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TableauError {
    /// Tableau answered with an error body (or a non-2xx status without one).
    #[error("Tableau error {code} (HTTP {status}): {summary}: {detail}")]
    Api {
        status: u16,
        code: TableauCode,
        summary: String,
        detail: String,
        /// From a `Retry-After` header, when Tableau sent one.
        retry_after: Option<Duration>,
    },
    /// Connection refused, reset or dropped before an answer.
    #[error("cannot reach Tableau: {0}")]
    Transport(String),
    #[error("Tableau did not answer in time")]
    Timeout,
    /// Sign-in refused or impossible (bad credentials, JWT not minted).
    #[error("Tableau sign-in failed: {0}")]
    Auth(String),
    /// Tableau answered something this client cannot understand, or the client is misused
    /// (bad settings, bad URL).
    #[error("unexpected answer from Tableau: {0}")]
    Protocol(String),
}

impl TableauError {
    /// Worth retrying unchanged later: 429, 5xx, timeouts, lost connections.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(_) | Self::Timeout => true,
            Self::Auth(_) | Self::Protocol(_) => false,
        }
    }

    /// How long Tableau asked us to wait, if it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&TableauCode> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn is_session_expired(&self) -> bool {
        self.code().is_some_and(TableauCode::is_session_expired)
    }

    pub(crate) fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_builder() {
            Self::Protocol(e.to_string())
        } else {
            // Show the source chain ("connection closed before message completed"); reqwest
            // errors never carry headers, so no token can leak through here.
            let mut msg = e.to_string();
            let mut refused = false;
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                if let Some(io) = s.downcast_ref::<std::io::Error>() {
                    refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
                }
                source = s.source();
            }
            Self::Transport(format!(
                "{}: {msg}",
                transport_cause(&msg, refused, e.is_connect())
            ))
        }
    }
}

/// The cause of a transport failure, first in its message so that a refused connection, a
/// name that does not resolve and a TLS failure each read differently.
pub(crate) fn transport_cause(chain: &str, refused: bool, connecting: bool) -> &'static str {
    let lower = chain.to_ascii_lowercase();
    if refused || lower.contains("connection refused") {
        "connection refused (is tableau.url right, and is Tableau up?)"
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        "cannot resolve Tableau's host name (DNS; check tableau.url)"
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("invalid peer")
    {
        "TLS failure (is the certificate valid and publicly trusted, and the URL https://?)"
    } else if connecting {
        "cannot connect"
    } else {
        "connection lost"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_classify() {
        for c in [
            "400013", "401002", "404012", "409011", "429000", "503000", "403000", "418000",
        ] {
            assert_eq!(TableauCode::parse(c).as_str(), c);
        }
        assert_eq!(
            TableauCode::parse("503000"),
            TableauCode::ServerError("503000".into())
        );
        let api = |status, code: &str| TableauError::Api {
            status,
            code: TableauCode::parse(code),
            summary: String::new(),
            detail: String::new(),
            retry_after: None,
        };
        assert!(api(429, "429000").is_transient());
        assert!(api(503, "503000").is_transient());
        assert!(!api(400, "400013").is_transient());
        assert!(api(401, "401002").is_session_expired());
        assert!(TableauError::Timeout.is_transient());
    }

    #[test]
    fn transport_causes_are_named() {
        let causes = [
            transport_cause(
                "tcp connect error: Connection refused (os error 111)",
                false,
                true,
            ),
            transport_cause(
                "dns error: failed to lookup address information",
                false,
                true,
            ),
            transport_cause("invalid peer certificate: UnknownIssuer", false, true),
            transport_cause("connection closed before message completed", false, false),
        ];
        assert!(causes[0].starts_with("connection refused"));
        assert!(causes[1].contains("DNS"));
        assert!(causes[2].starts_with("TLS"));
        assert_eq!(causes[3], "connection lost");
    }
}
