//! Dry-run (`provision.mode = "dry_run"`, docs/operations.md "Dry-run"): SCIM is answered as
//! usual and the store keeps the resources, but Tableau is never written. Each step of an
//! operation records the call it would have made — method, path, body — with step state
//! `planned`, and the operation, its SCIM side committed, ends `planned`. The calls are
//! described from the plan and the LUIDs the store holds (a LUID not known yet, such as a user
//! the operation itself would create, shows as a placeholder); the one Tableau read is the API
//! version for the paths. Switching to live mode then converges through a reconcile
//! (`reconcile::converge`).

use super::engine::{Answer, Engine, Finish};
use super::errors::refuses_commit_for_good;
use super::intent::Intent;
use super::plan::Step;
use crate::model::ResourceKind;
use crate::scim::{ScimError, ScimResult};
use crate::store::{Operation, ResourceCommit, StepOutcome, StepState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// How long a dry-run operation waits for Tableau's API version (for its paths).
const VERSION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `provision.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionMode {
    #[default]
    Live,
    DryRun,
}

/// One call a step would make.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCall {
    pub method: &'static str,
    /// As journaled calls are: `/api/{version}/sites/{site}/…`.
    pub path: String,
    pub body: Option<Value>,
    /// What the call stands for, when it is not the whole story.
    pub note: Option<String>,
}

/// The LUIDs known for the resources of a plan (SCIM id → LUID), with placeholders for the
/// others.
struct Luids(HashMap<String, String>);

impl Luids {
    fn of(&self, kind: ResourceKind, id: &str) -> String {
        self.0
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("{{LUID of {} {id}}}", kind.as_str()))
    }

    fn users(&self, ids: &[String]) -> Value {
        let users: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "id": self.of(ResourceKind::User, id) }))
            .collect();
        json!({ "users": { "user": users } })
    }
}

fn user_fields(
    name: &str,
    site_role: &str,
    auth_setting: Option<&String>,
    idp: Option<&String>,
) -> Value {
    let mut user = json!({ "name": name, "siteRole": site_role });
    if let Some(a) = auth_setting {
        user["authSetting"] = json!(a);
    }
    if let Some(i) = idp {
        user["idpConfigurationId"] = json!(i);
    }
    json!({ "user": user })
}

/// The write a step would make (pure). `None` for a step that only reads.
fn describe(step: &Step, site: &str, luids: &Luids) -> Option<PlannedCall> {
    use ResourceKind::{Group, User};
    let call = |method, rel: String, body: Option<Value>| PlannedCall {
        method,
        path: format!("{site}/{rel}"),
        body,
        note: None,
    };
    let map_to = |name: &Option<String>| match name {
        Some(n) => format!("?mapAssetsTo={{LUID of Tableau user {n}}}"),
        None => String::new(),
    };
    Some(match step {
        Step::AddUser {
            name,
            site_role,
            auth_setting,
            idp_configuration_id,
            ..
        }
        | Step::AddRenamedUser {
            name,
            site_role,
            auth_setting,
            idp_configuration_id,
            ..
        } => call(
            "POST",
            "users".into(),
            Some(user_fields(
                name,
                site_role.as_str(),
                auth_setting.as_ref(),
                idp_configuration_id.as_ref(),
            )),
        ),
        Step::UpdateUser {
            user_id,
            full_name,
            email,
            site_role,
        } => {
            let mut user = serde_json::Map::new();
            if let Some(f) = full_name {
                user.insert("fullName".into(), json!(f));
            }
            if let Some(e) = email {
                user.insert("email".into(), json!(e));
            }
            if let Some(r) = site_role {
                user.insert("siteRole".into(), json!(r.as_str()));
            }
            call(
                "PUT",
                format!("users/{}", luids.of(User, user_id)),
                Some(json!({ "user": user })),
            )
        }
        Step::RemoveUser {
            user_id,
            map_assets_to,
        } => call(
            "DELETE",
            format!("users/{}{}", luids.of(User, user_id), map_to(map_assets_to)),
            None,
        ),
        Step::RemoveUnmanagedUser {
            luid,
            map_assets_to,
            ..
        } => call(
            "DELETE",
            format!("users/{luid}{}", map_to(map_assets_to)),
            None,
        ),
        Step::CreateGroup { name, .. } => call(
            "POST",
            "groups".into(),
            Some(json!({ "group": { "name": name } })),
        ),
        Step::RenameGroup { group_id, name } => call(
            "PUT",
            format!("groups/{}", luids.of(Group, group_id)),
            Some(json!({ "group": { "name": name } })),
        ),
        Step::DeleteGroup { group_id } => call(
            "DELETE",
            format!("groups/{}", luids.of(Group, group_id)),
            None,
        ),
        Step::AddGroupMembers { group_id, user_ids } => call(
            "POST",
            format!("groups/{}/users", luids.of(Group, group_id)),
            Some(luids.users(user_ids)),
        ),
        Step::RemoveGroupMembers { group_id, user_ids } => call(
            "PUT",
            format!("groups/{}/users/remove", luids.of(Group, group_id)),
            Some(luids.users(user_ids)),
        ),
        Step::CheckUserNameFree { .. } => return None,
        Step::CopyGroups { user_id, .. } => PlannedCall {
            note: Some("once per group the old user is in (read when it runs)".into()),
            ..call(
                "POST",
                "groups/{group}/users".into(),
                Some(json!({ "user": { "id": luids.of(User, user_id) } })),
            )
        },
        Step::RetireOldUser { user_id, from } => PlannedCall {
            note: Some(format!(
                "the old user {} removed, its content to the new user",
                from.name
            )),
            ..call(
                "DELETE",
                format!(
                    "users/{{LUID of Tableau user {}}}?mapAssetsTo={}",
                    from.name,
                    luids.of(User, user_id)
                ),
                None,
            )
        },
        Step::RemoveRenamedUser { user_id, .. } => {
            call("DELETE", format!("users/{}", luids.of(User, user_id)), None)
        }
    })
}

fn planned_outcome(call: Option<PlannedCall>) -> StepOutcome {
    let (method, path, body, note) = match call {
        Some(c) => (
            Some(c.method.to_owned()),
            Some(c.path),
            c.body.map(|b| b.to_string()),
            c.note,
        ),
        None => (None, None, None, Some("a read: not made in dry-run".into())),
    };
    StepOutcome {
        state: StepState::Planned,
        method,
        path,
        request_body: body,
        http_status: None,
        tableau_code: None,
        duration_ms: None,
        luid: None,
        error: note,
        // No exchange was made: the planned call is the step's method, path and body.
        calls: None,
    }
}

impl Engine {
    /// Dry-run an operation: record the call each pending step would make, then commit its
    /// SCIM side with the operation as `planned`. Used for every operation while in dry-run
    /// (a new one, one resumed, a released one, a reconcile repair): nothing reaches Tableau.
    pub(super) async fn plan_only(&self, op: &Operation) -> ScimResult<Answer> {
        let intent: Intent = serde_json::from_value(op.intent.clone())
            .map_err(|e| ScimError::internal(format!("journaled intent unreadable: {e}")))?;
        // The version is cached once discovered; an unreachable Tableau must not hold up the
        // SCIM answer (its retries would), so the path then says `{version}`.
        let version = match &self.tableau {
            Some(client) => tokio::time::timeout(VERSION_WAIT, client.api_version())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        }
        .unwrap_or_else(|| "{version}".into());
        let site = format!("/api/{version}/sites/{{site}}");
        let mut luids: HashMap<String, String> = intent
            .held
            .as_ref()
            .map(|h| h.luids.clone().into_iter().collect())
            .unwrap_or_default();
        for s in op.steps.iter().filter(|s| s.state == StepState::Pending) {
            let step: Step = serde_json::from_value(s.description.clone())
                .map_err(|e| ScimError::internal(format!("journaled step unreadable: {e}")))?;
            for (kind, id) in super::guard::resources_of(&step) {
                if luids.contains_key(id) {
                    continue;
                }
                if let Some(l) = self
                    .store
                    .get(&op.tenant, kind, id, false)
                    .await?
                    .and_then(|r| r.tableau_luid)
                {
                    luids.insert(id.to_owned(), l);
                }
            }
            let outcome = planned_outcome(describe(&step, &site, &Luids(luids.clone())));
            self.store
                .record_step(&op.tenant, &op.id, s.idx, &outcome)
                .await?;
        }
        let mut commit = match op.held {
            Some(_) => ResourceCommit::Nothing,
            None => intent.commit.clone(),
        };
        let planned = self
            .finish_with_commit(op, Finish::Plan, intent.status, &mut commit)
            .await;
        match planned {
            Ok(resource) => Ok(Answer {
                status: intent.status,
                resource,
                held: false,
            }),
            Err(e) if refuses_commit_for_good(&e) => {
                let err = ScimError::from(e);
                self.store
                    .fail_operation(&op.tenant, &op.id, err.status(), &err.to_body())
                    .await?;
                Err(err)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::site_role::SiteRole;

    const SITE: &str = "/api/3.27/sites/{site}";

    #[test]
    fn each_write_is_described_with_known_luids_and_placeholders() {
        let luids = Luids(HashMap::from([("u1".to_string(), "L1".to_string())]));
        let update = Step::UpdateUser {
            user_id: "u1".into(),
            full_name: None,
            email: None,
            site_role: Some(SiteRole::Unlicensed),
        };
        let c = describe(&update, SITE, &luids).expect("a write");
        assert_eq!(c.method, "PUT");
        assert_eq!(c.path, "/api/3.27/sites/{site}/users/L1");
        assert_eq!(c.body, Some(json!({"user": {"siteRole": "Unlicensed"}})));
        let add = Step::AddGroupMembers {
            group_id: "g".into(),
            user_ids: vec!["u1".into(), "u2".into()],
        };
        let c = describe(&add, SITE, &luids).expect("a write");
        assert_eq!(
            c.path,
            "/api/3.27/sites/{site}/groups/{LUID of Group g}/users"
        );
        assert_eq!(
            c.body,
            Some(json!({"users": {"user": [{"id": "L1"}, {"id": "{LUID of User u2}"}]}}))
        );
        let create = Step::AddUser {
            user_id: "u3".into(),
            name: "ada@example.com".into(),
            site_role: SiteRole::Viewer,
            auth_setting: Some("SAML".into()),
            idp_configuration_id: None,
        };
        let c = describe(&create, SITE, &luids).expect("a write");
        assert_eq!(
            (c.method, c.path.as_str()),
            ("POST", "/api/3.27/sites/{site}/users")
        );
        assert_eq!(
            c.body,
            Some(
                json!({"user": {"name": "ada@example.com", "siteRole": "Viewer", "authSetting": "SAML"}})
            )
        );
        let check = Step::CheckUserNameFree {
            user_id: "u3".into(),
            name: "x".into(),
        };
        assert!(describe(&check, SITE, &luids).is_none(), "a read");
        let remove = Step::RemoveUser {
            user_id: "u1".into(),
            map_assets_to: Some("owner".into()),
        };
        let c = describe(&remove, SITE, &luids).expect("a write");
        assert_eq!(
            c.path,
            "/api/3.27/sites/{site}/users/L1?mapAssetsTo={LUID of Tableau user owner}"
        );
        assert_eq!(c.body, None);
    }
}
