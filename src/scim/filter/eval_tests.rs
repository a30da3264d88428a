//! Evaluation tests against real-looking User and Group documents (RFC 7643 §8), with the
//! built-in schemas, so caseExact, types and extensions come from the schema files.

use super::*;
use crate::scim::error::ErrorKind;
use crate::scim::filter::parse::parse_filter;
use crate::scim::schema::SchemaRegistry;
use serde_json::json;

fn user_schema() -> &'static ResourceSchema {
    &SchemaRegistry::builtin().user
}

fn group_schema() -> &'static ResourceSchema {
    &SchemaRegistry::builtin().group
}

/// Barbara Jensen, as in RFC 7643 §8.2, rendered the way this server renders users.
fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "O'Malley",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": "W/\"3694e05e9dff591\""
        }
    })
}

fn eval_on(filter: &str, doc: &Value, schema: &ResourceSchema) -> Result<bool, ScimError> {
    let f = parse_filter(filter).map_err(|e| panic!("{filter}: {}", e.detail))?;
    matches(&f, doc, schema)
}

fn yes(filter: &str) {
    assert_eq!(
        eval_on(filter, &bjensen(), user_schema()),
        Ok(true),
        "{filter}"
    );
}

fn no(filter: &str) {
    assert_eq!(
        eval_on(filter, &bjensen(), user_schema()),
        Ok(false),
        "{filter}"
    );
}

fn invalid(filter: &str) {
    let r = eval_on(filter, &bjensen(), user_schema()).map_err(|e| e.kind);
    assert_eq!(r, Err(ErrorKind::InvalidFilter), "{filter}");
}

