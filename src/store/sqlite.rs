//! SQLite implementation of [`super::Store`]. (Being written: see the store branch.)

use super::*;

pub struct SqliteStore {}

impl SqliteStore {
    pub async fn connect(_url: &str) -> StoreResult<Self> {
        todo!("sqlite store")
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create(
        &self,
        _: &str,
        _: ResourceKind,
        _: &str,
        _: &Map<String, Value>,
        _: &[(String, ResourceKind)],
    ) -> StoreResult<StoredResource> {
        todo!()
    }
    async fn get(
        &self,
        _: &str,
        _: ResourceKind,
        _: &str,
        _: bool,
    ) -> StoreResult<Option<StoredResource>> {
        todo!()
    }
    async fn update(
        &self,
        _: &str,
        _: ResourceKind,
        _: &str,
        _: i64,
        _: &Map<String, Value>,
        _: &MemberChanges,
    ) -> StoreResult<StoredResource> {
        todo!()
    }
    async fn delete(&self, _: &str, _: ResourceKind, _: &str) -> StoreResult<bool> {
        todo!()
    }
    async fn list(
        &self,
        _: &str,
        _: ResourceKind,
        _: Option<&IndexedLookup>,
        _: bool,
    ) -> StoreResult<Vec<StoredResource>> {
        todo!()
    }
}
