//! The provisioning policy (the `[provision]` config section) and the site-role rule: which
//! Tableau site role a SCIM user should have, given its document and its groups.

use super::mapping::{is_active, tableau_extensions};
use super::site_role::SiteRole;
use crate::scim::ScimError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How the bridge provisions, from the `[provision]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionPolicy {
    /// The role of a user for whom no source (extension `siteRoles`, `roles`, group rules) names
    /// one. Default `Viewer`: assigning a user to the Tableau app in the IdP means "give them
    /// access", and Viewer is the cheapest licence with which they can sign in. `Unlicensed`
    /// would create users who cannot sign in, which reads as a broken integration; a site that
    /// wants that (licences granted only by group rules) sets it explicitly.
    pub default_site_role: SiteRole,
    /// Group → role rules; a user in several matching groups gets the highest role.
    pub group_roles: Vec<GroupRoleRule>,
    /// `authSetting` for new users (e.g. `SAML`); the user's extension `authSetting` overrides.
    pub auth_setting: Option<String>,
    /// `idpConfigurationId` for new users; the user's extension value overrides.
    pub idp_configuration_id: Option<String>,
    /// The Tableau user name that receives a deleted user's content (`mapAssetsTo`). `None`:
    /// a plain remove, which Tableau refuses with 409003 for content owners, leaving them
    /// Unlicensed.
    pub content_owner: Option<String>,
    /// What a `userName` change does (Tableau user names are immutable).
    pub on_user_name_change: UserNameChange,
    /// `live`, or `dry_run`: Tableau is read but never written (`dry_run.rs`).
    pub mode: super::dry_run::ProvisionMode,
}

impl Default for ProvisionPolicy {
    fn default() -> Self {
        Self {
            default_site_role: SiteRole::Viewer,
            group_roles: Vec::new(),
            auth_setting: None,
            idp_configuration_id: None,
            content_owner: None,
            on_user_name_change: UserNameChange::Refuse,
            mode: super::dry_run::ProvisionMode::Live,
        }
    }
}

/// Members of the SCIM group whose `displayName` is `group` (case-insensitive, as Tableau group
/// names are) get at least `site_role`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRoleRule {
    pub group: String,
    pub site_role: SiteRole,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserNameChange {
    /// Answer `400 mutability`: the IdP shows the admin the error, the reason and the
    /// `recreate` policy.
    #[default]
    Refuse,
    /// A new Tableau user under the new name, with the old one's groups and content, then the
    /// old user removed (`plan::plan_recreate`, `rename.rs`); the SCIM id stays.
    Recreate,
}

impl ProvisionPolicy {
    /// Mistakes that deserialisation cannot catch, reported at start-up rather than on the
    /// first request they would break.
    pub fn validate(&self) -> Result<(), String> {
        if self.auth_setting.is_some() && self.idp_configuration_id.is_some() {
            return Err(
                "provision: set auth_setting or idp_configuration_id, not both \
                        (Tableau refuses a user with both)"
                    .into(),
            );
        }
        if let Some(rule) = self.group_roles.iter().find(|r| r.group.trim().is_empty()) {
            return Err(format!(
                "provision.group_roles: a rule for {} has an empty group",
                rule.site_role
            ));
        }
        if self
            .content_owner
            .as_deref()
            .is_some_and(|o| o.trim().is_empty())
        {
            return Err("provision.content_owner is empty; leave it out for a plain remove".into());
        }
        Ok(())
    }
}

/// The site role `user` should have, as a member of the groups named `group_names`.
///
/// `active: false` → `Unlicensed` (content kept; `active: true` restores the computed role),
/// though an invalid extension `siteRoles` is still an error. Otherwise the first source that names a role decides, in DESIGN.md's order:
/// 1. the Tableau extensions' `siteRoles[].value`, else their `entitlements[].value` (what
///    Tableau's own SCIM service takes, in its order; see `extension_site_role`); an invalid
///    value is an `invalidValue` error naming the valid roles, because these attributes exist
///    only to carry site roles;
/// 2. `roles[].value` (Entra app roles); values that are not site roles are ignored, because
///    `roles` is a generic SCIM attribute that other applications' roles (e.g. "ADMIN") share;
/// 3. the group rules matching `group_names`;
/// 4. `policy.default_site_role`.
///
/// "Highest wins" applies within a source, not across them: an explicit per-user role is the
/// admin's decision and is not raised by a group rule. That is how DESIGN reads ("…, else …,
/// else …; the highest role wins"), and it lets an admin give one member of "Creators" a lower
/// role by assigning it explicitly.
pub fn desired_site_role(
    user: &Map<String, Value>,
    group_names: &[String],
    policy: &ProvisionPolicy,
) -> Result<SiteRole, ScimError> {
    // Validated even for an inactive user, so that an invalid role is refused when it is
    // written, not later on the reactivation that would first use it.
    let explicit = extension_site_role(user)?;
    if !is_active(user) {
        return Ok(SiteRole::Unlicensed);
    }
    if let Some(role) = explicit {
        return Ok(role);
    }
    if let Some(role) = entra_role(user) {
        return Ok(role);
    }
    Ok(group_role(group_names, policy).unwrap_or(policy.default_site_role))
}

/// The role the Tableau extensions name, or `None` when they name none. Tableau evaluates
/// `siteRoles` before `entitlements`, so the first attribute that names a role decides; within
/// one attribute our `urn:…:tableau:3.0:User` is read before Tableau's `urn:…:tableau:3.0`
/// (the first extension that names a role decides), and the highest role of its list wins, as
/// Tableau "only stores the highest privileged role".
pub fn extension_site_role(user: &Map<String, Value>) -> Result<Option<SiteRole>, ScimError> {
    for attribute in ["siteRoles", "entitlements"] {
        for extension in tableau_extensions(user) {
            let mut best = None;
            for value in multi_values(extension.get(attribute)) {
                let role = value
                    .parse::<SiteRole>()
                    .map_err(|e| ScimError::invalid_value(format!("{attribute}: {e}")))?;
                best = best.max(Some(role));
            }
            if best.is_some() {
                return Ok(best);
            }
        }
    }
    Ok(None)
}

/// The highest `roles[].value` that is a site role, or `None`.
pub(super) fn entra_role(user: &Map<String, Value>) -> Option<SiteRole> {
    multi_values(user.get("roles"))
        .filter_map(|v| v.parse().ok())
        .max()
}

/// The highest role among the rules matching one of `group_names`, or `None`.
pub fn group_role(group_names: &[String], policy: &ProvisionPolicy) -> Option<SiteRole> {
    let names: Vec<String> = group_names.iter().map(|g| g.to_lowercase()).collect();
    policy
        .group_roles
        .iter()
        .filter(|rule| names.contains(&rule.group.to_lowercase()))
        .map(|rule| rule.site_role)
        .max()
}

/// The `value`s of a multi-valued attribute (`[{"value": …}, …]`), skipping blank values and
/// elements of other shapes. A bare string array is accepted too: some IdP mappings send
/// `"roles": ["Creator"]`.
fn multi_values(attr: Option<&Value>) -> impl Iterator<Item = &str> {
    attr.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let s = match item {
                Value::Object(o) => o.get("value")?.as_str()?,
                Value::String(s) => s.as_str(),
                _ => return None,
            };
            (!s.trim().is_empty()).then_some(s)
        })
}

/// A user affected by a membership change: (user id, document, group names before, group
/// names after).
pub type MembershipChange<'a> = (String, &'a Map<String, Value>, Vec<String>, Vec<String>);

/// Users whose desired role changes with their group memberships: (user id, new role) for
/// those whose role differs, in input order.
pub fn role_changes(
    users: &[MembershipChange],
    policy: &ProvisionPolicy,
) -> Result<Vec<(String, SiteRole)>, ScimError> {
    let mut out = Vec::new();
    for (id, doc, before, after) in users {
        let old = desired_site_role(doc, before, policy)?;
        let new = desired_site_role(doc, after, policy)?;
        if old != new {
            out.push((id.clone(), new));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
