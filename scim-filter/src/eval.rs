//! Evaluating a [`Filter`] against a JSON resource, with default SCIM semantics or with attribute
//! characteristics taken from a schema.
//!
//! Semantics (RFC 7644 §3.4.2.2 and RFC 7643 §2.1, where they leave room, chosen to match what
//! clients expect):
//! - attribute names match case-insensitively; an exact key match is tried first;
//! - a schema URN prefix looks inside the extension object of that name; a core schema's URN
//!   (`...:schemas:core:...`, or the first of the resource's `schemas`) looks at the top level;
//! - strings compare case-insensitively unless the schema says `caseExact` (binary always exact);
//! - a multi-valued attribute matches when any element does; a complex attribute compared without
//!   a sub-attribute compares its `value` sub-attribute;
//! - `attr[filter]` needs one element to satisfy the whole inner filter;
//! - strings that are both RFC 3339 date-times (or attributes typed `dateTime`) compare as instants,
//!   so offsets are honoured; numbers compare numerically; `gt`/`lt` on other strings are
//!   lexicographic;
//! - `ne` is the negation of `eq` (so an absent attribute is `ne` anything), `eq null` matches an
//!   absent or null attribute;
//! - `pr` is false for null, the empty string, an empty array and an empty object;
//! - `true`/`false` also match the strings `"True"`/`"False"` in any case, as Entra ID stores them;
//! - "case-insensitive" means both sides lower-cased one character at a time (`char::to_lowercase`),
//!   not full Unicode case folding: `"STRASSE"` does not equal `"straße"`.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::{Number, Value};

use crate::ast::{AttrPath, CompValue, CompareOp, Filter};

/// The SCIM data type of an attribute (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime`.
    DateTime,
    /// `binary`: base64, always compared case-exactly.
    Binary,
    /// `reference`.
    Reference,
    /// `complex`.
    Complex,
}

/// The characteristics of one attribute that filter evaluation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttrInfo {
    kind: AttrType,
    case_exact: bool,
}

impl AttrInfo {
    /// An attribute of type `kind`, compared case-exactly when `case_exact` is true.
    pub const fn new(kind: AttrType, case_exact: bool) -> Self {
        AttrInfo { kind, case_exact }
    }

    /// The attribute's type.
    pub const fn kind(&self) -> AttrType {
        self.kind
    }

    /// Whether string comparisons are case-sensitive.
    pub const fn case_exact(&self) -> bool {
        self.case_exact
    }
}

/// Attribute characteristics by path, implemented by scim-core's schemas.
///
/// ```
/// use scim_filter::{AttrInfo, AttrType, AttributeSchema, Filter};
///
/// struct IdIsExact;
/// impl AttributeSchema for IdIsExact {
///     fn attribute(&self, _schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
///         (attr.eq_ignore_ascii_case("id") && sub.is_none())
///             .then(|| AttrInfo::new(AttrType::String, true))
///     }
/// }
///
/// let user = serde_json::json!({"id": "AbC", "userName": "bjensen"});
/// let by_id: Filter = r#"id eq "abc""#.parse().unwrap();
/// assert!(by_id.matches(&user));
/// assert!(!by_id.matches_with(&user, &IdIsExact));
/// ```
pub trait AttributeSchema {
    /// The characteristics of `attr` (or of its sub-attribute `sub_attr`), in the schema named by
    /// `schema`, or in the resource's core schema when `schema` is `None`. Names are matched
    /// case-insensitively. `None` means unknown: default semantics apply.
    fn attribute(
        &self,
        schema: Option<&str>,
        attr: &str,
        sub_attr: Option<&str>,
    ) -> Option<AttrInfo>;
}

/// No schema: every attribute gets the default semantics.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSchema;

impl AttributeSchema for NoSchema {
    fn attribute(&self, _: Option<&str>, _: &str, _: Option<&str>) -> Option<AttrInfo> {
        None
    }
}

impl<S: AttributeSchema + ?Sized> AttributeSchema for &S {
    fn attribute(&self, schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        (**self).attribute(schema, attr, sub)
    }
}

/// The multi-valued attribute a value filter ranges over; paths inside `[...]` are relative to it.
#[derive(Clone, Copy)]
struct Parent<'a> {
    schema: Option<&'a str>,
    name: &'a str,
}

impl Filter {
    /// Whether `resource` satisfies this filter, with default semantics (see the
    /// [module docs](crate#evaluation)).
    pub fn matches(&self, resource: &Value) -> bool {
        eval(self, resource, &NoSchema, None)
    }

    /// Whether `resource` satisfies this filter, with attribute types and `caseExact` taken from
    /// `schema`.
    pub fn matches_with<S: AttributeSchema + ?Sized>(&self, resource: &Value, schema: &S) -> bool {
        eval(self, resource, &schema, None)
    }
}

