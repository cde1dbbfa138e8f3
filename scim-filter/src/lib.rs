//! A fast, strict-or-lenient parser, canonical printer and evaluator for SCIM filters
//! (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), built on [`nom`].
//!
//! ```
//! use scim_filter::{Filter, PatchPath};
//!
//! // Keywords in any case, runs of spaces, redundant parentheses: one canonical form.
//! let f: Filter = r#"userType EQ "Employee"  AND (emails[type eq "work"] OR title pr)"#.parse()?;
//! assert_eq!(
//!     f.to_string(),
//!     r#"userType eq "Employee" and (emails[type eq "work"] or title pr)"#
//! );
//!
//! let user = serde_json::json!({
//!     "userName": "bjensen",
//!     "userType": "employee",
//!     "emails": [{"type": "work", "value": "bjensen@example.com"}]
//! });
//! assert!(f.matches(&user));
//!
//! let path: PatchPath = r#"members[value eq "2819c223"].display"#.parse()?;
//! assert_eq!(path.sub_attr(), Some("display"));
//!
//! // Errors say where, what was found and what was expected.
//! let err = r#"userName eq"bjensen""#.parse::<Filter>().unwrap_err();
//! assert_eq!(err.to_string(), r#"expected a space at byte 11, found `"bjensen"`"#);
//! # Ok::<(), scim_filter::ParseError>(())
//! ```
//!
//! # Strict and lenient
//!
//! [`FromStr`](std::str::FromStr) parses leniently ([`Mode::Lenient`]): the ABNF plus the forms
//! identity providers are known to send. [`Parser::strict`] follows the ABNF to the letter. Both
//! bound the nesting depth, the number of comparisons and the input length ([`Parser`]).
//!
//! # SCIM 1.1
//!
//! SCIM 1.1 filters parse as they are: the 1.1 grammar (operators `eq co sw pr gt ge lt le`,
//! `and`, `or`, parentheses, `attr.subAttr`) is a subset of 2.0's, which adds `ne`, `ew`, `not`
//! and value filters `attr[...]`. The 1.1 schema URNs (`urn:scim:schemas:core:1.0`) contain a dot
//! in their version and are handled like 2.0's. A 1.1 server that wants to refuse the 2.0-only
//! forms can walk the [`Filter`] tree.
//!
//! # Evaluation
//!
//! [`Filter::matches`] evaluates against a `serde_json::Value` with default SCIM semantics;
//! [`Filter::matches_with`] takes attribute types and `caseExact` from an [`AttributeSchema`].
//!
//! - attribute names match case-insensitively; a schema URN prefix looks inside that extension
//!   object and falls back to the top level, where core attributes live;
//! - strings compare case-insensitively unless the schema says `caseExact`;
//! - a multi-valued attribute matches when any element does, and `attr[...]` needs one element to
//!   satisfy the whole bracket; a complex attribute without a sub-attribute compares its `value`;
//! - date-times compare as instants (offsets honoured), numbers numerically;
//! - `ne` is the negation of `eq`; `eq null` matches an absent or null attribute;
//! - `pr` is false for null, the empty string, an empty array and an empty object.

// The parser's hot path is inlined by hand where callgrind showed the compiler declining to, and
// the gain measured (see BENCHMARKS.md).
#![allow(clippy::inline_always)]

mod ast;
mod display;
mod error;
mod eval;
mod lex;
mod parse;
mod text;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, Operands, PatchPath};
pub use error::{ErrorKind, Expected, ParseError};
pub use eval::{AttrInfo, AttrType, AttributeSchema, NoSchema, parse_datetime};
pub use parse::{Mode, Parser};
pub use text::Text;
