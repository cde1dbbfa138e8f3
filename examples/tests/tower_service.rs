//! `ScimService::into_service()` inside an axum `Router` next to an application's own routes,
//! and served by hyper directly on a loopback port: whole bodies, an oversized chunked upload
//! cut off while it is still being sent, and a body that fails mid-stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body::Frame;
use http_body_util::BodyExt as _;
use scim_core::provision::InMemoryProvisioner;
use scim_core::{BearerTokens, ScimService};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt as _;

const TOKEN: &str = "axum-token";
const LIMIT: usize = 64 * 1024;
/// The chunked upload's chunk size and most bytes.
const CHUNK: usize = 16 * 1024;
const TOTAL: usize = 256 * 1024 * 1024;

fn scim() -> ScimService {
    ScimService::builder(Arc::new(InMemoryProvisioner::new()))
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "t")))
        .max_payload_size(LIMIT)
        .build()
}

/// An application with its own route and SCIM mounted beside it in one line.
fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/scim/{*path}", scim().into_service())
}

fn post(body: Body) -> Request<Body> {
    Request::post("/scim/v2/Users")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/scim+json")
        .header("Host", "app.test")
        .body(body)
        .unwrap()
}

async fn json(response: axum::response::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `chunks` chunks of 1 KiB of spaces, or an error after `fail_after` of them; counts them.
struct Chunks {
    count: usize,
    fail_after: Option<usize>,
    served: Arc<AtomicUsize>,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let n = self.served.load(Ordering::SeqCst);
        if self.fail_after == Some(n) {
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "upload interrupted",
            ))));
        }
        if n >= self.count {
            return Poll::Ready(None);
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; 1024])))))
    }
}

#[tokio::test]
async fn axum_routes_scim_beside_the_apps_own_routes() {
    let response = app()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app()
        .oneshot(post(Body::from(r#"{"userName": "bjensen"}"#)))
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("x-request-id"));
    let (status, body) = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["userName"], "bjensen");
    // The path reached the service whole, so the URL names the base path.
    assert!(
        location.starts_with("http://app.test/scim/v2/Users/"),
        "{location}"
    );

    let (status, body) = json(
        app()
            .oneshot(Request::get("/scim/v2/Users").body(Body::empty()).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn axum_cuts_an_oversized_stream_off_at_the_limit() {
    let served = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Chunks {
        count: 100 * 1024,
        fail_after: None,
        served: served.clone(),
    });
    let (status, body) = json(app().oneshot(post(body)).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["status"], "413");
    // 64 chunks fit; the 65th crosses the limit, and none of the other 100 MiB is asked for.
    assert_eq!(served.load(Ordering::SeqCst), LIMIT / 1024 + 1);
}

#[tokio::test]
async fn axum_answers_a_failing_body_with_a_scim_400() {
    let body = Body::new(Chunks {
        count: 10,
        fail_after: Some(3),
        served: Arc::new(AtomicUsize::new(0)),
    });
    let (status, body) = json(app().oneshot(post(body)).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidSyntax");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("upload interrupted"),
        "{body}"
    );
}

/// Serves the SCIM service with hyper alone (no axum) on a loopback port.
async fn hyper_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let service = hyper_util::service::TowerToHyperService::new(scim().into_service());
    tokio::spawn(async move {
        // Bounded: the tests open a handful of connections.
        for _ in 0..16 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn hyper_serves_it_directly() {
    let addr = hyper_server().await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/scim/v2/Users");
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .header("X-Request-Id", "hyper-1")
        .body(r#"{"userName": "over-hyper"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "hyper-1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["userName"], "over-hyper");

    // A declared length over the limit: refused from the headers.
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(vec![b' '; LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn hyper_answers_413_while_a_chunked_upload_is_still_being_sent() {
    let addr = hyper_server().await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    // Up to 256 MiB in 16 KiB chunks, far more than loopback's socket buffers hold: the
    // answer can only come before the end if the server stopped reading at the limit.
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        let chunk = format!("{CHUNK:x}\r\n{}\r\n", " ".repeat(CHUNK));
        while counter.load(Ordering::SeqCst) < TOTAL {
            if write.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
            counter.fetch_add(CHUNK, Ordering::SeqCst);
        }
        let _ = write.write_all(b"0\r\n\r\n").await;
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(30), async {
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed without a response");
            response.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response within 30 s");
    let at_answer = sent.load(Ordering::SeqCst);
    writer.abort();
    eprintln!("413 after {at_answer} bytes sent");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        at_answer < TOTAL / 4,
        "the answer came after {at_answer} of {TOTAL} bytes were sent"
    );
}
