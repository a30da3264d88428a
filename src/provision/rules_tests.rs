use super::*;
use crate::scim::ErrorKind;
use crate::scim::schema::TABLEAU_USER_SCHEMA;
use proptest::prelude::*;
use serde_json::json;

fn doc(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test document must be an object, got {other}"),
    }
}

fn with_site_roles(roles: &[&str]) -> Map<String, Value> {
    let values: Vec<Value> = roles.iter().map(|r| json!({"value": r})).collect();
    doc(json!({"userName": "a@x.com", TABLEAU_USER_SCHEMA: {"siteRoles": values}}))
}

fn policy_with_groups() -> ProvisionPolicy {
    ProvisionPolicy {
        group_roles: vec![
            GroupRoleRule {
                group: "Tableau Creators".into(),
                site_role: SiteRole::Creator,
            },
            GroupRoleRule {
                group: "Tableau Explorers".into(),
                site_role: SiteRole::Explorer,
            },
            GroupRoleRule {
                group: "Tableau Admins".into(),
                site_role: SiteRole::SiteAdministratorExplorer,
            },
        ],
        ..ProvisionPolicy::default()
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn default_policy_gives_viewer() {
    let p = ProvisionPolicy::default();
    assert_eq!(p.default_site_role, SiteRole::Viewer);
    assert_eq!(
        desired_site_role(&doc(json!({"userName": "a"})), &[], &p),
        Ok(SiteRole::Viewer)
    );
}

#[test]
fn okta_deactivate_is_unlicensed_and_reactivate_restores() {
    let p = policy_with_groups();
    let groups = names(&["Tableau Creators"]);
    let mut d = doc(json!({"userName": "a", "active": false}));
    assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Unlicensed));
    d.insert("active".into(), json!(true));
    assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Creator));
}

#[test]
fn inactive_wins_over_explicit_roles() {
    let mut d = with_site_roles(&["SiteAdministratorCreator"]);
    d.insert("active".into(), json!(false));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Unlicensed)
    );
}

#[test]
fn invalid_site_role_is_refused_even_for_an_inactive_user() {
    let mut d = with_site_roles(&["Publisher"]);
    d.insert("active".into(), json!(false));
    let err = desired_site_role(&d, &[], &ProvisionPolicy::default()).expect_err("legacy");
    assert_eq!(err.kind, ErrorKind::InvalidValue);
}

#[test]
fn tableau_native_extension_urn_is_read_too() {
    let d = doc(
        json!({"URN:ietf:params:scim:schemas:extension:tableau:3.0": {"siteRoles": [{"value": "Explorer"}]}}),
    );
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Explorer)
    );
    // Ours wins when both are there.
    let d = doc(json!({
        "urn:ietf:params:scim:schemas:extension:tableau:3.0": {"siteRoles": [{"value": "Explorer"}]},
        TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Creator"}]}
    }));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Creator)
    );
}

#[test]
fn site_roles_are_evaluated_before_entitlements() {
    let native = "urn:ietf:params:scim:schemas:extension:tableau:3.0";
    let p = ProvisionPolicy::default();
    // Tableau's Add User body carries both; siteRoles decides even when entitlements is higher.
    let d = doc(json!({native: {
        "siteRoles": [{"value": "Explorer"}],
        "entitlements": [{"value": "Creator"}]
    }}));
    assert_eq!(desired_site_role(&d, &[], &p), Ok(SiteRole::Explorer));
    // siteRoles under either URN comes before entitlements under either.
    let d = doc(json!({
        TABLEAU_USER_SCHEMA: {"entitlements": [{"value": "Creator"}]},
        native: {"siteRoles": [{"value": "Viewer"}]}
    }));
    assert_eq!(desired_site_role(&d, &[], &p), Ok(SiteRole::Viewer));
    // Without siteRoles, entitlements decide (highest wins), before Entra's roles.
    let d = doc(json!({
        native: {"entitlements": [{"value": "Viewer"}, {"value": "SiteAdministratorExplorer"}]},
        "roles": [{"value": "Creator"}]
    }));
    assert_eq!(
        desired_site_role(&d, &[], &p),
        Ok(SiteRole::SiteAdministratorExplorer)
    );
    let d = doc(json!({native: {"entitlements": [{"value": "Publisher"}]}}));
    let err = desired_site_role(&d, &[], &p).expect_err("legacy role");
    assert_eq!(err.kind, ErrorKind::InvalidValue);
    assert!(err.detail.starts_with("entitlements: "), "{}", err.detail);
}

