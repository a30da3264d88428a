//! The store test suite. Every test is an async function over `Arc<dyn Store>`, instantiated for
//! SQLite (always, a temporary file) and PostgreSQL (when `TABLEAU_SCIM_TEST_POSTGRES` names a
//! database URL). Each test works in a tenant of its own, so tests run in parallel on one shared
//! PostgreSQL database without seeing each other's rows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use serde_json::json;
use std::sync::Arc;
use tableau_scim::model::ResourceKind::{self, Group, User};
use tableau_scim::store::{GroupRef, Lookup, Member, MemberChanges, Resource, Store, StoreError};

mod support;
use support::{POSTGRES_ENV, new_id, obj, postgres_store, tenant};

#[path = "store/paging.rs"]
mod paging;

store_tests!(
    create_get_round_trip,
    user_name_conflict_is_case_insensitive,
    group_display_name_conflict_is_case_insensitive,
    uniqueness_is_per_tenant,
    update_checks_revision,
    concurrent_updates_one_wins,
    member_changes_are_idempotent,
    unknown_member_is_refused,
    delete_cascades_memberships,
    list_order_is_stable,
    indexed_lookups,
    relations_display,
    a_users_groups_are_the_same_by_every_read,
    concurrent_creates_one_wins,
    tenants_are_isolated,
    values_the_store_refuses_are_data_refused,
);

// ---- helpers ----

async fn user(store: &Arc<dyn Store>, t: &str, user_name: &str) -> Resource {
    store
        .create(
            t,
            User,
            &new_id(),
            &obj(json!({ "userName": user_name })),
            &[],
        )
        .await
        .expect("create user")
}

async fn group(store: &Arc<dyn Store>, t: &str, name: &str, members: &[&Resource]) -> Resource {
    let members: Vec<(String, ResourceKind)> =
        members.iter().map(|m| (m.id.clone(), m.kind)).collect();
    store
        .create(
            t,
            Group,
            &new_id(),
            &obj(json!({ "displayName": name })),
            &members,
        )
        .await
        .expect("create group")
}

fn ids(resources: &[Resource]) -> Vec<&str> {
    resources.iter().map(|r| r.id.as_str()).collect()
}

fn member_ids(resource: &Resource) -> Vec<&str> {
    resource.members.iter().map(|m| m.id.as_str()).collect()
}

async fn members_of(store: &Arc<dyn Store>, t: &str, group_id: &str) -> Vec<String> {
    let group = store
        .get(t, Group, group_id, true)
        .await
        .unwrap()
        .expect("group exists");
    group.members.into_iter().map(|m| m.id).collect()
}

fn add(members: &[&Resource]) -> MemberChanges {
    MemberChanges {
        add: members.iter().map(|m| (m.id.clone(), m.kind)).collect(),
        remove: Vec::new(),
    }
}

fn remove(members: &[&Resource]) -> MemberChanges {
    MemberChanges {
        add: Vec::new(),
        remove: members.iter().map(|m| m.id.clone()).collect(),
    }
}

fn assert_timestamp(ts: &str) {
    // RFC 3339, UTC, milliseconds: 2026-11-28T04:22:54.123Z
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{ts}: {e}"));
}

fn assert_conflict(result: Result<Resource, StoreError>, attr: &str, val: &str) {
    match result {
        Err(StoreError::Conflict { attribute, value }) => {
            assert_eq!((attribute, value.as_str()), (attr, val));
        }
        other => panic!("expected a {attr} conflict, got {other:?}"),
    }
}

// ---- the suite ----

async fn create_get_round_trip(store: Arc<dyn Store>) {
    let t = tenant();
    let id = new_id();
    let doc = obj(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Bjensen@Example.com",
        "name": { "givenName": "Barbara", "familyName": "Jensen" },
        "externalId": "ext-1",
        "emails": [{ "value": "bjensen@example.com", "type": "work", "primary": true }],
        "urn:ietf:params:scim:schemas:extension:tableau:3.0:User": {
            "siteRoles": [{ "value": "Viewer" }]
        },
        "active": true,
    }));
    let created = store.create(&t, User, &id, &doc, &[]).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.kind, User);
    assert_eq!(created.doc, doc);
    assert_eq!(created.revision, 1);
    assert_eq!(created.created, created.last_modified);
    assert_timestamp(&created.created);
    assert!(created.members.is_empty() && created.groups.is_empty());
    // Not provisioned to Tableau yet.
    assert_eq!(created.tableau_luid, None);

    for with_relations in [false, true] {
        let got = store
            .get(&t, User, &id, with_relations)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, created);
        // The document comes back exactly, attribute order included.
        assert_eq!(
            serde_json::to_string(&got.doc).unwrap(),
            serde_json::to_string(&doc).unwrap()
        );
    }
    // Kind and id both identify a resource.
    assert!(store.get(&t, Group, &id, false).await.unwrap().is_none());
    assert!(
        store
            .get(&t, User, &new_id(), false)
            .await
            .unwrap()
            .is_none()
    );
}

