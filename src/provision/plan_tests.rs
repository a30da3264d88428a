use super::*;
use crate::provision::rules::{GroupRoleRule, role_changes};
use crate::scim::schema::TABLEAU_USER_SCHEMA;
use proptest::prelude::*;
use serde_json::json;

fn doc(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test document must be an object, got {other}"),
    }
}

/// What Okta's catalog app sends on create.
fn okta_user() -> Map<String, Value> {
    doc(json!({
        "userName": "alice@example.com",
        "name": {"givenName": "Alice", "familyName": "Doe"},
        "emails": [{"primary": true, "value": "alice@example.com", "type": "work"}],
        "displayName": "Alice Doe",
        "active": true
    }))
}

fn create(
    id: &str,
    new: &Map<String, Value>,
    policy: &ProvisionPolicy,
) -> Result<Vec<Step>, ScimError> {
    let new_role = desired_site_role(new, &[], policy)?;
    plan_user(
        &UserChange {
            id,
            old: None,
            new: Some(new),
            old_role: None,
            new_role: Some(new_role),
        },
        policy,
    )
}

/// An update where the roles are computed as the engine does, for a user in `groups`.
fn update(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    groups: &[String],
    policy: &ProvisionPolicy,
) -> Result<Vec<Step>, ScimError> {
    let old_role = Some(desired_site_role(old, groups, policy)?);
    let new_role = Some(desired_site_role(new, groups, policy)?);
    plan_user(
        &UserChange {
            id: "u1",
            old: Some(old),
            new: Some(new),
            old_role,
            new_role,
        },
        policy,
    )
}

fn role_update(id: &str, role: SiteRole) -> Step {
    Step::UpdateUser {
        user_id: id.into(),
        full_name: None,
        email: None,
        site_role: Some(role),
    }
}

#[test]
fn okta_create_adds_then_sets_name_and_email() {
    let steps = create("u1", &okta_user(), &ProvisionPolicy::default()).expect("plan");
    assert_eq!(
        steps,
        vec![
            Step::AddUser {
                user_id: "u1".into(),
                name: "alice@example.com".into(),
                site_role: SiteRole::Viewer,
                auth_setting: None,
                idp_configuration_id: None,
            },
            Step::UpdateUser {
                user_id: "u1".into(),
                full_name: Some("Alice Doe".into()),
                email: Some("alice@example.com".into()),
                site_role: None,
            },
        ]
    );
}

#[test]
fn create_without_name_or_email_is_one_step() {
    let steps = create(
        "u1",
        &doc(json!({"userName": "bob"})),
        &ProvisionPolicy::default(),
    )
    .expect("plan");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].kind(), "AddUser");
}

#[test]
fn create_needs_a_user_name() {
    let err = create(
        "u1",
        &doc(json!({"userName": "  "})),
        &ProvisionPolicy::default(),
    )
    .expect_err("blank");
    assert_eq!(err.kind, ErrorKind::InvalidValue);
}

