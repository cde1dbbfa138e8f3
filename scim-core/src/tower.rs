//! [`ScimService`] as a [`tower_service::Service`] over `http::Request<B>` for any
//! [`http_body::Body`] `B` (feature `tower`): what axum, hyper (through `hyper-util`'s
//! `TowerToHyperService`), tonic-style stacks and tower middleware need, with no runtime.
//!
//! Per request, [`TowerService`]:
//!
//! - reads the body up to [`ScimService::max_payload_size`] and no further: a declared
//!   `Content-Length` (or body size hint) over the limit is refused before reading anything, and
//!   a streamed body is dropped at the first chunk that crosses the limit. Either way the answer
//!   is 413 with a SCIM error body;
//! - answers a body that fails while being read (the client went away, broken chunked encoding)
//!   with 400 `invalidSyntax` naming the failure;
//! - echoes a valid `X-Request-Id` (at most 200 printable ASCII characters), or makes one, and
//!   sends it on to the provisioner ([`RequestContext::request_id`](crate::provision::RequestContext::request_id))
//!   and back in the response;
//! - runs in a `tracing` span `scim_request` (method, path, request id) and logs one event when it
//!   is done: method, path (never the query, which can carry personal data in filters), status,
//!   time taken. Server errors are logged at `WARN`, the rest at `INFO`, under the target
//!   `scim_core::tower`.
//!
//! ## axum
//!
//! ```
//! use std::sync::Arc;
//! use scim_core::{BearerTokens, ScimService};
//! use scim_core::provision::InMemoryProvisioner;
//!
//! let scim = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
//!     .authenticator(Arc::new(BearerTokens::new().with_token("s3cr3t", "acme")))
//!     .build();
//! # #[cfg(any())] {
//! // Next to the application's own routes; the path reaches the service unchanged, so
//! // `/scim/v2/Users` is the SCIM 2.0 `/Users` endpoint:
//! let app = axum::Router::new()
//!     .route("/health", axum::routing::get(|| async { "ok" }))
//!     .route_service("/scim/{*path}", scim.into_service());
//! // Or SCIM is the whole server:
//! let app = axum::Router::new().fallback_service(scim.into_service());
//! # }
//! # let _ = scim;
//! ```
//!
//! Use `route_service` (or `fallback_service`) rather than `nest_service("/scim", ...)`: axum's
//! nesting strips `/scim` from the path the service sees, so the request would miss the base
//! path (`/scim/v2` unless [`ServiceBuilder::base_path_v2`](crate::ServiceBuilder::base_path_v2)
//! says otherwise) and `Location` URLs would lack it.
//!
//! ## Any tower stack, or no server at all
//!
//! ```
//! use std::sync::Arc;
//! use scim_core::provision::InMemoryProvisioner;
//! use scim_core::{BearerTokens, ScimService};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//!
//! let service = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
//!     .authenticator(Arc::new(BearerTokens::new().with_token("s3cr3t", "acme")))
//!     .max_payload_size(1024)
//!     .build()
//!     .into_service();
//!
//! // `String` is an `http_body::Body`; so are hyper's `Incoming` and axum's `Body`.
//! let request = http::Request::post("/scim/v2/Users")
//!     .header("Authorization", "Bearer s3cr3t")
//!     .header("Content-Type", "application/scim+json")
//!     .header("X-Request-Id", "abc-123")
//!     .body(r#"{"userName": "bjensen"}"#.to_owned())
//!     .unwrap();
//! let response = block_on(service.serve(request));
//! assert_eq!(response.status(), http::StatusCode::CREATED);
//! assert_eq!(response.headers()["X-Request-Id"], "abc-123");
//!
//! let too_big = http::Request::post("/scim/v2/Users")
//!     .header("Authorization", "Bearer s3cr3t")
//!     .body("x".repeat(2000))
//!     .unwrap();
//! assert_eq!(block_on(service.serve(too_big)).status(), http::StatusCode::PAYLOAD_TOO_LARGE);
//! ```

use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes};
use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tracing::Instrument as _;

use crate::error::{ScimError, ScimType};
use crate::etag::decimal;
use crate::service::{ScimService, X_REQUEST_ID, valid_request_id};

/// A [`ScimService`] as a `tower` service; from [`ScimService::into_service`].
///
/// Cheap to clone; always ready; never fails (`Error = Infallible`): every problem, including
/// an unreadable or oversized body, is a SCIM error response.
#[derive(Clone, Debug)]
pub struct TowerService {
    scim: ScimService,
}

impl ScimService {
    /// This service as a [`tower_service::Service`] over `http::Request<B>` for any
    /// [`http_body::Body`]; see [the module](crate::tower).
    pub fn into_service(self) -> TowerService {
        TowerService { scim: self }
    }
}

impl From<ScimService> for TowerService {
    fn from(scim: ScimService) -> Self {
        scim.into_service()
    }
}

impl TowerService {
    /// The SCIM service inside.
    pub fn scim(&self) -> &ScimService {
        &self.scim
    }

