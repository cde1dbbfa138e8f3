//! [`Resource`]: any resource type as common attributes plus an open attribute map.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::de::scim_object;
use crate::error::ScimError;
use crate::resource::{Group, Meta, User};
use crate::urn;

scim_object! {
    /// Any SCIM resource: the common attributes (RFC 7643 §3.1) typed, every other core attribute
    /// in `attributes`, extensions by URN in `extensions`. Used for custom resource types and for
    /// lists that mix types; [`User`] and [`Group`] convert to and from it.
    ///
    /// `schemas` is written as stored (a partial response may have none). A top-level `password`
    /// is never written when `schemas` names the core User schema.
    pub struct Resource {
        /// `schemas`, as stored.
        pub schemas: Vec<String> = "schemas",
        /// `id`.
        pub id: Option<String> = "id",
        /// `externalId`.
        pub external_id: Option<String> = "externalId",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: attributes;
    extensions: extensions;
    skip_other: Resource::is_user_password;
}

impl Resource {
    /// Whether `schemas` names `urn` (ignoring case).
    pub fn has_schema(&self, urn: &str) -> bool {
        self.schemas.iter().any(|s| s.eq_ignore_ascii_case(urn))
    }

    /// The attribute `name` (matched case-insensitively).
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        crate::json::get_ci(&self.attributes, name)
    }

    fn is_user_password(&self, key: &str) -> bool {
        key.eq_ignore_ascii_case("password") && self.has_schema(urn::USER)
    }

    /// Everything as one JSON object, secrets included (for conversions, never for output).
    fn into_value_with_secrets(self) -> Value {
        let mut map = Map::new();
        if !self.schemas.is_empty() {
            map.insert(
                "schemas".to_owned(),
                Value::Array(self.schemas.into_iter().map(Value::String).collect()),
            );
        }
        if let Some(id) = self.id {
            map.insert("id".to_owned(), Value::String(id));
        }
        if let Some(ext) = self.external_id {
            map.insert("externalId".to_owned(), Value::String(ext));
        }
        if let Some(meta) = self.meta {
            map.insert(
                "meta".to_owned(),
                serde_json::to_value(meta).unwrap_or(Value::Null),
            );
        }
        map.extend(self.attributes);
        for (k, v) in self.extensions.iter() {
            map.insert(k.to_owned(), v.clone());
        }
        Value::Object(map)
    }

    pub(crate) fn from_value(v: Value) -> Resource {
        // A `Value` object always decodes into a `Resource`: every field accepts what it holds
        // or the error path below is taken, which keeps the map as attributes.
        match Resource::deserialize(&v) {
            Ok(r) => r,
            Err(_) => Resource {
                attributes: match v {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                ..Resource::default()
            },
        }
    }
}

impl From<User> for Resource {
    /// Lossless: the password, if any, goes into `attributes` (and is still never serialised);
    /// `schemas` gets the core User URN and extension URNs as on output.
    fn from(mut user: User) -> Self {
        let password = user.password.take();
        let mut v = serde_json::to_value(&user).unwrap_or(Value::Null);
        if let (Some(p), Value::Object(m)) = (password, &mut v) {
            m.insert("password".to_owned(), Value::String(p.expose().to_owned()));
        }
        Resource::from_value(v)
    }
}

impl From<Group> for Resource {
    fn from(group: Group) -> Self {
        Resource::from_value(serde_json::to_value(&group).unwrap_or(Value::Null))
    }
}

impl TryFrom<Resource> for User {
    type Error = ScimError;
    /// Fails (`invalidValue`, naming the attribute) when an attribute has the wrong type.
    fn try_from(r: Resource) -> Result<Self, ScimError> {
        User::deserialize(&r.into_value_with_secrets()).map_err(ScimError::from)
    }
}

impl TryFrom<Resource> for Group {
    type Error = ScimError;
    /// Fails (`invalidValue`, naming the attribute) when an attribute has the wrong type.
    fn try_from(r: Resource) -> Result<Self, ScimError> {
        Group::deserialize(&r.into_value_with_secrets()).map_err(ScimError::from)
    }
}
