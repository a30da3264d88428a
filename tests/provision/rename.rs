//! Renames by recreate (`provision.on_user_name_change = "recreate"`): Entra's rename PATCH
//! end to end, checked in the simulator — one live user under the new name, with the old
//! one's groups (also a group tableau-scim does not manage) and content, the same SCIM id and
//! a new LUID; a name already taken refused with nothing changed; a refusal mid-way undone.

use crate::harness::*;
use serde_json::{Value, json};
use tableau_scim::config::Settings;
use tableau_scim::provision::rules::UserNameChange;
use tableau_scim::store::DEFAULT_TENANT;
use tableau_scim::tableau::{TableauAuth, TableauClient, TableauSettings};
use tableau_sim::{ContentKind, SimConfig};

const OLD: &str = "alice@example.com";
const NEW: &str = "alice.smith@example.com";

fn recreate(settings: &mut Settings) {
    settings.provision.on_user_name_change = UserNameChange::Recreate;
}

/// What Entra sends when a user's UPN and mail change (with the surname, as on a marriage).
fn entra_rename(new_name: &str) -> Value {
    patch_ops(json!([
        {"op": "Replace", "path": "userName", "value": new_name},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": new_name},
        {"op": "Replace", "path": "name.familyName", "value": "Smith"},
        {"op": "Replace", "path": "active", "value": "True"}
    ]))
}

async fn create_alice(b: &Bridge) -> String {
    let (s, u) = b
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": OLD, "active": true,
                   "name": {"givenName": "Alice", "familyName": "Doe"},
                   "emails": [{"type": "work", "primary": true, "value": OLD}],
                   "roles": [{"value": "Creator"}]}),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

fn luid_of(body: &Value) -> String {
    body[TABLEAU_EXT]["luid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Items of the simulator's content owned by the user `luid`, as (kind, name), sorted.
fn owned_by(b: &Bridge, luid: &str) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = b
        .snapshot()
        .content
        .into_iter()
        .filter(|c| c.owner_id == luid)
        .map(|c| (format!("{:?}", c.kind), c.name))
        .collect();
    items.sort();
    items
}

/// One of each kind of content the REST API can reassign, owned by `owner`.
fn give_content(b: &Bridge, owner: &str) {
    let state = b.sim.state();
    let project = state
        .add_content(ContentKind::Project, "Alice's project", owner, None)
        .unwrap();
    for (kind, name) in [
        (ContentKind::Workbook, "Sales"),
        (ContentKind::Datasource, "Orders"),
        (ContentKind::Flow, "Clean-up"),
    ] {
        state
            .add_content(kind, name, owner, Some(&project))
            .unwrap();
    }
}

const ALL_CONTENT: [(&str, &str); 4] = [
    ("Datasource", "Orders"),
    ("Flow", "Clean-up"),
    ("Project", "Alice's project"),
    ("Workbook", "Sales"),
];

/// A Tableau client of an admin acting in Tableau directly, not through SCIM (signed in with
/// the simulator's own PAT: the bridge holds the `bridge` one).
fn tableau_admin(b: &Bridge) -> TableauClient {
    let settings = TableauSettings::new(
        b.sim.url(),
        b.sim.site_content_url(),
        TableauAuth::Pat {
            name: "sim-pat".into(),
            secret: "sim-pat-secret".into(),
        },
    );
    TableauClient::new(settings).unwrap()
}

/// A group made in Tableau, not through SCIM, with `member` in it.
async fn tableau_only_group(b: &Bridge, name: &str, member: &str) {
    let client = tableau_admin(b);
    let group = client.create_group(name).await.unwrap();
    client
        .add_group_members(&group.luid, &[member.to_string()])
        .await
        .unwrap();
}

async fn rename_moves_everything(
    with_content: bool,
    map_assets_to_forbidden: bool,
    store: Option<String>,
) {
    let sim = spawn_sim(SimConfig {
        map_assets_to_forbidden,
        ..SimConfig::default()
    })
    .await;
    let b = spawn_bridge_on(sim, |s| {
        recreate(s);
        s.store = store;
    })
    .await;
    let id = create_alice(&b).await;
    let (_, before) = b.get(&format!("/Users/{id}")).await;
    let old_luid = luid_of(&before);
    b.create_group("Sales", std::slice::from_ref(&id)).await;
    tableau_only_group(&b, "Made in Tableau", &old_luid).await;
    if with_content {
        give_content(&b, &old_luid);
    }

    b.count_tableau_calls();
    let started = std::time::Instant::now();
    let (s, after) = b.patch(&format!("/Users/{id}"), entra_rename(NEW)).await;
    assert_eq!(s, 200, "{after}");
    eprintln!(
        "rename (content {with_content}, mapAssetsTo refused {map_assets_to_forbidden}): {} \
         Tableau calls, {} ms",
        b.tableau_calls(),
        started.elapsed().as_millis()
    );
    assert_eq!(after["id"], id.as_str());
    assert_eq!(after["userName"], NEW);
    let new_luid = luid_of(&after);
    assert!(!new_luid.is_empty() && new_luid != old_luid, "{after}");

    // One live user, under the new name, as the old one was.
    assert_eq!(b.tableau_user_names(), vec![NEW.to_string()]);
    let user = b.tableau_user(NEW).unwrap();
    assert_eq!(user.id, new_luid);
    assert_eq!(user.site_role.as_str(), "Creator");
    assert_eq!(user.email.as_deref(), Some(NEW));
    assert_eq!(user.full_name.as_deref(), Some("Alice Smith"));
    for group in ["Sales", "Made in Tableau"] {
        assert_eq!(
            b.tableau_group_members(group).unwrap(),
            vec![NEW.to_string()],
            "{group}"
        );
    }
    let expected: Vec<(String, String)> = if with_content {
        ALL_CONTENT
            .iter()
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(owned_by(&b, &new_luid), expected);
    assert!(owned_by(&b, &old_luid).is_empty());

    // The store links the SCIM user to the new Tableau user; the journal names the steps.
    let stored = b
        .store
        .get(
            DEFAULT_TENANT,
            tableau_scim::model::ResourceKind::User,
            &id,
            false,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tableau_luid.as_deref(), Some(new_luid.as_str()));
    let ops = b.operations(Some(&id)).await;
    let kinds: Vec<&str> = ops[0].steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CheckUserNameFree",
            "AddRenamedUser",
            "UpdateUser",
            "CopyGroups",
            "RetireOldUser"
        ]
    );
    let retire = ops[0]
        .steps
        .last()
        .unwrap()
        .error
        .clone()
        .unwrap_or_default();
    if map_assets_to_forbidden {
        assert!(retire.contains("one by one"), "{retire}");
        let moved = if with_content {
            "4 item(s)"
        } else {
            "0 item(s)"
        };
        assert!(retire.contains(moved), "{retire}");
    } else {
        assert!(retire.contains("mapAssetsTo"), "{retire}");
    }
    // The group's SCIM view did not change: the member is the same SCIM user.
    let (_, groups) = b.get("/Groups").await;
    assert_eq!(groups["Resources"][0]["members"][0]["value"], id.as_str());
}

