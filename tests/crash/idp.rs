//! The IdP and its script: what it sends, in which phases, what the end state must be, and how
//! it retries (as IdPs do: same request, no `Idempotency-Key`).

use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{GROUPS, TOKEN, USERS};

const SCIM: &str = "application/scim+json";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const TABLEAU_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
const ROLES: [&str; 4] = ["Viewer", "Explorer", "ExplorerCanPublish", "Creator"];
/// Attempts per IdP request (each bounded by the client timeout; waits ≤ 200 ms between).
const MAX_ATTEMPTS: usize = 600;

#[derive(Clone, Debug)]
pub enum Req {
    CreateUser(usize),
    CreateGroup(usize),
    AddMembers(usize, Vec<usize>),
    RemoveMembers(usize, Vec<usize>),
    SetActive(usize, bool),
    DeleteUser(usize),
    DeleteGroup(usize),
}

/// The intended end state, and the requests that lead there, in phases (a phase starts once
/// the previous one got all its answers, as an IdP's sync would).
pub struct Script {
    pub initial: Vec<Vec<usize>>,
    pub added: Vec<Vec<usize>>,
    pub removed: Vec<Vec<usize>>,
    pub deactivated: BTreeSet<usize>,
    pub reactivated: BTreeSet<usize>,
    pub deleted: BTreeSet<usize>,
    pub deleted_groups: BTreeSet<usize>,
}

impl Script {
    pub fn new() -> Script {
        let mut rng = fastrand::Rng::with_seed(0xc4a5_4ed1);
        let mut initial = Vec::new();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for _ in 0..GROUPS {
            let mut all: Vec<usize> = (0..USERS).collect();
            rng.shuffle(&mut all);
            initial.push(all[..8].to_vec());
            added.push(all[8..11].to_vec());
            removed.push(all[..2].to_vec());
        }
        let reactivated: BTreeSet<usize> = [7, 19].into();
        // Deleted: three members of group 0 that stay members until then (and are not
        // reactivated at the same time).
        let deleted: BTreeSet<usize> = initial[0][2..]
            .iter()
            .copied()
            .filter(|u| !reactivated.contains(u))
            .take(3)
            .collect();
        assert_eq!(deleted.len(), 3);
        Script {
            initial,
            added,
            removed,
            deactivated: [3, 7, 11, 19, 23].into(),
            reactivated,
            deleted,
            deleted_groups: [4].into(),
        }
    }

    pub fn phases(&self) -> Vec<Vec<Req>> {
        let mut membership = Vec::new();
        for g in 0..GROUPS {
            membership.push(Req::AddMembers(g, self.added[g].clone()));
            membership.push(Req::RemoveMembers(g, self.removed[g].clone()));
        }
        membership.extend(self.deactivated.iter().map(|&u| Req::SetActive(u, false)));
        let mut last: Vec<Req> = self.deleted.iter().map(|&u| Req::DeleteUser(u)).collect();
        last.extend(self.reactivated.iter().map(|&u| Req::SetActive(u, true)));
        last.extend(self.deleted_groups.iter().map(|&g| Req::DeleteGroup(g)));
        vec![
            (0..USERS).map(Req::CreateUser).collect(),
            (0..GROUPS).map(Req::CreateGroup).collect(),
            membership,
            last,
        ]
    }

    pub fn requests(&self) -> usize {
        self.phases().iter().map(Vec::len).sum()
    }

    pub fn final_members(&self, g: usize) -> BTreeSet<usize> {
        let mut m: BTreeSet<usize> = self.initial[g].iter().copied().collect();
        for r in &self.removed[g] {
            m.remove(r);
        }
        m.extend(&self.added[g]);
        m.retain(|u| !self.deleted.contains(u));
        m
    }

    pub fn final_role(&self, u: usize) -> &'static str {
        if self.deactivated.contains(&u) && !self.reactivated.contains(&u) {
            "Unlicensed"
        } else {
            ROLES[u % ROLES.len()]
        }
    }
}

pub fn user_name(u: usize) -> String {
    format!("crash{u:02}@example.com")
}

pub fn group_name(g: usize) -> String {
    format!("Crew {g}")
}

pub struct Idp {
    pub client: reqwest::Client,
    pub url: Arc<Mutex<String>>,
    /// Script requests started (first attempts), for the kill points.
    pub started: AtomicUsize,
    pub resent: AtomicUsize,
    pub user_ids: Mutex<HashMap<usize, String>>,
    pub group_ids: Mutex<HashMap<usize, String>>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retried: bool,
}

