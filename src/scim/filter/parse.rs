//! Hand-written recursive-descent parser for SCIM filters (RFC 7644 §3.4.2.2, Figure 1) and
//! PATCH paths (§3.5.2). It works over the bytes of the input: every structural character of
//! the grammar is ASCII, and non-ASCII text can only appear inside string literals, which are
//! decoded by `serde_json` so that escapes follow JSON exactly.
//!
//! Choices beyond the ABNF, all deliberate:
//! - Attribute names, operators and the keywords `and`/`or`/`not`/`true`/`false`/`null`/`pr`
//!   are case-insensitive (the RFC says so for names and operators; IdPs send `Eq`, `AND`).
//! - Any run of ASCII whitespace separates tokens; whitespace is allowed just inside `( )` and
//!   `[ ]`, and `not(` and `not (` are both accepted.
//! - A bare, unquoted value (`externalId eq jyoung`, seen only in Microsoft documentation) is
//!   rejected with `invalidFilter`: guessing its type would make `eq 12` and `eq 012` differ in
//!   surprising ways, and no IdP actually sends it.
//! - Entra's `emails[type eq "work"].value eq "x"` becomes
//!   `ValuePath(emails, And(type eq "work", value eq "x"))`, which means the same thing.
//! - A value filter inside a value filter is rejected, as the RFC's `valFilter` rule implies.
//! - Length and nesting are bounded ([`MAX_FILTER_LEN`], [`MAX_FILTER_DEPTH`]) so that no
//!   input can exhaust the stack: recursion only happens on `(`, `not` and `[`, each of which
//!   counts against the depth, while `and`/`or` chains are parsed by loops.

use super::ast::{AttrPath, CompareOp, Filter, PatchPath};
use crate::scim::error::ScimError;
use serde_json::Value;

/// Longest filter (and PATCH path) accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of `(`, `not (` and `[` accepted.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Parse a `filter` query parameter or SearchRequest `filter`. Errors are `invalidFilter` with a
/// detail naming the character position and what was expected there.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    let mut p = Parser::new(input, "filter")?;
    p.skip_ws();
    let f = p.filter(false)?;
    p.skip_ws();
    p.expect_end("'and', 'or' or the end of the filter")?;
    Ok(f)
}

/// Parse a PATCH operation `path`: `attrPath` or `attrPath "[" valFilter "]" ["." subAttr]`.
/// Errors are `invalidPath`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, ScimError> {
    let run = || -> Result<PatchPath, ScimError> {
        let mut p = Parser::new(input, "path")?;
        p.skip_ws();
        let attr = p.attr_path()?;
        let mut filter = None;
        let mut sub = None;
        if p.peek() == Some(b'[') {
            filter = Some(p.bracketed()?);
            if p.peek() == Some(b'.') {
                p.pos += 1;
                sub = Some(p.attr_name()?);
            }
        }
        p.skip_ws();
        p.expect_end("'[' or the end of the path")?;
        Ok(PatchPath { attr, filter, sub })
    };
    run().map_err(to_invalid_path)
}

/// Parse a bare attribute path (`sortBy`, one entry of `attributes=`). Errors are `invalidPath`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let run = || -> Result<AttrPath, ScimError> {
        let mut p = Parser::new(input, "attribute path")?;
        p.skip_ws();
        let path = p.attr_path()?;
        p.skip_ws();
        p.expect_end("the end of the attribute path")?;
        Ok(path)
    };
    run().map_err(to_invalid_path)
}

fn to_invalid_path(e: ScimError) -> ScimError {
    ScimError::invalid_path(e.detail)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// What is being parsed, for error messages ("filter", "path").
    what: &'static str,
}

