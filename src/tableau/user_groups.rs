//! Get Groups for a User (reference §2.8, API 3.7+), with each group's minimum site role: what
//! explains a 400012 on Update User, which Tableau answers without naming the group.

use super::client::{TableauClient, parse_version};
use super::errors::TableauError;
use super::groups::TableauGroup;
use super::paging;
use super::wire::GroupPage;

/// The API version that has `GET …/users/{luid}/groups`.
const MIN_VERSION: (u32, u32) = (3, 7);

/// One group of a user, with its "grant role on sign-in" role when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub group: TableauGroup,
    pub minimum_site_role: Option<String>,
}

impl TableauClient {
    /// The user's groups (all pages); `None` when the server's API is older than 3.7.
    #[tracing::instrument(skip_all, fields(luid = %luid))]
    pub async fn groups_of_user(&self, luid: &str) -> Result<Option<Vec<UserGroup>>, TableauError> {
        if parse_version(&self.api_version().await?)? < MIN_VERSION {
            return Ok(None);
        }
        let path = format!("users/{}/groups", paging::segment(luid)?);
        let groups = self
            .get_all_pages(&path, &[], &|_, _| {}, |answer: GroupPage| {
                (answer.pagination, answer.groups.items)
            })
            .await?;
        Ok(Some(
            groups
                .into_iter()
                .filter_map(|g| {
                    let minimum_site_role = g
                        .minimum_site_role
                        .or_else(|| g.import.and_then(|i| i.site_role));
                    Some(UserGroup {
                        group: TableauGroup {
                            luid: g.id?,
                            name: g.name?,
                        },
                        minimum_site_role,
                    })
                })
                .collect(),
        ))
    }
}
