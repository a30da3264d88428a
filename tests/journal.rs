//! The operation journal test suite, on SQLite and PostgreSQL (see `support`): opening,
//! recording, completing and failing operations, idempotency keys, one running operation per
//! resource, rollback of a failed commit, recovery queries, re-planning, and the LUID mapping.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use serde_json::{Value, json};
use std::sync::Arc;
use tableau_scim::model::ResourceKind::{self, Group, User};
use tableau_scim::store::{
    MemberChanges, NewOperation, Opened, Operation, OperationState, PlannedStep, Resource,
    ResourceCommit, StepOutcome, StepState, Store, StoreError, StoreResult,
};

mod support;
use support::{new_id, obj, tenant};

#[path = "journal/held.rs"]
mod held;

#[path = "journal/console.rs"]
mod console;

store_tests!(
    open_record_complete_round_trip,
    same_key_attaches_to_running_operation,
    key_released_after_success_unless_explicit,
    operation_by_key_finds_running_and_explicit,
    failed_operation_keeps_explicit_key,
    resource_busy_until_finished,
    a_name_is_claimed_by_one_running_operation,
    complete_rolls_back_on_conflict,
    complete_rolls_back_on_revision_and_unknown_member,
    complete_update_and_delete,
    finished_operations_stay_finished,
    unfinished_operations_oldest_first_with_steps,
    touch_counts_attempts,
    replace_plan_keeps_recorded_steps,
    luid_mapping,
    one_luid_belongs_to_one_resource,
    list_operations_newest_first,
    duplicate_operation_id_is_refused,
    taken_operation_id_is_one_answer,
    concurrent_opens_on_one_resource_one_wins,
    concurrent_opens_with_one_key_one_wins,
    request_id_is_journaled,
    operation_stats_count_states,
);

// ---- helpers ----

fn new_op(
    t: &str,
    kind: ResourceKind,
    resource_id: &str,
    key: &str,
    explicit: bool,
) -> NewOperation {
    NewOperation {
        tenant: t.to_owned(),
        id: new_id(),
        idem_key: key.to_owned(),
        explicit_key: explicit,
        principal: "token:okta".to_owned(),
        method: "POST".to_owned(),
        path: "/scim/v2/Users".to_owned(),
        digest: "ab".repeat(32),
        resource_kind: kind,
        resource_id: resource_id.to_owned(),
        intent: json!({ "create": { "userName": "someone" }, "n": [1, 2] }),
        claimed_name: None,
        request_id: Some(format!("req-{key}")),
        removals: 0,
        request_body: Some(json!({ "userName": "someone", "password": "[redacted]" })),
        resource_name: Some("someone".into()),
    }
}

fn plan(kinds: &[&str]) -> Vec<PlannedStep> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| PlannedStep {
            idx: i as i64,
            kind: (*kind).to_owned(),
            description: json!({ "step": kind, "i": i }),
        })
        .collect()
}

fn done(luid: &str, status: i64) -> StepOutcome {
    StepOutcome {
        state: StepState::Done,
        method: Some("POST".to_owned()),
        path: Some("/api/3.24/sites/s/users".to_owned()),
        request_body: Some(r#"{"user":{"name":"someone"}}"#.to_owned()),
        http_status: Some(status),
        tableau_code: None,
        duration_ms: Some(42),
        luid: Some(luid.to_owned()),
        error: None,
        calls: Some(json!([{ "method": "POST", "status": status, "attempt": 1 }])),
    }
}

fn user_commit(id: &str, user_name: &str, luid: Option<&str>) -> ResourceCommit {
    ResourceCommit::Create {
        kind: User,
        id: id.to_owned(),
        doc: obj(json!({ "userName": user_name })),
        members: Vec::new(),
        tableau_luid: luid.map(str::to_owned),
    }
}

async fn open(store: &Arc<dyn Store>, op: &NewOperation, steps: &[PlannedStep]) -> Operation {
    match store.open_operation(op, steps).await.expect("open") {
        Opened::Created(created) => created,
        other => panic!("expected Created, got {other:?}"),
    }
}

async fn operation(store: &Arc<dyn Store>, t: &str, id: &str) -> Operation {
    store
        .get_operation(t, id)
        .await
        .expect("get operation")
        .expect("operation exists")
}

async fn user(store: &Arc<dyn Store>, t: &str, user_name: &str) -> Resource {
    store
        .create(
            t,
            User,
            &new_id(),
            &obj(json!({ "userName": user_name })),
            &[],
        )
        .await
        .expect("create user")
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "expected NotFound, got {result:?}"
    );
}

// ---- the suite ----

async fn request_id_is_journaled(store: Arc<dyn Store>) {
    let t = tenant();
    let op = new_op(&t, User, &new_id(), "rid", false);
    let created = open(&store, &op, &[]).await;
    assert_eq!(created.request_id.as_deref(), Some("req-rid"));
    let stored = operation(&store, &t, &op.id).await;
    assert_eq!(stored.request_id.as_deref(), Some("req-rid"));
    let listed = store.list_operations(&t, None, 10).await.unwrap();
    assert_eq!(listed[0].request_id.as_deref(), Some("req-rid"));
    let mut anonymous = new_op(&t, User, &new_id(), "no-rid", false);
    anonymous.request_id = None;
    assert_eq!(open(&store, &anonymous, &[]).await.request_id, None);
    assert_eq!(operation(&store, &t, &anonymous.id).await.request_id, None);
}