#[test]
fn an_extension_without_roles_does_not_hide_the_other() {
    // Ours holds only authSetting; Tableau's URN names the role.
    let d = doc(json!({
        TABLEAU_USER_SCHEMA: {"authSetting": "SAML"},
        "urn:ietf:params:scim:schemas:extension:tableau:3.0": {"siteRoles": [{"value": "Creator"}]}
    }));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Creator)
    );
}

#[test]
fn tableau_scim_shape_site_roles() {
    let d = doc(json!({TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": "Creator"}]}}));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Creator)
    );
}

#[test]
fn highest_site_role_wins() {
    let d = with_site_roles(&["Viewer", "SiteAdministratorExplorer", "explorer"]);
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::SiteAdministratorExplorer)
    );
}

#[test]
fn invalid_site_role_is_invalid_value_naming_the_valid_roles() {
    for bad in ["Publisher", "Superuser"] {
        let err = desired_site_role(
            &with_site_roles(&["Viewer", bad]),
            &[],
            &ProvisionPolicy::default(),
        )
        .expect_err(bad);
        assert_eq!(err.kind, ErrorKind::InvalidValue);
        assert_eq!(err.scim_type(), Some("invalidValue"));
        assert!(err.detail.starts_with("siteRoles: "), "{}", err.detail);
        assert!(err.detail.contains(bad), "{}", err.detail);
        assert!(err.detail.contains("ExplorerCanPublish"), "{}", err.detail);
    }
}

#[test]
fn empty_site_roles_fall_through() {
    let d = doc(json!({TABLEAU_USER_SCHEMA: {"siteRoles": []}, "roles": [{"value": "Explorer"}]}));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Explorer)
    );
    let d = doc(json!({TABLEAU_USER_SCHEMA: {"siteRoles": [{"value": " "}, {"display": "x"}]}}));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Viewer)
    );
}

#[test]
fn entra_roles_highest_site_role_and_others_ignored() {
    let d = doc(json!({"roles": [
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "ADMIN"},
        {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Explorer"},
        {"value": "ExplorerCanPublish"},
        {"value": "Publisher"}
    ]}));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::ExplorerCanPublish)
    );
}

#[test]
fn roles_that_are_all_foreign_fall_through_to_groups() {
    let d = doc(json!({"roles": [{"value": "ADMIN"}, "User"]}));
    let p = policy_with_groups();
    assert_eq!(
        desired_site_role(&d, &names(&["tableau explorers"]), &p),
        Ok(SiteRole::Explorer)
    );
}

#[test]
fn bare_string_roles_are_read() {
    let d = doc(json!({"roles": ["Creator"]}));
    assert_eq!(
        desired_site_role(&d, &[], &ProvisionPolicy::default()),
        Ok(SiteRole::Creator)
    );
}

#[test]
fn explicit_sources_take_precedence_over_group_rules() {
    let p = policy_with_groups();
    let groups = names(&["Tableau Creators"]);
    let d = with_site_roles(&["Viewer"]);
    assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Viewer));
    let d = doc(json!({"roles": [{"value": "Explorer"}]}));
    assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Explorer));
    // siteRoles before roles.
    let mut d = with_site_roles(&["Viewer"]);
    d.insert("roles".into(), json!([{"value": "Creator"}]));
    assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Viewer));
}

