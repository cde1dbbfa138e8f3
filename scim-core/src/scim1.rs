//! SCIM 1.1 (`urn:scim:schemas:core:1.0`): a conversion layer to and from the SCIM 2.0 types.
//!
//! SCIM 1.1 resources look almost like 2.0 ones; what differs is mapped here, everything else is
//! carried over verbatim (unknown attributes and extensions survive both ways):
//!
//! | SCIM 1.1 | SCIM 2.0 |
//! |---|---|
//! | `schemas: ["urn:scim:schemas:core:1.0"]` (User or Group) | [`urn::USER`] or [`urn::GROUP`] |
//! | `urn:scim:schemas:extension:enterprise:1.0` | [`urn::ENTERPRISE_USER`] |
//! | enterprise `manager: {managerId, displayName}` | `manager: {value, $ref, displayName}` |
//! | list body with `schemas: ["urn:scim:schemas:core:1.0"]` | [`urn::LIST_RESPONSE`] |
//! | `{"Errors": [{"description", "code"}]}` | [`ErrorBody`] (`status`, `scimType`, `detail`) |
//! | PATCH: a partial resource, `meta.attributes`, `"operation": "delete"` | [`Scim1PatchOp`]s |
//!
//! What 1.1 cannot express is dropped when writing 1.1: `$ref` (in `manager` and in elements of
//! multi-valued attributes such as `members` and `groups`; a 2.0 server rebuilds it from the id),
//! `meta.resourceType`, and the error's `scimType`. A 1.1 error body with several `Errors` maps to
//! its first one. Everything else round-trips: 1.1 → 2.0 → 1.1 gives the same JSON, and
//! 2.0 → 1.1 → 2.0 loses only the items just listed.
//!
//! Since 1.1 uses one core URN for both Users and Groups, reading a 1.1 resource needs to know
//! which it is: [`User`] and [`Group`] know; for [`Resource`] (and [`resource_to_v2`] without a
//! [`ResourceKind`]) a resource with `userName` or the 1.1 enterprise extension is a User, one
//! with `members` or `displayName` but no `userName` a Group.
//!
//! Attribute names (and the extension URN) are read case-insensitively, as in 2.0.
//!
//! ```
//! use scim_core::{User, scim1::Scim1};
//!
//! let v1 = r#"{
//!   "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
//!   "userName": "bjensen",
//!   "urn:scim:schemas:extension:enterprise:1.0": {
//!     "employeeNumber": "701984",
//!     "manager": {"managerId": "26118915", "displayName": "John Smith"}
//!   }
//! }"#;
//! let Scim1(user): Scim1<User> = serde_json::from_str(v1).unwrap();
//! let ent = user.enterprise().unwrap().unwrap();
//! assert_eq!(ent.manager.unwrap().value.as_deref(), Some("26118915"));
//!
//! let back = serde_json::to_value(Scim1(user)).unwrap();
//! assert_eq!(back["schemas"][0], "urn:scim:schemas:core:1.0");
//! assert_eq!(back["urn:scim:schemas:extension:enterprise:1.0"]["manager"]["managerId"], "26118915");
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::de::{is_urn, scim_object};
use crate::error::ScimError;
use crate::json::{get_ci, remove_ci};
use crate::messages::{ErrorBody, ListResponse};
use crate::resource::{Group, Resource, User};
use crate::urn;

/// The SCIM 1.1 core schema URN (Users, Groups and list responses).
pub const CORE: &str = "urn:scim:schemas:core:1.0";
/// The SCIM 1.1 enterprise User extension URN.
pub const ENTERPRISE: &str = "urn:scim:schemas:extension:enterprise:1.0";

/// Which SCIM 2.0 core schema a SCIM 1.1 resource (whose URN is the same for both) maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A User ([`urn::USER`]).
    User,
    /// A Group ([`urn::GROUP`]).
    Group,
}