async fn user_name_conflict_is_case_insensitive(store: Arc<dyn Store>) {
    let t = tenant();
    let first = user(&store, &t, "Alice@Example.com").await;
    let again = store
        .create(
            &t,
            User,
            &new_id(),
            &obj(json!({"userName": "alice@EXAMPLE.com"})),
            &[],
        )
        .await;
    assert_conflict(again, "userName", "alice@EXAMPLE.com");
    // Non-ASCII letters are folded too.
    user(&store, &t, "ÉMILE").await;
    let again = store
        .create(&t, User, &new_id(), &obj(json!({"userName": "émile"})), &[])
        .await;
    assert_conflict(again, "userName", "émile");

    // The original case is kept.
    let got = store
        .get(&t, User, &first.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.doc["userName"], "Alice@Example.com");

    // A rename onto a taken name conflicts as well, and changes nothing.
    let bob = user(&store, &t, "bob").await;
    let renamed = store
        .update(
            &t,
            User,
            &bob.id,
            1,
            &obj(json!({"userName": "ALICE@example.com"})),
            &MemberChanges::default(),
        )
        .await;
    assert_conflict(renamed, "userName", "ALICE@example.com");
    let got = store.get(&t, User, &bob.id, false).await.unwrap().unwrap();
    assert_eq!((got.revision, &got.doc["userName"]), (1, &json!("bob")));

    // Changing only the case of one's own name is fine.
    let renamed = store
        .update(
            &t,
            User,
            &bob.id,
            1,
            &obj(json!({"userName": "Bob"})),
            &MemberChanges::default(),
        )
        .await
        .unwrap();
    assert_eq!(renamed.doc["userName"], "Bob");
}

async fn group_display_name_conflict_is_case_insensitive(store: Arc<dyn Store>) {
    let t = tenant();
    let sales = group(&store, &t, "Sales Team", &[]).await;
    let again = store
        .create(
            &t,
            Group,
            &new_id(),
            &obj(json!({"displayName": "sales team"})),
            &[],
        )
        .await;
    assert_conflict(again, "displayName", "sales team");
    let got = store
        .get(&t, Group, &sales.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.doc["displayName"], "Sales Team");

    // A rename onto a taken name conflicts and rolls back the membership change with it.
    let u = user(&store, &t, "member").await;
    let ops = group(&store, &t, "Ops", &[]).await;
    let renamed = store
        .update(
            &t,
            Group,
            &ops.id,
            1,
            &obj(json!({"displayName": "SALES TEAM"})),
            &add(&[&u]),
        )
        .await;
    assert_conflict(renamed, "displayName", "SALES TEAM");
    let got = store.get(&t, Group, &ops.id, true).await.unwrap().unwrap();
    assert_eq!((got.revision, got.members.len()), (1, 0));

    // User display names are not unique, neither among users nor against groups.
    for _ in 0..2 {
        store
            .create(
                &t,
                User,
                &new_id(),
                &obj(json!({"userName": new_id(), "displayName": "Sales Team"})),
                &[],
            )
            .await
            .expect("user displayName need not be unique");
    }
}

async fn uniqueness_is_per_tenant(store: Arc<dyn Store>) {
    let (a, b) = (tenant(), tenant());
    user(&store, &a, "same@example.com").await;
    user(&store, &b, "SAME@example.com").await;
    group(&store, &a, "Same", &[]).await;
    group(&store, &b, "same", &[]).await;
    // Ids are per tenant too.
    let id = new_id();
    let doc = obj(json!({"userName": "x"}));
    store.create(&a, User, &id, &doc, &[]).await.unwrap();
    store.create(&b, User, &id, &doc, &[]).await.unwrap();
    let dup = store
        .create(&a, User, &id, &obj(json!({"userName": "y"})), &[])
        .await;
    assert_conflict(dup, "id", &id);
}

