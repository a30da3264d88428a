//! Faults: Tableau (the simulator) throttles, fails and slows down a good share of calls while
//! an IdP pushes hundreds of users and dozens of groups through the bridge, retrying as IdPs
//! do. The simulator must end in exactly the intended state, and the journal must hold no
//! unfinished operation.

use crate::harness::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tableau_scim::model::ResourceKind;
use tableau_scim::store::{DEFAULT_TENANT, OperationState, StepState};
use tableau_sim::{FaultRule, SimConfig};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const USERS: usize = 300;
const GROUPS: usize = 30;
const IN_FLIGHT: usize = 16;
/// Attempts per IdP request before the test gives up (each attempt is bounded by the bridge's
/// deadline and the client timeout).
const MAX_ATTEMPTS: usize = 200;
const ROLES: [&str; 4] = ["Viewer", "Explorer", "ExplorerCanPublish", "Creator"];

/// Every Tableau call: ~26 % fail (429 with and without `Retry-After`, 500, 503, dropped
/// connections), 30 % are slowed down.
const FAULTS: &str =
    "/api/**=429:0.04:retry-after=1,429:0.06,500:0.08,503:0.08,drop:0.02,latency:20ms:0.3";

/// What the IdP saw besides final answers.
#[derive(Default)]
struct IdpStats {
    retries: AtomicU64,
    unavailable: AtomicU64,
    conflicts_after_retry: AtomicU64,
}

/// An IdP: sends a request until it gets a final answer, retrying the same request (same body,
/// no `Idempotency-Key`) on 429, 5xx and lost connections, after `Retry-After` (capped short).
struct Idp {
    bridge: Bridge,
    stats: IdpStats,
}

struct Answer {
    status: u16,
    body: Value,
    /// Whether an earlier attempt of this request got a retryable answer.
    retried: bool,
}