impl ResourceKind {
    const fn urn(self) -> &'static str {
        match self {
            ResourceKind::User => urn::USER,
            ResourceKind::Group => urn::GROUP,
        }
    }

    /// Guesses the kind of a 1.1 resource: `userName` or the enterprise extension make a User;
    /// `members` or `displayName` (without `userName`) a Group.
    pub fn detect(resource: &Map<String, Value>) -> Option<ResourceKind> {
        let has = |k: &str| get_ci(resource, k).is_some_and(|v| !v.is_null());
        if has("userName") || has(ENTERPRISE) {
            Some(ResourceKind::User)
        } else if has("members") || has("displayName") {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resources, JSON level
// ---------------------------------------------------------------------------------------------

/// Converts a SCIM 1.1 resource (JSON) to its SCIM 2.0 form: schema URNs, the enterprise
/// extension key, and `manager.managerId` → `manager.value`. `kind` picks the core schema;
/// `None` guesses ([`ResourceKind::detect`]), leaving the 1.1 core URN in place when it cannot.
/// Anything but an object is returned unchanged.
pub fn resource_to_v2(value: Value, kind: Option<ResourceKind>) -> Value {
    let Value::Object(obj) = value else {
        return value;
    };
    let kind = kind.or_else(|| ResourceKind::detect(&obj));
    let mut out = Map::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("schemas") {
            out.insert(k, map_schemas(v, |s| schema_to_v2(s, kind)));
        } else if k.eq_ignore_ascii_case(ENTERPRISE) {
            out.insert(urn::ENTERPRISE_USER.to_owned(), enterprise_to_v2(v));
        } else {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

/// Converts a SCIM 2.0 resource (JSON) to its SCIM 1.1 form: schema URNs, the enterprise
/// extension key and `manager.value` → `manager.managerId`; drops what 1.1 cannot express
/// (`$ref` in `manager` and in multi-valued elements, `meta.resourceType`). Anything but an
/// object is returned unchanged.
pub fn resource_to_v1(value: Value) -> Value {
    let Value::Object(obj) = value else {
        return value;
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("schemas") {
            out.insert(k, map_schemas(v, schema_to_v1));
        } else if k.eq_ignore_ascii_case(urn::ENTERPRISE_USER) {
            out.insert(ENTERPRISE.to_owned(), enterprise_to_v1(v));
        } else if k.eq_ignore_ascii_case("meta") {
            out.insert(k, meta_to_v1(v));
        } else if is_urn(&k) {
            out.insert(k, v);
        } else {
            out.insert(k, strip_element_refs(v));
        }
    }
    Value::Object(out)
}

fn schema_to_v2(s: &str, kind: Option<ResourceKind>) -> Option<&'static str> {
    if s.eq_ignore_ascii_case(CORE) {
        kind.map(ResourceKind::urn)
    } else if s.eq_ignore_ascii_case(ENTERPRISE) {
        Some(urn::ENTERPRISE_USER)
    } else {
        None
    }
}

fn schema_to_v1(s: &str) -> Option<&'static str> {
    if s.eq_ignore_ascii_case(urn::USER)
        || s.eq_ignore_ascii_case(urn::GROUP)
        || s.eq_ignore_ascii_case(urn::LIST_RESPONSE)
    {
        Some(CORE)
    } else if s.eq_ignore_ascii_case(urn::ENTERPRISE_USER) {
        Some(ENTERPRISE)
    } else {
        None
    }
}

/// Maps each URN of a `schemas` array (`None`: keep), dropping duplicates.
fn map_schemas(v: Value, f: impl Fn(&str) -> Option<&'static str>) -> Value {
    let Value::Array(items) = v else { return v };
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        let mapped = match &item {
            Value::String(s) => f(s).map_or(item, |m| Value::String(m.to_owned())),
            _ => item,
        };
        let dup = match &mapped {
            Value::String(s) => out
                .iter()
                .any(|o| o.as_str().is_some_and(|o| o.eq_ignore_ascii_case(s))),
            _ => false,
        };
        if !dup {
            out.push(mapped);
        }
    }
    Value::Array(out)
}

/// Renames the key `from` (any case) to `to` in `obj`, keeping an existing `to` if both exist.
fn rename_ci(obj: &mut Map<String, Value>, from: &str, to: &str) {
    let keys: Vec<String> = obj
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(from))
        .cloned()
        .collect();
    for k in keys {
        if let Some(v) = obj.remove(&k) {
            if !obj.keys().any(|x| x.eq_ignore_ascii_case(to)) {
                obj.insert(to.to_owned(), v);
            }
        }
    }
}

