//! The mass-removal guard's journal calls, on SQLite and PostgreSQL (see `support`): holding
//! an operation commits its SCIM side, a held operation does not block its resource, release
//! and discard act on held operations only, a later change's discard of the held operations
//! on its resource, and the removals summed over a window. Dry-run's calls too: an operation
//! finished as planned commits its SCIM side, and planned operations converge.

use serde_json::json;
use std::sync::Arc;
use tableau_scim::model::ResourceKind::{self, Group, User};
use tableau_scim::store::{
    NewOperation, Opened, Operation, OperationState, PlannedStep, ResourceCommit, StepState, Store,
    StoreError,
};

use crate::support::{new_id, obj, tenant};

crate::store_tests!(
    hold_commits_the_resource_and_keeps_the_steps,
    held_does_not_block_the_resource,
    release_runs_again_and_refuses_while_busy,
    discard_and_discard_on_resource,
    removals_are_summed_over_the_window,
    held_operations_oldest_first_with_steps,
    planned_operations_commit_and_converge,
);

fn new_op(t: &str, kind: ResourceKind, resource_id: &str, removals: i64) -> NewOperation {
    NewOperation {
        tenant: t.to_owned(),
        id: new_id(),
        idem_key: new_id(),
        explicit_key: false,
        principal: "token:okta".to_owned(),
        method: "PATCH".to_owned(),
        path: format!("/scim/v2/Users/{resource_id}"),
        digest: "ab".repeat(32),
        resource_kind: kind,
        resource_id: resource_id.to_owned(),
        intent: json!({ "n": 1 }),
        claimed_name: None,
        request_id: None,
        removals,
        request_body: None,
        resource_name: None,
    }
}

fn plan() -> Vec<PlannedStep> {
    vec![PlannedStep {
        idx: 0,
        kind: "RemoveUser".to_owned(),
        description: json!({ "step": "RemoveUser", "user_id": "u" }),
    }]
}

async fn open(store: &Arc<dyn Store>, op: &NewOperation) -> Operation {
    match store.open_operation(op, &plan()).await.expect("open") {
        Opened::Created(created) => created,
        other => panic!("expected Created, got {other:?}"),
    }
}

async fn get(store: &Arc<dyn Store>, t: &str, id: &str) -> Operation {
    store.get_operation(t, id).await.unwrap().expect("exists")
}

/// A user with a held delete of it, as the engine leaves one.
async fn held_delete(store: &Arc<dyn Store>, t: &str) -> (String, Operation) {
    let id = new_id();
    store
        .create(t, User, &id, &obj(json!({ "userName": new_id() })), &[])
        .await
        .unwrap();
    let op = new_op(t, User, &id, 1);
    open(store, &op).await;
    let commit = ResourceCommit::Delete {
        kind: User,
        id: id.clone(),
    };
    let answer = store.hold_operation(t, &op.id, 204, &commit).await.unwrap();
    assert!(answer.is_none(), "a delete returns no resource");
    (id, get(store, t, &op.id).await)
}

async fn hold_commits_the_resource_and_keeps_the_steps(store: Arc<dyn Store>) {
    let t = tenant();
    let (id, held) = held_delete(&store, &t).await;
    assert!(store.get(&t, User, &id, false).await.unwrap().is_none());
    assert_eq!(held.state, OperationState::Held);
    assert_eq!(held.response_status, Some(204));
    assert_eq!(held.removals, 1);
    assert!(held.held.is_some() && held.finished.is_some());
    assert_eq!(
        held.idem_key, None,
        "an implicit key is released as on success"
    );
    assert_eq!(held.steps.len(), 1);
    assert_eq!(held.steps[0].state, StepState::Pending);
    // Only a running operation can be held.
    let again = store
        .hold_operation(&t, &held.id, 204, &ResourceCommit::Nothing)
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    let stats = store.operation_stats().await.unwrap();
    assert!(stats.count(OperationState::Held) >= 1, "{stats:?}");
}

