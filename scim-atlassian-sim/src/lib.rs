//! In-process simulators of Atlassian products' REST APIs (feature `simulator`), answering the
//! requests an [`HttpClient`](scim_core::HttpClient) would send, for tests and demos.
//!
//! They reproduce the shapes, status codes, error bodies, paging and quirks described in the
//! workspace's `ATLASSIAN.md`, count every call, and inject faults on demand.

/// The call-count methods every simulator has, over the [`CallLog`] its `lock()` guards.
/// Paths are relative to the product's REST root (Cloud: the directory), without the query
/// (`("POST", "/user")`).
macro_rules! call_count_methods {
    () => {
        /// How many requests were made with `method` to `path`, faulted ones included.
        pub fn calls(&self, method: &str, path: &str) -> usize {
            self.lock().log.count(method, path)
        }

        /// Every call count, keyed `"METHOD /path"`.
        pub fn call_counts(&self) -> std::collections::BTreeMap<String, usize> {
            self.lock().log.counts()
        }

        /// All requests made.
        pub fn total_calls(&self) -> usize {
            self.lock().log.total()
        }
    };
}

/// The call-count and fault-injection methods every Data Center simulator has (Cloud's
/// `reset_calls` forgets its request log as well).
macro_rules! call_log_methods {
    () => {
        call_count_methods!();

        /// Forgets the call counts (queued faults stay).
        pub fn reset_calls(&self) {
            self.lock().log.clear();
        }

        /// The next `n` requests, whatever they are, get `fault`.
        pub fn fail_next(&self, n: usize, fault: &Fault) {
            self.lock().log.fail_next(n, fault);
        }

        fault_methods!();
    };
}

/// Fault injection by position and by rate, which every simulator has.
macro_rules! fault_methods {
    () => {
        /// The `nth` (1-based) request from now, whatever it is, gets `fault`: "fail the 2nd
        /// call of this operation" (with [`Fault::after_applying`]: "after applying it").
        pub fn fail_nth(&self, nth: usize, fault: Fault) {
            self.lock().log.fail_nth(nth, fault);
        }

        /// From now on, each request gets one of `rates`' faults with its probability (a
        /// 20% 429 and a 10% 503: `&[(Fault::RateLimited { retry_after: 1 }, 0.2),
        /// (Fault::Unavailable, 0.1)]`), drawn from a generator seeded with `seed` so a
        /// failing run can be replayed. An empty `rates` stops it. Queued and positioned
        /// faults come first.
        pub fn set_fault_rates(&self, rates: &[(Fault, f64)], seed: u64) {
            self.lock().log.set_fault_rates(rates, seed);
        }

        /// How many faults the rates injected so far.
        pub fn random_faults(&self) -> usize {
            self.lock().log.random_faults()
        }
    };
}

mod bitbucket;
mod cloud;
mod confluence;
mod crowd;
mod jira;
mod latency;
mod wire;

pub use bitbucket::{BitbucketSimulator, SimBitbucketUser};
pub use cloud::CloudSimulator;
pub use confluence::ConfluenceSimulator;
pub use crowd::{CrowdSimUser, CrowdSimulator};
pub use jira::{Fault, JiraSimulator, SimUser};
pub use latency::Latency;

/// What every simulator keeps about the requests they get: a count per `METHOD /path` and the
/// queue of faults to answer the next requests with.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    counts: std::collections::BTreeMap<String, usize>,
    faults: std::collections::VecDeque<Fault>,
    /// Faults aimed at one call: (method, path, requests to go, fault).
    targeted: Vec<(String, String, usize, Fault)>,
    /// Requests seen by [`CallLog::next_fault`], which positions count in.
    seen: usize,
    /// Faults at a position: (the request number in `seen`, fault).
    positioned: Vec<(usize, Fault)>,
    /// Faults drawn at random, with their probability.
    rates: Vec<(Fault, f64)>,
    /// The random generator's state (splitmix64).
    rng: u64,
    /// Faults the rates injected.
    random_faults: usize,
}

impl CallLog {
    /// Counts a request.
    pub(crate) fn record(&mut self, method: &http::Method, path: &str) {
        *self.counts.entry(format!("{method} {path}")).or_default() += 1;
    }

    /// Requests made with `method` to `path`.
    pub(crate) fn count(&self, method: &str, path: &str) -> usize {
        self.counts
            .get(&format!("{method} {path}"))
            .copied()
            .unwrap_or(0)
    }