fn enterprise_to_v2(v: Value) -> Value {
    let Value::Object(mut ext) = v else { return v };
    if let Some((_, Value::Object(manager))) = ext
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("manager"))
    {
        rename_ci(manager, "managerId", "value");
    }
    Value::Object(ext)
}

fn enterprise_to_v1(v: Value) -> Value {
    let Value::Object(mut ext) = v else { return v };
    if let Some((_, Value::Object(manager))) = ext
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("manager"))
    {
        remove_ci(manager, "$ref");
        rename_ci(manager, "value", "managerId");
    }
    Value::Object(ext)
}

fn meta_to_v1(v: Value) -> Value {
    let Value::Object(mut meta) = v else { return v };
    remove_ci(&mut meta, "resourceType");
    Value::Object(meta)
}

/// Drops `$ref` from the object elements of a multi-valued attribute.
fn strip_element_refs(v: Value) -> Value {
    let Value::Array(items) = v else { return v };
    Value::Array(
        items
            .into_iter()
            .map(|e| match e {
                Value::Object(mut o) => {
                    remove_ci(&mut o, "$ref");
                    Value::Object(o)
                }
                other => other,
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Typed conversion
// ---------------------------------------------------------------------------------------------

/// A SCIM 2.0 type with a SCIM 1.1 representation.
pub trait Scim1Convert: Sized {
    /// Reads the SCIM 1.1 JSON form. Errors are 400s naming the attribute, as for 2.0 input.
    fn from_scim1(value: Value) -> Result<Self, ScimError>;
    /// Writes the SCIM 1.1 JSON form.
    fn to_scim1(&self) -> Result<Value, ScimError>;
}

fn decode<T: DeserializeOwned>(v: &Value) -> Result<T, ScimError> {
    T::deserialize(v).map_err(ScimError::from)
}

impl Scim1Convert for User {
    fn from_scim1(value: Value) -> Result<Self, ScimError> {
        decode(&resource_to_v2(value, Some(ResourceKind::User)))
    }
    /// `password` is never written (`returned: never` in 1.1 too).
    fn to_scim1(&self) -> Result<Value, ScimError> {
        Ok(resource_to_v1(serde_json::to_value(self)?))
    }
}

impl Scim1Convert for Group {
    fn from_scim1(value: Value) -> Result<Self, ScimError> {
        decode(&resource_to_v2(value, Some(ResourceKind::Group)))
    }
    fn to_scim1(&self) -> Result<Value, ScimError> {
        Ok(resource_to_v1(serde_json::to_value(self)?))
    }
}

impl Scim1Convert for Resource {
    /// The kind is guessed ([`ResourceKind::detect`]).
    fn from_scim1(value: Value) -> Result<Self, ScimError> {
        decode(&resource_to_v2(value, None))
    }
    fn to_scim1(&self) -> Result<Value, ScimError> {
        Ok(resource_to_v1(serde_json::to_value(self)?))
    }
}

impl<T: Scim1Convert> Scim1Convert for ListResponse<T> {
    fn from_scim1(value: Value) -> Result<Self, ScimError> {
        let list: ListResponse<Value> = decode(&value)?;
        let schemas = list
            .schemas
            .into_iter()
            .map(|s| {
                if s.eq_ignore_ascii_case(CORE) {
                    urn::LIST_RESPONSE.to_owned()
                } else {
                    s
                }
            })
            .collect();
        let resources = list
            .resources
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                T::from_scim1(r).map_err(|e| match e {
                    ScimError::InvalidValue { attribute, detail } => ScimError::InvalidValue {
                        attribute: format!("Resources[{i}].{attribute}"),
                        detail,
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<T>, ScimError>>()?;
        Ok(ListResponse {
            schemas,
            total_results: list.total_results,
            start_index: list.start_index,
            items_per_page: list.items_per_page,
            resources,
            other: list.other,
        })
    }

    /// `schemas` is `["urn:scim:schemas:core:1.0"]` (other stored URNs kept).
    fn to_scim1(&self) -> Result<Value, ScimError> {
        let mut schemas = map_schemas(
            Value::Array(self.schemas.iter().cloned().map(Value::String).collect()),
            schema_to_v1,
        );
        if let Value::Array(a) = &mut schemas {
            if !a
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(CORE)))
            {
                a.insert(0, Value::String(CORE.to_owned()));
            }
        }
        let mut out = Map::new();
        out.insert("schemas".to_owned(), schemas);
        out.insert("totalResults".to_owned(), self.total_results.into());
        if let Some(i) = self.items_per_page {
            out.insert("itemsPerPage".to_owned(), i.into());
        }
        if let Some(i) = self.start_index {
            out.insert("startIndex".to_owned(), i.into());
        }
        let resources = self
            .resources
            .iter()
            .map(Scim1Convert::to_scim1)
            .collect::<Result<Vec<Value>, ScimError>>()?;
        out.insert("Resources".to_owned(), Value::Array(resources));
        for (k, v) in &self.other {
            out.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(out))
    }
}

impl Scim1Convert for ErrorBody {
    /// The first of the `Errors`: `code` becomes `status` (`"500"` when there is none),
    /// `description` the `detail`; no `scimType`.
    fn from_scim1(value: Value) -> Result<Self, ScimError> {
        let body: Scim1ErrorBody = decode(&value)?;
        Ok(body.to_v2())
    }
    /// `{"Errors": [{"description": detail, "code": status}]}`; `scimType` is dropped.
    fn to_scim1(&self) -> Result<Value, ScimError> {
        Ok(serde_json::to_value(Scim1ErrorBody::from(self))?)
    }
}

/// A SCIM 2.0 value read from and written as SCIM 1.1 JSON through serde.
///
/// `serde_json::from_slice::<Scim1<User>>(body)` reads a 1.1 User; `serde_json::to_vec(&Scim1(user))`
/// writes one. For a [`ScimError`] instead of a `serde_json::Error`, use [`from_slice`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scim1<T>(pub T);

impl<T: Scim1Convert> Serialize for Scim1<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0
            .to_scim1()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl<'de, T: Scim1Convert> Deserialize<'de> for Scim1<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        T::from_scim1(v)
            .map(Scim1)
            .map_err(serde::de::Error::custom)
    }
}

/// Reads a SCIM 1.1 body into its 2.0 type; malformed JSON or a bad attribute is a 400.
pub fn from_slice<T: Scim1Convert>(json: &[u8]) -> Result<T, ScimError> {
    let v: Value = crate::error::from_slice(json)?;
    T::from_scim1(v)
}

/// Writes a 2.0 value as SCIM 1.1 JSON.
pub fn to_value<T: Scim1Convert>(value: &T) -> Result<Value, ScimError> {
    value.to_scim1()
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

scim_object! {
    /// The SCIM 1.1 error body: `{"Errors": [{"description": "...", "code": "400"}]}`.
    pub struct Scim1ErrorBody {
        /// `Errors`.
        pub errors: Vec<Scim1Error> = "Errors",
    }
    rest: other;
}

scim_object! {
    /// One SCIM 1.1 error.
    pub struct Scim1Error {
        /// `description`: a human-readable message.
        pub description: Option<String> = "description",
        /// `code`: the HTTP status code as a string, e.g. `"404"`.
        pub code: Option<String> = "code",
    }
    rest: other;
}

impl Scim1ErrorBody {
    /// The SCIM 2.0 body of the first error (`"500"` and no detail when there is none).
    pub fn to_v2(&self) -> ErrorBody {
        let first = self.errors.first();
        ErrorBody {
            schemas: Vec::new(),
            status: first
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| "500".to_owned()),
            scim_type: None,
            detail: first.and_then(|e| e.description.clone()),
            other: Map::new(),
        }
    }
}

impl From<&ErrorBody> for Scim1ErrorBody {
    fn from(body: &ErrorBody) -> Self {
        Scim1ErrorBody {
            errors: vec![Scim1Error {
                description: body.detail.clone(),
                code: Some(body.status.clone()),
                other: Map::new(),
            }],
            other: Map::new(),
        }
    }
}

impl From<&ScimError> for Scim1ErrorBody {
    /// The error as a SCIM 1.1 body (its `scimType` has no 1.1 equivalent).
    fn from(e: &ScimError) -> Self {
        Scim1ErrorBody::from(&e.to_body())
    }
}

impl From<Scim1ErrorBody> for ScimError {
    /// An error body received from a SCIM 1.1 server.
    fn from(body: Scim1ErrorBody) -> Self {
        ScimError::from(body.to_v2())
    }
}

// ---------------------------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------------------------

/// The kind of a [`Scim1PatchOp`]: the RFC 7644 §3.5.2 `op` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scim1OpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl Scim1OpKind {
    /// The wire form (`add`, `replace`, `remove`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Scim1OpKind::Add => "add",
            Scim1OpKind::Replace => "replace",
            Scim1OpKind::Remove => "remove",
        }
    }
}

