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
    let _ = SiteRole::Viewer;
}
