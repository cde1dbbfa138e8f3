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
use std::fmt::{Display, Write as _};
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
use crate::service::{ScimService, X_REQUEST_ID, request_id};

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
        let started = Instant::now();
        let (mut parts, body) = request.into_parts();
        // The id's header value, made once and shared (a `HeaderValue` clone shares its bytes)
        // between the request (so the provisioner's `RequestContext` carries the id the
        // response shows) and the response.
        let (id, id_value) = if let Some(id) = request_id(&parts.headers) {
            // The header as sent, unless the id is a trimmed copy of it.
            let value = match parts.headers.get(X_REQUEST_ID) {
                Some(v) if v.as_bytes() == id.as_bytes() => Some(v.clone()),
                _ => HeaderValue::from_str(&id).ok(),
            };
            (id, value)
        } else {
            let id = new_request_id();
            let value = HeaderValue::from_str(&id).ok();
            if let Some(v) = &value {
                parts.headers.insert(X_REQUEST_ID, v.clone());
            }
            (id, value)
        };
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let span = tracing::info_span!("scim_request", %method, %path, request_id = %id);
        let scim = &self.scim;
        let mut response = async move {
            let response = match read_body(body, scim.max_payload_size(), &parts.headers).await {
                Ok(bytes) => scim.handle(Request::from_parts(parts, bytes)).await,
                Err(err) => scim.error_response(&path, &err),
            };
            let status = response.status().as_u16();
            let elapsed_us = started.elapsed().as_micros();
            if response.status().is_server_error() {
                tracing::warn!(status, elapsed_us, "request failed");
            } else {
                tracing::info!(status, elapsed_us, "request");
            }
            response
        }
        .instrument(span)
        .await
        .map(ScimBody::from);
        if let Some(v) = id_value {
            response.headers_mut().insert(X_REQUEST_ID, v);
        }
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
fn new_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, RandomState};
        // `RandomState`'s keys come from the operating system's random source.
        RandomState::new().hash_one(std::process::id()) as u32
    });
    // Sized once: `format!` grows its string from empty, a few times per request.
    let mut id = String::with_capacity(32);
    let _ = write!(
        id,
        "scim-{prefix:08x}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    id
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
        ScimBody {
            data: (!body.is_empty()).then(|| Bytes::from(body)),
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
