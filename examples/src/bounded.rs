//! [`BoundedClient`]: at most N calls in flight to the target at once, across every identity
//! provider the bridge serves, so a burst of SCIM requests (or a bulk sync from several
//! identity providers) cannot overload Jira or run into Cloud's rate limits; requests beyond
//! the bound wait their turn.

use async_trait::async_trait;
use axum::http::{Request, Response};
use scim_core::{HttpClient, HttpError};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The default bound: `[target] concurrency` when not set.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// An [`HttpClient`] letting at most `limit` requests through to `inner` at once.
pub struct BoundedClient {
    inner: Arc<dyn HttpClient>,
    permits: Semaphore,
    limit: usize,
}

impl std::fmt::Debug for BoundedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedClient")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl BoundedClient {
    /// `inner`, at most `limit` (at least 1) requests at once.
    pub fn new(inner: Arc<dyn HttpClient>, limit: usize) -> Self {
        let limit = limit.max(1);
        BoundedClient {
            inner,
            permits: Semaphore::new(limit),
            limit,
        }
    }
}

#[async_trait]
impl HttpClient for BoundedClient {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        // The semaphore is never closed, so acquiring only fails if it were; then the request
        // goes through unbounded rather than failing.
        let _permit = self.permits.acquire().await.ok();
        self.inner.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts requests in flight and remembers the most at once.
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl HttpClient for Gauge {
        async fn send(&self, _request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(Response::new(Vec::new()))
        }
    }

    #[tokio::test]
    async fn no_more_than_the_limit_are_in_flight() {
        let gauge = Arc::new(Gauge::default());
        let bounded = Arc::new(BoundedClient::new(gauge.clone(), 3));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let b = bounded.clone();
            tasks.push(tokio::spawn(async move {
                b.send(Request::new(Vec::new())).await.is_ok()
            }));
        }
        for t in tasks {
            assert!(matches!(t.await, Ok(true)));
        }
        assert_eq!(gauge.most.load(Ordering::SeqCst), 3);
        assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    }
}
