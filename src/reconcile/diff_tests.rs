use super::*;
use crate::model::ResourceKind;
use crate::provision::plan::Step;
use crate::provision::rules::ProvisionPolicy;
use crate::provision::site_role::SiteRole;
use crate::reconcile::desired::{Desired, DesiredGroup, DesiredUser};
use crate::reconcile::drift::{Drift, FieldChange};
use crate::reconcile::repair::{self, Phase};
use crate::tableau::{TableauGroup, TableauUser};
use serde_json::{Map, json};

fn user(id: &str, name: &str, luid: Option<&str>, role: SiteRole) -> DesiredUser {
    let doc: Map<String, serde_json::Value> = json!({"userName": name})
        .as_object()
        .cloned()
        .unwrap_or_default();
    DesiredUser {
        id: id.into(),
        user_name: name.into(),
        revision: 1,
        luid: luid.map(Into::into),
        site_role: role,
        full_name: None,
        email: None,
        doc,
    }
}

fn tuser(luid: &str, name: &str, role: &str) -> TableauUser {
    TableauUser {
        luid: luid.into(),
        name: name.into(),
        site_role: role.into(),
        full_name: None,
        email: None,
    }
}

fn group(id: &str, name: &str, luid: Option<&str>, members: &[&str]) -> DesiredGroup {
    DesiredGroup {
        id: id.into(),
        name: name.into(),
        revision: 1,
        luid: luid.map(Into::into),
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

fn tgroup(luid: &str, name: &str) -> TableauGroup {
    TableauGroup {
        luid: luid.into(),
        name: name.into(),
    }
}

#[test]
fn in_sync_reports_nothing() {
    let desired = Desired {
        users: vec![user("u1", "ann@x", Some("L1"), SiteRole::Viewer)],
        groups: vec![group("g1", "Sales", Some("G1"), &["u1"])],
        unreadable: vec![],
    };
    let state = TableauState {
        users: vec![tuser("L1", "ann@x", "Viewer")],
        groups: vec![tgroup("G1", "Sales")],
        members: [("G1".to_string(), vec!["L1".to_string()])].into(),
        capacity: vec![],
    };
    assert_eq!(diff(&desired, &state), Compared::default());
}

#[test]
fn every_user_kind() {
    let mut named = user("u4", "dan@x", Some("L4"), SiteRole::Viewer);
    named.full_name = Some("Dan D".into());
    named.email = Some("dan@x".into());
    let desired = Desired {
        users: vec![
            user("u1", "ann@x", Some("GONE"), SiteRole::Viewer),
            user("u2", "bob@x", Some("OLD"), SiteRole::Viewer),
            user("u3", "cat@x", Some("L3"), SiteRole::Creator),
            named,
            user("u5", "eve@x", None, SiteRole::Viewer),
        ],
        groups: vec![],
        unreadable: vec![],
    };
    let mut dan = tuser("L4", "dan@x", "Viewer");
    dan.full_name = Some("Dan".into());
    let state = TableauState {
        users: vec![
            tuser("L2", "BOB@x", "Viewer"),
            tuser("L3", "cat@x", "Unlicensed"),
            dan,
            tuser("L9", "manual@x", "Explorer"),
            tuser("LA", "admin", "SiteAdministratorCreator"),
        ],
        groups: vec![],
        members: Default::default(),
        capacity: vec![("Creator", 0)],
    };
    let compared = diff(&desired, &state);
    assert_eq!(compared.administrators, vec!["admin".to_string()]);
    assert_eq!(
        compared.drifts,
        vec![
            Drift::UserMissing {
                id: "u1".into(),
                user_name: "ann@x".into(),
                stored_luid: Some("GONE".into())
            },
            Drift::UserLuidStale {
                id: "u2".into(),
                user_name: "bob@x".into(),
                stored_luid: Some("OLD".into()),
                tableau_luid: "L2".into()
            },
            Drift::UserSiteRole {
                id: "u3".into(),
                user_name: "cat@x".into(),
                tableau_luid: "L3".into(),
                expected: "Creator".into(),
                actual: "Unlicensed".into(),
                seats_full: Some(true)
            },
            Drift::UserAttributes {
                id: "u4".into(),
                user_name: "dan@x".into(),
                tableau_luid: "L4".into(),
                full_name: Some(FieldChange {
                    expected: "Dan D".into(),
                    actual: Some("Dan".into())
                }),
                email: Some(FieldChange {
                    expected: "dan@x".into(),
                    actual: None
                }),
            },
            Drift::UserMissing {
                id: "u5".into(),
                user_name: "eve@x".into(),
                stored_luid: None
            },
            Drift::UserUnmanaged {
                tableau_luid: "L9".into(),
                user_name: "manual@x".into(),
                site_role: "Explorer".into(),
            },
        ]
    );
}

#[test]
fn unlicensed_with_seats_left_is_an_admins_change() {
    let desired = Desired {
        users: vec![user("u1", "ann@x", Some("L1"), SiteRole::Viewer)],
        ..Default::default()
    };
    let state = TableauState {
        users: vec![tuser("L1", "ann@x", "Unlicensed")],
        capacity: vec![("Viewer", 10)],
        ..Default::default()
    };
    let drifts = diff(&desired, &state).drifts;
    assert!(
        matches!(
            &drifts[0],
            Drift::UserSiteRole {
                seats_full: Some(false),
                ..
            }
        ),
        "{drifts:?}"
    );
    // No capacity reported: unknown.
    let state = TableauState {
        capacity: vec![],
        ..state
    };
    assert!(matches!(
        &diff(&desired, &state).drifts[0],
        Drift::UserSiteRole {
            seats_full: None,
            ..
        }
    ));
}

#[test]
fn every_group_kind() {
    let desired = Desired {
        users: vec![
            user("u1", "ann@x", Some("L1"), SiteRole::Viewer),
            user("u2", "bob@x", Some("L2"), SiteRole::Viewer),
        ],
        groups: vec![
            group("g1", "Sales", Some("G1"), &["u1"]),
            group("g2", "Ops", Some("GONE"), &["u1", "u2"]),
            group("g3", "Eng", Some("OLD"), &["u2"]),
        ],
        unreadable: vec![],
    };
    let state = TableauState {
        users: vec![
            tuser("L1", "ann@x", "Viewer"),
            tuser("L2", "bob@x", "Viewer"),
            tuser("L9", "manual@x", "Viewer"),
        ],
        groups: vec![tgroup("G1", "sales team"), tgroup("G3", "ENG")],
        members: [
            ("G1".to_string(), vec!["L2".to_string(), "L9".to_string()]),
            ("G3".to_string(), vec![]),
        ]
        .into(),
        capacity: vec![],
    };
    let drifts: Vec<Drift> = diff(&desired, &state)
        .drifts
        .into_iter()
        .filter(|d| !matches!(d, Drift::UserUnmanaged { .. }))
        .collect();
    assert_eq!(
        drifts,
        vec![
            Drift::GroupRenamed {
                id: "g1".into(),
                name: "Sales".into(),
                tableau_luid: "G1".into(),
                tableau_name: "sales team".into()
            },
            Drift::MemberMissing {
                group_id: "g1".into(),
                group_name: "Sales".into(),
                user_id: "u1".into(),
                user_name: "ann@x".into()
            },
            Drift::MemberExtra {
                group_id: "g1".into(),
                group_name: "Sales".into(),
                tableau_user_luid: "L2".into(),
                user_name: "bob@x".into(),
                user_id: Some("u2".into())
            },
            Drift::MemberExtra {
                group_id: "g1".into(),
                group_name: "Sales".into(),
                tableau_user_luid: "L9".into(),
                user_name: "manual@x".into(),
                user_id: None
            },
            Drift::GroupMissing {
                id: "g2".into(),
                name: "Ops".into(),
                stored_luid: Some("GONE".into()),
                members: 2
            },
            Drift::GroupLuidStale {
                id: "g3".into(),
                name: "Eng".into(),
                stored_luid: Some("OLD".into()),
                tableau_luid: "G3".into()
            },
            Drift::MemberMissing {
                group_id: "g3".into(),
                group_name: "Eng".into(),
                user_id: "u2".into(),
                user_name: "bob@x".into()
            },
        ]
    );
}

#[test]
fn repairs_one_operation_per_resource_in_phase_order() {
    let desired = Desired {
        users: vec![
            user("u1", "ann@x", Some("L1"), SiteRole::Creator),
            user("u2", "bob@x", None, SiteRole::Viewer),
        ],
        groups: vec![
            group("g1", "Sales", Some("G1"), &["u1"]),
            group("g2", "Ops", None, &["u1", "u2"]),
        ],
        unreadable: vec![],
    };
    let state = TableauState {
        users: vec![
            tuser("L1", "ann@x", "Viewer"),
            tuser("L9", "manual@x", "Viewer"),
            tuser("LA", "boss", "SiteAdministratorCreator"),
        ],
        groups: vec![tgroup("G1", "Sales")],
        members: [("G1".to_string(), vec!["L9".to_string()])].into(),
        capacity: vec![],
    };
    let compared = diff(&desired, &state);
    assert_eq!(compared.administrators, vec!["boss".to_string()]);
    let drifts = compared.drifts;
    let policy = ProvisionPolicy::default();
    let kept = repair::plan(&drifts, &desired, &policy, false);
    assert!(kept.iter().all(|r| r.phase() != Phase::Unmanaged));
    let repairs = repair::plan(&drifts, &desired, &policy, true);
    let summary: Vec<(ResourceKind, &str, Vec<&str>)> = repairs
        .iter()
        .map(|r| {
            (
                r.kind,
                r.id.as_str(),
                r.steps.iter().map(Step::kind).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (ResourceKind::User, "u1", vec!["UpdateUser"]),
            (ResourceKind::User, "u2", vec!["AddUser"]),
            (ResourceKind::Group, "g1", vec!["AddGroupMembers"]),
            (
                ResourceKind::Group,
                "g2",
                vec!["CreateGroup", "AddGroupMembers"]
            ),
            // The administrator is never removed; the manual user is (and so leaves G1).
            (ResourceKind::User, "L9", vec!["RemoveUnmanagedUser"]),
        ]
    );
    assert_eq!(
        repairs[0].steps[0],
        Step::UpdateUser {
            user_id: "u1".into(),
            full_name: None,
            email: None,
            site_role: Some(SiteRole::Creator)
        }
    );
    assert_eq!(
        repairs[3].steps[1],
        Step::AddGroupMembers {
            group_id: "g2".into(),
            user_ids: vec!["u1".into(), "u2".into()]
        }
    );
}
