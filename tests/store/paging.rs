//! `Store::page` and `Store::get_many` on SQLite and PostgreSQL: windows by offset and by
//! cursor in creation order, totals, empty pages, count-only pages, relations of the page only.

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tableau_scim::model::ResourceKind::{Group, User};
use tableau_scim::store::{Page, PageRequest, PageStart, Resource, Store};

use crate::support::{new_id, obj, tenant};

crate::store_tests!(
    pages_by_offset,
    pages_by_offset_follow_writes,
    pages_with_the_stored_text_of_their_documents,
    pages_by_cursor,
    count_only_and_past_the_end,
    relations_for_the_page_only,
    get_many_keeps_the_order_given,
);

async fn users(store: &Arc<dyn Store>, t: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = new_id();
        let doc = obj(json!({"userName": format!("user{i:03}@example.com")}));
        store.create(t, User, &id, &doc, &[]).await.unwrap();
        ids.push(id);
    }
    ids
}

fn ids(page: &Page) -> Vec<&str> {
    page.resources.iter().map(|r| r.id.as_str()).collect()
}

fn by_offset(offset: u64, limit: u64) -> PageRequest {
    PageRequest {
        start: PageStart::Offset(offset),
        limit,
        count_total: true,
        with_relations: false,
        doc_text: false,
    }
}

async fn pages_by_offset(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 7).await;
    // A group is of another kind: neither counted nor listed with the users.
    store
        .create(&t, Group, &new_id(), &obj(json!({"displayName": "g"})), &[])
        .await
        .unwrap();
    let mut seen = Vec::new();
    for offset in (0..7).step_by(3) {
        let page = store.page(&t, User, &by_offset(offset, 3)).await.unwrap();
        assert_eq!(page.total, Some(7));
        assert!(page.resources.len() <= 3);
        seen.extend(ids(&page).into_iter().map(str::to_owned));
    }
    assert_eq!(
        seen, all,
        "the pages cover every user once, in creation order"
    );
    let page = store.page(&t, User, &by_offset(5, 100)).await.unwrap();
    assert_eq!(ids(&page), [all[5].as_str(), all[6].as_str()]);
    // A deleted user leaves the others in place and the total one less.
    store.delete(&t, User, &all[0]).await.unwrap();
    let page = store.page(&t, User, &by_offset(0, 2)).await.unwrap();
    assert_eq!(
        (page.total, ids(&page)),
        (Some(6), vec![all[1].as_str(), all[2].as_str()])
    );
    let groups = store.page(&t, Group, &by_offset(0, 10)).await.unwrap();
    assert_eq!(
        (groups.total, groups.resources.len()),
        (Some(1), 1),
        "{groups:?}"
    );
}

/// The same pages, read again and again (SQLite remembers where they start), then after
/// writes that move every later position: never a page of an earlier state.
async fn pages_by_offset_follow_writes(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 10).await;
    assert_pages_follow_writes(&store, &store, Duration::ZERO, &t, &all).await;
}

/// Pages of `t` read through `reader`, written through `writer` in between (the same store,
/// or another process's on the same database), reading `delay` after each write.
async fn assert_pages_follow_writes(
    reader: &Arc<dyn Store>,
    writer: &Arc<dyn Store>,
    delay: Duration,
    t: &str,
    all: &[String],
) {
    let page = |offset| async move { reader.page(t, User, &by_offset(offset, 3)).await.unwrap() };
    // Several rounds: each reader connection learns the positions, then uses them.
    for _ in 0..4 {
        for offset in [0, 3, 6, 9] {
            let expected: Vec<&str> = all
                .iter()
                .skip(offset as usize)
                .take(3)
                .map(String::as_str)
                .collect();
            assert_eq!(ids(&page(offset).await), expected, "offset {offset}");
        }
    }
    writer.delete(t, User, &all[1]).await.unwrap();
    tokio::time::sleep(delay).await;
    for _ in 0..4 {
        let got = page(3).await;
        assert_eq!(got.total, Some(9));
        assert_eq!(
            ids(&got),
            [all[4].as_str(), all[5].as_str(), all[6].as_str()]
        );
    }
    writer.delete(t, User, &all[4]).await.unwrap();
    tokio::time::sleep(delay).await;
    for _ in 0..4 {
        assert_eq!(
            ids(&page(3).await),
            [all[5].as_str(), all[6].as_str(), all[7].as_str()]
        );
        assert_eq!(ids(&page(6).await), [all[8].as_str(), all[9].as_str()]);
    }
}

/// SQLite: another process (`tableau-scim ops`, `reconcile`) writes the database; the pages
/// this store answers are of the database's current state once `SNAPSHOT_MAX_AGE` has passed
/// (its readers keep their read transactions that long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pages_follow_another_process_writes() {
    let (store, dir) = crate::support::sqlite_store().await;
    let url = format!("sqlite://{}/data/store.db", dir.path().display());
    let other = tableau_scim::store::connect(&url).await.unwrap();
    let t = tenant();
    let all = users(&store, &t, 10).await;
    let delay = tableau_scim::store::sqlite::SNAPSHOT_MAX_AGE;
    assert_pages_follow_writes(&store, &other, delay, &t, &all).await;
}