#[test]
fn group_rules_highest_wins_case_insensitively() {
    let p = policy_with_groups();
    let d = doc(json!({"userName": "a"}));
    let role = desired_site_role(
        &d,
        &names(&["tableau explorers", "TABLEAU CREATORS", "Other"]),
        &p,
    );
    assert_eq!(role, Ok(SiteRole::Creator));
    let role = desired_site_role(&d, &names(&["Tableau Admins", "Tableau Explorers"]), &p);
    assert_eq!(role, Ok(SiteRole::SiteAdministratorExplorer));
    assert_eq!(
        desired_site_role(&d, &names(&["Other"]), &p),
        Ok(SiteRole::Viewer)
    );
}

#[test]
fn role_changes_reports_only_changed_users() {
    let p = policy_with_groups();
    let plain = doc(json!({"userName": "a"}));
    let explicit = with_site_roles(&["Explorer"]);
    let inactive = doc(json!({"userName": "c", "active": false}));
    let users = vec![
        (
            "u1".to_string(),
            &plain,
            names(&[]),
            names(&["Tableau Creators"]),
        ),
        (
            "u2".to_string(),
            &explicit,
            names(&[]),
            names(&["Tableau Creators"]),
        ),
        (
            "u3".to_string(),
            &inactive,
            names(&[]),
            names(&["Tableau Creators"]),
        ),
        (
            "u4".to_string(),
            &plain,
            names(&["Tableau Creators"]),
            names(&["Tableau Explorers"]),
        ),
        (
            "u5".to_string(),
            &plain,
            names(&["Tableau Creators", "x"]),
            names(&["Tableau Creators"]),
        ),
    ];
    let changes = role_changes(&users, &p).expect("valid documents");
    assert_eq!(
        changes,
        vec![
            ("u1".to_string(), SiteRole::Creator),
            ("u4".to_string(), SiteRole::Explorer)
        ]
    );
}

#[test]
fn role_changes_propagates_invalid_documents() {
    let bad = with_site_roles(&["Interactor"]);
    let users = vec![("u".to_string(), &bad, names(&[]), names(&["x"]))];
    assert!(role_changes(&users, &ProvisionPolicy::default()).is_err());
}

