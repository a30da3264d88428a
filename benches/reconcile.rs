//! Reconcile at scale: N users and G groups holding M memberships, the same in the store and
//! in the in-process simulator (seeded first, through the store API and Tableau's REST API),
//! then one `reconcile` report: how many Tableau calls it makes and how long it takes. The
//! calls should be pages (users/1000 + groups/1000 + one listing per managed group of up to
//! 1000 members + sign-in, server info and Query Site), nothing per user. A second run with
//! 1% of the users' site roles changed in Tableau checks the drift is found at that size.
//!
//! Run: `cargo bench --bench reconcile`. Under `cargo test --all-targets` (no `--bench`
//! argument) it makes a smoke run (2,000 users, 20 groups, 1,000 memberships).
//!
//! Env: `RECONCILE_BENCH_USERS` (default 100000), `RECONCILE_BENCH_GROUPS` (1000),
//! `RECONCILE_BENCH_MEMBERS` (memberships in all, 50000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use futures_util::{StreamExt, stream};
use serde_json::json;
use tableau_scim::model::ResourceKind;
use tableau_scim::provision::{Engine, JournalSettings};
use tableau_scim::reconcile::{Options, Reconciler};
use tableau_scim::store::{DEFAULT_TENANT, Store};
use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings, UserUpdate};
use tableau_sim::{FaultRule, PersonalAccessToken, SimConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn quiet(_: &str, _: usize, _: Option<u64>) {}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tableau_scim::init_crypto();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: a smoke run then.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (users, groups, members) = if benchmarking {
        (
            env_usize("RECONCILE_BENCH_USERS", 100_000),
            env_usize("RECONCILE_BENCH_GROUPS", 1000),
            env_usize("RECONCILE_BENCH_MEMBERS", 50_000),
        )
    } else {
        (2000, 20, 1000)
    };
    let groups = groups.max(1);
    let mut sim_config = SimConfig::default().with_site("acme");
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: "bridge-secret".into(),
    });
    let sim = tableau_sim::spawn(sim_config).await?;
    let mut settings = TableauSettings::new(
        sim.url(),
        sim.site_content_url(),
        TableauAuth::Pat {
            name: "bridge".into(),
            secret: "bridge-secret".into(),
        },
    );
    settings.requests_per_second = 100_000;
    let client = TableauClient::new(settings)?;
    let dir = tempfile::tempdir()?;
    let store =
        tableau_scim::store::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
            .await?;

    // Seed: users in Tableau and in the store, linked.
    let started = Instant::now();
    let mut user_ids = vec![String::new(); users];
    let mut user_luids = vec![String::new(); users];
    let mut seeded = stream::iter(0..users)
        .map(|i| {
            let (client, store) = (client.clone(), store.clone());
            async move {
                let name = format!("user{i:06}@example.com");
                let t = client.add_user(&name, "Viewer", None, None).await?;
                let id = uuid::Uuid::new_v4().to_string();
                let doc = json!({"userName": name, "active": true});
                let doc = doc.as_object().cloned().unwrap_or_default();
                store
                    .create(DEFAULT_TENANT, ResourceKind::User, &id, &doc, &[])
                    .await?;
                store
                    .set_luid(DEFAULT_TENANT, ResourceKind::User, &id, Some(&t.luid))
                    .await?;
                Ok::<_, BoxError>((i, id, t.luid))
            }
        })
        .buffer_unordered(64);
    while let Some(r) = seeded.next().await {
        let (i, id, luid) = r?;
        user_ids[i] = id;
        user_luids[i] = luid;
    }
    drop(seeded);
    // Groups: memberships spread evenly, each user in at most one group.
    let per_group = members.min(users) / groups;
    for g in 0..groups {
        let name = format!("group{g:04}");
        let t = client.create_group(&name).await?;
        let range = g * per_group..(g + 1) * per_group;
        client
            .add_group_members(&t.luid, &user_luids[range.clone()])
            .await?;
        let id = uuid::Uuid::new_v4().to_string();
        let doc = json!({"displayName": name});
        let doc = doc.as_object().cloned().unwrap_or_default();
        let member_ids: Vec<(String, ResourceKind)> = user_ids[range]
            .iter()
            .map(|u| (u.clone(), ResourceKind::User))
            .collect();
        store
            .create(DEFAULT_TENANT, ResourceKind::Group, &id, &doc, &member_ids)
            .await?;
        store
            .set_luid(DEFAULT_TENANT, ResourceKind::Group, &id, Some(&t.luid))
            .await?;
    }
    println!(
        "seeded {users} users, {groups} groups, {} memberships in {:.1} s",
        per_group * groups,
        started.elapsed().as_secs_f64()
    );

    let engine = Engine::new(
        store.clone() as Arc<dyn Store>,
        Some(client.clone()),
        Default::default(),
        JournalSettings::default(),
    );
    let reconciler = Reconciler::new(engine, client.clone(), DEFAULT_TENANT);
    // Every REST call the simulator answers counts once ("latency 0 ms" on every path).
    sim.state()
        .add_fault(FaultRule::parse("/api/**=latency:0ms").expect("rule parses"));
    let before = sim.state().snapshot().injected_faults.delays;
    let started = Instant::now();
    let report = reconciler.run(Options::default(), &quiet).await?;
    let secs = started.elapsed().as_secs_f64();
    let calls = sim.state().snapshot().injected_faults.delays - before;
    assert!(report.in_sync, "{}", report.to_text());
    let pages = users.div_ceil(1000) + groups.div_ceil(1000) + groups;
    println!(
        "reconcile (in sync): {secs:.2} s, {calls} Tableau calls (counted by the bridge: {}; \
         pages expected: {pages} + sign-in, server info, Query Site)",
        report.tableau.calls
    );
    assert!(
        calls as usize <= pages + 4,
        "{calls} calls: more than pages"
    );

    // Drift at scale: 1% of the users get another role in Tableau.
    let changed = (users / 100).max(1);
    for luid in user_luids.iter().step_by(users / changed).take(changed) {
        let update = UserUpdate {
            site_role: Some("Explorer".into()),
            ..Default::default()
        };
        client.update_user(luid, &update).await?;
    }
    let started = Instant::now();
    let report = reconciler.run(Options::default(), &quiet).await?;
    println!(
        "reconcile ({changed} site roles changed): {:.2} s, {} drift(s) found, {} calls",
        started.elapsed().as_secs_f64(),
        report.drifts.len(),
        report.tableau.calls
    );
    assert_eq!(report.counts["user_site_role"], changed);
    sim.stop().await;
    Ok(())
}