    /// Every count, keyed `"METHOD /path"`.
    pub(crate) fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.counts.clone()
    }

    /// All requests counted.
    pub(crate) fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// Requests other than `GET`.
    pub(crate) fn writes(&self) -> usize {
        self.counts
            .iter()
            .filter(|(k, _)| !k.starts_with("GET "))
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets the counts (queued faults stay).
    pub(crate) fn clear(&mut self) {
        self.counts.clear();
    }

    /// The next `n` requests get `fault`.
    pub(crate) fn fail_next(&mut self, n: usize, fault: &Fault) {
        self.faults.extend(std::iter::repeat_n(fault.clone(), n));
    }

    /// The fault for this request, if any: the queue's next, else one positioned at it,
    /// else one drawn at the configured rates.
    pub(crate) fn next_fault(&mut self) -> Option<Fault> {
        self.seen += 1;
        let seen = self.seen;
        let positioned = self
            .positioned
            .iter()
            .position(|(at, _)| *at == seen)
            .map(|i| self.positioned.swap_remove(i).1);
        self.faults
            .pop_front()
            .or(positioned)
            .or_else(|| self.random_fault())
    }

    /// The `nth` (1-based) next request gets `fault`.
    pub(crate) fn fail_nth(&mut self, nth: usize, fault: Fault) {
        self.positioned.push((self.seen + nth.max(1), fault));
    }

    /// Faults at random with the given probabilities, from a generator seeded with `seed`.
    pub(crate) fn set_fault_rates(&mut self, rates: &[(Fault, f64)], seed: u64) {
        self.rates = rates.to_vec();
        self.rng = seed;
    }

    /// How many faults the rates injected.
    pub(crate) fn random_faults(&self) -> usize {
        self.random_faults
    }

    fn random_fault(&mut self) -> Option<Fault> {
        if self.rates.is_empty() {
            return None;
        }
        // splitmix64: simulators need a replayable spread, not unpredictability.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let mut draw = (z >> 11) as f64 / (1u64 << 53) as f64;
        for (fault, rate) in &self.rates {
            if draw < *rate {
                self.random_faults += 1;
                return Some(fault.clone());
            }
            draw -= rate;
        }
        None
    }

    /// The `nth` (1-based) next request with `method` to `path` gets `fault`: a failure in
    /// the middle of a multi-call operation.
    pub(crate) fn fail_call(&mut self, method: &str, path: &str, nth: usize, fault: Fault) {
        self.targeted
            .push((method.to_owned(), path.to_owned(), nth.max(1), fault));
    }

    /// The fault for this request: one aimed at it first, else the queue's next.
    pub(crate) fn fault_for(&mut self, method: &http::Method, path: &str) -> Option<Fault> {
        let mut hit = None;
        for (m, p, remaining, fault) in &mut self.targeted {
            if hit.is_none() && m.as_str() == method.as_str() && p.as_str() == path {
                *remaining -= 1;
                if *remaining == 0 {
                    hit = Some(fault.clone());
                }
            }
        }
        self.targeted.retain(|t| t.2 > 0);
        hit.or_else(|| self.next_fault())
    }
}

/// Marks where an after-applying fault waits while the simulator serves its request.
#[derive(Clone, Default)]
struct AfterSlot(std::sync::Arc<std::sync::Mutex<Option<Fault>>>);

impl AfterSlot {
    fn put(&self, fault: Fault) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fault);
    }

    fn take(&self) -> Option<Fault> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Serves `request` with `serve`; when [`before_serving`] set an after-applying fault aside
/// for it, answers `reply(fault)` instead of what `serve` answered (its change stays made).
/// The fault travels in the request's extensions, so concurrent requests cannot swap faults.
pub(crate) async fn serve_with_faults<F>(
    mut request: http::Request<Vec<u8>>,
    serve: impl FnOnce(http::Request<Vec<u8>>) -> F,
    reply: fn(&Fault) -> Result<http::Response<Vec<u8>>, scim_core::HttpError>,
) -> Result<http::Response<Vec<u8>>, scim_core::HttpError>
where
    F: std::future::Future<Output = Result<http::Response<Vec<u8>>, scim_core::HttpError>>,
{
    let slot = AfterSlot::default();
    request.extensions_mut().insert(slot.clone());
    let served = serve(request).await;
    match slot.take() {
        Some(fault) => reply(&fault),
        None => served,
    }
}

/// The fault to answer a request with before serving it; an after-applying one is set aside
/// in the request's `extensions` (see [`serve_with_faults`]) and the request served.
pub(crate) fn before_serving(extensions: &http::Extensions, fault: Option<Fault>) -> Option<Fault> {
    match fault? {
        Fault::AfterApplying(inner) => {
            if let Some(slot) = extensions.get::<AfterSlot>() {
                slot.put(*inner);
            }
            None
        }
        fault => Some(fault),
    }
}

/// A JSON response.
pub(crate) fn respond(
    status: http::StatusCode,
    body: &serde_json::Value,
) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(serde_json::to_vec(body).unwrap_or_default());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

/// A response without a body.
pub(crate) fn empty(status: http::StatusCode) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(Vec::new());
    *r.status_mut() = status;
    r
}

/// What simulators keep of a password: a hash (they have no need of the text).
pub(crate) fn password_hash(password: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    password.hash(&mut h);
    h.finish()
}