/// One SCIM 2.0 PATCH operation produced from a SCIM 1.1 PATCH body.
///
/// Maps 1:1 to an RFC 7644 §3.5.2 operation: `op`, `path` (a 2.0 PATCH path, URN-qualified for
/// extensions, possibly with a value filter such as `members[value eq "2819c223"]`) and `value`
/// (2.0 attribute names and URNs). It serialises as the RFC operation object
/// (`{"op": "add", "path": "...", "value": ...}`), so the 2.0 PATCH engine can apply it directly
/// or through [`patch_request`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scim1PatchOp {
    /// `op`.
    pub op: Scim1OpKind,
    /// `path`; `None` targets the resource itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `value`; `None` for `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl Scim1PatchOp {
    fn remove(path: String) -> Self {
        Scim1PatchOp {
            op: Scim1OpKind::Remove,
            path: Some(path),
            value: None,
        }
    }
}

/// The RFC 7644 `PatchOp` message holding `ops`:
/// `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [...]}`.
pub fn patch_request(ops: &[Scim1PatchOp]) -> Value {
    let ops: Vec<Value> = ops
        .iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("op".to_owned(), Value::String(o.op.as_str().to_owned()));
            if let Some(p) = &o.path {
                m.insert("path".to_owned(), Value::String(p.clone()));
            }
            if let Some(v) = &o.value {
                m.insert("value".to_owned(), v.clone());
            }
            Value::Object(m)
        })
        .collect();
    serde_json::json!({
        "schemas": [urn::PATCH_OP],
        "Operations": ops,
    })
}

