//! `scim_core::tower`: the service as a tower user calls it (`ServiceExt::oneshot`), with
//! bodies of every kind: whole, streamed in chunks, oversized (cut off while reading), failing
//! mid-stream, and with trailers.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use scim_core::provision::InMemoryProvisioner;
use scim_core::provision::conformance::block_on;
use scim_core::tower::{ScimBody, TowerService};
use scim_core::{BearerTokens, ScimService};
use serde_json::Value;
use tower::ServiceExt as _;

const TOKEN: &str = "tower-token";
const LIMIT: usize = 4096;

fn service() -> TowerService {
    ScimService::builder(Arc::new(InMemoryProvisioner::new()))
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "t")))
        .max_payload_size(LIMIT)
        .build()
        .into_service()
}

fn post<B>(uri: &str, body: B) -> Request<B> {
    Request::post(uri)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/scim+json")
        .body(body)
        .unwrap()
}

/// Calls the service as any tower middleware would, and reads the response body.
fn call<B>(request: Request<B>) -> (StatusCode, HeaderMap, Value)
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    let response: Response<ScimBody> = block_on(service().oneshot(request)).unwrap();
    let (parts, body) = response.into_parts();
    let bytes = block_on(body.collect()).unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (parts.status, parts.headers, json)
}

/// A streamed body: `chunks` chunks (the first `head` if given, the others `filler`), then
/// optionally an error or trailers, and no size hint unless `hint` (a chunked upload has none).
/// Counts the frames handed out.
struct Stream {
    head: Option<Bytes>,
    filler: Bytes,
    chunks: usize,
    served: Arc<AtomicUsize>,
    fail_after: Option<usize>,
    trailers: bool,
    hint: Option<u64>,
}

impl Stream {
    fn new(chunks: usize, size: usize) -> Self {
        Stream {
            head: None,
            filler: Bytes::from(vec![b' '; size]),
            chunks,
            served: Arc::new(AtomicUsize::new(0)),
            fail_after: None,
            trailers: false,
            hint: None,
        }
    }
}

impl Body for Stream {
    type Data = Bytes;
    type Error = String;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, String>>> {
        let this = self.get_mut();
        let n = this.served.load(Ordering::SeqCst);
        if this.fail_after == Some(n) {
            return Poll::Ready(Some(Err("connection reset by peer".to_owned())));
        }
        if n > this.chunks {
            return Poll::Ready(None);
        }
        this.served.fetch_add(1, Ordering::SeqCst);
        if n == this.chunks {
            if this.trailers {
                let mut t = HeaderMap::new();
                t.insert("x-checksum", "abc".parse().unwrap());
                return Poll::Ready(Some(Ok(Frame::trailers(t))));
            }
            return Poll::Ready(None);
        }
        let chunk = this.head.take().unwrap_or_else(|| this.filler.clone());
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }
}

#[track_caller]
fn assert_scim_error(status: StatusCode, body: &Value, want: u16, scim_type: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], want.to_string());
    assert_eq!(body.get("scimType").and_then(Value::as_str), scim_type);
}

#[test]
fn a_whole_body_is_served_and_the_request_id_echoed() {
    let mut request = post("/scim/v2/Users", r#"{"userName": "bjensen"}"#.to_owned());
    request
        .headers_mut()
        .insert("x-request-id", "from-the-idp-42".parse().unwrap());
    let (status, headers, body) = call(request);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["userName"], "bjensen");
    assert_eq!(headers["x-request-id"], "from-the-idp-42");
    assert_eq!(
        headers["content-type"],
        "application/scim+json; charset=utf-8"
    );
}

#[test]
fn a_request_without_a_usable_id_gets_a_fresh_one() {
    let (_, first, _) = call(post("/scim/v2/Users", String::new()));
    let mut bad = post("/scim/v2/Users", String::new());
    bad.headers_mut()
        .insert("x-request-id", "x".repeat(300).parse().unwrap());
    let (_, second, _) = call(bad);
    let (a, b) = (
        first["x-request-id"].to_str().unwrap(),
        second["x-request-id"].to_str().unwrap(),
    );
    assert!(a.starts_with("scim-"), "{a}");
    assert!(b.starts_with("scim-") && b.len() < 40, "{b}");
    assert_ne!(a, b);
}

#[test]
fn a_streamed_body_within_the_limit_is_read_whole() {
    // A JSON document padded with spaces to exactly the limit, in 64-byte chunks.
    let mut head = br#"{"userName": "streamed"}"#.to_vec();
    head.resize(64, b' ');
    let mut stream = Stream::new(LIMIT / 64, 64);
    stream.head = Some(Bytes::from(head));
    let served = stream.served.clone();
    let (status, _, body) = call(post("/scim/v2/Users", stream));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["userName"], "streamed");
    // Every chunk, and the end of the stream.
    assert_eq!(served.load(Ordering::SeqCst), LIMIT / 64 + 1);
}

