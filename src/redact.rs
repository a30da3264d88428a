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
    // Asked for every key of every journaled body: compared without a lower-case copy.
    contains_ignore_case(key, "password")
        || contains_ignore_case(key, "secret")
        || [
            "token",
            "jwt",
            "accesstoken",
            "access_token",
            "refreshtoken",
            "refresh_token",
            "idtoken",
            "id_token",
            "authorization",
            "x-tableau-auth",
        ]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The words every secret key of [`is_secret_key`] holds, lower-case: a body with none of them
/// has nothing to redact.
const SECRET_WORDS: [&str; 6] = [
    "password",
    "secret",
    "token",
    "jwt",
    "authorization",
    "x-tableau-auth",
];

/// Whether a body may hold a secret: one of [`SECRET_WORDS`] in any case, or a `\u` escape
/// (JSON could spell a key with it). Most bodies (a user's Tableau answer, an Okta create)
/// hold none and are kept as sent, without a parse.
fn may_hold_secret(body: &[u8]) -> bool {
    let lower = body.to_ascii_lowercase();
    let lower = String::from_utf8_lossy(&lower);
    SECRET_WORDS.iter().any(|w| lower.contains(w)) || lower.contains("\\u")
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

/// A body as the journal keeps it: as sent when it holds no sign of a secret
/// (`may_hold_secret`); otherwise JSON redacted by [`redact_json`], and anything else (XML,
/// text) replaced whole; cut at [`MAX_BODY_CHARS`]. `None` for an empty body.
pub fn redact_body(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = if may_hold_secret(body) {
        match serde_json::from_slice::<Value>(body) {
            Ok(json) => redact_json(&json).to_string(),
            Err(_) => format!("{REDACTED} ({} bytes, not JSON)", body.len()),
        }
    } else {
        String::from_utf8_lossy(body).into_owned()
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
    fn a_body_without_a_secret_is_kept_as_sent() {
        let answer = br#"{"user": {"id": "9f", "name": "a@b.c", "siteRole": "Viewer",
            "authSetting": "ServerDefault"}}"#;
        assert_eq!(
            redact_body(answer).as_deref(),
            std::str::from_utf8(answer).ok()
        );
        // A key spelt with an escape is still found: such a body is parsed.
        let escaped = br#"{"pass\u0077ord": "hunter2", "a": 1}"#;
        let text = redact_body(escaped).unwrap_or_default();
        assert!(
            !text.contains("hunter2") && text.contains(REDACTED),
            "{text}"
        );
        let upper = br#"{"PASSWORD": "hunter2"}"#;
        let text = redact_body(upper).unwrap_or_default();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(is_secret_key("X-Tableau-Auth") && is_secret_key("clientSECRET"));
        assert!(!is_secret_key("personalAccessTokenName") && !is_secret_key("authSetting"));
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