async fn update_checks_revision(store: Arc<dyn Store>) {
    let t = tenant();
    let created = user(&store, &t, "carol").await;
    let doc = obj(json!({"userName": "carol", "displayName": "Carol", "active": false}));
    let updated = store
        .update(&t, User, &created.id, 1, &doc, &MemberChanges::default())
        .await
        .unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.doc, doc);
    assert_eq!(updated.created, created.created);
    assert_timestamp(&updated.last_modified);
    assert!(updated.last_modified >= updated.created);
    assert_eq!(
        store
            .get(&t, User, &created.id, true)
            .await
            .unwrap()
            .unwrap(),
        updated
    );

    let stale = store
        .update(
            &t,
            User,
            &created.id,
            1,
            &obj(json!({"userName": "x"})),
            &MemberChanges::default(),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::RevisionMismatch)),
        "{stale:?}"
    );
    let unchanged = store
        .get(&t, User, &created.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((unchanged.revision, &unchanged.doc), (2, &doc));

    let missing = store
        .update(&t, User, &new_id(), 1, &doc, &MemberChanges::default())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let wrong_kind = store
        .update(&t, Group, &created.id, 2, &doc, &MemberChanges::default())
        .await;
    assert!(
        matches!(wrong_kind, Err(StoreError::NotFound)),
        "{wrong_kind:?}"
    );
}

async fn concurrent_updates_one_wins(store: Arc<dyn Store>) {
    let t = tenant();
    let created = user(&store, &t, "dave").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, t, id) = (store.clone(), t.clone(), created.id.clone());
            tokio::spawn(async move {
                let doc = obj(json!({"userName": "dave", "nickName": format!("n{i}")}));
                store
                    .update(&t, User, &id, 1, &doc, &MemberChanges::default())
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.revision, 2);
                won += 1;
            }
            Err(StoreError::RevisionMismatch) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
}

async fn member_changes_are_idempotent(store: Arc<dyn Store>) {
    let t = tenant();
    let (u1, u2, u3) = (
        user(&store, &t, "u1").await,
        user(&store, &t, "u2").await,
        user(&store, &t, "u3").await,
    );
    let nested = group(&store, &t, "Nested", &[]).await;
    // Given twice: inserted once.
    let g = group(&store, &t, "G", &[&u1, &u1]).await;
    assert_eq!(member_ids(&g), [u1.id.as_str()]);
    let doc = obj(json!({"displayName": "G"}));

    // Adding an existing member again is not an error; new members keep their given order.
    let g2 = store
        .update(&t, Group, &g.id, 1, &doc, &add(&[&u3, &u1, &u2, &nested]))
        .await
        .unwrap();
    assert_eq!(member_ids(&g2), [&u1.id, &u3.id, &u2.id, &nested.id]);
    assert_eq!(g2.members[3].kind, Group);
    let g3 = store
        .update(&t, Group, &g.id, 2, &doc, &add(&[&u2]))
        .await
        .unwrap();
    assert_eq!(member_ids(&g3), member_ids(&g2));

    // Removing a non-member (existing or not) is not an error either.
    let mut changes = remove(&[&u3]);
    changes.remove.push(new_id());
    let g4 = store
        .update(&t, Group, &g.id, 3, &doc, &changes)
        .await
        .unwrap();
    assert_eq!(member_ids(&g4), [&u1.id, &u2.id, &nested.id]);
    let g5 = store
        .update(&t, Group, &g.id, 4, &doc, &changes)
        .await
        .unwrap();
    assert_eq!(member_ids(&g5), member_ids(&g4));

    // Removes and adds in one change; an empty change only bumps the revision.
    let mut changes = remove(&[&u1, &nested]);
    changes.add.push((u3.id.clone(), User));
    let g6 = store
        .update(&t, Group, &g.id, 5, &doc, &changes)
        .await
        .unwrap();
    assert_eq!(member_ids(&g6), [&u2.id, &u3.id]);
    let g7 = store
        .update(&t, Group, &g.id, 6, &doc, &MemberChanges::default())
        .await
        .unwrap();
    assert_eq!((g7.revision, member_ids(&g7)), (7, member_ids(&g6)));
    assert_eq!(
        members_of(&store, &t, &g.id).await,
        [u2.id.as_str(), u3.id.as_str()]
    );
}

