//! Ground floor: secrets taken out of what the journal keeps of a request or a Tableau
//! exchange. One place for the rule, used for the SCIM request an operation records and for
//! each Tableau call's request and response bodies (the sign-in's credentials, the session
//! token Tableau answers with, a user's password).

use serde_json::Value;

/// What a secret's value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The most of one body the journal keeps; a longer one is cut and says so.
pub const MAX_BODY_CHARS: usize = 16 * 1024;

/// Whether an object key names a secret: any key holding `password` or `secret`
/// (`password`, `personalAccessTokenSecret`, `clientSecret`), and the token keys (`token`,
/// `jwt`, `accessToken`, `refresh_token`, `authorization`). `personalAccessTokenName` is a
/// name, not a secret, and stays.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || k.contains("secret")
        || matches!(
            k.as_str(),
            "token"
                | "jwt"
                | "accesstoken"
                | "access_token"
                | "refreshtoken"
                | "refresh_token"
                | "idtoken"
                | "id_token"
                | "authorization"
                | "x-tableau-auth"
        )
}

/// A copy of `value` with every secret's value replaced by [`REDACTED`], at any depth. SCIM
/// PATCH names its target in `path` and carries it in `value`: an operation whose path names
/// a secret attribute has its value redacted too.
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let names_secret = map
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| p.split(['.', '[', ':']).any(is_secret_key));
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = is_secret_key(k) || (names_secret && k == "value");
                        let v = if secret {
                            Value::String(REDACTED.into())
                        } else {
                            redact_json(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// A body as the journal keeps it: JSON redacted by [`redact_json`]; anything else (XML,
/// text) kept only when it has no sign of a secret, else replaced whole; cut at
/// [`MAX_BODY_CHARS`]. `None` for an empty body.
pub fn redact_body(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(json) => redact_json(&json).to_string(),
        Err(_) => {
            let raw = String::from_utf8_lossy(body);
            let lower = raw.to_ascii_lowercase();
            if ["password", "secret", "token", "jwt"]
                .iter()
                .any(|w| lower.contains(w))
            {
                format!("{REDACTED} ({} bytes, not JSON)", body.len())
            } else {
                raw.into_owned()
            }
        }
    };
    Some(truncate(text))
}

fn truncate(text: String) -> String {
    if text.chars().count() <= MAX_BODY_CHARS {
        return text;
    }
    let total = text.len();
    let cut: String = text.chars().take(MAX_BODY_CHARS).collect();
    format!("{cut}… [cut: {total} bytes in all]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sign_in_credentials_and_session_tokens_are_redacted() {
        let pat = json!({"credentials": {"personalAccessTokenName": "bridge",
            "personalAccessTokenSecret": "s3cr3t", "site": {"contentUrl": "acme"}}});
        let out = redact_json(&pat);
        assert_eq!(out["credentials"]["personalAccessTokenSecret"], REDACTED);
        assert_eq!(out["credentials"]["personalAccessTokenName"], "bridge");
        assert_eq!(out["credentials"]["site"]["contentUrl"], "acme");
        let jwt = json!({"credentials": {"jwt": "eyJ.x.y", "site": {"contentUrl": ""}}});
        assert_eq!(redact_json(&jwt)["credentials"]["jwt"], REDACTED);
        let answer = json!({"credentials": {"token": "abc", "site": {"id": "s"}}});
        let text = redact_body(answer.to_string().as_bytes()).unwrap_or_default();
        assert!(
            !text.contains("abc") && text.contains("\"id\":\"s\""),
            "{text}"
        );
    }

    #[test]
    fn scim_passwords_are_redacted_in_documents_and_patch_operations() {
        let user = json!({"userName": "a@b.c", "password": "hunter2",
            "x": [{"clientSecret": "k"}]});
        let out = redact_json(&user);
        assert_eq!(out["password"], REDACTED);
        assert_eq!(out["x"][0]["clientSecret"], REDACTED);
        assert_eq!(out["userName"], "a@b.c");
        let patch = json!({"Operations": [
            {"op": "replace", "path": "password", "value": "hunter2"},
            {"op": "replace", "path": "displayName", "value": "Al"},
            {"op": "replace", "value": {"password": "p2", "active": true}}]});
        let out = redact_json(&patch);
        assert_eq!(out["Operations"][0]["value"], REDACTED);
        assert_eq!(out["Operations"][1]["value"], "Al");
        assert_eq!(out["Operations"][2]["value"]["password"], REDACTED);
        assert_eq!(out["Operations"][2]["value"]["active"], true);
    }

    #[test]
    fn other_bodies_are_kept_unless_they_look_secret_and_long_ones_are_cut() {
        assert_eq!(redact_body(b""), None);
        assert_eq!(
            redact_body(b"<tsResponse/>").as_deref(),
            Some("<tsResponse/>")
        );
        let xml = redact_body(b"<credentials token=\"abc\"/>").unwrap_or_default();
        assert!(xml.starts_with(REDACTED) && !xml.contains("abc"), "{xml}");
        let long = json!({"a": "x".repeat(MAX_BODY_CHARS + 10)}).to_string();
        let cut = redact_body(long.as_bytes()).unwrap_or_default();
        assert!(cut.contains("[cut:") && cut.chars().count() < MAX_BODY_CHARS + 60);
    }
}
