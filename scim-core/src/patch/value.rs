//! Checking and normalising PATCH values against an attribute definition: type checks, booleans
//! sent as strings, canonical sub-attribute names, `null` members dropped, one `primary`.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{AttributeDef, AttributeType};

/// An attribute path for error messages, formatted only when an error is raised.
#[derive(Clone, Copy)]
pub(super) struct Name<'a> {
    pub(super) ext: Option<&'a str>,
    pub(super) attr: &'a str,
    pub(super) sub: Option<&'a str>,
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = self.ext {
            write!(f, "{urn}:")?;
        }
        f.write_str(self.attr)?;
        if let Some(sub) = self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl<'a> Name<'a> {
    pub(super) fn with_sub(self, sub: &'a str) -> Name<'a> {
        Name {
            sub: Some(sub),
            ..self
        }
    }
}

/// The sub-attributes RFC 7643 §2.4 gives every multi-valued attribute.
pub(super) fn is_standard_sub(name: &str) -> bool {
    ["value", "display", "type", "primary", "$ref"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// `true` for `true` and for the string `"true"` in any case.
pub(super) fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether `elem` is an object with `primary` true.
pub(super) fn is_primary(elem: &Value) -> bool {
    elem.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(is_true)
}

pub(super) use crate::json::{get_ci, key_ci};

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(name: Name<'_>, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(
        name.to_string(),
        format_args!("expected {expected}, got {}", kind_name(got)),
    )
}

/// One value (not a whole multi-valued attribute) of the attribute `def`. `elem`: the value is an
/// element of a multi-valued attribute (a bare string is then not read as `{"value": ...}`).
pub(super) fn one(
    v: &Value,
    def: Option<&AttributeDef>,
    name: Name<'_>,
    elem: bool,
) -> Result<Value, ScimError> {
    let Some(def) = def else {
        return Ok(untyped(v, name.sub.unwrap_or(name.attr)));
    };
    match def.kind {
        AttributeType::Complex => complex(v, def, name, elem),
        kind => scalar(v, kind, name),
    }
}

/// A value of an attribute no schema describes: kept as sent, minus `null` members of objects;
/// `primary` read as a boolean.
fn untyped(v: &Value, name: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), untyped(v, k)))
                .collect(),
        ),
        Value::String(s) if name.eq_ignore_ascii_case("primary") => {
            if s.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if s.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                v.clone()
            }
        }
        _ => v.clone(),
    }
}

fn scalar(v: &Value, kind: AttributeType, name: Name<'_>) -> Result<Value, ScimError> {
    match kind {
        AttributeType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong(name, "a boolean", v)),
        },
        AttributeType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            _ => Err(wrong(name, "an integer", v)),
        },
        AttributeType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong(name, "a number", v)),
        },
        // string, reference, dateTime, binary (and complex, handled by the caller)
        _ => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(wrong(name, "a string", v)),
        },
    }
}

fn complex(v: &Value, def: &AttributeDef, name: Name<'_>, elem: bool) -> Result<Value, ScimError> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, sv) in m {
                if sv.is_null() {
                    continue;
                }
                let (key, val) = sub_value(k, sv, def, name)?;
                out.insert(key, val);
            }
            Ok(Value::Object(out))
        }
        // Entra ID sends the enterprise manager as a bare id: `{"value": id}`.
        Value::String(_) if !elem && def.sub_attribute("value").is_some() => {
            let mut out = Map::new();
            let vdef = def.sub_attribute("value");
            let val = one(v, vdef, name.with_sub("value"), false)?;
            out.insert("value".to_owned(), val);
            Ok(Value::Object(out))
        }
        _ => Err(wrong(name, "an object", v)),
    }
}

/// One sub-attribute of a complex value: canonical name and checked value.
fn sub_value(
    k: &str,
    v: &Value,
    def: &AttributeDef,
    name: Name<'_>,
) -> Result<(String, Value), ScimError> {
    match def.sub_attribute(k) {
        Some(sd) => {
            let sname = name.with_sub(&sd.name);
            let val = if sd.multi_valued {
                Value::Array(many(v, Some(sd), sname)?)
            } else {
                scalar_or_complex(v, sd, sname)?
            };
            Ok((sd.name.clone(), val))
        }
        None => Ok((k.to_owned(), untyped(v, k))),
    }
}

fn scalar_or_complex(v: &Value, def: &AttributeDef, name: Name<'_>) -> Result<Value, ScimError> {
    match def.kind {
        AttributeType::Complex => complex(v, def, name, false),
        kind => scalar(v, kind, name),
    }
}

/// The values of a multi-valued attribute: an array (or, leniently, one value), `null` elements
/// dropped, at most one `primary` (the last one wins).
pub(super) fn many(
    v: &Value,
    def: Option<&AttributeDef>,
    name: Name<'_>,
) -> Result<Vec<Value>, ScimError> {
    let mut out = match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if !item.is_null() {
                    out.push(one(item, def, name, true)?);
                }
            }
            out
        }
        Value::Null => Vec::new(),
        single => vec![one(single, def, name, true)?],
    };
    if let Some(last) = out.iter().rposition(is_primary) {
        for (i, elem) in out.iter_mut().enumerate() {
            if i != last {
                if let Some(o) = elem.as_object_mut() {
                    if get_ci(o, "primary").is_some_and(is_true) {
                        if let Some(k) = key_ci(o, "primary").map(str::to_owned) {
                            o.remove(&k);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Whether an element already in an attribute is the same as a new one: equal JSON, or, for
/// references to resources (the attribute has `$ref`), the same `value`.
pub(super) fn same_element(old: &Value, new: &Value, by_value: bool) -> bool {
    if old == new {
        return true;
    }
    if by_value {
        if let (Some(a), Some(b)) = (element_value(old), element_value(new)) {
            return a == b;
        }
    }
    false
}

/// The `value` sub-attribute of an element.
pub(super) fn element_value(v: &Value) -> Option<&Value> {
    v.as_object().and_then(|o| get_ci(o, "value"))
}
