//! The `PatchOp` message (RFC 7644 §3.5.2): lenient decoding, strict encoding.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use scim_filter::{Parser, PatchPath};

use crate::error::ScimError;
use crate::urn;

/// What one operation does (`op`, RFC 7644 §3.5.2). Read case-insensitively (`"Replace"`, as
/// Entra ID sends it); written in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

impl OpKind {
    /// The wire form: `add`, `remove` or `replace`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }

    /// Parses `op`, ignoring case.
    pub fn from_name(s: &str) -> Option<OpKind> {
        [OpKind::Add, OpKind::Remove, OpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of `Operations`: `op`, an optional parsed `path` and an optional `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    /// `op`.
    pub op: OpKind,
    /// `path`, parsed (leniently, see [`scim_filter::Mode::Lenient`]); `None` targets the
    /// resource itself.
    pub path: Option<PatchPath>,
    /// `value`, as sent. `Some(Value::Null)` when the client sent `null`.
    pub value: Option<Value>,
}

impl PatchOperation {
    /// An operation.
    pub fn new(op: OpKind, path: Option<PatchPath>, value: Option<Value>) -> Self {
        PatchOperation { op, path, value }
    }

    /// An operation whose path is given as text, parsed leniently; a bad path is `invalidPath`.
    pub fn with_path(op: OpKind, path: &str, value: Option<Value>) -> Result<Self, ScimError> {
        Ok(PatchOperation {
            op,
            path: Some(parse_path(path)?),
            value,
        })
    }
}

/// A PATCH request body (RFC 7644 §3.5.2): `schemas` and `Operations`.
///
/// Read as identity providers write it: the `Operations` and `schemas` keys and every key of an
/// operation in any case, `schemas` may be missing, `op` in any case, unknown keys ignored (Entra
/// ID sends `"name"` on operations), an empty or `null` `path` means no path. Written strictly:
/// `schemas` with the `PatchOp` URN, `Operations`, lower-case `op`, canonical `path`.
///
/// Decode with [`PatchOp::from_slice`] or [`PatchOp::from_value`] to get a [`ScimError`] with the
/// right `scimType` (`invalidSyntax`, or `invalidPath` for a path that does not parse); the
/// `Deserialize` impl reports the same messages as plain serde errors.
///
/// ```
/// use scim_core::patch::{OpKind, PatchOp};
///
/// let patch = PatchOp::from_slice(br#"{"operations": [
///     {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"}
/// ]}"#)?;
/// assert_eq!(patch.operations[0].op, OpKind::Replace);
/// assert_eq!(
///     serde_json::to_string(&patch).unwrap(),
///     r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@example.com"}]}"#
/// );
/// # Ok::<(), scim_core::ScimError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PatchOp {
    /// `schemas`, as received (possibly empty); the `PatchOp` URN is always written.
    pub schemas: Vec<String>,
    /// `Operations`, in order.
    pub operations: Vec<PatchOperation>,
}

impl PatchOp {
    /// A message with these operations.
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        PatchOp {
            schemas: vec![urn::PATCH_OP.to_owned()],
            operations,
        }
    }

    /// Decodes JSON bytes. Malformed JSON or structure is `invalidSyntax`, an unparsable path
    /// `invalidPath`; never panics.
    pub fn from_slice(json: &[u8]) -> Result<PatchOp, ScimError> {
        let mut slot = None;
        let mut de = serde_json::Deserializer::from_slice(json);
        match super::decode::patch_op(&mut de, &mut slot).and_then(|p| de.end().map(|()| p)) {
            Ok(patch) => Ok(patch),
            Err(e) => Err(decode_error(json, &e, slot)),
        }
    }

    /// Decodes a JSON value (see [`PatchOp::from_slice`]).
    pub fn from_value(v: Value) -> Result<PatchOp, ScimError> {
        let mut slot = None;
        super::decode::patch_op(v, &mut slot)
            .map_err(|e| slot.unwrap_or_else(|| ScimError::invalid_syntax(e)))
    }
}

/// The error of a failed decode. Malformed JSON wins over what the decoder met before the
/// break, as when the body was parsed into a `Value` first; so, on this error path only, it is
/// parsed that way again (a `Value`, not `IgnoredAny`, for the same message).
#[cold]
fn decode_error(json: &[u8], e: &serde_json::Error, slot: Option<ScimError>) -> ScimError {
    if let Err(syntax) = serde_json::from_slice::<Value>(json) {
        return ScimError::invalid_syntax(format_args!("malformed JSON: {syntax}"));
    }
    slot.unwrap_or_else(|| ScimError::invalid_syntax(format_args!("malformed JSON: {e}")))
}

/// Parses a PATCH path leniently; a failure is `invalidPath` naming the path and position.
///
/// Lenient mode also reads RFC 7644's own example `members[value eq"2819c223..."]`, which has no
/// space between the operator and the string.
pub fn parse_path(path: &str) -> Result<PatchPath, ScimError> {
    Parser::lenient()
        .parse_path(path)
        .map_err(|e| ScimError::invalid_path(path, e))
}

impl Serialize for PatchOperation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("op", self.op.as_str())?;
        if let Some(path) = &self.path {
            map.serialize_entry("path", &format_args!("{path}"))?;
        }
        if let Some(value) = &self.value {
            map.serialize_entry("value", value)?;
        }
        map.end()
    }
}

impl Serialize for PatchOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        let has_urn = self
            .schemas
            .iter()
            .any(|u| u.eq_ignore_ascii_case(urn::PATCH_OP));
        if has_urn {
            map.serialize_entry("schemas", &self.schemas)?;
        } else {
            let mut schemas: Vec<&str> = Vec::with_capacity(self.schemas.len() + 1);
            schemas.push(urn::PATCH_OP);
            schemas.extend(self.schemas.iter().map(String::as_str));
            map.serialize_entry("schemas", &schemas)?;
        }
        map.serialize_entry("Operations", &self.operations)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for PatchOp {
    /// Lenient decoding as in [`PatchOp::from_slice`]; errors carry the same message.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::decode::patch_op(d, &mut None)
    }
}

impl<'de> Deserialize<'de> for PatchOperation {
    /// One operation, leniently (see [`PatchOp`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::decode::operation(d, 0, &mut None)
    }
}
