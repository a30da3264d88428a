use super::*;
use crate::provision::site_role::SiteRole;
use crate::scim::ErrorKind;

#[test]
fn undo_steps_round_trip_and_are_told_apart() {
    let undo = Undo {
        undoes: 0,
        step: Step::RemoveUser {
            user_id: "u1".into(),
            map_assets_to: None,
        },
        luid: Some("L1".into()),
        status: 400,
        error: ScimError::invalid_value("Tableau refused UpdateUser").to_body(),
    };
    let steps = journal_steps(
        2,
        vec![(undo.undoes, undo.step.clone(), undo.luid.clone())],
        &ScimError::invalid_value("Tableau refused UpdateUser"),
    )
    .expect("journal steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].idx, steps[0].kind.as_str()),
        (2, "undo:RemoveUser")
    );
    assert!(is_undo(&steps[0].kind) && !is_undo("RemoveUser"));
    let back: Undo = serde_json::from_value(steps[0].description.clone()).expect("parses");
    assert_eq!(back, undo);
}

#[test]
fn compensated_error_keeps_the_cause_and_says_what_was_undone() {
    let err = ScimError::new(
        ErrorKind::InvalidValue,
        "Tableau refused UpdateUser: 400000.",
    );
    let done = compensated_error(&err, 1, &[]);
    assert_eq!(done.status(), 400);
    assert!(
        done.detail
            .starts_with("Tableau refused UpdateUser: 400000.")
    );
    assert!(done.detail.contains("were undone"));
    let partial = compensated_error(&err, 0, &["step 3 (undo:RemoveUser): no".into()]);
    assert!(partial.detail.contains("failed: step 3"));
}

fn doc(value: serde_json::Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Undo steps restore the store's state: the old full name, e-mail and computed role of a user
/// the operation changed, a deleted group with its members; a created user is removed whole
/// (its update needs no undo), a linked one is left.
#[tokio::test]
async fn undo_restores_what_the_store_still_holds() {
    use super::super::rules::GroupRoleRule;
    let store = crate::store::connect("sqlite::memory:")
        .await
        .expect("store");
    let t = "default";
    let user = doc(serde_json::json!({"userName": "u@example.com",
        "name": {"formatted": "Old Name"}, "emails": [{"value": "old@example.com"}]}));
    store
        .create(t, ResourceKind::User, "u1", &user, &[])
        .await
        .expect("user");
    let group = doc(serde_json::json!({"displayName": "Creators"}));
    store
        .create(
            t,
            ResourceKind::Group,
            "g1",
            &group,
            &[("u1".into(), ResourceKind::User)],
        )
        .await
        .expect("group");
    let policy = ProvisionPolicy {
        group_roles: vec![GroupRoleRule {
            group: "Creators".into(),
            site_role: SiteRole::Creator,
        }],
        ..ProvisionPolicy::default()
    };
    let ran = |idx, step, luid: Option<&str>, created| Ran {
        idx,
        step,
        luid: luid.map(str::to_string),
        created,
    };
    let steps = vec![
        ran(
            0,
            Step::DeleteGroup {
                group_id: "g1".into(),
            },
            Some("G"),
            false,
        ),
        ran(
            1,
            Step::UpdateUser {
                user_id: "u1".into(),
                full_name: Some("New Name".into()),
                email: Some("new@example.com".into()),
                site_role: Some(SiteRole::Viewer),
            },
            Some("U"),
            false,
        ),
        ran(
            2,
            Step::AddUser {
                user_id: "u2".into(),
                name: "n@example.com".into(),
                site_role: SiteRole::Viewer,
                auth_setting: None,
                idp_configuration_id: None,
            },
            Some("N"),
            true,
        ),
        ran(
            3,
            Step::UpdateUser {
                user_id: "u2".into(),
                full_name: Some("X".into()),
                email: None,
                site_role: None,
            },
            Some("N"),
            false,
        ),
        ran(
            4,
            Step::AddUser {
                user_id: "u3".into(),
                name: "linked@example.com".into(),
                site_role: SiteRole::Viewer,
                auth_setting: None,
                idp_configuration_id: None,
            },
            Some("L"),
            false,
        ),
    ];
    let undo = plan_undo(store.as_ref(), t, &policy, &steps)
        .await
        .expect("plan");
    assert_eq!(
        undo,
        vec![
            (
                2,
                Step::RemoveUser {
                    user_id: "u2".into(),
                    map_assets_to: None
                },
                Some("N".into())
            ),
            (
                1,
                Step::UpdateUser {
                    user_id: "u1".into(),
                    full_name: Some("Old Name".into()),
                    email: Some("old@example.com".into()),
                    site_role: Some(SiteRole::Creator),
                },
                Some("U".into())
            ),
            (
                0,
                Step::CreateGroup {
                    group_id: "g1".into(),
                    name: "Creators".into()
                },
                Some("G".into())
            ),
            (
                0,
                Step::AddGroupMembers {
                    group_id: "g1".into(),
                    user_ids: vec!["u1".into()]
                },
                None
            ),
        ]
    );
}

/// A rename by recreate refused before the old user is retired is undone by removing the new
/// user — also when it was linked rather than created (a repeat after a crash), and with its
/// content mapped back to the old user; the steps that only read or touch the new user need
/// no undo. Once the old user is retired, nothing is undone: the rename finishes forward.
#[tokio::test]
async fn a_recreate_is_undone_until_the_old_user_is_retired() {
    let store = crate::store::connect("sqlite::memory:")
        .await
        .expect("store");
    let t = "default";
    let user = doc(serde_json::json!({"userName": "old@example.com"}));
    store
        .create(t, ResourceKind::User, "u1", &user, &[])
        .await
        .expect("user");
    let from = super::super::plan::OldUser {
        name: "old@example.com".into(),
    };
    let ran = |idx, step| Ran {
        idx,
        step,
        luid: Some("NEW".into()),
        created: false,
    };
    let mut steps = vec![
        ran(
            0,
            Step::CheckUserNameFree {
                user_id: "u1".into(),
                name: "new@example.com".into(),
            },
        ),
        ran(
            1,
            Step::AddRenamedUser {
                user_id: "u1".into(),
                name: "new@example.com".into(),
                site_role: SiteRole::Viewer,
                auth_setting: None,
                idp_configuration_id: None,
            },
        ),
        ran(
            2,
            Step::UpdateUser {
                user_id: "u1".into(),
                full_name: Some("New".into()),
                email: None,
                site_role: None,
            },
        ),
        ran(
            3,
            Step::CopyGroups {
                user_id: "u1".into(),
                from: from.clone(),
            },
        ),
    ];
    let policy = ProvisionPolicy::default();
    let undo = plan_undo(store.as_ref(), t, &policy, &steps)
        .await
        .expect("plan");
    assert_eq!(
        undo,
        vec![(
            1,
            Step::RemoveRenamedUser {
                user_id: "u1".into(),
                content_to: "old@example.com".into(),
            },
            Some("NEW".into())
        )]
    );
    steps.push(ran(
        4,
        Step::RetireOldUser {
            user_id: "u1".into(),
            from,
        },
    ));
    let undo = plan_undo(store.as_ref(), t, &policy, &steps)
        .await
        .expect("plan");
    assert_eq!(undo, Vec::new());
}
