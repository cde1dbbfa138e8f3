//! Streaming decoder of the `PatchOp` message: serde visitors that read the JSON straight into
//! [`PatchOp`], without building a `serde_json::Value` of the whole body first (only each
//! operation's `value` is one).
//!
//! A serde error can only carry a message, but a PATCH failure must keep its `scimType`
//! (`invalidPath` for a path that does not parse, `invalidSyntax` otherwise). Each visitor
//! therefore gets a slot: on a semantic failure it stores the [`ScimError`] there and aborts
//! with a serde error carrying the same message; the caller takes the error from the slot.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::op::{OpKind, PatchOp, PatchOperation, parse_path};
use crate::error::ScimError;

/// Where a visitor leaves the [`ScimError`] behind the serde error it returns.
pub(crate) type Slot = Option<ScimError>;

/// Stores `e` and returns a serde error with its message.
#[cold]
fn fail<E: de::Error>(slot: &mut Slot, e: ScimError) -> E {
    let err = E::custom(&e);
    *slot = Some(e);
    err
}

/// Decodes a `PatchOp` from any deserializer; semantic failures are left in `slot`.
pub(crate) fn patch_op<'de, D: Deserializer<'de>>(
    d: D,
    slot: &mut Slot,
) -> Result<PatchOp, D::Error> {
    d.deserialize_any(PatchOpVisitor { slot })
}

/// Decodes one operation (index `index` for messages).
pub(crate) fn operation<'de, D: Deserializer<'de>>(
    d: D,
    index: usize,
    slot: &mut Slot,
) -> Result<PatchOperation, D::Error> {
    OperationSeed { index, slot }.deserialize(d)
}

/// A value seen where a string was expected: kept whole so that the message can show it.
enum Text<'de> {
    Null,
    Str(Cow<'de, str>),
    Other(Value),
}

struct TextVisitor;

impl<'de> DeserializeSeed<'de> for TextVisitor {
    type Value = Text<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Text<'de>, E> {
        Ok(Text::Null)
    }
    fn visit_none<E>(self) -> Result<Text<'de>, E> {
        Ok(Text::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Text<'de>, E> {
        Ok(Text::Other(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Text<'de>, E> {
        Ok(Text::Other(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Text<'de>, E> {
        Ok(Text::Other(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Text<'de>, E> {
        Ok(Text::Other(Value::from(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        de::Deserialize::deserialize(SeqAccessDeserializer::new(seq)).map(Text::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        de::Deserialize::deserialize(MapAccessDeserializer::new(map)).map(Text::Other)
    }
}

/// The error for a JSON value of the wrong type where a visitor's value was expected.
trait Shape {
    fn reject(&self) -> ScimError;
}

/// Generates the `visit_*` methods of a visitor for every JSON type it does not accept: each
/// stores the visitor's `reject()` error. The accepted types are written by hand.
macro_rules! reject {
    ($($method:ident $(: $ty:ty)?),* $(,)?) => {$(
        fn $method<E: de::Error>(self $(, _: $ty)?) -> Result<Self::Value, E> {
            let e = self.reject();
            Err(fail(self.slot, e))
        }
    )*};
}

/// Which member of an object a key names, ignoring case; never allocates.
#[derive(Clone, Copy)]
enum Key {
    Schemas,
    Operations,
    Op,
    Path,
    Value,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v.len() {
                    2 if v.eq_ignore_ascii_case("op") => Key::Op,
                    4 if v.eq_ignore_ascii_case("path") => Key::Path,
                    5 if v.eq_ignore_ascii_case("value") => Key::Value,
                    7 if v.eq_ignore_ascii_case("schemas") => Key::Schemas,
                    10 if v.eq_ignore_ascii_case("operations") => Key::Operations,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

struct PatchOpVisitor<'s> {
    slot: &'s mut Slot,
}

impl Shape for PatchOpVisitor<'_> {
    fn reject(&self) -> ScimError {
        ScimError::invalid_syntax("a PatchOp must be a JSON object with `Operations`")
    }
}

impl<'de> Visitor<'de> for PatchOpVisitor<'_> {
    type Value = PatchOp;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a PatchOp object")
    }
    reject!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str, visit_unit);
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<PatchOp, A::Error> {
        let e = self.reject();
        Err(fail(self.slot, e))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PatchOp, A::Error> {
        let slot = self.slot;
        let mut schemas = Vec::new();
        let mut operations = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Schemas => schemas = map.next_value_seed(SchemasSeed { slot: &mut *slot })?,
                Key::Operations => {
                    operations = Some(map.next_value_seed(OperationsSeed { slot: &mut *slot })?);
                }
                Key::Op | Key::Path | Key::Value | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match operations {
            Some(operations) => Ok(PatchOp {
                schemas,
                operations,
            }),
            None => Err(fail(
                slot,
                ScimError::invalid_syntax("PatchOp without `Operations`"),
            )),
        }
    }
}

/// `schemas`: an array of strings, a single string, or null.
struct SchemasSeed<'s> {
    slot: &'s mut Slot,
}

impl Shape for SchemasSeed<'_> {
    fn reject(&self) -> ScimError {
        ScimError::invalid_syntax("`schemas` must be an array of strings")
    }
}

impl<'de> DeserializeSeed<'de> for SchemasSeed<'_> {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SchemasSeed<'_> {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }
    reject!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(vec![v.to_owned()])
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<String>, A::Error> {
        let e = self.reject();
        Err(fail(self.slot, e))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(TextVisitor)? {
            match item {
                Text::Str(s) => out.push(s.into_owned()),
                Text::Null | Text::Other(_) => {
                    let e = self.reject();
                    return Err(fail(self.slot, e));
                }
            }
        }
        Ok(out)
    }
}

/// `Operations`: an array of operation objects.
struct OperationsSeed<'s> {
    slot: &'s mut Slot,
}

impl Shape for OperationsSeed<'_> {
    fn reject(&self) -> ScimError {
        ScimError::invalid_syntax("`Operations` must be an array")
    }
}

impl<'de> DeserializeSeed<'de> for OperationsSeed<'_> {
    type Value = Vec<PatchOperation>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<PatchOperation>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OperationsSeed<'_> {
    type Value = Vec<PatchOperation>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of operations")
    }
    reject!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str, visit_unit);
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Vec<PatchOperation>, A::Error> {
        let e = self.reject();
        Err(fail(self.slot, e))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<PatchOperation>, A::Error> {
        // Bounded: a size hint must not reserve memory the input does not back.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        let slot = self.slot;
        while let Some(op) = seq.next_element_seed(OperationSeed {
            index: out.len(),
            slot: &mut *slot,
        })? {
            out.push(op);
        }
        Ok(out)
    }
}

