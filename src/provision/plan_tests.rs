use super::*;
use crate::provision::rules::GroupRoleRule;
use crate::scim::ErrorKind;
use crate::scim::schema::TABLEAU_USER_SCHEMA;
use serde_json::json;

// Groups and the properties of plans, with the helpers below.
#[path = "plan_group_tests.rs"]
mod group;
#[path = "plan_prop_tests.rs"]
mod properties;

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
fn invalid_role_is_refused_even_when_the_engine_passes_roles() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert(
        TABLEAU_USER_SCHEMA.into(),
        json!({"siteRoles": [{"value": "Guest"}]}),
    );
    let change = UserChange {
        id: "u1",
        old: Some(&old),
        new: Some(&new),
        old_role: Some(SiteRole::Viewer),
        new_role: Some(SiteRole::Viewer),
    };
    let err = plan_user(&change, &ProvisionPolicy::default()).expect_err("guest");
    assert_eq!(err.kind, ErrorKind::InvalidValue);
    assert!(err.detail.contains("cannot be assigned"), "{}", err.detail);
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
        err.detail
            .contains("'alice@example.com' cannot become 'alice.doe@example.com'"),
        "{}",
        err.detail
    );

    // The refusal names the policy that would do the rename.
    assert!(
        err.detail
            .contains("provision.on_user_name_change = \"recreate\""),
        "{}",
        err.detail
    );
}

/// Entra's rename PATCH (userName, e-mail, family name, active) under `recreate`: check the
/// new name, add the user with the computed role and the policy's authentication, set its
/// full name and e-mail, copy the groups, retire the old user — in that order, the old user
/// last.
#[test]
fn user_name_change_with_recreate_plans_the_rename() {
    let old = okta_user();
    let mut new = okta_user();
    new.insert("userName".into(), json!("alice.doe@example.com"));
    new.insert(
        "emails".into(),
        json!([{"type": "work", "value": "alice.doe@example.com"}]),
    );
    new.insert(
        "name".into(),
        json!({"givenName": "Alice", "familyName": "Smith"}),
    );
    new.remove("displayName");
    let recreate = ProvisionPolicy {
        on_user_name_change: UserNameChange::Recreate,
        auth_setting: Some("SAML".into()),
        group_roles: vec![GroupRoleRule {
            group: "Creators".into(),
            site_role: SiteRole::Creator,
        }],
        ..ProvisionPolicy::default()
    };
    let steps = update(&old, &new, &["Creators".into()], &recreate).expect("plan");
    let from = OldUser {
        name: "alice@example.com".into(),
    };
    assert_eq!(
        steps,
        vec![
            Step::CheckUserNameFree {
                user_id: "u1".into(),
                name: "alice.doe@example.com".into(),
            },
            Step::AddRenamedUser {
                user_id: "u1".into(),
                name: "alice.doe@example.com".into(),
                site_role: SiteRole::Creator,
                auth_setting: Some("SAML".into()),
                idp_configuration_id: None,
            },
            Step::UpdateUser {
                user_id: "u1".into(),
                full_name: Some("Alice Smith".into()),
                email: Some("alice.doe@example.com".into()),
                site_role: None,
            },
            Step::CopyGroups {
                user_id: "u1".into(),
                from: from.clone(),
            },
            Step::RetireOldUser {
                user_id: "u1".into(),
                from,
            },
        ]
    );
    // Deactivated in the same PATCH: the new user is added as Unlicensed, like the old one.
    new.insert("active".into(), json!(false));
    let steps = update(&old, &new, &["Creators".into()], &recreate).expect("plan");
    assert!(matches!(
        steps[1],
        Step::AddRenamedUser {
            site_role: SiteRole::Unlicensed,
            ..
        }
    ));
    // A change of case only is still no rename.
    let mut cased = okta_user();
    cased.insert("userName".into(), json!("ALICE@example.com"));
    assert_eq!(
        update(&old, &cased, &[], &recreate).expect("plan"),
        Vec::<Step>::new()
    );
}

/// The rename steps are a storage format too: they round-trip through the journal's JSON.
#[test]
fn rename_steps_round_trip_through_the_journal() {
    let from = OldUser {
        name: "old@example.com".into(),
    };
    for step in [
        Step::CheckUserNameFree {
            user_id: "u1".into(),
            name: "new@example.com".into(),
        },
        Step::CopyGroups {
            user_id: "u1".into(),
            from: from.clone(),
        },
        Step::RetireOldUser {
            user_id: "u1".into(),
            from,
        },
        Step::RemoveRenamedUser {
            user_id: "u1".into(),
            content_to: "old@example.com".into(),
        },
    ] {
        let json = serde_json::to_value(&step).expect("serialises");
        assert_eq!(json["step"], step.kind());
        let back: Step = serde_json::from_value(json).expect("parses");
        assert_eq!(back, step);
        assert_eq!(back.resource_id(), "u1");
    }
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
