//! Local groups and their members (reference §3). Membership changes are idempotent: adding a
//! member (409011) or removing a non-member (404002) counts as done, since the engine may
//! repeat a step after a crash or a lost answer.

use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::Method;

use super::client::TableauClient;
use super::errors::{TableauCode, TableauError};
use super::paging::{self, Progress};
use super::users::encode;
use super::wire::{
    GroupName, GroupPage, GroupRequest, GroupResponse, UserFields, UserId, UserIdList,
    UserIdsRequest, UserPage, UserRequest, WireGroup,
};

/// Ids per bulk membership call: one request stays well under body limits.
const BULK_CHUNK: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableauGroup {
    pub luid: String,
    pub name: String,
}

impl TableauClient {
    /// Create Group (local). A name in use, compared case-insensitively, answers 409009.
    #[tracing::instrument(skip_all, fields(name = %name))]
    pub async fn create_group(&self, name: &str) -> Result<TableauGroup, TableauError> {
        let body = encode(&GroupRequest {
            group: GroupName { name },
        })?;
        let answer: GroupResponse = self
            .site_json(Method::POST, "groups", &[], Some(body))
            .await?;
        to_group(answer.group, None, name)
    }

    /// Update Group with a new name (409009 if taken).
    #[tracing::instrument(skip_all, fields(luid = %luid, name = %name))]
    pub async fn rename_group(&self, luid: &str, name: &str) -> Result<TableauGroup, TableauError> {
        let body = encode(&GroupRequest {
            group: GroupName { name },
        })?;
        let answer: GroupResponse = self
            .site_json(Method::PUT, &group_path(luid, "")?, &[], Some(body))
            .await?;
        to_group(answer.group, Some(luid), name)
    }

    /// Delete Group; its members stay on the site.
    #[tracing::instrument(skip_all, fields(luid = %luid))]
    pub async fn delete_group(&self, luid: &str) -> Result<(), TableauError> {
        self.site_call(Method::DELETE, &group_path(luid, "")?, &[], None)
            .await
            .map(drop)
    }

