use super::*;
use proptest::prelude::*;

#[test]
fn privilege_order_is_licence_tier_then_rights() {
    use SiteRole::*;
    assert!(Unlicensed < Viewer);
    assert!(Viewer < Explorer);
    assert!(Explorer < ExplorerCanPublish);
    assert!(ExplorerCanPublish < SiteAdministratorExplorer);
    assert!(SiteAdministratorExplorer < Creator);
    assert!(Creator < SiteAdministratorCreator);
    let mut sorted = SiteRole::ALL;
    sorted.sort();
    assert_eq!(sorted, SiteRole::ALL);
}

#[test]
fn parses_tableau_spelling_in_any_case() {
    for role in SiteRole::ALL {
        assert_eq!(role.as_str().parse::<SiteRole>(), Ok(role));
        assert_eq!(role.as_str().to_uppercase().parse::<SiteRole>(), Ok(role));
        assert_eq!(role.as_str().to_lowercase().parse::<SiteRole>(), Ok(role));
        assert_eq!(role.to_string(), role.as_str());
    }
}

#[test]
fn parses_ui_labels_and_separators() {
    assert_eq!(
        "Explorer (can publish)".parse(),
        Ok(SiteRole::ExplorerCanPublish)
    );
    assert_eq!(
        "Site Administrator Creator".parse(),
        Ok(SiteRole::SiteAdministratorCreator)
    );
    assert_eq!(
        "site_administrator_explorer".parse(),
        Ok(SiteRole::SiteAdministratorExplorer)
    );
    assert_eq!(" viewer ".parse(), Ok(SiteRole::Viewer));
}

#[test]
fn legacy_roles_are_rejected_with_the_valid_values() {
    for legacy in [
        "Publisher",
        "Interactor",
        "SiteAdministrator",
        "ViewerWithPublish",
        "UnlicensedWithPublish",
    ] {
        let err = legacy.parse::<SiteRole>().expect_err(legacy);
        assert!(matches!(err, SiteRoleError::Legacy(_)), "{legacy}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("legacy"), "{msg}");
        assert!(msg.contains(legacy), "{msg}");
        assert!(
            SiteRole::ALL.iter().all(|r| msg.contains(r.as_str())),
            "{msg}"
        );
    }
}

#[test]
fn unassignable_and_unknown_roles_are_rejected() {
    for r in ["ServerAdministrator", "Guest", "SupportUser", "ReadOnly"] {
        assert!(
            matches!(r.parse::<SiteRole>(), Err(SiteRoleError::NotAssignable(_))),
            "{r}"
        );
    }
    let msg = "ADMIN".parse::<SiteRole>().expect_err("ADMIN").to_string();
    assert!(
        msg.contains("\"ADMIN\" is not a Tableau site role"),
        "{msg}"
    );
    for role in SiteRole::ALL {
        assert!(msg.contains(role.as_str()), "{msg}");
    }
    assert!(matches!(
        "".parse::<SiteRole>(),
        Err(SiteRoleError::Unknown(_))
    ));
}

#[test]
fn serde_uses_tableau_spelling_and_parses_case_insensitively() {
    let json = serde_json::to_string(&SiteRole::ExplorerCanPublish).expect("serialise");
    assert_eq!(json, "\"ExplorerCanPublish\"");
    let back: SiteRole = serde_json::from_str("\"explorercanpublish\"").expect("deserialise");
    assert_eq!(back, SiteRole::ExplorerCanPublish);
    let err = serde_json::from_str::<SiteRole>("\"Publisher\"").expect_err("legacy");
    assert!(err.to_string().contains("legacy"), "{err}");
}

proptest! {
    /// Parsing never panics, and anything it accepts prints back as a valid Tableau spelling.
    #[test]
    fn parse_never_panics(s in "\\PC{0,30}") {
        if let Ok(role) = s.parse::<SiteRole>() {
            prop_assert_eq!(role.as_str().parse::<SiteRole>(), Ok(role));
        }
    }
}
