//! The site's users, groups and memberships, with Tableau's rules: unique names (users
//! case-insensitively by name, groups case-insensitively by name), licence seats per tier,
//! content ownership, and the built-in "All Users" group.
//!
//! Indexes: users by LUID and by lowercase name (a `BTreeMap`, so listing in name order
//! needs no sort), groups likewise, memberships both ways.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::content::ContentItem;
use super::errors::{ApiError, ApiResult};
use super::licences::{SeatUsage, Seats};
use super::model::{Group, LicenceTier, SiteRole, User};

pub const ALL_USERS_GROUP: &str = "All Users";

/// Fields of an Update User request; `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub site_role: Option<SiteRole>,
    pub auth_setting: Option<String>,
    pub idp_configuration_id: Option<String>,
}

#[derive(Debug)]
pub struct Directory {
    users: HashMap<String, User>,
    user_by_name: BTreeMap<String, String>,
    groups: HashMap<String, Group>,
    group_by_name: BTreeMap<String, String>,
    /// Explicit members of each group (not All Users), keyed by lowercase user name.
    members: HashMap<String, BTreeMap<String, String>>,
    groups_of_user: HashMap<String, BTreeSet<String>>,
    all_users_id: String,
    seats: Seats,
    ids: fastrand::Rng,
    /// Content items by LUID (see `content.rs`).
    pub(crate) content: BTreeMap<String, ContentItem>,
}

