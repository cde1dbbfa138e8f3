//! What the example servers share around axum and tokio: logging set-up, graceful shutdown,
//! reading query parameters, and tokio's timer for scim-atlassian. Serving SCIM itself (body
//! limits, request ids, request logs) is `scim_core::tower`'s job:
//! `Router::new().fallback_service(scim.into_service())`.

use tracing::info;

/// The largest request body the example servers accept: 1 MiB (`max_payload_size`).
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
