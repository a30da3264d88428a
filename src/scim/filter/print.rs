//! Canonical text for filters and paths: lower-case operators and keywords, single spaces,
//! JSON literals, and only the parentheses that precedence requires. Parsing the printed text
//! gives back an equal syntax tree (property-tested in `tests`), which is what lets other
//! layers log, cache or forward a filter as text.

use super::ast::{AttrPath, CompareOp, Filter, PatchPath};
use std::fmt::{self, Display, Formatter};

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for AttrPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Binding strength: `or` < `and` < everything else (atoms, `not (...)`, value paths).
fn precedence(f: &Filter) -> u8 {
    match f {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

/// Print `child`, parenthesised when it binds more loosely than `min` requires. The parser is
/// left-associative, so a right operand of the same precedence needs parentheses too (callers
/// pass `min` one higher for the right side).
fn child(f: &mut Formatter<'_>, child: &Filter, min: u8) -> fmt::Result {
    if precedence(child) < min {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

impl Display for Filter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            // serde_json's Display writes a JSON literal: strings quoted and escaped, f64 in
            // the shortest form that parses back to the same value.
            Filter::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Filter::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(l, r) => {
                child(f, l, 2)?;
                f.write_str(" and ")?;
                child(f, r, 3)
            }
            Filter::Or(l, r) => {
                child(f, l, 1)?;
                f.write_str(" or ")?;
                child(f, r, 2)
            }
        }
    }
}

impl Display for PatchPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "print_tests.rs"]
mod tests;