fn eval<S: AttributeSchema>(f: &Filter, node: &Value, schema: &S, parent: Option<Parent>) -> bool {
    match f {
        Filter::And(ops) => ops.iter().all(|f| eval(f, node, schema, parent)),
        Filter::Or(ops) => ops.iter().any(|f| eval(f, node, schema, parent)),
        Filter::Not(inner) => !eval(inner, node, schema, parent),
        Filter::Present(path) => present(path, node),
        Filter::Compare(path, op, value) => {
            let info = || info_for(path, schema, parent);
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => !any_candidate(path, node, |v| !v.is_null()),
                (CompareOp::Ne, CompValue::Null) => any_candidate(path, node, |v| !v.is_null()),
                (_, CompValue::Null) => false,
                (CompareOp::Ne, value) => {
                    let info = info();
                    !any_candidate(path, node, |v| compare(v, CompareOp::Eq, value, info))
                }
                (op, value) => {
                    let info = info();
                    any_candidate(path, node, |v| compare(v, *op, value, info))
                }
            }
        }
        Filter::ValuePath(path, inner) => {
            let Some(target) = attribute(path, node) else {
                return false;
            };
            let target = match (path.sub_attr(), target) {
                (Some(sub), v) => match get_ci(v, sub) {
                    Some(t) => t,
                    None => return false,
                },
                (None, v) => v,
            };
            let parent = Some(Parent {
                schema: path.schema(),
                name: path.name(),
            });
            match target {
                Value::Array(items) => items.iter().any(|e| eval(inner, e, schema, parent)),
                other => eval(inner, other, schema, parent),
            }
        }
    }
}

fn info_for<S: AttributeSchema>(
    path: &AttrPath,
    schema: &S,
    parent: Option<Parent>,
) -> Option<AttrInfo> {
    if let Some(parent) = parent {
        if path.sub_attr().is_some() {
            return None;
        }
        return schema.attribute(parent.schema, parent.name, Some(path.name()));
    }
    let info = schema.attribute(path.schema(), path.name(), path.sub_attr());
    match info {
        // A complex attribute compared without a sub-attribute compares its `value`.
        Some(i) if i.kind == AttrType::Complex && path.sub_attr().is_none() => {
            schema.attribute(path.schema(), path.name(), Some("value"))
        }
        other => other,
    }
}

/// Looks `key` up in an object, exact match first, then ignoring case.
fn get_ci<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let Value::Object(map) = v else {
        return None;
    };
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The value of the path's attribute (before any sub-attribute).
fn attribute<'v>(path: &AttrPath, node: &'v Value) -> Option<&'v Value> {
    let base = match path.schema() {
        None => node,
        Some(urn) => match get_ci(node, urn) {
            Some(extension) => extension,
            // Core attributes live at the top level; an extension's do not.
            None if is_core_schema(urn, node) => node,
            None => return None,
        },
    };
    match get_ci(base, path.name()) {
        Some(v) => Some(v),
        // Inside `[...]` over a multi-valued simple attribute, `value` is the element itself.
        None if !base.is_object() && path.name().eq_ignore_ascii_case("value") => Some(base),
        None => None,
    }
}

/// Whether `urn` names the resource's core schema: a `core` schema URN (RFC 7643 §8.7.1 and
/// SCIM 1.1), or the first entry of the resource's `schemas`.
fn is_core_schema(urn: &str, node: &Value) -> bool {
    let has_core = |u: &str| {
        u.as_bytes()
            .windows(14)
            .any(|w| w.eq_ignore_ascii_case(b":schemas:core:"))
    };
    has_core(urn)
        || get_ci(node, "schemas")
            .and_then(|s| s.get(0))
            .and_then(Value::as_str)
            .is_some_and(|first| first.eq_ignore_ascii_case(urn))
}

/// Calls `test` on each simple value the path designates until one passes.
fn any_candidate(path: &AttrPath, node: &Value, mut test: impl FnMut(&Value) -> bool) -> bool {
    let Some(v) = attribute(path, node) else {
        return false;
    };
    match path.sub_attr() {
        Some(sub) => match v {
            Value::Array(items) => items
                .iter()
                .any(|e| get_ci(e, sub).is_some_and(|x| any_leaf(x, &mut test))),
            other => get_ci(other, sub).is_some_and(|x| any_leaf(x, &mut test)),
        },
        None => match v {
            Value::Array(items) => items.iter().any(|e| match e {
                Value::Object(_) => get_ci(e, "value").is_some_and(&mut test),
                Value::Array(_) => false,
                simple => test(simple),
            }),
            Value::Object(_) => get_ci(v, "value").is_some_and(test),
            simple => test(simple),
        },
    }
}

fn any_leaf(v: &Value, test: &mut impl FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(&mut *test),
        other => test(other),
    }
}