/// Counted over every tenant (other tests share a PostgreSQL database), so the checks are
/// lower bounds, and differences for this test's own operations.
async fn operation_stats_count_states(store: Arc<dyn Store>) {
    store.ping().await.expect("the store answers");
    let t = tenant();
    let before = store.operation_stats().await.unwrap();
    let running = new_op(&t, User, &new_id(), "s-run", false);
    let created = open(&store, &running, &[]).await;
    let failing = new_op(&t, User, &new_id(), "s-fail", false);
    open(&store, &failing, &[]).await;
    store
        .fail_operation(&t, &failing.id, 400, &json!({"detail": "no"}))
        .await
        .unwrap();
    let after = store.operation_stats().await.unwrap();
    assert!(after.count(OperationState::Running) >= 1, "{after:?}");
    assert!(
        after.count(OperationState::Failed) > before.count(OperationState::Failed),
        "{before:?} {after:?}"
    );
    let oldest = after.oldest_running_created.expect("a running operation");
    assert!(oldest <= created.created, "{oldest} > {}", created.created);
    store
        .fail_operation(&t, &running.id, 400, &json!({"detail": "no"}))
        .await
        .unwrap();
    let last = store.operation_stats().await.unwrap();
    assert!(
        last.count(OperationState::Failed) >= before.count(OperationState::Failed) + 2,
        "{before:?} {last:?}"
    );
}

