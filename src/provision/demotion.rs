//! A site-role change that Tableau refuses with 400012 because one of the user's groups has a
//! minimum site role ("grant role on sign-in") above the new role. Tableau's answer does not
//! name the group (reference §3.1; Tableau KB "Unable to update user's site role when syncing
//! user via SCIM"), so the admin reading the IdP's log would not know what to change. The
//! bridge asks Tableau for the user's groups and names the ones that hold the role up, with the
//! fix, in the error the IdP shows and the journal keeps. The refusal is permanent: retrying
//! changes nothing until the admin acts.

use super::site_role::SiteRole;
use crate::scim::{ErrorKind, ScimError};
use crate::tableau::{TableauClient, TableauError, UserGroup};

/// The SCIM error for a 400012 on setting `wanted` for the Tableau user `luid`, naming the
/// blocking groups when Tableau lists them.
pub async fn blocked(
    client: &TableauClient,
    luid: &str,
    wanted: SiteRole,
    refusal: &TableauError,
) -> ScimError {
    let groups = client.groups_of_user(luid).await;
    if let Err(e) = &groups {
        tracing::warn!(luid = %luid, error = %e, "listing the groups behind a 400012 failed");
    }
    explain(wanted, &groups, refusal)
}

/// Pure: the error from the groups lookup's outcome (`Ok(None)`: the API is older than 3.7).
pub fn explain(
    wanted: SiteRole,
    groups: &Result<Option<Vec<UserGroup>>, TableauError>,
    refusal: &TableauError,
) -> ScimError {
    let cause = match groups {
        Ok(Some(groups)) => match blocking(groups, wanted).as_slice() {
            [] => "none of the user's Tableau groups has a minimum site role now (it may have \
                   changed since); retry"
                .to_string(),
            found => format!(
                "the user is in Tableau {} {}, which {} that role on sign-in and so keep the \
                 user from going below it. Remove the user from {} (in the IdP if tableau-scim \
                 provisions the group, else in Tableau), or in Tableau lower the group's minimum \
                 site role or turn off its \"Grant role on sign in\", then retry",
                if found.len() == 1 { "group" } else { "groups" },
                found
                    .iter()
                    .map(|(name, role)| format!("\"{name}\" (minimum site role {role})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if found.len() == 1 { "grants" } else { "grant" },
                if found.len() == 1 { "it" } else { "them" },
            ),
        },
        Ok(None) => "a group of the user has a minimum site role (\"Grant role on sign in\") \
                     above it; this Tableau's API (before 3.7) cannot list a user's groups to \
                     name it. Remove the user from that group or lower its minimum site role, \
                     then retry"
            .to_string(),
        Err(e) => format!(
            "a group of the user has a minimum site role (\"Grant role on sign in\") above \
             it, but listing the user's groups failed ({e}). Remove the user from that group or \
             lower its minimum site role, then retry"
        ),
    };
    ScimError::new(
        ErrorKind::Conflict,
        format!("Tableau refused the site role {wanted} ({refusal}): {cause}."),
    )
}

/// (name, minimum role) of the groups whose minimum ranks above `wanted`, by name. Should the
/// ranking disagree with Tableau's (none ranks above), every group with a minimum is named:
/// one of them is the cause.
fn blocking(groups: &[UserGroup], wanted: SiteRole) -> Vec<(&str, &str)> {
    let with_minimum = || {
        groups.iter().filter_map(|g| {
            let role = g.minimum_site_role.as_deref()?;
            Some((g.group.name.as_str(), role))
        })
    };
    let mut above: Vec<_> = with_minimum()
        .filter(|(_, role)| role.parse::<SiteRole>().is_ok_and(|r| r > wanted))
        .collect();
    if above.is_empty() {
        above = with_minimum()
            .filter(|(_, role)| !role.eq_ignore_ascii_case("Unlicensed"))
            .collect();
    }
    above.sort_unstable();
    above
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tableau::{TableauCode, TableauGroup};

    fn refusal() -> TableauError {
        TableauError::Api {
            status: 400,
            code: TableauCode::UserUpdateProblem,
            summary: "Bad Request".into(),
            detail: "There was a problem updating user 'x'.".into(),
            retry_after: None,
        }
    }

    fn group(name: &str, min: Option<&str>) -> UserGroup {
        UserGroup {
            group: TableauGroup {
                luid: format!("luid-{name}"),
                name: name.into(),
            },
            minimum_site_role: min.map(str::to_string),
        }
    }

    #[test]
    fn names_the_groups_above_the_wanted_role_and_the_fix() {
        let groups = Ok(Some(vec![
            group("All Users", None),
            group("Viewers", Some("Viewer")),
            group("Sales", Some("Explorer")),
            group("Analysts", Some("Creator")),
        ]));
        let e = explain(SiteRole::Viewer, &groups, &refusal());
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(e.detail.contains("400012"), "{}", e.detail);
        assert!(
            e.detail.contains(
                "groups \"Analysts\" (minimum site role Creator), \"Sales\" (minimum site role Explorer)"
            ),
            "{}",
            e.detail
        );
        assert!(!e.detail.contains("\"Viewers\""), "{}", e.detail);
        assert!(
            e.detail.contains("Remove the user from them"),
            "{}",
            e.detail
        );
        assert!(e.detail.contains("Grant role on sign in"), "{}", e.detail);
    }

    #[test]
    fn one_group_reads_in_the_singular() {
        let groups = Ok(Some(vec![group("Sales", Some("Explorer"))]));
        let e = explain(SiteRole::Unlicensed, &groups, &refusal());
        assert!(
            e.detail
                .contains("group \"Sales\" (minimum site role Explorer), which grants"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn a_lookup_that_cannot_name_the_group_still_says_what_to_do() {
        let e = explain(SiteRole::Viewer, &Ok(None), &refusal());
        assert!(e.detail.contains("before 3.7"), "{}", e.detail);
        let e = explain(SiteRole::Viewer, &Err(TableauError::Timeout), &refusal());
        assert!(
            e.detail.contains("listing the user's groups failed"),
            "{}",
            e.detail
        );
        let e = explain(
            SiteRole::Viewer,
            &Ok(Some(vec![group("A", None)])),
            &refusal(),
        );
        assert!(e.detail.contains("may have changed"), "{}", e.detail);
    }
}