fn present(path: &AttrPath, node: &Value) -> bool {
    let Some(v) = attribute(path, node) else {
        return false;
    };
    match (path.sub_attr(), v) {
        (None, v) => is_present(v),
        (Some(sub), Value::Array(items)) => {
            items.iter().any(|e| get_ci(e, sub).is_some_and(is_present))
        }
        (Some(sub), v) => get_ci(v, sub).is_some_and(is_present),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(v: &Value, op: CompareOp, lit: &CompValue, info: Option<AttrInfo>) -> bool {
    match (lit, v) {
        (CompValue::String(s), Value::String(a)) => compare_strings(a, op, s, info),
        (CompValue::String(s), Value::Bool(b)) => op == CompareOp::Eq && parse_bool(s) == Some(*b),
        (CompValue::Bool(b), Value::String(s)) => op == CompareOp::Eq && parse_bool(s) == Some(*b),
        (CompValue::Bool(b), Value::Bool(a)) => op == CompareOp::Eq && a == b,
        (CompValue::Number(n), Value::Number(a)) => {
            !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
                && cmp_numbers(a, n).is_some_and(|o| ordering_satisfies(o, op))
        }
        _ => false,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Whether `ordering` (attribute value compared with the literal) satisfies `op`.
fn ordering_satisfies(ordering: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_strings(attr: &str, op: CompareOp, lit: &str, info: Option<AttrInfo>) -> bool {
    let kind = info.map(|i| i.kind);
    let case_exact = info.is_some_and(|i| i.case_exact) || kind == Some(AttrType::Binary);
    let instants = match kind {
        Some(AttrType::DateTime) => true,
        None => looks_like_datetime(lit) && looks_like_datetime(attr),
        Some(_) => false,
    };
    if instants && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        if let (Some(a), Some(b)) = (parse_datetime(attr), parse_datetime(lit)) {
            return ordering_satisfies(a.cmp(&b), op);
        }
    }
    match op {
        CompareOp::Eq if case_exact => attr == lit,
        CompareOp::Eq => eq_ci(attr, lit),
        CompareOp::Ne if case_exact => attr != lit,
        CompareOp::Ne => !eq_ci(attr, lit),
        CompareOp::Co if case_exact => attr.contains(lit),
        CompareOp::Co => contains_ci(attr, lit),
        CompareOp::Sw if case_exact => attr.starts_with(lit),
        CompareOp::Sw => starts_with_ci(attr, lit),
        CompareOp::Ew if case_exact => attr.ends_with(lit),
        CompareOp::Ew => ends_with_ci(attr, lit),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let ordering = if case_exact {
                attr.cmp(lit)
            } else {
                cmp_ci(attr, lit)
            };
            ordering_satisfies(ordering, op)
        }
    }
}

/// Cheap shape check (`YYYY-MM-DDTHH:MM`) before trying a real date-time parse.
fn looks_like_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(b'T' | b't' | b' '))
        && b.get(13) == Some(&b':')
}

/// A SCIM `dateTime` (`xsd:dateTime`, RFC 7643 §2.3.5) as an instant: RFC 3339, or without an
/// offset, in which case UTC is assumed. Filters compare date-times with this; use it wherever
/// date-times must order the same way (`sortBy`, for one).
///
/// ```
/// use scim_filter::parse_datetime;
/// assert_eq!(
///     parse_datetime("2011-05-13T06:42:34+02:00"),
///     parse_datetime("2011-05-13T04:42:34Z")
/// );
/// assert!(parse_datetime("2000-02-30T00:00:00Z").is_none());
/// ```
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    // Most strings are not date-times: refuse them before chrono looks at them.
    if !looks_like_datetime(s) {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|n| n.and_utc().fixed_offset())
    })
}

fn lower(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn eq_ci(a: &str, b: &str) -> bool {
    if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return false;
    }
    lower(a).eq(lower(b))
}

fn cmp_ci(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        let a = a.bytes().map(|c| c.to_ascii_lowercase());
        return a.cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    lower(a).cmp(lower(b))
}

fn starts_with_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        return hay
            .as_bytes()
            .get(..needle.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(needle.as_bytes()));
    }
    let mut h = lower(hay);
    lower(needle).all(|c| h.next() == Some(c))
}

fn ends_with_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        return hay
            .len()
            .checked_sub(needle.len())
            .and_then(|start| hay.as_bytes().get(start..))
            .is_some_and(|h| h.eq_ignore_ascii_case(needle.as_bytes()));
    }
    let (hay, needle): (String, String) = (lower(hay).collect(), lower(needle).collect());
    hay.ends_with(&needle)
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        if needle.is_empty() {
            return true;
        }
        return hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    }
    // Lower-cased one character at a time, as `eq` and `sw` do: `str::to_lowercase` would turn a
    // final `Σ` into `ς` and make `co` disagree with `eq`.
    let (hay, needle): (String, String) = (lower(hay).collect(), lower(needle).collect());
    hay.contains(&needle)
}
