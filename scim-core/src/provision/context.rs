//! [`RequestContext`]: who is asking, for which tenant, in which SCIM version.

use std::fmt;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The SCIM protocol version a request was made in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimVersion {
    /// SCIM 1.1 (`urn:scim:schemas:core:1.0`).
    V1_1,
    /// SCIM 2.0 (RFC 7643/7644).
    #[default]
    V2,
}

impl fmt::Display for ScimVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScimVersion::V1_1 => "1.1",
            ScimVersion::V2 => "2.0",
        })
    }
}

/// What a [`Provisioner`](super::Provisioner) knows about the request it serves.
///
/// Every operation is scoped to `tenant`: a backend never reads or writes another tenant's
/// resources. Built by the service after authentication; tests build it with
/// [`RequestContext::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    tenant: String,
    principal: Option<String>,
    version: ScimVersion,
    request_id: String,
    members_returned: bool,
}

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

impl RequestContext {
    /// A SCIM 2.0 context for `tenant`, without a principal, with a fresh request id.
    pub fn new(tenant: impl Into<String>) -> Self {
        RequestContext {
            tenant: tenant.into(),
            principal: None,
            version: ScimVersion::V2,
            request_id: format!("req-{}", NEXT_REQUEST.fetch_add(1, Ordering::Relaxed)),
            members_returned: true,
        }
    }

    /// The context of an authenticated request, built from owned parts: the service makes one
    /// per request, and a request id it was given saves making one.
    pub(crate) fn for_request(
        tenant: String,
        principal: String,
        version: ScimVersion,
        request_id: Option<String>,
    ) -> Self {
        RequestContext {
            tenant,
            principal: Some(principal),
            version,
            request_id: request_id.unwrap_or_else(|| {
                // Sized once: `format!` grows its string from empty, a few times per request.
                let mut id = String::with_capacity(24);
                let _ = write!(id, "req-{}", NEXT_REQUEST.fetch_add(1, Ordering::Relaxed));
                id
            }),
            members_returned: true,
        }
    }

    /// Sets the authenticated principal (a client name, never a secret).
    #[must_use]
    pub fn with_principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Sets the protocol version.
    #[must_use]
    pub fn with_version(mut self, version: ScimVersion) -> Self {
        self.version = version;
        self
    }

    /// Sets the request id (for instance from an `X-Request-Id` header).
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// The tenant every operation is scoped to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// The protocol version of the request.
    pub fn version(&self) -> ScimVersion {
        self.version
    }

    /// An id for logs and traces.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Says whether the response to this request shows a group's `members` (false when the
    /// client sent `excludedAttributes=members`, or `attributes` without it). Set by the
    /// service for a Group `PATCH`.
    #[must_use]
    pub fn with_members_returned(mut self, returned: bool) -> Self {
        self.members_returned = returned;
        self
    }

    /// Whether the response shows a group's `members` (true unless the service learnt
    /// otherwise): a backend whose member listing is costly (a product paging through a large
    /// group) may leave `members` out of what it answers when it is not.
    pub fn members_returned(&self) -> bool {
        self.members_returned
    }
}
