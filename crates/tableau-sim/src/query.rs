//! Query parameters of list methods: `pageSize`/`pageNumber`, `filter=field:op:value[,…]`,
//! `sort=field:asc|desc[,…]`, `fields=…`, with Tableau's error codes.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::errors::{ApiError, ApiResult};
use super::faults::wildcard_match;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Cieq,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Has,
    Like,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "cieq" => Op::Cieq,
            "in" => Op::In,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "has" => Op::Has,
            "like" => Op::Like,
            _ => return None,
        })
    }
}

/// One `field:op:value` clause; `in` carries several values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// Which fields a resource type can be filtered on, and with which operators.
pub type FilterFields = &'static [(&'static str, &'static [Op])];

/// Something a filter or sort can look into.
pub trait Queryable {
    fn field(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl<T: Queryable> Queryable for &T {
    fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).field(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    Default,
    All,
    /// Named fields; `_default_` may be among them.
    Named(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub page_size: usize,
    pub page_number: usize,
    pub filter: Vec<Clause>,
    pub sort: Vec<(String, bool)>,
    pub fields: Fields,
}

impl ListQuery {
    /// Parses a raw query string (percent-decoded here; TSC encodes from API 3.7 on).
    pub fn parse(
        query: &str,
        filter_fields: FilterFields,
        sort_fields: &[&str],
    ) -> ApiResult<ListQuery> {
        let mut q = ListQuery {
            page_size: DEFAULT_PAGE_SIZE,
            page_number: 1,
            filter: Vec::new(),
            sort: Vec::new(),
            fields: Fields::Default,
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "pageSize" => q.page_size = parse_page_size(&value)?,
                "pageNumber" => {
                    q.page_number = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(ApiError::invalid_page_number)?
                }
                "filter" => q.filter = parse_filter(&value, filter_fields)?,
                "sort" => q.sort = parse_sort(&value, sort_fields)?,
                "fields" => q.fields = parse_fields(&value),
                _ => {}
            }
        }
        Ok(q)
    }

    pub fn matches(&self, item: &impl Queryable) -> bool {
        self.filter.iter().all(|c| clause_matches(c, item))
    }

    /// Sorts by the requested keys (stable, so the name order underneath is kept for ties).
    pub fn sort<T: Queryable>(&self, items: &mut [T]) {
        if self.sort.is_empty() {
            return;
        }
        items.sort_by(|a, b| {
            for (field, ascending) in &self.sort {
                let ord = compare(a.field(field).as_deref(), b.field(field).as_deref());
                let ord = if *ascending { ord } else { ord.reverse() };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }

    /// The slice of `total` items on the requested page: 400006 for a page past the end
    /// (page 1 of an empty list is fine).
    pub fn page_range(&self, total: usize) -> ApiResult<std::ops::Range<usize>> {
        let start = (self.page_number - 1).saturating_mul(self.page_size);
        if self.page_number > 1 && start >= total {
            return Err(ApiError::invalid_page_number());
        }
        Ok(start.min(total)..start.saturating_add(self.page_size).min(total))
    }

    /// The equality clause on `field` with one exact value, if any (lets lists use an index).
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.filter
            .iter()
            .find_map(|c| match (c.op, c.values.as_slice()) {
                (Op::Eq, [v]) if c.field == field && !v.contains('*') => Some(v.as_str()),
                _ => None,
            })
    }
}

fn parse_page_size(value: &str) -> ApiResult<usize> {
    match value.trim().parse::<i64>() {
        Ok(n) if n > MAX_PAGE_SIZE as i64 => Err(ApiError::page_size_limit()),
        Ok(n) if n >= 1 => Ok(n as usize),
        // Larger than any i64 is still "over the limit".
        Err(_) if !value.is_empty() && value.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Err(ApiError::page_size_limit())
        }
        _ => Err(ApiError::invalid_page_size()),
    }
}

/// Splits on commas outside `[…]`, so `name:in:[a,b],siteRole:eq:Viewer` is two clauses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn bad_filter(clause: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid filter '{clause}': {why}"))
}

fn parse_filter(value: &str, fields: FilterFields) -> ApiResult<Vec<Clause>> {
    let mut clauses = Vec::new();
    for raw in split_top_level(value).into_iter().filter(|c| !c.is_empty()) {
        let mut parts = raw.splitn(3, ':');
        let (Some(field), Some(op), Some(operand)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_filter(raw, "expected field:operator:value"));
        };
        let op = Op::parse(op).ok_or_else(|| bad_filter(raw, "unknown operator"))?;
        let Some((_, ops)) = fields.iter().find(|(f, _)| *f == field) else {
            return Err(bad_filter(raw, "this field cannot be filtered"));
        };
        if !ops.contains(&op) {
            return Err(bad_filter(
                raw,
                "this operator is not supported on this field",
            ));
        }
        let values = if op == Op::In {
            let inner = operand
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(|| bad_filter(raw, "'in' takes a list like [a,b]"))?;
            inner.split(',').map(str::to_owned).collect()
        } else {
            vec![operand.to_owned()]
        };
        clauses.push(Clause {
            field: field.to_owned(),
            op,
            values,
        });
    }
    Ok(clauses)
}

fn parse_sort(value: &str, fields: &[&str]) -> ApiResult<Vec<(String, bool)>> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (field, dir) = item.split_once(':').unwrap_or((item, "asc"));
            if !fields.contains(&field) {
                return Err(ApiError::bad_request(format!(
                    "Invalid sort '{item}': unknown field"
                )));
            }
            match dir {
                "asc" => Ok((field.to_owned(), true)),
                "desc" => Ok((field.to_owned(), false)),
                _ => Err(ApiError::bad_request(format!(
                    "Invalid sort '{item}': use asc or desc"
                ))),
            }
        })
        .collect()
}

