//! [`Group`] (RFC 7643 §4.2).

use crate::de::scim_object;
use crate::resource::Meta;

scim_object! {
    /// A SCIM Group (RFC 7643 §4.2).
    ///
    /// Attribute names are read case-insensitively; unknown attributes (in `other`) and
    /// extensions (in `extensions`) survive a round trip; `schemas` always lists the core Group
    /// URN and every extension on output.
    pub struct Group {
        /// `id`: assigned by the service provider.
        pub id: Option<String> = "id",
        /// `externalId`: the client's identifier.
        pub external_id: Option<String> = "externalId",
        /// `displayName` (required by RFC 7643; empty means absent and is not written).
        pub display_name: String = "displayName",
        /// `members`.
        pub members: Vec<Member> = "members",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:schemas:core:2.0:Group";
    extensions: extensions;
}

scim_object! {
    /// A member of a [`Group`].
    pub struct Member {
        /// `value`: the member's `id`.
        pub value: Option<String> = "value",
        /// `$ref`: the member's URI; `null` is treated as absent.
        pub reference: Option<String> = "$ref",
        /// `display`: the member's display name.
        pub display: Option<String> = "display",
        /// `type`: `User` or `Group`.
        pub kind: Option<String> = "type",
    }
    rest: other;
}

impl Group {
    /// A group named `display_name`.
    pub fn new(display_name: impl Into<String>) -> Self {
        Group {
            display_name: display_name.into(),
            ..Group::default()
        }
    }
}

impl Member {
    /// A member with the id `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Member {
            value: Some(value.into()),
            ..Member::default()
        }
    }
}
