//! Multi-valued attributes, value filters, `primary`, atomicity and output shape.

use super::*;

#[test]
fn add_on_multi_valued_appends_and_dedupes() {
    let doc = patch_user(json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@x", "type": "other"}, {"value": "bjensen@example.com", "type": "work"}]}]));
    let emails = doc["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2], json!({"value": "new@x", "type": "other"}));
    assert_eq!(emails[0]["primary"], json!(true));
}

#[test]
fn add_single_value_to_multi_valued_is_wrapped() {
    let doc = patch_user(
        json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "+1 555", "type": "work"}}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"value": "+1 555", "type": "work"}])
    );
}

#[test]
fn replace_on_multi_valued_replaces_all() {
    let doc =
        patch_user(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}]));
    assert_eq!(doc["emails"], json!([{"value": "only@x"}]));
}

#[test]
fn remove_multi_valued_without_value_removes_all() {
    let doc = patch_group(json!([{"op": "remove", "path": "members"}]));
    assert!(doc.get("members").is_none());
}

#[test]
fn remove_members_with_value_array_removes_only_those() {
    let doc = patch_group(json!([{"op": "Remove", "path": "members",
        "value": [{"$ref": null, "value": "u1"}, {"value": "not-a-member"}]}]));
    assert_eq!(member_ids(&doc), vec!["u2"]);
}

#[test]
fn remove_other_multi_valued_by_value() {
    let doc = patch_user(
        json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@home.example"}]}]),
    );
    assert_eq!(doc["emails"].as_array().map(Vec::len), Some(1));
}

#[test]
fn add_members_is_idempotent() {
    let doc = patch_group(json!([{"op": "add", "path": "members",
        "value": [{"value": "u1"}, {"value": "u3", "display": "ignored"}]}]));
    assert_eq!(member_ids(&doc), vec!["u1", "u2", "u3"]);
    assert_eq!(doc["members"][0], json!({"value": "u1", "type": "User"}));
    assert_eq!(
        doc["members"][2],
        json!({"value": "u3"}),
        "display is readOnly"
    );
}

#[test]
fn members_value_is_immutable() {
    assert_eq!(
        group_err(
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}])
        ),
        "mutability"
    );
}

#[test]
fn replace_filtered_sub_attribute() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"}]),
    );
    assert_eq!(doc["emails"][1], json!({"value": "h@x", "type": "home"}));
    assert_eq!(doc["emails"][0]["value"], json!("bjensen@example.com"));
}

#[test]
fn replace_filtered_element_keeps_filter_constraints() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x"}}]),
    );
    assert_eq!(doc["emails"][1], json!({"type": "home", "value": "h@x"}));
}

#[test]
fn add_filtered_element_merges() {
    let doc = patch_user(
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
    );
    assert_eq!(
        doc["emails"][1],
        json!({"value": "babs@home.example", "type": "home", "display": "Home"})
    );
}

#[test]
fn missing_filtered_target_is_created_from_eq_filter() {
    let doc = patch_user(
        json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
    );
    assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x"}));
}

#[test]
fn several_ops_on_one_missing_element_build_one_element() {
    let doc = patch_user(json!([
        {"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
        {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"}
    ]));
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345"}])
    );
}

#[test]
fn created_element_coerces_filter_literals() {
    let doc = patch_user(
        json!([{"op": "add", "path": "roles[primary eq \"True\"].value", "value": "ADMIN"}]),
    );
    assert_eq!(doc["roles"], json!([{"primary": true, "value": "ADMIN"}]));
}

#[test]
fn non_eq_filter_without_match_is_no_target() {
    assert_eq!(
        user_err(
            json!([{"op": "replace", "path": "emails[value co \"nomatch\"].type", "value": "x"}])
        ),
        "noTarget"
    );
    assert_eq!(
        user_err(
            json!([{"op": "add", "path": "emails[type ne \"work\" and type ne \"home\"]", "value": {"value": "a"}}])
        ),
        "noTarget"
    );
}

#[test]
fn empty_value_for_missing_filtered_target_creates_nothing() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": ""}]),
    );
    assert!(doc.get("phoneNumbers").is_none());
}

