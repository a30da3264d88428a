use super::*;
use super::{doc, update};
use crate::provision::rules::GroupRoleRule;
use crate::scim::schema::TABLEAU_USER_SCHEMA;
use proptest::prelude::*;
use serde_json::json;

fn any_role() -> impl Strategy<Value = SiteRole> {
    proptest::sample::select(SiteRole::ALL.to_vec())
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("\\PC{0,12}")
}

fn any_step() -> impl Strategy<Value = Step> {
    let id = "[a-z0-9-]{1,12}";
    let ids = proptest::collection::vec(id, 0..5);
    prop_oneof![
        (id, "\\PC{1,20}", any_role(), opt_string(), opt_string()).prop_map(|(u, n, r, a, i)| {
            Step::AddUser {
                user_id: u,
                name: n,
                site_role: r,
                auth_setting: a,
                idp_configuration_id: i,
            }
        }),
        (
            id,
            opt_string(),
            opt_string(),
            proptest::option::of(any_role())
        )
            .prop_map(|(u, f, e, r)| Step::UpdateUser {
                user_id: u,
                full_name: f,
                email: e,
                site_role: r
            }),
        (id, opt_string()).prop_map(|(u, m)| Step::RemoveUser {
            user_id: u,
            map_assets_to: m
        }),
        (id, "\\PC{1,20}").prop_map(|(g, n)| Step::CreateGroup {
            group_id: g,
            name: n
        }),
        (id, "\\PC{1,20}").prop_map(|(g, n)| Step::RenameGroup {
            group_id: g,
            name: n
        }),
        id.prop_map(|g| Step::DeleteGroup { group_id: g }),
        (id, ids.clone()).prop_map(|(g, u)| Step::AddGroupMembers {
            group_id: g,
            user_ids: u
        }),
        (id, ids).prop_map(|(g, u)| Step::RemoveGroupMembers {
            group_id: g,
            user_ids: u
        }),
    ]
}

/// A user document with arbitrary values in the attributes the planner reads.
fn any_user() -> impl Strategy<Value = Map<String, Value>> {
    (
        "[a-z]{1,8}@x\\.com",
        opt_string(),
        opt_string(),
        opt_string(),
        proptest::collection::vec(("[a-z]{0,8}@x\\.com", proptest::option::of("work|home"), any::<bool>()), 0..3),
        any::<bool>(),
        proptest::collection::vec("Creator|Viewer|ADMIN|Publisher|explorer", 0..3),
        proptest::collection::vec(any_role(), 0..3),
    )
        .prop_map(|(user, display, given, family, emails, active, roles, site_roles)| {
            doc(json!({
                "userName": user,
                "displayName": display,
                "name": {"givenName": given, "familyName": family},
                "emails": emails.iter().map(|(v, t, p)| json!({"value": v, "type": t, "primary": p})).collect::<Vec<_>>(),
                "active": active,
                "roles": roles.iter().map(|r| json!({"value": r})).collect::<Vec<_>>(),
                TABLEAU_USER_SCHEMA: {"siteRoles": site_roles.iter().map(|r| json!({"value": r.as_str()})).collect::<Vec<_>>()},
            }))
        })
}

proptest! {
    /// An unchanged document plans no Tableau call (an identical repeated PATCH is a no-op).
    #[test]
    fn unchanged_user_plans_nothing(
        user in any_user(),
        groups in proptest::collection::vec("Tableau Creators|Other", 0..3),
        default in any_role(),
    ) {
        let policy = ProvisionPolicy {
            default_site_role: default,
            group_roles: vec![GroupRoleRule { group: "Tableau Creators".into(), site_role: SiteRole::Creator }],
            ..ProvisionPolicy::default()
        };
        prop_assert_eq!(update(&user, &user.clone(), &groups, &policy), Ok(Vec::new()));
    }

    /// Whatever changes, an update plans at most one UpdateUser, with only changed fields.
    #[test]
    fn update_is_at_most_one_minimal_step(old in any_user(), new in any_user()) {
        let mut new = new;
        new.insert("userName".into(), old["userName"].clone());
        let steps = update(&old, &new, &[], &ProvisionPolicy::default()).expect("same userName");
        prop_assert!(steps.len() <= 1);
        if let Some(Step::UpdateUser { full_name: f, email: e, site_role: r, .. }) = steps.first() {
            prop_assert!(f.is_some() || e.is_some() || r.is_some());
            prop_assert!(f.is_none() || *f != full_name(&old));
            prop_assert!(e.is_none() || *e != email(&old));
        }
    }

    /// Steps survive the journal: JSON round trip is the identity.
    #[test]
    fn step_serde_round_trip(step in any_step()) {
        let text = serde_json::to_string(&step).expect("serialise");
        let back: Step = serde_json::from_str(&text).expect("deserialise");
        prop_assert_eq!(back, step);
    }
}
