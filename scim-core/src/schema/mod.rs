//! Schema documents (RFC 7643 §7): [`Schema`], [`AttributeDef`], the built-in User, Group and
//! enterprise User schemas, and a [`SchemaRegistry`] that answers scim-filter's
//! [`AttributeSchema`](scim_filter::AttributeSchema) questions from them.

mod builtin;
mod registry;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::de::{plain_field, scim_object, serde_scalar};
use crate::resource::Meta;

pub use builtin::{common_attributes, enterprise_user_schema, group_schema, user_schema};
pub use registry::{ResourceSchema, SchemaRegistry};

scim_object! {
    /// A schema document (RFC 7643 §7), as served at `/Schemas`.
    pub struct Schema {
        /// `id`: the schema URN.
        pub id: String = "id",
        /// `name`, e.g. `User`.
        pub name: Option<String> = "name",
        /// `description`.
        pub description: Option<String> = "description",
        /// `attributes`.
        pub attributes: Vec<AttributeDef> = "attributes",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:schemas:core:2.0:Schema";
}

impl Schema {
    /// The top-level attribute `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        find(&self.attributes, name)
    }
}

scim_object! {
    /// An attribute definition (RFC 7643 §7). Characteristics the document leaves out are `None`
    /// (so a round trip is exact); the accessors apply the RFC 7643 §2.2 defaults.
    pub struct AttributeDef {
        /// `name`.
        pub name: String = "name",
        /// `type`.
        pub kind: AttributeType = "type",
        /// `multiValued`.
        pub multi_valued: bool = "multiValued",
        /// `description`.
        pub description: Option<String> = "description",
        /// `required`.
        pub required: bool = "required",
        /// `canonicalValues`.
        pub canonical_values: Vec<Value> = "canonicalValues",
        /// `caseExact` (default false).
        pub case_exact: Option<bool> = "caseExact",
        /// `mutability`.
        pub mutability: Mutability = "mutability",
        /// `returned`.
        pub returned: Returned = "returned",
        /// `uniqueness` (default none).
        pub uniqueness: Option<Uniqueness> = "uniqueness",
        /// `referenceTypes`, e.g. `User`, `Group`, `external`, `uri`.
        pub reference_types: Vec<String> = "referenceTypes",
        /// `subAttributes` of a complex attribute.
        pub sub_attributes: Vec<AttributeDef> = "subAttributes",
    }
    rest: other;
}

impl AttributeDef {
    /// Whether strings compare case-sensitively (`caseExact`, default false).
    pub fn is_case_exact(&self) -> bool {
        self.case_exact.unwrap_or(false)
    }

    /// `uniqueness`, default `none`.
    pub fn uniqueness(&self) -> Uniqueness {
        self.uniqueness.unwrap_or_default()
    }

    /// The sub-attribute `name` (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        find(&self.sub_attributes, name)
    }

    /// The characteristics scim-filter needs.
    pub fn info(&self) -> scim_filter::AttrInfo {
        scim_filter::AttrInfo::new(self.kind.into(), self.is_case_exact())
    }
}

fn find<'a>(attrs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AttributeType {
    /// `string`.
    #[default]
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime`.
    DateTime,
    /// `binary`.
    Binary,
    /// `reference`.
    Reference,
    /// `complex`.
    Complex,
}

impl From<AttributeType> for scim_filter::AttrType {
    fn from(t: AttributeType) -> Self {
        use scim_filter::AttrType as F;
        match t {
            AttributeType::String => F::String,
            AttributeType::Boolean => F::Boolean,
            AttributeType::Decimal => F::Decimal,
            AttributeType::Integer => F::Integer,
            AttributeType::DateTime => F::DateTime,
            AttributeType::Binary => F::Binary,
            AttributeType::Reference => F::Reference,
            AttributeType::Complex => F::Complex,
        }
    }
}

/// When an attribute may be changed (RFC 7643 §7 `mutability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// `readOnly`: set by the service provider only.
    ReadOnly,
    /// `readWrite` (the default).
    #[default]
    ReadWrite,
    /// `immutable`: set once, at creation.
    Immutable,
    /// `writeOnly`: never returned (passwords).
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7 `returned`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// `always`, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// `never`.
    Never,
    /// `default`: unless excluded (the default).
    #[default]
    Default,
    /// `request`: only when asked for in `attributes`.
    Request,
}

/// How an attribute's values must be unique (RFC 7643 §7 `uniqueness`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// `none` (the default).
    #[default]
    None,
    /// `server`: unique within the service provider (and tenant).
    Server,
    /// `global`: globally unique.
    Global,
}

serde_scalar!(AttributeType, Mutability, Returned, Uniqueness);
plain_field!(AttributeType, Mutability, Returned);