#[test]
fn remove_filtered_elements() {
    let doc = patch_group(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]));
    assert_eq!(member_ids(&doc), vec!["u1"]);
    let doc = patch_group(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]));
    assert_eq!(member_ids(&doc), vec!["u1", "u2"]);
    let doc = patch_group(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "remove", "path": "members[value eq \"u2\"]"}
    ]));
    assert!(doc.get("members").is_none());
}

#[test]
fn remove_filtered_value_sub_drops_the_element() {
    let doc = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"].value"}]));
    assert_eq!(doc["emails"].as_array().map(Vec::len), Some(1));
    let doc = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"].type"}]));
    assert_eq!(doc["emails"][1], json!({"value": "babs@home.example"}));
}

#[test]
fn sub_path_on_multi_valued_without_filter_applies_to_all() {
    let doc = patch_user(json!([{"op": "replace", "path": "emails.display", "value": "d"}]));
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"] == json!("d"))
    );
}

#[test]
fn newly_set_primary_wins_on_add() {
    let doc = patch_user(
        json!([{"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": true}]}]),
    );
    let primaries: Vec<&Value> = doc["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .collect();
    assert_eq!(primaries, vec![&json!({"value": "n@x", "primary": true})]);
    assert_eq!(doc["emails"][0]["primary"], json!(false));
}

#[test]
fn newly_set_primary_wins_on_filtered_replace() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
    );
    assert_eq!(doc["emails"][0]["primary"], json!(false));
    assert_eq!(doc["emails"][1]["primary"], json!(true));
}

#[test]
fn replace_all_with_two_primaries_keeps_the_first() {
    let doc = patch_user(json!([{"op": "replace", "path": "emails",
        "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]));
    assert_eq!(doc["emails"][0]["primary"], json!(true));
    assert_eq!(doc["emails"][1]["primary"], json!(false));
}

#[test]
fn failing_operation_reports_its_index_and_changes_nothing() {
    let original = base_user();
    let err = apply_patch(
        &original,
        &body(json!([
            {"op": "replace", "path": "title", "value": "CTO"},
            {"op": "replace", "path": "nosuch", "value": 1}
        ])),
        user_schema(),
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), Some("invalidPath"));
    assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    assert_eq!(original, base_user());
}

#[test]
fn untouched_keys_and_order_are_kept() {
    let doc = patch_user(json!([{"op": "replace", "path": "title", "value": "CTO"}]));
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "schemas", "id", "userName", "name", "active", "emails", "meta", "title"
        ]
    );
}

#[test]
fn group_rename_with_id_in_value() {
    let doc = patch_group(
        json!([{"op": "replace", "value": {"id": "g-1", "displayName": "Test SCIMv2"}}]),
    );
    assert_eq!(doc["displayName"], json!("Test SCIMv2"));
    assert_eq!(doc["id"], json!("g-1"));
}

#[test]
fn replace_filtered_element_with_null_removes_it() {
    let doc =
        patch_user(json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": null}]));
    assert_eq!(doc["emails"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["emails"][0]["type"], json!("work"));
}

#[test]
fn remove_members_with_bare_string_values() {
    let doc = patch_group(json!([{"op": "remove", "path": "members", "value": "u2"}]));
    assert_eq!(member_ids(&doc), vec!["u1"]);
    let doc = patch_group(json!([{"op": "remove", "path": "members", "value": ["u1", "u2"]}]));
    assert!(doc.get("members").is_none());
}

#[test]
fn remove_with_empty_value_list_removes_nothing() {
    let doc = patch_group(json!([{"op": "Remove", "path": "members", "value": []}]));
    assert_eq!(member_ids(&doc), vec!["u1", "u2"]);
}
