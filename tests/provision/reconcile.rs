//! Reconcile against the simulator: drift of every kind injected through Tableau's REST API
//! (signed in as the site's administrator, as a person would make it), reported exactly,
//! repaired through the journal, and gone on the next run; unmanaged users left alone unless
//! asked; adopt before a push, then the push links instead of duplicating; the periodic
//! reconcile in `serve`.

use crate::harness::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tableau_scim::model::ResourceKind;
use tableau_scim::provision::rules::{GroupRoleRule, ProvisionPolicy};
use tableau_scim::provision::site_role::SiteRole;
use tableau_scim::provision::{Engine, JournalSettings};
use tableau_scim::reconcile::adopt::{self, Action, Names};
use tableau_scim::reconcile::{Options, Reconciler, Report, desired};
use tableau_scim::store::DEFAULT_TENANT;
use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings, UserUpdate};

/// A client signed in as the simulator's administrator (`admin`, a password sign-in).
fn admin(b: &Bridge) -> TableauClient {
    client(
        b,
        TableauAuth::Password {
            username: "admin".into(),
            password: "admin-password".into(),
        },
    )
}

fn client(b: &Bridge, auth: TableauAuth) -> TableauClient {
    let mut s = TableauSettings::new(b.sim.url(), b.sim.site_content_url(), auth);
    s.requests_per_second = 10_000;
    TableauClient::new(s).expect("client")
}

/// A reconciler on the bridge's store, signed in with the second PAT (the server has the first).
fn reconciler(b: &Bridge) -> Reconciler {
    reconciler_with(b, ProvisionPolicy::default())
}

fn reconciler_with(b: &Bridge, policy: ProvisionPolicy) -> Reconciler {
    let tableau = client(
        b,
        TableauAuth::Pat {
            name: "bridge2".into(),
            secret: "bridge2-secret".into(),
        },
    );
    let engine = Engine::new(
        b.store.clone(),
        Some(tableau.clone()),
        policy,
        JournalSettings::default(),
    );
    Reconciler::new(engine, tableau, DEFAULT_TENANT)
}

fn quiet(_: &str, _: usize, _: Option<u64>) {}

async fn run(b: &Bridge, options: Options) -> Report {
    reconciler(b)
        .run(options, &quiet)
        .await
        .expect("reconcile runs")
}

