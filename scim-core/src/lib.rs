//! Typed SCIM 2.0 resources, messages, schemas and errors (RFC 7643/7644).
//!
//! - [`User`], [`Group`], [`EnterpriseUser`] and the generic [`Resource`]: typed cores plus
//!   [`Extensions`] by URN and a map of unknown attributes, so nothing is lost in a round trip.
//! - Input is read the way identity providers write it (attribute names in any case, booleans as
//!   strings, `"$ref": null`); output is strict RFC (canonical names, `schemas` always present,
//!   empty attributes and `password` never written).
//! - [`ScimError`]: status, `scimType` and detail, and the RFC error body ([`ErrorBody`]).
//! - [`schema`]: schema documents, the built-in ones, and a registry implementing
//!   [`scim_filter::AttributeSchema`]; [`discovery`]: `ServiceProviderConfig`, `ResourceType`.
//! - [`patch`]: the `PatchOp` message and an atomic, schema-aware PATCH engine that accepts what
//!   identity providers really send.
//! - [`projection`] (`attributes`/`excludedAttributes` honouring `returned`), [`sort`]
//!   (`sortBy`/`sortOrder`), [`etag`] (weak version tags, `If-Match`/`If-None-Match`).
//! - [`bulk`]: `BulkRequest`/`BulkResponse` (RFC 7644 §3.7), `bulkId` references and the order
//!   to run a request's operations in.
//! - [`provision`]: the async `Provisioner` trait a backend implements (defaults for search,
//!   PATCH and membership), the in-memory reference backend, and, with the `conformance`
//!   feature, the test suite every backend runs.
//! - [`client`]: the [`HttpClient`] trait backends send their HTTP requests through.
//! - [`scim1`]: SCIM 1.1 resources, lists, errors and PATCH bodies, converted to and from 2.0.
//! - [`service`]: [`ScimService`], the SCIM HTTP endpoints over any [`provision::Provisioner`],
//!   for any server: `http::Request` in, `http::Response` out.
//! - `tower` (feature `tower`): that service as a `tower::Service` for axum, hyper and any
//!   `http_body::Body`, reading bodies no further than the size limit.
//!
//! Deserialise with [`from_slice`]/[`from_str`] to get a [`ScimError`] (400, naming the
//! attribute) instead of a `serde_json::Error`.
//!
//! Duplicate attribute names in one object (`userName` and `USERNAME`): the last one wins.

pub mod bulk;
pub mod client;
mod de;
pub mod discovery;
mod error;
pub mod etag;
mod json;
pub mod messages;
pub mod patch;
pub mod projection;
pub mod provision;
pub mod resource;
pub mod schema;
pub mod scim1;
pub mod service;
pub mod sort;
#[cfg(feature = "tower")]
pub mod tower;

pub use bulk::{BulkMethod, BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse};
pub use client::{HttpClient, HttpError};
pub use discovery::{ResourceType, ServiceProviderConfig};
pub use error::{ScimError, ScimType, from_slice, from_str};
pub use messages::{ErrorBody, ListResponse, SearchRequest, SortOrder};
pub use patch::{OpKind, PatchOp, PatchOperation};
pub use resource::{
    Address, EnterpriseUser, Extensions, Group, Manager, Member, Meta, MultiValue, Name, Password,
    Resource, SchemaExtension, User,
};
pub use schema::{AttributeDef, Schema, SchemaRegistry};
pub use service::{Authenticator, BearerTokens, Principal, ScimService, ServiceBuilder};

/// Schema URNs of RFC 7643 and message URNs of RFC 7644.
pub mod urn {
    /// The core User schema.
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    /// The core Group schema.
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    /// The enterprise User extension.
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    /// Schema documents.
    pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
    /// `ServiceProviderConfig`.
    pub const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    /// `ResourceType`.
    pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    /// `ListResponse`.
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    /// `SearchRequest`.
    pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    /// `PatchOp`.
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    /// `BulkRequest`.
    pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    /// `BulkResponse`.
    pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    /// `Error`.
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
}