async fn held_does_not_block_the_resource(store: Arc<dyn Store>) {
    let t = tenant();
    let rid = new_id();
    let first = new_op(&t, User, &rid, 1);
    open(&store, &first).await;
    store
        .hold_operation(&t, &first.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    let later = new_op(&t, User, &rid, 0);
    open(&store, &later).await;
}

async fn release_runs_again_and_refuses_while_busy(store: Arc<dyn Store>) {
    let t = tenant();
    let rid = new_id();
    let first = new_op(&t, User, &rid, 1);
    open(&store, &first).await;
    store
        .hold_operation(&t, &first.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    let busy = new_op(&t, User, &rid, 0);
    open(&store, &busy).await;
    let refused = store.release_operation(&t, &first.id).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict { attribute: "operation", value }) if *value == busy.id),
        "{refused:?}"
    );
    store
        .fail_operation(&t, &busy.id, 400, &json!({"detail": "x"}))
        .await
        .unwrap();
    store.release_operation(&t, &first.id).await.unwrap();
    let released = get(&store, &t, &first.id).await;
    assert_eq!(released.state, OperationState::Running);
    assert_eq!(released.attempts, 2);
    assert_eq!(released.finished, None);
    assert!(
        released.held.is_some(),
        "held is kept: the SCIM side was committed"
    );
    let twice = store.release_operation(&t, &first.id).await;
    assert!(matches!(twice, Err(StoreError::NotFound)), "{twice:?}");
    assert!(matches!(
        store.release_operation(&t, "no-such-op").await,
        Err(StoreError::NotFound)
    ));
    // Released, it completes like any operation, committing nothing more.
    store
        .complete_operation(&t, &first.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    assert_eq!(
        get(&store, &t, &first.id).await.state,
        OperationState::Succeeded
    );
}

async fn discard_and_discard_on_resource(store: Arc<dyn Store>) {
    let t = tenant();
    let (_, one) = held_delete(&store, &t).await;
    store
        .discard_operation(&t, &one.id, "by test")
        .await
        .unwrap();
    let discarded = get(&store, &t, &one.id).await;
    assert_eq!(discarded.state, OperationState::Discarded);
    assert_eq!(discarded.note.as_deref(), Some("by test"));
    let twice = store.discard_operation(&t, &one.id, "again").await;
    assert!(matches!(twice, Err(StoreError::NotFound)), "{twice:?}");

    let rid = new_id();
    let mut held = Vec::new();
    for _ in 0..2 {
        let op = new_op(&t, User, &rid, 1);
        open(&store, &op).await;
        store
            .hold_operation(&t, &op.id, 200, &ResourceCommit::Nothing)
            .await
            .unwrap();
        held.push(op.id);
    }
    let other = held_delete(&store, &t).await.1;
    assert!(store.has_held_on(&t, User, &rid).await.unwrap());
    assert!(!store.has_held_on(&t, Group, &rid).await.unwrap());
    assert!(!store.has_held_on(&t, User, &new_id()).await.unwrap());
    let n = store
        .discard_held_on(&t, User, &rid, "superseded")
        .await
        .unwrap();
    assert_eq!(n, 2);
    for id in &held {
        assert_eq!(get(&store, &t, id).await.state, OperationState::Discarded);
    }
    assert!(!store.has_held_on(&t, User, &rid).await.unwrap());
    assert_eq!(get(&store, &t, &other.id).await.state, OperationState::Held);
    assert!(
        store
            .has_held_on(&t, other.resource_kind, &other.resource_id)
            .await
            .unwrap()
    );
}