#[tokio::test]
async fn entra_rename_with_content_moves_it_with_map_assets_to() {
    on_both_backends(|store| rename_moves_everything(true, false, store)).await;
}

#[tokio::test]
async fn entra_rename_without_content() {
    rename_moves_everything(false, false, None).await;
}

#[tokio::test]
async fn entra_rename_moves_content_item_by_item_where_map_assets_to_is_refused() {
    rename_moves_everything(true, true, None).await;
}

/// The new name is held by a Tableau user tableau-scim does not manage, or by another SCIM
/// user: `409 uniqueness`, nothing changed in Tableau or the store.
#[tokio::test]
async fn a_rename_onto_a_taken_name_is_refused_and_changes_nothing() {
    on_both_backends(|store| async move {
        let b = spawn_bridge_with(SimConfig::default(), |s| {
            recreate(s);
            s.store = store;
        })
        .await;
        let id = create_alice(&b).await;
        let (_, before) = b.get(&format!("/Users/{id}")).await;
        let old_luid = luid_of(&before);
        give_content(&b, &old_luid);
        b.create_group("Sales", std::slice::from_ref(&id)).await;
        // Another SCIM user, and a Tableau user no SCIM user links to (asked in another case).
        let (s, bob) = b
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": "bob@example.com"}),
            )
            .await;
        assert_eq!(s, 201, "{bob}");
        tableau_admin(&b)
            .add_user("carol@example.com", "Viewer", None, None)
            .await
            .unwrap();
        let before_snapshot = (b.tableau_user_names(), b.snapshot().content.clone());

        for (name, says) in [
            ("Carol@Example.com", "already taken in Tableau"),
            ("BOB@example.com", "already in use"),
        ] {
            let (s, err) = b.patch(&format!("/Users/{id}"), entra_rename(name)).await;
            assert_eq!(s, 409, "{err}");
            assert_eq!(err["scimType"], "uniqueness", "{err}");
            assert!(err["detail"].as_str().unwrap().contains(says), "{err}");
        }
        assert_eq!(
            (b.tableau_user_names(), b.snapshot().content.clone()),
            before_snapshot
        );
        let (_, now) = b.get(&format!("/Users/{id}")).await;
        assert_eq!(now["userName"], OLD);
        assert_eq!(luid_of(&now), old_luid);
        assert_eq!(
            b.tableau_group_members("Sales").unwrap(),
            vec![OLD.to_string()]
        );
    })
    .await;
}