/// One operation: `op`, `path` and `value` in any case; other members are ignored (Entra ID
/// sends `name`).
struct OperationSeed<'s> {
    index: usize,
    slot: &'s mut Slot,
}

impl Shape for OperationSeed<'_> {
    fn reject(&self) -> ScimError {
        ScimError::invalid_syntax(format_args!(
            "Operations[{}] must be an object with `op`",
            self.index
        ))
    }
}

impl<'de> DeserializeSeed<'de> for OperationSeed<'_> {
    type Value = PatchOperation;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PatchOperation, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OperationSeed<'_> {
    type Value = PatchOperation;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an operation object")
    }
    reject!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str, visit_unit);
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<PatchOperation, A::Error> {
        let e = self.reject();
        Err(fail(self.slot, e))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PatchOperation, A::Error> {
        let i = self.index;
        let slot = self.slot;
        let mut op = None;
        let mut path = None;
        let mut value = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Op => {
                    let name = match map.next_value_seed(TextVisitor)? {
                        Text::Str(name) => name,
                        Text::Null => {
                            return Err(fail(slot, not_an_op(i, &Value::Null)));
                        }
                        Text::Other(v) => return Err(fail(slot, not_an_op(i, &v))),
                    };
                    let Some(kind) = OpKind::from_name(name.trim()) else {
                        let e = ScimError::invalid_syntax(format_args!(
                            "Operations[{i}]: unknown op \"{name}\" (expected add, remove or replace)"
                        ));
                        return Err(fail(slot, e));
                    };
                    op = Some(kind);
                }
                Key::Path => {
                    path = match map.next_value_seed(TextVisitor)? {
                        Text::Null => None,
                        Text::Str(s) if s.trim().is_empty() => None,
                        Text::Str(s) => match parse_path(&s) {
                            Ok(p) => Some(p),
                            Err(e) => return Err(fail(slot, e)),
                        },
                        Text::Other(v) => {
                            let e = ScimError::invalid_path(
                                v.to_string(),
                                format_args!("Operations[{i}].path must be a string"),
                            );
                            return Err(fail(slot, e));
                        }
                    };
                }
                Key::Value => value = Some(map.next_value::<Value>()?),
                Key::Schemas | Key::Operations | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match op {
            Some(op) => Ok(PatchOperation { op, path, value }),
            None => Err(fail(
                slot,
                ScimError::invalid_syntax(format_args!("Operations[{i}] has no `op`")),
            )),
        }
    }
}

