//! Tableau site roles: the seven values a provisioning bridge may set (reference §2.1, the roles
//! "settable via Add User"), their privilege order, and parsing with errors that name the
//! valid values.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A site role a SCIM client may ask for.
///
/// The declaration order is the privilege order, and `Ord` is derived from it, so `max()` over
/// a set of roles is "the highest privileged role" that Tableau's own SCIM keeps (reference
/// §8.3, Entra tutorial). The order is licence tier first, then rights within the tier:
/// - `Unlicensed` holds no licence and cannot sign in, so it is below everything;
/// - the licence tiers are Viewer < Explorer < Creator (reference §2.1, "licence tier");
/// - within the Explorer tier, publishing adds a right (`ExplorerCanPublish`) and site
///   administration adds more (`SiteAdministratorExplorer`);
/// - within the Creator tier, `SiteAdministratorCreator` is above `Creator`.
///
/// A site administrator on an Explorer licence ranks below a plain Creator: the tier is what
/// costs a licence seat and what Tableau's "minimum site role" comparisons use, and picking the
/// administrator role instead would silently take away the Creator's authoring rights.
///
/// `ServerAdministrator`, `Guest`, `SupportUser` and `ReadOnly` are deliberately absent: Add
/// User refuses them (§2.1), so accepting them would only move the error to Tableau.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// Deserialise through `FromStr` so that config files and stored plans get the same
// case-insensitive parsing and the same error message as SCIM documents.
#[serde(try_from = "String")]
pub enum SiteRole {
    Unlicensed,
    Viewer,
    Explorer,
    ExplorerCanPublish,
    SiteAdministratorExplorer,
    Creator,
    SiteAdministratorCreator,
}

impl SiteRole {
    /// Every role, lowest first.
    pub const ALL: [SiteRole; 7] = [
        SiteRole::Unlicensed,
        SiteRole::Viewer,
        SiteRole::Explorer,
        SiteRole::ExplorerCanPublish,
        SiteRole::SiteAdministratorExplorer,
        SiteRole::Creator,
        SiteRole::SiteAdministratorCreator,
    ];

    /// Tableau's spelling, as sent in `siteRole`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SiteRole::Unlicensed => "Unlicensed",
            SiteRole::Viewer => "Viewer",
            SiteRole::Explorer => "Explorer",
            SiteRole::ExplorerCanPublish => "ExplorerCanPublish",
            SiteRole::SiteAdministratorExplorer => "SiteAdministratorExplorer",
            SiteRole::Creator => "Creator",
            SiteRole::SiteAdministratorCreator => "SiteAdministratorCreator",
        }
    }

    /// The valid values, for error messages: "Unlicensed, Viewer, …".
    pub fn valid_values() -> String {
        Self::ALL.map(SiteRole::as_str).join(", ")
    }
}

impl fmt::Display for SiteRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a site role we can set. `Display` is the whole message an admin reads
/// in the IdP's log, so it names the valid values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteRoleError {
    #[error(
        "{0:?} is a legacy Tableau site role (before 2018.1) that Tableau no longer accepts; \
         use one of: {valid}",
        valid = SiteRole::valid_values()
    )]
    Legacy(String),
    #[error(
        "{0:?} is a Tableau site role that cannot be assigned by provisioning; use one of: {valid}",
        valid = SiteRole::valid_values()
    )]
    NotAssignable(String),
    #[error("{0:?} is not a Tableau site role; use one of: {valid}", valid = SiteRole::valid_values())]
    Unknown(String),
}

/// Lower-cased, with everything but letters and digits dropped, so that Tableau's spelling
/// (`ExplorerCanPublish`), its UI labels (`Explorer (can publish)`, `Site Administrator
/// Creator`) and snake or kebab case all compare equal. No two roles collide under this key.
fn key(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl FromStr for SiteRole {
    type Err = SiteRoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = key(s);
        if let Some(role) = SiteRole::ALL.into_iter().find(|r| key(r.as_str()) == k) {
            return Ok(role);
        }
        // Reference §2.1: legacy values still found in old fixtures and old IdP mappings, and
        // roles that exist in responses but that Add User refuses.
        const LEGACY: [&str; 5] = [
            "interactor",
            "publisher",
            "siteadministrator",
            "unlicensedwithpublish",
            "viewerwithpublish",
        ];
        const NOT_ASSIGNABLE: [&str; 4] =
            ["serveradministrator", "guest", "supportuser", "readonly"];
        let owned = s.to_string();
        if LEGACY.contains(&k.as_str()) {
            Err(SiteRoleError::Legacy(owned))
        } else if NOT_ASSIGNABLE.contains(&k.as_str()) {
            Err(SiteRoleError::NotAssignable(owned))
        } else {
            Err(SiteRoleError::Unknown(owned))
        }
    }
}

impl TryFrom<String> for SiteRole {
    type Error = SiteRoleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
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
}
