//! Fault injection: per endpoint pattern, a share of requests answered 429 (with or without
//! `Retry-After`), 500 or 503, delayed, or dropped without an answer. Draws come from one
//! seeded generator, so the same requests in the same order meet the same faults.
//!
//! Grammar of a rule (`--fault SPEC`, `POST /_sim/faults`):
//!
//! ```text
//! SPEC     := [METHOD ':'] PATH '=' EFFECT (',' EFFECT)*
//! METHOD   := GET | POST | PUT | DELETE | '*'            (default: any method)
//! PATH     := '/'-separated glob; '*' matches within one segment, '**' any number of segments
//! EFFECT   := '429:' SHARE [':retry-after=' SECONDS]
//!           | '500:' SHARE | '503:' SHARE | 'drop:' SHARE
//!           | 'error:' CODE ':' SHARE                   (a Tableau error, e.g. error:400000:1)
//!           | 'latency:' DURATION [':' SHARE]           (default share 1)
//! SHARE    := a number in [0, 1]
//! DURATION := INTEGER ('ms' | 's')
//! ```
//!
//! Example: `POST:/api/*/sites/*/users=429:0.2:retry-after=1,latency:50ms`.

use std::time::Duration;

use serde::Serialize;

use super::errors::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FaultEffect {
    /// 429000; `Retry-After` only when `retry_after_secs` is set (Tableau Cloud sends none).
    TooManyRequests {
        share: f64,
        retry_after_secs: Option<u64>,
    },
    /// 500 or 503 with a Tableau error body.
    ServerError { status: u16, share: f64 },
    /// The connection is closed without a complete answer.
    Drop { share: f64 },
    /// A Tableau error with this six-digit code (its first three digits are the status), as
    /// Tableau answers a refused call: to test how a client handles a permanent refusal.
    Error { code: u32, share: f64 },
    /// Added before the answer.
    Latency { millis: u64, share: f64 },
}

/// One parsed `--fault` rule; `spec` keeps the text it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRule {
    pub spec: String,
    pub method: Option<String>,
    pub path: String,
    pub effects: Vec<FaultEffect>,
}

/// What the dispatcher must do to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultOutcome {
    Pass,
    Fail {
        error: ApiError,
        retry_after_secs: Option<u64>,
    },
    Drop,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultDecision {
    pub delay: Duration,
    pub outcome: FaultOutcome,
}

/// Counts of injected faults, for the control API and tests.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    pub too_many_requests: u64,
    pub server_errors: u64,
    pub drops: u64,
    pub delays: u64,
    /// Tableau errors injected by `error:` effects.
    pub errors: u64,
}

#[derive(Debug)]
pub struct FaultTable {
    rules: Vec<FaultRule>,
    rng: fastrand::Rng,
    counts: FaultCounts,
}

impl FaultRule {
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let (target, effects) = spec
            .split_once('=')
            .ok_or_else(|| format!("fault '{spec}': expected PATH=EFFECT[,EFFECT…]"))?;
        let (method, path) = match target.split_once(':') {
            Some((m, p)) => (Some(m.trim().to_ascii_uppercase()), p.trim()),
            None => (None, target.trim()),
        };
        if let Some(m) = &method
            && !matches!(m.as_str(), "GET" | "POST" | "PUT" | "DELETE" | "*")
        {
            return Err(format!("fault '{spec}': unknown method '{m}'"));
        }
        if !path.starts_with('/') {
            return Err(format!("fault '{spec}': the path must start with '/'"));
        }
        let effects = effects
            .split(',')
            .map(|e| parse_effect(e.trim()).map_err(|why| format!("fault '{spec}': {why}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultRule {
            spec: spec.to_owned(),
            method: method.filter(|m| m != "*"),
            path: path.to_owned(),
            effects,
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && path_matches(&self.path, path)
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("share '{s}' must be a number between 0 and 1")),
    }
}

fn parse_duration(s: &str) -> Result<u64, String> {
    let parsed = if let Some(ms) = s.strip_suffix("ms") {
        ms.parse::<u64>().ok()
    } else if let Some(secs) = s.strip_suffix('s') {
        secs.parse::<u64>().ok().and_then(|v| v.checked_mul(1000))
    } else {
        None
    };
    parsed.ok_or_else(|| format!("duration '{s}' must look like 50ms or 2s"))
}

fn parse_effect(effect: &str) -> Result<FaultEffect, String> {
    let parts: Vec<&str> = effect.split(':').collect();
    match parts.as_slice() {
        ["429", share] => Ok(FaultEffect::TooManyRequests {
            share: parse_share(share)?,
            retry_after_secs: None,
        }),
        ["429", share, retry] => {
            let secs = retry
                .strip_prefix("retry-after=")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("expected retry-after=SECONDS, got '{retry}'"))?;
            Ok(FaultEffect::TooManyRequests {
                share: parse_share(share)?,
                retry_after_secs: Some(secs),
            })
        }
        [status @ ("500" | "503"), share] => Ok(FaultEffect::ServerError {
            status: status.parse().unwrap_or(500),
            share: parse_share(share)?,
        }),
        ["error", code, share] => match code.parse::<u32>() {
            Ok(code) if (400_000..600_000).contains(&code) => Ok(FaultEffect::Error {
                code,
                share: parse_share(share)?,
            }),
            _ => Err(format!(
                "error code '{code}' must be six digits from 400000 to 599999"
            )),
        },
        ["drop", share] => Ok(FaultEffect::Drop {
            share: parse_share(share)?,
        }),
        ["latency", d] => Ok(FaultEffect::Latency {
            millis: parse_duration(d)?,
            share: 1.0,
        }),
        ["latency", d, share] => Ok(FaultEffect::Latency {
            millis: parse_duration(d)?,
            share: parse_share(share)?,
        }),
        _ => Err(format!("unknown effect '{effect}'")),
    }
}

