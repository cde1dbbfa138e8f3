//! [`Latency`]: a simulator made as slow as a real product over a network.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::{Request, Response};
use scim_core::{HttpClient, HttpError};

use scim_provisioning::Sleeper;

/// An [`HttpClient`] that waits `delay` before handing each request to `inner` (a simulator),
/// so benchmarks and tests see the round trips a real Jira or Cloud costs. The wait goes
/// through a [`Sleeper`]: with an async one (a tokio timer) concurrent requests wait
/// together, as they would on a network, and no thread is blocked.
pub struct Latency {
    inner: Arc<dyn HttpClient>,
    delay: Duration,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl Latency {
    /// `inner`, each request delayed by `delay` waited with `sleeper`.
    pub fn new(inner: Arc<dyn HttpClient>, delay: Duration, sleeper: Arc<dyn Sleeper>) -> Self {
        Latency {
            inner,
            delay,
            sleeper,
        }
    }
}

#[async_trait]
impl HttpClient for Latency {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        self.sleeper.sleep(self.delay).await;
        self.inner.send(request).await
    }
}
