//! Which rule gave a user its site role, in words, for the admin console: the same order of
//! sources as `rules::desired_site_role` (a test checks they agree), with the source named.

use super::mapping::is_active;
use super::rules::{ProvisionPolicy, entra_role, extension_site_role};
use super::site_role::SiteRole;
use crate::scim::ScimError;
use serde_json::{Map, Value};

/// The role `rules::desired_site_role` gives, and why.
pub fn explain_site_role(
    user: &Map<String, Value>,
    group_names: &[String],
    policy: &ProvisionPolicy,
) -> Result<(SiteRole, String), ScimError> {
    let explicit = extension_site_role(user)?;
    if !is_active(user) {
        return Ok((
            SiteRole::Unlicensed,
            "the user is inactive (active: false)".into(),
        ));
    }
    if let Some(role) = explicit {
        return Ok((
            role,
            "the user's Tableau extension (siteRoles or entitlements) names it".into(),
        ));
    }
    if let Some(role) = entra_role(user) {
        return Ok((role, "the user's roles attribute names it".into()));
    }
    let names: Vec<String> = group_names.iter().map(|g| g.to_lowercase()).collect();
    let rule = policy
        .group_roles
        .iter()
        .filter(|rule| names.contains(&rule.group.to_lowercase()))
        .max_by_key(|rule| rule.site_role);
    Ok(match rule {
        Some(rule) => (
            rule.site_role,
            format!(
                "group rule: members of '{}' get {} (provision.group_roles)",
                rule.group, rule.site_role
            ),
        ),
        None => (
            policy.default_site_role,
            "no extension, role or group rule names one: provision.default_site_role".into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::rules::{GroupRoleRule, desired_site_role};
    use serde_json::json;

    #[test]
    fn explanations_agree_with_the_rule() {
        let policy = ProvisionPolicy {
            group_roles: vec![
                GroupRoleRule {
                    group: "Analysts".into(),
                    site_role: SiteRole::Explorer,
                },
                GroupRoleRule {
                    group: "Builders".into(),
                    site_role: SiteRole::Creator,
                },
            ],
            ..Default::default()
        };
        let ext = crate::scim::schema::TABLEAU_USER_SCHEMA;
        let cases = [
            (
                json!({"userName": "a", "active": false}),
                vec![],
                "inactive",
            ),
            (
                json!({"userName": "a", ext: {"siteRoles": [{"value": "Creator"}]}}),
                vec![],
                "extension",
            ),
            (
                json!({"userName": "a", "roles": [{"value": "Explorer"}]}),
                vec![],
                "roles attribute",
            ),
            (
                json!({"userName": "a"}),
                vec!["analysts".to_owned(), "Builders".to_owned()],
                "'Builders'",
            ),
            (
                json!({"userName": "a"}),
                vec!["Other".to_owned()],
                "default_site_role",
            ),
        ];
        for (doc, groups, why) in cases {
            let doc = doc.as_object().cloned().unwrap_or_default();
            let expected = desired_site_role(&doc, &groups, &policy).map_err(|e| e.detail);
            let explained = explain_site_role(&doc, &groups, &policy).map_err(|e| e.detail);
            let (role, text) = explained
                .clone()
                .unwrap_or((SiteRole::Unlicensed, String::new()));
            assert_eq!(Ok(role), expected, "{doc:?}");
            assert!(text.contains(why), "{text} should say {why}");
        }
    }
}