/// `doc_text`: each document as the JSON text it is stored as, the resources' `doc` left
/// empty; the same resources, relations and cursor as a parsed page.
async fn pages_with_the_stored_text_of_their_documents(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 4).await;
    let members: Vec<_> = all.iter().map(|id| (id.clone(), User)).collect();
    store
        .create(
            &t,
            Group,
            &new_id(),
            &obj(json!({"displayName": "All"})),
            &members,
        )
        .await
        .unwrap();
    let parsed_request = PageRequest {
        with_relations: true,
        ..by_offset(1, 2)
    };
    let text_request = PageRequest {
        doc_text: true,
        ..parsed_request
    };
    let parsed = store.page(&t, User, &parsed_request).await.unwrap();
    let text = store.page(&t, User, &text_request).await.unwrap();
    assert!(parsed.texts.is_empty());
    assert_eq!(ids(&text), [all[1].as_str(), all[2].as_str()]);
    assert_eq!((text.total, text.cursor), (parsed.total, parsed.cursor));
    assert_eq!(text.texts.len(), 2);
    for ((t, p), stored) in text
        .resources
        .iter()
        .zip(&parsed.resources)
        .zip(&text.texts)
    {
        assert!(t.doc.is_empty());
        assert_eq!(stored, &serde_json::to_string(&p.doc).unwrap());
        assert_eq!(t.groups, p.groups);
        assert_eq!(
            (&t.id, t.revision, &t.created, &t.last_modified),
            (&p.id, p.revision, &p.created, &p.last_modified)
        );
    }
}

async fn pages_by_cursor(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 5).await;
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = store
            .page(
                &t,
                User,
                &PageRequest {
                    start: PageStart::After(cursor),
                    limit: 2,
                    count_total: false,
                    with_relations: false,
                    doc_text: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, None, "not counted unless asked");
        let Some(next) = page.cursor else {
            assert!(page.resources.is_empty());
            break;
        };
        assert!(next > cursor, "cursors grow");
        seen.extend(ids(&page).into_iter().map(str::to_owned));
        cursor = next;
    }
    assert_eq!(seen, all);
}

async fn count_only_and_past_the_end(store: Arc<dyn Store>) {
    let t = tenant();
    let empty = store.page(&t, User, &by_offset(0, 10)).await.unwrap();
    assert_eq!(
        (empty.total, empty.resources.len(), empty.cursor),
        (Some(0), 0, None)
    );
    let ids = users(&store, &t, 4).await;
    // A refused create (name taken, id taken) counts nothing.
    let taken = obj(json!({"userName": "user000@example.com"}));
    assert!(
        store
            .create(&t, User, &new_id(), &taken, &[])
            .await
            .is_err()
    );
    let other = obj(json!({"userName": "fresh@example.com"}));
    assert!(store.create(&t, User, &ids[0], &other, &[]).await.is_err());
    // Another tenant's users are not counted here.
    users(&store, &tenant(), 2).await;
    let count = store.page(&t, User, &by_offset(0, 0)).await.unwrap();
    assert_eq!((count.total, count.resources.len()), (Some(4), 0));
    let past = store.page(&t, User, &by_offset(4, 10)).await.unwrap();
    assert_eq!((past.total, past.resources.len()), (Some(4), 0));
    let far = store
        .page(&t, User, &by_offset(u64::MAX, u64::MAX))
        .await
        .unwrap();
    assert_eq!((far.total, far.resources.len()), (Some(4), 0));
    let everything = store.page(&t, User, &by_offset(0, u64::MAX)).await.unwrap();
    assert_eq!(everything.resources.len(), 4);
}

async fn relations_for_the_page_only(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 3).await;
    let members: Vec<_> = all.iter().map(|id| (id.clone(), User)).collect();
    let group = new_id();
    store
        .create(
            &t,
            Group,
            &group,
            &obj(json!({"displayName": "Everyone"})),
            &members,
        )
        .await
        .unwrap();
    let request = PageRequest {
        with_relations: true,
        ..by_offset(1, 1)
    };
    let page = store.page(&t, User, &request).await.unwrap();
    assert_eq!(ids(&page), [all[1].as_str()]);
    assert_eq!(page.resources[0].groups.len(), 1);
    assert_eq!(page.resources[0].groups[0].display, "Everyone");
    let groups = store.page(&t, Group, &request_all(true)).await.unwrap();
    let member_ids: Vec<&str> = groups.resources[0]
        .members
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(
        member_ids,
        all.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let bare = store.page(&t, User, &by_offset(0, 3)).await.unwrap();
    assert!(bare.resources.iter().all(|r| r.groups.is_empty()));
}

fn request_all(with_relations: bool) -> PageRequest {
    PageRequest {
        with_relations,
        ..by_offset(0, 100)
    }
}

async fn get_many_keeps_the_order_given(store: Arc<dyn Store>) {
    let t = tenant();
    let all = users(&store, &t, 4).await;
    let group = new_id();
    store
        .create(
            &t,
            Group,
            &group,
            &obj(json!({"displayName": "G"})),
            &[(all[3].clone(), User)],
        )
        .await
        .unwrap();
    let wanted = vec![
        all[3].clone(),
        "no-such-id".to_owned(),
        all[0].clone(),
        group.clone(),
    ];
    let found: Vec<Resource> = store.get_many(&t, User, &wanted, true).await.unwrap();
    let found_ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        found_ids,
        [all[3].as_str(), all[0].as_str()],
        "unknown ids and other kinds left out"
    );
    assert_eq!(found[0].groups.len(), 1);
    assert!(found[1].groups.is_empty());
    assert!(
        store
            .get_many(&t, User, &[], false)
            .await
            .unwrap()
            .is_empty()
    );
}