    /// The group called `name`; group names are case-insensitive in Tableau, so this matches
    /// the same way (exact case preferred), like [`find_user_by_name`](Self::find_user_by_name).
    #[tracing::instrument(skip_all, fields(name = %name))]
    pub async fn find_group_by_name(
        &self,
        name: &str,
    ) -> Result<Option<TableauGroup>, TableauError> {
        if !paging::filterable(name) {
            let all = self.list_groups(None).await?;
            return Ok(paging::best_match(all, name, |g| &g.name));
        }
        for op in ["eq", "cieq"] {
            let filter = format!("name:{op}:{name}");
            match self.list_groups(Some(&filter)).await {
                Ok(groups) => {
                    if let Some(group) = paging::best_match(groups, name, |g| &g.name) {
                        return Ok(Some(group));
                    }
                }
                Err(e) if op == "cieq" && e.status() == Some(400) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Adds members: bulk calls of up to 1000 ids on API 3.21+, else single calls in
    /// parallel (bounded by the client's concurrency). Members already in count as added.
    #[tracing::instrument(skip_all, fields(group_luid = %group_luid, users = user_luids.len()))]
    pub async fn add_group_members(
        &self,
        group_luid: &str,
        user_luids: &[String],
    ) -> Result<(), TableauError> {
        let path = group_path(group_luid, "/users")?;
        if user_luids.is_empty() {
            return Ok(());
        }
        if self.supports_bulk_membership().await? {
            for chunk in user_luids.chunks(BULK_CHUNK) {
                match self
                    .site_call(Method::POST, &path, &[], Some(ids_body(chunk)?))
                    .await
                {
                    Ok(_) => {}
                    // Bulk partial failures are undocumented: if one id spoils the call
                    // (already a member, unknown), redo the chunk one by one so the others
                    // still get in and the error names the culprit.
                    Err(e) if bulk_spoiled_by_one(&e) => self.add_each(&path, chunk).await?,
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        } else {
            self.add_each(&path, user_luids).await
        }
    }

    /// Removes members: `PUT …/users/remove` on API 3.21+, else single deletes in parallel.
    /// Users who are not members count as removed. An unknown group stays an error (404012):
    /// it means the engine's link is stale.
    #[tracing::instrument(skip_all, fields(group_luid = %group_luid, users = user_luids.len()))]
    pub async fn remove_group_members(
        &self,
        group_luid: &str,
        user_luids: &[String],
    ) -> Result<(), TableauError> {
        let base = group_path(group_luid, "/users")?;
        if user_luids.is_empty() {
            return Ok(());
        }
        if self.supports_bulk_membership().await? {
            let path = format!("{base}/remove");
            for chunk in user_luids.chunks(BULK_CHUNK) {
                match self
                    .site_call(Method::PUT, &path, &[], Some(ids_body(chunk)?))
                    .await
                {
                    Ok(_) => {}
                    Err(e) if bulk_spoiled_by_one(&e) => self.remove_each(&base, chunk).await?,
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        } else {
            self.remove_each(&base, user_luids).await
        }
    }

    /// LUIDs of every member (all pages).
    #[tracing::instrument(skip_all, fields(group_luid = %group_luid))]
    pub async fn group_member_luids(&self, group_luid: &str) -> Result<Vec<String>, TableauError> {
        let path = group_path(group_luid, "/users")?;
        let users = self
            .get_all_pages(&path, &[], &|_, _| {}, |answer: UserPage| {
                (answer.pagination, answer.users.items)
            })
            .await?;
        Ok(users.into_iter().filter_map(|u| u.id).collect())
    }

    async fn add_each(&self, path: &str, user_luids: &[String]) -> Result<(), TableauError> {
        self.each_member(user_luids, |luid: String| async move {
            let body = encode(&UserRequest {
                user: UserFields {
                    id: Some(&luid),
                    ..Default::default()
                },
            })?;
            match self.site_call(Method::POST, path, &[], Some(body)).await {
                Err(e) if e.code() == Some(&TableauCode::AlreadyGroupMember) => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }

    async fn remove_each(&self, base: &str, user_luids: &[String]) -> Result<(), TableauError> {
        self.each_member(user_luids, |luid: String| async move {
            let path = format!("{base}/{}", paging::segment(&luid)?);
            match self.site_call(Method::DELETE, &path, &[], None).await {
                Err(e) if e.code() == Some(&TableauCode::UserNotFound) => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }

    /// Runs `one` for every LUID, as many at once as the client allows, in this task (so
    /// [`record_calls`](super::record_calls) sees every call). Stops at the first error.
    // The closure takes an owned LUID: a borrowed one makes the future's type higher-ranked,
    // which the compiler cannot prove `Send` when the engine spawns the operation.
    async fn each_member<F, Fut>(&self, user_luids: &[String], one: F) -> Result<(), TableauError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<(), TableauError>>,
    {
        let parallel = self.settings().max_concurrency.max(1);
        stream::iter(user_luids.iter().cloned().map(one))
            .buffer_unordered(parallel)
            .try_collect::<()>()
            .await
    }
}

fn group_path(luid: &str, rest: &str) -> Result<String, TableauError> {
    Ok(format!("groups/{}{rest}", paging::segment(luid)?))
}

fn ids_body(chunk: &[String]) -> Result<Vec<u8>, TableauError> {
    encode(&UserIdsRequest {
        users: UserIdList {
            user: chunk.iter().map(|id| UserId { id }).collect(),
        },
    })
}

fn bulk_spoiled_by_one(e: &TableauError) -> bool {
    matches!(
        e.code(),
        Some(TableauCode::UserNotFound | TableauCode::AlreadyGroupMember)
    )
}

/// A group from an answer; Update Group may leave out the id (then it is `luid`) and a sparse
/// answer the name (then it is the name asked for).
fn to_group(
    group: WireGroup,
    luid: Option<&str>,
    name: &str,
) -> Result<TableauGroup, TableauError> {
    let luid = group
        .id
        .or_else(|| luid.map(str::to_owned))
        .ok_or_else(|| TableauError::Protocol("the group answer has no id".into()))?;
    Ok(TableauGroup {
        luid,
        name: group.name.unwrap_or_else(|| name.to_owned()),
    })
}

impl TableauClient {
    /// Every group on the site (local and imported, "All Users" included), in pages of the
    /// API's maximum size (reconcile's read).
    pub async fn all_groups(
        &self,
        progress: Progress<'_>,
    ) -> Result<Vec<TableauGroup>, TableauError> {
        self.list_groups_reporting(None, progress).await
    }

    /// Every group matching `filter` (all pages).
    async fn list_groups(&self, filter: Option<&str>) -> Result<Vec<TableauGroup>, TableauError> {
        self.list_groups_reporting(filter, &|_, _| {}).await
    }

    async fn list_groups_reporting(
        &self,
        filter: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<Vec<TableauGroup>, TableauError> {
        let extra: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        let groups = self
            .get_all_pages("groups", &extra, progress, |answer: GroupPage| {
                (answer.pagination, answer.groups.items)
            })
            .await?;
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                Some(TableauGroup {
                    luid: g.id?,
                    name: g.name?,
                })
            })
            .collect())
    }
}