async fn open_record_complete_round_trip(store: Arc<dyn Store>) {
    let t = tenant();
    let rid = new_id();
    let op = new_op(&t, User, &rid, "k1", false);
    let steps = plan(&["add_user", "update_user"]);
    let created = open(&store, &op, &steps).await;
    assert_eq!(created.state, OperationState::Running);
    assert_eq!(created.attempts, 1);
    assert_eq!(created.idem_key.as_deref(), Some("k1"));
    assert_eq!(created.steps.len(), 2);
    assert!(created.steps.iter().all(|s| s.state == StepState::Pending));
    // What `open_operation` returns is what is stored.
    assert_eq!(operation(&store, &t, &op.id).await, created);
    assert_eq!(created.request_id.as_deref(), Some("req-k1"));

    store
        .record_step(&t, &op.id, 0, &done("L-1", 201))
        .await
        .unwrap();
    let mut second = done("L-1", 200);
    second.method = Some("PUT".to_owned());
    second.duration_ms = None;
    store.record_step(&t, &op.id, 1, &second).await.unwrap();

    let resource = store
        .complete_operation(&t, &op.id, 201, &user_commit(&rid, "someone", Some("L-1")))
        .await
        .unwrap()
        .expect("created resource");
    assert_eq!(resource.tableau_luid.as_deref(), Some("L-1"));
    assert_eq!(resource.revision, 1);
    let stored = store.get(&t, User, &rid, true).await.unwrap().unwrap();
    assert_eq!(stored, resource);

    let finished = operation(&store, &t, &op.id).await;
    assert_eq!(finished.state, OperationState::Succeeded);
    assert_eq!(finished.response_status, Some(201));
    assert_eq!(finished.idem_key, None);
    assert_eq!(finished.intent, op.intent);
    assert_eq!(finished.error_body, None);
    assert_eq!(
        (finished.principal.as_str(), finished.method.as_str()),
        ("token:okta", "POST")
    );
    assert_eq!(finished.digest, op.digest);
    let end = finished.finished.clone().expect("finished time");
    assert!(finished.created <= end && finished.updated == end);
    let s0 = &finished.steps[0];
    assert_eq!(s0.state, StepState::Done);
    assert_eq!(s0.description, json!({ "step": "add_user", "i": 0 }));
    assert_eq!(
        (s0.http_status, s0.luid.as_deref(), s0.duration_ms),
        (Some(201), Some("L-1"), Some(42))
    );
    assert_eq!(
        s0.request_body.as_deref(),
        Some(r#"{"user":{"name":"someone"}}"#)
    );
    assert_eq!(
        s0.calls,
        Some(json!([{ "method": "POST", "status": 201, "attempt": 1 }]))
    );
    assert_eq!(finished.resource_name.as_deref(), Some("someone"));
    assert_eq!(
        finished.request_body.as_ref().map(|b| &b["password"]),
        Some(&json!("[redacted]"))
    );
    let (started, ended) = (s0.started.clone().unwrap(), s0.finished.clone().unwrap());
    assert!(started < ended, "{started} < {ended}");
    let s1 = &finished.steps[1];
    assert_eq!(
        (s1.method.as_deref(), s1.started.as_deref()),
        (Some("PUT"), s1.finished.as_deref())
    );
}

async fn same_key_attaches_to_running_operation(store: Arc<dyn Store>) {
    let t = tenant();
    let first = new_op(&t, User, &new_id(), "digest-1", false);
    let opened = open(&store, &first, &plan(&["add_user"])).await;
    store
        .record_step(&t, &first.id, 0, &done("L", 201))
        .await
        .unwrap();
    // The IdP retries the same request: a new id and resource, the same key.
    let retry = new_op(&t, User, &new_id(), "digest-1", false);
    match store
        .open_operation(&retry, &plan(&["add_user"]))
        .await
        .unwrap()
    {
        Opened::SameKey(found) => {
            assert_eq!(found.id, opened.id);
            assert_eq!(found.steps[0].state, StepState::Done);
        }
        other => panic!("expected SameKey, got {other:?}"),
    }
    assert!(store.get_operation(&t, &retry.id).await.unwrap().is_none());
    // The same key on the same (busy) resource is still the same request.
    let mut again = new_op(&t, User, &first.resource_id, "digest-1", false);
    again.id = new_id();
    assert!(matches!(
        store.open_operation(&again, &[]).await.unwrap(),
        Opened::SameKey(found) if found.id == first.id
    ));
    // Keys are per tenant.
    let other = new_op(&tenant(), User, &new_id(), "digest-1", false);
    open(&store, &other, &[]).await;
}

async fn key_released_after_success_unless_explicit(store: Arc<dyn Store>) {
    let t = tenant();
    // Without an explicit key, an identical later request is a new request.
    let rid = new_id();
    let first = new_op(&t, User, &rid, "digest", false);
    open(&store, &first, &[]).await;
    store
        .complete_operation(&t, &first.id, 201, &user_commit(&rid, "u1", None))
        .await
        .unwrap();
    let second = new_op(&t, User, &new_id(), "digest", false);
    open(&store, &second, &[]).await;

    // With an explicit key, the finished operation is replayed.
    let rid = new_id();
    let keyed = new_op(&t, User, &rid, "client-key", true);
    open(&store, &keyed, &plan(&["add_user"])).await;
    store
        .complete_operation(&t, &keyed.id, 201, &user_commit(&rid, "u2", Some("L2")))
        .await
        .unwrap();
    let replay = new_op(&t, User, &new_id(), "client-key", true);
    match store.open_operation(&replay, &[]).await.unwrap() {
        Opened::SameKey(found) => {
            assert_eq!(found.id, keyed.id);
            assert_eq!(found.state, OperationState::Succeeded);
            assert_eq!(found.response_status, Some(201));
            assert_eq!(found.idem_key.as_deref(), Some("client-key"));
            assert!(found.explicit_key);
            assert_eq!(found.resource_id, rid);
        }
        other => panic!("expected SameKey, got {other:?}"),
    }
}

async fn operation_by_key_finds_running_and_explicit(store: Arc<dyn Store>) {
    let t = tenant();
    assert!(
        store
            .operation_by_key(&t, "nobody")
            .await
            .unwrap()
            .is_none()
    );
    // A running operation is found by its key, whether explicit or a digest.
    let rid = new_id();
    let running = new_op(&t, User, &rid, "digest-key", false);
    open(&store, &running, &plan(&["add_user"])).await;
    let found = store
        .operation_by_key(&t, "digest-key")
        .await
        .unwrap()
        .expect("running op");
    assert_eq!(
        (found.id.as_str(), found.steps.len()),
        (running.id.as_str(), 1)
    );
    // Finished without an explicit key: the key is released and no longer finds it.
    store
        .complete_operation(&t, &running.id, 201, &user_commit(&rid, "k1", None))
        .await
        .unwrap();
    assert!(
        store
            .operation_by_key(&t, "digest-key")
            .await
            .unwrap()
            .is_none()
    );
    // Finished with an explicit key: still found, with its recorded status.
    let rid = new_id();
    let keyed = new_op(&t, User, &rid, "client-key", true);
    open(&store, &keyed, &[]).await;
    store
        .complete_operation(&t, &keyed.id, 201, &user_commit(&rid, "k2", None))
        .await
        .unwrap();
    let found = store
        .operation_by_key(&t, "client-key")
        .await
        .unwrap()
        .expect("kept");
    assert_eq!(
        (found.state, found.response_status),
        (OperationState::Succeeded, Some(201))
    );
    // Keys are per tenant.
    assert!(
        store
            .operation_by_key(&tenant(), "client-key")
            .await
            .unwrap()
            .is_none()
    );
}

async fn failed_operation_keeps_explicit_key(store: Arc<dyn Store>) {
    let t = tenant();
    let error = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "detail": "Tableau 409017: license limit reached",
    });
    let keyed = new_op(&t, User, &new_id(), "client-key", true);
    open(&store, &keyed, &plan(&["add_user"])).await;
    let mut refused = done("", 409);
    refused.state = StepState::Failed;
    refused.luid = None;
    refused.tableau_code = Some("409017".to_owned());
    refused.error = Some("license limit reached".to_owned());
    store.record_step(&t, &keyed.id, 0, &refused).await.unwrap();
    store
        .fail_operation(&t, &keyed.id, 409, &error)
        .await
        .unwrap();

    let failed = operation(&store, &t, &keyed.id).await;
    assert_eq!(failed.state, OperationState::Failed);
    assert_eq!(failed.response_status, Some(409));
    assert_eq!(failed.error_body.as_ref(), Some(&error));
    assert!(failed.finished.is_some());
    assert_eq!(failed.steps[0].state, StepState::Failed);
    assert_eq!(failed.steps[0].tableau_code.as_deref(), Some("409017"));
    // Nothing was committed locally.
    assert!(
        store
            .get(&t, User, &keyed.resource_id, false)
            .await
            .unwrap()
            .is_none()
    );
    // The explicit key replays the error.
    let replay = new_op(&t, User, &new_id(), "client-key", true);
    assert!(matches!(
        store.open_operation(&replay, &[]).await.unwrap(),
        Opened::SameKey(found) if found.state == OperationState::Failed && found.error_body == Some(error.clone())
    ));

    // Without an explicit key, a failure frees the key as well.
    let plain = new_op(&t, User, &new_id(), "digest", false);
    open(&store, &plain, &[]).await;
    store
        .fail_operation(&t, &plain.id, 400, &json!({"status": "400"}))
        .await
        .unwrap();
    assert_eq!(operation(&store, &t, &plain.id).await.idem_key, None);
    open(&store, &new_op(&t, User, &new_id(), "digest", false), &[]).await;
}

