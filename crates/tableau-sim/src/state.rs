//! The whole simulated server behind one lock: the site directory, sessions, credentials,
//! and (behind its own lock) the fault table. Each request holds the lock for a few
//! microseconds of map work only, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use super::config::{ConnectedApp, SimConfig, parse_api_version};
use super::content::{ContentItem, ContentKind};
use super::directory::{Directory, DirectorySnapshot, GroupSnapshot};
use super::errors::ApiError;
use super::faults::{FaultCounts, FaultRule, FaultTable};
use super::licences::SeatUsage;
use super::model::{LicenceTier, SiteRole, User};
use super::sessions::Sessions;

/// The site this simulator serves.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteInfo {
    pub id: String,
    pub content_url: String,
    pub name: String,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) directory: Directory,
    pub(crate) sessions: Sessions,
}

/// Shared state of one running simulator.
#[derive(Debug)]
pub struct SimState {
    pub site: SiteInfo,
    pub api_version: String,
    pub(crate) api_version_parsed: (u32, u32),
    /// PAT name → (secret, owner LUID).
    pub(crate) pats: HashMap<String, (String, String)>,
    pub(crate) connected_apps: Vec<ConnectedApp>,
    /// `SimConfig::map_assets_to_forbidden`.
    pub(crate) map_assets_to_forbidden: bool,
    inner: Mutex<Inner>,
    faults: Mutex<FaultTable>,
}

/// Everything the simulator holds, serialisable (`GET /_sim/state`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimSnapshot {
    pub site: SiteInfo,
    pub api_version: String,
    /// Users in name order (case-insensitive).
    pub users: Vec<User>,
    /// Groups in name order, All Users included, each with its member LUIDs.
    pub groups: Vec<GroupSnapshot>,
    /// Seats used and their limit, per licence tier.
    pub seats: BTreeMap<&'static str, SeatUsage>,
    /// Content items (projects, workbooks, data sources, flows) and their owners.
    pub content: Vec<ContentItem>,
    /// Open sessions.
    pub sessions: usize,
    pub faults: Vec<FaultRule>,
    pub injected_faults: FaultCounts,
}

impl SimState {
    pub fn new(config: &SimConfig) -> Result<Self, String> {
        let api_version_parsed = parse_api_version(&config.api_version)
            .ok_or_else(|| format!("invalid API version '{}'", config.api_version))?;
        // Administrators exist before seat limits apply, so they never end up Unlicensed.
        let mut directory = Directory::new(config.seed);
        let site_id = directory.new_luid();
        for admin in &config.users {
            let id = ensure_admin(&mut directory, &admin.name)?;
            directory
                .update_user(
                    &id,
                    super::directory::UserUpdate {
                        password: Some(admin.password.clone()),
                        ..Default::default()
                    },
                )
                .map_err(|e| e.detail)?;
        }
        let mut pats = HashMap::new();
        for pat in &config.pats {
            let id = ensure_admin(&mut directory, &pat.name)?;
            pats.insert(pat.name.clone(), (pat.secret.clone(), id));
        }
        for (tier, seats) in &config.seats {
            directory.set_seats(*tier, Some(*seats));
        }
        let site_name = if config.site_content_url.is_empty() {
            "Default".to_owned()
        } else {
            config.site_content_url.clone()
        };
        Ok(Self {
            site: SiteInfo {
                id: site_id,
                content_url: config.site_content_url.clone(),
                name: site_name,
            },
            api_version: config.api_version.clone(),
            api_version_parsed,
            pats,
            connected_apps: config.connected_apps.clone(),
            map_assets_to_forbidden: config.map_assets_to_forbidden,
            inner: Mutex::new(Inner {
                directory,
                sessions: Sessions::new(config.token_idle_timeout, config.seed.wrapping_add(1)),
            }),
            faults: Mutex::new(FaultTable::new(
                config.faults.clone(),
                config.seed.wrapping_add(2),
            )),
        })
    }

    /// The directory and sessions. A poisoned lock is taken over: every mutation leaves the
    /// maps consistent before anything can fail.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultTable> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- in-process equivalents of the `/_sim/` control API ----

    /// Marks (or unmarks) a user, by LUID or name, as owning content: Remove User then answers
    /// 409003 unless `mapAssetsTo` is given. Returns the user's LUID.
    pub fn set_owns_content(&self, user: &str, owns: bool) -> Result<String, ApiError> {
        let mut inner = self.lock();
        let dir = &mut inner.directory;
        let id = match dir.user(user) {
            Ok(u) => u.id.clone(),
            Err(e) => dir.user_by_name(user).map(|u| u.id.clone()).ok_or(e)?,
        };
        dir.set_owns_content(&id, owns)?;
        Ok(id)
    }

    /// Gives a user (by LUID or name) a new content item of `kind` named `name`, in project
    /// `project_id` if given; returns the item's LUID. The REST API then lists it by owner,
    /// changes its owner, and Remove User needs `mapAssetsTo` for its owner.
    pub fn add_content(
        &self,
        kind: ContentKind,
        name: &str,
        owner: &str,
        project_id: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut inner = self.lock();
        let dir = &mut inner.directory;
        let owner = match dir.user(owner) {
            Ok(u) => u.id.clone(),
            Err(e) => dir.user_by_name(owner).map(|u| u.id.clone()).ok_or(e)?,
        };
        Ok(dir.add_content(kind, name, &owner, project_id)?.id.clone())
    }

    /// Sets (`Some`) or lifts (`None`) the seat limit of a licence tier.
    pub fn set_seats(&self, tier: LicenceTier, limit: Option<usize>) {
        self.lock().directory.set_seats(tier, limit);
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.faults().add(rule);
    }

    pub fn clear_faults(&self) {
        self.faults().clear();
    }

    /// Replaces all fault rules at once (no request sees the table half-changed).
    pub fn replace_faults(&self, rules: Vec<FaultRule>) {
        let mut faults = self.faults();
        faults.clear();
        for rule in rules {
            faults.add(rule);
        }
    }

    /// Ends every session (clients get 401002 and must sign in again); returns how many.
    pub fn end_all_sessions(&self) -> usize {
        self.lock().sessions.close_all()
    }

    pub fn snapshot(&self) -> SimSnapshot {
        let (
            DirectorySnapshot {
                users,
                groups,
                seats,
                content,
            },
            sessions,
        ) = {
            let inner = self.lock();
            (inner.directory.snapshot(), inner.sessions.count())
        };
        let faults = self.faults();
        SimSnapshot {
            site: self.site.clone(),
            api_version: self.api_version.clone(),
            users,
            groups,
            seats,
            content,
            sessions,
            faults: faults.rules().to_vec(),
            injected_faults: faults.counts(),
        }
    }
}

fn ensure_admin(directory: &mut Directory, name: &str) -> Result<String, String> {
    if let Some(user) = directory.user_by_name(name) {
        return Ok(user.id.clone());
    }
    directory
        .add_user(name, SiteRole::SiteAdministratorCreator, None, None)
        .map(|u| u.id.clone())
        .map_err(|e| e.detail)
}
