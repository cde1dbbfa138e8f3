//! [`HttpClient`]: the one way the workspace's backends talk HTTP.
//!
//! Backends (Atlassian products, identity providers pulled from) build `http::Request`s and
//! hand them to an `HttpClient` the application chooses, as the `oauth2` crate does: the library
//! stays free of any HTTP stack and async runtime, tests plug in an in-process simulator, and an
//! application reuses the client (proxy, TLS roots, connection pool) it already has.

use async_trait::async_trait;

/// Sends one HTTP request and returns the response, whatever its status.
///
/// A response with an error status (404, 429, 500) is `Ok`: interpreting it is the caller's
/// business. `Err` is for requests that got no response at all.
///
/// Implementations apply their own timeouts and report them as [`HttpError::Timeout`]; they do
/// not follow redirects to another host with the request's `Authorization` header.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request`.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError>;
}

/// Why a request got no response.
///
/// Messages name the host or the failure, never a header value: requests carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// No complete response within the client's timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection could not be made (DNS, refused, TLS handshake).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// Anything else (a malformed response, a body too large, a broken connection).
    #[error("{0}")]
    Other(String),
}

impl HttpError {
    /// Whether the request may have reached the server: a timeout or a broken connection may
    /// have left a write half done, a failed connect cannot have.
    pub fn may_have_been_sent(&self) -> bool {
        !matches!(self, HttpError::Connect(_))
    }
}
