//! `tableau-scim ops`: what the journal says was done, and why — for the admin who wants to
//! know what happened to a user or a group.

use crate::provision::compensation::is_undo;
use crate::store::{DEFAULT_TENANT, Operation, OperationState, StepState, Store};
use std::fmt::Write;

/// One operation with its steps, as readable text.
pub fn describe(op: &Operation) -> String {
    let mut out = String::new();
    let status = op
        .response_status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into());
    // An operation whose steps were undone after a permanent failure says so: "failed,
    // compensated" (or "running, compensating" while its undo steps run).
    let compensated = op.steps.iter().any(|s| is_undo(&s.kind));
    let state = match (compensated, op.state) {
        (true, OperationState::Running) => "running, compensating".to_string(),
        (true, state) => format!("{}, compensated", state.as_str()),
        (false, state) => state.as_str().to_string(),
    };
    let _ = writeln!(
        out,
        "{}  {} {}  → {} ({})  {} {}  attempts {}  by {}",
        op.created,
        op.method,
        op.path,
        status,
        state,
        op.resource_kind.as_str(),
        op.resource_id,
        op.attempts,
        if op.principal.is_empty() {
            "-"
        } else {
            &op.principal
        },
    );
    match &op.request_id {
        Some(request) => {
            let _ = writeln!(out, "  operation {}  request {request}", op.id);
        }
        None => {
            let _ = writeln!(out, "  operation {}", op.id);
        }
    }
    if let (OperationState::Held, Some(at)) = (op.state, &op.held) {
        let _ = writeln!(
            out,
            "  held {at} by the mass-removal guard ({} removal(s)): tableau-scim ops release | discard",
            op.removals
        );
    }
    if let Some(note) = &op.note {
        let _ = writeln!(out, "  note: {note}");
    }
    if let Some(detail) = op
        .error_body
        .as_ref()
        .and_then(|b| b.get("detail"))
        .and_then(|d| d.as_str())
    {
        let _ = writeln!(out, "  error: {detail}");
    }
    for s in &op.steps {
        let mark = match s.state {
            StepState::Done => "done",
            StepState::Failed => "FAILED",
            StepState::Pending => "pending",
            StepState::Planned => "planned",
        };
        let _ = write!(out, "  {:>2}. {:<18} {:<7}", s.idx + 1, s.kind, mark);
        if let (Some(m), Some(p)) = (&s.method, &s.path) {
            let _ = write!(out, " {m} {p}");
        }
        if let Some(st) = s.http_status {
            let _ = write!(out, " → {st}");
        }
        if let Some(code) = &s.tableau_code {
            let _ = write!(out, " [{code}]");
        }
        if let Some(ms) = s.duration_ms {
            let _ = write!(out, " {ms} ms");
        }
        if let Some(l) = &s.luid {
            let _ = write!(out, " luid {l}");
        }
        let _ = writeln!(out);
        // Dry-run: the body of the call it would have made (never a secret).
        if let (StepState::Planned, Some(body)) = (s.state, &s.request_body) {
            let _ = writeln!(out, "      body {body}");
        }
        if let Some(e) = &s.error {
            let _ = writeln!(out, "      {e}");
        }
    }
    out
}

/// Print the latest operations (optionally of one resource), newest first.
pub async fn print_operations(
    store: &dyn Store,
    resource: Option<&str>,
    limit: i64,
) -> anyhow::Result<()> {
    let ops = store
        .list_operations(DEFAULT_TENANT, resource, limit)
        .await?;
    if ops.is_empty() {
        println!("no operations recorded");
    }
    for op in &ops {
        println!("{}", describe(op));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceKind;
    use crate::store::StepRecord;
    use serde_json::json;

    #[test]
    fn describes_steps_codes_and_errors() {
        let step = |idx, kind: &str, state, code: Option<&str>, error: Option<&str>| StepRecord {
            idx,
            kind: kind.into(),
            description: json!({}),
            state,
            method: Some("POST".into()),
            path: Some("/api/3.27/sites/s/users".into()),
            request_body: None,
            http_status: Some(409),
            tableau_code: code.map(str::to_string),
            duration_ms: Some(12),
            luid: Some("L1".into()),
            error: error.map(str::to_string),
            started: None,
            finished: None,
            calls: None,
        };
        let op = Operation {
            tenant: "default".into(),
            id: "op-1".into(),
            idem_key: None,
            explicit_key: false,
            principal: "token:abcd1234".into(),
            method: "POST".into(),
            path: "/scim/v2/Users".into(),
            digest: "d".into(),
            resource_kind: ResourceKind::User,
            resource_id: "u-1".into(),
            intent: json!({}),
            state: OperationState::Failed,
            attempts: 1,
            response_status: Some(409),
            error_body: Some(json!({"detail": "Tableau has no licence left"})),
            created: "2026-11-28T05:00:00Z".into(),
            updated: "2026-11-28T05:00:00Z".into(),
            finished: None,
            request_id: Some("req-42".into()),
            removals: 0,
            held: None,
            note: None,
            request_body: None,
            resource_name: None,
            seq: 1,
            steps: vec![step(
                0,
                "AddUser",
                StepState::Failed,
                Some("409014"),
                Some("no seats"),
            )],
        };
        let text = describe(&op);
        assert!(
            text.contains("POST /scim/v2/Users  → 409 (failed)"),
            "{text}"
        );
        assert!(text.contains("error: Tableau has no licence left"));
        assert!(text.contains("AddUser") && text.contains("FAILED") && text.contains("[409014]"));
        assert!(text.contains("no seats") && text.contains("by token:abcd1234"));
        let mut compensated = op.clone();
        compensated
            .steps
            .push(step(1, "undo:RemoveUser", StepState::Done, None, None));
        let text = describe(&compensated);
        assert!(text.contains("→ 409 (failed, compensated)"), "{text}");
        assert!(text.contains("undo:RemoveUser"), "{text}");
        assert!(text.contains("operation op-1  request req-42"), "{text}");
    }
}
