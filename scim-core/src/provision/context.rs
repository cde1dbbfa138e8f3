//! [`RequestContext`]: who is asking, for which tenant, in which SCIM version.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::etag::decimal;

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
    // Shared with the authenticator's configuration: a request copies no names.
    tenant: Arc<str>,
    principal: Option<Arc<str>>,
    version: ScimVersion,
    request_id: RequestId,
    members_returned: bool,
}

/// The longest request id kept inline: every id the service makes, and a UUID an identity
/// provider sends, fit, so a request allocates nothing for its id.
const INLINE_ID: usize = 46;

/// A request id, inline when short.
#[derive(Clone)]
enum RequestId {
    Inline { len: u8, bytes: [u8; INLINE_ID] },
    Heap(Box<str>),
}

impl RequestId {
    const EMPTY: RequestId = RequestId::Inline {
        len: 0,
        bytes: [0; INLINE_ID],
    };

    fn new(id: &str) -> Self {
        let mut inline = RequestId::EMPTY;
        if inline.write_str(id).is_ok() {
            inline
        } else {
            RequestId::Heap(id.into())
        }
    }

    /// `req-<n>`, for a request that came without an id: always inline.
    fn made() -> Self {
        let mut id = RequestId::EMPTY;
        let mut buf = [0; 20];
        let _ = id.write_str("req-");
        let _ = id.write_str(decimal(
            NEXT_REQUEST.fetch_add(1, Ordering::Relaxed),
            &mut buf,
        ));
        id
    }

    fn as_str(&self) -> &str {
        match self {
            // Only whole `str`s are written in, so the prefix is always UTF-8.
            RequestId::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            RequestId::Heap(id) => id,
        }
    }
}

/// Appends to an inline id; fails (leaving a shorter id) when the text does not fit.
impl fmt::Write for RequestId {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let RequestId::Inline { len, bytes } = self else {
            return Err(fmt::Error);
        };
        let start = usize::from(*len);
        let end = start + s.len();
        let slot = bytes.get_mut(start..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        *len = u8::try_from(end).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

impl RequestContext {
    /// A SCIM 2.0 context for `tenant`, without a principal, with a fresh request id.
    pub fn new(tenant: impl Into<String>) -> Self {
        RequestContext {
            tenant: Arc::from(tenant.into()),
            principal: None,
            version: ScimVersion::V2,
            request_id: RequestId::made(),
            members_returned: true,
        }
    }

    /// The context of an authenticated request, built from owned parts: the service makes one
    /// per request, and a request id it was given saves making one.
    pub(crate) fn for_request(
        tenant: Arc<str>,
        principal: Arc<str>,
        version: ScimVersion,
        request_id: Option<&str>,
    ) -> Self {
        RequestContext {
            tenant,
            principal: Some(principal),
            version,
            request_id: request_id.map_or_else(RequestId::made, RequestId::new),
            members_returned: true,
        }
    }

    /// Sets the authenticated principal (a client name, never a secret).
    #[must_use]
    pub fn with_principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(Arc::from(principal.into()));
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
        self.request_id = RequestId::new(&request_id.into());
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
        self.request_id.as_str()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_of_any_length_read_back_as_given() {
        let uuid = "3f1c4b52-8c1e-4d0a-9a57-0c6de1f2a9b3";
        let long = "x".repeat(200);
        for id in [
            "",
            "a",
            uuid,
            &"y".repeat(INLINE_ID),
            &"z".repeat(INLINE_ID + 1),
            &long,
        ] {
            let ctx = RequestContext::new("t").with_request_id(id);
            assert_eq!(ctx.request_id(), id);
        }
        // A UUID is kept inline; a longer id on the heap; both compare by their text.
        assert!(matches!(RequestId::new(uuid), RequestId::Inline { .. }));
        assert!(matches!(RequestId::new(&long), RequestId::Heap(_)));
        assert_eq!(RequestId::new(&long), RequestId::Heap(long.clone().into()));
    }

    #[test]
    fn a_made_id_counts_up_inline() {
        let (a, b) = (RequestContext::new("t"), RequestContext::new("t"));
        let n = |ctx: &RequestContext| {
            ctx.request_id()
                .strip_prefix("req-")
                .and_then(|n| n.parse::<u64>().ok())
        };
        // Other tests make ids at the same time: later, not necessarily next.
        assert!(n(&b) > n(&a) && n(&a).is_some(), "{a:?} {b:?}");
        assert!(matches!(a.request_id, RequestId::Inline { .. }));
    }
}