async fn unknown_member_is_refused(store: Arc<dyn Store>) {
    let t = tenant();
    let u = user(&store, &t, "erin").await;
    let missing = new_id();
    let id = new_id();
    let doc = obj(json!({"displayName": "Ghosts"}));
    let members = vec![(u.id.clone(), User), (missing.clone(), User)];
    let created = store.create(&t, Group, &id, &doc, &members).await;
    assert!(
        matches!(&created, Err(StoreError::UnknownMember(m)) if *m == missing),
        "{created:?}"
    );
    // Nothing of the failed create remains.
    assert!(store.get(&t, Group, &id, false).await.unwrap().is_none());
    group(&store, &t, "Ghosts", &[]).await;

    // A resource of another tenant is no member candidate.
    let other = user(&store, &tenant(), "frank").await;
    let g = group(&store, &t, "G", &[&u]).await;
    let updated = store
        .update(
            &t,
            Group,
            &g.id,
            1,
            &obj(json!({"displayName": "G2"})),
            &add(&[&other]),
        )
        .await;
    assert!(
        matches!(&updated, Err(StoreError::UnknownMember(m)) if *m == other.id),
        "{updated:?}"
    );
    // The whole update was rolled back.
    let got = store.get(&t, Group, &g.id, true).await.unwrap().unwrap();
    assert_eq!((got.revision, &got.doc["displayName"]), (1, &json!("G")));
    assert_eq!(member_ids(&got), [u.id.as_str()]);
}

async fn delete_cascades_memberships(store: Arc<dyn Store>) {
    let t = tenant();
    let (u1, u2) = (user(&store, &t, "u1").await, user(&store, &t, "u2").await);
    let inner = group(&store, &t, "Inner", &[&u1]).await;
    let outer = group(&store, &t, "Outer", &[&u1, &u2, &inner]).await;

    // Deleting a user removes it from its groups.
    assert!(
        !store.delete(&t, Group, &u1.id).await.unwrap(),
        "kind must match"
    );
    assert!(store.delete(&t, User, &u1.id).await.unwrap());
    assert!(!store.delete(&t, User, &u1.id).await.unwrap());
    assert!(store.get(&t, User, &u1.id, false).await.unwrap().is_none());
    assert_eq!(
        members_of(&store, &t, &outer.id).await,
        [u2.id.as_str(), inner.id.as_str()]
    );
    assert!(members_of(&store, &t, &inner.id).await.is_empty());

    // Deleting a group removes it from its members' groups and from its parent groups.
    let before = store.get(&t, User, &u2.id, true).await.unwrap().unwrap();
    assert_eq!(before.groups.len(), 1);
    assert!(store.delete(&t, Group, &outer.id).await.unwrap());
    let after = store.get(&t, User, &u2.id, true).await.unwrap().unwrap();
    assert!(after.groups.is_empty());
    let parent = group(&store, &t, "Parent", &[&inner]).await;
    assert!(store.delete(&t, Group, &inner.id).await.unwrap());
    assert!(members_of(&store, &t, &parent.id).await.is_empty());

    // The names are free again.
    user(&store, &t, "U1").await;
    group(&store, &t, "outer", &[]).await;
}

async fn list_order_is_stable(store: Arc<dyn Store>) {
    let t = tenant();
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(user(&store, &t, &format!("user{i}")).await);
    }
    group(&store, &t, "Not a user", &[]).await;
    let expected: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let listed = store.list(&t, User, None, false).await.unwrap();
    assert_eq!(ids(&listed), expected);

    // Updates do not move a resource; deletes leave the others in order.
    store
        .update(
            &t,
            User,
            &users[1].id,
            1,
            &obj(json!({"userName": "renamed"})),
            &MemberChanges::default(),
        )
        .await
        .unwrap();
    store.delete(&t, User, &users[3].id).await.unwrap();
    let later = user(&store, &t, "later").await;
    let listed = store.list(&t, User, None, false).await.unwrap();
    let mut expected: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|id| *id != users[3].id)
        .collect();
    expected.push(&later.id);
    assert_eq!(ids(&listed), expected);
    assert_eq!(store.list(&t, Group, None, false).await.unwrap().len(), 1);
}

