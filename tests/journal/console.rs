//! The admin console's store reads, on both backends: operations by keyset with the filters
//! of the Operations page, the refused requests, counts by state, and their retention.

use super::{new_op, open, plan};
use serde_json::json;
use std::sync::Arc;
use tableau_scim::model::ResourceKind::{Group, User};
use tableau_scim::store::{NewRefusal, OperationFilter, ResourceCommit, Store};

use crate::support::{new_id, tenant};

crate::store_tests!(
    operations_page_by_keyset_with_filters,
    refusals_are_journaled_listed_counted_and_pruned,
);

async fn operations_page_by_keyset_with_filters(store: Arc<dyn Store>) {
    let t = tenant();
    let mut ids = Vec::new();
    for i in 0..7 {
        let kind = if i % 3 == 2 { Group } else { User };
        let mut op = new_op(&t, kind, &new_id(), &format!("k{i}"), false);
        op.resource_name = Some(format!("Person_{i}@Acme.com"));
        open(&store, &op, &plan(&["s"])).await;
        if i % 2 == 0 {
            store
                .complete_operation(&t, &op.id, 201, &ResourceCommit::Nothing)
                .await
                .unwrap();
        } else {
            store
                .fail_operation(&t, &op.id, 409, &json!({"detail": "no"}))
                .await
                .unwrap();
        }
        ids.push(op.id);
    }
    // Pages of 3, newest first, by keyset: every operation once, in order.
    let mut seen = Vec::new();
    let mut filter = OperationFilter {
        limit: 3,
        ..Default::default()
    };
    loop {
        let page = store.search_operations(&t, &filter).await.unwrap();
        assert!(page.len() <= 3);
        assert!(page.iter().all(|op| op.steps.is_empty()));
        let Some(last) = page.last() else { break };
        filter.before_seq = Some(last.seq);
        seen.extend(page.into_iter().map(|op| op.id));
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let ids_of = |filter: OperationFilter| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let found = store.search_operations(&t, &filter).await.unwrap();
            found.into_iter().map(|op| op.id).collect::<Vec<_>>()
        }
    };
    let all = |f: OperationFilter| OperationFilter { limit: 100, ..f };
    let failed = ids_of(all(OperationFilter {
        state: Some("failed".into()),
        ..Default::default()
    }))
    .await;
    assert_eq!(failed, [&ids[5], &ids[3], &ids[1]].map(String::clone));
    let groups = ids_of(all(OperationFilter {
        kind: Some(Group),
        ..Default::default()
    }))
    .await;
    assert_eq!(groups, [&ids[5], &ids[2]].map(String::clone));
    // Part of the name, any case; LIKE's wildcards in the text are plain characters.
    let by_name = ids_of(all(OperationFilter {
        text: Some("person_4@ACME".into()),
        ..Default::default()
    }))
    .await;
    assert_eq!(by_name, [ids[4].clone()]);
    let wildcard = ids_of(all(OperationFilter {
        text: Some("%".into()),
        ..Default::default()
    }))
    .await;
    assert!(wildcard.is_empty());
    let future = ids_of(all(OperationFilter {
        since: Some("2999-01-01T00:00:00Z".into()),
        ..Default::default()
    }))
    .await;
    assert!(future.is_empty());
    let past = ids_of(all(OperationFilter {
        until: Some("2000-01-01T00:00:00+01:00".into()),
        ..Default::default()
    }))
    .await;
    assert!(past.is_empty());
    let bad = OperationFilter {
        since: Some("yesterday".into()),
        limit: 1,
        ..Default::default()
    };
    assert!(store.search_operations(&t, &bad).await.is_err());
    let counts = store
        .counts_since(&t, "2000-01-01T00:00:00Z")
        .await
        .unwrap();
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map(|(_, n)| *n);
    assert_eq!(
        (count("succeeded"), count("failed"), count("refused")),
        (Some(4), Some(3), Some(0))
    );
}

async fn refusals_are_journaled_listed_counted_and_pruned(store: Arc<dyn Store>) {
    let t = tenant();
    for i in 0..3 {
        let refusal = NewRefusal {
            tenant: t.clone(),
            request_id: Some(format!("req-{i}")),
            principal: "token:okta".into(),
            method: "POST".into(),
            path: "/scim/v2/Users".into(),
            resource_kind: Some(User),
            resource_name: Some(format!("bad{i}@acme.com")),
            request_body: Some(
                json!({"userName": format!("bad{i}@acme.com"), "password": "[redacted]"}),
            ),
            status: 400,
            error_body: json!({"scimType": "invalidValue", "detail": "no"}),
        };
        store.record_refusal(&refusal).await.unwrap();
    }
    let filter = OperationFilter {
        limit: 2,
        ..Default::default()
    };
    let first = store.search_refusals(&t, &filter).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].request.request_id.as_deref(), Some("req-2"));
    assert_eq!(first[0].request.error_body["scimType"], "invalidValue");
    assert_eq!(
        first[0]
            .request
            .request_body
            .as_ref()
            .map(|b| &b["password"]),
        Some(&json!("[redacted]"))
    );
    let rest = OperationFilter {
        before_seq: first.last().map(|r| r.seq),
        ..filter.clone()
    };
    let second = store.search_refusals(&t, &rest).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0].request.resource_name.as_deref(),
        Some("bad0@acme.com")
    );
    // Only when the state filter allows them; by name.
    let failed_only = OperationFilter {
        state: Some("failed".into()),
        limit: 10,
        ..Default::default()
    };
    assert!(
        store
            .search_refusals(&t, &failed_only)
            .await
            .unwrap()
            .is_empty()
    );
    let named = OperationFilter {
        state: Some("refused".into()),
        text: Some("BAD1".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search_refusals(&t, &named).await.unwrap().len(), 1);
    let counts = store
        .counts_since(&t, "2000-01-01T00:00:00Z")
        .await
        .unwrap();
    assert!(counts.contains(&("refused".to_owned(), 3)), "{counts:?}");
    // Retention: nothing before the epoch; everything before the far future (all tenants,
    // so only checked to be at least ours).
    assert_eq!(
        store
            .prune_refusals("2000-01-01T00:00:00Z", 100)
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .prune_refusals("2999-01-01T00:00:00Z", 0)
            .await
            .unwrap()
            == 0
    );
    assert!(
        store
            .prune_refusals("2999-01-01T00:00:00Z", 10_000)
            .await
            .unwrap()
            >= 3
    );
    let left = store.search_refusals(&t, &filter).await.unwrap();
    assert!(left.is_empty());
}