/// Without `recreate` the rename is refused, and the error says which setting would do it.
#[tokio::test]
async fn refuse_names_the_recreate_policy() {
    let b = spawn_bridge().await;
    let id = create_alice(&b).await;
    let (s, err) = b.patch(&format!("/Users/{id}"), entra_rename(NEW)).await;
    assert_eq!(s, 400, "{err}");
    assert_eq!(err["scimType"], "mutability");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("provision.on_user_name_change = \"recreate\""),
        "{err}"
    );
    assert_eq!(b.tableau_user_names(), vec![OLD.to_string()]);
}

/// Tableau refuses the new user's e-mail (a permanent 400000) after it was added: the rename
/// is undone — the new user removed, the old one untouched with its groups and content — and
/// the IdP gets the refusal.
#[tokio::test]
async fn a_refusal_mid_rename_removes_the_new_user_and_keeps_the_old() {
    let b = spawn_bridge_with(SimConfig::default(), recreate).await;
    let id = create_alice(&b).await;
    let (_, before) = b.get(&format!("/Users/{id}")).await;
    let old_luid = luid_of(&before);
    give_content(&b, &old_luid);
    b.create_group("Sales", std::slice::from_ref(&id)).await;
    b.sim.state().add_fault(
        tableau_sim::FaultRule::parse("PUT:/api/*/sites/*/users/*=error:400000:1").unwrap(),
    );
    let (s, err) = b.patch(&format!("/Users/{id}"), entra_rename(NEW)).await;
    assert_eq!(s, 400, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("were undone"),
        "{err}"
    );
    assert_eq!(b.tableau_user_names(), vec![OLD.to_string()]);
    assert_eq!(owned_by(&b, &old_luid).len(), 4);
    assert_eq!(
        b.tableau_group_members("Sales").unwrap(),
        vec![OLD.to_string()]
    );
    let (_, now) = b.get(&format!("/Users/{id}")).await;
    assert_eq!(
        (now["userName"].as_str(), luid_of(&now)),
        (Some(OLD), old_luid)
    );
    let ops = b.operations(Some(&id)).await;
    assert!(
        ops[0]
            .steps
            .iter()
            .any(|s| s.kind == "undo:RemoveRenamedUser"),
        "{:?}",
        ops[0].steps
    );
}

/// Okta sends a rename as a PUT of the whole user: the same rename, the same end state.
#[tokio::test]
async fn okta_put_rename_recreates_too() {
    let b = spawn_bridge_with(SimConfig::default(), recreate).await;
    let id = create_alice(&b).await;
    let (_, before) = b.get(&format!("/Users/{id}")).await;
    let old_luid = luid_of(&before);
    give_content(&b, &old_luid);
    let (s, after) = b
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "id": id, "userName": NEW, "active": true,
                   "name": {"givenName": "Alice", "familyName": "Smith"},
                   "emails": [{"type": "work", "primary": true, "value": NEW}],
                   "roles": [{"value": "Creator"}]}),
        )
        .await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(
        (after["id"].as_str(), after["userName"].as_str()),
        (Some(id.as_str()), Some(NEW))
    );
    assert_eq!(b.tableau_user_names(), vec![NEW.to_string()]);
    assert_eq!(owned_by(&b, &luid_of(&after)).len(), 4);
    // Sent again (Okta retries), it changes nothing and makes no Tableau call.
    b.count_tableau_calls();
    let (s, again) = b
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "id": id, "userName": NEW, "active": true,
                   "name": {"givenName": "Alice", "familyName": "Smith"},
                   "emails": [{"type": "work", "primary": true, "value": NEW}],
                   "roles": [{"value": "Creator"}]}),
        )
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(b.tableau_calls(), 0);
    assert_eq!(luid_of(&again), luid_of(&after));
}
