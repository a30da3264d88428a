//! `render_text` against the general path (`render`, the default projection, serde_json),
//! byte for byte, on documents as the store keeps them.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;
use crate::model::{GroupRef, Member};
use crate::scim::projection::Projection;
use crate::scim::render::render;
use crate::scim::schema::SchemaRegistry;
use serde_json::{Map, Value, json};

const BASE: &str = "https://scim.example.com/scim/v2";

fn resource(kind: ResourceKind, doc: &Value) -> Resource {
    let Value::Object(doc) = doc.clone() else {
        panic!("not an object")
    };
    Resource {
        id: "0b6c1c1e-5c5e-4a55-9a0e-7f3f1f2a9d10".into(),
        kind,
        doc,
        created: "2026-11-28T04:22:54.123Z".into(),
        last_modified: "2026-11-29T05:00:00.000Z".into(),
        revision: 3,
        tableau_luid: None,
        members: Vec::new(),
        groups: Vec::new(),
    }
}

/// What the general path answers for `res` under the default projection.
fn general(res: &Resource) -> Vec<u8> {
    let schema = SchemaRegistry::builtin().resource(res.kind);
    let mut doc = render(res.clone(), schema, BASE);
    Projection::default().apply(&mut doc, schema);
    serde_json::to_vec(&Value::Object(doc)).unwrap()
}

/// `render_text` on the document as the store writes it.
fn spliced(res: &Resource) -> Option<Vec<u8>> {
    let schema = SchemaRegistry::builtin().resource(res.kind);
    let text = serde_json::to_string(&res.doc).unwrap();
    render_text(res, &text, schema, BASE)
}

fn assert_same(res: &Resource) {
    let fast = spliced(res).expect("the fast path applies");
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        String::from_utf8(general(res)).unwrap()
    );
}

fn okta_user() -> Value {
    json!({
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace \"the first\""},
        "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
        "displayName": "Ada Lovelace é 😀 \u{1}",
        "locale": "en-US",
        "externalId": "00u000000000000000001",
        "active": true,
        "x-unknown": [1, 2.5, -3e-7, null, {"deep": [true]}]
    })
}

#[test]
fn users_groups_and_members_match_the_general_path() {
    let mut user = resource(ResourceKind::User, &okta_user());
    assert_same(&user);
    user.groups = vec![
        GroupRef {
            id: "g1".into(),
            display: "Sales \"EU\"".into(),
        },
        GroupRef {
            id: "g2".into(),
            display: "Ops".into(),
        },
    ];
    assert_same(&user);
    user.tableau_luid = Some("9f8e7d6c-luid".into());
    assert_same(&user);

    let mut group = resource(ResourceKind::Group, &json!({"displayName": "Sales"}));
    assert_same(&group);
    group.members = vec![
        Member {
            id: "u1".into(),
            kind: ResourceKind::User,
        },
        Member {
            id: "g9".into(),
            kind: ResourceKind::Group,
        },
    ];
    assert_same(&group);
}

#[test]
fn extensions_are_listed_in_schemas_as_the_general_path_lists_them() {
    let mut doc = okta_user();
    doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        json!({"department": "R&D", "manager": {"value": "m1"}});
    doc[TABLEAU_USER_SCHEMA] = json!({"siteRole": "Explorer"});
    assert_same(&resource(ResourceKind::User, &doc));
}

#[test]
fn what_the_general_path_changes_is_left_to_it() {
    let cases = [
        // An empty extension object is dropped by `render`.
        json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}}),
        // `password` is returned never: the projection removes it.
        json!({"userName": "a", "password": "secret-secret"}),
        // An escaped key cannot be borrowed.
        json!({"userName": "a", "we\"ird": 1}),
        // An extension spelled in another case.
        json!({"userName": "a", "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"}}),
    ];
    for doc in cases {
        let res = resource(ResourceKind::User, &doc);
        assert_eq!(spliced(&res), None, "{doc}");
    }
    // The LUID merged into a Tableau extension the document holds.
    let mut res = resource(
        ResourceKind::User,
        &json!({"userName": "a", (TABLEAU_USER_SCHEMA): {"siteRole": "Viewer"}}),
    );
    res.tableau_luid = Some("l".into());
    assert_eq!(spliced(&res), None);
    // Not an object, or trailing bytes.
    let schema = SchemaRegistry::builtin().resource(ResourceKind::User);
    let bare = resource(ResourceKind::User, &json!({}));
    for text in ["[1]", "{\"a\":1} x", "{\"a\":1,\"a\":2}"] {
        assert_eq!(render_text(&bare, text, schema, BASE), None, "{text}");
    }
}

#[test]
fn stored_keys_render_writes_itself_are_left_out() {
    let mut doc = okta_user();
    doc["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
    doc["meta"] = json!({"x": 1});
    doc["groups"] = json!([]);
    doc["id"] = json!("another");
    let mut user = resource(ResourceKind::User, &doc);
    assert_same(&user);
    user.groups = vec![GroupRef {
        id: "g1".into(),
        display: "G".into(),
    }];
    assert_same(&user);
    let mut group = resource(
        ResourceKind::Group,
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "members": [{"value": "x"}], "displayName": "G"}),
    );
    assert_same(&group);
    group.members = vec![Member {
        id: "u1".into(),
        kind: ResourceKind::User,
    }];
    assert_same(&group);
}

#[test]
fn an_empty_document_matches_too() {
    assert_same(&resource(ResourceKind::User, &Value::Object(Map::new())));
}
