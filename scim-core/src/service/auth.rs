//! Authentication: the [`Authenticator`] trait, the [`Principal`] it yields, and
//! [`BearerTokens`], static bearer tokens each bound to a tenant.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use http::request::Parts;

use crate::error::ScimError;

/// Who a request was authenticated as: the tenant every operation of the request is scoped to,
/// and a name for logs (a client name, never a secret).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    // Shared, so that an authenticator holding its tenants (as [`BearerTokens`] does) answers
    // every request without copying their names.
    tenant: Arc<str>,
    name: Arc<str>,
}

impl Principal {
    /// A principal of `tenant` called `name`.
    pub fn new(tenant: impl Into<String>, name: impl Into<String>) -> Self {
        Principal::shared(Arc::from(tenant.into()), Arc::from(name.into()))
    }

    /// A principal from names the authenticator keeps.
    pub(crate) fn shared(tenant: Arc<str>, name: Arc<str>) -> Self {
        Principal { tenant, name }
    }

    /// The tenant the request may read and write.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The principal's name, for logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant and the name, moved out.
    pub(crate) fn into_parts(self) -> (Arc<str>, Arc<str>) {
        (self.tenant, self.name)
    }
}

/// Decides who sent a request, from its head (method, URI, headers).
///
/// An error is answered as it is (its status and `scimType`); a 401 gets
/// `WWW-Authenticate: Bearer realm="scim"` added by the service.
///
/// ```
/// use async_trait::async_trait;
/// use http::{StatusCode, request::Parts};
/// use scim_core::{Authenticator, Principal, ScimError};
///
/// /// Trusts a gateway in front of the service that puts the tenant in a header.
/// struct GatewayTenant;
///
/// #[async_trait]
/// impl Authenticator for GatewayTenant {
///     async fn authenticate(&self, request: &Parts) -> Result<Principal, ScimError> {
///         request
///             .headers
///             .get("x-tenant")
///             .and_then(|v| v.to_str().ok())
///             .map(|tenant| Principal::new(tenant, "gateway"))
///             .ok_or_else(|| ScimError::other(StatusCode::UNAUTHORIZED, None, "no tenant"))
///     }
/// }
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The principal the request is authenticated as.
    async fn authenticate(&self, request: &Parts) -> Result<Principal, ScimError>;
}

/// 401 with a detail that says what was wrong but never repeats the credentials.
pub(crate) fn unauthorized(detail: &str) -> ScimError {
    ScimError::other(StatusCode::UNAUTHORIZED, None, detail)
}

/// Static bearer tokens, each bound to a tenant: `Authorization: Bearer <token>`.
///
/// Identity providers are configured with one secret token per application, so an
/// administrator typically adds one token per identity provider connection, each its own tenant (or several
/// tokens for one tenant while rotating). The principal's name is `bearer-token-<n>` (the
/// token's 1-based position in configuration order), which tells rotated tokens apart in logs
/// without revealing them.
///
/// Tokens are compared in constant time against every configured token (no early exit, no
/// length shortcut), so response timing reveals neither a prefix nor which token was close.
/// Tokens are never logged, echoed in errors, or shown by `Debug`. Empty tokens never match.
///
/// ```
/// use scim_core::BearerTokens;
///
/// let tokens = BearerTokens::new()
///     .with_token("s3cr3t-entra", "entra")
///     .with_token("s3cr3t-okta", "okta");
/// assert!(!format!("{tokens:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Default)]
pub struct BearerTokens {
    /// Each token with its tenant and its principal's name (`bearer-token-<n>`).
    tokens: Vec<(Vec<u8>, Arc<str>, Arc<str>)>,
}

impl BearerTokens {
    /// No tokens: every request is refused.
    pub fn new() -> Self {
        BearerTokens::default()
    }

    /// Adds `token`, granting access to `tenant`.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>, tenant: impl Into<String>) -> Self {
        let name = format!("bearer-token-{}", self.tokens.len() + 1);
        self.tokens.push((
            token.into().into_bytes(),
            Arc::from(tenant.into()),
            Arc::from(name),
        ));
        self
    }

    /// The index of the configured token equal to `presented`, examining every token fully.
    fn find(&self, presented: &[u8]) -> Option<usize> {
        let mut found: Option<usize> = None;
        for (i, (token, _, _)) in self.tokens.iter().enumerate() {
            let equal = constant_time_eq(token, presented) & !token.is_empty();
            // Keep scanning after a match, so the time taken does not depend on which matched.
            if equal && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenants: Vec<&str> = self.tokens.iter().map(|(_, t, _)| &**t).collect();
        f.debug_struct("BearerTokens")
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("tenants", &tenants)
            .finish()
    }
}

/// Byte equality whose running time depends only on the lengths: every byte of the longer
/// input is examined, and a length difference is folded into the result instead of returning
/// early.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[async_trait]
impl Authenticator for BearerTokens {
    async fn authenticate(&self, request: &Parts) -> Result<Principal, ScimError> {
        let mut values = request.headers.get_all(http::header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(unauthorized(
                "authentication required: send `Authorization: Bearer <token>`",
            ));
        };
        if values.next().is_some() {
            return Err(unauthorized("more than one Authorization header"));
        }
        let value = value.as_bytes();
        let (scheme, token) = match value.iter().position(|b| *b == b' ') {
            Some(at) => (
                value.get(..at).unwrap_or_default(),
                value.get(at + 1..).unwrap_or_default(),
            ),
            None => (value, &[][..]),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return Err(unauthorized(
                "unsupported authentication scheme: use `Bearer <token>`",
            ));
        }
        let token = token.trim_ascii();
        match self.find(token).and_then(|i| self.tokens.get(i)) {
            Some((_, tenant, name)) => Ok(Principal::shared(Arc::clone(tenant), Arc::clone(name))),
            None => Err(unauthorized("invalid bearer token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"ab\0", b"ab"));
    }
}
