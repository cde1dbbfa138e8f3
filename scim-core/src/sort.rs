//! `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3) over resources as JSON.
//!
//! The rules, as the RFC states them:
//!
//! - Strings compare case-insensitively (Unicode lower-case folding, no locale) unless the
//!   schema says `caseExact`; `binary` values always compare exactly.
//! - A multi-valued attribute sorts by its `primary` value if any, else its first value. For a
//!   complex multi-valued attribute (`emails`) that is the element's `value`; with a
//!   sub-attribute (`emails.type`), that sub-attribute of the primary (or first) element.
//! - "if there is no data for the specified "sortBy" value, they are sorted via the "sortOrder"
//!   parameter, i.e., they are ordered last if ascending and first if descending": resources
//!   without a value go last in ascending order and first in descending order.
//! - Date-times compare as instants (offsets applied), numbers numerically, booleans
//!   `false < true`. Types come from the schema; an attribute the schema does not know is typed
//!   by its JSON value (a string shaped like an RFC 3339 date-time counts as a date-time).
//!   Values of different kinds (which a schema-conforming list does not have) order as
//!   booleans < numbers < date-times < strings.
//! - The sort is stable: resources with equal keys keep their order, in both directions.
//!
//! An invalid `sortBy` path is a 400 `invalidValue` naming `sortBy` (RFC 7644 defines no
//! `scimType` for query parameters other than `filter`; `invalidPath` is for PATCH paths).
//! A path that names no known attribute is not an error: no resource has data for it, so the
//! order is unchanged.
//!
//! ```
//! use scim_core::{SortOrder, schema::SchemaRegistry, sort::sort_resources, urn};
//! use serde_json::json;
//!
//! let mut users = vec![
//!     json!({"userName": "carol"}),
//!     json!({"userName": "Alice"}),
//!     json!({"id": "no-name"}),
//!     json!({"userName": "bob"}),
//! ];
//! let schema = SchemaRegistry::builtin().resource(urn::USER);
//! sort_resources(&mut users, "userName", SortOrder::Ascending, &schema).unwrap();
//! let names: Vec<_> = users.iter().map(|u| u["userName"].as_str()).collect();
//! assert_eq!(names, [Some("Alice"), Some("bob"), Some("carol"), None]);
//! ```

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use scim_filter::{AttrPath, AttrType, AttributeSchema, Parser, parse_datetime};
use serde_json::Value;

use crate::error::ScimError;
use crate::json::get_ci;
use crate::messages::SortOrder;

/// Sorts `resources` by the attribute path `sort_by` in `order`, with attribute types and
/// `caseExact` from `schema` (any [`AttributeSchema`]: a
/// [`SchemaRegistry`](crate::SchemaRegistry) or one of its
/// [`ResourceSchema`](crate::schema::ResourceSchema) views, or [`scim_filter::NoSchema`]).
///
/// Fails only when `sort_by` is not a valid attribute path (400 `invalidValue`).
pub fn sort_resources<S: AttributeSchema + ?Sized>(
    resources: &mut [Value],
    sort_by: &str,
    order: SortOrder,
    schema: &S,
) -> Result<(), ScimError> {
    let path = parse_sort_by(sort_by)?;
    sort_by_path(resources, &path, order, schema);
    Ok(())
}

/// Parses a `sortBy` value (lenient attribute path); 400 `invalidValue` naming `sortBy`.
pub fn parse_sort_by(sort_by: &str) -> Result<AttrPath, ScimError> {
    Parser::lenient()
        .parse_attr_path(sort_by.trim())
        .map_err(|e| {
            ScimError::invalid_value(
                "sortBy",
                format_args!(
                    "`{}` is not a valid attribute path: {e}",
                    sort_by.escape_debug()
                ),
            )
        })
}

/// [`sort_resources`] with an already parsed path; never fails.
pub fn sort_by_path<S: AttributeSchema + ?Sized>(
    resources: &mut [Value],
    path: &AttrPath,
    order: SortOrder,
    schema: &S,
) {
    sort_items_by_path(resources, |v| v, path, order, schema);
}

