//! The built-in schema documents, exactly as RFC 7643 §8.7.1 lists them, parsed once.

use std::sync::LazyLock;

use super::{AttributeDef, Schema};

static USER: LazyLock<Schema> = LazyLock::new(|| parse(include_str!("../../schemas/user.json")));
static GROUP: LazyLock<Schema> = LazyLock::new(|| parse(include_str!("../../schemas/group.json")));
static ENTERPRISE_USER: LazyLock<Schema> =
    LazyLock::new(|| parse(include_str!("../../schemas/enterprise_user.json")));
static COMMON: LazyLock<Vec<AttributeDef>> =
    LazyLock::new(|| serde_json::from_str(COMMON_JSON).unwrap_or_default());

fn parse(json: &str) -> Schema {
    // The documents are compiled in and covered by tests; an empty schema is the (unreachable)
    // fallback rather than a panic.
    serde_json::from_str(json).unwrap_or_default()
}

/// `urn:ietf:params:scim:schemas:core:2.0:User` (RFC 7643 §8.7.1).
pub fn user_schema() -> &'static Schema {
    &USER
}

/// `urn:ietf:params:scim:schemas:core:2.0:Group` (RFC 7643 §8.7.1).
pub fn group_schema() -> &'static Schema {
    &GROUP
}

/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (RFC 7643 §8.7.1).
pub fn enterprise_user_schema() -> &'static Schema {
    &ENTERPRISE_USER
}

/// The common attributes every resource has (`id`, `externalId`, `meta`; RFC 7643 §3.1), which
/// the schema documents do not list.
pub fn common_attributes() -> &'static [AttributeDef] {
    &COMMON
}

const COMMON_JSON: &str = r#"[
  {"name": "id", "type": "string", "multiValued": false, "required": false, "caseExact": true,
   "mutability": "readOnly", "returned": "always", "uniqueness": "server",
   "description": "A unique identifier for a SCIM resource as defined by the service provider."},
  {"name": "externalId", "type": "string", "multiValued": false, "required": false,
   "caseExact": true, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
   "description": "A String that is an identifier for the resource as defined by the provisioning client."},
  {"name": "meta", "type": "complex", "multiValued": false, "required": false,
   "mutability": "readOnly", "returned": "default",
   "description": "A complex attribute containing resource metadata.",
   "subAttributes": [
     {"name": "resourceType", "type": "string", "multiValued": false, "required": false,
      "caseExact": true, "mutability": "readOnly", "returned": "default"},
     {"name": "created", "type": "dateTime", "multiValued": false, "required": false,
      "mutability": "readOnly", "returned": "default"},
     {"name": "lastModified", "type": "dateTime", "multiValued": false, "required": false,
      "mutability": "readOnly", "returned": "default"},
     {"name": "location", "type": "reference", "referenceTypes": ["uri"], "multiValued": false,
      "required": false, "caseExact": true, "mutability": "readOnly", "returned": "default"},
     {"name": "version", "type": "string", "multiValued": false, "required": false,
      "caseExact": true, "mutability": "readOnly", "returned": "default"}
   ]}
]"#;
