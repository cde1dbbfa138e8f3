//! Discovery documents: [`ServiceProviderConfig`] (RFC 7643 §5) and [`ResourceType`] (§6).

use crate::de::scim_object;
use crate::resource::Meta;

scim_object! {
    /// The service provider's configuration (RFC 7643 §5), served at `/ServiceProviderConfig`.
    pub struct ServiceProviderConfig {
        /// `documentationUri`.
        pub documentation_uri: Option<String> = "documentationUri",
        /// `patch`.
        pub patch: Supported = "patch",
        /// `bulk`.
        pub bulk: BulkConfig = "bulk",
        /// `filter`.
        pub filter: FilterConfig = "filter",
        /// `changePassword`.
        pub change_password: Supported = "changePassword",
        /// `sort`.
        pub sort: Supported = "sort",
        /// `etag`.
        pub etag: Supported = "etag",
        /// `authenticationSchemes`.
        pub authentication_schemes: Vec<AuthenticationScheme> = "authenticationSchemes",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
}

scim_object! {
    /// A feature that is either supported or not (`patch`, `changePassword`, `sort`, `etag`).
    pub struct Supported {
        /// `supported`.
        pub supported: bool = "supported",
    }
    rest: other;
}

impl Supported {
    /// `{"supported": yes}`.
    pub fn new(yes: bool) -> Self {
        Supported {
            supported: yes,
            other: serde_json::Map::new(),
        }
    }
}

scim_object! {
    /// Bulk support (`bulk`).
    pub struct BulkConfig {
        /// `supported`.
        pub supported: bool = "supported",
        /// `maxOperations`.
        pub max_operations: u64 = "maxOperations",
        /// `maxPayloadSize`, in bytes.
        pub max_payload_size: u64 = "maxPayloadSize",
    }
    rest: other;
}

scim_object! {
    /// Filter support (`filter`).
    pub struct FilterConfig {
        /// `supported`.
        pub supported: bool = "supported",
        /// `maxResults`.
        pub max_results: u64 = "maxResults",
    }
    rest: other;
}

scim_object! {
    /// An authentication scheme (`authenticationSchemes`).
    pub struct AuthenticationScheme {
        /// `type`, e.g. `oauthbearertoken`, `httpbasic`.
        pub kind: String = "type",
        /// `name`.
        pub name: String = "name",
        /// `description`.
        pub description: String = "description",
        /// `specUri`.
        pub spec_uri: Option<String> = "specUri",
        /// `documentationUri`.
        pub documentation_uri: Option<String> = "documentationUri",
        /// `primary`. Accepts `"True"`.
        pub primary: Option<bool> = "primary",
    }
    rest: other;
}

scim_object! {
    /// A resource type (RFC 7643 §6), served at `/ResourceTypes`.
    pub struct ResourceType {
        /// `id`.
        pub id: Option<String> = "id",
        /// `name`, e.g. `User`.
        pub name: String = "name",
        /// `description`.
        pub description: Option<String> = "description",
        /// `endpoint`, e.g. `/Users`.
        pub endpoint: String = "endpoint",
        /// `schema`: the core schema URN.
        pub schema: String = "schema",
        /// `schemaExtensions`.
        pub schema_extensions: Vec<SchemaExtensionRef> = "schemaExtensions",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
}

scim_object! {
    /// An extension of a resource type (`schemaExtensions`).
    pub struct SchemaExtensionRef {
        /// `schema`: the extension's URN.
        pub schema: String = "schema",
        /// `required`.
        pub required: bool = "required",
    }
    rest: other;
}