#[cold]
fn not_an_op(i: usize, v: &Value) -> ScimError {
    ScimError::invalid_syntax(format_args!(
        "Operations[{i}].op must be \"add\", \"remove\" or \"replace\", not {v}"
    ))
}

#[cfg(test)]
mod tests {
    //! The streaming decoder against the `Value`-based one it replaced (kept here as the
    //! oracle): same result, same `scimType`, same detail, on the PATCH corpora and on broken
    //! variants of them.

    use serde_json::{Value, json};

    use super::super::op::{OpKind, PatchOp, PatchOperation, parse_path};
    use crate::error::ScimError;

    fn oracle_slice(json: &[u8]) -> Result<PatchOp, ScimError> {
        let v: Value = serde_json::from_slice(json)
            .map_err(|e| ScimError::invalid_syntax(format_args!("malformed JSON: {e}")))?;
        oracle(v)
    }

    fn oracle(v: Value) -> Result<PatchOp, ScimError> {
        let Value::Object(map) = v else {
            return Err(ScimError::invalid_syntax(
                "a PatchOp must be a JSON object with `Operations`",
            ));
        };
        let mut schemas = Vec::new();
        let mut operations = None;
        for (k, v) in map {
            if k.eq_ignore_ascii_case("schemas") {
                schemas = oracle_schemas(v)?;
            } else if k.eq_ignore_ascii_case("operations") {
                let Value::Array(items) = v else {
                    return Err(ScimError::invalid_syntax("`Operations` must be an array"));
                };
                operations = Some(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| oracle_operation(i, item))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
        }
        let operations =
            operations.ok_or_else(|| ScimError::invalid_syntax("PatchOp without `Operations`"))?;
        Ok(PatchOp {
            schemas,
            operations,
        })
    }

    fn oracle_schemas(v: Value) -> Result<Vec<String>, ScimError> {
        let bad = || ScimError::invalid_syntax("`schemas` must be an array of strings");
        match v {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(vec![s]),
            Value::Array(items) => items
                .into_iter()
                .map(|s| match s {
                    Value::String(s) => Ok(s),
                    _ => Err(bad()),
                })
                .collect(),
            _ => Err(bad()),
        }
    }

    fn oracle_operation(i: usize, v: Value) -> Result<PatchOperation, ScimError> {
        let Value::Object(map) = v else {
            return Err(ScimError::invalid_syntax(format_args!(
                "Operations[{i}] must be an object with `op`"
            )));
        };
        let mut op = None;
        let mut path = None;
        let mut value = None;
        for (k, v) in map {
            if k.eq_ignore_ascii_case("op") {
                let Value::String(name) = v else {
                    return Err(ScimError::invalid_syntax(format_args!(
                        "Operations[{i}].op must be \"add\", \"remove\" or \"replace\", not {v}"
                    )));
                };
                op = Some(OpKind::from_name(name.trim()).ok_or_else(|| {
                    ScimError::invalid_syntax(format_args!(
                        "Operations[{i}]: unknown op \"{name}\" (expected add, remove or replace)"
                    ))
                })?);
            } else if k.eq_ignore_ascii_case("path") {
                path = match v {
                    Value::Null => None,
                    Value::String(s) if s.trim().is_empty() => None,
                    Value::String(s) => Some(parse_path(&s)?),
                    other => {
                        return Err(ScimError::invalid_path(
                            other.to_string(),
                            format_args!("Operations[{i}].path must be a string"),
                        ));
                    }
                };
            } else if k.eq_ignore_ascii_case("value") {
                value = Some(v);
            }
        }
        let op = op.ok_or_else(|| {
            ScimError::invalid_syntax(format_args!("Operations[{i}] has no `op`"))
        })?;
        Ok(PatchOperation { op, path, value })
    }

    fn corpus() -> Vec<Value> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/patch");
        let mut out = Vec::new();
        let quirks = std::fs::read_to_string(format!("{dir}/idp-quirks.jsonl")).unwrap();
        for line in quirks.lines().filter(|l| l.starts_with('{')) {
            let entry: Value = serde_json::from_str(line).unwrap();
            out.push(entry["body"].clone());
        }
        let entra = std::fs::read_to_string(format!("{dir}/entra-reference-patches.json")).unwrap();
        let entra: Vec<Value> = serde_json::from_str(&entra).unwrap();
        out.extend(entra.into_iter().map(|e| e["body"].clone()));
        out
    }

