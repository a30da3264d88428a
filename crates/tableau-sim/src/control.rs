//! The control API under `/_sim/` (JSON, no sign-in; the simulator binds loopback only):
//!
//! | method | path | effect |
//! |---|---|---|
//! | GET | `/_sim/state` | the whole state as JSON ([`SimSnapshot`](super::state::SimSnapshot)) |
//! | GET | `/_sim/faults` | fault rules and counts of injected faults |
//! | POST | `/_sim/faults` | add rules: `{"spec":"…"}` or `{"specs":["…",…]}` |
//! | PUT | `/_sim/faults` | replace all rules (same body) |
//! | DELETE | `/_sim/faults` | clear all rules |
//! | PUT / DELETE | `/_sim/users/{luid-or-name}/content` | mark / unmark the user as owning content |
//! | POST | `/_sim/users/{luid-or-name}/content` | `{"kind":"workbook","name":"…","projectId":"…"}`: give the user an item |
//! | PUT | `/_sim/seats` | `{"Creator":5,"Viewer":null}`: set (or lift) seat limits |
//! | DELETE | `/_sim/sessions` | end every session (clients then get 401002) |

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use serde_json::{Value, json};

use super::content::ContentKind;
use super::faults::FaultRule;
use super::model::LicenceTier;
use super::state::SimState;

fn answer(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn problem(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    answer(status, json!({ "error": message.into() }))
}

pub fn handle(state: &SimState, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["_sim", "state"]) => match serde_json::to_value(state.snapshot()) {
            Ok(v) => answer(StatusCode::OK, v),
            Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        ("GET", ["_sim", "faults"]) => faults_view(state),
        ("POST" | "PUT", ["_sim", "faults"]) => set_faults(state, body, method == "PUT"),
        ("DELETE", ["_sim", "faults"]) => {
            state.clear_faults();
            faults_view(state)
        }
        ("POST", ["_sim", "users", who, "content"]) => add_content(state, who, body),
        (m @ ("PUT" | "DELETE"), ["_sim", "users", who, "content"]) => {
            mark_content_owner(state, who, m == "PUT")
        }
        ("PUT", ["_sim", "seats"]) => set_seats(state, body),
        ("DELETE", ["_sim", "sessions"]) => {
            let ended = state.end_all_sessions();
            answer(StatusCode::OK, json!({ "ended": ended }))
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            format!("no control endpoint {method} {path}"),
        ),
    }
}

fn faults_view(state: &SimState) -> HttpResponse {
    let faults = state.faults();
    answer(
        StatusCode::OK,
        json!({ "rules": faults.rules(), "injected": faults.counts() }),
    )
}

fn set_faults(state: &SimState, body: &[u8], replace: bool) -> HttpResponse {
    let specs: Vec<String> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => match (map.get("spec"), map.get("specs")) {
            (Some(Value::String(s)), None) => vec![s.clone()],
            (None, Some(Value::Array(items))) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "expected {\"spec\":\"…\"} or {\"specs\":[…]}",
                );
            }
        },
        _ => return problem(StatusCode::BAD_REQUEST, "expected a JSON object"),
    };
    let rules = match specs
        .iter()
        .map(|s| FaultRule::parse(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(rules) => rules,
        Err(why) => return problem(StatusCode::BAD_REQUEST, why),
    };
    if replace {
        state.replace_faults(rules);
    } else {
        for rule in rules {
            state.add_fault(rule);
        }
    }
    faults_view(state)
}

fn mark_content_owner(state: &SimState, who: &str, owns: bool) -> HttpResponse {
    let who = percent_encoding::percent_decode_str(who).decode_utf8_lossy();
    match state.set_owns_content(&who, owns) {
        Ok(id) => answer(StatusCode::OK, json!({ "id": id, "ownsContent": owns })),
        Err(e) => problem(StatusCode::NOT_FOUND, e.detail),
    }
}

fn add_content(state: &SimState, who: &str, body: &[u8]) -> HttpResponse {
    let who = percent_encoding::percent_decode_str(who).decode_utf8_lossy();
    let usage = "expected {\"kind\":\"project|workbook|datasource|flow\",\"name\":\"…\",\"projectId\":\"…\"} (projectId optional)";
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return problem(StatusCode::BAD_REQUEST, usage);
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .and_then(ContentKind::parse);
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty());
    let project = match map.get("projectId") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return problem(StatusCode::BAD_REQUEST, usage),
    };
    let (Some(kind), Some(name)) = (kind, name) else {
        return problem(StatusCode::BAD_REQUEST, usage);
    };
    match state.add_content(kind, name, &who, project) {
        Ok(id) => answer(
            StatusCode::CREATED,
            json!({ "id": id, "kind": kind, "name": name, "projectId": project }),
        ),
        Err(e) => problem(StatusCode::NOT_FOUND, e.detail),
    }
}

fn set_seats(state: &SimState, body: &[u8]) -> HttpResponse {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return problem(StatusCode::BAD_REQUEST, "expected {\"Creator\":N,…}");
    };
    let mut changes = Vec::new();
    for (tier, limit) in &map {
        let Some(tier) = LicenceTier::parse(tier) else {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("unknown licence tier '{tier}'"),
            );
        };
        let limit = match limit {
            Value::Null => None,
            v => match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "seat counts are non-negative integers or null",
                    );
                }
            },
        };
        changes.push((tier, limit));
    }
    for (tier, limit) in changes {
        state.set_seats(tier, limit);
    }
    answer(StatusCode::OK, json!({ "seats": state.snapshot().seats }))
}

/// An answer that never completes: the body fails before anything is written, so actix closes
/// the connection and the client sees it dropped.
pub fn dropped_connection() -> HttpResponse {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: connection dropped"))
    });
    HttpResponse::Ok().streaming(failing)
}
