//! PostgreSQL's side of the admin console's reads and the refused requests
//! (`store::console`).

use crate::store::console::{
    COUNTS_SINCE, FilterValues, INSERT_REFUSAL, PRUNE_REFUSALS, Refusal, SEARCH_OPERATIONS,
    SEARCH_REFUSALS, count, refusal,
};
use crate::store::journal::json_text;
use crate::store::{NewRefusal, Operation, StoreResult, rows};
use sqlx::PgPool;
use sqlx::postgres::PgRow;

async fn search(pool: &PgPool, sql: &'static str, v: &FilterValues) -> StoreResult<Vec<PgRow>> {
    Ok(sqlx::query(sql)
        .bind(&v.tenant)
        .bind(&v.state)
        .bind(v.kind)
        .bind(&v.pattern)
        .bind(&v.since)
        .bind(&v.until)
        .bind(&v.text)
        .bind(v.before_seq)
        .bind(v.limit)
        .fetch_all(pool)
        .await?)
}

pub(super) async fn search_operations(
    pool: &PgPool,
    v: &FilterValues,
) -> StoreResult<Vec<Operation>> {
    let found = search(pool, SEARCH_OPERATIONS, v).await?;
    found.iter().map(|r| rows::operation(r)).collect()
}

pub(super) async fn search_refusals(pool: &PgPool, v: &FilterValues) -> StoreResult<Vec<Refusal>> {
    let found = search(pool, SEARCH_REFUSALS, v).await?;
    found.iter().map(|r| refusal(r)).collect()
}

pub(super) async fn counts_since(
    pool: &PgPool,
    tenant: &str,
    since: &str,
) -> StoreResult<Vec<(String, i64)>> {
    let found = sqlx::query(COUNTS_SINCE)
        .bind(tenant)
        .bind(since)
        .fetch_all(pool)
        .await?;
    found.iter().map(|r| count(r)).collect()
}

pub(super) async fn record_refusal(pool: &PgPool, r: &NewRefusal, now: &str) -> StoreResult<()> {
    let body = r.request_body.as_ref().map(json_text).transpose()?;
    sqlx::query(INSERT_REFUSAL)
        .bind(&r.tenant)
        .bind(now)
        .bind(&r.request_id)
        .bind(&r.principal)
        .bind(&r.method)
        .bind(&r.path)
        .bind(r.resource_kind.map(|k| k.as_str()))
        .bind(&r.resource_name)
        .bind(body)
        .bind(i64::from(r.status))
        .bind(json_text(&r.error_body)?)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn prune_refusals(pool: &PgPool, before: &str, limit: i64) -> StoreResult<u64> {
    Ok(sqlx::query(PRUNE_REFUSALS)
        .bind(before)
        .bind(limit)
        .execute(pool)
        .await?
        .rows_affected())
}