fn is_ws(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// Characters of an attribute path token: the ABNF's `nameChar`, plus `:` and `.` (URNs and
/// sub-attributes) and `$` (for `$ref`, which RFC 7643 uses as an attribute name).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-' | b'$')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, what: &'static str) -> Result<Self, ScimError> {
        if src.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "{what} is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
                src.len()
            )));
        }
        Ok(Self {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
            what,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// An error at byte offset `at`, reported as a 1-based character position with what was
    /// found there, e.g. `invalid filter at character 10: expected ..., found 'foo'`.
    fn err_at(&self, at: usize, expected: &str) -> ScimError {
        let at = at.min(self.src.len());
        let column = self.src.get(..at).map_or(at, |s| s.chars().count()) + 1;
        let rest = self.src.get(at..).unwrap_or("");
        let found = if rest.is_empty() {
            "the end of input".to_string()
        } else {
            let token: String = rest.chars().take(20).collect();
            let token = token.split(is_ws_char).next().unwrap_or("");
            let token = if token.is_empty() {
                rest.chars().take(1).collect()
            } else {
                token.to_string()
            };
            format!("'{token}'")
        };
        ScimError::invalid_filter(format!(
            "invalid {} at character {column}: expected {expected}, found {found}",
            self.what
        ))
    }

    fn expect_end(&self, expected: &str) -> Result<(), ScimError> {
        if self.pos < self.bytes.len() {
            Err(self.err_at(self.pos, expected))
        } else {
            Ok(())
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "invalid {} at character {}: nested deeper than {MAX_FILTER_DEPTH} levels",
                self.what,
                self.src
                    .get(..self.pos)
                    .map_or(self.pos, |s| s.chars().count())
                    + 1
            )));
        }
        Ok(())
    }

    /// The word (run of [`is_word`] bytes) at the cursor, without consuming it.
    fn peek_word(&self) -> &'a str {
        let end = self
            .bytes
            .get(self.pos..)
            .unwrap_or(&[])
            .iter()
            .position(|&b| !is_word(b))
            .map_or(self.bytes.len(), |n| self.pos + n);
        // Word bytes are ASCII, so these are char boundaries.
        self.src.get(self.pos..end).unwrap_or("")
    }

    /// `or` has the lowest precedence: `and_expr *(SP "or" SP and_expr)`, left-associative.
    fn filter(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(in_value_path)?;
        while self.keyword_ahead("or") {
            let right = self.and_expr(in_value_path)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let mut left = self.unary(in_value_path)?;
        while self.keyword_ahead("and") {
            let right = self.unary(in_value_path)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// After an expression: if whitespace and then the keyword follow, consume them (and the
    /// whitespace after) and return true; otherwise leave the cursor where it was.
    fn keyword_ahead(&mut self, kw: &str) -> bool {
        let save = self.pos;
        if !self.skip_ws() {
            // `a pr)and b pr` is not a thing; the ABNF requires SP before and/or.
            self.pos = save;
            return false;
        }
        let word = self.peek_word();
        if word.eq_ignore_ascii_case(kw) {
            // Words are read greedily, so `android` never matches `and`; once the keyword is
            // seen, a missing operand is reported by the operand's parser.
            self.pos += word.len();
            self.skip_ws();
            return true;
        }
        self.pos = save;
        false
    }

    /// `not (filter)`, `(filter)` or an attribute expression / value path.
    fn unary(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let start = self.pos;
        if self.peek() == Some(b'(') {
            return self.group(in_value_path);
        }
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("not") {
            self.pos += word.len();
            if self.peek() == Some(b'[') {
                // `not[...]`: a value path on an attribute called `not`.
                self.pos = start;
                return self.attr_expr(in_value_path);
            }
            self.skip_ws();
            if self.peek() == Some(b'(') {
                // `not (...)` is one level of nesting: the group counts it.
                let inner = self.group(in_value_path)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // `not eq "x"`: an attribute that happens to be called `not`. Anything else after
            // `not` is a missing parenthesis, which is the more useful thing to report.
            if !is_operator(self.peek_word()) {
                return Err(self.err_at(self.pos, "'(' after 'not'"));
            }
            self.pos = start;
        }
        self.attr_expr(in_value_path)
    }

    fn group(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        self.enter()?;
        self.pos += 1; // '('
        self.skip_ws();
        let inner = self.filter(in_value_path)?;
        self.skip_ws();
        if self.peek() != Some(b')') {
            return Err(self.err_at(self.pos, "'and', 'or' or ')'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// `attrPath SP "pr"`, `attrPath SP op SP value`, `attrPath "[" valFilter "]"`, or Entra's
    /// `attrPath "[" valFilter "]" "." subAttr SP op SP value`.
    fn attr_expr(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let path = self.attr_path()?;
        if self.peek() == Some(b'[') {
            if in_value_path {
                return Err(self.err_at(
                    self.pos,
                    "an operator ('[' not allowed: a value filter cannot contain another value filter)",
                ));
            }
            let inner = self.bracketed()?;
            if self.peek() != Some(b'.') {
                return Ok(Filter::ValuePath(path, Box::new(inner)));
            }
            self.pos += 1;
            let sub = AttrPath::new(self.attr_name()?);
            let cmp = self.comparison(sub)?;
            return Ok(Filter::ValuePath(
                path,
                Box::new(Filter::And(Box::new(inner), Box::new(cmp))),
            ));
        }
        self.comparison(path)
    }

    /// `"[" valFilter "]"`, cursor on the `[`.
    fn bracketed(&mut self) -> Result<Filter, ScimError> {
        self.enter()?;
        self.pos += 1; // '['
        self.skip_ws();
        let inner = self.filter(true)?;
        self.skip_ws();
        if self.peek() != Some(b']') {
            return Err(self.err_at(self.pos, "'and', 'or' or ']'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// What follows an attribute path: `SP "pr"` or `SP compareOp SP compValue`.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        const OPS: &str = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
        if !self.skip_ws() {
            return Err(self.err_at(self.pos, &format!("a space and {OPS}")));
        }
        let op_at = self.pos;
        let word = self.peek_word();
        let op = match word.to_ascii_lowercase().as_str() {
            "pr" => {
                self.pos += word.len();
                return Ok(Filter::Present(path));
            }
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return Err(self.err_at(op_at, OPS)),
        };
        self.pos += word.len();
        self.skip_ws();
        let value = self.comp_value()?;
        Ok(Filter::Compare(path, op, value))
    }

    /// `compValue = false / null / true / number / string`, with JSON's rules.
    fn comp_value(&mut self) -> Result<Value, ScimError> {
        const EXPECTED: &str = "a value: a \"quoted string\", a number, true, false or null (bare words must be quoted)";
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                let word = self.peek_word();
                let value = match word.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => return Err(self.err_at(start, EXPECTED)),
                };
                self.pos += word.len();
                Ok(value)
            }
            None => Err(self.err_at(start, EXPECTED)),
        }
    }

    /// A JSON string literal. The end is found by skipping escaped characters; decoding (all
    /// JSON escapes, `\uXXXX` surrogate pairs, rejection of raw control characters and lone
    /// surrogates) is left to `serde_json`.
    fn string(&mut self) -> Result<Value, ScimError> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None => return Err(self.err_at(start, "a string closed by '\"'")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = self.src.get(start..=i).unwrap_or("");
        match serde_json::from_str::<String>(literal) {
            Ok(s) => {
                self.pos = i + 1;
                Ok(Value::String(s))
            }
            Err(e) => Err(self.err_at(
                start,
                &format!("a valid JSON string ({})", strip_position(&e.to_string())),
            )),
        }
    }

    /// A JSON number: `-? (0 / [1-9][0-9]*) [. [0-9]+] [(e/E) [+-] [0-9]+]`. Parsed with the
    /// standard library (exact round trips for f64), integers kept as integers.
    fn number(&mut self) -> Result<Value, ScimError> {
        let start = self.pos;
        let b = self.bytes;
        let digits = |mut i: usize| {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            (i, i > from)
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let (after_int, any) = digits(i);
        let bad = |p: &Self| p.err_at(start, "a valid JSON number");
        if !any || (b.get(int_start) == Some(&b'0') && after_int - int_start > 1) {
            return Err(bad(self));
        }
        i = after_int;
        let mut is_float = false;
        if b.get(i) == Some(&b'.') {
            let (next, any) = digits(i + 1);
            if !any {
                return Err(bad(self));
            }
            i = next;
            is_float = true;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let (next, any) = digits(i);
            if !any {
                return Err(bad(self));
            }
            i = next;
            is_float = true;
        }
        // `12abc` is not a number followed by something; it is a malformed value.
        if b.get(i).is_some_and(|&c| is_word(c)) {
            return Err(bad(self));
        }
        let text = self.src.get(start..i).unwrap_or("");
        let value = if is_float {
            None
        } else if let Ok(n) = text.parse::<u64>() {
            Some(Value::from(n))
        } else if let Ok(n) = text.parse::<i64>() {
            Some(Value::from(n))
        } else {
            None
        };
        let value = match value {
            Some(v) => v,
            None => match text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => return Err(self.err_at(start, "a number within the range of a double")),
            },
        };
        self.pos = i;
        Ok(value)
    }

    /// `[URI ":"] ATTRNAME [subAttr]`. The URI is everything up to the last `:`, since schema
    /// URNs contain colons and dots (`urn:...:enterprise:2.0:User:manager.value`).
    fn attr_path(&mut self) -> Result<AttrPath, ScimError> {
        let start = self.pos;
        let word = self.peek_word();
        if word.is_empty() {
            return Err(self.err_at(start, "an attribute path"));
        }
        let (urn, rest, rest_at) = match word.rfind(':') {
            Some(i) => (Some(&word[..i]), &word[i + 1..], start + i + 1),
            None => (None, word, start),
        };
        if let Some(urn) = urn
            && (urn.is_empty() || urn.split(':').any(str::is_empty))
        {
            return Err(self.err_at(start, "an attribute path (malformed schema URN)"));
        }
        let mut parts = rest.splitn(3, '.');
        let name = parts.next().unwrap_or("");
        let sub = parts.next();
        if !valid_attr_name(name) {
            return Err(self.err_at(rest_at, "an attribute name"));
        }
        if let Some(sub) = sub
            && !valid_attr_name(sub)
        {
            return Err(self.err_at(rest_at + name.len() + 1, "a sub-attribute name"));
        }
        if parts.next().is_some() {
            let at = rest_at + name.len() + 1 + sub.map_or(0, str::len);
            return Err(self.err_at(at, "at most one sub-attribute (name.sub)"));
        }
        self.pos += word.len();
        Ok(AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// A plain `ATTRNAME` (after `].`).
    fn attr_name(&mut self) -> Result<String, ScimError> {
        let word = self.peek_word();
        let name = word.split(['.', ':']).next().unwrap_or("");
        if !valid_attr_name(name) || name.len() != word.len() {
            return Err(self.err_at(self.pos, "a sub-attribute name"));
        }
        self.pos += name.len();
        Ok(name.to_string())
    }
}

fn is_operator(word: &str) -> bool {
    const OPERATORS: [&str; 10] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"];
    OPERATORS.iter().any(|op| op.eq_ignore_ascii_case(word))
}

fn is_ws_char(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus `$ref` (RFC 7643 §2.4 names a sub-attribute `$ref`).
pub(crate) fn valid_attr_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() => {}
        Some(b'$') => {
            return name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_alphanumeric());
        }
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// serde_json's messages end in "at line 1 column N", which refers to the literal, not to the
/// filter; the filter position is reported separately.
fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
