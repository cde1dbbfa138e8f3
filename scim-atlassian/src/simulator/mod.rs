//! In-process simulators of Atlassian products' REST APIs (feature `simulator`), answering the
//! requests an [`HttpClient`](scim_core::HttpClient) would send, for tests and demos.
//!
//! They reproduce the shapes, status codes, error bodies, paging and quirks described in the
//! workspace's `ATLASSIAN.md`, count every call, and inject faults on demand.

mod cloud;
mod jira;
mod latency;

pub use cloud::CloudSimulator;
pub use jira::{Fault, JiraSimulator, SimUser};
pub use latency::Latency;

/// What both simulators keep about the requests they get: a count per `METHOD /path` and the
/// queue of faults to answer the next requests with.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    counts: std::collections::BTreeMap<String, usize>,
    faults: std::collections::VecDeque<Fault>,
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
}
