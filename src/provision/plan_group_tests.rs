use super::*;
use super::{doc, okta_user, role_update};
use crate::provision::rules::{GroupRoleRule, role_changes};
use crate::scim::schema::TABLEAU_USER_SCHEMA;
use serde_json::json;

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
            role_update("u2", SiteRole::Creator),
            Step::AddGroupMembers {
                group_id: "g1".into(),
                user_ids: ids(&["u1", "u2"])
            },
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
fn group_update_renames_then_roles_then_removes_then_adds() {
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
            "UpdateUser",
            "UpdateUser",
            "RemoveGroupMembers",
            "AddGroupMembers"
        ]
    );
    assert_eq!(
        steps[0],
        Step::RenameGroup {
            group_id: "g1".into(),
            name: "Sales EMEA".into()
        }
    );
    assert_eq!(steps[2], role_update("u3", SiteRole::Creator));
    assert_eq!(
        steps[3],
        Step::RemoveGroupMembers {
            group_id: "g1".into(),
            user_ids: removed.clone()
        }
    );
    assert!(steps.iter().skip(3).all(|s| s.resource_id() == "g1"));
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
            role_update("u1", SiteRole::Creator),
            Step::AddGroupMembers {
                group_id: "g1".into(),
                user_ids: added.clone()
            },
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
