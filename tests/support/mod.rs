//! The harness shared by the store test suites (`tests/store.rs`, `tests/journal.rs`,
//! `tests/store/paging.rs`), and the scratch PostgreSQL databases of the process-level suites
//! (`tests/provision`, `tests/crash`): every store test is an async function over
//! `Arc<dyn Store>`, instantiated by `store_tests!` for SQLite
//! (always, a temporary file) and PostgreSQL (when `TABLEAU_SCIM_TEST_POSTGRES` names a
//! database URL). Each test works in a tenant of its own, so tests run in parallel on one
//! shared PostgreSQL database without seeing each other's rows.

// Each test crate compiles this module and uses a different part of it.
#![allow(dead_code)]

use serde_json::{Map, Value};
use std::sync::Arc;
use tableau_scim::store::Store;

pub const POSTGRES_ENV: &str = "TABLEAU_SCIM_TEST_POSTGRES";

/// A SQLite store in a fresh directory; the path has a missing parent to test its creation.
pub async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/data/store.db", dir.path().display());
    let store = tableau_scim::store::connect(&url)
        .await
        .expect("open sqlite store");
    (store, dir)
}

pub async fn postgres_store() -> Option<Arc<dyn Store>> {
    let url = std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())?;
    Some(
        tableau_scim::store::connect(&url)
            .await
            .expect("open postgres store"),
    )
}

#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = $crate::support::sqlite_store().await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = $crate::support::postgres_store().await else {
                        eprintln!(
                            "skipped: set {} to a PostgreSQL URL",
                            $crate::support::POSTGRES_ENV
                        );
                        return;
                    };
                    super::$name(store).await;
                }
            )*
        }
    };
}

pub fn tenant() -> String {
    format!("t-{}", uuid::Uuid::new_v4())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A fresh database on the PostgreSQL server of `TABLEAU_SCIM_TEST_POSTGRES`, dropped by
/// `drop_database`.
pub async fn fresh_database(base: &str) -> (String, String) {
    let name = format!("tscim_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(base)
        .await
        .expect("connect to postgres");
    // `name` is generated here (letters, digits, underscore), never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    let prefix = prefix.to_string();
    (format!("{prefix}/{name}"), name)
}

pub async fn drop_database(base: &str, name: &str) {
    let admin = sqlx::PgPool::connect(base)
        .await
        .expect("connect to postgres");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    admin.close().await;
}