#[test]
fn policy_from_toml() {
    #[derive(Deserialize)]
    struct Config {
        provision: ProvisionPolicy,
    }
    let text = r#"
        [provision]
        default_site_role = "Viewer"
        content_owner = "admin@example.com"
        auth_setting = "SAML"
        [[provision.group_roles]]
        group = "Tableau Creators"
        site_role = "Creator"
        [[provision.group_roles]]
        group = "Explorers"
        site_role = "explorer (can publish)"
    "#;
    use figment::providers::{Format, Toml};
    let cfg: Config = figment::Figment::from(Toml::string(text))
        .extract()
        .expect("valid config");
    let p = cfg.provision;
    assert_eq!(p.content_owner.as_deref(), Some("admin@example.com"));
    assert_eq!(p.auth_setting.as_deref(), Some("SAML"));
    assert_eq!(p.group_roles[1].site_role, SiteRole::ExplorerCanPublish);
    assert_eq!(p.on_user_name_change, UserNameChange::Refuse);
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn policy_defaults_when_section_is_empty() {
    let p: ProvisionPolicy = serde_json::from_value(json!({})).expect("empty section");
    assert_eq!(p, ProvisionPolicy::default());
}

#[test]
fn policy_rejects_unknown_keys_and_legacy_roles() {
    let err = serde_json::from_value::<ProvisionPolicy>(json!({"default_role": "Viewer"}))
        .expect_err("unknown");
    assert!(err.to_string().contains("unknown field"), "{err}");
    let err = serde_json::from_value::<ProvisionPolicy>(json!({"default_site_role": "Publisher"}))
        .expect_err("legacy");
    assert!(err.to_string().contains("legacy"), "{err}");
    let err = serde_json::from_value::<ProvisionPolicy>(json!({"on_user_name_change": "rename"}))
        .expect_err("variant");
    assert!(err.to_string().contains("refuse"), "{err}");
}

#[test]
fn validate_catches_config_mistakes() {
    let both = ProvisionPolicy {
        auth_setting: Some("SAML".into()),
        idp_configuration_id: Some("1111".into()),
        ..ProvisionPolicy::default()
    };
    assert!(both.validate().is_err());
    let recreate = ProvisionPolicy {
        on_user_name_change: UserNameChange::Recreate,
        ..ProvisionPolicy::default()
    };
    assert_eq!(recreate.validate(), Ok(()));
    let empty_group = ProvisionPolicy {
        group_roles: vec![GroupRoleRule {
            group: " ".into(),
            site_role: SiteRole::Viewer,
        }],
        ..ProvisionPolicy::default()
    };
    assert!(empty_group.validate().is_err());
    let empty_owner = ProvisionPolicy {
        content_owner: Some(String::new()),
        ..ProvisionPolicy::default()
    };
    assert!(empty_owner.validate().is_err());
}

fn any_role() -> impl Strategy<Value = SiteRole> {
    proptest::sample::select(SiteRole::ALL.to_vec())
}

proptest! {
    /// `active: false` is Unlicensed whatever else the document and groups say.
    #[test]
    fn inactive_is_always_unlicensed(
        site_roles in proptest::collection::vec(any_role(), 0..4),
        roles in proptest::collection::vec("[A-Za-z]{0,12}", 0..4),
        groups in proptest::collection::vec("Tableau (Creators|Explorers|Admins)|[a-z]{1,8}", 0..4),
        default in any_role(),
    ) {
        let d = doc(json!({
            "userName": "u",
            "active": false,
            "roles": roles.iter().map(|r| json!({"value": r})).collect::<Vec<_>>(),
            TABLEAU_USER_SCHEMA: {"siteRoles": site_roles.iter().map(|r| json!({"value": r.as_str()})).collect::<Vec<_>>()},
        }));
        let p = ProvisionPolicy { default_site_role: default, ..policy_with_groups() };
        prop_assert_eq!(desired_site_role(&d, &groups, &p), Ok(SiteRole::Unlicensed));
    }

    /// The highest of any non-empty set of valid siteRoles is chosen, in any order and case.
    #[test]
    fn highest_of_site_roles_is_chosen(
        site_roles in proptest::collection::vec((any_role(), any::<bool>()), 1..7),
        entra in any_role(),
    ) {
        let values: Vec<Value> = site_roles
            .iter()
            .map(|(r, upper)| json!({"value": if *upper { r.as_str().to_uppercase() } else { r.as_str().to_string() }}))
            .collect();
        let d = doc(json!({"roles": [{"value": entra.as_str()}], TABLEAU_USER_SCHEMA: {"siteRoles": values}}));
        let expected = site_roles.iter().map(|(r, _)| *r).max();
        prop_assert_eq!(desired_site_role(&d, &names(&["Tableau Creators"]), &policy_with_groups()).ok(), expected);
    }

    /// Group rules: the result is the maximum matching rule, or the default.
    #[test]
    fn group_rule_result_is_max_of_matches(
        rules in proptest::collection::vec(("[a-c]{1,2}", any_role()), 0..6),
        groups in proptest::collection::vec("[a-cA-C]{1,2}", 0..4),
        default in any_role(),
    ) {
        let p = ProvisionPolicy {
            default_site_role: default,
            group_roles: rules.iter().map(|(g, r)| GroupRoleRule { group: g.clone(), site_role: *r }).collect(),
            ..ProvisionPolicy::default()
        };
        let expected = rules
            .iter()
            .filter(|(g, _)| groups.iter().any(|n| n.eq_ignore_ascii_case(g)))
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(default);
        prop_assert_eq!(desired_site_role(&doc(json!({})), &groups, &p), Ok(expected));
    }
}