async fn removals_are_summed_over_the_window(store: Arc<dyn Store>) {
    let t = tenant();
    let long_ago = "2000-01-01T00:00:00.000Z";
    assert_eq!(store.removals_since(&t, long_ago).await.unwrap(), 0);
    let running = new_op(&t, User, &new_id(), 2);
    open(&store, &running).await;
    let (_, held) = held_delete(&store, &t).await;
    let done = new_op(&t, User, &new_id(), 4);
    open(&store, &done).await;
    store
        .complete_operation(&t, &done.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    let failed = new_op(&t, User, &new_id(), 8);
    open(&store, &failed).await;
    store
        .fail_operation(&t, &failed.id, 400, &json!({"detail": "x"}))
        .await
        .unwrap();
    assert_eq!(store.removals_since(&t, long_ago).await.unwrap(), 2 + 1 + 4);
    store.discard_operation(&t, &held.id, "no").await.unwrap();
    assert_eq!(store.removals_since(&t, long_ago).await.unwrap(), 2 + 4);
    let later = "2999-01-01T00:00:00.000Z";
    assert_eq!(store.removals_since(&t, later).await.unwrap(), 0);
    assert_eq!(
        store.removals_since(&tenant(), long_ago).await.unwrap(),
        0,
        "per tenant"
    );
}

async fn held_operations_oldest_first_with_steps(store: Arc<dyn Store>) {
    let t = tenant();
    let (_, first) = held_delete(&store, &t).await;
    let (_, second) = held_delete(&store, &t).await;
    let running = new_op(&t, User, &new_id(), 1);
    open(&store, &running).await;
    let held = store.held_operations(&t, 10).await.unwrap();
    let ids: Vec<&str> = held.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [first.id.as_str(), second.id.as_str()]);
    assert!(held.iter().all(|o| o.steps.len() == 1));
    assert_eq!(store.held_operations(&t, 1).await.unwrap().len(), 1);
}

async fn planned_operations_commit_and_converge(store: Arc<dyn Store>) {
    let t = tenant();
    assert_eq!(store.planned_operations(&t).await.unwrap(), (0, 0));
    let id = new_id();
    let op = new_op(&t, User, &id, 0);
    open(&store, &op).await;
    let planned_step = tableau_scim::store::StepOutcome {
        state: StepState::Planned,
        method: Some("POST".into()),
        path: Some("/api/3.27/sites/{site}/users".into()),
        request_body: Some(r#"{"user":{"name":"p"}}"#.into()),
        http_status: None,
        tableau_code: None,
        duration_ms: None,
        luid: None,
        error: None,
        calls: None,
    };
    store
        .record_step(&t, &op.id, 0, &planned_step)
        .await
        .unwrap();
    let commit = ResourceCommit::Create {
        kind: User,
        id: id.clone(),
        doc: obj(json!({ "userName": new_id() })),
        members: Vec::new(),
        tableau_luid: None,
    };
    let stored = store
        .plan_operation(&t, &op.id, 201, &commit)
        .await
        .unwrap();
    assert_eq!(stored.map(|r| r.id), Some(id.clone()));
    assert!(store.get(&t, User, &id, false).await.unwrap().is_some());
    let planned = get(&store, &t, &op.id).await;
    assert_eq!(planned.state, OperationState::Planned);
    assert_eq!(planned.response_status, Some(201));
    assert_eq!(planned.steps[0].state, StepState::Planned);
    assert_eq!(planned.steps[0].request_body, planned_step.request_body);
    let second = new_op(&t, User, &new_id(), 0);
    open(&store, &second).await;
    store
        .plan_operation(&t, &second.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    let (n, newest) = store.planned_operations(&t).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(newest, get(&store, &t, &second.id).await.seq);
    // Up to the first only: a later planned operation stays planned.
    let converged = store
        .converge_planned(&t, planned.seq, "live")
        .await
        .unwrap();
    assert_eq!(converged, 1);
    let first = get(&store, &t, &op.id).await;
    assert_eq!(first.state, OperationState::Converged);
    assert_eq!(first.note.as_deref(), Some("live"));
    assert_eq!(store.planned_operations(&t).await.unwrap().0, 1);
    let stats = store.operation_stats().await.unwrap();
    assert!(
        stats.count(OperationState::Planned) >= 1 && stats.count(OperationState::Converged) >= 1,
        "{stats:?}"
    );
}
