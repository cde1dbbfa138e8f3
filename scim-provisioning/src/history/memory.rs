//! [`InMemoryHistory`]: the newest entries in a bounded ring.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{HistoryEntry, HistoryError, HistoryQuery, SyncHistory};

/// The newest `capacity` entries, in memory: the oldest are dropped as new ones come, and all
/// are lost on restart (use [`JsonLinesHistory`](super::JsonLinesHistory) to keep them).
#[derive(Debug)]
pub struct InMemoryHistory {
    capacity: usize,
    entries: Mutex<VecDeque<HistoryEntry>>,
}

/// [`InMemoryHistory::new`]'s capacity.
pub const DEFAULT_CAPACITY: usize = 10_000;

impl Default for InMemoryHistory {
    fn default() -> Self {
        InMemoryHistory::new()
    }
}

impl InMemoryHistory {
    /// A ring of [`DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        InMemoryHistory::with_capacity(DEFAULT_CAPACITY)
    }

    /// A ring keeping the newest `capacity` entries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        InMemoryHistory {
            capacity,
            // Grown as entries come: a large capacity costs nothing until used.
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// How many entries it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<HistoryEntry>> {
        // An entry is pushed or popped whole: a panic elsewhere leaves the ring consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SyncHistory for InMemoryHistory {
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let mut entries = self.lock();
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
        Ok(())
    }

    async fn list(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, HistoryError> {
        Ok(self
            .lock()
            .iter()
            .rev()
            .filter(|e| query.matches(e))
            .skip(query.offset)
            .take(query.limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Operation;
    use scim_core::provision::conformance::block_on;

    fn entry(tenant: &str, n: usize) -> HistoryEntry {
        HistoryEntry::new(tenant, format!("req-{n}"), Operation::new("POST", "User"))
    }

    #[test]
    fn keeps_the_newest_entries_up_to_its_capacity() {
        let h = InMemoryHistory::with_capacity(3);
        for n in 0..5 {
            block_on(h.record(entry(if n % 2 == 0 { "okta" } else { "entra" }, n))).unwrap();
        }
        assert_eq!(h.len(), 3);
        let all = block_on(h.list(&HistoryQuery::new())).unwrap();
        let ids: Vec<&str> = all.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["req-4", "req-3", "req-2"], "newest first");
        let okta = block_on(h.list(&HistoryQuery::new().tenant("okta").limit(1))).unwrap();
        assert_eq!(okta.len(), 1);
        assert_eq!(okta[0].request_id, "req-4");
        assert_eq!(InMemoryHistory::with_capacity(0).capacity(), 1);
    }

    #[test]
    fn finds_entries_older_than_the_newest_5000_by_user() {
        block_on(crate::history::tests::finds_old_entries_by_user(
            &InMemoryHistory::new(),
        ));
    }
}
