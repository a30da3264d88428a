//! Parser tests: every RFC 7644 example, IdP forms, case, whitespace, escapes, precedence,
//! errors with positions, and the length and depth limits.

use super::*;
use crate::scim::error::ErrorKind;
use serde_json::json;

fn p(s: &str) -> Filter {
    match parse_filter(s) {
        Ok(f) => f,
        Err(e) => panic!("{s:?} should parse: {}", e.detail),
    }
}

fn err(s: &str) -> String {
    match parse_filter(s) {
        Ok(f) => panic!("{s:?} should not parse, got {f:?}"),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidFilter, "{s:?}");
            e.detail
        }
    }
}

fn path(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn cmp(path: AttrPath, op: CompareOp, v: Value) -> Filter {
    Filter::Compare(path, op, v)
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}

fn pr(name: &str) -> Filter {
    Filter::Present(path(name))
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn rfc_7644_examples_parse_to_the_expected_trees() {
    assert_eq!(
        p(r#"userName eq "bjensen""#),
        cmp(path("userName"), CompareOp::Eq, json!("bjensen"))
    );
    assert_eq!(
        p(r#"name.familyName co "O'Malley""#),
        cmp(
            AttrPath::with_sub("name", "familyName"),
            CompareOp::Co,
            json!("O'Malley")
        )
    );
    assert_eq!(
        p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
        cmp(
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "userName".into(),
                sub: None
            },
            CompareOp::Sw,
            json!("J")
        )
    );
    assert_eq!(p("title pr"), pr("title"));
    assert_eq!(
        p(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        cmp(
            AttrPath::with_sub("meta", "lastModified"),
            CompareOp::Gt,
            json!("2011-05-13T04:42:34Z")
        )
    );
    for op in ["ge", "lt", "le"] {
        p(&format!(r#"meta.lastModified {op} "2011-05-13T04:42:34Z""#));
    }
    assert_eq!(
        p(r#"title pr and userType eq "Employee""#),
        and(
            pr("title"),
            cmp(path("userType"), CompareOp::Eq, json!("Employee"))
        )
    );
    assert_eq!(
        p(r#"title pr or userType eq "Intern""#),
        or(
            pr("title"),
            cmp(path("userType"), CompareOp::Eq, json!("Intern"))
        )
    );
    assert_eq!(
        p(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#),
        cmp(path("schemas"), CompareOp::Eq, json!(ENTERPRISE))
    );
    let emails_or = or(
        cmp(path("emails"), CompareOp::Co, json!("example.com")),
        cmp(
            AttrPath::with_sub("emails", "value"),
            CompareOp::Co,
            json!("example.org"),
        ),
    );
    assert_eq!(
        p(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ),
        and(
            cmp(path("userType"), CompareOp::Eq, json!("Employee")),
            emails_or.clone()
        )
    );
    assert_eq!(
        p(
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
        ),
        and(
            cmp(path("userType"), CompareOp::Ne, json!("Employee")),
            Filter::Not(Box::new(emails_or))
        )
    );
    let work_example = Filter::ValuePath(
        path("emails"),
        Box::new(and(
            cmp(path("type"), CompareOp::Eq, json!("work")),
            cmp(path("value"), CompareOp::Co, json!("@example.com")),
        )),
    );
    assert_eq!(
        p(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
        and(
            cmp(path("userType"), CompareOp::Eq, json!("Employee")),
            work_example.clone()
        )
    );
    assert_eq!(
        p(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ),
        or(
            work_example,
            Filter::ValuePath(
                path("ims"),
                Box::new(and(
                    cmp(path("type"), CompareOp::Eq, json!("xmpp")),
                    cmp(path("value"), CompareOp::Co, json!("@foo.com")),
                ))
            )
        )
    );
    // The remaining operators of §3.4.2.2.
    for (text, op) in [
        ("ne", CompareOp::Ne),
        ("ew", CompareOp::Ew),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        assert_eq!(
            p(&format!(r#"userName {text} "x""#)),
            cmp(path("userName"), op, json!("x"))
        );
    }
}

#[test]
fn entra_value_path_with_trailing_sub_attribute_becomes_an_and() {
    assert_eq!(
        p(r#"emails[type eq "work"].value eq "user@contoso.com""#),
        Filter::ValuePath(
            path("emails"),
            Box::new(and(
                cmp(path("type"), CompareOp::Eq, json!("work")),
                cmp(path("value"), CompareOp::Eq, json!("user@contoso.com")),
            ))
        )
    );
    assert_eq!(
        p(r#"addresses[type eq "work"].streetAddress pr"#),
        Filter::ValuePath(
            path("addresses"),
            Box::new(and(
                cmp(path("type"), CompareOp::Eq, json!("work")),
                pr("streetAddress"),
            ))
        )
    );
    // Entra's common probes.
    p(r#"externalId eq "4c0a0b26-3b4e-4c3a-8d8a-9d1bcd2f3e3b""#);
    p(r#"displayName eq "Group 1""#);
}

#[test]
fn names_operators_and_keywords_are_case_insensitive() {
    let a = p(r#"userName Eq "john""#);
    let b = p(r#"Username eq "john""#);
    assert!(matches!(a, Filter::Compare(_, CompareOp::Eq, _)));
    assert!(matches!(b, Filter::Compare(_, CompareOp::Eq, _)));
    assert_eq!(
        p(r#"A PR AND NOT (B Pr) OR c EQ TRUE or d ne False and e eq NULL"#),
        or(
            or(
                and(pr("A"), Filter::Not(Box::new(pr("B")))),
                cmp(path("c"), CompareOp::Eq, json!(true))
            ),
            and(
                cmp(path("d"), CompareOp::Ne, json!(false)),
                cmp(path("e"), CompareOp::Eq, Value::Null)
            )
        )
    );
    for op in ["EQ", "Ne", "cO", "SW", "eW", "GT", "Ge", "lT", "LE"] {
        p(&format!(r#"x {op} "y""#));
    }
}

#[test]
fn precedence_not_over_and_over_or_and_left_associativity() {
    assert_eq!(
        p("a pr or b pr and c pr"),
        or(pr("a"), and(pr("b"), pr("c")))
    );
    assert_eq!(
        p("a pr and b pr or c pr"),
        or(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        p("(a pr or b pr) and c pr"),
        and(or(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(
        p("a pr and b pr and c pr"),
        and(and(pr("a"), pr("b")), pr("c"))
    );
    assert_eq!(p("a pr or b pr or c pr"), or(or(pr("a"), pr("b")), pr("c")));
    assert_eq!(
        p("not (a pr) and b pr"),
        and(Filter::Not(Box::new(pr("a"))), pr("b"))
    );
    assert_eq!(p("((a pr))"), pr("a"));
    // Keywords are only keywords where the grammar expects them.
    assert_eq!(p("not pr and and pr"), and(pr("not"), pr("and")));
    assert_eq!(
        p(r#"not eq "x" or or pr"#),
        or(cmp(path("not"), CompareOp::Eq, json!("x")), pr("or"))
    );
    assert_eq!(
        p("android pr and order pr"),
        and(pr("android"), pr("order"))
    );
}

#[test]
fn whitespace_is_tolerated_between_tokens() {
    let want = and(
        cmp(path("userName"), CompareOp::Eq, json!("x")),
        Filter::Not(Box::new(pr("title"))),
    );
    assert_eq!(p("userName  eq\t\"x\"   and\tnot(title pr)"), want);
    assert_eq!(p("  userName eq \"x\" and not ( title pr )  "), want);
    assert_eq!(
        p("( userName eq \"x\" )"),
        cmp(path("userName"), CompareOp::Eq, json!("x"))
    );
    assert_eq!(
        p("emails[ type eq \"work\" ]"),
        Filter::ValuePath(
            path("emails"),
            Box::new(cmp(path("type"), CompareOp::Eq, json!("work")))
        )
    );
    // `and(` needs no space before the parenthesis.
    assert_eq!(p("a pr and(b pr)"), and(pr("a"), pr("b")));
}

#[test]
fn string_literals_follow_json_escaping() {
    assert_eq!(
        p(r#"displayName eq "say \"hi\" \\ \/ \t\n\u00e9\u00C9 \ud83d\ude00""#),
        cmp(
            path("displayName"),
            CompareOp::Eq,
            json!("say \"hi\" \\ / \t\néÉ 😀")
        )
    );
    assert_eq!(
        p(r#"displayName eq "Zoë 東京 😀""#),
        cmp(path("displayName"), CompareOp::Eq, json!("Zoë 東京 😀"))
    );
    assert_eq!(p(r#"x eq """#), cmp(path("x"), CompareOp::Eq, json!("")));
    // `a eq "x) or (b pr"`: parentheses in strings are text.
    assert_eq!(
        p(r#"a eq "x) or (b pr""#),
        cmp(path("a"), CompareOp::Eq, json!("x) or (b pr"))
    );
    assert!(err(r#"x eq "\ud83d""#).contains("character 6"));
    assert!(err(r#"x eq "\q""#).contains("valid JSON string"));
    assert!(err("x eq \"a\u{1}b\"").contains("valid JSON string"));
    assert!(err(r#"x eq "abc"#).contains("closed by"));
    assert!(err(r#"x eq "abc\"#).contains("closed by"));
    assert!(err(r#"x eq 'abc'"#).contains("character 6"));
}

#[test]
fn numbers_booleans_and_null() {
    assert_eq!(p("x eq 42"), cmp(path("x"), CompareOp::Eq, json!(42)));
    assert_eq!(p("x gt -7"), cmp(path("x"), CompareOp::Gt, json!(-7)));
    assert_eq!(p("x lt 1.5"), cmp(path("x"), CompareOp::Lt, json!(1.5)));
    assert_eq!(p("x lt 2E3"), cmp(path("x"), CompareOp::Lt, json!(2000.0)));
    assert_eq!(p("x le 1e-2"), cmp(path("x"), CompareOp::Le, json!(0.01)));
    assert_eq!(
        p("x eq 18446744073709551615"),
        cmp(path("x"), CompareOp::Eq, json!(u64::MAX))
    );
    assert_eq!(p("x eq true"), cmp(path("x"), CompareOp::Eq, json!(true)));
    assert_eq!(p("x eq null"), cmp(path("x"), CompareOp::Eq, Value::Null));
    for bad in [
        "x eq 01",
        "x eq 1.",
        "x eq -",
        "x eq 1e",
        "x eq .5",
        "x eq 12abc",
        "x eq +1",
    ] {
        err(bad);
    }
    assert!(err("x eq 1e999").contains("range"));
}

#[test]
fn bare_unquoted_values_are_rejected() {
    // Only Microsoft's documentation writes these; see the module comment.
    let d = err("externalId eq jyoung");
    assert!(d.contains("character 15"), "{d}");
    assert!(d.contains("'jyoung'"), "{d}");
    assert!(d.contains("quoted"), "{d}");
    err("id eq 54D3 and manager eq 2819");
}

#[test]
fn urn_qualified_paths_split_at_the_last_colon() {
    assert_eq!(
        p(&format!(r#"{ENTERPRISE}:manager.value eq "26118915""#)),
        cmp(
            AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub: Some("value".into())
            },
            CompareOp::Eq,
            json!("26118915")
        )
    );
    assert_eq!(
        p(&format!("{ENTERPRISE}:employeeNumber pr")),
        Filter::Present(AttrPath {
            urn: Some(ENTERPRISE.into()),
            name: "employeeNumber".into(),
            sub: None
        })
    );
    assert_eq!(
        p(r#"members[$ref eq "x"]"#),
        Filter::ValuePath(
            path("members"),
            Box::new(cmp(path("$ref"), CompareOp::Eq, json!("x")))
        )
    );
}

#[test]
fn errors_name_the_position_and_what_was_expected() {
    let cases = [
        (
            "",
            "character 1: expected an attribute path, found the end of input",
        ),
        ("userName", "character 9: expected a space and an operator"),
        (
            r#"userName equals "x""#,
            "character 10: expected an operator",
        ),
        (r#"userName eq"#, "character 12: expected a value"),
        (
            r#"userName eq "x" nd title pr"#,
            "character 17: expected 'and', 'or' or the end",
        ),
        (
            r#"a eq "x" and"#,
            "character 13: expected an attribute path, found the end",
        ),
        ("(a pr", "character 6: expected 'and', 'or' or ')'"),
        ("a pr)", "character 5: expected 'and', 'or' or the end"),
        (
            "emails[type pr",
            "character 15: expected 'and', 'or' or ']'",
        ),
        ("1abc pr", "character 1: expected an attribute name"),
        (
            "a.b.c pr",
            "character 4: expected at most one sub-attribute",
        ),
        ("a. pr", "character 3: expected a sub-attribute name"),
        (
            "urn::x pr",
            "character 1: expected an attribute path (malformed schema URN)",
        ),
        (
            ":x pr",
            "character 1: expected an attribute path (malformed schema URN)",
        ),
        ("urn:x: pr", "character 7: expected an attribute name"),
        (
            "not a pr",
            "character 5: expected '(' after 'not', found 'a'",
        ),
        (
            "not",
            "character 4: expected '(' after 'not', found the end",
        ),
        (
            r#"emails[type eq "w"].value"#,
            "character 26: expected a space and an operator",
        ),
        (
            r#"emails[type eq "w"].value.x eq "y""#,
            "character 21: expected a sub-attribute name",
        ),
        (
            r#"emails[value eq "x"] x"#,
            "character 22: expected 'and', 'or' or the end",
        ),
        (
            "a pr and or",
            "character 12: expected a space and an operator",
        ),
        (
            r#"x eq "é" é"#,
            "character 10: expected 'and', 'or' or the end of the filter, found 'é'",
        ),
    ];
    for (input, want) in cases {
        let d = err(input);
        assert!(d.contains(want), "{input:?}: {d:?} should contain {want:?}");
    }
}

#[test]
fn nested_value_filters_are_rejected() {
    let d = err(r#"emails[type eq "work" and value[x eq "y"]]"#);
    assert!(d.contains("cannot contain another value filter"), "{d}");
    err(r#"a[b[c pr]]"#);
    err(r#"a[not (b[c pr])]"#);
    // Siblings are fine.
    p(r#"a[b pr] and c[d pr]"#);
}

#[test]
fn length_and_depth_are_limited_without_overflowing_the_stack() {
    let long = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN));
    assert!(err(&long).contains("at most 4096"));
    let at_limit = format!(
        "{}a pr{}",
        "(".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert_eq!(p(&at_limit), pr("a"));
    let over = format!(
        "{}a pr{}",
        "(".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    assert!(err(&over).contains("nested deeper than 64"));
    // Within the length limit but far deeper than allowed.
    assert!(err(&"(".repeat(4000)).contains("nested deeper"));
    assert!(err(&"not (".repeat(800)).contains("nested deeper"));
    assert!(
        err(&"a[".repeat(2000)).contains("nested")
            || err(&"a[".repeat(2000)).contains("value filter")
    );
    // The brief's case: 10,000 '(' (rejected by length before nesting matters).
    err(&"(".repeat(10_000));
    // Long flat chains are loops, not recursion.
    let chain = vec!["a pr"; 500].join(" or ");
    assert!(chain.len() <= MAX_FILTER_LEN);
    p(&chain);
}

#[test]
fn patch_paths() {
    assert_eq!(
        parse_patch_path("name.familyName").ok(),
        Some(PatchPath {
            attr: AttrPath::with_sub("name", "familyName"),
            filter: None,
            sub: None
        })
    );
    assert_eq!(
        parse_patch_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).ok(),
        Some(PatchPath {
            attr: path("members"),
            filter: Some(cmp(
                path("value"),
                CompareOp::Eq,
                json!("2819c223-7f76-453a-919d-413861904646")
            )),
            sub: None
        })
    );
    assert_eq!(
        parse_patch_path(r#"emails[type eq "work"].value"#).ok(),
        Some(PatchPath {
            attr: path("emails"),
            filter: Some(cmp(path("type"), CompareOp::Eq, json!("work"))),
            sub: Some("value".into())
        })
    );
    assert_eq!(
        parse_patch_path(&format!("{ENTERPRISE}:manager")).ok(),
        Some(PatchPath {
            attr: AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub: None
            },
            filter: None,
            sub: None
        })
    );
    assert_eq!(
        parse_patch_path(r#"addresses[type eq "work" AND primary eq TRUE].streetAddress"#)
            .map(|p| p.sub)
            .ok(),
        Some(Some("streetAddress".into()))
    );
    for bad in [
        "",
        "emails[",
        r#"emails[type eq "work"]."#,
        r#"emails[type eq "work"] x"#,
        r#"emails[type eq "work"].value eq "x""#,
        "name familyName",
        "a.b.c",
        r#"emails[x[y pr]]"#,
    ] {
        let e = parse_patch_path(bad).expect_err(bad);
        assert_eq!(e.kind, ErrorKind::InvalidPath, "{bad}");
        assert!(
            e.detail.contains("invalid path at character"),
            "{bad}: {}",
            e.detail
        );
    }
    let long = "a".repeat(MAX_FILTER_LEN + 1);
    assert_eq!(
        parse_patch_path(&long).map_err(|e| e.kind),
        Err(ErrorKind::InvalidPath)
    );
}

#[test]
fn attr_paths() {
    assert_eq!(
        parse_attr_path("name.givenName").ok(),
        Some(AttrPath::with_sub("name", "givenName"))
    );
    assert_eq!(
        parse_attr_path(" meta.lastModified ").ok(),
        Some(AttrPath::with_sub("meta", "lastModified"))
    );
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:userName").ok(),
        Some(AttrPath {
            urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
            name: "userName".into(),
            sub: None
        })
    );
    for bad in ["", "a b", "a[b pr]", "a.", "1a", "a,b"] {
        assert_eq!(
            parse_attr_path(bad).map_err(|e| e.kind),
            Err(ErrorKind::InvalidPath),
            "{bad}"
        );
    }
}
