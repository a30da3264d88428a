//! Which store index can narrow the candidates of a filter (the store indexes `id`,
//! `userName`, `externalId`, `displayName` and `emails.value`; see `crate::model::Lookup`).

use super::ast::{CompareOp, Filter};
use crate::model::Lookup;
use crate::scim::schema::ResourceSchema;
use serde_json::Value;

/// The index lookup that narrows the candidates for `filter`, if any: an equality on `id`,
/// `userName`, `externalId`, `displayName` or `emails.value` (also written `emails eq`,
/// `emails[value eq "x"]`, or Entra's `emails[type eq "work"].value eq "x"`), alone or as one
/// side of an `and`. The store returns a superset; the caller still evaluates the whole filter
/// on each candidate, so the lookup only has to be implied by the filter, never equivalent.
pub fn equality_lookup(filter: &Filter, schema: &ResourceSchema) -> Option<Lookup> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, Value::String(s)) => {
            let r = schema.resolve(path.urn.as_deref(), &path.name)?;
            if r.in_extension {
                return None;
            }
            let name = r.def.name.as_str();
            match path.sub.as_deref() {
                None => match name {
                    "id" => Some(Lookup::Id(s.clone())),
                    "userName" => Some(Lookup::UserName(s.clone())),
                    "externalId" => Some(Lookup::ExternalId(s.clone())),
                    "displayName" => Some(Lookup::DisplayName(s.clone())),
                    // `emails eq "x"` compares the `value` sub-attribute.
                    "emails" => Some(Lookup::EmailValue(s.clone())),
                    _ => None,
                },
                Some(sub) if name == "emails" && sub.eq_ignore_ascii_case("value") => {
                    Some(Lookup::EmailValue(s.clone()))
                }
                Some(_) => None,
            }
        }
        Filter::ValuePath(path, inner) if path.sub.is_none() => {
            let r = schema.resolve(path.urn.as_deref(), &path.name)?;
            if r.in_extension || r.def.name != "emails" {
                return None;
            }
            email_value_in(inner).map(Lookup::EmailValue)
        }
        Filter::And(l, r) => {
            let (l, r) = (equality_lookup(l, schema), equality_lookup(r, schema));
            match (l, r) {
                (Some(a), Some(b)) => Some(if selectivity(&a) <= selectivity(&b) {
                    a
                } else {
                    b
                }),
                (a, b) => a.or(b),
            }
        }
        _ => None,
    }
}

/// The lookup whose matches are exactly the resources `filter` matches, if there is one: then
/// the store's candidates need no evaluation. That is a filter of one equality on a
/// single-valued indexed attribute whose index compares as the filter does: `id` and
/// `externalId` (caseExact: both compare exactly), `userName` and `displayName` (not caseExact)
/// when the lower-cased value is ASCII. The index holds `str::to_lowercase` of the stored
/// value, the filter folds the stored value char by char; the two differ only on a final
/// capital sigma, which no value folding to ASCII contains.
pub fn exact_lookup(filter: &Filter, schema: &ResourceSchema) -> Option<Lookup> {
    let Filter::Compare(path, CompareOp::Eq, Value::String(want)) = filter else {
        return None;
    };
    if path.sub.is_some() {
        return None;
    }
    let exact = super::eval::case_exact(schema.resolve(path.urn.as_deref(), &path.name)?.def);
    match equality_lookup(filter, schema)? {
        lookup @ (Lookup::Id(_) | Lookup::ExternalId(_)) if exact => Some(lookup),
        lookup @ (Lookup::UserName(_) | Lookup::DisplayName(_))
            if !exact && want.to_lowercase().is_ascii() =>
        {
            Some(lookup)
        }
        _ => None,
    }
}

/// `value eq "x"` inside an emails value filter, alone or under `and`.
fn email_value_in(inner: &Filter) -> Option<String> {
    match inner {
        Filter::Compare(path, CompareOp::Eq, Value::String(s))
            if path.urn.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(s.clone())
        }
        Filter::And(l, r) => email_value_in(l).or_else(|| email_value_in(r)),
        _ => None,
    }
}

