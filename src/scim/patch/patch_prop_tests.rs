//! Properties of PATCH: atomicity, idempotent adds, the `primary` invariant, and no panic (nor
//! 500) on arbitrary bodies.

use super::*;
use crate::scim::document::prepare_document;
use crate::scim::error::ErrorKind;
use proptest::prelude::*;

const VALUES: &[&str] = &["a@x", "b@x", "C@x", "c@x"];
const TYPES: &[&str] = &["work", "home", "other"];

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    proptest::sample::select(options)
}

fn email() -> impl Strategy<Value = Value> {
    (
        pick(VALUES),
        pick(TYPES),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(v, t, p)| {
            let mut e = json!({"value": v, "type": t});
            if let Some(p) = p {
                e["primary"] = json!(p);
            }
            e
        })
}

/// Operations that are valid on any user reachable from `base_user` by such operations.
fn valid_op() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(email(), 1..3)
            .prop_map(|v| json!({"op": "add", "path": "emails", "value": v})),
        prop::collection::vec(email(), 0..3)
            .prop_map(|v| json!({"op": "replace", "path": "emails", "value": v})),
        (pick(TYPES), pick(VALUES)).prop_map(|(t, v)| json!({"op": "Replace",
            "path": format!("emails[type eq \"{t}\"].value"), "value": v})),
        pick(TYPES).prop_map(|t| json!({"op": "replace",
            "path": format!("emails[type eq \"{t}\"].primary"), "value": "True"})),
        pick(VALUES).prop_map(|v| json!({"op": "remove",
            "path": format!("emails[value eq \"{v}\"]")})),
        (any::<bool>(), pick(&["True", "false", "x"])).prop_map(|(a, t)| json!({"op": "replace",
            "value": {"active": a, "title": t}})),
        pick(&["Ann", "", "Bo"]).prop_map(|g| json!({"op": "add", "path": "name.givenName", "value": g})),
        (pick(TYPES), pick(VALUES)).prop_map(|(t, v)| json!({"op": "add",
            "path": format!("phoneNumbers[type eq \"{t}\"].value"), "value": v})),
        (pick(VALUES), any::<bool>()).prop_map(|(v, p)| json!({"op": "add", "path": "roles",
            "value": [{"value": v, "primary": p}]})),
        pick(VALUES).prop_map(|v| json!({"op": "remove", "path": "roles", "value": [{"value": v}]})),
        pick(VALUES).prop_map(|v| json!({"op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": v})),
    ]
}

fn invalid_op() -> impl Strategy<Value = Value> {
    proptest::sample::select(vec![
        json!({"op": "remove"}),
        json!({"op": "remove", "path": "userName"}),
        json!({"op": "replace", "path": "nosuch", "value": 1}),
        json!({"op": "replace", "path": "active", "value": 5}),
        json!({"op": "replace", "path": "id", "value": "x"}),
        json!({"op": "move", "path": "title", "value": "x"}),
        json!({"op": "add", "path": "emails[value co \"zz\"].type", "value": "work"}),
        json!({"op": "add", "path": "title"}),
    ])
}

fn primaries_ok(doc: &Value) -> bool {
    doc.as_object().is_none_or(|m| {
        m.values().all(|v| match v {
            Value::Array(items) => {
                items
                    .iter()
                    .filter(|e| e.get("primary") == Some(&json!(true)))
                    .count()
                    <= 1
            }
            Value::Object(_) => primaries_ok(v),
            _ => true,
        })
    })
}