async fn resource_busy_until_finished(store: Arc<dyn Store>) {
    let t = tenant();
    let u = user(&store, &t, "busy").await;
    let first = new_op(&t, User, &u.id, "k1", false);
    open(&store, &first, &plan(&["update_user"])).await;
    let second = new_op(&t, User, &u.id, "k2", false);
    match store
        .open_operation(&second, &plan(&["update_user"]))
        .await
        .unwrap()
    {
        Opened::ResourceBusy(found) => {
            assert_eq!(found.id, first.id);
            assert_eq!(found.steps.len(), 1);
        }
        other => panic!("expected ResourceBusy, got {other:?}"),
    }
    assert!(store.get_operation(&t, &second.id).await.unwrap().is_none());
    // The same id of the other kind is another resource.
    open(&store, &new_op(&t, Group, &u.id, "k3", false), &[]).await;

    store
        .complete_operation(&t, &first.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    open(&store, &second, &[]).await;
    store
        .fail_operation(&t, &second.id, 503, &json!({}))
        .await
        .unwrap();
    open(&store, &new_op(&t, User, &u.id, "k4", false), &[]).await;
}

/// Two creates of one name (two resources): the second is refused while the first runs,
/// whichever resource it is for; another kind, or a finished claim, does not refuse it.
async fn a_name_is_claimed_by_one_running_operation(store: Arc<dyn Store>) {
    let t = tenant();
    let claim = |key: &str, kind| {
        let mut op = new_op(&t, kind, &new_id(), key, false);
        op.claimed_name = Some("ws@example.com".into());
        op
    };
    let first = claim("k1", User);
    open(&store, &first, &plan(&["add_user"])).await;
    let second = claim("k2", User);
    match store.open_operation(&second, &[]).await.unwrap() {
        Opened::ResourceBusy(found) => assert_eq!(found.id, first.id),
        other => panic!("expected ResourceBusy, got {other:?}"),
    }
    assert!(store.get_operation(&t, &second.id).await.unwrap().is_none());
    // A group may have the name a user has; an operation without a claim is not refused.
    open(&store, &claim("k3", Group), &[]).await;
    open(&store, &new_op(&t, User, &new_id(), "k4", false), &[]).await;
    // The claim ends with the operation, failed or succeeded.
    store
        .fail_operation(&t, &first.id, 409, &json!({}))
        .await
        .unwrap();
    open(&store, &second, &[]).await;
}

async fn complete_rolls_back_on_conflict(store: Arc<dyn Store>) {
    let t = tenant();
    user(&store, &t, "Taken@Example.com").await;
    let rid = new_id();
    let op = new_op(&t, User, &rid, "k", false);
    open(&store, &op, &plan(&["add_user"])).await;
    store
        .record_step(&t, &op.id, 0, &done("L", 201))
        .await
        .unwrap();
    let result = store
        .complete_operation(
            &t,
            &op.id,
            201,
            &user_commit(&rid, "taken@example.COM", Some("L")),
        )
        .await;
    match result {
        Err(StoreError::Conflict { attribute, value }) => {
            assert_eq!(
                (attribute, value.as_str()),
                ("userName", "taken@example.COM")
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing was committed: no resource, the operation still running and holding its key.
    assert!(store.get(&t, User, &rid, false).await.unwrap().is_none());
    assert!(store.find_by_luid(&t, User, "L").await.unwrap().is_none());
    let still = operation(&store, &t, &op.id).await;
    assert_eq!(still.state, OperationState::Running);
    assert_eq!((still.response_status, still.finished), (None, None));
    assert_eq!(still.idem_key.as_deref(), Some("k"));
    assert!(matches!(
        store
            .open_operation(&new_op(&t, User, &new_id(), "k", false), &[])
            .await
            .unwrap(),
        Opened::SameKey(_)
    ));
    // It can still finish, either way.
    store
        .complete_operation(&t, &op.id, 201, &user_commit(&rid, "free", Some("L")))
        .await
        .unwrap();
    assert_eq!(
        store.find_by_luid(&t, User, "L").await.unwrap().unwrap().id,
        rid
    );
}

async fn complete_rolls_back_on_revision_and_unknown_member(store: Arc<dyn Store>) {
    let t = tenant();
    let u = user(&store, &t, "rev").await;
    let op = new_op(&t, User, &u.id, "k1", false);
    open(&store, &op, &[]).await;
    let stale = ResourceCommit::Update {
        kind: User,
        id: u.id.clone(),
        revision: 7,
        doc: obj(json!({ "userName": "rev", "nickName": "x" })),
        members: MemberChanges::default(),
        tableau_luid: Some("L".to_owned()),
    };
    let result = store.complete_operation(&t, &op.id, 200, &stale).await;
    assert!(
        matches!(result, Err(StoreError::RevisionMismatch)),
        "{result:?}"
    );
    let got = store.get(&t, User, &u.id, false).await.unwrap().unwrap();
    assert_eq!((got.revision, got.tableau_luid), (1, None));
    assert_eq!(
        operation(&store, &t, &op.id).await.state,
        OperationState::Running
    );

    let gid = new_id();
    let op = new_op(&t, Group, &gid, "k2", false);
    open(&store, &op, &[]).await;
    let unknown = new_id();
    let commit = ResourceCommit::Create {
        kind: Group,
        id: gid.clone(),
        doc: obj(json!({ "displayName": "G" })),
        members: vec![(u.id.clone(), User), (unknown.clone(), User)],
        tableau_luid: Some("G-L".to_owned()),
    };
    let result = store.complete_operation(&t, &op.id, 201, &commit).await;
    assert!(
        matches!(&result, Err(StoreError::UnknownMember(id)) if *id == unknown),
        "{result:?}"
    );
    assert!(store.get(&t, Group, &gid, false).await.unwrap().is_none());
    assert_eq!(
        operation(&store, &t, &op.id).await.state,
        OperationState::Running
    );
}

async fn complete_update_and_delete(store: Arc<dyn Store>) {
    let t = tenant();
    let (u1, u2) = (user(&store, &t, "u1").await, user(&store, &t, "u2").await);
    let gid = new_id();
    let op = new_op(&t, Group, &gid, "k1", false);
    open(&store, &op, &[]).await;
    let commit = ResourceCommit::Create {
        kind: Group,
        id: gid.clone(),
        doc: obj(json!({ "displayName": "Sales" })),
        members: vec![(u1.id.clone(), User)],
        tableau_luid: Some("G-1".to_owned()),
    };
    let group = store
        .complete_operation(&t, &op.id, 201, &commit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.tableau_luid.as_deref(), Some("G-1"));

    // An update with no LUID keeps the stored one; membership changes apply as in `update`.
    let op = new_op(&t, Group, &gid, "k2", false);
    open(&store, &op, &[]).await;
    let commit = ResourceCommit::Update {
        kind: Group,
        id: gid.clone(),
        revision: 1,
        doc: obj(json!({ "displayName": "Sales EMEA" })),
        members: MemberChanges {
            add: vec![(u2.id.clone(), User)],
            remove: vec![u1.id.clone()],
        },
        tableau_luid: None,
    };
    let updated = store
        .complete_operation(&t, &op.id, 200, &commit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.tableau_luid.as_deref(), Some("G-1"));
    assert_eq!(
        updated
            .members
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [u2.id.as_str()]
    );
    assert_eq!(
        store.get(&t, Group, &gid, true).await.unwrap().unwrap(),
        updated
    );
    // The user's groups follow.
    let u2_now = store.get(&t, User, &u2.id, true).await.unwrap().unwrap();
    assert_eq!(u2_now.groups.len(), 1);

    let op = new_op(&t, Group, &gid, "k3", false);
    open(&store, &op, &[]).await;
    let delete = ResourceCommit::Delete {
        kind: Group,
        id: gid.clone(),
    };
    assert_eq!(
        store
            .complete_operation(&t, &op.id, 204, &delete)
            .await
            .unwrap(),
        None
    );
    assert!(store.get(&t, Group, &gid, false).await.unwrap().is_none());
    assert!(
        store
            .find_by_luid(&t, Group, "G-1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        operation(&store, &t, &op.id).await.response_status,
        Some(204)
    );
    // Deleting what is gone already is not an error (as with `delete`).
    let op = new_op(&t, Group, &gid, "k4", false);
    open(&store, &op, &[]).await;
    assert_eq!(
        store
            .complete_operation(&t, &op.id, 204, &delete)
            .await
            .unwrap(),
        None
    );
}

async fn finished_operations_stay_finished(store: Arc<dyn Store>) {
    let t = tenant();
    let op = new_op(&t, User, &new_id(), "k", false);
    open(&store, &op, &plan(&["add_user"])).await;
    store
        .complete_operation(&t, &op.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    // A second completion (say, by another server) is refused and commits nothing.
    let again = store
        .complete_operation(&t, &op.id, 201, &user_commit(&op.resource_id, "late", None))
        .await;
    assert_not_found(again);
    assert!(
        store
            .get(&t, User, &op.resource_id, false)
            .await
            .unwrap()
            .is_none()
    );
    assert_not_found(store.fail_operation(&t, &op.id, 500, &json!({})).await);
    assert_not_found(store.touch_operation(&t, &op.id).await);
    let got = operation(&store, &t, &op.id).await;
    assert_eq!(
        (got.state, got.response_status),
        (OperationState::Succeeded, Some(200))
    );
    // Unknown operations and steps.
    assert_not_found(
        store
            .complete_operation(&t, &new_id(), 200, &ResourceCommit::Nothing)
            .await,
    );
    assert_not_found(store.fail_operation(&t, &new_id(), 500, &json!({})).await);
    assert_not_found(store.record_step(&t, &op.id, 5, &done("L", 200)).await);
    assert_not_found(
        store
            .record_step(&tenant(), &op.id, 0, &done("L", 200))
            .await,
    );
    assert!(
        store
            .get_operation(&tenant(), &op.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn unfinished_operations_oldest_first_with_steps(store: Arc<dyn Store>) {
    let t = tenant();
    let mut ids = Vec::new();
    for i in 0..4 {
        let op = new_op(&t, User, &new_id(), &format!("k{i}"), false);
        open(&store, &op, &plan(&["a", "b", "c"])).await;
        ids.push(op.id);
    }
    store
        .record_step(&t, &ids[0], 1, &done("L0", 200))
        .await
        .unwrap();
    store
        .complete_operation(&t, &ids[1], 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    store
        .fail_operation(&t, &ids[3], 500, &json!({}))
        .await
        .unwrap();
    // Other tests (other tenants) may run concurrently on a shared database.
    let unfinished: Vec<Operation> = store
        .unfinished_operations(1_000_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|op| op.tenant == t)
        .collect();
    let got: Vec<&str> = unfinished.iter().map(|op| op.id.as_str()).collect();
    assert_eq!(got, [ids[0].as_str(), ids[2].as_str()]);
    let first = &unfinished[0];
    assert_eq!(
        first.steps.iter().map(|s| s.idx).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        first
            .steps
            .iter()
            .map(|s| s.kind.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert_eq!(
        first.steps.iter().map(|s| s.state).collect::<Vec<_>>(),
        [StepState::Pending, StepState::Done, StepState::Pending]
    );
    assert!(
        unfinished[1]
            .steps
            .iter()
            .all(|s| s.state == StepState::Pending)
    );
    // Oldest first across tenants: the sequence increases.
    let all = store.unfinished_operations(1_000_000).await.unwrap();
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(store.unfinished_operations(1).await.unwrap().len() <= 1);
}

async fn touch_counts_attempts(store: Arc<dyn Store>) {
    let t = tenant();
    let op = new_op(&t, User, &new_id(), "k", false);
    let opened = open(&store, &op, &[]).await;
    assert_eq!(store.touch_operation(&t, &op.id).await.unwrap(), 2);
    assert_eq!(store.touch_operation(&t, &op.id).await.unwrap(), 3);
    let got = operation(&store, &t, &op.id).await;
    assert_eq!(got.attempts, 3);
    assert!(got.updated >= opened.updated);
    assert_eq!(got.created, opened.created);
}

async fn replace_plan_keeps_recorded_steps(store: Arc<dyn Store>) {
    let t = tenant();
    let op = new_op(&t, User, &new_id(), "k", false);
    open(
        &store,
        &op,
        &plan(&["add_user", "update_user", "add_to_group"]),
    )
    .await;
    let mut refused = done("", 409);
    refused.state = StepState::Failed;
    refused.tableau_code = Some("409000".to_owned());
    store.record_step(&t, &op.id, 0, &refused).await.unwrap();
    // Re-plan from step 1: look the user up, then the rest.
    let replan = vec![
        PlannedStep {
            idx: 1,
            kind: "find_user".into(),
            description: json!({"name": "x"}),
        },
        PlannedStep {
            idx: 2,
            kind: "update_user".into(),
            description: Value::Null,
        },
        PlannedStep {
            idx: 3,
            kind: "add_to_group".into(),
            description: json!(["g"]),
        },
    ];
    store.replace_plan(&t, &op.id, 1, &replan).await.unwrap();
    let got = operation(&store, &t, &op.id).await;
    let kinds: Vec<&str> = got.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["add_user", "find_user", "update_user", "add_to_group"]
    );
    assert_eq!(got.steps[0].state, StepState::Failed);
    assert_eq!(got.steps[3].description, json!(["g"]));
    assert_eq!(got.steps[2].description, Value::Null);

    // A recorded step cannot be planned over; the failed re-plan changes nothing.
    let clash = vec![PlannedStep {
        idx: 0,
        kind: "x".into(),
        description: json!({}),
    }];
    let result = store.replace_plan(&t, &op.id, 0, &clash).await;
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                attribute: "step",
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(operation(&store, &t, &op.id).await.steps, got.steps);
    // Shrinking the plan.
    store.replace_plan(&t, &op.id, 2, &[]).await.unwrap();
    assert_eq!(operation(&store, &t, &op.id).await.steps.len(), 2);
    // No such operation.
    assert_not_found(store.replace_plan(&t, &new_id(), 0, &clash).await);
}

async fn luid_mapping(store: Arc<dyn Store>) {
    let t = tenant();
    let u = user(&store, &t, "mapped").await;
    assert!(store.find_by_luid(&t, User, "L-9").await.unwrap().is_none());
    store.set_luid(&t, User, &u.id, Some("L-9")).await.unwrap();
    let found = store
        .find_by_luid(&t, User, "L-9")
        .await
        .unwrap()
        .expect("found by LUID");
    assert_eq!(found.id, u.id);
    assert_eq!(found.tableau_luid.as_deref(), Some("L-9"));
    // Not a change of the SCIM resource.
    assert_eq!(
        (found.revision, &found.last_modified),
        (1, &u.last_modified)
    );
    assert!(
        store
            .find_by_luid(&t, Group, "L-9")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_by_luid(&tenant(), User, "L-9")
            .await
            .unwrap()
            .is_none()
    );
    // A plain update keeps the LUID; list and get carry it.
    let updated = store
        .update(
            &t,
            User,
            &u.id,
            1,
            &obj(json!({"userName": "mapped", "title": "x"})),
            &MemberChanges::default(),
        )
        .await
        .unwrap();
    assert_eq!(updated.tableau_luid.as_deref(), Some("L-9"));
    let listed = store.list(&t, User, None, false).await.unwrap();
    assert_eq!(listed[0].tableau_luid.as_deref(), Some("L-9"));
    // Cleared.
    store.set_luid(&t, User, &u.id, None).await.unwrap();
    assert!(store.find_by_luid(&t, User, "L-9").await.unwrap().is_none());
    assert_eq!(
        store
            .get(&t, User, &u.id, false)
            .await
            .unwrap()
            .unwrap()
            .tableau_luid,
        None
    );
    assert_not_found(store.set_luid(&t, User, &new_id(), Some("x")).await);
    assert_not_found(store.set_luid(&t, Group, &u.id, Some("x")).await);
}

async fn list_operations_newest_first(store: Arc<dyn Store>) {
    let t = tenant();
    let (r1, r2) = (new_id(), new_id());
    let mut ids = Vec::new();
    for (i, rid) in [&r1, &r2, &r1, &r2, &r1].into_iter().enumerate() {
        let op = new_op(&t, User, rid, &format!("k{i}"), false);
        open(&store, &op, &plan(&["s"])).await;
        store
            .complete_operation(&t, &op.id, 200, &ResourceCommit::Nothing)
            .await
            .unwrap();
        ids.push(op.id);
    }
    let listed = |ops: Vec<Operation>| ops.into_iter().map(|op| op.id).collect::<Vec<_>>();
    let all = store.list_operations(&t, None, 100).await.unwrap();
    assert!(all.iter().all(|op| op.steps.len() == 1));
    let rev: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(listed(all), rev);
    assert_eq!(
        listed(store.list_operations(&t, None, 2).await.unwrap()),
        rev[..2]
    );
    assert_eq!(
        listed(store.list_operations(&t, Some(&r1), 100).await.unwrap()),
        [ids[4].clone(), ids[2].clone(), ids[0].clone()]
    );
    assert!(
        store
            .list_operations(&tenant(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn duplicate_operation_id_is_refused(store: Arc<dyn Store>) {
    let t = tenant();
    let op = new_op(&t, User, &new_id(), "k1", false);
    open(&store, &op, &[]).await;
    let mut twin = new_op(&t, User, &new_id(), "k2", false);
    twin.id = op.id.clone();
    let result = store.open_operation(&twin, &[]).await;
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                attribute: "id",
                ..
            })
        ),
        "{result:?}"
    );
}

/// Opening an operation whose id is taken: the key is looked at first, then the resource, then
/// the id, which is a `Conflict` on `id` (the operation id as value) whether the operation
/// holding it is running or finished; nothing is written. The same answer on both backends.
async fn taken_operation_id_is_one_answer(store: Arc<dyn Store>) {
    let t = tenant();
    let rid = new_id();
    let op = new_op(&t, User, &rid, "k1", false);
    open(&store, &op, &plan(&["a"])).await;
    let twin = |resource_id: &str, key: &str| {
        let mut twin = new_op(&t, User, resource_id, key, false);
        twin.id = op.id.clone();
        twin
    };
    let assert_id_taken = |result: Result<Opened, StoreError>| match result {
        Err(StoreError::Conflict { attribute, value }) => {
            assert_eq!((attribute, value.as_str()), ("id", op.id.as_str()));
        }
        other => panic!("expected a Conflict on id, got {other:?}"),
    };
    // Running: its key and its resource answer first.
    match store.open_operation(&twin(&new_id(), "k1"), &[]).await {
        Ok(Opened::SameKey(found)) => assert_eq!(found.id, op.id),
        other => panic!("expected SameKey, got {other:?}"),
    }
    match store.open_operation(&twin(&rid, "k2"), &[]).await {
        Ok(Opened::ResourceBusy(found)) => assert_eq!(found.id, op.id),
        other => panic!("expected ResourceBusy, got {other:?}"),
    }
    assert_id_taken(store.open_operation(&twin(&new_id(), "k2"), &[]).await);
    // Finished: its key (not explicit) is released and its resource free; the id stays taken.
    store
        .complete_operation(&t, &op.id, 200, &ResourceCommit::Nothing)
        .await
        .unwrap();
    assert_id_taken(
        store
            .open_operation(&twin(&rid, "k1"), &plan(&["x", "y"]))
            .await,
    );
    assert_id_taken(store.open_operation(&twin(&new_id(), "k3"), &[]).await);
    let kept = operation(&store, &t, &op.id).await;
    assert_eq!(kept.state, OperationState::Succeeded);
    assert_eq!(
        (kept.resource_id.as_str(), kept.steps.len()),
        (rid.as_str(), 1)
    );
    assert_eq!(kept.idem_key, None);
    // The refused twins held nothing: the key and the resource are free.
    open(&store, &new_op(&t, User, &rid, "k1", false), &[]).await;
}

/// One writer per resource, enforced by the database under concurrency.
async fn concurrent_opens_on_one_resource_one_wins(store: Arc<dyn Store>) {
    let t = tenant();
    let rid = new_id();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, op) = (
                store.clone(),
                new_op(&t, Group, &rid, &format!("k{i}"), false),
            );
            tokio::spawn(async move {
                (
                    op.id.clone(),
                    store.open_operation(&op, &plan(&["a", "b"])).await,
                )
            })
        })
        .collect();
    let (mut created, mut busy) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            (id, Ok(Opened::Created(op))) => {
                assert_eq!(op.id, id);
                created.push(id);
            }
            (_, Ok(Opened::ResourceBusy(op))) => busy.push(op.id),
            (_, other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created.len(), busy.len()), (1, 9));
    assert!(busy.iter().all(|id| *id == created[0]));
    let running = store.list_operations(&t, Some(&rid), 100).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].steps.len(), 2);
}

/// The same request sent ten times at once (an impatient IdP): one operation.
async fn concurrent_opens_with_one_key_one_wins(store: Arc<dyn Store>) {
    let t = tenant();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, op) = (
                store.clone(),
                new_op(&t, User, &new_id(), "same-digest", false),
            );
            tokio::spawn(async move { store.open_operation(&op, &plan(&["a"])).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Opened::Created(op)) => {
                created += 1;
                ids.push(op.id);
            }
            Ok(Opened::SameKey(op)) => ids.push(op.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert!(ids.iter().all(|id| *id == ids[0]));
}

// ---- journal retention: one test per backend, since operations are made old behind the
// store's back ----

// Parameters in order of appearance: SQLite numbers `$N` by appearance, not by digits.
const BACKDATE: &str = "UPDATE operations SET finished = $1 WHERE tenant = $2 AND id = $3";
const STEPS_LEFT: &str = "SELECT count(*) FROM operation_steps WHERE tenant = $1";

/// `prune_operations` deletes old succeeded operations (oldest first, `limit` at a time, with
/// their steps and explicit keys) and keeps recent, failed and running ones. `backdate(tenant,
/// id, finished)` sets an operation's `finished`; `steps_left(tenant)` counts the tenant's
/// steps.
async fn prune_operations(
    store: Arc<dyn Store>,
    backdate: impl AsyncFn(&str, &str, &str),
    steps_left: impl AsyncFn(&str) -> i64,
) {
    const CUTOFF: &str = "2001-01-01T00:00:00+00:00";
    // Old operations left by an interrupted run on a shared database go first.
    while store.prune_operations(CUTOFF, 1000).await.unwrap() > 0 {}
    let t = tenant();
    let finish = async |key: &str, explicit: bool, steps: &[&str], finished: Option<&str>| {
        let op = new_op(&t, User, &new_id(), key, explicit);
        open(&store, &op, &plan(steps)).await;
        match key.starts_with("failed") {
            true => store
                .fail_operation(&t, &op.id, 409, &json!({ "detail": "no" }))
                .await
                .unwrap(),
            false => {
                store
                    .complete_operation(&t, &op.id, 200, &ResourceCommit::Nothing)
                    .await
                    .unwrap();
            }
        }
        if let Some(finished) = finished {
            backdate(&t, &op.id, finished).await;
        }
        op.id
    };
    let old1 = finish("k1", false, &["a", "b"], Some("2000-01-01T00:00:01.000Z")).await;
    let old2 = finish("kept", true, &["a"], Some("2000-01-01T00:00:02.000Z")).await;
    let old3 = finish("k3", false, &[], Some("2000-01-01T00:00:03.000Z")).await;
    let failed = finish("failed", true, &["a"], Some("2000-01-01T00:00:00.000Z")).await;
    let recent = finish("k4", false, &["a"], None).await;
    let running = new_op(&t, User, &new_id(), "k5", false);
    open(&store, &running, &plan(&["a", "b"])).await;

    assert_eq!(store.prune_operations(CUTOFF, 0).await.unwrap(), 0);
    assert_eq!(store.prune_operations(CUTOFF, -1).await.unwrap(), 0);
    let malformed = store.prune_operations("last year", 10).await;
    assert!(
        matches!(malformed, Err(StoreError::Invalid(_))),
        "{malformed:?}"
    );

    // The limit holds, the oldest go first.
    assert_eq!(store.prune_operations(CUTOFF, 2).await.unwrap(), 2);
    let exists = async |id: &str| store.get_operation(&t, id).await.unwrap().is_some();
    assert!(!exists(&old1).await && !exists(&old2).await && exists(&old3).await);
    // The explicit key went with its operation: the key opens a new operation.
    assert!(store.operation_by_key(&t, "kept").await.unwrap().is_none());
    let reuse = new_op(&t, User, &new_id(), "kept", true);
    open(&store, &reuse, &[]).await;

    assert_eq!(store.prune_operations(CUTOFF, 10).await.unwrap(), 1);
    assert_eq!(store.prune_operations(CUTOFF, 10).await.unwrap(), 0);
    assert!(!exists(&old3).await);
    for kept in [&failed, &recent, &running.id, &reuse.id] {
        assert!(exists(kept).await, "{kept} must be kept");
    }
    let failed_op = operation(&store, &t, &failed).await;
    assert_eq!(failed_op.state, OperationState::Failed);
    // The steps of the pruned operations went with them: those left are the kept ones'.
    assert_eq!(steps_left(&t).await, 1 + 1 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_prune_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = tableau_scim::store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let db = || rusqlite::Connection::open(&path).unwrap();
    prune_operations(
        store,
        async |t: &str, id: &str, finished: &str| {
            assert_eq!(db().execute(BACKDATE, [finished, t, id]).unwrap(), 1);
        },
        async |t: &str| db().query_row(STEPS_LEFT, [t], |r| r.get(0)).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_prune_operations() {
    let Some(store) = support::postgres_store().await else {
        eprintln!("skipped: set {} to a PostgreSQL URL", support::POSTGRES_ENV);
        return;
    };
    let url = std::env::var(support::POSTGRES_ENV).unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    prune_operations(
        store,
        async |t: &str, id: &str, finished: &str| {
            let query = sqlx::query(BACKDATE).bind(finished).bind(t).bind(id);
            assert_eq!(query.execute(&pool).await.unwrap().rows_affected(), 1);
        },
        async |t: &str| {
            sqlx::query_scalar(STEPS_LEFT)
                .bind(t)
                .fetch_one(&pool)
                .await
                .unwrap()
        },
    )
    .await;
}

/// Issue 9, finding 3: the unique index on the LUID, whatever writes it (`set_luid`, a
/// committed create or update); per tenant; a cleared LUID can be taken again.
async fn one_luid_belongs_to_one_resource(store: Arc<dyn Store>) {
    let t = tenant();
    let a = user(&store, &t, "luid-a").await;
    let b = user(&store, &t, "luid-b").await;
    store.set_luid(&t, User, &a.id, Some("L-1")).await.unwrap();
    let taken = |r: StoreResult<()>| match r {
        Err(StoreError::Conflict { attribute, value }) => {
            assert_eq!((attribute, value.as_str()), ("tableauLuid", "L-1"))
        }
        other => panic!("expected the LUID conflict, got {other:?}"),
    };
    taken(store.set_luid(&t, User, &b.id, Some("L-1")).await);
    // Not even a group can hold a user's LUID.
    let g = store
        .create(
            &t,
            Group,
            &new_id(),
            &obj(json!({"displayName": "luid-g"})),
            &[],
        )
        .await
        .unwrap();
    taken(store.set_luid(&t, Group, &g.id, Some("L-1")).await);
    // Setting it again on its holder is fine; another tenant has LUIDs of its own.
    store.set_luid(&t, User, &a.id, Some("L-1")).await.unwrap();
    let other = tenant();
    let c = user(&store, &other, "luid-a").await;
    store
        .set_luid(&other, User, &c.id, Some("L-1"))
        .await
        .unwrap();
    // A committed create carrying a held LUID is refused and commits nothing.
    let rid = new_id();
    let op = new_op(&t, User, &rid, "k-luid", false);
    open(&store, &op, &[]).await;
    let result = store
        .complete_operation(&t, &op.id, 201, &user_commit(&rid, "luid-c", Some("L-1")))
        .await
        .map(|_| ());
    taken(result);
    assert!(store.get(&t, User, &rid, false).await.unwrap().is_none());
    // So is an update.
    let op = new_op(&t, User, &b.id, "k-luid-2", false);
    open(&store, &op, &[]).await;
    let update = ResourceCommit::Update {
        kind: User,
        id: b.id.clone(),
        revision: 1,
        doc: obj(json!({ "userName": "luid-b", "title": "x" })),
        members: MemberChanges::default(),
        tableau_luid: Some("L-1".to_owned()),
    };
    taken(
        store
            .complete_operation(&t, &op.id, 200, &update)
            .await
            .map(|_| ()),
    );
    let got = store.get(&t, User, &b.id, false).await.unwrap().unwrap();
    assert_eq!((got.revision, got.tableau_luid), (1, None));
    // Once cleared, the LUID can be linked to another resource.
    store.set_luid(&t, User, &a.id, None).await.unwrap();
    store.set_luid(&t, User, &b.id, Some("L-1")).await.unwrap();
    assert_eq!(
        store
            .find_by_luid(&t, User, "L-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        b.id
    );
}
