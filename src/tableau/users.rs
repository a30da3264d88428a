//! Users on the site (reference §2): add, update, remove, query, find by name.

use reqwest::Method;

use super::client::TableauClient;
use super::errors::TableauError;
use super::paging::{self, Progress};
use super::wire::{UserFields, UserPage, UserRequest, UserResponse, WireUser};

/// A Tableau user as this client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableauUser {
    pub luid: String,
    pub name: String,
    /// As Tableau answered: Add User may silently give `Unlicensed` when seats run out.
    pub site_role: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

/// Update User fields; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub site_role: Option<String>,
}

impl UserUpdate {
    fn is_empty(&self) -> bool {
        self.full_name.is_none() && self.email.is_none() && self.site_role.is_none()
    }
}

impl TableauClient {
    /// Add User to Site. Tableau takes no full name or e-mail here: follow with
    /// [`update_user`](Self::update_user). 409000 means the name is taken (compared
    /// case-insensitively): look the user up with [`find_user_by_name`](Self::find_user_by_name).
    #[tracing::instrument(skip_all, fields(name = %name, site_role = %site_role))]
    pub async fn add_user(
        &self,
        name: &str,
        site_role: &str,
        auth_setting: Option<&str>,
        idp_configuration_id: Option<&str>,
    ) -> Result<TableauUser, TableauError> {
        let body = encode(&UserRequest {
            user: UserFields {
                name: Some(name),
                site_role: Some(site_role),
                auth_setting,
                idp_configuration_id,
                ..Default::default()
            },
        })?;
        let answer: UserResponse = self
            .site_json(Method::POST, "users", &[], Some(body))
            .await?;
        let user = answer.user;
        let luid = user
            .id
            .ok_or_else(|| TableauError::Protocol("Add User answered without a user id".into()))?;
        Ok(TableauUser {
            luid,
            name: user.name.unwrap_or_else(|| name.to_owned()),
            site_role: user.site_role.unwrap_or_else(|| site_role.to_owned()),
            full_name: non_empty(user.full_name),
            email: non_empty(user.email),
        })
    }

    /// Update User. Tableau's answer has no id, so it is filled from `luid`; should the answer
    /// lack the name or role, the user is read back.
    #[tracing::instrument(skip_all, fields(luid = %luid))]
    pub async fn update_user(
        &self,
        luid: &str,
        update: &UserUpdate,
    ) -> Result<TableauUser, TableauError> {
        if update.is_empty() {
            return self.get_user(luid).await;
        }
        let body = encode(&UserRequest {
            user: UserFields {
                full_name: update.full_name.as_deref(),
                email: update.email.as_deref(),
                site_role: update.site_role.as_deref(),
                ..Default::default()
            },
        })?;
        let answer: UserResponse = self
            .site_json(Method::PUT, &user_path(luid)?, &[], Some(body))
            .await?;
        let mut user = answer.user;
        user.id = Some(luid.to_owned());
        match to_user(user) {
            Some(user) => Ok(user),
            None => self.get_user(luid).await,
        }
    }

    /// Remove User from Site, moving content to `map_assets_to` first when given. A user who
    /// owns content answers 409003 (and Tableau makes them Unlicensed anyway).
    #[tracing::instrument(skip_all, fields(luid = %luid, map_assets_to = ?map_assets_to))]
    pub async fn remove_user(
        &self,
        luid: &str,
        map_assets_to: Option<&str>,
    ) -> Result<(), TableauError> {
        let query: Vec<(&str, &str)> = map_assets_to
            .map(|to| ("mapAssetsTo", to))
            .into_iter()
            .collect();
        self.site_call(Method::DELETE, &user_path(luid)?, &query, None)
            .await
            .map(drop)
    }

    /// Query User on Site (all fields).
    #[tracing::instrument(skip_all, fields(luid = %luid))]
    pub async fn get_user(&self, luid: &str) -> Result<TableauUser, TableauError> {
        let answer: UserResponse = self
            .site_json(Method::GET, &user_path(luid)?, &[], None)
            .await?;
        let mut user = answer.user;
        user.id.get_or_insert_with(|| luid.to_owned());
        to_user(user).ok_or_else(|| missing("Query User"))
    }

    /// The user called `name`, compared case-insensitively (as Tableau does for 409000), an
    /// exact-case match preferred. Asks with `name:eq:` (case-sensitive on Tableau), then
    /// `name:cieq:`; a name Tableau's filter syntax cannot carry (`,` or `&`, reference §2.7)
    /// is found by listing every user.
    #[tracing::instrument(skip_all, fields(name = %name))]
    pub async fn find_user_by_name(&self, name: &str) -> Result<Option<TableauUser>, TableauError> {
        if !paging::filterable(name) {
            let all = self.list_users(None).await?;
            return Ok(paging::best_match(all, name, |u| &u.name));
        }
        for op in ["eq", "cieq"] {
            let filter = format!("name:{op}:{name}");
            match self.list_users(Some(&filter)).await {
                Ok(users) => {
                    if let Some(user) = paging::best_match(users, name, |u| &u.name) {
                        return Ok(Some(user));
                    }
                }
                // A server without `cieq` rejects the filter: then there is no match to find.
                Err(e) if op == "cieq" && e.status() == Some(400) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Every user on the site, in pages of the API's maximum size (reconcile's read).
    pub async fn all_users(
        &self,
        progress: Progress<'_>,
    ) -> Result<Vec<TableauUser>, TableauError> {
        self.list_users_reporting(None, progress).await
    }

    /// Every user matching `filter` (all pages, all fields).
    async fn list_users(&self, filter: Option<&str>) -> Result<Vec<TableauUser>, TableauError> {
        self.list_users_reporting(filter, &|_, _| {}).await
    }

    async fn list_users_reporting(
        &self,
        filter: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<Vec<TableauUser>, TableauError> {
        let mut extra = vec![("fields", "_all_")];
        extra.extend(filter.map(|f| ("filter", f)));
        let users = self
            .get_all_pages("users", &extra, progress, |answer: UserPage| {
                (answer.pagination, answer.users.items)
            })
            .await?;
        Ok(users.into_iter().filter_map(to_user).collect())
    }
}

fn user_path(luid: &str) -> Result<String, TableauError> {
    Ok(format!("users/{}", paging::segment(luid)?))
}

/// A complete user, or `None` when Tableau left out the id, name or role.
fn to_user(user: WireUser) -> Option<TableauUser> {
    Some(TableauUser {
        luid: user.id?,
        name: user.name?,
        site_role: user.site_role?,
        full_name: non_empty(user.full_name),
        email: non_empty(user.email),
    })
}

/// Tableau sends `""` for unset strings in some versions.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn missing(what: &str) -> TableauError {
    TableauError::Protocol(format!(
        "{what} answered without the user's id, name or site role"
    ))
}

pub(crate) fn encode<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, TableauError> {
    serde_json::to_vec(body).map_err(|e| TableauError::Protocol(format!("cannot encode: {e}")))
}
