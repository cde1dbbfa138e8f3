//! Bulk operations (RFC 7644 §3.7): [`BulkRequest`], [`BulkResponse`] and the `bulkId`
//! reference machinery a service needs to run one.
//!
//! - Messages are read leniently (attribute names and `method` in any case, `schemas` may be
//!   missing, unknown attributes kept) and written strictly (`schemas` always, `method` in upper
//!   case, `status` as a string).
//! - [`references_in_value`] and [`references_in_path`] find the `bulkId:<id>` references an
//!   operation makes; [`resolve_value`] and [`resolve_path`] substitute the ids of the resources
//!   created so far; [`BulkRequest::execution_order`] orders the operations so that every
//!   operation runs after the ones it references.
//!
//! ```
//! use std::collections::HashMap;
//! use scim_core::bulk::BulkRequest;
//!
//! let mut request = BulkRequest::from_slice(br#"{
//!   "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
//!   "Operations": [
//!     {"method": "POST", "path": "/Groups", "bulkId": "tour-guides",
//!      "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:alice"}]}},
//!     {"method": "post", "path": "/Users", "bulkId": "alice", "data": {"userName": "Alice"}}
//!   ]}"#)?;
//!
//! // The group refers to the user created in the same request: the user goes first.
//! let order = request.execution_order()?;
//! assert_eq!(order, vec![1, 0]);
//! assert_eq!(request.operations[0].references(), vec!["alice"]);
//!
//! // Once the user exists, its id replaces the reference.
//! let created = HashMap::from([("alice".to_owned(), "2819c223".to_owned())]);
//! request.operations[0].resolve(&created)?;
//! let data = request.operations[0].data.as_ref().unwrap();
//! assert_eq!(data["members"][0]["value"], "2819c223");
//!
//! // A reference to something that was not created is an error naming it.
//! let mut dangling = request.operations[0].clone();
//! dangling.data = Some(serde_json::json!({"members": [{"value": "bulkId:bob"}]}));
//! let err = dangling.resolve(&created).unwrap_err();
//! assert!(err.detail().contains("bulkId:bob"));
//! # Ok::<(), scim_core::ScimError>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use http::StatusCode;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::de::{SchemasOut, wrap_err};
use crate::error::{ScimError, ScimType};
use crate::patch::PatchOp;
use crate::urn;

/// The prefix of a reference to a resource created in the same bulk request (RFC 7644 §3.7.2).
pub const BULK_ID_PREFIX: &str = "bulkId:";

/// The HTTP method of a bulk operation (`method`, RFC 7644 §3.7). Read in any case; written in
/// upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BulkMethod {
    /// `POST`: create a resource at a resource type endpoint.
    Post,
    /// `PUT`: replace a resource.
    Put,
    /// `PATCH`: modify a resource.
    Patch,
    /// `DELETE`: delete a resource.
    Delete,
}

impl BulkMethod {
    const ALL: [BulkMethod; 4] = [
        BulkMethod::Post,
        BulkMethod::Put,
        BulkMethod::Patch,
        BulkMethod::Delete,
    ];

