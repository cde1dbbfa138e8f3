//! PATCH (RFC 7644 §3.5.2): the [`PatchOp`] message and an engine that applies it to a
//! [`Resource`] with schema awareness, atomically.
//!
//! # What is supported
//! - `add`, `replace` and `remove` with no path (the value is an object of attributes), an
//!   attribute path (`displayName`), a sub-attribute path (`name.familyName`), a URN-qualified path
//!   into an extension (`urn:...:enterprise:2.0:User:manager`, and Entra ID's
//!   `urn:...:enterprise:2.0:User.manager`), a whole extension (`urn:...:enterprise:2.0:User`), a
//!   value filter (`emails[type eq "work"]`) and a value filter with a sub-attribute
//!   (`emails[type eq "work"].value`, `members[value eq "x"].display`).
//! - Attribute names match case-insensitively; a new attribute is stored under the schema's
//!   canonical name when the schema knows it.
//! - Values are checked against the attribute's definition (type, complex or not, multi-valued or
//!   not) and normalised: booleans sent as `"True"`/`"False"` become booleans, sub-attribute names
//!   become canonical, `null` members (`"$ref": null`) are dropped.
//! - A multi-valued attribute keeps at most one `primary: true`: a new primary clears the old.
//!
//! # Semantics (RFC 7644 §3.5.2, with the leniency identity providers need)
//! - `add` to a multi-valued attribute appends the values not already there (equal JSON, or for
//!   references such as `members`, the same `value`). `add`/`replace` of a single-valued complex
//!   attribute merges the given sub-attributes. `replace` of a multi-valued attribute without a
//!   filter replaces all values; `[]` (and `null`) clears it.
//! - Path-less values may use dotted keys (`"name.givenName"`) and URN-qualified keys; `schemas`
//!   in them is ignored.
//! - `add` to `emails[type eq "work"].value` when no element matches creates
//!   `{"type": "work", "value": ...}` (when the filter is a conjunction of `eq` terms); `replace`
//!   and `remove` with a filter that matches nothing fail with `noTarget`.
//! - `remove` of a multi-valued attribute with a `value` array removes exactly the listed
//!   elements (matched on `value` when given), as Entra ID removes group members.
//! - A bare string for a single-valued complex attribute with a `value` sub-attribute is read as
//!   `{"value": ...}` (Entra ID's `manager`). A bare string for a multi-valued complex attribute is
//!   `invalidValue`.
//!
//! # Errors
//! `noTarget` (remove without path, filter without match), `invalidPath` (unparsable path,
//! unknown sub-attribute of a known complex attribute, filter on a single-valued attribute,
//! sub-attribute of a multi-valued attribute without filter on add/replace), `invalidValue` (wrong
//! type for the attribute, removing a required attribute), `mutability` (readOnly attributes such
//! as `id`, `meta` and a User's `groups`, unless the value sent equals the current one; immutable
//! attributes and sub-attributes that already have a different value), `invalidSyntax` (malformed
//! message, missing `value`). `readOnly` *sub*-attributes of a writable attribute
//! (`members.display`, `manager.displayName`) are accepted: they are denormalised copies that
//! clients send back.
//!
//! # Atomicity
//! Every change is recorded in an undo log as the displaced value (moved, not cloned); when an
//! operation fails, the log is replayed backwards and the resource is exactly as before (with
//! `serde_json`'s default sorted maps, byte-for-byte).

mod apply;
mod decode;
mod op;
mod value;

pub use op::{OpKind, PatchOp, PatchOperation, parse_path};

use crate::error::ScimError;
use crate::resource::{Group, Resource, User};
use crate::schema::SchemaRegistry;

/// Applies `patch` to `resource`, resolving attributes through `schemas`. Atomic: on error the
/// resource is unchanged.
///
/// ```
/// use scim_core::patch::{self, PatchOp};
/// use scim_core::schema::SchemaRegistry;
/// use scim_core::{Resource, ScimType};
///
/// let mut user: Resource = serde_json::from_value(serde_json::json!({
///     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
///     "id": "2819c223",
///     "userName": "bjensen",
///     "emails": [{"type": "work", "value": "old@example.com", "primary": true}]
/// })).unwrap();
///
/// // What Entra ID sends: capitalised ops, a filtered path, a boolean as a string, the manager
/// // as a bare id under the enterprise URN joined with a dot.
/// let patch = PatchOp::from_slice(br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
///   "Operations": [
///     {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
///     {"op": "Replace", "path": "active", "value": "False"},
///     {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager",
///      "value": "26118915"}
///   ]}"#)?;
/// patch::apply(&mut user, &patch, SchemaRegistry::builtin())?;
///
/// let json = serde_json::to_value(&user).unwrap();
/// assert_eq!(json["emails"][0]["value"], "new@example.com");
/// assert_eq!(json["active"], false);
/// assert_eq!(
///     json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
///     "26118915"
/// );
///
/// // A failing operation leaves the resource as it was.
/// let before = user.clone();
/// let bad = PatchOp::from_slice(br#"{"Operations": [
///     {"op": "replace", "path": "displayName", "value": "Babs"},
///     {"op": "replace", "path": "id", "value": "other"}
/// ]}"#)?;
/// let err = patch::apply(&mut user, &bad, SchemaRegistry::builtin()).unwrap_err();
/// assert_eq!(err.scim_type(), Some(ScimType::Mutability));
/// assert_eq!(user, before);
/// # Ok::<(), scim_core::ScimError>(())
/// ```
pub fn apply(
    resource: &mut Resource,
    patch: &PatchOp,
    schemas: &SchemaRegistry,
) -> Result<(), ScimError> {
    let mut engine = apply::Engine::new(resource, schemas);
    match engine.run(patch) {
        Ok(()) => Ok(()),
        Err(e) => {
            engine.rollback();
            Err(e)
        }
    }
}

/// Applies `patch` to a [`User`] (through its [`Resource`] form). On error the user is unchanged.
pub fn apply_user(
    user: &mut User,
    patch: &PatchOp,
    schemas: &SchemaRegistry,
) -> Result<(), ScimError> {
    let mut resource = Resource::from(user.clone());
    apply(&mut resource, patch, schemas)?;
    *user = User::try_from(resource)?;
    Ok(())
}

/// Applies `patch` to a [`Group`] (through its [`Resource`] form). On error the group is
/// unchanged.
pub fn apply_group(
    group: &mut Group,
    patch: &PatchOp,
    schemas: &SchemaRegistry,
) -> Result<(), ScimError> {
    let mut resource = Resource::from(group.clone());
    apply(&mut resource, patch, schemas)?;
    *group = Group::try_from(resource)?;
    Ok(())
}

impl PatchOp {
    /// Applies this PATCH to `resource`; see [`apply`].
    pub fn apply_to(
        &self,
        resource: &mut Resource,
        schemas: &SchemaRegistry,
    ) -> Result<(), ScimError> {
        apply(resource, self, schemas)
    }
}
