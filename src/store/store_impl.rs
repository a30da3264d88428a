//! The `Store` implementation both backends share, expanded per backend by [`store_impl!`].
//!
//! Why a macro rather than functions generic over `sqlx::Database`: the bodies are identical,
//! but a generic version needs an executor bound per borrowed connection
//! (`for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>`), an `Encode + Type` bound per
//! bound value type, a `FromRow` bound per row, and `Send` bounds for the `async_trait` futures;
//! those bounds would outweigh the code they save. The macro expands the very code each backend
//! would have against its concrete connection type.
//!
//! The backends share their reads (SQLite reads from a pool of its own, PostgreSQL from its one
//! pool, so the macro is told which field to read from) and differ in how they write: each
//! provides every write as an inherent method (`resource_create`, `resource_update`,
//! `resource_delete`, `resource_set_luid`, `journal_open`, `journal_record_step`,
//! `journal_replace_plan`, `journal_complete`, `journal_fail`, `journal_touch`), which the
//! `Store` methods call. SQLite group-commits them on its single writer, PostgreSQL runs them
//! on pooled connections. The expanding module also provides a module `journal` with the reads
//! of `journal_ops!`, the statements `MEMBERS_OF` and `GROUPS_OF`, and `list_param(items)`.

/// `impl Store for $store`, reading from the pool in field `$read` (connections `$conn`).
macro_rules! store_impl {
    ($store:ty, $conn:ty, read: $read:ident) => {
        /// Members (groups) or groups (users) of all `resources` at once, all of one kind.
        pub(super) async fn load_relations(
            conn: &mut $conn,
            tenant: &str,
            resources: &mut [Resource],
        ) -> StoreResult<()> {
            let Some(first) = resources.first() else {
                return Ok(());
            };
            let sql = match first.kind {
                ResourceKind::Group => MEMBERS_OF,
                ResourceKind::User => GROUPS_OF,
            };
            let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
            let rows: Vec<$crate::store::rows::RelationRow> = sqlx::query_as(sql)
                .bind(tenant)
                .bind(list_param(&ids))
                .fetch_all(conn)
                .await?;
            $crate::store::rows::attach_relations(resources, rows)
        }

        #[async_trait::async_trait]
        impl Store for $store {
            async fn create(
                &self,
                tenant: &str,
                kind: ResourceKind,
                id: &str,
                doc: &Map<String, Value>,
                members: &[(String, ResourceKind)],
            ) -> StoreResult<Resource> {
                self.resource_create(tenant, kind, id, doc, members).await
            }

            async fn get(
                &self,
                tenant: &str,
                kind: ResourceKind,
                id: &str,
                with_relations: bool,
            ) -> StoreResult<Option<Resource>> {
                let mut conn = self.$read.acquire().await?;
                let row: Option<$crate::store::rows::ResourceRow> =
                    sqlx::query_as($crate::store::sql::GET)
                        .bind(tenant)
                        .bind(kind.as_str())
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some(row) = row else { return Ok(None) };
                let mut resource = row.into_resource()?;
                if with_relations {
                    load_relations(&mut conn, tenant, std::slice::from_mut(&mut resource)).await?;
                }
                Ok(Some(resource))
            }

            async fn update(
                &self,
                tenant: &str,
                kind: ResourceKind,
                id: &str,
                revision: i64,
                doc: &Map<String, Value>,
                members: &MemberChanges,
            ) -> StoreResult<Resource> {
                self.resource_update(tenant, kind, id, revision, doc, members)
                    .await
            }

            async fn delete(
                &self,
                tenant: &str,
                kind: ResourceKind,
                id: &str,
            ) -> StoreResult<bool> {
                self.resource_delete(tenant, kind, id).await
            }

            async fn list(
                &self,
                tenant: &str,
                kind: ResourceKind,
                lookup: Option<&Lookup>,
                with_relations: bool,
            ) -> StoreResult<Vec<Resource>> {
                let mut conn = self.$read.acquire().await?;
                let mut query = sqlx::query_as($crate::store::sql::list_sql(lookup))
                    .bind(tenant)
                    .bind(kind.as_str());
                if let Some(lookup) = lookup {
                    query = query.bind($crate::store::columns::lookup_value(lookup));
                }
                let rows: Vec<$crate::store::rows::ResourceRow> =
                    query.fetch_all(&mut *conn).await?;
                let mut resources = $crate::store::rows::into_resources(rows)?;
                if with_relations {
                    load_relations(&mut conn, tenant, &mut resources).await?;
                }
                Ok(resources)
            }

            async fn open_operation(
                &self,
                op: &NewOperation,
                plan: &[PlannedStep],
            ) -> StoreResult<Opened> {
                self.journal_open(op, plan).await
            }

            async fn record_step(
                &self,
                tenant: &str,
                op_id: &str,
                idx: i64,
                outcome: &StepOutcome,
            ) -> StoreResult<()> {
                self.journal_record_step(tenant, op_id, idx, outcome).await
            }

            async fn replace_plan(
                &self,
                tenant: &str,
                op_id: &str,
                from_idx: i64,
                steps: &[PlannedStep],
            ) -> StoreResult<()> {
                self.journal_replace_plan(tenant, op_id, from_idx, steps)
                    .await
            }

            async fn complete_operation(
                &self,
                tenant: &str,
                op_id: &str,
                status: u16,
                commit: &ResourceCommit,
            ) -> StoreResult<Option<Resource>> {
                self.journal_complete(tenant, op_id, status, commit).await
            }

            async fn fail_operation(
                &self,
                tenant: &str,
                op_id: &str,
                status: u16,
                error_body: &Value,
            ) -> StoreResult<()> {
                self.journal_fail(tenant, op_id, status, error_body).await
            }

            async fn get_operation(
                &self,
                tenant: &str,
                op_id: &str,
            ) -> StoreResult<Option<Operation>> {
                journal::get(&self.$read, tenant, op_id).await
            }

            async fn operation_by_key(
                &self,
                tenant: &str,
                idem_key: &str,
            ) -> StoreResult<Option<Operation>> {
                journal::by_key(&self.$read, tenant, idem_key).await
            }

            async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>> {
                journal::unfinished(&self.$read, limit).await
            }

            async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
                self.journal_touch(tenant, op_id).await
            }

            async fn list_operations(
                &self,
                tenant: &str,
                resource_id: Option<&str>,
                limit: i64,
            ) -> StoreResult<Vec<Operation>> {
                journal::list(&self.$read, tenant, resource_id, limit).await
            }

            async fn find_by_luid(
                &self,
                tenant: &str,
                kind: ResourceKind,
                luid: &str,
            ) -> StoreResult<Option<Resource>> {
                let row: Option<$crate::store::rows::ResourceRow> =
                    sqlx::query_as($crate::store::sql::FIND_BY_LUID)
                        .bind(tenant)
                        .bind(kind.as_str())
                        .bind(luid)
                        .fetch_optional(&self.$read)
                        .await?;
                row.map($crate::store::rows::ResourceRow::into_resource)
                    .transpose()
            }

            async fn set_luid(
                &self,
                tenant: &str,
                kind: ResourceKind,
                id: &str,
                luid: Option<&str>,
            ) -> StoreResult<()> {
                self.resource_set_luid(tenant, kind, id, luid).await
            }
        }
    };
}
pub(crate) use store_impl;
