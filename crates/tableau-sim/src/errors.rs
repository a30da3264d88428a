//! Tableau REST API errors: a six-digit code whose first three digits are the HTTP status,
//! a summary and a detail, exactly as Tableau puts them in `<error>` / `{"error":{…}}`.

use actix_web::http::StatusCode;

/// One Tableau error answer. The constructors below carry Tableau's documented wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Six digits, e.g. `409000`.
    pub code: u32,
    pub summary: String,
    pub detail: String,
}

impl ApiError {
    pub fn new(code: u32, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            code,
            summary: summary.into(),
            detail: detail.into(),
        }
    }

    /// The HTTP status is the first three digits of the code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16((self.code / 1000) as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400000, "Bad Request", detail)
    }

    pub fn malformed_payload() -> Self {
        Self::bad_request("Payload is either malformed or incomplete")
    }

    /// What Tableau's JSON deserialiser answers for a key it does not know.
    pub fn unknown_json_field(field: &str, class: &str) -> Self {
        Self::bad_request(format!(
            "Deserialization problem: Unrecognized field \"{field}\" (class com.tableausoftware.api.rest.viewmodels.{class}), not marked as ignorable"
        ))
    }

    pub fn invalid_page_number() -> Self {
        Self::new(
            400006,
            "Bad Request",
            "Invalid page number. The page number must be a positive integer that does not exceed the number of available pages.",
        )
    }

    pub fn invalid_page_size() -> Self {
        Self::new(
            400007,
            "Bad Request",
            "Invalid page size. The page size must be an integer between 1 and 1000.",
        )
    }

    pub fn invalid_site_role(role: &str) -> Self {
        Self::new(
            400013,
            "Bad Request",
            format!(
                "Invalid site role: '{role}'. The site role must be Creator, Explorer, ExplorerCanPublish, SiteAdministratorCreator, SiteAdministratorExplorer, Unlicensed, or Viewer."
            ),
        )
    }

    /// Update User refused because a "grant role on sign-in" group holds the user's role up
    /// (Tableau KB "Unable to update user's site role when syncing user via SCIM").
    pub fn user_update_problem(user: &str) -> Self {
        Self::new(
            400012,
            "Bad Request",
            format!("There was a problem updating user '{user}'."),
        )
    }

    pub fn deletion_failed(detail: impl Into<String>) -> Self {
        Self::new(400032, "Bad Request", detail)
    }

    pub fn no_credentials() -> Self {
        Self::new(
            401000,
            "Unauthorized Access",
            "No authentication credentials were provided.",
        )
    }

    pub fn signin_error(detail: impl Into<String>) -> Self {
        Self::new(401001, "Signin Error", detail)
    }

    pub fn invalid_credentials() -> Self {
        Self::new(
            401002,
            "Unauthorized Access",
            "Invalid authentication credentials were provided.",
        )
    }

    pub fn page_size_limit() -> Self {
        Self::new(
            403014,
            "Page Size Limit Exceeded",
            "The page size limit of 1000 was exceeded.",
        )
    }

    /// A connected-app session lacks the scope a method needs (code not documented; see docs/simulator.md).
    pub fn missing_scope(scope: &str) -> Self {
        Self::new(
            403000,
            "Forbidden",
            format!("The connected app token does not grant the scope '{scope}'."),
        )
    }

    pub fn site_not_found(site: &str) -> Self {
        Self::new(
            404000,
            "Resource Not Found",
            format!("Site '{site}' could not be found."),
        )
    }

    pub fn user_not_found(user: &str) -> Self {
        Self::new(
            404002,
            "Resource Not Found",
            format!("User '{user}' could not be found."),
        )
    }

    pub fn unknown_resource(path: &str) -> Self {
        Self::new(
            404003,
            "Resource Not Found",
            format!("Unknown resource '{path}' specified in URI."),
        )
    }

    pub fn group_not_found(group: &str) -> Self {
        Self::new(
            404012,
            "Resource Not Found",
            format!("Group '{group}' could not be found."),
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405000,
            "Invalid Request Method",
            format!("Request type '{method}' is not supported for this resource."),
        )
    }

    pub fn user_exists() -> Self {
        Self::new(
            409000,
            "Conflict",
            "User conflict: The specified user already exists on the site.",
        )
    }

    pub fn user_owns_content() -> Self {
        Self::new(
            409003,
            "Conflict",
            "User asset conflict: The specified user still owns content on Tableau Server and cannot be deleted.",
        )
    }

    pub fn guest_conflict() -> Self {
        Self::new(
            409005,
            "Conflict",
            "Guest user conflict: The Guest user cannot be added to or updated on a site.",
        )
    }

    pub fn group_name_taken(name: &str) -> Self {
        Self::new(
            409009,
            "Conflict",
            format!(
                "Group name conflict: A group with the name '{name}' already exists on the site. Group names are case-insensitive."
            ),
        )
    }

    pub fn already_member() -> Self {
        Self::new(
            409011,
            "Conflict",
            "User conflict: The specified user is already a member of the group.",
        )
    }

    pub fn licence_capacity(role: &str) -> Self {
        Self::new(
            409014,
            "Conflict",
            format!(
                "Licensing conflict: The user cannot be assigned the site role '{role}' because the licensing role that has insufficient capacity."
            ),
        )
    }

    pub fn too_many_requests() -> Self {
        Self::new(
            429000,
            "Too Many Requests",
            "Too many requests. Try again later.",
        )
    }

    pub fn internal(code: u32) -> Self {
        Self::new(
            code,
            "Internal Server Error",
            "The server encountered an error and cannot complete your request.",
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_first_three_digits() {
        assert_eq!(ApiError::user_exists().status(), StatusCode::CONFLICT);
        assert_eq!(ApiError::page_size_limit().status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::internal(503000).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