    /// Serves one request, as [`Service::call`](tower_service::Service::call) does, without
    /// needing the `tower` traits in scope: for a handler that adds to the response.
    pub async fn serve<B>(&self, request: Request<B>) -> Response<ScimBody>
    where
        B: Body,
        B::Error: Display,
    {
        // Timed only for the log events, when they are enabled at all.
        let started = tracing::enabled!(tracing::Level::WARN).then(Instant::now);
        let (parts, body) = request.into_parts();
        // The id as the response will show it, settled once: the provisioner's
        // `RequestContext` carries the same. A valid header is echoed as sent (a `HeaderValue`
        // clone shares its bytes).
        let sent = parts.headers.get(X_REQUEST_ID);
        let id_value = match sent.and_then(valid_request_id) {
            Some(id) if sent.is_some_and(|v| v.len() == id.len()) => sent.cloned(),
            // A trimmed copy.
            Some(id) => HeaderValue::from_str(id).ok(),
            None => None,
        }
        .unwrap_or_else(new_request_id);
        let id = id_value.to_str().unwrap_or_default();
        let span = tracing::info_span!(
            "scim_request",
            method = %parts.method,
            path = %parts.uri.path(),
            request_id = id
        );
        let scim = &self.scim;
        let mut response = async {
            let response = match read_body(body, scim.max_payload_size(), &parts.headers).await {
                Ok(bytes) => scim.respond(&parts, &bytes, Some(id)).await,
                Err(err) => scim.error_response(parts.uri.path(), &err),
            };
            if let Some(started) = started {
                let status = response.status().as_u16();
                let elapsed_us = started.elapsed().as_micros();
                if response.status().is_server_error() {
                    tracing::warn!(status, elapsed_us, "request failed");
                } else {
                    tracing::info!(status, elapsed_us, "request");
                }
            }
            response
        }
        .instrument(span)
        .await
        .map(ScimBody::from);
        response.headers_mut().insert(X_REQUEST_ID, id_value);
        response
    }
}

impl<B> tower_service::Service<Request<B>> for TowerService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Display,
{
    type Response = Response<ScimBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ScimBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.serve(request).await) })
    }
}

/// Reads `body` whole if it has at most `limit` bytes. Reading stops as soon as the body is
/// known to be larger, so an oversized body costs at most one chunk beyond the limit.
async fn read_body<B>(
    body: B,
    limit: usize,
    headers: &http::HeaderMap,
) -> Result<Vec<u8>, ScimError>
where
    B: Body,
    B::Error: Display,
{
    let too_large = || {
        ScimError::payload_too_large(format_args!(
            "the request body is larger than {limit} bytes, the most this service accepts"
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let hint = body.size_hint().lower();
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if declared.is_some_and(|n| n > limit_u64) || hint > limit_u64 {
        return Err(too_large());
    }
    let capacity = usize::try_from(hint.max(declared.unwrap_or(0))).unwrap_or(limit);
    let mut buf = Vec::with_capacity(capacity.min(limit));
    let mut body = std::pin::pin!(body);
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|e| {
            ScimError::other(
                StatusCode::BAD_REQUEST,
                Some(ScimType::InvalidSyntax),
                format_args!("the request body could not be read: {e}"),
            )
        })?;
        // Trailers carry nothing SCIM reads.
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        if data.remaining() > limit - buf.len() {
            return Err(too_large());
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            buf.extend_from_slice(chunk);
            let n = chunk.len();
            data.advance(n);
        }
    }
    Ok(buf)
}

/// A request id for a request that came without one: a random prefix per process and a
/// counter, so ids from several instances behind one load balancer do not collide.
fn new_request_id() -> HeaderValue {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, RandomState};
        // `RandomState`'s keys come from the operating system's random source.
        let random = RandomState::new().hash_one(std::process::id()) as u32;
        format!("scim-{random:08x}-")
    });
    // Put together on the stack (the formatting machinery cost as much as serving a cached
    // GET's body), then copied once into the header value.
    let mut buf = [0; 20];
    let digits = decimal(NEXT.fetch_add(1, Ordering::Relaxed), &mut buf);
    let mut id = [0u8; 34];
    let len = prefix.len() + digits.len();
    if let Some((head, tail)) = id.get_mut(..len).map(|id| id.split_at_mut(prefix.len())) {
        head.copy_from_slice(prefix.as_bytes());
        tail.copy_from_slice(digits.as_bytes());
    }
    // Hex digits, dashes and decimal digits: always a valid header value.
    HeaderValue::from_bytes(id.get(..len).unwrap_or_default())
        .unwrap_or_else(|_| HeaderValue::from_static("scim"))
}

/// The body of a [`TowerService`] response: the whole SCIM JSON document (or nothing) in one
/// frame.
#[derive(Debug, Default)]
pub struct ScimBody {
    data: Option<Bytes>,
}

impl ScimBody {
    /// The bytes not yet read from this body.
    pub fn as_bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }
}

impl From<Vec<u8>> for ScimBody {
    fn from(body: Vec<u8>) -> Self {
        ScimBody::from(Bytes::from(body))
    }
}

impl From<Bytes> for ScimBody {
    fn from(body: Bytes) -> Self {
        ScimBody {
            data: (!body.is_empty()).then_some(body),
        }
    }
}

impl Body for ScimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn made_request_ids_share_a_prefix_and_count_up() {
        let (a, b) = (new_request_id(), new_request_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let (prefix, n) = a.rsplit_once('-').unwrap();
        let (prefix_b, m) = b.rsplit_once('-').unwrap();
        assert_eq!(prefix, prefix_b);
        assert!(
            prefix.starts_with("scim-") && prefix.len() == 13,
            "{prefix}"
        );
        assert!(
            prefix[5..].bytes().all(|c| c.is_ascii_hexdigit()),
            "{prefix}"
        );
        // Other tests make ids at the same time: later, not necessarily next.
        assert!(
            m.parse::<u64>().unwrap() > n.parse::<u64>().unwrap(),
            "{a} {b}"
        );
    }
}
