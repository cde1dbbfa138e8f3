//! Attribute types shared by resources: [`Meta`], [`MultiValue`], [`Name`], [`Address`] and
//! [`Password`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::de::scim_object;

scim_object! {
    /// Resource metadata (`meta`, RFC 7643 §3.1). All sub-attributes are kept as the strings
    /// they were sent as (date-times included), so a round trip is byte-exact.
    pub struct Meta {
        /// `resourceType`, e.g. `User`.
        pub resource_type: Option<String> = "resourceType",
        /// `created`: RFC 3339 date-time.
        pub created: Option<String> = "created",
        /// `lastModified`: RFC 3339 date-time.
        pub last_modified: Option<String> = "lastModified",
        /// `location`: the resource's URI.
        pub location: Option<String> = "location",
        /// `version`: the entity tag, e.g. `W/"a330bc54f0671c9"`.
        pub version: Option<String> = "version",
    }
    rest: other;
}

impl Meta {
    /// The `meta` a service provider serves for a resource of `resource_type` at `version`
    /// (as the weak tag `W/"<version>"`), created and last modified at the given RFC 3339
    /// instants; `location` is left to the service, which knows the base URL.
    ///
    /// ```
    /// let meta = scim_core::Meta::stamped("User", 3, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
    /// assert_eq!(meta.version.as_deref(), Some("W/\"3\""));
    /// assert_eq!(meta.resource_type.as_deref(), Some("User"));
    /// assert_eq!(meta.location, None);
    /// ```
    pub fn stamped(
        resource_type: &str,
        version: u64,
        created: impl Into<String>,
        last_modified: impl Into<String>,
    ) -> Meta {
        // (Owned instants move in: a database row's columns are not copied again.)
        Meta {
            resource_type: Some(resource_type.to_owned()),
            created: Some(created.into()),
            last_modified: Some(last_modified.into()),
            version: Some(crate::etag::weak_version_tag(version)),
            ..Meta::default()
        }
    }
}

scim_object! {
    /// An element of a multi-valued attribute (RFC 7643 §2.4): `emails`, `phoneNumbers`, `ims`,
    /// `photos`, `groups`, `entitlements`, `roles`, `x509Certificates`.
    pub struct MultiValue {
        /// `value`.
        pub value: Option<String> = "value",
        /// `display`: a human-readable name.
        pub display: Option<String> = "display",
        /// `type`: a label such as `work` or `home`.
        pub kind: Option<String> = "type",
        /// `primary`: at most one element per attribute may be primary. Accepts `"True"`.
        pub primary: Option<bool> = "primary",
        /// `$ref`: the URI of the referenced resource; `null` is treated as absent.
        pub reference: Option<String> = "$ref",
    }
    rest: other;
}

impl MultiValue {
    /// An element with just a `value`.
    pub fn new(value: impl Into<String>) -> Self {
        MultiValue {
            value: Some(value.into()),
            ..MultiValue::default()
        }
    }

    /// Sets `type`.
    #[must_use]
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Sets `primary: true`.
    #[must_use]
    pub fn primary(mut self) -> Self {
        self.primary = Some(true);
        self
    }
}

scim_object! {
    /// A user's name (`name`, RFC 7643 §4.1.1).
    pub struct Name {
        /// `formatted`: the full name for display.
        pub formatted: Option<String> = "formatted",
        /// `familyName`.
        pub family_name: Option<String> = "familyName",
        /// `givenName`.
        pub given_name: Option<String> = "givenName",
        /// `middleName`.
        pub middle_name: Option<String> = "middleName",
        /// `honorificPrefix`, e.g. `Ms.`.
        pub honorific_prefix: Option<String> = "honorificPrefix",
        /// `honorificSuffix`, e.g. `III`.
        pub honorific_suffix: Option<String> = "honorificSuffix",
    }
    rest: other;
}

scim_object! {
    /// A physical mailing address (`addresses`, RFC 7643 §4.1.2).
    pub struct Address {
        /// `formatted`: the full address for display.
        pub formatted: Option<String> = "formatted",
        /// `streetAddress`.
        pub street_address: Option<String> = "streetAddress",
        /// `locality`: city.
        pub locality: Option<String> = "locality",
        /// `region`: state or province.
        pub region: Option<String> = "region",
        /// `postalCode`.
        pub postal_code: Option<String> = "postalCode",
        /// `country`: ISO 3166-1 alpha-2 code.
        pub country: Option<String> = "country",
        /// `type`: `work`, `home` or `other`.
        pub kind: Option<String> = "type",
        /// `primary`. Accepts `"True"`.
        pub primary: Option<bool> = "primary",
    }
    rest: other;
}

/// A password (`returned: never`): its `Debug` is redacted and serialising it fails, so it cannot
/// leak into a response or a log by accident. [`User`](crate::User) never writes it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(String);

impl Password {
    /// Wraps a cleartext password.
    pub fn new(cleartext: impl Into<String>) -> Self {
        Password(cleartext.into())
    }

    /// The cleartext, for hashing or forwarding to a backend.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Password)
    }
}

impl Serialize for Password {
    /// Always fails: a password is `returned: never` (RFC 7643 §4.1.1).
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "password is never serialised (returned: never)",
        ))
    }
}

impl crate::de::Scalar for Password {
    fn read_opt<'de, A: serde::de::MapAccess<'de>>(map: &mut A) -> Result<Option<Self>, A::Error> {
        map.next_value::<Option<Password>>()
    }
    fn never_returned(&self) -> bool {
        true
    }
}