    /// The wire form: `POST`, `PUT`, `PATCH` or `DELETE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    /// Parses a method name, ignoring case and surrounding spaces.
    pub fn from_name(s: &str) -> Option<BulkMethod> {
        let s = s.trim();
        BulkMethod::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for BulkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<BulkMethod> for http::Method {
    fn from(m: BulkMethod) -> Self {
        match m {
            BulkMethod::Post => http::Method::POST,
            BulkMethod::Put => http::Method::PUT,
            BulkMethod::Patch => http::Method::PATCH,
            BulkMethod::Delete => http::Method::DELETE,
        }
    }
}

impl TryFrom<&http::Method> for BulkMethod {
    type Error = ScimError;
    /// The four methods a bulk operation may use; any other is `invalidValue`.
    fn try_from(m: &http::Method) -> Result<Self, ScimError> {
        BulkMethod::from_name(m.as_str()).ok_or_else(|| bad_method(m.as_str()))
    }
}

fn bad_method(name: &str) -> ScimError {
    ScimError::invalid_value(
        "method",
        format_args!("\"{name}\" is not a bulk method (expected POST, PUT, PATCH or DELETE)"),
    )
}

impl Serialize for BulkMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BulkMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BulkMethod;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("POST, PUT, PATCH or DELETE")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BulkMethod, E> {
                BulkMethod::from_name(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A bulk request (RFC 7644 §3.7): `failOnErrors` and the `Operations`.
///
/// Decode it with [`BulkRequest::from_slice`] (which also [validates](BulkRequest::validate) it)
/// or through `Deserialize` (structure only). A service that answers an invalid operation in
/// the response, as RFC 7644 §3.7.3 shows, rather than failing the whole request, decodes with
/// [`crate::from_slice`], checks each operation with [`BulkOperation::validate`] and turns a
/// failure into [`BulkOperationResponse::from_error`]. See the [module documentation](self) for
/// an example.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkRequest {
    /// `schemas`, as received (possibly empty); the `BulkRequest` URN is always written.
    pub schemas: Vec<String>,
    /// `failOnErrors`: how many errors the service provider accepts before it stops.
    pub fail_on_errors: Option<u32>,
    /// `Operations`, in request order.
    pub operations: Vec<BulkOperation>,
    /// Attributes this type does not know, kept verbatim.
    pub other: Map<String, Value>,
}

/// One operation of a [`BulkRequest`].
#[derive(Clone, Debug, PartialEq)]
pub struct BulkOperation {
    /// `method`.
    pub method: BulkMethod,
    /// `bulkId`: the client's transient id for a resource this operation creates (REQUIRED for
    /// POST).
    pub bulk_id: Option<String>,
    /// `version`: the entity tag the resource must still have (`If-Match`).
    pub version: Option<String>,
    /// `path`: the resource type endpoint (`/Users`) for POST, the resource
    /// (`/Users/2819c223`, or `/Groups/bulkId:qwerty`) otherwise.
    pub path: String,
    /// `data`: the body of the equivalent single request; `None` for DELETE.
    pub data: Option<Value>,
    /// Attributes this type does not know, kept verbatim.
    pub other: Map<String, Value>,
}

/// A bulk response (RFC 7644 §3.7.3): one result per processed operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkResponse {
    /// `schemas`, as received (possibly empty); the `BulkResponse` URN is always written.
    pub schemas: Vec<String>,
    /// `Operations`: the results, in processing order.
    pub operations: Vec<BulkOperationResponse>,
    /// Attributes this type does not know, kept verbatim.
    pub other: Map<String, Value>,
}

/// The result of one bulk operation (an element of [`BulkResponse::operations`]).
#[derive(Clone, Debug, PartialEq)]
pub struct BulkOperationResponse {
    /// `location`: the URI of the resource the operation acted on, when known.
    pub location: Option<String>,
    /// `method`, as in the request.
    pub method: BulkMethod,
    /// `bulkId`, as in the request.
    pub bulk_id: Option<String>,
    /// `version`: the resource's entity tag after the operation.
    pub version: Option<String>,
    /// `status`: the HTTP status of the operation. Written as a string (`"201"`), as RFC 7644
    /// shows it; read from a string or a number.
    pub status: u16,
    /// `response`: the body of the equivalent single response; for an error, the error body.
    pub response: Option<Value>,
    /// Attributes this type does not know, kept verbatim.
    pub other: Map<String, Value>,
}

impl BulkRequest {
    /// A request with these operations.
    pub fn new(operations: Vec<BulkOperation>) -> Self {
        BulkRequest {
            schemas: vec![urn::BULK_REQUEST.to_owned()],
            operations,
            ..BulkRequest::default()
        }
    }

    /// Decodes JSON bytes and [validates](BulkRequest::validate) the result. Every failure is a
    /// 400 (`invalidSyntax` or `invalidValue`) naming the operation and attribute; never panics.
    pub fn from_slice(json: &[u8]) -> Result<BulkRequest, ScimError> {
        let request: BulkRequest = crate::from_slice(json)?;
        request.validate()?;
        Ok(request)
    }

    /// Checks every operation (see [`BulkOperation::validate`]) and that no two operations
    /// share a `bulkId`. The first problem found is returned, naming `Operations[i]`.
    pub fn validate(&self) -> Result<(), ScimError> {
        for (i, op) in self.operations.iter().enumerate() {
            op.check(&format!("Operations[{i}]."))?;
        }
        self.bulk_id_index().map(drop)
    }

    /// The order in which to run the operations, as indices into
    /// [`operations`](BulkRequest::operations): an operation that references another one's
    /// `bulkId` (in its `data` or its `path`) comes after it; otherwise request order is kept.
    ///
    /// References to a `bulkId` that no operation defines add no ordering constraint: they
    /// fail when the operation is [resolved](BulkOperation::resolve), so only that operation
    /// fails.
    ///
    /// Errors: two operations with the same `bulkId` (400 `invalidValue`), and circular
    /// references, including an operation referencing its own `bulkId` (409 `invalidValue`,
    /// naming the `bulkId`s of the cycle, as RFC 7644 §3.7.1 allows a service provider to answer).
    pub fn execution_order(&self) -> Result<Vec<usize>, ScimError> {
        let index = self.bulk_id_index()?;
        let n = self.operations.len();
        // deps[i]: the operations i waits for; users[j]: the operations waiting for j.
        let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, op) in self.operations.iter().enumerate() {
            for r in op.references() {
                if let Some(&j) = index.get(r) {
                    if let Some(d) = deps.get_mut(i) {
                        if d.insert(j) {
                            if let Some(u) = users.get_mut(j) {
                                u.push(i);
                            }
                        }
                    }
                }
            }
        }
        let mut waiting: Vec<usize> = deps.iter().map(BTreeSet::len).collect();
        // Always run the earliest ready operation, so that independent operations keep the
        // order the client sent them in.
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting.get(i) == Some(&0)).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &u in users.get(i).map(Vec::as_slice).unwrap_or_default() {
                if let Some(w) = waiting.get_mut(u) {
                    *w -= 1;
                    if *w == 0 {
                        ready.insert(u);
                    }
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        Err(self.cycle_error(&deps, &waiting))
    }

    /// Maps each `bulkId` to the operation defining it; a duplicate is `invalidValue`.
    fn bulk_id_index(&self) -> Result<HashMap<&str, usize>, ScimError> {
        let mut index = HashMap::new();
        for (i, op) in self.operations.iter().enumerate() {
            if let Some(id) = op.bulk_id.as_deref() {
                if let Some(first) = index.insert(id, i) {
                    return Err(ScimError::invalid_value(
                        format!("Operations[{i}].bulkId"),
                        format_args!("bulkId \"{id}\" is already used by Operations[{first}]"),
                    ));
                }
            }
        }
        Ok(index)
    }

    /// Names one cycle among the operations that could not be ordered (those still waiting).
    #[cold]
    fn cycle_error(&self, deps: &[BTreeSet<usize>], waiting: &[usize]) -> ScimError {
        let stuck = |i: &usize| waiting.get(*i).is_some_and(|&w| w > 0);
        // Every stuck operation waits for another stuck one, so following those edges from any
        // stuck operation must come back to an operation already seen: that closes a cycle.
        let mut path: Vec<usize> = Vec::new();
        let mut at = (0..waiting.len()).find(|i| stuck(i));
        while let Some(i) = at {
            if let Some(start) = path.iter().position(|&p| p == i) {
                let mut names: Vec<String> = path
                    .get(start..)
                    .unwrap_or_default()
                    .iter()
                    .map(|&p| self.op_name(p))
                    .collect();
                names.push(self.op_name(i));
                return circular(&names.join(" -> "));
            }
            path.push(i);
            at = deps
                .get(i)
                .and_then(|d| d.iter().copied().find(|j| stuck(j)));
        }
        circular("unresolvable")
    }

    fn op_name(&self, i: usize) -> String {
        match self.operations.get(i).and_then(|op| op.bulk_id.as_deref()) {
            Some(id) => format!("\"{id}\""),
            None => format!("Operations[{i}]"),
        }
    }
}

#[cold]
fn circular(chain: &str) -> ScimError {
    ScimError::other(
        StatusCode::CONFLICT,
        Some(ScimType::InvalidValue),
        format_args!("circular bulkId references: {chain}"),
    )
}

impl BulkOperation {
    /// An operation; check it with [`BulkOperation::validate`].
    pub fn new(method: BulkMethod, path: impl Into<String>, data: Option<Value>) -> Self {
        BulkOperation {
            method,
            bulk_id: None,
            version: None,
            path: path.into(),
            data,
            other: Map::new(),
        }
    }

    /// Sets `bulkId`.
    #[must_use]
    pub fn with_bulk_id(mut self, bulk_id: impl Into<String>) -> Self {
        self.bulk_id = Some(bulk_id.into());
        self
    }

    /// Checks the combination of `method`, `bulkId`, `path` and `data` (RFC 7644 §3.7):
    /// - POST needs a `bulkId` and a `path` naming a resource type endpoint (`/Users`);
    ///   PUT, PATCH and DELETE a `path` naming one resource (`/Users/{id}`).
    /// - POST and PUT need `data` that is an object, PATCH an object (a `PatchOp`) or the bare
    ///   array of operations RFC 7644's own example sends; DELETE takes no `data`.
    /// - A `bulkId` must be non-empty and free of `/`, `"`, `?`, `#` and spaces, so that
    ///   references to it can be found.
    ///
    /// Every failure is 400 `invalidValue` naming the attribute.
    pub fn validate(&self) -> Result<(), ScimError> {
        self.check("")
    }

    fn check(&self, at: &str) -> Result<(), ScimError> {
        let method = self.method;
        let err = |attr: &str, why: fmt::Arguments<'_>| {
            ScimError::invalid_value(format!("{at}{attr}"), why)
        };
        match self.bulk_id.as_deref() {
            None if method == BulkMethod::Post => {
                return Err(err(
                    "bulkId",
                    format_args!("is required for POST (RFC 7644 §3.7)"),
                ));
            }
            Some("") => return Err(err("bulkId", format_args!("must not be empty"))),
            Some(id) if id.bytes().any(ends_id) => {
                return Err(err(
                    "bulkId",
                    format_args!("\"{id}\" must not contain `/`, `\"`, `?`, `#` or spaces"),
                ));
            }
            _ => {}
        }
        let path = self.path.trim();
        if path.is_empty() {
            return Err(err("path", format_args!("is required")));
        }
        // The leading `/` is optional: the path is relative to the service's base URL anyway.
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let expected = if method == BulkMethod::Post { 1 } else { 2 };
        if segments.len() != expected || segments.iter().any(|s| s.is_empty()) {
            return Err(if method == BulkMethod::Post {
                err(
                    "path",
                    format_args!(
                        "POST needs a resource type endpoint such as \"/Users\", not \"{path}\""
                    ),
                )
            } else {
                err(
                    "path",
                    format_args!(
                        "{method} needs a resource such as \"/Users/{{id}}\", not \"{path}\""
                    ),
                )
            });
        }
        match (method, &self.data) {
            (BulkMethod::Delete, Some(_)) => Err(err("data", format_args!("DELETE takes no data"))),
            (BulkMethod::Delete, None)
            | (BulkMethod::Post | BulkMethod::Put, Some(Value::Object(_)))
            | (BulkMethod::Patch, Some(Value::Object(_) | Value::Array(_))) => Ok(()),
            (_, None) => Err(err("data", format_args!("is required for {method}"))),
            (_, Some(other)) => Err(err(
                "data",
                format_args!(
                    "must be a JSON object for {method}, not {}",
                    json_kind(other)
                ),
            )),
        }
    }

    /// The `bulkId`s this operation references, in its `path` and then its `data`, each once.
    pub fn references(&self) -> Vec<&str> {
        let mut out = references_in_path(&self.path);
        if let Some(data) = &self.data {
            collect_value(data, &mut out);
        }
        dedup(out)
    }

    /// Replaces every `bulkId:<id>` reference in `path` and `data` with the id of the resource
    /// the operation with that `bulkId` created. All or nothing: when a reference cannot be
    /// resolved, the operation is unchanged and the error (409 `invalidValue`) names it.
    pub fn resolve(&mut self, ids: &impl BulkIds) -> Result<(), ScimError> {
        check_resolved(&self.references(), ids)?;
        self.path = substitute(&self.path, ids).into_owned();
        if let Some(data) = &mut self.data {
            substitute_value(data, ids);
        }
        Ok(())
    }

    /// The `data` of a PATCH operation as a [`PatchOp`]; the bare array of operations that
    /// RFC 7644's bulk example sends is read as the `Operations` of one.
    pub fn patch_op(&self) -> Result<PatchOp, ScimError> {
        match &self.data {
            Some(Value::Array(ops)) => {
                let mut body = Map::new();
                body.insert("Operations".to_owned(), Value::Array(ops.clone()));
                PatchOp::from_value(Value::Object(body))
            }
            Some(v) => PatchOp::from_value(v.clone()),
            None => Err(ScimError::invalid_value("data", "is required for PATCH")),
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl BulkResponse {
    /// A response with these results.
    pub fn new(operations: Vec<BulkOperationResponse>) -> Self {
        BulkResponse {
            schemas: vec![urn::BULK_RESPONSE.to_owned()],
            operations,
            other: Map::new(),
        }
    }
}

impl BulkOperationResponse {
    /// A result with `status` and nothing else.
    pub fn new(method: BulkMethod, status: StatusCode) -> Self {
        BulkOperationResponse {
            location: None,
            method,
            bulk_id: None,
            version: None,
            status: status.as_u16(),
            response: None,
            other: Map::new(),
        }
    }

    /// The failure of `op`: its method and `bulkId`, the error's status and the error body as
    /// `response`.
    pub fn from_error(op: &BulkOperation, error: &ScimError) -> Self {
        BulkOperationResponse {
            bulk_id: op.bulk_id.clone(),
            response: serde_json::to_value(error.to_body()).ok(),
            ..BulkOperationResponse::new(op.method, error.status())
        }
    }

    /// `status` as an HTTP status code, when it is a valid one.
    pub fn status_code(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.status).ok()
    }

    /// Whether `status` is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where resolved `bulkId`s come from: any map from `bulkId` to resource id.
pub trait BulkIds {
    /// The id of the resource created by the operation with `bulk_id`.
    fn resource_id(&self, bulk_id: &str) -> Option<&str>;
}

impl<S: BuildHasher> BulkIds for HashMap<String, String, S> {
    fn resource_id(&self, bulk_id: &str) -> Option<&str> {
        self.get(bulk_id).map(String::as_str)
    }
}

impl BulkIds for std::collections::BTreeMap<String, String> {
    fn resource_id(&self, bulk_id: &str) -> Option<&str> {
        self.get(bulk_id).map(String::as_str)
    }
}

/// Whether byte `b` ends a `bulkId` inside a longer string: path and URL delimiters, the quote
/// closing a filter literal, and white space.
fn ends_id(b: u8) -> bool {
    matches!(b, b'/' | b'"' | b'?' | b'#') || b.is_ascii_whitespace()
}

/// The `(start, end, id)` of every `bulkId:<id>` reference in `s`, where `start..end` covers
/// the prefix and the id.
///
/// A reference is the whole string (`"bulkId:qwerty"`, as in `members[].value`) or starts right
/// after a `/` or `"`, so it is also found in a path (`/Groups/bulkId:qwerty`), a `$ref` URL and a
/// quoted literal of a PATCH path filter; text that merely mentions `bulkId:` elsewhere is not a
/// reference. The prefix is matched in any case.
fn spans(s: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let bytes = s.as_bytes();
    let plen = BULK_ID_PREFIX.len();
    let mut from = 0;
    std::iter::from_fn(move || {
        while from + plen <= bytes.len() {
            let start = from;
            from += 1;
            let is_prefix = bytes
                .get(start..start + plen)
                .is_some_and(|p| p.eq_ignore_ascii_case(BULK_ID_PREFIX.as_bytes()));
            let at_boundary = start == 0 || matches!(bytes.get(start - 1), Some(b'/' | b'"'));
            if !(is_prefix && at_boundary) {
                continue;
            }
            let id_start = start + plen;
            let len = bytes
                .get(id_start..)
                .unwrap_or_default()
                .iter()
                .position(|&b| ends_id(b))
                .unwrap_or(bytes.len() - id_start);
            if len == 0 {
                continue;
            }
            let end = id_start + len;
            from = end;
            // The prefix is ASCII and the id ends at an ASCII byte or the end, so both
            // boundaries are character boundaries and `get` succeeds.
            if let Some(id) = s.get(id_start..end) {
                return Some((start, end, id));
            }
        }
        None
    })
}

/// The `bulkId`s referenced anywhere in `value` (string values at any depth, not keys), each
/// once, in document order.
///
/// ```
/// let data = serde_json::json!({
///     "displayName": "Tour Guides",
///     "members": [{"type": "User", "value": "bulkId:qwerty"}, {"value": "bulkId:ytrewq"}]
/// });
/// assert_eq!(scim_core::bulk::references_in_value(&data), vec!["qwerty", "ytrewq"]);
/// ```
pub fn references_in_value(value: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    collect_value(value, &mut out);
    dedup(out)
}

/// The `bulkId`s referenced in an operation's `path`, e.g. `qwerty` in `/Groups/bulkId:qwerty`.
pub fn references_in_path(path: &str) -> Vec<&str> {
    dedup(spans(path).map(|(_, _, id)| id).collect())
}

fn collect_value<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.extend(spans(s).map(|(_, _, id)| id)),
        Value::Array(items) => items.iter().for_each(|v| collect_value(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_value(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn dedup(mut ids: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

fn check_resolved(refs: &[&str], ids: &impl BulkIds) -> Result<(), ScimError> {
    match refs.iter().find(|r| ids.resource_id(r).is_none()) {
        None => Ok(()),
        Some(missing) => Err(unresolved(missing)),
    }
}

#[cold]
fn unresolved(bulk_id: &str) -> ScimError {
    ScimError::other(
        StatusCode::CONFLICT,
        Some(ScimType::InvalidValue),
        format_args!(
            "{BULK_ID_PREFIX}{bulk_id} does not refer to a resource created in this bulk request"
        ),
    )
}

/// Replaces every `bulkId:<id>` reference in the string values of `value` (at any depth) with
/// the resolved resource id. All or nothing: when a reference cannot be resolved, `value` is
/// unchanged and the error (409 `invalidValue`) names the `bulkId`.
pub fn resolve_value(value: &mut Value, ids: &impl BulkIds) -> Result<(), ScimError> {
    check_resolved(&references_in_value(value), ids)?;
    substitute_value(value, ids);
    Ok(())
}

/// `path` with every `bulkId:<id>` reference replaced by the resolved resource id
/// (`/Groups/bulkId:qwerty` becomes `/Groups/e9e30dba`). An unresolved reference is a 409
/// `invalidValue` naming it.
pub fn resolve_path(path: &str, ids: &impl BulkIds) -> Result<String, ScimError> {
    check_resolved(&references_in_path(path), ids)?;
    Ok(substitute(path, ids).into_owned())
}

/// Substitutes the references of `s` that resolve; the caller has checked that all do.
fn substitute<'s>(s: &'s str, ids: &impl BulkIds) -> Cow<'s, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (start, end, id) in spans(s) {
        if let Some(resolved) = ids.resource_id(id) {
            let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
            buf.push_str(s.get(copied..start).unwrap_or_default());
            buf.push_str(resolved);
            copied = end;
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut buf) => {
            buf.push_str(s.get(copied..).unwrap_or_default());
            Cow::Owned(buf)
        }
    }
}

fn substitute_value(value: &mut Value, ids: &impl BulkIds) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(new) = substitute(s, ids) {
                *s = new;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute_value(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute_value(v, ids)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

// ---- serde ----

/// The canonical name among `names` that `key` spells in some case.
fn known(key: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(key))
}

fn read_schemas<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<String>, A::Error> {
    map.next_value::<Option<Vec<String>>>()
        .map(Option::unwrap_or_default)
        .map_err(|e| wrap_err(&e, "schemas", '.'))
}

/// `Operations`: an array whose element errors are prefixed with `Operations[i]`.
struct Operations<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Operations<T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Operations<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of operations")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // Bounded: a hostile size hint must not reserve memory the input does not back.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let i = out.len();
            match seq.next_element::<T>() {
                Ok(Some(op)) => out.push(op),
                Ok(None) => return Ok(out),
                Err(e) => return Err(wrap_err(&e, &format!("Operations[{i}]"), '.')),
            }
        }
    }
}

fn read_operations<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
) -> Result<Vec<T>, A::Error> {
    map.next_value_seed(Operations(std::marker::PhantomData))
        .map_err(|e| {
            // Element errors already name `Operations[i]`; only the array's own need the name.
            if e.to_string().starts_with("attribute `Operations[") {
                e
            } else {
                wrap_err(&e, "Operations", '.')
            }
        })
}

fn missing<E: de::Error>(what: &str) -> E {
    E::custom(format_args!("attribute `{what}`: is required"))
}

impl<'de> Deserialize<'de> for BulkRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BulkRequest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a BulkRequest object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BulkRequest, A::Error> {
                let mut out = BulkRequest::default();
                let mut operations = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match known(&key, &["schemas", "failOnErrors", "Operations"]) {
                        Some("schemas") => out.schemas = read_schemas(&mut map)?,
                        Some("failOnErrors") => {
                            out.fail_on_errors = map
                                .next_value()
                                .map_err(|e| wrap_err(&e, "failOnErrors", '.'))?;
                        }
                        Some(_) => operations = Some(read_operations(&mut map)?),
                        None => {
                            let v: Value = map.next_value()?;
                            out.other.insert(key.into_owned(), v);
                        }
                    }
                }
                out.operations = operations.ok_or_else(|| missing("Operations"))?;
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for BulkResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BulkResponse;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a BulkResponse object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BulkResponse, A::Error> {
                let mut out = BulkResponse::default();
                let mut operations = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match known(&key, &["schemas", "Operations"]) {
                        Some("schemas") => out.schemas = read_schemas(&mut map)?,
                        Some(_) => operations = Some(read_operations(&mut map)?),
                        None => {
                            let v: Value = map.next_value()?;
                            out.other.insert(key.into_owned(), v);
                        }
                    }
                }
                out.operations = operations.ok_or_else(|| missing("Operations"))?;
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for BulkOperation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BulkOperation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bulk operation object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BulkOperation, A::Error> {
                let mut method = None;
                let mut bulk_id = None;
                let mut version = None;
                let mut path = None;
                let mut data = None;
                let mut other = Map::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let name = known(&key, &["method", "bulkId", "version", "path", "data"]);
                    let r = match name {
                        Some("method") => map.next_value().map(|v| method = v),
                        Some("bulkId") => map.next_value().map(|v| bulk_id = v),
                        Some("version") => map.next_value().map(|v| version = v),
                        Some("path") => map.next_value().map(|v| path = v),
                        Some(_) => map.next_value::<Option<Value>>().map(|v| {
                            data = v.filter(|v| !v.is_null());
                        }),
                        None => {
                            let v: Value = map.next_value()?;
                            other.insert(key.into_owned(), v);
                            Ok(())
                        }
                    };
                    r.map_err(|e| wrap_err(&e, name.unwrap_or_default(), '.'))?;
                }
                Ok(BulkOperation {
                    method: method.ok_or_else(|| missing("method"))?,
                    bulk_id,
                    version,
                    path: path.ok_or_else(|| missing("path"))?,
                    data,
                    other,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// `status`: a string (`"201"`, as RFC 7644 writes it) or a number.
struct Status;

impl<'de> DeserializeSeed<'de> for Status {
    type Value = u16;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u16, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for Status {
    type Value = u16;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an HTTP status code (a string such as \"201\" or a number)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u16, E> {
        u16::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u16, E> {
        u16::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u16, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// Reads `status` leniently (string or number); shared with the error body.
pub(crate) fn read_status<'de, A: MapAccess<'de>>(map: &mut A) -> Result<u16, A::Error> {
    map.next_value_seed(Status)
}

impl<'de> Deserialize<'de> for BulkOperationResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BulkOperationResponse;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bulk operation response object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<BulkOperationResponse, A::Error> {
                let mut location = None;
                let mut method = None;
                let mut bulk_id = None;
                let mut version = None;
                let mut status = None;
                let mut response = None;
                let mut other = Map::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let name = known(
                        &key,
                        &[
                            "location", "method", "bulkId", "version", "status", "response",
                        ],
                    );
                    let r = match name {
                        Some("location") => map.next_value().map(|v| location = v),
                        Some("method") => map.next_value().map(|v| method = v),
                        Some("bulkId") => map.next_value().map(|v| bulk_id = v),
                        Some("version") => map.next_value().map(|v| version = v),
                        Some("status") => read_status(&mut map).map(|v| status = Some(v)),
                        Some(_) => map.next_value::<Option<Value>>().map(|v| {
                            response = v.filter(|v| !v.is_null());
                        }),
                        None => {
                            let v: Value = map.next_value()?;
                            other.insert(key.into_owned(), v);
                            Ok(())
                        }
                    };
                    r.map_err(|e| wrap_err(&e, name.unwrap_or_default(), '.'))?;
                }
                Ok(BulkOperationResponse {
                    location,
                    method: method.ok_or_else(|| missing("method"))?,
                    bulk_id,
                    version,
                    status: status.ok_or_else(|| missing("status"))?,
                    response,
                    other,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for BulkRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let schemas = SchemasOut {
            stored: &self.schemas,
            core: Some(urn::BULK_REQUEST),
            extensions: None,
        };
        map.serialize_entry("schemas", &schemas)?;
        if let Some(n) = self.fail_on_errors {
            map.serialize_entry("failOnErrors", &n)?;
        }
        map.serialize_entry("Operations", &self.operations)?;
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for BulkOperation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("method", &self.method)?;
        if let Some(id) = &self.bulk_id {
            map.serialize_entry("bulkId", id)?;
        }
        if let Some(v) = &self.version {
            map.serialize_entry("version", v)?;
        }
        map.serialize_entry("path", &self.path)?;
        if let Some(data) = &self.data {
            map.serialize_entry("data", data)?;
        }
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for BulkResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let schemas = SchemasOut {
            stored: &self.schemas,
            core: Some(urn::BULK_RESPONSE),
            extensions: None,
        };
        map.serialize_entry("schemas", &schemas)?;
        map.serialize_entry("Operations", &self.operations)?;
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for BulkOperationResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(l) = &self.location {
            map.serialize_entry("location", l)?;
        }
        map.serialize_entry("method", &self.method)?;
        if let Some(id) = &self.bulk_id {
            map.serialize_entry("bulkId", id)?;
        }
        if let Some(v) = &self.version {
            map.serialize_entry("version", v)?;
        }
        map.serialize_entry("status", &format_args!("{}", self.status))?;
        if let Some(r) = &self.response {
            map.serialize_entry("response", r)?;
        }
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