#[test]
fn an_oversized_stream_is_cut_off_at_the_limit_not_read_whole() {
    // 16 MiB that no header announces, in 1 KiB chunks.
    let stream = Stream::new(16_384, 1024);
    let served = stream.served.clone();
    let (status, _, body) = call(post("/scim/v2/Users", stream));
    assert_scim_error(status, &body, 413, None);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&LIMIT.to_string()),
        "{body}"
    );
    // The limit is 4 chunks; the fifth crosses it and reading stops there.
    assert_eq!(served.load(Ordering::SeqCst), LIMIT / 1024 + 1);
}

#[test]
fn a_declared_length_or_size_hint_over_the_limit_is_refused_before_reading() {
    let stream = Stream::new(8, 1024);
    let served = stream.served.clone();
    let mut request = post("/scim/v2/Users", stream);
    request
        .headers_mut()
        .insert("content-length", (8 * 1024).to_string().parse().unwrap());
    let (status, _, body) = call(request);
    assert_scim_error(status, &body, 413, None);
    assert_eq!(served.load(Ordering::SeqCst), 0);

    let mut stream = Stream::new(8, 1024);
    stream.hint = Some(8 * 1024);
    let served = stream.served.clone();
    let (status, _, body) = call(post("/scim/v2/Users", stream));
    assert_scim_error(status, &body, 413, None);
    assert_eq!(served.load(Ordering::SeqCst), 0);
}

#[test]
fn an_oversized_body_under_the_scim_1_1_base_gets_a_1_1_error() {
    let (status, _, body) = call(post("/scim/v1/Users", "x".repeat(LIMIT + 1)));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["Errors"][0]["code"], "413", "{body}");
}

#[test]
fn a_body_failing_mid_stream_is_a_400_naming_the_failure() {
    let mut stream = Stream::new(3, 100);
    stream.fail_after = Some(2);
    let (status, _, body) = call(post("/scim/v2/Users", stream));
    assert_scim_error(status, &body, 400, Some("invalidSyntax"));
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not be read") && detail.contains("connection reset by peer"),
        "{detail}"
    );
}

#[test]
fn trailers_are_ignored() {
    let mut stream = Stream::new(1, 0);
    stream.head = Some(Bytes::from_static(br#"{"userName": "trailed"}"#));
    stream.trailers = true;
    let (status, _, body) = call(post("/scim/v2/Users", stream));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["userName"], "trailed");
}

#[test]
fn the_service_is_always_ready_and_bodiless_requests_work() {
    let mut svc = service();
    let ready = block_on(std::future::poll_fn(|cx| {
        tower::Service::<Request<String>>::poll_ready(&mut svc, cx)
    }));
    assert!(ready.is_ok());
    let request = Request::get("/scim/v2/ServiceProviderConfig")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let (status, _, body) = call(request);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["patch"]["supported"], true, "{body}");
    let (status, _, body) = call(
        Request::get("/scim/v2/Users")
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap(),
    );
    assert_scim_error(status, &body, 401, None);
}

#[test]
fn the_provisioner_is_given_the_request_id_the_response_shows() {
    let seen = Arc::new(common::stub::Stub::default());
    let service = ScimService::builder(seen.clone())
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "t")))
        .build()
        .into_service();
    let get = |id: Option<&str>| {
        let mut request = Request::get("/scim/v2/Users/nobody")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .body(String::new())
            .unwrap();
        if let Some(id) = id {
            request
                .headers_mut()
                .insert("x-request-id", id.parse().unwrap());
        }
        let response = block_on(service.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    // Made by the service; sent by the client; sent with spaces around it (trimmed).
    let made = get(None);
    assert!(made.starts_with("scim-"), "{made}");
    assert_eq!(get(Some("from-the-idp-7")), "from-the-idp-7");
    assert_eq!(get(Some("  padded-id ")), "padded-id");
    let seen: Vec<String> = seen
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|ctx| ctx.request_id().to_owned())
        .collect();
    assert_eq!(seen, [made.as_str(), "from-the-idp-7", "padded-id"]);
}

/// A request's future is moved (copied) on its way to the runtime, a few times: every route but
/// a plain `GET` of one resource runs boxed inside it, so that it stays the size of that `GET`'s
/// (1.5 KB when measured; 3.3 KB with every route inline). Whatever the compiler version, it
/// stays under 2 KiB.
#[test]
fn the_future_of_a_request_stays_small() {
    let svc = service();
    let future = svc.serve(
        Request::get("/scim/v2/Users/x")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .body(String::new())
            .unwrap(),
    );
    let size = std::mem::size_of_val(&future);
    assert!(size < 2048, "the future is {size} bytes");
    let response = block_on(future);
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