impl Idp {
    /// Sends until a final answer: lost connections (the server died), 429 and 5xx are
    /// retried with the same request, after `Retry-After` capped at 200 ms.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut retried = false;
        for _ in 0..MAX_ATTEMPTS {
            let base = self.url.lock().unwrap().clone();
            let wait = if base.is_empty() {
                Duration::from_millis(50)
            } else {
                let mut req = self
                    .client
                    .request(method.clone(), format!("{base}{path}"))
                    .bearer_auth(TOKEN)
                    .timeout(Duration::from_secs(20));
                if let Some(b) = body {
                    req = req.header("Content-Type", SCIM).body(b.to_string());
                }
                match req.send().await {
                    Err(_) => Duration::from_millis(50),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let after = resp
                            .headers()
                            .get("Retry-After")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok());
                        match (status, resp.text().await) {
                            (429 | 500..=599, _) => {
                                Duration::from_millis(after.map_or(100, |s| (s * 1000).min(200)))
                            }
                            // The body was cut off: the server died while answering.
                            (_, Err(_)) => Duration::from_millis(50),
                            (_, Ok(text)) => {
                                let body = if text.is_empty() {
                                    Value::Null
                                } else {
                                    serde_json::from_str(&text).expect("JSON")
                                };
                                return Answer {
                                    status,
                                    body,
                                    retried,
                                };
                            }
                        }
                    }
                }
            };
            if !retried {
                self.resent.fetch_add(1, Ordering::Relaxed);
            }
            retried = true;
            tokio::time::sleep(wait).await;
        }
        panic!("{method} {path}: no final answer after {MAX_ATTEMPTS} attempts");
    }

    /// POST; a 409 on a re-sent request whose first attempt went through is resolved by a
    /// lookup, as IdPs do.
    pub async fn create(&self, endpoint: &str, attr: &str, name: &str, body: Value) -> String {
        let a = self
            .send(reqwest::Method::POST, endpoint, Some(&body))
            .await;
        match a.status {
            201 => a.body["id"].as_str().expect("id").to_string(),
            409 if a.retried => {
                let filter = format!("{attr} eq \"{name}\"")
                    .replace(' ', "%20")
                    .replace('"', "%22");
                let found = self
                    .send(
                        reqwest::Method::GET,
                        &format!("{endpoint}?filter={filter}"),
                        None,
                    )
                    .await;
                assert_eq!(found.status, 200, "{}", found.body);
                assert_eq!(found.body["totalResults"], 1, "{}", found.body);
                found.body["Resources"][0]["id"]
                    .as_str()
                    .expect("id")
                    .to_string()
            }
            s => panic!("POST {endpoint} {name}: {s} {}", a.body),
        }
    }

    pub fn user(&self, u: usize) -> String {
        self.user_ids.lock().unwrap()[&u].clone()
    }

    pub fn members(&self, users: &[usize]) -> Value {
        Value::Array(
            users
                .iter()
                .map(|&u| json!({"value": self.user(u), "display": user_name(u)}))
                .collect(),
        )
    }

    pub async fn patch(&self, path: &str, operations: Value) {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        let a = self.send(reqwest::Method::PATCH, path, Some(&body)).await;
        assert!(
            a.status == 200 || a.status == 204,
            "PATCH {path}: {} {}",
            a.status,
            a.body
        );
    }

    pub async fn delete(&self, path: &str) {
        let a = self.send(reqwest::Method::DELETE, path, None).await;
        // 404 on a re-sent DELETE whose first attempt went through is success.
        assert!(
            a.status == 204 || (a.status == 404 && a.retried),
            "DELETE {path}: {} {}",
            a.status,
            a.body
        );
    }

    pub async fn run(&self, script: &Script, req: Req) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let adding = matches!(req, Req::AddMembers(..));
        match req {
            Req::CreateUser(u) => {
                let name = user_name(u);
                let body = json!({"schemas": [USER], "userName": name,
                    "name": {"givenName": "Crash", "familyName": format!("Test {u}")},
                    "emails": [{"value": name, "type": "work", "primary": true}], "active": true,
                    TABLEAU_EXT: {"siteRoles": [{"value": ROLES[u % ROLES.len()]}]}});
                let id = self.create("/Users", "userName", &name, body).await;
                self.user_ids.lock().unwrap().insert(u, id);
            }
            Req::CreateGroup(g) => {
                let name = group_name(g);
                let body = json!({"schemas": [GROUP], "displayName": name,
                    "members": self.members(&script.initial[g])});
                let id = self.create("/Groups", "displayName", &name, body).await;
                self.group_ids.lock().unwrap().insert(g, id);
            }
            Req::AddMembers(g, users) | Req::RemoveMembers(g, users) => {
                let op = if adding { "add" } else { "remove" };
                let gid = self.group_ids.lock().unwrap()[&g].clone();
                let value = self.members(&users);
                self.patch(
                    &format!("/Groups/{gid}"),
                    json!([{"op": op, "path": "members", "value": value}]),
                )
                .await;
            }
            Req::SetActive(u, active) => {
                self.patch(
                    &format!("/Users/{}", self.user(u)),
                    json!([{"op": "replace", "path": "active", "value": active}]),
                )
                .await;
            }
            Req::DeleteUser(u) => self.delete(&format!("/Users/{}", self.user(u))).await,
            Req::DeleteGroup(g) => {
                let gid = self.group_ids.lock().unwrap()[&g].clone();
                self.delete(&format!("/Groups/{gid}")).await
            }
        }
    }
}
