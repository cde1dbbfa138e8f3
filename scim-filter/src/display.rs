//! The canonical text form (`Display`) and `FromStr` for the syntax tree.
//!
//! Canonical form: lower-case operators and keywords, single spaces, the fewest parentheses that
//! keep the tree (`and` binds tighter than `or`, both associate to the left), attribute names as
//! written, and string literals escaped as JSON does. Parsing the canonical form gives back the
//! same tree, so two filters that print the same are equal.

use std::fmt::{self, Write};
use std::str::FromStr;

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::error::ParseError;
use crate::parse::Parser;

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(true) => f.write_str("true"),
            CompValue::Bool(false) => f.write_str("false"),
            CompValue::Number(n) => fmt::Display::fmt(n, f),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal: `"` and `\` escaped, control characters as short escapes
/// or `\u00XX`, everything else as is.
pub(crate) fn write_json_string(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        f.write_str(s.get(start..i).unwrap_or(""))?;
        if escape.is_empty() {
            write!(f, "\\u{b:04x}")?;
        } else {
            f.write_str(escape)?;
        }
        start = i + 1;
    }
    f.write_str(s.get(start..).unwrap_or(""))?;
    f.write_char('"')
}

impl Filter {
    /// Writes this filter; `in_and` says it is an operand of `and`, where an `or` needs
    /// parentheses. Nothing else does: `and` binds tighter, and runs of one operator are flat.
    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, in_and: bool) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Filter::ValuePath(path, inner) => {
                write!(f, "{path}[")?;
                inner.fmt_in(f, false)?;
                f.write_char(']')
            }
            Filter::Not(inner) => {
                f.write_str("not (")?;
                inner.fmt_in(f, false)?;
                f.write_char(')')
            }
            Filter::And(ops) => join(f, ops, " and ", true),
            Filter::Or(ops) if in_and => {
                f.write_char('(')?;
                join(f, ops, " or ", false)?;
                f.write_char(')')
            }
            Filter::Or(ops) => join(f, ops, " or ", false),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, ops: &[Filter], sep: &str, in_and: bool) -> fmt::Result {
    for (k, op) in ops.iter().enumerate() {
        if k > 0 {
            f.write_str(sep)?;
        }
        op.fmt_in(f, in_and)?;
    }
    Ok(())
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_in(f, false)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.attr, f)?;
        if let Some(filter) = &self.filter {
            f.write_char('[')?;
            fmt::Display::fmt(filter, f)?;
            f.write_char(']')?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for Filter {
    type Err = ParseError;

    /// Parses with [`Parser::lenient`] and the default limits.
    #[inline]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parser::lenient().parse_filter(s)
    }
}

impl FromStr for PatchPath {
    type Err = ParseError;

    /// Parses with [`Parser::lenient`] and the default limits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parser::lenient().parse_path(s)
    }
}

impl FromStr for AttrPath {
    type Err = ParseError;

    /// Parses with [`Parser::lenient`] and the default limits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parser::lenient().parse_attr_path(s)
    }
}