/// Arbitrary JSON biased towards the names and shapes this module interprets.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        pick(&[
            "",
            "True",
            "false",
            "x",
            "2018-03-27T19:59:26Z",
            "u1",
            "work",
            "ünï"
        ])
        .prop_map(|s| json!(s)),
        ".{0,8}".prop_map(Value::String),
    ];
    let keys = pick(&[
        "userName",
        "USERNAME",
        "name",
        "name.givenName",
        "emails",
        "members",
        "value",
        "type",
        "primary",
        "active",
        "manager",
        "displayName",
        "id",
        "meta",
        "$ref",
        "display",
        "schemas",
        "groups",
        "password",
        "roles",
        "addresses",
        "x.y.z",
        "ü",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:extension:tableau:3.0:User:siteRoles",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
        "urn:x",
        "urn:",
        "urn:ietf:params:scim:schemas:core:2.0:Useé:x",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Useé",
    ]);
    // Free text too, so that multi-byte characters land anywhere in a URN-looking key.
    let keys = prop_oneof![
        4 => keys.prop_map(str::to_string),
        1 => "(urn:ietf:params:scim:schemas:)?.{0,12}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arbitrary_op() -> impl Strategy<Value = Value> {
    let paths = pick(&[
        "",
        "emails",
        "emails[type eq \"work\"].value",
        "emails[type eq \"work\"]",
        "emails[value eq \"a@x\" or type eq \"home\"]",
        "members",
        "members[value eq \"u1\"]",
        "members[value eq \"u1\"].display",
        "name",
        "name.givenName",
        "active",
        "userName",
        "displayName",
        "manager",
        "manager.value",
        "meta.created",
        "emails[",
        "x.y.z",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "roles[primary eq \"True\"].value",
        "addresses[type eq \"work\"].locality",
        "emails[type eq \"work\" and primary eq true].display",
        "groups",
        "password",
    ]);
    (
        pick(&["add", "Remove", "REPLACE", "x"]),
        proptest::option::of(paths),
        proptest::option::of(arbitrary_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = json!({"op": op});
            if let Some(p) = path {
                o["path"] = json!(p);
            }
            if let Some(v) = value {
                o["value"] = v;
            }
            o
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn atomic_last_invalid_op_fails_the_whole_request(
        ops in prop::collection::vec(valid_op(), 0..6),
        bad in invalid_op(),
        tail in prop::collection::vec(valid_op(), 0..2),
    ) {
        let doc = base_user();
        if !ops.is_empty() {
            prop_assert!(apply_patch(&doc, &body(json!(ops)), user_schema()).is_ok());
        }
        let mut all = ops.clone();
        all.push(bad);
        all.extend(tail);
        let result = apply_patch(&doc, &body(json!(all)), user_schema());
        prop_assert!(result.is_err());
        prop_assert_eq!(doc, base_user());
    }

    #[test]
    fn primary_is_exclusive_after_any_valid_ops(ops in prop::collection::vec(valid_op(), 1..8)) {
        let out = apply_patch(&base_user(), &body(json!(ops)), user_schema());
        prop_assert!(out.is_ok(), "{:?}", out);
        if let Ok(doc) = out {
            prop_assert!(primaries_ok(&Value::Object(doc)));
        }
    }

    #[test]
    fn add_is_idempotent(
        setup in prop::collection::vec(valid_op(), 0..5),
        added in prop::collection::vec(email(), 1..3),
        member in pick(VALUES),
    ) {
        let start = if setup.is_empty() {
            base_user()
        } else {
            apply_patch(&base_user(), &body(json!(setup)), user_schema()).map_err(|e| TestCaseError::fail(e.detail))?
        };
        let add = body(json!([{"op": "add", "path": "emails", "value": added}]));
        let once = apply_patch(&start, &add, user_schema()).map_err(|e| TestCaseError::fail(e.detail))?;
        let twice = apply_patch(&once, &add, user_schema()).map_err(|e| TestCaseError::fail(e.detail))?;
        prop_assert_eq!(&once, &twice);

        let add_member = body(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": member}]}]));
        let g1 = apply_patch(&base_group(), &add_member, group_schema()).map_err(|e| TestCaseError::fail(e.detail))?;
        let g2 = apply_patch(&g1, &add_member, group_schema()).map_err(|e| TestCaseError::fail(e.detail))?;
        prop_assert_eq!(g1, g2);
    }

    #[test]
    fn arbitrary_patch_bodies_never_panic_nor_fail_internally(
        ops in prop::collection::vec(arbitrary_op(), 0..5),
        envelope in arbitrary_json(),
    ) {
        for (doc, schema) in [(base_user(), user_schema()), (base_group(), group_schema())] {
            for b in [body(json!(ops.clone())), envelope.clone()] {
                if let Err(e) = apply_patch(&doc, &b, schema) {
                    prop_assert_eq!(e.status(), 400, "{:?}", e);
                    prop_assert!(e.kind != ErrorKind::Internal);
                }
            }
        }
    }

    #[test]
    fn prepare_never_panics_and_is_idempotent(input in arbitrary_json(), named in any::<bool>()) {
        // Most arbitrary objects lack the required attributes; supply them half of the time so
        // that the successful path is exercised too.
        let mut input = input;
        if let (Value::Object(m), true) = (&mut input, named) {
            m.insert("userName".into(), json!("u"));
            m.insert("displayName".into(), json!("d"));
        }
        for schema in [user_schema(), group_schema()] {
            match prepare_document(&input, schema) {
                Ok(doc) => {
                    let again = prepare_document(&Value::Object(doc.clone()), schema);
                    prop_assert_eq!(again.ok(), Some(doc));
                }
                Err(e) => prop_assert_eq!(e.status(), 400),
            }
        }
    }
}