/// [`sort_by_path`] over any items, each read through its JSON form `json_of` (for instance
/// `(Value, User)` pairs, so the typed resources move with their sort keys).
pub fn sort_items_by_path<T, S: AttributeSchema + ?Sized>(
    resources: &mut [T],
    json_of: impl Fn(&T) -> &Value,
    path: &AttrPath,
    order: SortOrder,
    schema: &S,
) {
    let info = schema.attribute(path.schema(), path.name(), path.sub_attr());
    let (kind, case_exact) = match info {
        Some(i) => (Some(i.kind()), i.case_exact()),
        None => (None, false),
    };
    resources.sort_by_cached_key(|r| {
        let key = sort_value(json_of(r), path).and_then(|v| SortKey::of(v, kind, case_exact));
        // `None` sorts after every key; descending reverses everything (missing first).
        let key = Ordered(key);
        match order {
            SortOrder::Ascending => Directed::Asc(key),
            SortOrder::Descending => Directed::Desc(std::cmp::Reverse(key)),
        }
    });
}

/// The value a resource sorts by, if it has one.
fn sort_value<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    let container = path
        .schema()
        .and_then(|urn| get_ci(obj, urn))
        .and_then(Value::as_object)
        .unwrap_or(obj);
    let attr = get_ci(container, path.name())?;
    let element = match attr {
        Value::Array(items) => items
            .iter()
            .find(|e| {
                e.as_object()
                    .and_then(|o| get_ci(o, "primary"))
                    .is_some_and(is_true)
            })
            .or_else(|| items.first())?,
        other => other,
    };
    let leaf = match (element, path.sub_attr()) {
        (Value::Object(o), Some(sub)) => get_ci(o, sub)?,
        (Value::Object(o), None) => get_ci(o, "value")?,
        (_, Some(_)) => return None,
        (v, None) => v,
    };
    (!is_empty(leaf)).then_some(leaf)
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A comparable key. Variants order booleans < numbers < instants < strings.
#[derive(Debug)]
enum SortKey {
    Bool(bool),
    Number(f64),
    Instant(DateTime<FixedOffset>),
    Text(String),
}

impl SortKey {
    fn of(v: &Value, kind: Option<AttrType>, case_exact: bool) -> Option<SortKey> {
        let key = match (v, kind) {
            (Value::Bool(b), _) => SortKey::Bool(*b),
            (Value::String(s), Some(AttrType::Boolean)) => {
                if s.eq_ignore_ascii_case("true") {
                    SortKey::Bool(true)
                } else if s.eq_ignore_ascii_case("false") {
                    SortKey::Bool(false)
                } else {
                    text(s, case_exact)
                }
            }
            (Value::Number(n), _) => SortKey::Number(n.as_f64()?),
            (Value::String(s), Some(AttrType::Integer | AttrType::Decimal)) => {
                match s.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => SortKey::Number(n),
                    _ => text(s, case_exact),
                }
            }
            (Value::String(s), Some(AttrType::DateTime)) => {
                parse_datetime(s).map_or_else(|| text(s, case_exact), SortKey::Instant)
            }
            (Value::String(s), Some(AttrType::Binary)) => SortKey::Text(s.clone()),
            (Value::String(s), Some(_)) => text(s, case_exact),
            (Value::String(s), None) => {
                parse_datetime(s).map_or_else(|| text(s, case_exact), SortKey::Instant)
            }
            // Objects and arrays (a complex value without `value`) have no ordering.
            (Value::Null | Value::Array(_) | Value::Object(_), _) => return None,
        };
        Some(key)
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::Instant(_) => 2,
            SortKey::Text(_) => 3,
        }
    }
}

fn text(s: &str, case_exact: bool) -> SortKey {
    SortKey::Text(if case_exact {
        s.to_owned()
    } else {
        s.to_lowercase()
    })
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Instant(a), SortKey::Instant(b)) => a.cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// An optional key where `None` (no data) sorts after every key.
#[derive(Debug, PartialEq, Eq)]
struct Ordered(Option<SortKey>);

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The key in one direction (all keys of one sort use the same variant).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Directed {
    Asc(Ordered),
    Desc(std::cmp::Reverse<Ordered>),
}
