//! Store benchmarks: an indexed equality lookup by `userName` among 10,000 users against listing
//! them all (what a non-indexed filter has to start from), and single creates (the store's
//! share of a POST /Users). SQLite always; PostgreSQL too when `TABLEAU_SCIM_TEST_POSTGRES`
//! names a database. Run: `cargo bench --bench store`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tableau_scim::scim::schema::ResourceKind::User;
use tableau_scim::store::{IndexedLookup, Store};
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

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Store>) {
    let tenant = load(rt, name, &store);
    let mut group = c.benchmark_group(format!("store/{name}"));
    let mut i = 0usize;
    group.bench_function(BenchmarkId::new("lookup_user_name", USERS), |b| {
        b.iter(|| {
            i = (i + 7919) % USERS;
            let lookup = IndexedLookup::UserName(format!("user{i}@example.com"));
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
            let lookup = IndexedLookup::EmailValue(format!("USER{i}@example.com"));
            black_box(rt.block_on(store.list(&tenant, User, Some(&lookup), false)))
        })
    });
    let mut n = USERS;
    group.bench_function("create_user", |b| {
        b.iter(|| {
            n += 1;
            let id = uuid::Uuid::new_v4().to_string();
            black_box(rt.block_on(store.create(&tenant, User, &id, &user_doc(n), &[])))
        })
    });
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("list_all", USERS), |b| {
        b.iter(|| black_box(rt.block_on(store.list(&tenant, User, None, false))))
    });
    group.finish();
    // Leave a shared PostgreSQL database as it was found.
    rt.block_on(async {
        for user in store.list(&tenant, User, None, false).await.expect("list") {
            store.delete(&tenant, User, &user.id).await.expect("delete");
        }
    });
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