/// Lower is narrower: unique keys first.
fn selectivity(l: &Lookup) -> u8 {
    match l {
        Lookup::Id(_) => 0,
        Lookup::UserName(_) => 1,
        Lookup::ExternalId(_) => 2,
        Lookup::EmailValue(_) => 3,
        Lookup::DisplayName(_) => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse::parse_filter;
    use crate::scim::schema::SchemaRegistry;

    fn user_schema() -> &'static ResourceSchema {
        &SchemaRegistry::builtin().user
    }

    fn group_schema() -> &'static ResourceSchema {
        &SchemaRegistry::builtin().group
    }

    #[test]
    fn equality_lookup_finds_indexed_equalities() {
        let s = user_schema();
        let lookup = |f: &str| parse_filter(f).ok().and_then(|f| equality_lookup(&f, s));
        assert_eq!(
            lookup(r#"userName eq "Bob""#),
            Some(Lookup::UserName("Bob".into()))
        );
        assert_eq!(
            lookup(r#"USERNAME Eq "Bob""#),
            Some(Lookup::UserName("Bob".into()))
        );
        assert_eq!(
            lookup(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Bob""#),
            Some(Lookup::UserName("Bob".into()))
        );
        assert_eq!(lookup(r#"id eq "1""#), Some(Lookup::Id("1".into())));
        assert_eq!(
            lookup(r#"externalId eq "e""#),
            Some(Lookup::ExternalId("e".into()))
        );
        assert_eq!(
            lookup(r#"displayName eq "d""#),
            Some(Lookup::DisplayName("d".into()))
        );
        for f in [
            r#"emails.value eq "a@b.c""#,
            r#"emails eq "a@b.c""#,
            r#"emails[value eq "a@b.c"]"#,
            r#"emails[type eq "work"].value eq "a@b.c""#,
            r#"emails[type eq "work" and value eq "a@b.c"]"#,
        ] {
            assert_eq!(lookup(f), Some(Lookup::EmailValue("a@b.c".into())), "{f}");
        }
        // The narrowest side of an `and` wins.
        assert_eq!(
            lookup(r#"displayName eq "d" and userName eq "u" and active eq true"#),
            Some(Lookup::UserName("u".into()))
        );
        assert_eq!(
            lookup(r#"active eq true and externalId eq "e""#),
            Some(Lookup::ExternalId("e".into()))
        );
        // Nothing an index can answer alone.
        for f in [
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"userName ne "a""#,
            r#"userName sw "a""#,
            r#"userName eq 5"#,
            r#"emails[value eq "a" or type eq "work"]"#,
            r#"emails.type eq "work""#,
            r#"name.givenName eq "a""#,
            r#"employeeNumber eq "1""#,
            r#"phoneNumbers.value eq "1""#,
        ] {
            assert_eq!(lookup(f), None, "{f}");
        }
        // Groups have no userName or emails.
        let g = group_schema();
        let glookup = |f: &str| parse_filter(f).ok().and_then(|f| equality_lookup(&f, g));
        assert_eq!(
            glookup(r#"displayName eq "G""#),
            Some(Lookup::DisplayName("G".into()))
        );
        assert_eq!(glookup(r#"userName eq "u""#), None);
        assert_eq!(glookup(r#"emails.value eq "u""#), None);
    }

    #[test]
    fn exact_lookups_are_single_equalities_the_index_compares_alike() {
        let s = user_schema();
        let exact = |f: &str| parse_filter(f).ok().and_then(|f| exact_lookup(&f, s));
        assert_eq!(
            exact(r#"userName eq "Bob@Example.com""#),
            Some(Lookup::UserName("Bob@Example.com".into()))
        );
        assert_eq!(exact(r#"id eq "1""#), Some(Lookup::Id("1".into())));
        assert_eq!(
            exact(r#"externalId eq "E""#),
            Some(Lookup::ExternalId("E".into()))
        );
        assert_eq!(
            exact(r#"displayName eq "D""#),
            Some(Lookup::DisplayName("D".into()))
        );
        // Lower-cased to ASCII: the Kelvin sign folds to `k` both ways.
        assert_eq!(
            exact("userName eq \"\u{212A}im\""),
            Some(Lookup::UserName("\u{212A}im".into()))
        );
        for f in [
            // Evaluated on each candidate: more than the index's equality.
            r#"userName eq "a" and active eq true"#,
            r#"emails.value eq "a@b.c""#,
            r#"emails[value eq "a@b.c"]"#,
            r#"userName eq 5"#,
            r#"userName sw "a""#,
            // Not ASCII once lower-cased: folding may differ from the index's (final sigma).
            "userName eq \"ΟΔΟΣ\"",
            "displayName eq \"Zoë\"",
        ] {
            assert_eq!(exact(f), None, "{f}");
        }
        let g = group_schema();
        let gexact = |f: &str| parse_filter(f).ok().and_then(|f| exact_lookup(&f, g));
        assert_eq!(
            gexact(r#"displayName eq "Sales""#),
            Some(Lookup::DisplayName("Sales".into()))
        );
        assert_eq!(gexact(r#"userName eq "u""#), None);
    }
}
