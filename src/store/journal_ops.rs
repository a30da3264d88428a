//! The operation-journal functions both backends share, expanded per backend by
//! [`journal_ops!`] (a macro for the reason given in `store_impl`): the reads. The writes are
//! per backend: PostgreSQL runs them as few statements on pooled connections
//! (`postgres_journal`), SQLite in group-committed batches on its single writer
//! (`sqlite_writes`).
//!
//! The expanding module provides `with_steps(conn, rows)`: operations with their steps, loaded
//! in one query (lists are passed differently per backend).

/// Expand the shared journal reads for the connection type `$conn` and pool type `$pool`.
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
