//! Filter parsing and evaluation, and what the indexed equality lookup saves.
//!
//! Run with `cargo bench --bench filter` (add `-- parse` etc. to select groups).
//!
//! What it shows:
//! - `parse/*`: the cost of parsing a typical IdP filter (`userName eq "x"`, what Okta and
//!   Entra send before every create) and a large RFC-style one; both are microseconds or less,
//!   so parsing is never the bottleneck of a request.
//! - `list_10k/scan`: evaluating `userName eq "..."` on every one of 10,000 user documents,
//!   i.e. what a list request would cost without an index (linear in the number of users).
//! - `list_10k/lookup`: `equality_lookup` turns the same filter into
//!   `Lookup::UserName`, a hash index (standing in for the store's database index)
//!   yields the candidates, and the full filter is evaluated on those only: the cost no longer
//!   depends on the number of users. The ratio of the two is the point of `equality_lookup`.
//! - `list_10k/scan_complex`: a filter no index can answer (`or`, `co`, value path, dateTime
//!   comparison), which must scan; its cost per document bounds how large a tenant can be
//!   served by scanning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use tableau_scim::model::Lookup;
use tableau_scim::scim::filter::{equality_lookup, matches, parse_filter};
use tableau_scim::scim::schema::SchemaRegistry;

const SIMPLE: &str = r#"userName eq "user5000@example.com""#;
const COMPLEX: &str = r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org") and not (title pr) or emails[type eq "work" and value co "@example.com"].display eq "x" or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915" and meta.lastModified gt "2011-05-13T04:42:34Z" and displayName eq "Zo\u00eb \"Z\" Jensen""#;
const SCAN: &str = r#"(emails[type eq "work" and value co "@example.org"] or title co "guide") and meta.lastModified gt "2024-06-01T00:00:00Z" and active eq true"#;

fn users(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": format!("id-{i:08}"),
                "externalId": format!("ext-{i}"),
                "userName": format!("User{i}@Example.com"),
                "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
                "displayName": format!("User Number {i}"),
                "title": if i % 7 == 0 { "Tour Guide" } else { "Engineer" },
                "active": i % 3 != 0,
                "emails": [
                    {"value": format!("user{i}@example.com"), "type": "work", "primary": true},
                    {"value": format!("u{i}@example.org"), "type": "home"}
                ],
                "meta": {
                    "resourceType": "User",
                    "created": "2024-01-01T00:00:00Z",
                    "lastModified": format!("2024-{:02}-01T00:00:00Z", i % 12 + 1)
                }
            })
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("simple", |b| b.iter(|| parse_filter(black_box(SIMPLE))));
    g.bench_function("complex", |b| b.iter(|| parse_filter(black_box(COMPLEX))));
    g.finish();
}

fn list(c: &mut Criterion) {
    let schema = &SchemaRegistry::builtin().user;
    let docs = users(10_000);
    // The store's userName index: case-insensitive, as userName is caseExact=false.
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(u) = d["userName"].as_str() {
            index.entry(u.to_lowercase()).or_default().push(i);
        }
    }
    let simple = parse_filter(SIMPLE).expect("benchmark filter parses");
    let scan = parse_filter(SCAN).expect("benchmark filter parses");

    // The benchmarks measure real work: check what they find.
    let count = |f| {
        docs.iter()
            .filter(|d| matches(f, d, schema).unwrap_or(false))
            .count()
    };
    assert_eq!(count(&simple), 1, "case-insensitive userName match");
    assert!(count(&scan) > 0);

    let mut g = c.benchmark_group("list_10k");
    g.sample_size(20);
    g.bench_function("scan", |b| {
        b.iter(|| {
            docs.iter()
                .filter(|d| matches(&simple, d, schema).unwrap_or(false))
                .count()
        })
    });
    g.bench_function("lookup", |b| {
        b.iter(|| {
            let Some(Lookup::UserName(u)) = equality_lookup(black_box(&simple), schema) else {
                return 0;
            };
            index.get(&u.to_lowercase()).map_or(0, |ids| {
                ids.iter()
                    .filter(|&&i| matches(&simple, &docs[i], schema).unwrap_or(false))
                    .count()
            })
        })
    });
    g.bench_function("scan_complex", |b| {
        b.iter(|| {
            docs.iter()
                .filter(|d| matches(&scan, d, schema).unwrap_or(false))
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, parse, list);
criterion_main!(benches);
