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

    /// The fault queued for this request, if any.
    pub(crate) fn next_fault(&mut self) -> Option<Fault> {
        self.faults.pop_front()
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
