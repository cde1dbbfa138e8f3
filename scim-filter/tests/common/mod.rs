//! Shared helpers for the integration tests: corpus access and proptest strategies that build
//! arbitrary filter trees, PATCH paths and JSON resources.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use proptest::prelude::*;
use scim_filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath, Text};
use serde_json::{Number, Value};

/// Reads a JSON document from this crate's `tests/data`.
pub fn corpus_json(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every comparison operator with its canonical spelling.
pub const OPS: [(CompareOp, &str); 9] = [
    (CompareOp::Eq, "eq"),
    (CompareOp::Ne, "ne"),
    (CompareOp::Co, "co"),
    (CompareOp::Sw, "sw"),
    (CompareOp::Ew, "ew"),
    (CompareOp::Gt, "gt"),
    (CompareOp::Lt, "lt"),
    (CompareOp::Ge, "ge"),
    (CompareOp::Le, "le"),
];

/// Schema URNs that a generated attribute path may carry. The well-known ones exercise the
/// lenient parser's special handling of them; the others the generic "split at the last colon".
pub const SCHEMAS: [&str; 7] = [
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:scim:schemas:core:1.0",
    "urn:x:y",
    "URN:Example:Ext-1.5:Thing",
    "urn:a.b:c_d:e~f",
];

/// Attribute names that are also keywords of the grammar.
pub const KEYWORD_NAMES: [&str; 12] = [
    "not", "NOT", "and", "or", "Or", "pr", "eq", "true", "null", "urn", "value", "$ref",
];

/// An attribute name: `ALPHA *(ALPHA / DIGIT / "-" / "_")`, `$ref`, or a keyword.
pub fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
        1 => Just("$ref".to_owned()),
        1 => proptest::sample::select(&KEYWORD_NAMES[..]).prop_map(str::to_owned),
    ]
}

/// An attribute path with an optional schema URN and an optional sub-attribute.
pub fn attr_path() -> BoxedStrategy<AttrPath> {
    (
        proptest::option::weighted(0.25, proptest::sample::select(&SCHEMAS[..])),
        attr_name(),
        proptest::option::weighted(0.3, attr_name()),
    )
        .prop_filter_map("valid attribute path", |(schema, name, sub)| {
            let mut path = AttrPath::new(&name)?;
            if let Some(urn) = schema {
                path = path.with_schema(urn)?;
            }
            if let Some(sub) = sub {
                path = path.with_sub_attr(&sub)?;
            }
            Some(path)
        })
        .boxed()
}

/// A character for string literals: anything, with quotes, backslashes, control characters and
/// characters that need surrogate pairs in `\u` escapes over-represented.
pub fn literal_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => proptest::char::range('a', 'z'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => (0u32..0x20).prop_filter_map("control", char::from_u32),
        1 => Just('\u{7f}'),
        1 => Just('😀'),
        1 => Just(' '),
    ]
}

/// A string literal's value.
pub fn literal_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(literal_char(), 0..12).prop_map(|cs| cs.into_iter().collect())
}

/// A finite `f64` as a JSON number.
pub fn float_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<f64>(),
        (-1000i32..1000).prop_map(f64::from),
        (-1000i32..1000, 1u8..5).prop_map(|(n, d)| f64::from(n) / f64::from(d) / 7.0),
    ]
    .prop_filter_map("finite", Number::from_f64)
}

/// A comparison value: null, a boolean, an integer (i64 or u64), a float or a string.
pub fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        1 => Just(CompValue::Null),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        1 => any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        1 => float_number().prop_map(CompValue::Number),
        4 => literal_string().prop_map(|s| CompValue::String(Text::from(s))),
    ]
}

/// An operator and a value that the parser accepts together: ordering operators never take
/// `true`, `false` or `null`.
pub fn op_and_value() -> impl Strategy<Value = (CompareOp, CompValue)> {
    (proptest::sample::select(&OPS[..]), comp_value()).prop_map(|((op, _), value)| {
        if op.is_ordering() && matches!(value, CompValue::Bool(_) | CompValue::Null) {
            (CompareOp::Eq, value)
        } else {
            (op, value)
        }
    })
}

/// `attr pr` or `attr op value`.
pub fn term(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        1 => path.clone().prop_map(Filter::present),
        3 => (path, op_and_value()).prop_map(|(p, (op, v))| Filter::compare(p, op, v)),
    ]
    .boxed()
}

/// Combines `leaf` with `not`, `and` and `or`, at most `depth` levels deep.
pub fn logic(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 24, 2, |inner| {
        prop_oneof![
            1 => inner.clone().prop_map(Filter::not),
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::and(l, r)),
            2 => (inner.clone(), inner).prop_map(|(l, r)| Filter::or(l, r)),
        ]
    })
    .boxed()
}

/// A filter that may appear inside `[...]`: no value filter.
pub fn inner_filter(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    logic(term(path), 3)
}

/// Any filter the parser accepts: value filters (without nesting) anywhere in the logic.
pub fn filter_with(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    let value_path =
        (path.clone(), inner_filter(path.clone())).prop_map(|(p, f)| Filter::value_path(p, f));
    let leaf = prop_oneof![3 => term(path), 1 => value_path].boxed();
    logic(leaf, 4)
}

/// Any filter over arbitrary attribute paths.
pub fn filter() -> BoxedStrategy<Filter> {
    filter_with(attr_path())
}

/// Any PATCH path: an attribute path, or a value filter with an optional sub-attribute.
pub fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        1 => attr_path().prop_map(PatchPath::attribute),
        2 => (
            attr_path(),
            inner_filter(attr_path()),
            proptest::option::of(attr_name()),
        )
            .prop_filter_map("valid sub-attribute", |(attr, f, sub)| {
                PatchPath::value_path(attr, f, sub.as_deref())
            }),
    ]
}

/// A JSON value, `depth` levels deep at most, with keys drawn from `keys`.
pub fn json_value(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        float_number().prop_map(Value::Number),
        literal_string().prop_map(Value::String),
        proptest::sample::select(
            &[
                "2011-05-13T04:42:34Z",
                "2011-05-13T06:42:34+02:00",
                "2011-05-13T04:42:34",
                "2011-05-13 04:42",
                "True",
                "false",
                "ÉMILE",
                "",
            ][..]
        )
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(proptest::sample::select(keys), inner, 0..4).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
    .boxed()
}
