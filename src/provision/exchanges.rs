//! A step's HTTP exchanges with Tableau as the journal keeps them (`operation_steps.calls`):
//! what the admin console shows as each call's request and response. Bodies arrive redacted
//! from the client (`tableau::calls`); this numbers the attempts: an exchange repeating the
//! previous one's method and path is its retry.

use crate::tableau::CallRecord;
use serde_json::{Value, json};

/// The exchanges as a JSON array, in the order they were made.
pub fn calls_json(calls: &[CallRecord]) -> Value {
    let mut attempt = 0u32;
    let mut previous: Option<(&str, &str)> = None;
    let items = calls
        .iter()
        .map(|c| {
            let this = (c.method.as_str(), c.path.as_str());
            attempt = if previous == Some(this) {
                attempt + 1
            } else {
                1
            };
            previous = Some(this);
            json!({
                "method": c.method,
                "path": c.path,
                "status": c.status,
                "code": c.code,
                "duration_ms": u64::try_from(c.duration.as_millis()).unwrap_or(u64::MAX),
                "attempt": attempt,
                "request_body": c.request_body,
                "response_body": c.response_body,
            })
        })
        .collect();
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call(method: &str, path: &str, status: u16) -> CallRecord {
        CallRecord {
            method: method.into(),
            path: path.into(),
            status: Some(status),
            code: None,
            duration: Duration::from_millis(7),
            request_body: Some("{}".into()),
            response_body: None,
        }
    }

    #[test]
    fn a_repeated_exchange_counts_as_a_retry() {
        let calls = [
            call("POST", "/api/3.27/sites/s/users", 429),
            call("POST", "/api/3.27/sites/s/users", 201),
            call("PUT", "/api/3.27/sites/s/users/u", 200),
        ];
        let json = calls_json(&calls);
        let attempts: Vec<_> = json
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["attempt"].as_u64())
            .collect();
        assert_eq!(attempts, [Some(1), Some(2), Some(1)]);
        assert_eq!(json[0]["status"], 429);
        assert_eq!(json[2]["duration_ms"], 7);
        assert_eq!(json[0]["request_body"], "{}");
    }
}
