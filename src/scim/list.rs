//! List and search requests (RFC 7644 §3.4.2, §3.4.3): query parameters or a SearchRequest
//! body become one `ListQuery`; paging follows the RFC exactly (1-based `startIndex`, values
//! below 1 read as 1, negative `count` read as 0, `count` capped at the server maximum).

use super::{ScimError, ScimResult};
use serde_json::{Map, Value, json};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub filter: Option<String>,
    /// 1-based, already clamped to at least 1.
    pub start_index: usize,
    /// Requested page size, already clamped to `[0, max]`; `None` → server default.
    pub count: Option<usize>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_int(name: &str, v: &str) -> ScimResult<i64> {
    v.trim().parse::<i64>().map_err(|_| {
        ScimError::invalid_value(format!(
            "query parameter {name} must be an integer, got {v:?}"
        ))
    })
}

fn parse_sort_order(v: &str) -> ScimResult<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "ascending" | "" => Ok(false),
        "descending" => Ok(true),
        other => Err(ScimError::invalid_value(format!(
            "sortOrder must be \"ascending\" or \"descending\", got {other:?}"
        ))),
    }
}

impl ListQuery {
    /// From a raw query string. Names are matched case-insensitively; unknown parameters
    /// (Entra's `aadOptscim062020`, cache busters) are ignored; `+` and `%20` are spaces.
    pub fn from_query_string(qs: &str, max_page: usize) -> ScimResult<Self> {
        let mut q = ListQuery {
            start_index: 1,
            ..Default::default()
        };
        for (k, v) in url::form_urlencoded::parse(qs.as_bytes()) {
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(v.into_owned()),
                "startindex" => q.start_index = parse_int("startIndex", &v)?.max(1) as usize,
                "count" => {
                    q.count = Some(parse_int("count", &v)?.clamp(0, max_page as i64) as usize)
                }
                "sortby" => q.sort_by = Some(v.trim().to_string()).filter(|s| !s.is_empty()),
                "sortorder" => q.descending = parse_sort_order(&v)?,
                "attributes" => q.attributes.extend(split_list(&v)),
                "excludedattributes" => q.excluded_attributes.extend(split_list(&v)),
                _ => {}
            }
        }
        Ok(q)
    }

    /// From a `POST .search` SearchRequest body.
    pub fn from_search_request(body: &Value, max_page: usize) -> ScimResult<Self> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let mut q = ListQuery {
            start_index: 1,
            ..Default::default()
        };
        for (k, v) in obj {
            let bad = |what: &str| ScimError::invalid_value(format!("{k} must be {what}"));
            match k.to_ascii_lowercase().as_str() {
                "schemas" => {
                    let ok = v.as_array().is_some_and(|a| {
                        a.iter().any(|s| {
                            s.as_str()
                                .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
                        })
                    });
                    if !ok {
                        return Err(ScimError::invalid_syntax(format!(
                            "schemas must contain {SEARCH_REQUEST_SCHEMA}"
                        )));
                    }
                }
                "filter" => q.filter = Some(v.as_str().ok_or_else(|| bad("a string"))?.to_string()),
                "startindex" => {
                    q.start_index = v.as_i64().ok_or_else(|| bad("an integer"))?.max(1) as usize
                }
                "count" => {
                    q.count = Some(
                        v.as_i64()
                            .ok_or_else(|| bad("an integer"))?
                            .clamp(0, max_page as i64) as usize,
                    )
                }
                "sortby" => {
                    q.sort_by = Some(v.as_str().ok_or_else(|| bad("a string"))?.to_string())
                }
                "sortorder" => {
                    q.descending = parse_sort_order(v.as_str().ok_or_else(|| bad("a string"))?)?
                }
                "attributes" | "excludedattributes" => {
                    let list: Vec<String> = match v {
                        Value::String(s) => split_list(s),
                        Value::Array(a) => a
                            .iter()
                            .map(|x| {
                                x.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| bad("a list of strings"))
                            })
                            .collect::<ScimResult<_>>()?,
                        _ => return Err(bad("a list of strings")),
                    };
                    if k.eq_ignore_ascii_case("attributes") {
                        q.attributes = list;
                    } else {
                        q.excluded_attributes = list;
                    }
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// The page size to use: the requested count, or the default; never above `max`.
    pub fn page_size(&self, default: usize, max: usize) -> usize {
        self.count.unwrap_or(default).min(max)
    }
}

/// Select the page `[start_index, start_index + page_size)` (1-based) from the full result.
pub fn page<T>(items: Vec<T>, start_index: usize, page_size: usize) -> Vec<T> {
    items
        .into_iter()
        .skip(start_index.saturating_sub(1))
        .take(page_size)
        .collect()
}

/// A ListResponse. `Resources` is always present (Okta and Entra expect it, even empty).
pub fn list_response(
    total: usize,
    start_index: usize,
    resources: Vec<Map<String, Value>>,
) -> Value {
    let mut out = Map::with_capacity(5);
    out.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    out.insert("totalResults".into(), total.into());
    out.insert("startIndex".into(), start_index.into());
    out.insert("itemsPerPage".into(), resources.len().into());
    // Moved in, not serialised into a copy as `json!` would.
    out.insert(
        "Resources".into(),
        Value::Array(resources.into_iter().map(Value::Object).collect()),
    );
    Value::Object(out)
}

/// [`list_response`] serialised, around resources already serialised (each a JSON object):
/// the bytes `serde_json::to_vec(&list_response(..))` gives for the same resources.
pub fn list_response_json(total: usize, start_index: usize, resources: &[Vec<u8>]) -> Vec<u8> {
    let size: usize = resources.iter().map(|r| r.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 160);
    out.extend_from_slice(b"{\"schemas\":[");
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut out, LIST_RESPONSE_SCHEMA);
    out.extend_from_slice(
        format!(
            "],\"totalResults\":{total},\"startIndex\":{start_index},\"itemsPerPage\":{},\"Resources\":[",
            resources.len()
        )
        .as_bytes(),
    );
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serialised_list_response_is_the_one_serde_json_writes() {
        let docs = [
            serde_json::from_str::<Map<String, Value>>(r#"{"id":"a","x":[1,{"y":"\u0001é"}]}"#)
                .unwrap(),
            serde_json::from_str::<Map<String, Value>>(r#"{"id":"b"}"#).unwrap(),
        ];
        for n in 0..=docs.len() {
            let some = docs[..n].to_vec();
            let bytes: Vec<Vec<u8>> = some
                .iter()
                .map(|d| serde_json::to_vec(d).unwrap())
                .collect();
            assert_eq!(
                String::from_utf8(list_response_json(7, 3, &bytes)).unwrap(),
                serde_json::to_string(&list_response(7, 3, some)).unwrap()
            );
        }
    }

    #[test]
    fn query_string_paging_rules() {
        let q = ListQuery::from_query_string("startIndex=0&count=-5", 100).unwrap();
        assert_eq!((q.start_index, q.count), (1, Some(0)));
        let q = ListQuery::from_query_string("STARTINDEX=3&Count=5000", 100).unwrap();
        assert_eq!((q.start_index, q.count), (3, Some(100)));
        assert!(ListQuery::from_query_string("count=abc", 100).is_err());
    }

    #[test]
    fn plus_and_percent_20_are_spaces_and_unknown_params_ignored() {
        let q = ListQuery::from_query_string(
            "filter=userName+eq+%22a%20b%22&aadOptscim062020&excludedAttributes=members",
            100,
        )
        .unwrap();
        assert_eq!(q.filter.as_deref(), Some("userName eq \"a b\""));
        assert_eq!(q.excluded_attributes, vec!["members"]);
    }

    #[test]
    fn search_request_body() {
        let body = json!({"schemas": [SEARCH_REQUEST_SCHEMA], "filter": "userName pr",
            "startIndex": 2, "count": 3, "attributes": ["userName"], "sortOrder": "descending"});
        let q = ListQuery::from_search_request(&body, 100).unwrap();
        assert_eq!(q.start_index, 2);
        assert_eq!(q.count, Some(3));
        assert!(q.descending);
        assert!(ListQuery::from_search_request(&json!({"schemas": ["x"]}), 100).is_err());
    }

    #[test]
    fn paging_bounds() {
        let v: Vec<i32> = (1..=10).collect();
        assert_eq!(page(v.clone(), 1, 3), vec![1, 2, 3]);
        assert_eq!(page(v.clone(), 9, 5), vec![9, 10]);
        assert!(page(v.clone(), 11, 5).is_empty());
        assert!(page(v, 1, 0).is_empty());
    }
}
