//! What the simulated site holds: site roles and their licence tiers, users, groups.

use serde::Serialize;

/// Tableau site roles (XSD 3.29 `siteRoleType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SiteRole {
    Creator,
    Explorer,
    ExplorerCanPublish,
    Guest,
    ServerAdministrator,
    SiteAdministratorCreator,
    SiteAdministratorExplorer,
    SupportUser,
    Unlicensed,
    Viewer,
}

/// The licence a role consumes. `--seats` limits these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LicenceTier {
    Creator,
    Explorer,
    Viewer,
}

impl SiteRole {
    const ALL: [SiteRole; 10] = [
        SiteRole::Creator,
        SiteRole::Explorer,
        SiteRole::ExplorerCanPublish,
        SiteRole::Guest,
        SiteRole::ServerAdministrator,
        SiteRole::SiteAdministratorCreator,
        SiteRole::SiteAdministratorExplorer,
        SiteRole::SupportUser,
        SiteRole::Unlicensed,
        SiteRole::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteRole::Creator => "Creator",
            SiteRole::Explorer => "Explorer",
            SiteRole::ExplorerCanPublish => "ExplorerCanPublish",
            SiteRole::Guest => "Guest",
            SiteRole::ServerAdministrator => "ServerAdministrator",
            SiteRole::SiteAdministratorCreator => "SiteAdministratorCreator",
            SiteRole::SiteAdministratorExplorer => "SiteAdministratorExplorer",
            SiteRole::SupportUser => "SupportUser",
            SiteRole::Unlicensed => "Unlicensed",
            SiteRole::Viewer => "Viewer",
        }
    }

    /// Exact, case-sensitive match, as Tableau's REST API does.
    pub fn parse(s: &str) -> Option<SiteRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn tier(self) -> Option<LicenceTier> {
        match self {
            SiteRole::Creator
            | SiteRole::SiteAdministratorCreator
            | SiteRole::ServerAdministrator => Some(LicenceTier::Creator),
            SiteRole::Explorer
            | SiteRole::ExplorerCanPublish
            | SiteRole::SiteAdministratorExplorer => Some(LicenceTier::Explorer),
            SiteRole::Viewer => Some(LicenceTier::Viewer),
            SiteRole::Guest | SiteRole::SupportUser | SiteRole::Unlicensed => None,
        }
    }

    /// Order of access, for "grant role on sign-in" floors: Unlicensed (and Guest, SupportUser)
    /// < Viewer < Explorer < ExplorerCanPublish < SiteAdministratorExplorer < Creator <
    /// SiteAdministratorCreator < ServerAdministrator (**assumed**: Tableau documents the
    /// floor, not an order of the administrator roles).
    pub fn rank(self) -> u8 {
        match self {
            SiteRole::Unlicensed | SiteRole::Guest | SiteRole::SupportUser => 0,
            SiteRole::Viewer => 1,
            SiteRole::Explorer => 2,
            SiteRole::ExplorerCanPublish => 3,
            SiteRole::SiteAdministratorExplorer => 4,
            SiteRole::Creator => 5,
            SiteRole::SiteAdministratorCreator => 6,
            SiteRole::ServerAdministrator => 7,
        }
    }

    /// Roles Add User accepts (Guest answers 409005, the rest 400013).
    pub fn assignable_on_add(self) -> bool {
        matches!(
            self,
            SiteRole::Creator
                | SiteRole::Explorer
                | SiteRole::ExplorerCanPublish
                | SiteRole::SiteAdministratorCreator
                | SiteRole::SiteAdministratorExplorer
                | SiteRole::Unlicensed
                | SiteRole::Viewer
        )
    }

    /// Roles Update User accepts (ServerAdministrator too, for server admins).
    pub fn assignable_on_update(self) -> bool {
        self.assignable_on_add() || self == SiteRole::ServerAdministrator
    }
}

impl LicenceTier {
    pub fn parse(s: &str) -> Option<LicenceTier> {
        match s.to_ascii_lowercase().as_str() {
            "creator" => Some(LicenceTier::Creator),
            "explorer" => Some(LicenceTier::Explorer),
            "viewer" => Some(LicenceTier::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LicenceTier::Creator => "Creator",
            LicenceTier::Explorer => "Explorer",
            LicenceTier::Viewer => "Viewer",
        }
    }
}

/// One user on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub site_role: SiteRole,
    pub auth_setting: String,
    pub idp_configuration_id: Option<String>,
    /// RFC 3339 UTC, set by each sign-in of this user.
    pub last_login: Option<String>,
    /// Sign-in password (`--user`, or set by Update User); never rendered on the wire.
    #[serde(skip)]
    pub password: Option<String>,
    /// Marked through the control API: removal answers 409003 unless `mapAssetsTo`.
    pub owns_content: bool,
}

/// One group on the site. "All Users" is built in and has every user as member implicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    pub minimum_site_role: Option<SiteRole>,
    pub built_in: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_are_case_sensitive() {
        for role in SiteRole::ALL {
            assert_eq!(SiteRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(SiteRole::parse("viewer"), None);
        assert_eq!(
            SiteRole::SiteAdministratorExplorer.tier(),
            Some(LicenceTier::Explorer)
        );
        assert!(!SiteRole::Guest.assignable_on_add());
    }
}