/// Converts a SCIM 1.1 PATCH body (a partial resource) into SCIM 2.0 operations.
///
/// `current` is the resource's current SCIM 2.0 JSON, if the caller has it (recommended): it
/// turns updates of existing multi-valued elements into `replace`s and drops removals that would
/// target nothing. The operations, in order:
///
/// 1. every name in `meta.attributes` → `remove` of that path (`name`, `name.givenName`,
///    `urn:scim:schemas:extension:enterprise:1.0:department` → its 2.0 URN; `manager.managerId`
///    → `manager.value`). These come first, so `meta.attributes: ["members"]` plus a `members`
///    list replaces all members, as in SCIM 1.1 API §3.3.2.
/// 2. then each attribute of the body, in order (`schemas`, `id` and `meta` are skipped):
///    - a multi-valued attribute (array): each element with `"operation": "delete"` →
///      `remove` with a value filter on its `value` (`members[value eq "..."]`; an element
///      without `value` is matched on its other simple sub-attributes, e.g. `type`); every other
///      element → `add` of that element (consecutive ones batched in one `add`), or, when
///      `current` holds an element with the same `value`, `replace` of `attr[value eq "..."]`
///      with the element (its sub-attributes are updated, as 1.1 specifies);
///    - `null` → `remove` of the attribute;
///    - any other value (simple or complex) → `replace` (a complex value's sub-attributes are
///      merged, per RFC 7644 §3.5.2.3, as 1.1 PATCH does);
///    - an extension object (`urn:...`) → the above for each of its attributes, with
///      URN-qualified paths.
///
/// Errors (400): a body that is not an object (`invalidSyntax`), `meta.attributes` that is not a
/// list of strings or `operation` other than `"delete"` (`invalidValue`), an attribute name that
/// cannot form a path (`invalidPath`), a `delete` element with nothing to identify it
/// (`invalidValue`).
///
/// ```
/// use scim_core::scim1::{Scim1OpKind, patch_operations};
/// use serde_json::json;
///
/// let body = json!({
///     "schemas": ["urn:scim:schemas:core:1.0"],
///     "members": [
///         {"display": "Babs Jensen", "value": "2819c223", "operation": "delete"},
///         {"display": "James Smith", "value": "08e1d05d"}
///     ],
///     "meta": {"attributes": ["description"]}
/// });
/// let ops = patch_operations(&body, None).unwrap();
/// assert_eq!(ops.len(), 3);
/// assert_eq!(ops[0].op, Scim1OpKind::Remove);
/// assert_eq!(ops[0].path.as_deref(), Some("description"));
/// assert_eq!(ops[1].path.as_deref(), Some(r#"members[value eq "2819c223"]"#));
/// assert_eq!(ops[2].op, Scim1OpKind::Add);
/// assert_eq!(ops[2].value, Some(json!([{"display": "James Smith", "value": "08e1d05d"}])));
/// ```
pub fn patch_operations(
    body: &Value,
    current: Option<&Value>,
) -> Result<Vec<Scim1PatchOp>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "a SCIM 1.1 PATCH body must be a JSON object (a partial resource)",
        ));
    };
    let current = current.and_then(Value::as_object);
    let mut ops = Vec::new();

    if let Some(Value::Object(meta)) = get_ci(obj, "meta") {
        match get_ci(meta, "attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(names)) => {
                for name in names {
                    let Value::String(name) = name else {
                        return Err(ScimError::invalid_value(
                            "meta.attributes",
                            "must be a list of attribute names",
                        ));
                    };
                    let path = meta_attribute_to_v2(name)?;
                    if current.is_none_or(|c| path_present(c, &path)) {
                        ops.push(Scim1PatchOp::remove(path));
                    }
                }
            }
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "meta.attributes",
                    "must be a list of attribute names",
                ));
            }
        }
    }

    for (key, value) in obj {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        if is_urn(key) {
            let (urn2, value) = if key.eq_ignore_ascii_case(ENTERPRISE) {
                (urn::ENTERPRISE_USER, enterprise_to_v2(value.clone()))
            } else {
                (key.as_str(), value.clone())
            };
            match value {
                Value::Object(attrs) => {
                    let ext = current
                        .and_then(|c| get_ci(c, urn2))
                        .and_then(Value::as_object);
                    for (name, v) in attrs {
                        attribute_ops(Some(urn2), &name, v, ext, &mut ops)?;
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(ScimError::invalid_value(
                        key.clone(),
                        "an extension must be a JSON object",
                    ));
                }
            }
            continue;
        }
        attribute_ops(None, key, value.clone(), current, &mut ops)?;
    }
    Ok(ops)
}

