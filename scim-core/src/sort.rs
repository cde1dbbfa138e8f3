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

use scim_filter::{AttrPath, AttrType, AttributeSchema, Parser};
use serde_json::Value;

use crate::error::ScimError;
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
    let info = schema.attribute(path.schema(), path.name(), path.sub_attr());
    let (kind, case_exact) = match info {
        Some(i) => (Some(i.kind()), i.case_exact()),
        None => (None, false),
    };
    resources.sort_by_cached_key(|r| {
        let key = sort_value(r, path).and_then(|v| SortKey::of(v, kind, case_exact));
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

pub(crate) fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A comparable key. Variants order booleans < numbers < instants < strings.
#[derive(Debug)]
enum SortKey {
    Bool(bool),
    Number(f64),
    Instant(i128),
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
                parse_instant(s).map_or_else(|| text(s, case_exact), SortKey::Instant)
            }
            (Value::String(s), Some(AttrType::Binary)) => SortKey::Text(s.clone()),
            (Value::String(s), Some(_)) => text(s, case_exact),
            (Value::String(s), None) => {
                parse_instant(s).map_or_else(|| text(s, case_exact), SortKey::Instant)
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

/// An RFC 3339 date-time (`xsd:dateTime`) as nanoseconds since the Unix epoch. Without an offset,
/// UTC is assumed (as scim-filter does). `T`, `t` or a space separate date and time.
pub(crate) fn parse_instant(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        let mut n: i64 = 0;
        for d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(d - b'0');
        }
        Some(n)
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut scale: i64 = 100_000_000;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            nanos += i64::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_instant;

    #[test]
    fn instants() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_instant("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_instant("2011-05-13T04:42:34Z"),
            Some(1_305_261_754 * 1_000_000_000)
        );
        assert_eq!(parse_instant("2000-02-30T00:00:00Z"), None);
        assert_eq!(
            parse_instant("2000-02-29T00:00:00"),
            Some(951_782_400 * 1_000_000_000)
        );
        assert_eq!(parse_instant("not a date"), None);
        assert_eq!(parse_instant("2000-01-01T00:00:00+0100"), None);
    }
}
