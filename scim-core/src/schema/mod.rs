//! Schema documents (RFC 7643 §7): [`Schema`], [`AttributeDef`], the built-in User, Group and
//! enterprise User schemas, and a [`SchemaRegistry`] that answers scim-filter's
//! [`AttributeSchema`](scim_filter::AttributeSchema) questions from them.

mod builtin;
mod registry;

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// `none` (the default).
    #[default]
    None,
    /// `server`: unique within the service provider (and tenant).
    Server,
    /// `global`: globally unique.
    Global,
}

/// Wire names for a characteristic's values: written in RFC case, read in any case (schema
/// documents from other servers say `"READONLY"`, `"Always"`, `"String"`).
macro_rules! wire_enum {
    ($name:ident { $($variant:ident = $wire:literal,)* }) => {
        impl $name {
            const NAMES: &'static [&'static str] = &[$($wire),*];

            /// The wire form, as RFC 7643 §7 writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// Parses the wire form, ignoring case and surrounding spaces.
            pub fn from_name(s: &str) -> Option<Self> {
                let s = s.trim();
                [$($name::$variant),*]
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        write!(f, "one of {}", $name::NAMES.join(", "))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| E::unknown_variant(v, $name::NAMES))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

wire_enum!(AttributeType {
    String = "string",
    Boolean = "boolean",
    Decimal = "decimal",
    Integer = "integer",
    DateTime = "dateTime",
    Binary = "binary",
    Reference = "reference",
    Complex = "complex",
});
wire_enum!(Mutability {
    ReadOnly = "readOnly",
    ReadWrite = "readWrite",
    Immutable = "immutable",
    WriteOnly = "writeOnly",
});
wire_enum!(Returned {
    Always = "always",
    Never = "never",
    Default = "default",
    Request = "request",
});
wire_enum!(Uniqueness {
    None = "none",
    Server = "server",
    Global = "global",
});

serde_scalar!(AttributeType, Mutability, Returned, Uniqueness);
plain_field!(AttributeType, Mutability, Returned);