async fn indexed_lookups(store: Arc<dyn Store>) {
    let t = tenant();
    let doc = obj(json!({
        "userName": "Grace@Example.com",
        "externalId": "Ext-42",
        "displayName": "Grace Hopper",
        "emails": [{"value": "Grace@Work.example"}, {"value": "grace@home.example"}],
    }));
    let grace = store.create(&t, User, &new_id(), &doc, &[]).await.unwrap();
    let other = store
        .create(
            &t,
            User,
            &new_id(),
            &obj(json!({"userName": "heidi", "displayName": "GRACE HOPPER", "emails": [{"value": "heidi@work.example"}]})),
            &[],
        )
        .await
        .unwrap();
    let g = group(&store, &t, "Grace Hopper", &[]).await;

    let find = |kind, lookup: Lookup| {
        let store = store.clone();
        let t = t.clone();
        async move {
            ids(&store.list(&t, kind, Some(&lookup), false).await.unwrap())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    use Lookup::*;
    assert_eq!(
        find(User, UserName("grace@EXAMPLE.com".into())).await,
        [grace.id.as_str()]
    );
    assert!(find(User, UserName("grace".into())).await.is_empty());
    assert_eq!(
        find(User, ExternalId("Ext-42".into())).await,
        [grace.id.as_str()]
    );
    assert!(
        find(User, ExternalId("ext-42".into())).await.is_empty(),
        "externalId is caseExact"
    );
    assert_eq!(
        find(User, DisplayName("grace hopper".into())).await,
        [grace.id.as_str(), other.id.as_str()]
    );
    assert_eq!(
        find(Group, DisplayName("GRACE hopper".into())).await,
        [g.id.as_str()]
    );
    assert_eq!(
        find(User, EmailValue("grace@work.EXAMPLE".into())).await,
        [grace.id.as_str()]
    );
    assert_eq!(
        find(User, EmailValue("GRACE@HOME.EXAMPLE".into())).await,
        [grace.id.as_str()]
    );
    assert_eq!(find(User, Id(grace.id.clone())).await, [grace.id.as_str()]);
    assert!(find(Group, Id(grace.id.clone())).await.is_empty());
    assert!(find(User, Id(grace.id.to_uppercase())).await.is_empty());

    // The indexed columns follow the document on update.
    let doc = obj(json!({
        "userName": "grace.hopper@example.com",
        "displayName": "Admiral Hopper",
        "emails": [{"value": "Admiral@Navy.example"}],
    }));
    store
        .update(&t, User, &grace.id, 1, &doc, &MemberChanges::default())
        .await
        .unwrap();
    assert!(
        find(User, UserName("grace@example.com".into()))
            .await
            .is_empty()
    );
    assert_eq!(
        find(User, UserName("GRACE.hopper@example.com".into())).await,
        [grace.id.as_str()]
    );
    assert!(find(User, ExternalId("Ext-42".into())).await.is_empty());
    assert_eq!(
        find(User, DisplayName("grace hopper".into())).await,
        [other.id.as_str()]
    );
    assert!(
        find(User, EmailValue("grace@work.example".into()))
            .await
            .is_empty()
    );
    assert!(
        find(User, EmailValue("grace@home.example".into()))
            .await
            .is_empty()
    );
    assert_eq!(
        find(User, EmailValue("admiral@navy.example".into())).await,
        [grace.id.as_str()]
    );
    // The old name is free now.
    user(&store, &t, "Grace@Example.com").await;
}

async fn relations_display(store: Arc<dyn Store>) {
    let t = tenant();
    let named = store
        .create(
            &t,
            User,
            &new_id(),
            &obj(json!({"userName": "ivan", "displayName": "Ivan I."})),
            &[],
        )
        .await
        .unwrap();
    let bare = user(&store, &t, "judy").await;
    let sub = group(&store, &t, "Sub", &[&bare]).await;
    let g1 = group(&store, &t, "One", &[&named, &bare, &sub]).await;
    let g2 = group(&store, &t, "Two", &[&bare]).await;
    let empty = group(&store, &t, "Empty", &[]).await;

    let expected_g1 = vec![
        Member {
            id: named.id.clone(),
            kind: User,
        },
        Member {
            id: bare.id.clone(),
            kind: User,
        },
        Member {
            id: sub.id.clone(),
            kind: Group,
        },
    ];
    assert_eq!(g1.members, expected_g1, "create returns the members");
    assert_eq!(
        store
            .get(&t, Group, &g1.id, true)
            .await
            .unwrap()
            .unwrap()
            .members,
        expected_g1
    );
    assert!(
        store
            .get(&t, Group, &g1.id, false)
            .await
            .unwrap()
            .unwrap()
            .members
            .is_empty()
    );

    // A renamed member stays a member.
    store
        .update(
            &t,
            User,
            &named.id,
            1,
            &obj(json!({"userName": "ivan", "displayName": "Ivan II"})),
            &MemberChanges::default(),
        )
        .await
        .unwrap();

    // Lists load relations for every listed resource.
    let groups = store.list(&t, Group, None, true).await.unwrap();
    assert_eq!(ids(&groups), [&sub.id, &g1.id, &g2.id, &empty.id]);
    assert_eq!(member_ids(&groups[0]), [&bare.id]);
    assert_eq!(member_ids(&groups[1]), [&named.id, &bare.id, &sub.id]);
    assert_eq!(member_ids(&groups[2]), [&bare.id]);
    assert!(groups[3].members.is_empty());
    assert!(groups.iter().all(|g| g.groups.is_empty()));

    let users = store.list(&t, User, None, true).await.unwrap();
    assert_eq!(ids(&users), [&named.id, &bare.id]);
    assert_eq!(
        users[0].groups,
        [GroupRef {
            id: g1.id.clone(),
            display: "One".into()
        }]
    );
    let mut bare_groups = users[1].groups.clone();
    bare_groups.sort_by(|a, b| a.display.cmp(&b.display));
    assert_eq!(
        bare_groups,
        [
            GroupRef {
                id: g1.id.clone(),
                display: "One".into()
            },
            GroupRef {
                id: sub.id.clone(),
                display: "Sub".into()
            },
            GroupRef {
                id: g2.id.clone(),
                display: "Two".into()
            },
        ]
    );
    assert!(users.iter().all(|u| u.members.is_empty()));
    let looked_up = store
        .list(&t, User, Some(&Lookup::UserName("IVAN".into())), true)
        .await
        .unwrap();
    assert_eq!(looked_up[0].groups, users[0].groups);
    let without = store.list(&t, User, None, false).await.unwrap();
    assert!(without.iter().all(|u| u.groups.is_empty()));
}

/// Whichever read finds a user (by id, by a unique lookup, by another lookup, in a list or a
/// page), its groups are the same, in the order it joined them.
async fn a_users_groups_are_the_same_by_every_read(store: Arc<dyn Store>) {
    let t = tenant();
    let member = store
        .create(
            &t,
            User,
            &new_id(),
            &obj(json!({"userName": "Kim", "externalId": "ext-kim"})),
            &[],
        )
        .await
        .unwrap();
    let other = user(&store, &t, "lee").await;
    // Created in one order, joined in another.
    let a = group(&store, &t, "Alpha", &[&other]).await;
    let b = group(&store, &t, "Beta", &[]).await;
    let c = group(&store, &t, "Gamma", &[]).await;
    for g in [&c, &a, &b] {
        store
            .update(&t, Group, &g.id, g.revision, &g.doc, &add(&[&member]))
            .await
            .unwrap();
    }
    let joined: Vec<GroupRef> = [(&c, "Gamma"), (&a, "Alpha"), (&b, "Beta")]
        .into_iter()
        .map(|(g, name)| GroupRef {
            id: g.id.clone(),
            display: name.into(),
        })
        .collect();
    let got = store
        .get(&t, User, &member.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.groups, joined, "get");
    for lookup in [
        Lookup::Id(member.id.clone()),
        Lookup::UserName("kIM".into()),
        Lookup::ExternalId("ext-kim".into()),
    ] {
        let found = store.list(&t, User, Some(&lookup), true).await.unwrap();
        assert_eq!(ids(&found), [&member.id], "{lookup:?}");
        assert_eq!(found[0].groups, joined, "{lookup:?}");
        let bare = store.list(&t, User, Some(&lookup), false).await.unwrap();
        assert!(bare[0].groups.is_empty(), "{lookup:?} without relations");
        // The same read with each document as its stored text.
        let texts = store.lookup_texts(&t, User, &lookup, true).await.unwrap();
        assert_eq!(ids(&texts.resources), [&member.id], "{lookup:?}");
        assert_eq!(texts.resources[0].groups, joined, "{lookup:?}");
        assert!(texts.resources[0].doc.is_empty(), "{lookup:?}");
        let doc: serde_json::Value = serde_json::from_str(&texts.texts[0]).unwrap();
        assert_eq!(
            doc,
            serde_json::Value::Object(found[0].doc.clone()),
            "{lookup:?}"
        );
        assert_eq!((texts.total, texts.cursor), (None, None));
    }
    let all = store.list(&t, User, None, true).await.unwrap();
    assert_eq!(all[0].groups, joined, "list");
    assert!(all[1].groups.iter().all(|g| g.id == a.id), "the other user");
    // A user in no group.
    let alone = user(&store, &t, "solo").await;
    let found = store
        .list(&t, User, Some(&Lookup::UserName("solo".into())), true)
        .await
        .unwrap();
    assert_eq!(ids(&found), [&alone.id]);
    assert!(found[0].groups.is_empty());
}

async fn concurrent_creates_one_wins(store: Arc<dyn Store>) {
    let t = tenant();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, t) = (store.clone(), t.clone());
            // The same name, in different cases.
            let name = if i % 2 == 0 {
                "Race@Example.com"
            } else {
                "race@example.COM"
            };
            tokio::spawn(async move {
                store
                    .create(&t, User, &new_id(), &obj(json!({"userName": name})), &[])
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::Conflict {
                attribute: "userName",
                ..
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.list(&t, User, None, false).await.unwrap().len(), 1);
}

async fn tenants_are_isolated(store: Arc<dyn Store>) {
    let (a, b) = (tenant(), tenant());
    let u = user(&store, &a, "kim").await;
    let g = group(&store, &a, "Team", &[&u]).await;

    assert!(store.get(&b, User, &u.id, false).await.unwrap().is_none());
    assert!(store.list(&b, User, None, false).await.unwrap().is_empty());
    assert!(store.list(&b, Group, None, true).await.unwrap().is_empty());
    assert!(
        store
            .list(&b, User, Some(&Lookup::UserName("kim".into())), false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .update(
                &b,
                User,
                &u.id,
                1,
                &obj(json!({"userName": "kim"})),
                &MemberChanges::default()
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.delete(&b, Group, &g.id).await.unwrap());
    // A group in b cannot take a's user as member.
    let refused = store
        .create(
            &b,
            Group,
            &new_id(),
            &obj(json!({"displayName": "Team"})),
            &[(u.id.clone(), User)],
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::UnknownMember(_))),
        "{refused:?}"
    );

    assert_eq!(members_of(&store, &a, &g.id).await, [u.id.as_str()]);
    assert_eq!(
        ids(&store.list(&a, User, None, false).await.unwrap()),
        [&u.id]
    );
}

/// `sqlite::memory:` works too (one database shared by the writer and the readers, gone with
/// the store), for tools and quick tests.
#[tokio::test]
async fn sqlite_in_memory() {
    let store = tableau_scim::store::connect("sqlite::memory:")
        .await
        .unwrap();
    let t = tenant();
    let u = user(&store, &t, "mem").await;
    let g = group(&store, &t, "Mem", &[&u]).await;
    assert_eq!(members_of(&store, &t, &g.id).await, [u.id.as_str()]);
    // Each `sqlite::memory:` store is a database of its own.
    let other = tableau_scim::store::connect("sqlite::memory:")
        .await
        .unwrap();
    assert!(other.get(&t, User, &u.id, false).await.unwrap().is_none());
}

/// In memory, readers wait for the writer's batches (no WAL there) rather than fail, and see
/// every write that has answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_in_memory_reads_while_writing() {
    let store = tableau_scim::store::connect("sqlite::memory:")
        .await
        .unwrap();
    let t = tenant();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                for i in 0..25 {
                    let name = format!("user-{task}-{i}");
                    let created = user(&store, &t, &name).await;
                    let lookup = Lookup::UserName(name.to_uppercase());
                    let found = store.list(&t, User, Some(&lookup), true).await.unwrap();
                    assert_eq!(ids(&found), [created.id.as_str()]);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.list(&t, User, None, false).await.unwrap().len(), 200);
}

/// Store URLs name their backend by scheme; anything else is refused, naming the accepted
/// forms, and creates no file.
#[tokio::test]
async fn unsupported_store_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("store.db");
    for url in [
        "mysql://user:secret@host/db".to_owned(),
        bare.display().to_string(),
        format!("sqlite://{}?mode=rwc", bare.display()),
    ] {
        match tableau_scim::store::connect(&url).await {
            Err(e @ StoreError::Invalid(_)) => {
                let message = e.to_string();
                assert!(message.contains("sqlite://PATH"), "{message}");
                assert!(!message.contains("secret"), "{message}");
            }
            Err(other) => panic!("{url}: expected Invalid, got {other:?}"),
            Ok(_) => panic!("{url}: expected Invalid, got a store"),
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A database created by an earlier version (migrated by sqlx, which recorded the files of
/// `migrations/sqlite` in `_sqlx_migrations`) opens, keeps its data and works on.
#[tokio::test]
async fn sqlite_database_of_an_earlier_version() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        // sqlx's table and rows, as sqlx 0.9 writes them on SQLite.
        db.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
        )
        .unwrap();
        let migrations = [
            (
                1,
                "resources",
                include_str!("../migrations/sqlite/0001_resources.sql"),
            ),
            (
                2,
                "journal",
                include_str!("../migrations/sqlite/0002_journal.sql"),
            ),
        ];
        for (version, description, sql) in migrations {
            db.execute_batch(sql).unwrap();
            db.execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES (?1, ?2, TRUE, ?3, 1000)",
                (version, description, sha2::Sha384::digest(sql).to_vec()),
            )
            .unwrap();
        }
        db.execute_batch(
            "INSERT INTO resources (tenant, id, kind, doc, user_name, user_name_lower, created, \
             last_modified, revision) VALUES ('old', 'u-1', 'User', '{\"userName\":\"Old\"}', \
             'Old', 'old', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 3)",
        )
        .unwrap();
    }
    let url = format!("sqlite://{}", path.display());
    for _ in 0..2 {
        let store = tableau_scim::store::connect(&url).await.unwrap();
        let old = store.get("old", User, "u-1", true).await.unwrap().unwrap();
        assert_eq!((old.str_attr("userName"), old.revision), (Some("Old"), 3));
        let lookup = Lookup::UserName("OLD".into());
        let found = store.list("old", User, Some(&lookup), false).await.unwrap();
        assert_eq!(ids(&found), ["u-1"]);
        user(&store, "old", &format!("new-{}", new_id())).await;
    }
    let store = tableau_scim::store::connect(&url).await.unwrap();
    assert_eq!(store.list("old", User, None, false).await.unwrap().len(), 3);
}

/// A document that is not a JSON object is reported as `Corrupt`, never a panic. Written behind
/// the store's back, hence one test per backend rather than a suite function.
async fn corrupt_document_is_reported(store: Arc<dyn Store>, corrupt: impl AsyncFnOnce(&str)) {
    let t = tenant();
    let u = user(&store, &t, "mallory").await;
    corrupt(&t).await;
    let got = store.get(&t, User, &u.id, false).await;
    assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
    let listed = store.list(&t, User, None, false).await;
    assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");
    // Deleting is still possible.
    assert!(store.delete(&t, User, &u.id).await.unwrap());
}

const CORRUPT: &str = "UPDATE resources SET doc = '[\"not an object\"' WHERE tenant = $1";

#[tokio::test]
async fn sqlite_corrupt_document() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = tableau_scim::store::connect(&url).await.unwrap();
    let path = dir.path().join("store.db");
    corrupt_document_is_reported(store, async |t: &str| {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute(CORRUPT, [t]).unwrap();
    })
    .await;
}