    /// Broken and unusual variants: every member of the message and of each operation replaced
    /// by values of other types, removed, or renamed in other case.
    fn variants(body: &Value) -> Vec<Value> {
        let odd = [
            json!(null),
            json!(true),
            json!(3),
            json!(-1.5),
            json!("x"),
            json!(""),
            json!(" "),
            json!([]),
            json!(["a", 1]),
            json!({}),
            json!({"k": [1]}),
            json!("bogus[["),
            json!("ADD"),
            json!(" remove "),
        ];
        let mut out = vec![body.clone(), json!([]), json!("x"), json!(null), json!({})];
        let Some(map) = body.as_object() else {
            return out;
        };
        for key in map.keys() {
            for v in &odd {
                let mut b = body.clone();
                b[key] = v.clone();
                out.push(b);
            }
            let mut b = body.clone();
            let moved = b.as_object_mut().unwrap().remove(key).unwrap();
            out.push(b.clone());
            b[key.to_uppercase()] = moved;
            out.push(b);
        }
        if let Some(ops) = map.get("Operations").and_then(Value::as_array) {
            for (i, op) in ops.iter().enumerate() {
                for v in &odd {
                    let mut b = body.clone();
                    b["Operations"][i] = v.clone();
                    out.push(b);
                }
                let Some(op) = op.as_object() else { continue };
                for key in op.keys().cloned().chain(["name".to_owned()]) {
                    for v in &odd {
                        let mut b = body.clone();
                        b["Operations"][i][&key] = v.clone();
                        out.push(b);
                    }
                    let mut b = body.clone();
                    b["Operations"][i].as_object_mut().unwrap().remove(&key);
                    out.push(b);
                }
            }
        }
        out
    }

    fn same(input: &str, new: &Result<PatchOp, ScimError>, old: &Result<PatchOp, ScimError>) {
        match (new, old) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{input}"),
            (Err(a), Err(b)) => {
                assert_eq!(a.scim_type(), b.scim_type(), "{input}: {a} / {b}");
                assert_eq!(a.detail(), b.detail(), "{input}");
            }
            _ => panic!("{input}: streaming {new:?}, oracle {old:?}"),
        }
    }

    #[test]
    fn streaming_decoder_agrees_with_the_value_decoder() {
        let mut checked = 0;
        for body in corpus() {
            for v in variants(&body) {
                let text = v.to_string();
                let new = PatchOp::from_slice(text.as_bytes());
                same(&text, &new, &oracle_slice(text.as_bytes()));
                same(&text, &PatchOp::from_value(v.clone()), &oracle(v.clone()));
                // Serde's entry point carries the same message.
                let via_serde = serde_json::from_str::<PatchOp>(&text);
                match (&via_serde, &new) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert!(a.to_string().starts_with(&b.to_string())),
                    _ => panic!("{text}: serde {via_serde:?}, from_slice {new:?}"),
                }
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn malformed_json_wins_over_what_came_before_it() {
        for text in [
            r#"{"Operations": [{"op": "bogus"}"#,
            r#"{"Operations": [{"op": "add", "path": "[[["}], "#,
            r#"{"Operations": 3, "#,
            r#"{"Operations": [], "schemas": [1]} trailing"#,
            r#"{"Operations": [{"op": "add", "value": {"a": [1, 2}}]}"#,
            "",
            "\u{feff}{}",
        ] {
            let new = PatchOp::from_slice(text.as_bytes());
            same(text, &new, &oracle_slice(text.as_bytes()));
            assert!(
                new.unwrap_err().detail().starts_with("malformed JSON"),
                "{text}"
            );
        }
    }

    #[test]
    fn escaped_and_odd_keys() {
        let text = r#"{"\u004fperations": [{"\u006fp": "\u0041dd", "pa\u0074h": "emails[type eq \"w\\\"k\"]", "value": 1}], "extra": {"Operations": 5}}"#;
        let new = PatchOp::from_slice(text.as_bytes());
        same(text, &new, &oracle_slice(text.as_bytes()));
        let op = &new.unwrap().operations[0];
        assert_eq!(op.op, OpKind::Add);
        assert_eq!(
            op.path.as_ref().unwrap().to_string(),
            r#"emails[type eq "w\"k"]"#
        );
    }

    /// The crate's rule for one name in two spellings: the last one in the document wins (the
    /// oracle followed the sorted order of `serde_json::Map` instead).
    #[test]
    fn duplicate_keys_last_wins() {
        let p = PatchOp::from_slice(
            br#"{"operations": [], "Operations": [{"op": "add", "value": 1, "VALUE": 2, "Op": "remove"}]}"#,
        )
        .unwrap();
        assert_eq!(p.operations.len(), 1);
        assert_eq!(p.operations[0].op, OpKind::Remove);
        assert_eq!(p.operations[0].value, Some(json!(2)));
    }
}
