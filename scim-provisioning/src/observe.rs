//! [`CallObserver`]: every call made to a product, for counting, tracing and sync history.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// One HTTP exchange with the product (each retry is its own record). It holds no header,
/// body or query string: nothing that could carry a credential or personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRecord {
    /// `METHOD /path` relative to the REST API root, e.g. `PUT /user`.
    pub call: String,
    /// The response status, `None` when no response came (timeout, connection failure).
    pub status: Option<u16>,
    /// 0 for the first attempt, 1 for the first retry, and so on.
    pub attempt: u32,
    /// How long the exchange took.
    pub elapsed: Duration,
}

impl CallRecord {
    /// A record of one completed call (for product clients outside this crate, since the
    /// struct is `#[non_exhaustive]`).
    pub fn new(
        call: impl Into<String>,
        status: Option<u16>,
        attempt: u32,
        elapsed: Duration,
    ) -> Self {
        CallRecord {
            call: call.into(),
            status,
            attempt,
            elapsed,
        }
    }
}

/// Told of every call a client makes, after it completes.
///
/// Called inline on the request's task: keep it quick (count, log, push to a channel).
pub trait CallObserver: Send + Sync {
    /// One call completed.
    fn on_call(&self, record: &CallRecord);
}

/// A [`CallObserver`] counting calls by `METHOD /path`.
#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<String, usize>>,
}

impl CallCounter {
    /// An empty counter.
    pub fn new() -> Self {
        CallCounter::default()
    }

    /// Calls counted so far, by `METHOD /path`.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.lock().clone()
    }

    /// Calls to `call` (`"POST /user"`).
    pub fn count(&self, call: &str) -> usize {
        self.lock().get(call).copied().unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> usize {
        self.lock().values().sum()
    }

    /// Calls other than `GET`.
    pub fn writes(&self) -> usize {
        self.lock()
            .iter()
            .filter(|(k, _)| !k.starts_with("GET "))
            .map(|(_, n)| n)
            .sum()
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CallObserver for CallCounter {
    fn on_call(&self, record: &CallRecord) {
        *self.lock().entry(record.call.clone()).or_default() += 1;
    }
}
