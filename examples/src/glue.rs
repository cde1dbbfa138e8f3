//! What the example servers share around axum and tokio: serving a [`ScimService`] with request
//! logs, logging set-up, graceful shutdown, and reading query parameters.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};
use scim_core::{ScimError, ScimService};
use tracing::{info, warn};

/// The largest request body the example servers accept: 1 MiB.
pub const MAX_PAYLOAD: usize = 1024 * 1024;

/// Logs to standard error at the level `RUST_LOG` sets (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// Serves one request with `scim` (routing, authentication and errors are its job) and logs
/// it: method, path (never the query, which can carry personal data in filters), status,
/// time taken and `X-Request-Id`. Bodies beyond the service's limit are refused with 413
/// without reading them whole.
pub async fn serve_scim(scim: &ScimService, request: Request) -> Response<Body> {
    let started = Instant::now();
    let limit = scim.max_payload_size();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // One byte over the limit is enough to know the body is too large.
    let response = match axum::body::to_bytes(body, limit.saturating_add(1)).await {
        Ok(bytes) => scim
            .handle(axum::http::Request::from_parts(parts, bytes))
            .await
            .map(Body::from),
        Err(_) => too_large(limit),
    };
    let status = response.status();
    let elapsed_us = started.elapsed().as_micros();
    if status.is_server_error() {
        warn!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request failed");
    } else {
        info!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request");
    }
    response
}

fn too_large(limit: usize) -> Response<Body> {
    let err = ScimError::payload_too_large(format_args!(
        "the request body is larger than {limit} bytes"
    ));
    let body = serde_json::to_vec(&err.to_body()).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    response
}

/// Completes on Ctrl-C or SIGTERM, so `axum::serve` finishes the requests in flight and stops.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutdown requested; finishing requests in flight");
}

/// The first value of `name` in a query string (`a=1&b=2`), form-decoded (`+` is a space,
/// `%XX` a byte); `None` when absent or not UTF-8 once decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(key)? == name).then(|| form_decode(value))?
    })
}

fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|c| char::from(c).to_digit(16))?;
                let lo = bytes.next().and_then(|c| char::from(c).to_digit(16))?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

/// scim-atlassian's retry and latency waits on tokio's timer: the library itself brings no
/// runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl scim_atlassian::Sleeper for TokioSleeper {
    async fn sleep(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_form_decoded() {
        let q = Some("tenant=okta&limit=5&since=2026-01-01T00%3A00%3A00%2B01%3A00&x=a+b");
        assert_eq!(query_param(q, "tenant").as_deref(), Some("okta"));
        assert_eq!(query_param(q, "limit").as_deref(), Some("5"));
        assert_eq!(
            query_param(q, "since").as_deref(),
            Some("2026-01-01T00:00:00+01:00")
        );
        assert_eq!(query_param(q, "x").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param(None, "tenant"), None);
        assert_eq!(query_param(Some("tenant=%zz"), "tenant"), None);
        assert_eq!(query_param(Some("tenant"), "tenant").as_deref(), Some(""));
    }
}