#[test]
fn create_computes_the_role_when_the_engine_gives_none() {
    let new =
        doc(json!({"userName": "a", TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Creator"}]}}));
    let change = UserChange {
        id: "u1",
        old: None,
        new: Some(&new),
        old_role: None,
        new_role: None,
    };
    let steps = plan_user(&change, &ProvisionPolicy::default()).expect("plan");
    assert!(
        matches!(
            steps[0],
            Step::AddUser {
                site_role: SiteRole::Creator,
                ..
            }
        ),
        "{steps:?}"
    );
    let bad = doc(
        json!({"userName": "a", TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Interactor"}]}}),
    );
    let change = UserChange {
        new: Some(&bad),
        ..change
    };
    assert_eq!(
        plan_user(&change, &ProvisionPolicy::default())
            .expect_err("legacy")
            .kind,
        ErrorKind::InvalidValue
    );
}

#[test]
fn create_with_tableau_extension_role_and_auth() {
    let new = doc(json!({
        "userName": "c@x.com",
        TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Creator"}], "authSetting": "OpenID"}
    }));
    let policy = ProvisionPolicy {
        auth_setting: Some("SAML".into()),
        ..ProvisionPolicy::default()
    };
    let steps = create("u1", &new, &policy).expect("plan");
    assert_eq!(
        steps[0],
        Step::AddUser {
            user_id: "u1".into(),
            name: "c@x.com".into(),
            site_role: SiteRole::Creator,
            auth_setting: Some("OpenID".into()),
            idp_configuration_id: None,
        }
    );
}

#[test]
fn authentication_comes_from_policy_unless_the_user_names_one() {
    let policy = ProvisionPolicy {
        auth_setting: Some("SAML".into()),
        ..ProvisionPolicy::default()
    };
    let plain = doc(json!({"userName": "a"}));
    assert_eq!(authentication(&plain, &policy), (Some("SAML".into()), None));
    // The user's IdP configuration replaces the policy's authSetting: never both.
    let idp = doc(json!({"userName": "a", TABLEAU_USER_SCHEMA: {"idpConfigurationId": "2222"}}));
    assert_eq!(authentication(&idp, &policy), (None, Some("2222".into())));
    let both = doc(
        json!({"userName": "a", TABLEAU_USER_SCHEMA: {"idpConfigurationId": "2222", "authSetting": "SAML"}}),
    );
    assert_eq!(authentication(&both, &policy), (None, Some("2222".into())));
    let idp_policy = ProvisionPolicy {
        idp_configuration_id: Some("1111".into()),
        ..ProvisionPolicy::default()
    };
    assert_eq!(
        authentication(&plain, &idp_policy),
        (None, Some("1111".into()))
    );
    assert_eq!(
        authentication(&plain, &ProvisionPolicy::default()),
        (None, None)
    );
}

#[test]
fn okta_deactivate_and_reactivate() {
    let policy = ProvisionPolicy {
        group_roles: vec![GroupRoleRule {
            group: "Tableau Creators".into(),
            site_role: SiteRole::Creator,
        }],
        ..ProvisionPolicy::default()
    };
    let groups = vec!["Tableau Creators".to_string()];
    let active = okta_user();
    let mut inactive = okta_user();
    inactive.insert("active".into(), json!(false));
    assert_eq!(
        update(&active, &inactive, &groups, &policy).expect("deactivate"),
        vec![role_update("u1", SiteRole::Unlicensed)]
    );
    assert_eq!(
        update(&inactive, &active, &groups, &policy).expect("reactivate"),
        vec![role_update("u1", SiteRole::Creator)]
    );
}

#[test]
fn entra_role_change() {
    let old = doc(json!({"userName": "e@x.com", "roles": [{"value": "Viewer", "primary": true}]}));
    let new = doc(
        json!({"userName": "e@x.com", "roles": [{"value": "Explorer", "primary": true}, {"value": "ADMIN"}]}),
    );
    assert_eq!(
        update(&old, &new, &[], &ProvisionPolicy::default()).expect("plan"),
        vec![role_update("u1", SiteRole::Explorer)]
    );
}

#[test]
fn invalid_role_on_update_is_invalid_value() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert(
        TABLEAU_USER_SCHEMA.into(),
        json!({"siteRoles": [{"value": "Publisher"}]}),
    );
    let err = update(&old, &new, &[], &ProvisionPolicy::default()).expect_err("legacy");
    assert_eq!(err.scim_type(), Some("invalidValue"));
}

#[test]
fn only_changed_fields_are_sent() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert("displayName".into(), json!("Alice Smith"));
    assert_eq!(
        update(&old, &new, &[], &ProvisionPolicy::default()).expect("plan"),
        vec![Step::UpdateUser {
            user_id: "u1".into(),
            full_name: Some("Alice Smith".into()),
            email: None,
            site_role: None
        }]
    );
    let mut new = okta_user();
    new.insert(
        "emails".into(),
        json!([{"value": "a2@example.com", "primary": true}]),
    );
    new.insert("title".into(), json!("Boss"));
    assert_eq!(
        update(&old, &new, &[], &ProvisionPolicy::default()).expect("plan"),
        vec![Step::UpdateUser {
            user_id: "u1".into(),
            full_name: None,
            email: Some("a2@example.com".into()),
            site_role: None
        }]
    );
}

#[test]
fn removed_fields_are_left_alone_in_tableau() {
    let old = okta_user();
    let new = doc(json!({"userName": "alice@example.com", "active": true}));
    assert_eq!(
        update(&old, &new, &[], &ProvisionPolicy::default()).expect("plan"),
        Vec::<Step>::new()
    );
}

#[test]
fn identical_update_is_empty() {
    let u = okta_user();
    assert_eq!(
        update(&u, &u.clone(), &[], &ProvisionPolicy::default()).expect("plan"),
        Vec::<Step>::new()
    );
}

#[test]
fn update_without_new_role_leaves_the_role() {
    let old = okta_user();
    let change = UserChange {
        id: "u1",
        old: Some(&old),
        new: Some(&old),
        old_role: None,
        new_role: None,
    };
    assert_eq!(
        plan_user(&change, &ProvisionPolicy::default()).expect("plan"),
        Vec::<Step>::new()
    );
}

#[test]
fn user_name_change_is_refused_with_mutability() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert("userName".into(), json!("alice.doe@example.com"));
    let err = update(&old, &new, &[], &ProvisionPolicy::default()).expect_err("rename");
    assert_eq!(err.kind, ErrorKind::Mutability);
    assert_eq!(err.scim_type(), Some("mutability"));
    assert!(
        err.detail.starts_with("userName cannot change in Tableau"),
        "{}",
        err.detail
    );
    assert!(
        err.detail.contains("alice.doe@example.com"),
        "{}",
        err.detail
    );

    let recreate = ProvisionPolicy {
        on_user_name_change: UserNameChange::Recreate,
        ..ProvisionPolicy::default()
    };
    let err = update(&old, &new, &[], &recreate).expect_err("recreate");
    assert_eq!(err.kind, ErrorKind::NotImplemented);
}

#[test]
fn user_name_case_change_needs_no_tableau_call() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert("userName".into(), json!("Alice@Example.com"));
    assert_eq!(
        update(&old, &new, &[], &ProvisionPolicy::default()).expect("plan"),
        Vec::<Step>::new()
    );
}

#[test]
fn delete_moves_content_to_the_configured_owner() {
    let old = okta_user();
    let change = UserChange {
        id: "u1",
        old: Some(&old),
        new: None,
        old_role: None,
        new_role: None,
    };
    assert_eq!(
        plan_user(&change, &ProvisionPolicy::default()).expect("plan"),
        vec![Step::RemoveUser {
            user_id: "u1".into(),
            map_assets_to: None
        }]
    );
    let policy = ProvisionPolicy {
        content_owner: Some("admin@example.com".into()),
        ..ProvisionPolicy::default()
    };
    assert_eq!(
        plan_user(&change, &policy).expect("plan"),
        vec![Step::RemoveUser {
            user_id: "u1".into(),
            map_assets_to: Some("admin@example.com".into())
        }]
    );
}

#[test]
fn neither_old_nor_new_is_an_internal_error() {
    let change = UserChange {
        id: "u1",
        old: None,
        new: None,
        old_role: None,
        new_role: None,
    };
    assert_eq!(
        plan_user(&change, &ProvisionPolicy::default())
            .expect_err("empty")
            .kind,
        ErrorKind::Internal
    );
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn group_create_then_members() {
    let added = ids(&["u1", "u2", "u1"]);
    let steps = plan_group(&GroupChange {
        id: "g1",
        old_name: None,
        new_name: Some("Sales"),
        added_users: &added,
        removed_users: &[],
        role_changes: &[("u2".into(), SiteRole::Creator)],
    });
    assert_eq!(
        steps,
        vec![
            Step::CreateGroup {
                group_id: "g1".into(),
                name: "Sales".into()
            },
            Step::AddGroupMembers {
                group_id: "g1".into(),
                user_ids: ids(&["u1", "u2"])
            },
            role_update("u2", SiteRole::Creator),
        ]
    );
}

#[test]
fn group_create_without_members_is_one_step() {
    let change = GroupChange {
        id: "g1",
        old_name: None,
        new_name: Some("Sales"),
        added_users: &[],
        removed_users: &[],
        role_changes: &[],
    };
    assert_eq!(
        plan_group(&change),
        vec![Step::CreateGroup {
            group_id: "g1".into(),
            name: "Sales".into()
        }]
    );
}

#[test]
fn group_update_renames_then_removes_then_adds_then_roles() {
    let (added, removed) = (ids(&["u3"]), ids(&["u1", "u2"]));
    let roles = [
        ("u1".to_string(), SiteRole::Viewer),
        ("u3".to_string(), SiteRole::Creator),
    ];
    let steps = plan_group(&GroupChange {
        id: "g1",
        old_name: Some("Sales"),
        new_name: Some("Sales EMEA"),
        added_users: &added,
        removed_users: &removed,
        role_changes: &roles,
    });
    let kinds: Vec<&str> = steps.iter().map(Step::kind).collect();
    assert_eq!(
        kinds,
        [
            "RenameGroup",
            "RemoveGroupMembers",
            "AddGroupMembers",
            "UpdateUser",
            "UpdateUser"
        ]
    );
    assert_eq!(
        steps[0],
        Step::RenameGroup {
            group_id: "g1".into(),
            name: "Sales EMEA".into()
        }
    );
    assert_eq!(
        steps[1],
        Step::RemoveGroupMembers {
            group_id: "g1".into(),
            user_ids: removed.clone()
        }
    );
    assert_eq!(steps[4], role_update("u3", SiteRole::Creator));
    assert!(steps.iter().take(3).all(|s| s.resource_id() == "g1"));
}

#[test]
fn group_case_change_is_a_rename_and_same_name_is_not() {
    let change = GroupChange {
        id: "g1",
        old_name: Some("sales"),
        new_name: Some("Sales"),
        added_users: &[],
        removed_users: &[],
        role_changes: &[],
    };
    assert_eq!(
        plan_group(&change),
        vec![Step::RenameGroup {
            group_id: "g1".into(),
            name: "Sales".into()
        }]
    );
    let same = GroupChange {
        old_name: Some("Sales"),
        ..change
    };
    assert_eq!(plan_group(&same), Vec::<Step>::new());
}

#[test]
fn group_delete_then_role_updates() {
    let roles = [("u1".to_string(), SiteRole::Viewer)];
    let removed = ids(&["u1"]);
    let steps = plan_group(&GroupChange {
        id: "g1",
        old_name: Some("Creators"),
        new_name: None,
        added_users: &[],
        removed_users: &removed,
        role_changes: &roles,
    });
    assert_eq!(
        steps,
        vec![
            Step::DeleteGroup {
                group_id: "g1".into()
            },
            role_update("u1", SiteRole::Viewer)
        ]
    );
}

/// Membership change → the engine recomputes roles with `role_changes` → `plan_group`.
#[test]
fn membership_change_recomputes_roles() {
    let policy = ProvisionPolicy {
        group_roles: vec![GroupRoleRule {
            group: "Tableau Creators".into(),
            site_role: SiteRole::Creator,
        }],
        ..ProvisionPolicy::default()
    };
    let plain = okta_user();
    let explicit =
        doc(json!({"userName": "b", TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Explorer"}]}}));
    let group = vec!["Tableau Creators".to_string()];
    let users = vec![
        ("u1".to_string(), &plain, vec![], group.clone()),
        ("u2".to_string(), &explicit, vec![], group.clone()),
    ];
    let roles = role_changes(&users, &policy).expect("valid");
    let added = ids(&["u1", "u2"]);
    let steps = plan_group(&GroupChange {
        id: "g1",
        old_name: Some("Tableau Creators"),
        new_name: Some("Tableau Creators"),
        added_users: &added,
        removed_users: &[],
        role_changes: &roles,
    });
    assert_eq!(
        steps,
        vec![
            Step::AddGroupMembers {
                group_id: "g1".into(),
                user_ids: added.clone()
            },
            role_update("u1", SiteRole::Creator),
        ]
    );
}

#[test]
fn step_serialises_with_a_step_tag() {
    let step = role_update("u1", SiteRole::Creator);
    let v = serde_json::to_value(&step).expect("serialise");
    assert_eq!(
        v,
        json!({"step": "UpdateUser", "user_id": "u1", "full_name": null, "email": null, "site_role": "Creator"})
    );
    assert_eq!(step.kind(), "UpdateUser");
    assert_eq!(step.resource_id(), "u1");
}

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