/// (kind, name) of each drift, from the JSON report: what a script would read.
fn kinds(report: &Report) -> BTreeSet<(String, String)> {
    let json: Value = serde_json::from_str(&report.to_json()).expect("JSON report");
    json["drifts"]
        .as_array()
        .expect("drifts")
        .iter()
        .map(|d| {
            let name = ["user_name", "name"]
                .iter()
                .find_map(|k| d[*k].as_str())
                .expect("a name");
            let name = match d["group_name"].as_str() {
                Some(g) => format!("{g}/{name}"),
                None => name.to_string(),
            };
            (d["kind"].as_str().expect("kind").to_string(), name)
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(k, n)| (k.to_string(), n.to_string()))
        .collect()
}

async fn luid(b: &Bridge, kind: ResourceKind, id: &str) -> String {
    b.store
        .get(DEFAULT_TENANT, kind, id, false)
        .await
        .unwrap()
        .unwrap()
        .tableau_luid
        .expect("linked")
}

#[tokio::test]
async fn every_drift_reported_repaired_and_gone() {
    on_both_backends(|store| async move {
        let b = spawn_bridge_with(Default::default(), |s| s.store = store).await;
        every_drift(b).await;
    })
    .await;
}

async fn every_drift(b: Bridge) {
    let ann = b.create_user("ann@x.com").await;
    let bob = b.create_user("bob@x.com").await;
    let cat = b.create_user("cat@x.com").await;
    let (s, dan) = b
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "dan@x.com",
                   "name": {"formatted": "Dan Dare"}, "emails": [{"value": "dan@x.com", "primary": true}]}),
        )
        .await;
    assert_eq!(s, 201, "{dan}");
    let dan = dan["id"].as_str().unwrap().to_string();
    let eve = b.create_user("eve@x.com").await;
    let sales = b.create_group("Sales", &[ann.clone(), bob.clone()]).await;
    let ops = b.create_group("Ops", std::slice::from_ref(&cat)).await;
    let eng = b.create_group("Eng", std::slice::from_ref(&dan)).await;
    let support = b.create_group("Support", std::slice::from_ref(&eve)).await;
    let clean = run(&b, Options::default()).await;
    assert!(clean.in_sync, "{}", clean.to_text());
    assert_eq!(clean.exit_code(), 0);

    // A Tableau admin's afternoon.
    let t = admin(&b);
    t.remove_user(&luid(&b, ResourceKind::User, &ann).await, None)
        .await
        .unwrap();
    t.remove_user(&luid(&b, ResourceKind::User, &bob).await, None)
        .await
        .unwrap();
    let new_bob = t.add_user("bob@x.com", "Viewer", None, None).await.unwrap();
    let cat_luid = luid(&b, ResourceKind::User, &cat).await;
    t.update_user(
        &cat_luid,
        &UserUpdate {
            site_role: Some("Creator".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    t.update_user(
        &luid(&b, ResourceKind::User, &dan).await,
        &UserUpdate {
            full_name: Some("D. Dare".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let zed = t
        .add_user("zed@x.com", "Explorer", None, None)
        .await
        .unwrap();
    let sales_luid = luid(&b, ResourceKind::Group, &sales).await;
    t.add_group_members(&sales_luid, &[zed.luid.clone(), cat_luid.clone()])
        .await
        .unwrap();
    t.delete_group(&luid(&b, ResourceKind::Group, &ops).await)
        .await
        .unwrap();
    t.rename_group(&luid(&b, ResourceKind::Group, &eng).await, "Engineering")
        .await
        .unwrap();
    t.delete_group(&luid(&b, ResourceKind::Group, &support).await)
        .await
        .unwrap();
    let new_support = t.create_group("Support").await.unwrap();

    let report = run(&b, Options::default()).await;
    assert_eq!(
        kinds(&report),
        set(&[
            ("user_missing", "ann@x.com"),
            ("user_luid_stale", "bob@x.com"),
            ("user_site_role", "cat@x.com"),
            ("user_attributes", "dan@x.com"),
            ("user_unmanaged", "zed@x.com"),
            ("member_missing", "Sales/ann@x.com"),
            ("member_missing", "Sales/bob@x.com"),
            ("member_extra", "Sales/cat@x.com"),
            ("member_extra", "Sales/zed@x.com"),
            ("group_missing", "Ops"),
            ("group_renamed", "Eng"),
            ("group_luid_stale", "Support"),
            ("member_missing", "Support/eve@x.com"),
        ]),
        "{}",
        report.to_text()
    );
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.counts["member_missing"], 3);
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    let role = json["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "user_site_role")
        .unwrap();
    assert_eq!(role["expected"], "Viewer");
    assert_eq!(role["actual"], "Creator");
    assert_eq!(role["seats_full"], Value::Null);
    let attrs = json["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "user_attributes")
        .unwrap();
    assert_eq!(
        attrs["full_name"],
        json!({"expected": "Dan Dare", "actual": "D. Dare"})
    );
    assert_eq!(attrs["email"], Value::Null);
    // The administrators (the site admin, the PAT owners) are named apart, not drift.
    assert!(report.administrators.contains(&"admin".to_string()));
    // Nothing was changed by reporting.
    assert!(b.tableau_user("ann@x.com").is_none());

    b.count_tableau_calls();
    let applied = run(
        &b,
        Options {
            apply: true,
            remove_unmanaged: false,
        },
    )
    .await;
    let a = applied.applied.as_ref().unwrap();
    assert!(
        a.failed.is_empty() && a.unfinished.is_empty(),
        "{}",
        applied.to_text()
    );
    // zed and its membership in Sales are left alone.
    assert_eq!(a.left_alone, 2, "{}", applied.to_text());
    assert_eq!(applied.exit_code(), 2);
    assert_eq!(b.role("ann@x.com"), "Viewer");
    assert_eq!(b.role("cat@x.com"), "Viewer");
    assert_eq!(
        b.tableau_user("dan@x.com").unwrap().full_name.as_deref(),
        Some("Dan Dare")
    );
    assert_eq!(luid(&b, ResourceKind::User, &bob).await, new_bob.luid);
    assert_eq!(
        luid(&b, ResourceKind::Group, &support).await,
        new_support.luid
    );
    assert_eq!(
        b.tableau_group_members("Sales").unwrap(),
        vec!["ann@x.com", "bob@x.com", "zed@x.com"]
    );
    assert_eq!(b.tableau_group_members("Ops").unwrap(), vec!["cat@x.com"]);
    assert_eq!(b.tableau_group_members("Eng").unwrap(), vec!["dan@x.com"]);
    assert_eq!(
        b.tableau_group_members("Support").unwrap(),
        vec!["eve@x.com"]
    );
    assert!(
        b.tableau_user("zed@x.com").is_some(),
        "unmanaged: untouched"
    );
    // Each repair is an operation in the journal, like an IdP's change.
    let repairs: Vec<_> = b
        .operations(None)
        .await
        .into_iter()
        .filter(|o| o.method == "RECONCILE")
        .collect();
    assert_eq!(
        repairs.len(),
        8,
        "ann, bob, cat, dan, Sales, Ops, Eng, Support: {repairs:?}"
    );
    assert!(repairs.iter().all(|o| o.state.as_str() == "succeeded"));
    assert!(repairs.iter().any(|o| o.path == format!("/Users/{ann}")));

    let after = run(&b, Options::default()).await;
    assert_eq!(
        kinds(&after),
        set(&[
            ("user_unmanaged", "zed@x.com"),
            ("member_extra", "Sales/zed@x.com")
        ]),
        "{}",
        after.to_text()
    );

    let removed = run(
        &b,
        Options {
            apply: true,
            remove_unmanaged: true,
        },
    )
    .await;
    assert_eq!(removed.exit_code(), 0, "{}", removed.to_text());
    assert!(b.tableau_user("zed@x.com").is_none());
    assert!(
        b.tableau_user("admin").is_some(),
        "administrators are never removed"
    );
    let last = run(&b, Options::default()).await;
    assert!(last.in_sync, "{}", last.to_text());
    assert_eq!(last.exit_code(), 0);
}

#[tokio::test]
async fn reading_costs_pages_not_users() {
    let b = spawn_bridge().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(b.create_user(&format!("u{i}@x.com")).await);
    }
    b.create_group("A", &ids[..10]).await;
    b.create_group("B", &ids[10..]).await;
    let report = run(&b, Options::default()).await;
    assert!(report.in_sync, "{}", report.to_text());
    // Server info (the API version), sign-in, users, groups, Query Site, one listing per
    // managed group: 7, nothing per user.
    assert!(
        report.tableau.calls <= 7,
        "{} calls for 30 users",
        report.tableau.calls
    );
    assert_eq!(report.tableau.managed_groups, 2);
}

#[tokio::test]
async fn adopt_then_push_links_without_duplicates() {
    let b = spawn_bridge().await;
    let t = admin(&b);
    let alice = t
        .add_user("Alice@X.com", "Creator", None, None)
        .await
        .unwrap();
    t.add_user("old@x.com", "Viewer", None, None).await.unwrap();
    let finance = t.create_group("FINANCE").await.unwrap();
    let names = Names {
        users: adopt::parse_names("# from the IdP\nalice@x.com\n\nnew@x.com\n"),
        groups: vec!["Finance".into()],
    };
    let reader = admin(&b);
    let users = reader.all_users(&|_, _| {}).await.unwrap();
    let groups = reader.all_groups(&|_, _| {}).await.unwrap();
    let stored = desired::load(b.store.as_ref(), DEFAULT_TENANT, &Default::default())
        .await
        .unwrap();
    let forecast = adopt::forecast(&stored, &names, &users, &groups);
    let action = |name: &str| {
        forecast
            .entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.action)
    };
    assert_eq!(
        action("alice@x.com"),
        Some(Action::Link),
        "{}",
        forecast.to_text()
    );
    assert_eq!(action("new@x.com"), Some(Action::Create));
    assert_eq!(action("old@x.com"), Some(Action::Leave));
    assert_eq!(action("Finance"), Some(Action::Link));
    assert_eq!(
        action("All Users"),
        None,
        "Tableau's own group is not listed"
    );
    assert_eq!(forecast.counts["users"][&Action::Link], 1);
    let text = forecast.to_text();
    assert!(
        text.contains("link    user alice@x.com -> Tableau Alice@X.com"),
        "{text}"
    );

    // Going live: the IdP pushes; the existing user and group are linked, not duplicated.
    let id = b.create_user("alice@x.com").await;
    let (s, g) = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Finance", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap();
    assert_eq!(luid(&b, ResourceKind::User, &id).await, alice.luid);
    assert_eq!(luid(&b, ResourceKind::Group, gid).await, finance.luid);
    let alices = b
        .snapshot()
        .users
        .iter()
        .filter(|u| u.name.eq_ignore_ascii_case("alice@x.com"))
        .count();
    assert_eq!(alices, 1);
    assert_eq!(b.tableau_group_names(), vec!["FINANCE"]);
    // The link applied the rules' role (the default, Viewer), as the forecast would show.
    assert_eq!(b.role("alice@x.com"), "Viewer");
    let report = run(&b, Options::default()).await;
    // Only the manual user no name matched is left; the group keeps Tableau's spelling until
    // a repair renames it, which reconcile reports.
    assert_eq!(
        kinds(&report),
        set(&[
            ("user_unmanaged", "old@x.com"),
            ("group_renamed", "Finance")
        ]),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn periodic_reconcile_repairs_and_exposes_drift() {
    let b = spawn_bridge_with(Default::default(), |s| {
        s.reconcile.interval_secs = 1;
        s.reconcile.apply = true;
    })
    .await;
    let cat = b.create_user("cat@x.com").await;
    let t = admin(&b);
    t.update_user(
        &luid(&b, ResourceKind::User, &cat).await,
        &UserUpdate {
            site_role: Some("Creator".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..100 {
        if b.role("cat@x.com") == "Viewer" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        b.role("cat@x.com"),
        "Viewer",
        "the background reconcile repaired it"
    );
    let metrics = b
        .client
        .request(Method::GET, b.base_url.replace("/scim/v2", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tableau_scim_reconcile_drift{kind=\"user_site_role\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tableau_scim_reconcile_runs_total{outcome="),
        "{metrics}"
    );
    let repairs = b
        .operations(Some(&cat))
        .await
        .into_iter()
        .filter(|o| o.method == "RECONCILE")
        .count();
    assert!(repairs >= 1);
}

#[tokio::test]
async fn unlicensed_for_lack_of_seats_is_told_apart() {
    let b = spawn_bridge().await;
    let (s, cat) = b
        .post(
            "/Users",
            json!({"schemas": [USER, TABLEAU_EXT], "userName": "cat@x.com",
                   TABLEAU_EXT: {"siteRoles": [{"value": "Creator"}]}}),
        )
        .await;
    assert_eq!(s, 201, "{cat}");
    let cat = cat["id"].as_str().unwrap().to_string();
    assert_eq!(b.role("cat@x.com"), "Creator");
    // Seats ran out while cat was Unlicensed (as Tableau leaves a user it cannot license).
    admin(&b)
        .update_user(
            &luid(&b, ResourceKind::User, &cat).await,
            &UserUpdate {
                site_role: Some("Unlicensed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let creators = b
        .snapshot()
        .users
        .iter()
        .filter(|u| u.site_role.as_str().contains("Creator"))
        .count();
    b.sim
        .state()
        .set_seats(tableau_sim::LicenceTier::Creator, Some(creators));
    let report = run(&b, Options::default()).await;
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(
        json["drifts"].as_array().unwrap().len(),
        1,
        "{}",
        report.to_text()
    );
    let d = &json["drifts"][0];
    assert_eq!(d["kind"], "user_site_role");
    assert_eq!(d["expected"], "Creator");
    assert_eq!(d["actual"], "Unlicensed");
    assert_eq!(d["seats_full"], true);
    assert!(
        report.to_text().contains("no licence left"),
        "{}",
        report.to_text()
    );
    // The repair cannot succeed while the tier is full: it fails, exit code 4.
    let full = run(
        &b,
        Options {
            apply: true,
            remove_unmanaged: false,
        },
    )
    .await;
    assert_eq!(full.exit_code(), 4, "{}", full.to_text());
    assert_eq!(full.applied.as_ref().unwrap().failed[0].id, cat);
    assert_eq!(b.role("cat@x.com"), "Unlicensed");
    // A seat freed: the next --apply repairs it.
    b.sim
        .state()
        .set_seats(tableau_sim::LicenceTier::Creator, Some(creators + 1));
    let freed = run(
        &b,
        Options {
            apply: true,
            remove_unmanaged: false,
        },
    )
    .await;
    assert_eq!(freed.exit_code(), 0, "{}", freed.to_text());
    assert_eq!(b.role("cat@x.com"), "Creator");
}

#[tokio::test]
async fn group_rules_decide_the_expected_role() {
    let policy = ProvisionPolicy {
        group_roles: vec![GroupRoleRule {
            group: "creators".into(),
            site_role: SiteRole::Creator,
        }],
        ..Default::default()
    };
    let rules = policy.clone();
    let b = spawn_bridge_with(Default::default(), move |s| s.provision = rules).await;
    let ann = b.create_user("ann@x.com").await;
    b.create_user("bob@x.com").await;
    b.create_group("Creators", std::slice::from_ref(&ann)).await;
    assert_eq!(b.role("ann@x.com"), "Creator");
    let reconciler = reconciler_with(&b, policy);
    let report = reconciler.run(Options::default(), &quiet).await.unwrap();
    assert!(report.in_sync, "{}", report.to_text());
    // Demoted by hand: the rule's role is expected back.
    admin(&b)
        .update_user(
            &luid(&b, ResourceKind::User, &ann).await,
            &UserUpdate {
                site_role: Some("Viewer".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let report = reconciler.run(Options::default(), &quiet).await.unwrap();
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(
        json["drifts"].as_array().unwrap().len(),
        1,
        "{}",
        report.to_text()
    );
    assert_eq!(json["drifts"][0]["expected"], "Creator");
    assert_eq!(json["drifts"][0]["user_name"], "ann@x.com");
}
