//! Store benchmarks: an indexed equality lookup by `userName` among 10,000 users (also with the
//! user's groups, also as throughput on current-thread runtimes like actix's workers) against
//! listing them all (what a non-indexed filter has to start from), and single creates (the store's
//! share of a POST /Users) plain and journaled (`open_operation` + 2 `record_step` +
//! `complete_operation`: the store's share of a journaled POST /Users), the latter also as
//! throughput at several concurrencies, against the plain create in the same run. SQLite always;
//! PostgreSQL too when `TABLEAU_SCIM_TEST_POSTGRES` names a database.
//! Run: `cargo bench --bench store`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail loudly"
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tableau_scim::model::ResourceKind::User;
use tableau_scim::store::{
    Lookup, NewOperation, Opened, PlannedStep, ResourceCommit, StepOutcome, StepState, Store,
};
use tokio::runtime::Runtime;

const USERS: usize = 10_000;

fn user_doc(i: usize) -> Map<String, Value> {
    let doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("User{i}@Example.com"),
        "externalId": format!("ext-{i}"),
        "name": { "givenName": "Bench", "familyName": format!("User {i}") },
        "displayName": format!("Bench User {i}"),
        "emails": [{ "value": format!("user{i}@example.com"), "type": "work", "primary": true }],
        "active": true,
    });
    match doc {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// A store holding `USERS` users in a fresh tenant; prints the load rate.
fn load(rt: &Runtime, name: &str, store: &Arc<dyn Store>) -> String {
    let tenant = format!("bench-{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    rt.block_on(async {
        for i in 0..USERS {
            let id = uuid::Uuid::new_v4().to_string();
            store
                .create(&tenant, User, &id, &user_doc(i), &[])
                .await
                .expect("create");
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: {USERS} sequential creates in {secs:.2} s ({:.0}/s)",
        USERS as f64 / secs
    );
    tenant
}

/// The store's share of one journaled POST /Users: the operation and its two-step plan, the two
/// Tableau calls recorded, the user committed with the operation's success.
async fn journaled_create(store: &dyn Store, tenant: &str, i: usize) {
    let id = uuid::Uuid::new_v4().to_string();
    let op = NewOperation {
        claimed_name: None,
        tenant: tenant.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        idem_key: format!("digest-{id}"),
        explicit_key: false,
        principal: "token:bench".to_owned(),
        method: "POST".to_owned(),
        path: "/scim/v2/Users".to_owned(),
        digest: "ab".repeat(32),
        resource_kind: User,
        resource_id: id.clone(),
        intent: json!({ "create": { "userName": format!("User{i}@Example.com") } }),
        request_id: None,
        removals: 0,
        request_body: None,
        resource_name: None,
    };
    let plan = [("add_user", 0), ("update_user", 1)].map(|(kind, idx)| PlannedStep {
        idx,
        kind: kind.to_owned(),
        description: json!({ "name": format!("User{i}@Example.com"), "siteRole": "Viewer" }),
    });
    let opened = store.open_operation(&op, &plan).await.expect("open");
    assert!(matches!(opened, Opened::Created(_)));
    let luid = uuid::Uuid::new_v4().to_string();
    for idx in 0..2 {
        let outcome = StepOutcome {
            state: StepState::Done,
            method: Some("POST".to_owned()),
            path: Some("/api/3.24/sites/site-luid/users".to_owned()),
            request_body: Some(format!(r#"{{"user":{{"name":"User{i}@Example.com"}}}}"#)),
            http_status: Some(201),
            tableau_code: None,
            duration_ms: Some(3),
            luid: Some(luid.clone()),
            error: None,
            calls: None,
        };
        store
            .record_step(tenant, &op.id, idx, &outcome)
            .await
            .expect("record");
    }
    let commit = ResourceCommit::Create {
        kind: User,
        id,
        doc: user_doc(i),
        members: Vec::new(),
        tableau_luid: Some(luid),
    };
    store
        .complete_operation(tenant, &op.id, 201, &commit)
        .await
        .expect("complete");
}

/// Creates per second with `concurrency` tasks sharing `total` creates, plain or journaled.
fn throughput(
    rt: &Runtime,
    store: &Arc<dyn Store>,
    journaled: bool,
    concurrency: usize,
    total: usize,
) -> f64 {
    let tenant = format!("bench-{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|task| {
                let (store, tenant) = (store.clone(), tenant.clone());
                tokio::spawn(async move {
                    for i in (task..total).step_by(concurrency) {
                        if journaled {
                            journaled_create(store.as_ref(), &tenant, i).await;
                        } else {
                            let id = uuid::Uuid::new_v4().to_string();
                            store
                                .create(&tenant, User, &id, &user_doc(i), &[])
                                .await
                                .expect("create");
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    let rate = total as f64 / started.elapsed().as_secs_f64();
    cleanup(rt, store, &tenant);
    rate
}

fn report_throughput(rt: &Runtime, name: &str, store: &Arc<dyn Store>) {
    const TOTAL: usize = 4_000;
    for concurrency in [1, 16, 64] {
        let plain = throughput(rt, store, false, concurrency, TOTAL);
        let journaled = throughput(rt, store, true, concurrency, TOTAL);
        println!(
            "{name}: concurrency {concurrency}: plain create {plain:.0}/s, journaled create \
             {journaled:.0}/s ({:.0} % of plain)",
            100.0 * journaled / plain
        );
    }
}

/// Leave a shared PostgreSQL database as it was found (journal rows stay: the journal is
/// append-only by design).
fn cleanup(rt: &Runtime, store: &Arc<dyn Store>, tenant: &str) {
    rt.block_on(async {
        for user in store.list(tenant, User, None, false).await.expect("list") {
            store.delete(tenant, User, &user.id).await.expect("delete");
        }
    });
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    let tenant = load(rt, name, &store);
    let mut group = c.benchmark_group(format!("store/{name}"));
    let mut i = 0usize;
    group.bench_function(BenchmarkId::new("lookup_user_name", USERS), |b| {
        b.iter(|| {
            i = (i + 7919) % USERS;
            let lookup = Lookup::UserName(format!("user{i}@example.com"));
            let found = rt
                .block_on(store.list(&tenant, User, Some(&lookup), false))
                .expect("lookup");
            assert_eq!(found.len(), 1);
            black_box(found)
        })
    });
    group.bench_function(BenchmarkId::new("lookup_email", USERS), |b| {
        b.iter(|| {
            i = (i + 7919) % USERS;
            let lookup = Lookup::EmailValue(format!("USER{i}@example.com"));
            black_box(rt.block_on(store.list(&tenant, User, Some(&lookup), false)))
        })
    });
    group.bench_function(
        BenchmarkId::new("lookup_user_name_with_groups", USERS),
        |b| {
            b.iter(|| {
                i = (i + 7919) % USERS;
                let lookup = Lookup::UserName(format!("user{i}@example.com"));
                let found = rt
                    .block_on(store.list(&tenant, User, Some(&lookup), true))
                    .expect("lookup");
                assert_eq!(found.len(), 1);
                black_box(found)
            })
        },
    );
    let mut n = USERS;
    group.bench_function("create_user", |b| {
        b.iter(|| {
            n += 1;
            let id = uuid::Uuid::new_v4().to_string();
            black_box(rt.block_on(store.create(&tenant, User, &id, &user_doc(n), &[])))
        })
    });
    group.bench_function("journaled_create_user", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(journaled_create(store.as_ref(), &tenant, n))
        })
    });
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("list_all", USERS), |b| {
        b.iter(|| black_box(rt.block_on(store.list(&tenant, User, None, false))))
    });
    group.finish();
    // sqlx's PostgreSQL connections belong to the runtime that opened them, so lookups from
    // runtimes of their own (as actix workers run them) are measured on SQLite only.
    if name == "sqlite" {
        report_lookups(name, &store, &tenant);
    }
    cleanup(rt, &store, &tenant);
    report_throughput(rt, name, &store);
}

/// Lookups by `userName` (with groups, as `GET /Users?filter=userName eq "..."` reads them) per
/// second, the way the server runs them: `threads` threads (actix workers), each a
/// current-thread runtime with 8 requests in flight.
fn report_lookups(name: &str, store: &Arc<dyn Store>, tenant: &str) {
    const PER_THREAD: usize = 20_000;
    for threads in [1, 2] {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for thread in 0..threads {
                let (store, tenant) = (store.clone(), tenant.to_owned());
                scope.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        let tasks: Vec<_> = (0..8)
                            .map(|task| {
                                let (store, tenant) = (store.clone(), tenant.clone());
                                tokio::spawn(async move {
                                    for i in (task..PER_THREAD).step_by(8) {
                                        let i = (i * 7919 + thread) % USERS;
                                        let lookup =
                                            Lookup::UserName(format!("user{i}@example.com"));
                                        let found = store
                                            .list(&tenant, User, Some(&lookup), true)
                                            .await
                                            .expect("lookup");
                                        assert_eq!(found.len(), 1);
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.expect("task");
                        }
                    });
                });
            }
        });
        let rate = (threads * PER_THREAD) as f64 / started.elapsed().as_secs_f64();
        println!("{name}: lookups with groups, {threads} current-thread runtime(s): {rate:.0}/s");
    }
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let sqlite = rt
        .block_on(tableau_scim::store::connect(&url))
        .expect("sqlite");
    bench_backend(c, &rt, "sqlite", sqlite);
    if let Ok(url) = std::env::var("TABLEAU_SCIM_TEST_POSTGRES") {
        let pg = rt
            .block_on(tableau_scim::store::connect(&url))
            .expect("postgres");
        bench_backend(c, &rt, "postgres", pg);
    }
}

criterion_group!(store, benches);
criterion_main!(store);