/// Glob over path segments: `*` inside a segment matches any characters, a `**` segment
/// matches any number of segments.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((seg, path_rest)) => wildcard_match(first, seg) && segments_match(rest, path_rest),
            None => false,
        },
    }
}

/// `*` matches any run of characters (including none); everything else literally.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl FaultTable {
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        Self {
            rules,
            rng: fastrand::Rng::with_seed(seed),
            counts: FaultCounts::default(),
        }
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    pub fn counts(&self) -> FaultCounts {
        self.counts
    }

    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Draws the fate of one request. Every effect of every matching rule draws once, in
    /// order, so the sequence of draws does not depend on earlier outcomes; the first failure
    /// drawn wins, latencies add up.
    pub fn decide(&mut self, method: &str, path: &str) -> FaultDecision {
        let mut decision = FaultDecision {
            delay: Duration::ZERO,
            outcome: FaultOutcome::Pass,
        };
        if self.rules.is_empty() {
            return decision;
        }
        for rule in self.rules.iter().filter(|r| r.matches(method, path)) {
            for effect in &rule.effects {
                let hit = |share: f64, rng: &mut fastrand::Rng| rng.f64() < share;
                let pass = decision.outcome == FaultOutcome::Pass;
                match *effect {
                    FaultEffect::Latency { millis, share } => {
                        if hit(share, &mut self.rng) {
                            decision.delay += Duration::from_millis(millis);
                            self.counts.delays += 1;
                        }
                    }
                    FaultEffect::TooManyRequests {
                        share,
                        retry_after_secs,
                    } => {
                        if hit(share, &mut self.rng) && pass {
                            self.counts.too_many_requests += 1;
                            decision.outcome = FaultOutcome::Fail {
                                error: ApiError::too_many_requests(),
                                retry_after_secs,
                            };
                        }
                    }
                    FaultEffect::ServerError { status, share } => {
                        if hit(share, &mut self.rng) && pass {
                            self.counts.server_errors += 1;
                            decision.outcome = FaultOutcome::Fail {
                                error: ApiError::internal(u32::from(status) * 1000),
                                retry_after_secs: None,
                            };
                        }
                    }
                    FaultEffect::Error { code, share } => {
                        if hit(share, &mut self.rng) && pass {
                            self.counts.errors += 1;
                            decision.outcome = FaultOutcome::Fail {
                                error: ApiError::new(
                                    code,
                                    "Injected",
                                    format!("error {code} injected by a fault rule"),
                                ),
                                retry_after_secs: None,
                            };
                        }
                    }
                    FaultEffect::Drop { share } => {
                        if hit(share, &mut self.rng) && pass {
                            self.counts.drops += 1;
                            decision.outcome = FaultOutcome::Drop;
                        }
                    }
                }
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let rule = FaultRule::parse("POST:/api/*/sites/*/users=429:0.2:retry-after=1,latency:50ms")
            .unwrap();
        assert_eq!(rule.method.as_deref(), Some("POST"));
        assert_eq!(
            rule.effects,
            vec![
                FaultEffect::TooManyRequests {
                    share: 0.2,
                    retry_after_secs: Some(1)
                },
                FaultEffect::Latency {
                    millis: 50,
                    share: 1.0
                },
            ]
        );
        assert!(FaultRule::parse("/x=drop:2").is_err());
        assert!(FaultRule::parse("PATCH:/x=drop:1").is_err());
        assert!(FaultRule::parse("x=drop:1").is_err());
        assert!(FaultRule::parse("/x=teapot:1").is_err());
        let refused = FaultRule::parse("PUT:/api/*/sites/*/users/*=error:400000:1").unwrap();
        assert_eq!(
            refused.effects,
            vec![FaultEffect::Error {
                code: 400000,
                share: 1.0
            }]
        );
        assert!(FaultRule::parse("/x=error:200000:1").is_err());
        assert!(FaultRule::parse("/x=error:4000:1").is_err());
        let mut table = FaultTable::new(vec![refused], 1);
        match table.decide("PUT", "/api/3.27/sites/s/users/u").outcome {
            FaultOutcome::Fail { error, .. } => assert_eq!(error.code, 400000),
            other => panic!("{other:?}"),
        }
        assert_eq!(table.counts().errors, 1);
    }

    #[test]
    fn globs_match_segments() {
        assert!(path_matches(
            "/api/*/sites/*/users",
            "/api/3.27/sites/abc/users"
        ));
        assert!(!path_matches(
            "/api/*/sites/*/users",
            "/api/3.27/sites/abc/users/1"
        ));
        assert!(path_matches("/api/**", "/api/3.27/sites/abc/users/1"));
        assert!(path_matches("/api/**/users", "/api/3.27/sites/abc/users"));
        assert!(wildcard_match("a*c*e", "abcde"));
        assert!(!wildcard_match("a*c", "abcd"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn same_seed_same_faults() {
        let rules = vec![FaultRule::parse("/**=500:0.5").unwrap()];
        let run = |seed| {
            let mut t = FaultTable::new(rules.clone(), seed);
            (0..64)
                .map(|_| t.decide("GET", "/api/3.27/serverinfo").outcome == FaultOutcome::Pass)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert!(run(1).iter().any(|p| *p) && run(1).iter().any(|p| !*p));
    }

    proptest::proptest! {
        #[test]
        fn parsing_and_matching_never_panic(spec in "\\PC{0,60}", pattern in "[a-z*/]{0,20}", path in "[a-z/]{0,20}") {
            let _ = FaultRule::parse(&spec);
            let _ = path_matches(&pattern, &path);
            let _ = wildcard_match(&pattern, &path);
        }
    }
}
