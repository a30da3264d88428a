//! A small strict parser of the Prometheus text format (0.0.4), enough to read `/metrics`:
//! `# HELP` / `# TYPE` lines and samples `name{label="value",…} number`. Anything else fails
//! the test, so a malformed exposition cannot pass.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub struct Scrape {
    /// Family name → type, from `# TYPE`.
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(is_name(name), "line {n}: bad metric name in {line:?}");
            match kind {
                "HELP" => {}
                "TYPE" => {
                    let ty = parts.next().unwrap_or("");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                        "line {n}: bad type in {line:?}"
                    );
                    assert!(
                        scrape
                            .types
                            .insert(name.to_owned(), ty.to_owned())
                            .is_none(),
                        "line {n}: {name} typed twice"
                    );
                }
                _ => panic!("line {n}: unknown comment {line:?}"),
            }
            continue;
        }
        scrape.samples.push(sample(line, n));
    }
    for s in &scrape.samples {
        assert!(
            scrape.family_of(&s.name).is_some(),
            "sample {} has no # TYPE",
            s.name
        );
    }
    scrape
}

fn sample(line: &str, n: usize) -> Sample {
    let (name_and_labels, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("line {n}: no value in {line:?}"));
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("line {n}: bad value in {line:?}")),
    };
    let (name, labels) = match name_and_labels.split_once('{') {
        None => (name_and_labels, BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("line {n}: unclosed labels in {line:?}"));
            (name, labels(body, n))
        }
    };
    assert!(is_name(name), "line {n}: bad name in {line:?}");
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

/// `a="x",b="y\"z"` (escapes: `\\`, `\"`, `\n`).
fn labels(body: &str, n: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("line {n}: bad label in {body:?}"));
        assert!(is_name(key), "line {n}: bad label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => panic!("line {n}: bad escape in {body:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("line {n}: unterminated label value in {body:?}"),
            }
        };
        assert!(
            out.insert(key.to_owned(), value).is_none(),
            "line {n}: label {key} twice"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

impl Scrape {
    /// The `# TYPE`d family a sample name belongs to (`x_bucket` → `x` for a histogram).
    pub fn family_of(&self, sample: &str) -> Option<&str> {
        if let Some((name, _)) = self.types.get_key_value(sample) {
            return Some(name);
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = sample.strip_suffix(suffix)?;
            match self.types.get_key_value(base) {
                Some((name, ty)) if ty == "histogram" || ty == "summary" => Some(name.as_str()),
                _ => None,
            }
        })
    }

    /// Every name a query may use: families, and the series names of histograms.
    pub fn names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (name, ty) in &self.types {
            names.insert(name.clone());
            if ty == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
        names
    }

    /// The value of the one sample with this name and exactly these labels (0 if none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert!(found.len() <= 1, "{name} {want:?} appears twice");
        found.first().map_or(0.0, |s| s.value)
    }
}

#[test]
fn the_parser_reads_the_format_and_refuses_garbage() {
    let text = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
    let s = parse(text);
    assert_eq!(s.value("a_total", &[("x", "1"), ("y", "q\"")]), 3.0);
    assert_eq!(s.value("h_count", &[]), 2.0);
    assert!(s.names().contains("h_bucket"));
    for bad in [
        "a_total 1\n",
        "# TYPE a counter\na{x=1} 2\n",
        "# TYPE a counter\na x\n",
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad:?}");
    }
}