/// A serialisable copy of the directory for assertions and `GET /_sim/state`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySnapshot {
    pub users: Vec<User>,
    pub groups: Vec<GroupSnapshot>,
    pub seats: BTreeMap<&'static str, SeatUsage>,
    /// Content items (projects, workbooks, data sources, flows) in LUID order.
    pub content: Vec<ContentItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSnapshot {
    #[serde(flatten)]
    pub group: Group,
    /// Member LUIDs in member-name order (for All Users: every user).
    pub member_ids: Vec<String>,
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

impl Directory {
    pub fn new(seed: u64) -> Self {
        let mut dir = Self {
            users: HashMap::new(),
            user_by_name: BTreeMap::new(),
            groups: HashMap::new(),
            group_by_name: BTreeMap::new(),
            members: HashMap::new(),
            groups_of_user: HashMap::new(),
            all_users_id: String::new(),
            seats: Seats::default(),
            ids: fastrand::Rng::with_seed(seed),
            content: BTreeMap::new(),
        };
        let id = dir.new_luid();
        dir.all_users_id = id.clone();
        dir.group_by_name.insert(key(ALL_USERS_GROUP), id.clone());
        dir.groups.insert(
            id.clone(),
            Group {
                id,
                name: ALL_USERS_GROUP.to_owned(),
                minimum_site_role: None,
                built_in: true,
            },
        );
        dir
    }

    /// A LUID drawn from the seeded generator, so a seeded run is reproducible.
    pub fn new_luid(&mut self) -> String {
        let bytes: [u8; 16] = std::array::from_fn(|_| self.ids.u8(..));
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    // ---- users ----

    pub fn user(&self, id: &str) -> ApiResult<&User> {
        self.users
            .get(id)
            .ok_or_else(|| ApiError::user_not_found(id))
    }

    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.user_by_name
            .get(&key(name))
            .and_then(|id| self.users.get(id))
    }

    /// Users in name order (case-insensitive).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.user_by_name
            .values()
            .filter_map(|id| self.users.get(id))
    }

    /// One page of users in name order. Skipping walks the name index only (no user lookups).
    pub fn users_page(&self, start: usize, len: usize) -> impl Iterator<Item = &User> {
        self.user_by_name
            .values()
            .skip(start)
            .take(len)
            .filter_map(|id| self.users.get(id))
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Add User: 409000 when the name is taken; silently Unlicensed when the role's tier has
    /// no seat left (as Tableau does; the caller must read `siteRole` back).
    pub fn add_user(
        &mut self,
        name: &str,
        role: SiteRole,
        auth_setting: Option<String>,
        idp_configuration_id: Option<String>,
    ) -> ApiResult<&User> {
        if self.user_by_name.contains_key(&key(name)) {
            return Err(ApiError::user_exists());
        }
        let role = if self.seats.available_for(role) {
            role
        } else {
            SiteRole::Unlicensed
        };
        let id = self.new_luid();
        self.seats.take(role);
        let user = User {
            id: id.clone(),
            name: name.to_owned(),
            full_name: None,
            email: None,
            site_role: role,
            auth_setting: auth_setting.unwrap_or_else(|| "ServerDefault".to_owned()),
            idp_configuration_id,
            last_login: None,
            password: None,
            owns_content: false,
        };
        self.user_by_name.insert(key(name), id.clone());
        self.users.insert(id.clone(), user);
        self.user(&id)
    }

    /// Update User: 409014 when the new role needs a seat in a full tier.
    pub fn update_user(&mut self, id: &str, update: UserUpdate) -> ApiResult<&User> {
        let current = self.user(id)?.site_role;
        if let Some(role) = update.site_role
            && role.tier() != current.tier()
            && !self.seats.available_for(role)
        {
            return Err(ApiError::licence_capacity(role.as_str()));
        }
        if let Some(role) = update.site_role
            && role != current
        {
            self.seats.release(current);
            self.seats.take(role);
        }
        let user = self
            .users
            .get_mut(id)
            .ok_or_else(|| ApiError::user_not_found(id))?;
        if let Some(role) = update.site_role {
            user.site_role = role;
        }
        if let Some(v) = update.full_name {
            user.full_name = Some(v);
        }
        if let Some(v) = update.email {
            user.email = Some(v);
        }
        if let Some(v) = update.password {
            user.password = Some(v);
        }
        if let Some(v) = update.auth_setting {
            user.auth_setting = v;
        }
        if let Some(v) = update.idp_configuration_id {
            user.idp_configuration_id = Some(v);
        }
        Ok(user)
    }

    pub fn set_last_login(&mut self, id: &str, at: String) {
        if let Some(user) = self.users.get_mut(id) {
            user.last_login = Some(at);
        }
    }

    pub fn set_owns_content(&mut self, id: &str, owns: bool) -> ApiResult<()> {
        let user = self
            .users
            .get_mut(id)
            .ok_or_else(|| ApiError::user_not_found(id))?;
        user.owns_content = owns;
        Ok(())
    }

    /// Remove User from Site. A content owner (an owner of items, or marked through the
    /// control API) is not removed without `map_assets_to`: Tableau answers 409003 and still
    /// changes the site role to Unlicensed (freeing the seat). With it, every item and the
    /// mark move to the target first.
    pub fn remove_user(&mut self, id: &str, map_assets_to: Option<&str>) -> ApiResult<()> {
        let user = self.user(id)?;
        let (flag, role, name) = (user.owns_content, user.site_role, key(&user.name));
        let owns = flag || self.owns_items(id);
        if let Some(target) = map_assets_to {
            self.user(target)?;
            if target == id {
                return Err(ApiError::bad_request(
                    "Deletion failed: content cannot be mapped to the user being removed.",
                ));
            }
            if flag {
                self.set_owns_content(target, true)?;
            }
            self.move_all_content(id, target);
        } else if owns {
            self.update_user(
                id,
                UserUpdate {
                    site_role: Some(SiteRole::Unlicensed),
                    ..UserUpdate::default()
                },
            )?;
            return Err(ApiError::user_owns_content());
        }
        self.seats.release(role);
        self.users.remove(id);
        self.user_by_name.remove(&name);
        for group in self.groups_of_user.remove(id).unwrap_or_default() {
            if let Some(members) = self.members.get_mut(&group) {
                members.remove(&name);
            }
        }
        Ok(())
    }

    // ---- groups ----

    pub fn group(&self, id: &str) -> ApiResult<&Group> {
        self.groups
            .get(id)
            .ok_or_else(|| ApiError::group_not_found(id))
    }

    /// Groups in name order (case-insensitive).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.group_by_name
            .values()
            .filter_map(|id| self.groups.get(id))
    }

    pub fn member_count(&self, group: &Group) -> usize {
        if group.built_in {
            self.users.len()
        } else {
            self.members.get(&group.id).map_or(0, BTreeMap::len)
        }
    }

    /// Members in name order. All Users has every user.
    pub fn members(&self, group_id: &str) -> ApiResult<Vec<&User>> {
        let group = self.group(group_id)?;
        if group.built_in {
            return Ok(self.users().collect());
        }
        Ok(self
            .members
            .get(group_id)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|id| self.users.get(id))
            .collect())
    }

    /// Groups of a user in name order, All Users included.
    pub fn groups_of(&self, user_id: &str) -> ApiResult<Vec<&Group>> {
        self.user(user_id)?;
        let explicit = self.groups_of_user.get(user_id);
        Ok(self
            .groups()
            .filter(|g| g.built_in || explicit.is_some_and(|set| set.contains(&g.id)))
            .collect())
    }

    fn check_group_name_free(&self, name: &str, except: Option<&str>) -> ApiResult<()> {
        match self.group_by_name.get(&key(name)) {
            Some(id) if Some(id.as_str()) != except => Err(ApiError::group_name_taken(name)),
            _ => Ok(()),
        }
    }

    pub fn create_group(
        &mut self,
        name: &str,
        minimum_site_role: Option<SiteRole>,
    ) -> ApiResult<&Group> {
        self.check_group_name_free(name, None)?;
        let id = self.new_luid();
        self.group_by_name.insert(key(name), id.clone());
        self.members.insert(id.clone(), BTreeMap::new());
        self.groups.insert(
            id.clone(),
            Group {
                id: id.clone(),
                name: name.to_owned(),
                minimum_site_role,
                built_in: false,
            },
        );
        self.group(&id)
    }

    pub fn update_group(
        &mut self,
        id: &str,
        name: Option<&str>,
        minimum_site_role: Option<SiteRole>,
    ) -> ApiResult<&Group> {
        let group = self.group(id)?;
        if group.built_in {
            return Err(ApiError::bad_request(
                "The All Users group cannot be modified.",
            ));
        }
        let old_key = key(&group.name);
        if let Some(name) = name {
            self.check_group_name_free(name, Some(id))?;
            self.group_by_name.remove(&old_key);
            self.group_by_name.insert(key(name), id.to_owned());
        }
        let group = self
            .groups
            .get_mut(id)
            .ok_or_else(|| ApiError::group_not_found(id))?;
        if let Some(name) = name {
            group.name = name.to_owned();
        }
        if minimum_site_role.is_some() {
            group.minimum_site_role = minimum_site_role;
        }
        Ok(group)
    }

    pub fn delete_group(&mut self, id: &str) -> ApiResult<()> {
        let group = self.group(id)?;
        if group.built_in {
            return Err(ApiError::bad_request(
                "The All Users group cannot be deleted.",
            ));
        }
        let name = key(&group.name);
        self.group_by_name.remove(&name);
        self.groups.remove(id);
        for user in self.members.remove(id).unwrap_or_default().values() {
            if let Some(set) = self.groups_of_user.get_mut(user) {
                set.remove(id);
            }
        }
        Ok(())
    }

    /// The highest minimum site role ("grant role on sign-in") among the user's groups, with
    /// the group that sets it.
    pub fn role_floor(&self, user_id: &str) -> Option<(SiteRole, &Group)> {
        self.groups_of_user
            .get(user_id)?
            .iter()
            .filter_map(|g| self.groups.get(g))
            .filter_map(|g| Some((g.minimum_site_role?, g)))
            .max_by_key(|(role, g)| (role.rank(), std::cmp::Reverse(key(&g.name))))
    }

    /// Update User's check against a "grant role on sign-in" group: a new role that ranks
    /// below the group's minimum answers 400012, as Tableau does (its detail does not name
    /// the group).
    pub fn check_demotion(&self, user_id: &str, role: SiteRole) -> ApiResult<()> {
        match self.role_floor(user_id) {
            Some((floor, _)) if role.rank() < floor.rank() => {
                Err(ApiError::user_update_problem(user_id))
            }
            _ => Ok(()),
        }
    }

    /// Grant role on sign-in: a member of a group with a minimum site role above the user's
    /// own gets that role when signing in (when its licence tier has a seat).
    pub fn grant_role_on_sign_in(&mut self, user_id: &str) {
        let Ok(current) = self.user(user_id).map(|u| u.site_role) else {
            return;
        };
        if let Some((floor, _)) = self.role_floor(user_id)
            && floor.rank() > current.rank()
        {
            // A full tier leaves the role as it is, like Tableau's grant does.
            let _ = self.update_user(
                user_id,
                UserUpdate {
                    site_role: Some(floor),
                    ..UserUpdate::default()
                },
            );
        }
    }

    pub fn is_member(&self, group_id: &str, user: &User) -> bool {
        group_id == self.all_users_id
            || self
                .members
                .get(group_id)
                .is_some_and(|m| m.contains_key(&key(&user.name)))
    }

    /// Add User to Group: 404012 unknown group, 404002 unknown user, 409011 already a member
    /// (always so for All Users).
    pub fn add_member(&mut self, group_id: &str, user_id: &str) -> ApiResult<&User> {
        self.group(group_id)?;
        let user = self.user(user_id)?;
        if self.is_member(group_id, user) {
            return Err(ApiError::already_member());
        }
        let name = key(&user.name);
        self.members
            .entry(group_id.to_owned())
            .or_default()
            .insert(name, user_id.to_owned());
        self.groups_of_user
            .entry(user_id.to_owned())
            .or_default()
            .insert(group_id.to_owned());
        self.user(user_id)
    }

    /// Remove User from Group: 404012, 404002 (unknown user, or not a member), 400032 for
    /// All Users (membership there is automatic).
    pub fn remove_member(&mut self, group_id: &str, user_id: &str) -> ApiResult<()> {
        let group = self.group(group_id)?;
        if group.built_in {
            return Err(ApiError::deletion_failed(
                "Deletion failed: users cannot be removed from the All Users group.",
            ));
        }
        let name = key(&self.user(user_id)?.name);
        let removed = self
            .members
            .get_mut(group_id)
            .and_then(|m| m.remove(&name))
            .is_some();
        if !removed {
            return Err(ApiError::user_not_found(user_id));
        }
        if let Some(set) = self.groups_of_user.get_mut(user_id) {
            set.remove(group_id);
        }
        Ok(())
    }

    // ---- licences and snapshot ----

    pub fn set_seats(&mut self, tier: LicenceTier, limit: Option<usize>) {
        self.seats.set_limit(tier, limit);
    }

    /// Seats used and their limit, per licence tier.
    pub fn seat_usage(&self) -> BTreeMap<&'static str, SeatUsage> {
        self.seats.usage()
    }

    pub fn snapshot(&self) -> DirectorySnapshot {
        let groups = self
            .groups()
            .map(|g| GroupSnapshot {
                group: g.clone(),
                member_ids: self
                    .members(&g.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|u| u.id.clone())
                    .collect(),
            })
            .collect();
        DirectorySnapshot {
            users: self.users().cloned().collect(),
            groups,
            seats: self.seats.usage(),
            content: self.content.values().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(seats: &[(LicenceTier, usize)]) -> Directory {
        let mut dir = Directory::new(7);
        for (tier, n) in seats {
            dir.set_seats(*tier, Some(*n));
        }
        dir
    }

    #[test]
    fn add_downgrades_silently_and_update_refuses_when_seats_run_out() {
        let mut d = dir(&[(LicenceTier::Creator, 1)]);
        assert_eq!(
            d.add_user("a", SiteRole::Creator, None, None)
                .unwrap()
                .site_role,
            SiteRole::Creator
        );
        let b = d
            .add_user("b", SiteRole::Creator, None, None)
            .unwrap()
            .clone();
        assert_eq!(b.site_role, SiteRole::Unlicensed);
        let err = d
            .update_user(
                &b.id,
                UserUpdate {
                    site_role: Some(SiteRole::SiteAdministratorCreator),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.code, 409014);
        assert_eq!(
            d.add_user("A", SiteRole::Viewer, None, None)
                .unwrap_err()
                .code,
            409000
        );
    }

    #[test]
    fn content_owner_removal_leaves_user_unlicensed() {
        let mut d = dir(&[]);
        let a = d
            .add_user("a", SiteRole::Creator, None, None)
            .unwrap()
            .id
            .clone();
        let b = d
            .add_user("b", SiteRole::Viewer, None, None)
            .unwrap()
            .id
            .clone();
        d.set_owns_content(&a, true).unwrap();
        assert_eq!(d.remove_user(&a, None).unwrap_err().code, 409003);
        assert_eq!(d.user(&a).unwrap().site_role, SiteRole::Unlicensed);
        d.remove_user(&a, Some(&b)).unwrap();
        assert!(d.user(&b).unwrap().owns_content);
        assert_eq!(d.user(&a).unwrap_err().code, 404002);
    }

    #[test]
    fn memberships_follow_users_and_groups() {
        let mut d = dir(&[]);
        let u = d
            .add_user("u", SiteRole::Viewer, None, None)
            .unwrap()
            .id
            .clone();
        let g = d.create_group("G", None).unwrap().id.clone();
        assert_eq!(d.create_group("g", None).unwrap_err().code, 409009);
        d.add_member(&g, &u).unwrap();
        assert_eq!(d.add_member(&g, &u).unwrap_err().code, 409011);
        assert_eq!(d.groups_of(&u).unwrap().len(), 2);
        d.remove_user(&u, None).unwrap();
        assert!(d.members(&g).unwrap().is_empty());
    }
}
