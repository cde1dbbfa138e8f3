//! [`SchemaRegistry`]: schemas by URN, and attribute lookup for filters.

use std::sync::LazyLock;

use scim_filter::{AttrInfo, AttributeSchema};

use super::{
    AttributeDef, Schema, common_attributes, enterprise_user_schema, group_schema, user_schema,
};

static BUILTIN: LazyLock<SchemaRegistry> = LazyLock::new(|| {
    SchemaRegistry::from_schemas(vec![
        user_schema().clone(),
        group_schema().clone(),
        enterprise_user_schema().clone(),
    ])
});

/// A set of schemas, looked up by URN (case-insensitively).
///
/// As an [`AttributeSchema`], an attribute without a schema URN is looked up among the common
/// attributes (`id`, `externalId`, `meta`), then in every schema in registration order (core
/// schemas first in the built-in registry); use [`SchemaRegistry::resource`] to pin the core
/// schema of one resource type.
///
/// ```
/// use scim_core::schema::SchemaRegistry;
/// use scim_filter::AttributeSchema;
///
/// let reg = SchemaRegistry::builtin();
/// assert!(reg.attribute(None, "id", None).unwrap().case_exact());
/// assert!(!reg.attribute(None, "userName", None).unwrap().case_exact());
/// ```
#[derive(Clone, Debug, Default)]
pub struct SchemaRegistry {
    schemas: Vec<Schema>,
}

impl SchemaRegistry {
    /// The User, Group and enterprise User schemas of RFC 7643.
    pub fn builtin() -> &'static SchemaRegistry {
        &BUILTIN
    }

    /// A registry holding `schemas`.
    pub fn from_schemas(schemas: Vec<Schema>) -> Self {
        SchemaRegistry { schemas }
    }

    /// Adds (or replaces, by URN) a schema.
    pub fn add(&mut self, schema: Schema) {
        match self
            .schemas
            .iter_mut()
            .find(|s| s.id.eq_ignore_ascii_case(&schema.id))
        {
            Some(slot) => *slot = schema,
            None => self.schemas.push(schema),
        }
    }

    /// The schema `urn`.
    pub fn get(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// All schemas, in registration order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// A view for one resource type whose core schema is `core_urn`.
    pub fn resource<'a>(&'a self, core_urn: &'a str) -> ResourceSchema<'a> {
        ResourceSchema {
            registry: self,
            core: core_urn,
        }
    }

    /// The definition of `attr` (or its sub-attribute `sub`) in schema `schema` (`None`: common
    /// attributes, then any schema).
    pub fn find(
        &self,
        schema: Option<&str>,
        attr: &str,
        sub: Option<&str>,
    ) -> Option<&AttributeDef> {
        let def = match schema {
            Some(urn) => self.in_schema(urn, attr)?,
            None => {
                find_common(attr).or_else(|| self.schemas.iter().find_map(|s| s.attribute(attr)))?
            }
        };
        resolve_sub(def, sub)
    }

    fn in_schema(&self, urn: &str, attr: &str) -> Option<&AttributeDef> {
        let schema = self.get(urn)?;
        schema.attribute(attr).or_else(|| find_common(attr))
    }
}

fn find_common(attr: &str) -> Option<&'static AttributeDef> {
    common_attributes()
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(attr))
}

fn resolve_sub<'a>(def: &'a AttributeDef, sub: Option<&str>) -> Option<&'a AttributeDef> {
    match sub {
        None => Some(def),
        Some(sub) => def.sub_attribute(sub),
    }
}

impl AttributeSchema for SchemaRegistry {
    fn attribute(&self, schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        self.find(schema, attr, sub).map(AttributeDef::info)
    }
}

/// The schemas of one resource type: attributes without a URN resolve in its core schema.
#[derive(Clone, Copy, Debug)]
pub struct ResourceSchema<'a> {
    registry: &'a SchemaRegistry,
    core: &'a str,
}

impl<'a> ResourceSchema<'a> {
    /// The definition of `attr` (or `attr.sub`) for this resource type.
    pub fn find(
        &self,
        schema: Option<&str>,
        attr: &str,
        sub: Option<&str>,
    ) -> Option<&'a AttributeDef> {
        let urn = schema.unwrap_or(self.core);
        let def = self.registry.in_schema(urn, attr)?;
        resolve_sub(def, sub)
    }
}

impl AttributeSchema for ResourceSchema<'_> {
    fn attribute(&self, schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        self.find(schema, attr, sub).map(AttributeDef::info)
    }
}