fn parse_fields(value: &str) -> Fields {
    let names: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.iter().any(|n| n == "_all_") {
        Fields::All
    } else if names.is_empty() || names == ["_default_"] {
        Fields::Default
    } else {
        Fields::Named(names)
    }
}

/// Numbers compare as numbers, everything else as text; absent values sort first.
fn compare(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.to_lowercase().cmp(&b.to_lowercase()),
        },
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

fn clause_matches(clause: &Clause, item: &impl Queryable) -> bool {
    let Some(actual) = item.field(&clause.field) else {
        return false;
    };
    let actual = actual.as_ref();
    let first = clause.values.first().map(String::as_str).unwrap_or("");
    match clause.op {
        // `*` is Tableau's wildcard (starts-with, ends-with, contains).
        Op::Eq | Op::Like => {
            if first.contains('*') {
                wildcard_match(first, actual)
            } else {
                actual == first
            }
        }
        Op::Cieq => actual.to_lowercase() == first.to_lowercase(),
        Op::In => clause.values.iter().any(|v| v == actual),
        Op::Has => actual.to_lowercase().contains(&first.to_lowercase()),
        Op::Gt => compare(Some(actual), Some(first)) == Ordering::Greater,
        Op::Gte => compare(Some(actual), Some(first)) != Ordering::Less,
        Op::Lt => compare(Some(actual), Some(first)) == Ordering::Less,
        Op::Lte => compare(Some(actual), Some(first)) != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: FilterFields = &[
        ("name", &[Op::Eq, Op::Cieq, Op::In]),
        ("siteRole", &[Op::Eq, Op::In]),
    ];

    #[test]
    fn paging_errors_are_tableaus() {
        let parse = |q: &str| ListQuery::parse(q, FIELDS, &["name"]);
        assert_eq!(parse("pageSize=1001").unwrap_err().code, 403014);
        assert_eq!(
            parse("pageSize=99999999999999999999999").unwrap_err().code,
            403014
        );
        assert_eq!(parse("pageSize=0").unwrap_err().code, 400007);
        assert_eq!(parse("pageSize=x").unwrap_err().code, 400007);
        assert_eq!(parse("pageNumber=0").unwrap_err().code, 400006);
        let q = parse("pageSize=2&pageNumber=3").unwrap();
        assert_eq!(q.page_range(5).unwrap(), 4..5);
        assert_eq!(q.page_range(4).unwrap_err().code, 400006);
        assert_eq!(parse("").unwrap().page_range(0).unwrap(), 0..0);
    }

    #[test]
    fn filters_parse_in_lists_and_refuse_unknowns() {
        let q = ListQuery::parse(
            "filter=name%3Ain%3A%5Ba%2Cb%5D,siteRole:eq:Viewer",
            FIELDS,
            &[],
        )
        .unwrap();
        assert_eq!(q.filter[0].values, vec!["a", "b"]);
        assert_eq!(q.filter[1].op, Op::Eq);
        assert!(ListQuery::parse("filter=email:eq:x", FIELDS, &[]).is_err());
        assert!(ListQuery::parse("filter=siteRole:cieq:x", FIELDS, &[]).is_err());
        assert!(ListQuery::parse("filter=name", FIELDS, &[]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_query(query in "\\PC{0,120}", total in 0usize..5000) {
            if let Ok(q) = ListQuery::parse(&query, FIELDS, &["name"])
                && let Ok(range) = q.page_range(total)
            {
                proptest::prop_assert!(range.start <= range.end && range.end <= total);
            }
        }
    }
}