#[test]
fn rfc_7644_examples() {
    yes(r#"userName eq "bjensen@example.com""#);
    yes(r#"name.familyName co "O'Malley""#);
    yes(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#);
    yes("title pr");
    yes(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#);
    no(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#);
    yes(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#);
    yes(r#"meta.lastModified lt "2011-05-13T04:42:35Z""#);
    yes(r#"meta.lastModified le "2011-05-13T04:42:34Z""#);
    yes(r#"title pr and userType eq "Employee""#);
    yes(r#"title pr or userType eq "Intern""#);
    yes(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#);
    yes(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#);
    no(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    );
    yes(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#);
    yes(
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    );
    no(r#"emails[type eq "home" and value co "@example.com"]"#);
}

#[test]
fn case_exact_follows_the_schema() {
    // userName, displayName, emails.value: caseExact=false.
    yes(r#"userName eq "BJENSEN@EXAMPLE.COM""#);
    yes(r#"USERNAME EQ "BJensen@Example.com""#);
    yes(r#"displayName sw "babs""#);
    yes(r#"emails.value ew "JENSEN.ORG""#);
    // id and externalId: caseExact=true (RFC 7643 §3.1).
    yes(r#"id eq "2819c223-7f76-453a-919d-413861904646""#);
    no(r#"id eq "2819C223-7F76-453A-919D-413861904646""#);
    let mut doc = bjensen();
    doc["externalId"] = json!("AbC");
    assert_eq!(
        eval_on(r#"externalId eq "AbC""#, &doc, user_schema()),
        Ok(true)
    );
    assert_eq!(
        eval_on(r#"externalId eq "abc""#, &doc, user_schema()),
        Ok(false)
    );
    // Group displayName: caseExact=false.
    let group = json!({"displayName": "Tour Guides", "members": []});
    assert_eq!(
        eval_on(r#"displayName eq "tour guides""#, &group, group_schema()),
        Ok(true)
    );
}

#[test]
fn case_insensitive_comparison_is_unicode_aware() {
    let mut doc = bjensen();
    doc["displayName"] = json!("ÅSA ÖSTLUND Straße");
    doc["name"]["givenName"] = json!("ΣΩΚΡΆΤΗΣ");
    let s = user_schema();
    assert_eq!(
        eval_on(r#"displayName eq "åsa östlund straße""#, &doc, s),
        Ok(true)
    );
    assert_eq!(eval_on(r#"displayName co "ÖST""#, &doc, s), Ok(true));
    assert_eq!(eval_on(r#"name.givenName sw "σωκ""#, &doc, s), Ok(true));
    assert_eq!(
        eval_on(
            r#"displayName eq "\u00e5sa \u00f6stlund stra\u00dfe""#,
            &doc,
            s
        ),
        Ok(true)
    );
}

#[test]
fn string_operators_and_lexicographic_ordering() {
    yes(r#"title co "our""#);
    yes(r#"title sw "tour""#);
    yes(r#"title ew "GUIDE""#);
    no(r#"title ew "Tour""#);
    yes(r#"userName gt "a""#);
    yes(r#"userName lt "C""#); // compared case-insensitively: "bjensen..." < "c"
    yes(r#"userName ge "bjensen@example.com""#);
    no(r#"userName gt "bjensen@example.com""#);
    yes(r#"title co """#);
}

#[test]
fn multi_valued_attributes_match_if_any_value_matches() {
    yes(r#"emails co "jensen.org""#);
    yes(r#"emails eq "babs@jensen.org""#);
    yes(r#"emails.value eq "bjensen@example.com""#);
    yes(r#"emails.type eq "home""#);
    yes(r#"emails[type eq "work"].value eq "bjensen@example.com""#);
    no(r#"emails[type eq "home"].value eq "bjensen@example.com""#);
    yes(r#"emails[primary eq true].type eq "work""#);
    yes(r#"emails[not (type eq "work")]"#);
    yes(r#"groups.value eq "e9e30dba-f08f-4109-8486-d5c6a331660a""#);
    yes(r#"groups[display eq "tour guides"]"#);
    // ne: no element equals.
    yes(r#"emails.value ne "nobody@example.com""#);
    no(r#"emails.value ne "babs@jensen.org""#);
}

#[test]
fn present_means_non_empty() {
    yes("emails pr");
    yes("name pr");
    yes("name.givenName pr");
    yes("emails.primary pr");
    no("nickName pr");
    no("phoneNumbers pr");
    no("name.middleName pr");
    let s = user_schema();
    for empty in [
        json!(null),
        json!(""),
        json!([]),
        json!({}),
        json!([{}]),
        json!({"givenName": null}),
    ] {
        let doc = json!({"nickName": empty.clone(), "phoneNumbers": empty.clone(), "name": empty.clone()});
        for f in [
            "nickName pr",
            "phoneNumbers pr",
            "name pr",
            "phoneNumbers.value pr",
        ] {
            assert_eq!(eval_on(f, &doc, s), Ok(false), "{f} on {empty}");
        }
    }
    let doc = json!({"active": false, "phoneNumbers": [{"value": ""}, {"value": "555"}]});
    assert_eq!(eval_on("active pr", &doc, s), Ok(true));
    assert_eq!(eval_on("phoneNumbers.value pr", &doc, s), Ok(true));
}

#[test]
fn missing_unknown_and_complex_attributes() {
    // ne on a missing attribute: "not identical" holds.
    yes(r#"nickName ne "Babs""#);
    no(r#"nickName eq "Babs""#);
    // An attribute no schema defines matches nothing, ne and pr included.
    no(r#"favoriteColor eq "blue""#);
    no(r#"favoriteColor ne "blue""#);
    no("favoriteColor pr");
    no(r#"name.nonsense eq "x""#);
    no(r#"urn:example:unknown:2.0:User:userName eq "bjensen@example.com""#);
    yes(r#"not (favoriteColor eq "blue")"#);
    no(r#"favoriteColor[value eq "blue"]"#);
    // A complex attribute without `value` is not comparable.
    no(r#"name eq "Barbara""#);
    no(r#"name co "a""#);
    // One with `value` compares it.
    yes(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
    );
}

#[test]
fn value_paths_on_single_valued_complex_attributes() {
    yes(r#"name[givenName eq "barbara" and familyName co "malley"]"#);
    no(r#"name[givenName eq "Babs"]"#);
    yes(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName sw "John"]"#,
    );
    no(r#"nickName[value pr]"#);
    // Top-level nested value paths can only be built by hand; they are rejected.
    let nested = Filter::ValuePath(
        AttrPath::new("emails"),
        Box::new(Filter::ValuePath(
            AttrPath::new("value"),
            Box::new(Filter::Present(AttrPath::new("x"))),
        )),
    );
    assert_eq!(
        matches(&nested, &bjensen(), user_schema()).map_err(|e| e.kind),
        Err(ErrorKind::InvalidFilter)
    );
}

#[test]
fn deeply_nested_filters_evaluate() {
    let f = format!("{}title pr{}", "not (".repeat(64), ")".repeat(64));
    yes(&f);
    let chain = vec![r#"userName eq "x""#; 200].join(" or ") + " or title pr";
    yes(&chain);
}

#[test]
fn null_operands() {
    yes("nickName eq null");
    no("userName eq null");
    yes("userName ne null");
    no("nickName ne null");
    invalid("userName co null");
    invalid("userName gt null");
}

#[test]
fn booleans() {
    yes("active eq true");
    no("active eq false");
    yes("active ne false");
    yes(r#"active eq "True""#); // IdPs sometimes quote booleans
    no(r#"active eq "yes""#);
    yes(r#"emails[type eq "work" and primary eq TRUE]"#);
    invalid("active gt true");
    invalid("active le false");
    invalid(r#"emails[primary gt false]"#);
    no(r#"active co "t""#);
}

#[test]
fn binary_attributes_reject_ordering() {
    yes(r#"x509Certificates.value eq "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw""#);
    no(r#"x509Certificates.value eq "miidqzccaqygawibagiceaawdqyjkozihvcnaqefbqaw""#);
    invalid(r#"x509Certificates.value gt "A""#);
    invalid(r#"x509Certificates lt "A""#);
}

#[test]
fn type_errors_do_not_depend_on_the_data() {
    // The right side is never reached for this resource, and the attribute is absent from
    // the document: the filter is still rejected, as it would be for any resource.
    invalid(r#"userName eq "nobody" and active gt true"#);
    invalid(r#"userName eq "bjensen@example.com" or phoneNumbers[primary lt true]"#);
    invalid(r#"meta.lastModified gt "yesterday""#);
    invalid("meta.lastModified gt 5");
    invalid("userName gt 5");
    invalid("userName gt true");
    // Callers with no resource to evaluate on can still reject the filter.
    let f = parse_filter("active gt true").map_err(|e| e.detail);
    assert_eq!(
        f.and_then(|f| validate_filter(&f, user_schema()).map_err(|e| e.detail))
            .map_err(|d| d.contains("boolean")),
        Err(true)
    );
    // eq with a mismatched type simply matches nothing.
    no("userName eq 5");
    no(r#"meta.created eq "yesterday""#);
}

#[test]
fn date_times_compare_as_instants() {
    yes(r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#);
    yes(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#);
    yes(r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#);
    yes(r#"meta.created lt "2010-01-23T05:56:22.5+01:00""#);
    yes(r#"meta.created sw "2010-01-23T""#);
    yes(
        r#"meta.lastModified gt "2011-05-12T23:59:59+12:00" and meta.created lt "2026-01-01T00:00:00Z""#,
    );
    let mut doc = bjensen();
    doc["meta"]["lastModified"] = json!("not a date");
    assert_eq!(
        eval_on(
            r#"meta.lastModified gt "2000-01-01T00:00:00Z""#,
            &doc,
            user_schema()
        ),
        Ok(false)
    );
}

#[test]
fn extension_attributes_qualified_and_not() {
    yes(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#);
    yes(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#);
    yes(r#"employeeNumber eq "701984""#);
    yes(r#"department eq "tour operations""#);
    yes(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
    );
    yes(r#"manager.displayName co "smith""#);
    no(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr"#);
    // The core URN qualifies core and common attributes.
    yes(r#"urn:ietf:params:scim:schemas:core:2.0:User:id pr"#);
    yes(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "barbara""#);
    // A core attribute is not found under an extension URN.
    no(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#);
    // Tableau's site roles.
    let mut doc = bjensen();
    doc["urn:ietf:params:scim:schemas:extension:tableau:3.0:User"] =
        json!({"siteRoles": [{"value": "Creator"}]});
    assert_eq!(
        eval_on(r#"siteRoles eq "creator""#, &doc, user_schema()),
        Ok(true)
    );
}

#[test]
fn resource_keys_are_matched_case_insensitively() {
    let doc = json!({
        "USERNAME": "Alice",
        "Name": {"GivenName": "Alice"},
        "Emails": [{"Value": "a@example.com", "TYPE": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}
    });
    let s = user_schema();
    for f in [
        r#"userName eq "alice""#,
        r#"name.givenName eq "alice""#,
        r#"emails[type eq "work"].value eq "A@EXAMPLE.COM""#,
        r#"employeeNumber eq "7""#,
    ] {
        assert_eq!(eval_on(f, &doc, s), Ok(true), "{f}");
    }
}

#[test]
fn group_members_value_paths() {
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
        ],
        "meta": {"resourceType": "Group"}
    });
    let s = group_schema();
    assert_eq!(
        eval_on(
            r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"]"#,
            &group,
            s
        ),
        Ok(true)
    );
    assert_eq!(
        eval_on(
            r#"members.value eq "2819c223-7f76-453a-919d-413861904646""#,
            &group,
            s
        ),
        Ok(true)
    );
    // members.value is caseExact=false in schemas/Group.json (as in RFC 7643 §8.7.1).
    assert_eq!(
        eval_on(
            r#"members[value eq "2819C223-7F76-453A-919D-413861904646"]"#,
            &group,
            s
        ),
        Ok(true)
    );
    assert_eq!(
        eval_on(
            r#"members[display co "mandy"] and displayName eq "TOUR GUIDES""#,
            &group,
            s
        ),
        Ok(true)
    );
    assert_eq!(
        eval_on(r#"meta.resourceType eq "Group""#, &group, s),
        Ok(true)
    );
    assert_eq!(eval_on(r#"userName pr"#, &group, s), Ok(false));
}

#[test]
fn matches_element_evaluates_sub_attributes() {
    let emails = user_schema().resolve(None, "emails").map(|r| r.def);
    let Some(emails) = emails else {
        panic!("emails is defined")
    };
    let work = json!({"value": "Bjensen@Example.com", "type": "work", "primary": true});
    let check = |f: &str| {
        let f = parse_filter(f).map_err(|e| e.detail);
        f.and_then(|f| matches_element(&f, &work, emails).map_err(|e| e.detail))
    };
    assert_eq!(check(r#"type eq "WORK""#), Ok(true));
    assert_eq!(
        check(r#"type eq "work" and value eq "bjensen@example.com""#),
        Ok(true)
    );
    assert_eq!(check(r#"primary eq true"#), Ok(true));
    assert_eq!(check(r#"display pr"#), Ok(false));
    assert_eq!(check(r#"unknownSub eq "x""#), Ok(false));
    assert!(check(r#"primary gt true"#).is_err());
    // A nested value filter (only constructible by hand) is rejected, not ignored.
    let nested = Filter::ValuePath(
        AttrPath::new("value"),
        Box::new(Filter::Present(AttrPath::new("x"))),
    );
    assert_eq!(
        matches_element(&nested, &work, emails).map_err(|e| e.kind),
        Err(ErrorKind::InvalidFilter)
    );
    // Numeric sub-attributes compare numerically (no core attribute is numeric).
    let def: AttributeDef = match serde_json::from_value(json!({
        "name": "scores", "type": "complex", "multiValued": true,
        "subAttributes": [
            {"name": "value", "type": "integer"},
            {"name": "weight", "type": "decimal"}
        ]
    })) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let el = json!({"value": 10, "weight": 2.5});
    for (f, want) in [
        ("value gt 9", true),
        ("value gt 10", false),
        ("value ge 10", true),
        ("value eq 10.0", true),
        ("weight lt 3", true),
        ("weight gt 2.49", true),
        ("value co 1", false),
        (r#"value eq "10""#, false),
    ] {
        let r = parse_filter(f)
            .map_err(|e| e.detail)
            .and_then(|f| matches_element(&f, &el, &def).map_err(|e| e.detail));
        assert_eq!(r, Ok(want), "{f}");
    }
    assert!(
        parse_filter(r#"value gt "9""#)
            .and_then(|f| matches_element(&f, &el, &def))
            .is_err()
    );
    // Multi-valued simple attributes: the element itself is `value`.
    let schemas = user_schema().resolve(None, "schemas").map(|r| r.def);
    let Some(schemas) = schemas else {
        panic!("schemas is defined")
    };
    let f = parse_filter(r#"value eq "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER""#)
        .map_err(|e| e.detail);
    assert_eq!(
        f.and_then(|f| matches_element(
            &f,
            &json!("urn:ietf:params:scim:schemas:core:2.0:User"),
            schemas
        )
        .map_err(|e| e.detail)),
        Ok(true)
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Filters over attributes that exist in bjensen's document (and a few that do not), so
    /// evaluation goes deep rather than stopping at "unknown attribute".
    fn filter_text() -> impl Strategy<Value = String> {
        let path = prop::sample::select(vec![
            "userName",
            "name.givenName",
            "name",
            "emails",
            "emails.value",
            "emails.primary",
            "active",
            "meta.lastModified",
            "meta.created",
            "schemas",
            "id",
            "externalId",
            "x509Certificates.value",
            "employeeNumber",
            "manager",
            "nickName",
            "shoeSize",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        ]);
        let op = prop::sample::select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
        let value = prop::sample::select(vec![
            "\"bjensen@example.com\"",
            "\"B\"",
            "\"\"",
            "true",
            "false",
            "null",
            "5",
            "-1.5",
            "\"2011-05-13T04:42:34Z\"",
            "\"701984\"",
            "\"work\"",
        ]);
        let atom = prop_oneof![
            (path.clone(), op, value).prop_map(|(p, o, v)| format!("{p} {o} {v}")),
            path.clone().prop_map(|p| format!("{p} pr")),
            path.prop_map(|p| format!(r#"{p}[type eq "work" and value pr]"#)),
        ];
        atom.prop_recursive(4, 16, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|f| format!("not ({f})")),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) and ({r})")),
                (inner.clone(), inner).prop_map(|(l, r)| format!("({l}) or ({r})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn evaluation_is_total_and_not_negates(text in filter_text()) {
            let Ok(f) = parse_filter(&text) else {
                return Err(TestCaseError::fail(format!("generated filter must parse: {text}")));
            };
            let doc = bjensen();
            let r = matches(&f, &doc, user_schema());
            let negated = matches(&Filter::Not(Box::new(f.clone())), &doc, user_schema());
            match (r, negated) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, !b, "{}", text),
                (Err(a), Err(b)) => prop_assert_eq!(a.kind, b.kind),
                (a, b) => prop_assert!(false, "{} gave {:?} but its negation {:?}", text, a, b),
            }
            // A valid filter is valid for every resource: errors never depend on the data.
            let other = matches(&f, &json!({}), user_schema());
            prop_assert_eq!(other.is_err(), matches(&f, &doc, user_schema()).is_err());
        }

        #[test]
        fn eq_and_ne_are_complements(
            path in prop::sample::select(vec!["userName", "emails.value", "nickName", "active", "meta.created", "externalId"]),
            value in prop::sample::select(vec!["\"bjensen@example.com\"", "\"BABS@JENSEN.ORG\"", "true", "\"701984\"", "\"2010-01-23T04:56:22Z\"", "7"]),
        ) {
            let eq = parse_filter(&format!("{path} eq {value}")).and_then(|f| matches(&f, &bjensen(), user_schema()));
            let ne = parse_filter(&format!("{path} ne {value}")).and_then(|f| matches(&f, &bjensen(), user_schema()));
            prop_assert_eq!(eq.map(|b| !b), ne);
        }
    }
}
