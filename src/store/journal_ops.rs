//! The operation-journal functions both backends share, expanded per backend by
//! [`journal_ops!`] (a macro for the reason given in `store_impl`): the reads, and the writes
//! off the hot path (replacing a plan, failing, touching). What stays per backend is what
//! really differs: the hot-path writes (opening an operation, recording a step, completing),
//! which PostgreSQL runs as few statements on pooled connections and SQLite in group-committed
//! batches on its single writer (`sqlite_writes`), and how a plan and a list of operations are
//! passed.
//!
//! The expanding module provides, by these names:
//! - `insert_plan(conn, tenant, op_id, plan)`: insert pending steps (nothing for an empty plan),
//!   mapping errors with `plan_error`;
//! - `with_steps(conn, rows)`: operations with their steps, loaded in one query.

/// Expand the shared journal functions for the connection type `$conn` and pool type `$pool`.
macro_rules! journal_ops {
    ($conn:ty, $pool:ty) => {
        async fn first_with_steps(
            conn: &mut $conn,
            row: Option<$crate::store::journal_rows::OperationRow>,
        ) -> StoreResult<Option<Operation>> {
            Ok(with_steps(conn, row.into_iter().collect())
                .await?
                .into_iter()
                .next())
        }

        /// Which running operation refused a new one, if any: the key first (a retried request
        /// attaches to its own operation even though that one also holds the resource), then
        /// the resource.
        pub(super) async fn refused_by(
            conn: &mut $conn,
            op: &NewOperation,
        ) -> StoreResult<Option<Opened>> {
            let same_key: Option<$crate::store::journal_rows::OperationRow> =
                sqlx::query_as($crate::store::journal_sql::BY_KEY)
                    .bind(&op.tenant)
                    .bind(&op.idem_key)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(found) = first_with_steps(conn, same_key).await? {
                return Ok(Some(Opened::SameKey(found)));
            }
            let busy: Option<$crate::store::journal_rows::OperationRow> =
                sqlx::query_as($crate::store::journal_sql::RUNNING_ON)
                    .bind(&op.tenant)
                    .bind(op.resource_kind.as_str())
                    .bind(&op.resource_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(found) = first_with_steps(conn, busy).await? {
                return Ok(Some(Opened::ResourceBusy(found)));
            }
            Ok(None)
        }

        pub(super) async fn replace_plan(
            write: &$pool,
            tenant: &str,
            op_id: &str,
            from_idx: i64,
            steps: &[PlannedStep],
        ) -> StoreResult<()> {
            let mut tx = write.begin().await?;
            sqlx::query($crate::store::journal_sql::DELETE_PENDING_STEPS)
                .bind(tenant)
                .bind(op_id)
                .bind(from_idx)
                .execute(&mut *tx)
                .await?;
            insert_plan(&mut tx, tenant, op_id, steps).await?;
            tx.commit().await?;
            Ok(())
        }

        /// End a running operation on `conn`; `NotFound` unless it was running. Inside
        /// `complete` on PostgreSQL, the UPDATE also row-locks the operation, so two servers
        /// cannot both complete it.
        pub(super) async fn finish(
            conn: &mut $conn,
            tenant: &str,
            op_id: &str,
            state: OperationState,
            status: u16,
            error_body: Option<String>,
        ) -> StoreResult<()> {
            let finished = sqlx::query($crate::store::journal_sql::FINISH)
                .bind(tenant)
                .bind(op_id)
                .bind(state.as_str())
                .bind($crate::store::journal_rows::status_column(status))
                .bind(error_body)
                .bind($crate::store::columns::now_timestamp())
                .execute(conn)
                .await?
                .rows_affected();
            if finished == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        }

        pub(super) async fn fail(
            write: &$pool,
            tenant: &str,
            op_id: &str,
            status: u16,
            error_body: &Value,
        ) -> StoreResult<()> {
            let body = $crate::store::journal::json_text(error_body)?;
            let mut conn = write.acquire().await?;
            finish(
                &mut conn,
                tenant,
                op_id,
                OperationState::Failed,
                status,
                Some(body),
            )
            .await
        }

        pub(super) async fn get(
            read: &$pool,
            tenant: &str,
            op_id: &str,
        ) -> StoreResult<Option<Operation>> {
            let mut conn = read.acquire().await?;
            let row: Option<$crate::store::journal_rows::OperationRow> =
                sqlx::query_as($crate::store::journal_sql::OPERATION)
                    .bind(tenant)
                    .bind(op_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            first_with_steps(&mut conn, row).await
        }

        pub(super) async fn by_key(
            read: &$pool,
            tenant: &str,
            idem_key: &str,
        ) -> StoreResult<Option<Operation>> {
            let mut conn = read.acquire().await?;
            let row: Option<$crate::store::journal_rows::OperationRow> =
                sqlx::query_as($crate::store::journal_sql::BY_KEY)
                    .bind(tenant)
                    .bind(idem_key)
                    .fetch_optional(&mut *conn)
                    .await?;
            first_with_steps(&mut conn, row).await
        }

        pub(super) async fn unfinished(read: &$pool, limit: i64) -> StoreResult<Vec<Operation>> {
            let mut conn = read.acquire().await?;
            let rows: Vec<$crate::store::journal_rows::OperationRow> =
                sqlx::query_as($crate::store::journal_sql::UNFINISHED)
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await?;
            with_steps(&mut conn, rows).await
        }

        pub(super) async fn touch(write: &$pool, tenant: &str, op_id: &str) -> StoreResult<i64> {
            let attempts: Option<i64> = sqlx::query_scalar($crate::store::journal_sql::TOUCH)
                .bind(tenant)
                .bind(op_id)
                .bind($crate::store::columns::now_timestamp())
                .fetch_optional(write)
                .await?;
            attempts.ok_or(StoreError::NotFound)
        }

        pub(super) async fn list(
            read: &$pool,
            tenant: &str,
            resource_id: Option<&str>,
            limit: i64,
        ) -> StoreResult<Vec<Operation>> {
            let mut conn = read.acquire().await?;
            let rows: Vec<$crate::store::journal_rows::OperationRow> = match resource_id {
                Some(resource_id) => {
                    sqlx::query_as($crate::store::journal_sql::LIST_FOR_RESOURCE)
                        .bind(tenant)
                        .bind(resource_id)
                        .bind(limit)
                        .fetch_all(&mut *conn)
                        .await?
                }
                None => {
                    sqlx::query_as($crate::store::journal_sql::LIST)
                        .bind(tenant)
                        .bind(limit)
                        .fetch_all(&mut *conn)
                        .await?
                }
            };
            with_steps(&mut conn, rows).await
        }
    };
}
pub(crate) use journal_ops;
