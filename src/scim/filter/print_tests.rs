//! Printer tests: canonical forms, and the property that printing then parsing gives back the
//! same tree; plus "the parser never panics" on arbitrary and grammar-shaped input.

use super::super::parse::{parse_filter, parse_patch_path};
use super::*;
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn canonical_text() {
    let cases = [
        (r#"userName Eq "bjensen""#, r#"userName eq "bjensen""#),
        ("A PR  AND\tb pr", "A pr and b pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
        ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
        ("a pr and (b pr or c pr)", "a pr and (b pr or c pr)"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("NOT(a pr)", "not (a pr)"),
        (
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails[type eq "work" and value eq "x"]"#,
        ),
        (r#"x eq "a\"b\\c\u0001""#, r#"x eq "a\"b\\c\u0001""#),
        ("x eq 1E3", "x eq 1000.0"),
        ("x eq FALSE or y eq Null", "x eq false or y eq null"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        ),
    ];
    for (input, want) in cases {
        let f = parse_filter(input).map_err(|e| e.detail);
        assert_eq!(f.map(|f| f.to_string()), Ok(want.to_string()), "{input}");
    }
    let p = parse_patch_path(r#"emails[type eq "work"].VALUE"#).map(|p| p.to_string());
    assert_eq!(p.ok().as_deref(), Some(r#"emails[type eq "work"].VALUE"#));
    assert_eq!(CompareOp::Ge.to_string(), "ge");
}

fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        // Names that collide with keywords must still round-trip.
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "$ref"])
            .prop_map(str::to_string),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::weighted(0.2, "urn(:[a-zA-Z0-9.]{1,4}){1,4}"),
        attr_name(),
        prop::option::weighted(0.3, attr_name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn comp_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        "[ -~]{0,8}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn attr_exp() -> impl Strategy<Value = Filter> {
    prop_oneof![
        attr_path().prop_map(Filter::Present),
        (attr_path(), op(), comp_value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
    ]
}

fn combine(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(5, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
        ]
    })
    .boxed()
}

/// A filter without value paths: what may appear inside `[...]`.
fn val_filter() -> BoxedStrategy<Filter> {
    combine(attr_exp().boxed())
}

fn filter() -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        3 => attr_exp(),
        1 => (attr_path(), val_filter()).prop_map(|(p, f)| Filter::ValuePath(p, Box::new(f))),
    ];
    combine(leaf.boxed())
}

/// Token soup: fragments of the grammar glued together, to reach deep parser states that
/// uniformly random strings rarely hit.
fn grammar_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "userName", "emails", "urn:a:b:", ".", "value", "[", "]", "(", ")", "not", "and", "or",
        " ", "\t", "eq", "pr", "gt", "\"x\"", "\"", "\\", "\\u", "d83d", "12", "-", "1e", "true",
        "null", "é", ":", "$ref",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_round_trips(f in filter()) {
        let text = f.to_string();
        let back = parse_filter(&text);
        prop_assert_eq!(back.as_ref().ok(), Some(&f), "text: {} error: {:?}", text, back.as_ref().err());
    }

    #[test]
    fn patch_path_round_trips(
        attr in attr_path(),
        filter in prop::option::of(val_filter()),
        sub in prop::option::of(attr_name()),
    ) {
        // A trailing sub-attribute only exists after a value filter.
        let sub = if filter.is_some() { sub } else { None };
        let path = PatchPath { attr, filter, sub };
        let text = path.to_string();
        let back = parse_patch_path(&text);
        prop_assert_eq!(back.as_ref().ok(), Some(&path), "text: {} error: {:?}", text, back.as_ref().err());
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_filter(&s);
        let _ = parse_patch_path(&s);
        let _ = super::super::parse::parse_attr_path(&s);
    }

    #[test]
    fn parser_never_panics_on_grammar_soup_and_printing_is_stable(s in grammar_soup()) {
        let _ = parse_patch_path(&s);
        if let Ok(f) = parse_filter(&s) {
            // Whatever parses, prints to text that parses to the same tree.
            prop_assert_eq!(parse_filter(&f.to_string()).ok(), Some(f));
        }
    }
}
