//! Listing helpers: paging through `pagination`, what Tableau's filter syntax can carry, and
//! picking the right entry among name matches.

use std::future::Future;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::client::TableauClient;
use super::errors::{TableauCode, TableauError};
use super::wire::Pagination;

/// Tableau's largest page (1–1000, reference §2.7): fewest round trips.
pub const PAGE_SIZE: u64 = 1000;
/// A runaway guard: 10 million entries at 1000 a page.
const MAX_PAGES: u64 = 10_000;

/// Told after each page: the entries read so far and, when Tableau says, how many there are.
pub type Progress<'a> = &'a (dyn Fn(usize, Option<u64>) + Send + Sync);

/// Calls `fetch(1)`, `fetch(2)`, … and gathers the items until `totalAvailable` is reached or
/// a page comes back short or empty. A page past the end (400006, e.g. entries deleted
/// meanwhile) ends the listing too.
/// `progress` is called after each page (a long listing's progress line).
pub async fn all_pages_reporting<T, F, Fut>(
    mut fetch: F,
    progress: Progress<'_>,
) -> Result<Vec<T>, TableauError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<(Option<Pagination>, Vec<T>), TableauError>>,
{
    let mut all = Vec::new();
    for page in 1..=MAX_PAGES {
        let (pagination, items) = match fetch(page).await {
            Ok(answer) => answer,
            Err(e) if page > 1 && e.code() == Some(&TableauCode::InvalidPageNumber) => break,
            Err(e) => return Err(e),
        };
        let got = items.len() as u64;
        all.extend(items);
        progress(all.len(), pagination.and_then(|p| p.total_available));
        let page_size = pagination
            .and_then(|p| p.page_size)
            .filter(|s| *s > 0)
            .unwrap_or(PAGE_SIZE);
        let done = match pagination.and_then(|p| p.total_available) {
            Some(total) => all.len() as u64 >= total,
            None => got < page_size,
        };
        if got == 0 || done {
            break;
        }
    }
    Ok(all)
}

impl TableauClient {
    /// `GET path` page by page at Tableau's largest page size, with the `extra` query pairs
    /// (a filter, `fields`) on every page; `items` takes one page's answer apart.
    pub(super) async fn get_all_pages<A, T>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        progress: Progress<'_>,
        items: impl Fn(A) -> (Option<Pagination>, Vec<T>) + Sync,
    ) -> Result<Vec<T>, TableauError>
    where
        A: DeserializeOwned + Send,
        T: Send,
    {
        let items = &items;
        let page_size = PAGE_SIZE.to_string();
        let page_size = page_size.as_str();
        all_pages_reporting(
            |page| async move {
                let page_number = page.to_string();
                let mut query = vec![
                    ("pageSize", page_size),
                    ("pageNumber", page_number.as_str()),
                ];
                query.extend_from_slice(extra);
                let answer: A = self.site_json(Method::GET, path, &query, None).await?;
                Ok(items(answer))
            },
            progress,
        )
        .await
    }
}

/// Whether `value` can go into `filter=field:op:value`: commas separate clauses and
/// ampersands are not supported (reference §2.7), so such names are found by listing.
pub fn filterable(value: &str) -> bool {
    !value.is_empty() && !value.contains([',', '&'])
}

/// The entry named `name`: an exact match first, else a case-insensitive one. (A `*` in an
/// `eq` filter is a wildcard, so a filtered answer may hold other names too.)
pub fn best_match<T>(items: Vec<T>, name: &str, name_of: impl Fn(&T) -> &str) -> Option<T> {
    let mut folded = None;
    for item in items {
        let candidate = name_of(&item);
        if candidate == name {
            return Some(item);
        }
        if folded.is_none() && candidate.to_lowercase() == name.to_lowercase() {
            folded = Some(item);
        }
    }
    folded
}

/// A LUID as one path segment. LUIDs are hex and dashes; anything else (which could change
/// the path, e.g. `..` or `/`) is refused rather than escaped.
pub fn segment(luid: &str) -> Result<&str, TableauError> {
    let plausible = !luid.is_empty()
        && luid.len() <= 64
        && luid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plausible {
        Ok(luid)
    } else {
        Err(TableauError::Protocol(format!(
            "'{luid}' is not a Tableau LUID"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_prefer_exact_case() {
        let names = vec!["ALICE@x", "alice@x", "alice@xy"];
        assert_eq!(best_match(names.clone(), "alice@x", |n| n), Some("alice@x"));
        assert_eq!(best_match(names.clone(), "Alice@X", |n| n), Some("ALICE@x"));
        assert_eq!(best_match(names, "bob", |n| n), None);
    }

    #[test]
    fn filter_and_path_escaping() {
        assert!(filterable("a.b+c@x.com"));
        assert!(!filterable("Sales, EMEA"));
        assert!(!filterable("R&D"));
        assert_eq!(segment("ab-12").unwrap(), "ab-12");
        assert!(segment("..").is_err());
        assert!(segment("a/b").is_err());
        assert!(segment("").is_err());
    }

    #[tokio::test]
    async fn pages_until_total() {
        let pages = all_pages_reporting(
            |page| async move {
                let items: Vec<u64> = match page {
                    1 => (0..1000).collect(),
                    2 => (1000..1100).collect(),
                    _ => panic!("asked for page {page}"),
                };
                let p = Pagination {
                    page_number: Some(page),
                    page_size: Some(1000),
                    total_available: Some(1100),
                };
                Ok((Some(p), items))
            },
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(pages.len(), 1100);
    }
}