#[tokio::test]
async fn postgres_corrupt_document() {
    let Some(store) = postgres_store().await else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL URL");
        return;
    };
    let url = std::env::var(POSTGRES_ENV).unwrap();
    corrupt_document_is_reported(store, async |t: &str| {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(CORRUPT).bind(t).execute(&pool).await.unwrap();
        pool.close().await;
    })
    .await;
}

/// Values a backend cannot store (PostgreSQL: a NUL in text, an index row over ~8 KB) are
/// `DataRefused` — the request's fault, never "unavailable" — on writes and on lookups alike;
/// a backend that can store them (SQLite) stores them faithfully.
async fn values_the_store_refuses_are_data_refused(store: Arc<dyn Store>) {
    let t = &tenant();
    let long = format!("{}@example.com", "x".repeat(900 * 1024));
    for name in ["nul\u{0}@example.com".to_string(), long] {
        let doc = obj(json!({ "userName": name }));
        match store.create(t, User, &new_id(), &doc, &[]).await {
            Ok(created) => {
                let found = store
                    .list(t, User, Some(&Lookup::UserName(name.clone())), false)
                    .await
                    .expect("lookup");
                assert_eq!(ids(&found), vec![created.id.as_str()]);
            }
            Err(StoreError::DataRefused(why)) => {
                assert!(
                    !why.contains("xxxxxxxx"),
                    "the value is not repeated: {why}"
                );
                match store
                    .list(t, User, Some(&Lookup::UserName(name.clone())), false)
                    .await
                {
                    Ok(found) => assert!(found.is_empty()),
                    Err(e) => assert!(matches!(e, StoreError::DataRefused(_)), "{e:?}"),
                }
            }
            Err(e) => panic!("expected success or DataRefused, got {e:?}"),
        }
    }
}

/// On PostgreSQL both values are refused, with the database's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_nul_and_oversized_user_names_as_data() {
    let Some(store) = postgres_store().await else {
        eprintln!("skipped: set {POSTGRES_ENV} to a PostgreSQL URL");
        return;
    };
    let t = &tenant();
    let nul = obj(json!({ "userName": "nul\u{0}@example.com" }));
    let refused = store.create(t, User, &new_id(), &nul, &[]).await;
    assert!(
        matches!(&refused, Err(StoreError::DataRefused(why)) if why.contains("22021")),
        "{refused:?}"
    );
    let long = obj(json!({ "userName": format!("{}@example.com", "x".repeat(900 * 1024)) }));
    let refused = store.create(t, User, &new_id(), &long, &[]).await;
    assert!(
        matches!(&refused, Err(StoreError::DataRefused(why)) if why.contains("54000")),
        "{refused:?}"
    );
}