/// A `meta.attributes` entry as a 2.0 attribute path.
fn meta_attribute_to_v2(name: &str) -> Result<String, ScimError> {
    let name = name.trim();
    let path =
        if let Some(rest) = strip_prefix_ci(name, ENTERPRISE).and_then(|r| r.strip_prefix(':')) {
            let rest = match strip_prefix_ci(rest, "manager.managerId") {
                Some("") => "manager.value",
                _ => rest,
            };
            format!("{}:{rest}", urn::ENTERPRISE_USER)
        } else if let Some(rest) = strip_prefix_ci(name, CORE).and_then(|r| r.strip_prefix(':')) {
            rest.to_owned()
        } else {
            name.to_owned()
        };
    scim_filter::Parser::lenient()
        .parse_attr_path(&path)
        .map_err(|e| ScimError::invalid_path(name, format_args!("in meta.attributes: {e}")))?;
    Ok(path)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Whether the 2.0 attribute path `path` has a value in `current`.
fn path_present(current: &Map<String, Value>, path: &str) -> bool {
    let Ok(p) = scim_filter::Parser::lenient().parse_attr_path(path) else {
        return true;
    };
    let container = match p.schema() {
        Some(urn) => match get_ci(current, urn).and_then(Value::as_object) {
            Some(ext) => ext,
            None => return false,
        },
        None => current,
    };
    let Some(v) = get_ci(container, p.name()) else {
        return false;
    };
    match (p.sub_attr(), v) {
        (_, Value::Null) => false,
        (None, _) => true,
        (Some(sub), Value::Object(o)) => get_ci(o, sub).is_some_and(|v| !v.is_null()),
        (Some(sub), Value::Array(items)) => items.iter().any(|e| {
            e.as_object()
                .and_then(|o| get_ci(o, sub))
                .is_some_and(|v| !v.is_null())
        }),
        (Some(_), _) => false,
    }
}

/// The operations for one attribute `name` (of the extension `urn`, if any) with the 1.1
/// `value`; `container` is the current object holding the attribute, if known.
fn attribute_ops(
    urn: Option<&str>,
    name: &str,
    value: Value,
    container: Option<&Map<String, Value>>,
    ops: &mut Vec<Scim1PatchOp>,
) -> Result<(), ScimError> {
    let path = match urn {
        Some(u) => format!("{u}:{name}"),
        None => name.to_owned(),
    };
    scim_filter::Parser::lenient()
        .parse_attr_path(&path)
        .map_err(|e| ScimError::invalid_path(path.clone(), e))?;
    let existing = container.and_then(|c| get_ci(c, name));
    match value {
        Value::Null => {
            if container.is_none() || existing.is_some_and(|v| !v.is_null()) {
                ops.push(Scim1PatchOp::remove(path));
            }
        }
        Value::Array(items) => {
            let existing_items = existing.and_then(Value::as_array);
            let mut adds: Vec<Value> = Vec::new();
            let flush = |adds: &mut Vec<Value>, ops: &mut Vec<Scim1PatchOp>| {
                if !adds.is_empty() {
                    ops.push(Scim1PatchOp {
                        op: Scim1OpKind::Add,
                        path: Some(path.clone()),
                        value: Some(Value::Array(std::mem::take(adds))),
                    });
                }
            };
            for item in items {
                let Value::Object(mut element) = item else {
                    adds.push(item);
                    continue;
                };
                let delete = match remove_ci(&mut element, "operation") {
                    None | Some(Value::Null) => false,
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("delete") => true,
                    Some(other) => {
                        return Err(ScimError::invalid_value(
                            format!("{name}.operation"),
                            format_args!("must be \"delete\", not {other}"),
                        ));
                    }
                };
                if delete {
                    let filter = element_filter(name, &element)?;
                    let matched = match (container, existing_items) {
                        (None, _) => true,
                        (Some(_), None) => false,
                        (Some(_), Some(items)) => any_match(&filter, items),
                    };
                    if matched {
                        flush(&mut adds, ops);
                        ops.push(Scim1PatchOp::remove(format!("{path}[{filter}]")));
                    }
                    continue;
                }
                let update = get_ci(&element, "value")
                    .filter(|v| !v.is_null())
                    .and_then(value_filter)
                    .filter(|f| existing_items.is_some_and(|items| any_match(f, items)));
                match update {
                    Some(filter) => {
                        flush(&mut adds, ops);
                        ops.push(Scim1PatchOp {
                            op: Scim1OpKind::Replace,
                            path: Some(format!("{path}[{filter}]")),
                            value: Some(Value::Object(element)),
                        });
                    }
                    None => adds.push(Value::Object(element)),
                }
            }
            flush(&mut adds, ops);
        }
        other => ops.push(Scim1PatchOp {
            op: Scim1OpKind::Replace,
            path: Some(path),
            value: Some(other),
        }),
    }
    Ok(())
}

/// `value eq <literal>` for a simple value.
fn value_filter(v: &Value) -> Option<String> {
    literal(v).map(|lit| format!("value eq {lit}"))
}

/// A filter literal for a simple JSON value.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => serde_json::to_string(v).ok(),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The value filter identifying a deleted element: its `value`, else all its simple
/// sub-attributes.
fn element_filter(name: &str, element: &Map<String, Value>) -> Result<String, ScimError> {
    if let Some(f) = get_ci(element, "value").and_then(value_filter) {
        return Ok(f);
    }
    let terms: Vec<String> = element
        .iter()
        .filter(|(k, _)| scim_filter::AttrPath::new(k).is_some())
        .filter_map(|(k, v)| literal(v).map(|lit| format!("{k} eq {lit}")))
        .collect();
    if terms.is_empty() {
        Err(ScimError::invalid_value(
            name,
            "an element with \"operation\": \"delete\" needs a `value` (or other sub-attributes) to identify it",
        ))
    } else {
        Ok(terms.join(" and "))
    }
}

/// Whether any element of `items` satisfies the filter text `filter`.
fn any_match(filter: &str, items: &[Value]) -> bool {
    match filter.parse::<scim_filter::Filter>() {
        Ok(f) => items.iter().any(|e| f.matches(e)),
        // Cannot evaluate: let the engine decide.
        Err(_) => true,
    }
}