impl Idp {
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let url = format!("{}{}", self.bridge.base_url, path);
        let mut retried = false;
        for _ in 0..MAX_ATTEMPTS {
            let mut req = self
                .bridge
                .client
                .request(method.clone(), &url)
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(30));
            if let Some(b) = body {
                req = req.header("Content-Type", SCIM).body(b.to_string());
            }
            let wait = match req.send().await {
                Err(_) => Duration::from_millis(fastrand::u64(50..=500)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    if !matches!(status, 429 | 500 | 502 | 503 | 504) {
                        let text = resp.text().await.expect("body");
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
                    if status == 503 {
                        self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    // An IdP waits `Retry-After`; the test caps it at a random 50–1500 ms so
                    // that some retries attach to the running operation and others come
                    // after the background worker finished it (then a POST gets 409).
                    let cap = fastrand::u64(50..=1500);
                    Duration::from_millis(retry_after.map_or(cap, |s| (s * 1000).min(cap)))
                }
            };
            retried = true;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
        panic!("{method} {path}: no final answer after {MAX_ATTEMPTS} attempts");
    }

    /// POST a resource; a 409 on a retry whose first attempt went through is resolved by a
    /// lookup, as an IdP does. Returns the SCIM id.
    async fn create(&self, endpoint: &str, attr: &str, name: &str, body: Value) -> String {
        let a = self.send(Method::POST, endpoint, Some(&body)).await;
        match a.status {
            201 => a.body["id"].as_str().expect("id").to_string(),
            409 if a.retried => {
                self.stats
                    .conflicts_after_retry
                    .fetch_add(1, Ordering::Relaxed);
                let filter = format!("{attr} eq \"{name}\"")
                    .replace(' ', "%20")
                    .replace('"', "%22");
                let found = self
                    .send(Method::GET, &format!("{endpoint}?filter={filter}"), None)
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

    async fn patch(&self, path: &str, operations: Value) {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        let a = self.send(Method::PATCH, path, Some(&body)).await;
        assert!(
            a.status == 200 || a.status == 204,
            "PATCH {path}: {} {}",
            a.status,
            a.body
        );
    }
}

/// Runs `jobs` with at most `IN_FLIGHT` at once; returns their results in input order.
async fn bounded<T, F, Fut>(idp: &Arc<Idp>, jobs: Vec<T>, f: F) -> Vec<String>
where
    T: Send + 'static,
    F: Fn(Arc<Idp>, T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut set = JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (idp, f, limit) = (idp.clone(), f.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            (i, f(idp, job).await)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        let (i, v) = r.expect("IdP task");
        out.insert(i, v);
    }
    out.into_values().collect()
}

fn user_name(i: usize) -> String {
    format!("user{i:03}@example.com")
}

fn role_of(i: usize) -> &'static str {
    ROLES[i % ROLES.len()]
}

/// Users deactivated after creation (Tableau: Unlicensed).
fn deactivated(i: usize) -> bool {
    i % 10 == 7
}

/// The intended groups: initial members, members added later, members removed later.
struct GroupPlan {
    name: String,
    initial: Vec<usize>,
    added: Vec<usize>,
    removed: Vec<usize>,
}

impl GroupPlan {
    fn final_members(&self) -> BTreeSet<usize> {
        let mut m: BTreeSet<usize> = self.initial.iter().copied().collect();
        for r in &self.removed {
            m.remove(r);
        }
        m.extend(self.added.iter().copied());
        m
    }
}

fn group_plans() -> Vec<GroupPlan> {
    let mut rng = fastrand::Rng::with_seed(0x5c1a_fa17);
    (0..GROUPS)
        .map(|g| {
            let mut all: Vec<usize> = (0..USERS).collect();
            rng.shuffle(&mut all);
            let size = rng.usize(10..=40);
            let initial = all[..size].to_vec();
            let added = all[size..size + 1 + g % 6].to_vec();
            let removed = initial[..1 + g % 4].to_vec();
            GroupPlan {
                name: format!("Team {g:02}"),
                initial,
                added,
                removed,
            }
        })
        .collect()
}

fn members_json(ids: &[String], which: &[usize]) -> Value {
    Value::Array(
        which
            .iter()
            .map(|&i| json!({"value": ids[i], "display": user_name(i)}))
            .collect(),
    )
}

/// Tableau 3.21+ takes membership changes as bulk calls: one call per step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_under_tableau_faults_converges_to_the_intended_state() {
    push_under_faults("3.27", 1).await;
}

/// Before 3.21, one call per member: a step can fail half-way and is resumed, re-adding
/// members already added (409011 is success) and re-removing removed ones (404 is success).
/// A resumed step sends all its calls again, so with 40 single calls per step the client gets
/// one more retry here, or steps would rarely get through a 26 % failure rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_under_tableau_faults_converges_without_bulk_membership_calls() {
    push_under_faults("3.20", 2).await;
}

async fn push_under_faults(api_version: &str, client_retries: u32) {
    let sim = SimConfig::default()
        .with_api_version(api_version)
        .with_fault(FaultRule::parse(FAULTS).expect("fault rule"));
    let bridge = spawn_bridge_with(sim, |s| {
        let t = s.tableau.as_mut().expect("tableau settings");
        // Few client retries: many operations outlive their request and are finished by the
        // background worker or by the IdP's retry attaching to them.
        t.max_retries = client_retries;
        s.journal.deadline_secs = 3;
        s.journal.resume_after_secs = 1;
        s.journal.worker_interval_secs = 1;
        // Many removals, for another reason than the mass-removal guard (guard.rs tests it).
        s.guard.enabled = false;
    })
    .await;
    let idp = Arc::new(Idp {
        bridge,
        stats: IdpStats::default(),
    });

    // 1. Users, each with its site role.
    let user_ids = bounded(&idp, (0..USERS).collect(), |idp, i: usize| async move {
        let name = user_name(i);
        let body = json!({"schemas": [USER], "userName": name, "displayName": format!("User {i}"),
            "emails": [{"value": name, "primary": true}], "active": true,
            TABLEAU_EXT: {"siteRoles": [{"value": role_of(i)}]}});
        idp.create("/Users", "userName", &name, body).await
    })
    .await;
    let user_ids = Arc::new(user_ids);

    // 2. Some are deactivated.
    let ids = user_ids.clone();
    bounded(
        &idp,
        (0..USERS).filter(|&i| deactivated(i)).collect(),
        move |idp, i: usize| {
            let ids = ids.clone();
            async move {
                idp.patch(
                    &format!("/Users/{}", ids[i]),
                    json!([{"op": "replace", "value": {"active": false}}]),
                )
                .await;
                String::new()
            }
        },
    )
    .await;

    // 3. Groups, created with their initial members.
    let plans = Arc::new(group_plans());
    let ids = user_ids.clone();
    let p = plans.clone();
    let group_ids = bounded(&idp, (0..GROUPS).collect(), move |idp, g: usize| {
        let (ids, p) = (ids.clone(), p.clone());
        async move {
            let plan = &p[g];
            let body = json!({"schemas": [GROUP], "displayName": plan.name,
                "members": members_json(&ids, &plan.initial)});
            idp.create("/Groups", "displayName", &plan.name, body).await
        }
    })
    .await;
    let group_ids = Arc::new(group_ids);

    // 4. Membership changes: one PATCH adding, one removing, per group, all concurrently.
    let ids = user_ids.clone();
    let (p, gids) = (plans.clone(), group_ids.clone());
    let changes: Vec<(usize, bool)> = (0..GROUPS).flat_map(|g| [(g, true), (g, false)]).collect();
    bounded(&idp, changes, move |idp, (g, adding): (usize, bool)| {
        let (ids, p, gids) = (ids.clone(), p.clone(), gids.clone());
        async move {
            let plan = &p[g];
            let (op, which) = if adding {
                ("add", &plan.added)
            } else {
                ("remove", &plan.removed)
            };
            idp.patch(
                &format!("/Groups/{}", gids[g]),
                json!([{"op": op, "path": "members", "value": members_json(&ids, which)}]),
            )
            .await;
            String::new()
        }
    })
    .await;

    // The IdP has a final answer for everything: nothing may be left unfinished (the worker
    // gets a bounded moment for operations nobody waits on any more).
    let store = idp.bridge.store.clone();
    let mut unfinished = store.unfinished_operations(1000).await.expect("journal");
    for _ in 0..100 {
        if unfinished.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        unfinished = store.unfinished_operations(1000).await.expect("journal");
    }
    assert!(
        unfinished.is_empty(),
        "unfinished operations: {:?}",
        unfinished
            .iter()
            .map(|o| (&o.method, &o.path, o.attempts))
            .collect::<Vec<_>>()
    );
    let journal = store
        .list_operations(DEFAULT_TENANT, None, 10_000)
        .await
        .expect("journal");
    // A failed operation is acceptable only as a lost race that touched nothing: a request
    // computed its change before a resumed operation committed, and was refused before any
    // Tableau call (412: the HTTP layer read again; 409: its own earlier attempt created it).
    let failed: Vec<_> = journal
        .iter()
        .filter(|o| o.state == OperationState::Failed)
        .collect();
    let harmful: Vec<_> = failed
        .iter()
        .filter(|o| {
            !matches!(o.response_status, Some(409 | 412))
                || o.steps.iter().any(|s| s.state != StepState::Pending)
        })
        .map(|o| (&o.method, &o.path, &o.error_body, &o.steps))
        .collect();
    assert!(harmful.is_empty(), "failed operations: {harmful:#?}");
    let resumed = journal.iter().filter(|o| o.attempts > 1).count();
    let resumed_groups = journal
        .iter()
        .filter(|o| o.attempts > 1 && o.resource_kind == ResourceKind::Group)
        .count();

    // Tableau holds exactly the intended users, once each, with their roles.
    let snap = idp.bridge.snapshot();
    let ours: Vec<_> = snap
        .users
        .iter()
        .filter(|u| u.name.ends_with("@example.com"))
        .collect();
    assert_eq!(ours.len(), USERS, "one Tableau user per SCIM user");
    let by_name: HashMap<&str, _> = ours.iter().map(|u| (u.name.as_str(), *u)).collect();
    assert_eq!(by_name.len(), USERS, "no duplicate user names");
    let luid_to_user: HashMap<&str, usize> = (0..USERS)
        .map(|i| (by_name[user_name(i).as_str()].id.as_str(), i))
        .collect();
    for i in 0..USERS {
        let u = by_name[user_name(i).as_str()];
        let want = if deactivated(i) {
            "Unlicensed"
        } else {
            role_of(i)
        };
        assert_eq!(u.site_role.as_str(), want, "site role of {}", u.name);
    }

    // Exactly the intended groups, each with exactly its intended members.
    let groups: Vec<_> = snap.groups.iter().filter(|g| !g.group.built_in).collect();
    assert_eq!(groups.len(), GROUPS, "one Tableau group per SCIM group");
    for (g, plan) in plans.iter().enumerate() {
        let tg = groups
            .iter()
            .find(|t| t.group.name == plan.name)
            .unwrap_or_else(|| panic!("group {} in Tableau", plan.name));
        let members: BTreeSet<usize> = tg
            .member_ids
            .iter()
            .map(|l| *luid_to_user.get(l.as_str()).expect("member is one of ours"))
            .collect();
        assert_eq!(tg.member_ids.len(), members.len());
        assert_eq!(members, plan.final_members(), "members of {}", plan.name);

        // The SCIM side agrees.
        let a = idp
            .send(Method::GET, &format!("/Groups/{}", group_ids[g]), None)
            .await;
        assert_eq!(a.status, 200);
        let scim: BTreeSet<String> = a.body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x["value"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let want: BTreeSet<String> = plan
            .final_members()
            .iter()
            .map(|&i| user_ids[i].clone())
            .collect();
        assert_eq!(scim, want, "SCIM members of {}", plan.name);
    }

    let injected = snap.injected_faults;
    eprintln!(
        "API {api_version}: faults injected: {injected:?}; IdP retries {}, 503s {}, 409-after-retry {}; operations {} (resumed {resumed}, of them on groups {resumed_groups}; refused as stale {})",
        idp.stats.retries.load(Ordering::Relaxed),
        idp.stats.unavailable.load(Ordering::Relaxed),
        idp.stats.conflicts_after_retry.load(Ordering::Relaxed),
        journal.len(),
        failed.len(),
    );
    assert!(
        injected.too_many_requests + injected.server_errors > 100,
        "the simulator did inject faults: {injected:?}"
    );
}

/// The race the crash and fault tests meet now and then, made deterministic: a change computed
/// from a state that another operation (e.g. one resumed in the background) has since
/// replaced is refused once journaled, before any Tableau call, and the journal shows it.
#[tokio::test]
async fn a_stale_change_is_refused_before_any_tableau_call() {
    use tableau_scim::provision::PlannedChange;
    use tableau_scim::provision::intent::Intent;
    use tableau_scim::provision::plan::Step;
    use tableau_scim::provision::site_role::SiteRole;
    use tableau_scim::provision::{Engine, JournalSettings, RequestMeta};
    use tableau_scim::store::{MemberChanges, ResourceCommit};
    use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};

    let b = spawn_bridge().await;
    let name = "stale@example.com";
    let (s, u) = b
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": name, "displayName": "Before"})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let stored = b
        .store
        .get(DEFAULT_TENANT, ResourceKind::User, &id, false)
        .await
        .unwrap()
        .expect("stored user");
    let users_before = b.snapshot().users.len();

    // An engine of its own on the bridge's store, signing in with another token.
    let client = TableauClient::new(TableauSettings::new(
        b.sim.url(),
        b.sim.site_content_url(),
        TableauAuth::Pat {
            name: "sim-pat".into(),
            secret: "sim-pat-secret".into(),
        },
    ))
    .unwrap();
    let engine = Engine::new(
        b.store.clone(),
        Some(client),
        Default::default(),
        JournalSettings::default(),
    );
    let meta = |method: &str, path: &str| RequestMeta {
        tenant: DEFAULT_TENANT.into(),
        principal: "test".into(),
        method: method.into(),
        path: path.into(),
        body_digest: format!("{method} {path}"),
        idempotency_key: None,
        request_id: None,
        request_body: None,
    };

    // An update computed from an older revision.
    let mut doc = stored.doc.clone();
    doc.insert("displayName".into(), json!("After"));
    let stale_update = PlannedChange {
        steps: vec![Step::UpdateUser {
            user_id: id.clone(),
            full_name: Some("After".into()),
            email: None,
            site_role: None,
        }],
        intent: Intent {
            held: None,
            status: 200,
            commit: ResourceCommit::Update {
                kind: ResourceKind::User,
                id: id.clone(),
                revision: stored.revision - 1,
                doc,
                members: MemberChanges::default(),
                tableau_luid: stored.tableau_luid.clone(),
            },
        },
        guards: Vec::new(),
    };
    let err = engine
        .submit(&meta("PATCH", &format!("/Users/{id}")), stale_update)
        .await
        .expect_err("a stale update is refused");
    assert_eq!(err.status(), 412, "{}", err.detail);

    // A create of a name that was taken meanwhile.
    let other = uuid_like();
    let mut doc = serde_json::Map::new();
    doc.insert("userName".into(), json!(name));
    let stale_create = PlannedChange {
        steps: vec![
            Step::AddUser {
                user_id: other.clone(),
                name: name.into(),
                site_role: SiteRole::Creator,
                auth_setting: None,
                idp_configuration_id: None,
            },
            Step::UpdateUser {
                user_id: other.clone(),
                full_name: Some("Intruder".into()),
                email: None,
                site_role: None,
            },
        ],
        intent: Intent {
            held: None,
            status: 201,
            commit: ResourceCommit::Create {
                kind: ResourceKind::User,
                id: other.clone(),
                doc,
                members: vec![],
                tableau_luid: None,
            },
        },
        guards: Vec::new(),
    };
    let err = engine
        .submit(&meta("POST", "/Users"), stale_create)
        .await
        .expect_err("a create of a taken name is refused");
    assert_eq!(err.status(), 409, "{}", err.detail);

    // Tableau was not touched; the journal holds both as failed, with no step carried out.
    let t = b.tableau_user(name).expect("the user");
    assert_eq!(t.full_name.as_deref(), Some("Before"));
    assert_ne!(t.site_role.as_str(), "Creator");
    assert_eq!(b.snapshot().users.len(), users_before);
    for rid in [&id, &other] {
        let ops = b
            .store
            .list_operations(DEFAULT_TENANT, Some(rid), 10)
            .await
            .unwrap();
        let refused = ops
            .iter()
            .find(|o| o.principal == "test")
            .expect("journaled");
        assert_eq!(refused.state, OperationState::Failed);
        assert!(
            refused.steps.iter().all(|s| s.state == StepState::Pending),
            "{:?}",
            refused.steps
        );
    }
}

/// A fresh resource id (the bridge uses UUIDs; any unique string will do here).
fn uuid_like() -> String {
    format!("00000000-0000-4000-8000-{:012x}", fastrand::u64(..1 << 48))
}
