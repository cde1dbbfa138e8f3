//! [`JsonLinesHistory`]: an append-only JSON-lines file.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{HistoryEntry, HistoryError, HistoryQuery, SyncHistory};

/// Sync history in a file, one JSON object a line, only ever appended to, so it survives
/// restarts and can be read (or shipped) with ordinary tools.
///
/// - Writes go through the standard library's blocking file I/O (the library owns no async
///   runtime): each `record` blocks its task for one small `write` call (no `fsync`). A
///   process crash loses nothing recorded; a machine crash can lose what the operating system
///   had not yet written out.
/// - Reopened after a crash that cut the last line short, the torn line is set apart with a
///   newline so the next entry stays readable, and listing skips it (and any other line that
///   is not an entry) instead of failing.
/// - `list` reads the file from the start each time, keeping only the newest `offset +
///   limit` matches in memory: fine for an administrator's occasional look (and a search by
///   user reaches every entry of the file), not for a dashboard refreshing every second on a
///   file of millions of lines. `list` opens the file by its path each
///   time, while `record` appends through the handle opened by [`open`](Self::open): after
///   rotating the file externally, open it again (restart the application).
#[derive(Debug)]
pub struct JsonLinesHistory {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonLinesHistory {
    /// Opens (creating if needed) the history file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, HistoryError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| HistoryError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        // A crash mid-write leaves a line without its newline; the next entry would be glued
        // to it and lost with it.
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            file.seek(SeekFrom::End(-1)).map_err(io)?;
            let mut last = [0u8; 1];
            file.read_exact(&mut last).map_err(io)?;
            if last != *b"\n" {
                file.write_all(b"\n").map_err(io)?;
            }
        }
        Ok(JsonLinesHistory {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: std::io::Error) -> HistoryError {
        HistoryError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }
}

#[async_trait]
impl SyncHistory for JsonLinesHistory {
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let mut line = serde_json::to_vec(&entry).map_err(HistoryError::Encode)?;
        line.push(b'\n');
        // One write of the whole line, under the lock: concurrent records never interleave.
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&line).map_err(|e| self.io_error(e))
    }

    async fn list(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, HistoryError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let file = File::open(&self.path).map_err(|e| self.io_error(e))?;
        // The newest `offset + limit` matches: this page and the ones before it.
        let keep = query.offset.saturating_add(query.limit);
        let mut newest: VecDeque<HistoryEntry> = VecDeque::new();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.io_error(e))?;
            if n == 0 {
                break;
            }
            // A torn or foreign line is not an entry: skip it rather than hide the others.
            let Ok(entry) = serde_json::from_slice::<HistoryEntry>(&line) else {
                continue;
            };
            if query.matches(&entry) {
                if newest.len() == keep {
                    newest.pop_front();
                }
                newest.push_back(entry);
            }
        }
        // The newest `offset` of those kept are the pages before this one.
        Ok(newest
            .into_iter()
            .rev()
            .skip(query.offset)
            .take(query.limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Operation, Outcome};
    use scim_core::provision::conformance::block_on;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "scim-atlassian-history-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        path
    }

    fn entry(tenant: &str, n: usize) -> HistoryEntry {
        HistoryEntry::new(
            tenant,
            format!("req-{n}"),
            Operation::new("POST", "User").name(format!("user{n}")),
        )
        .with_changes(format!("created user user{n}"))
    }

    #[test]
    fn entries_survive_a_restart() {
        let path = temp_path("restart");
        {
            let h = JsonLinesHistory::open(&path).unwrap();
            block_on(h.record(entry("okta", 1))).unwrap();
            block_on(h.record(entry("entra", 2))).unwrap();
        }
        let h = JsonLinesHistory::open(&path).unwrap();
        block_on(h.record(entry("okta", 3).with_outcome(Outcome::Failure {
            status: 502,
            scim_type: None,
            detail: "Jira answered 500".to_owned(),
        })))
        .unwrap();
        let all = block_on(h.list(&HistoryQuery::new())).unwrap();
        let ids: Vec<&str> = all.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["req-3", "req-2", "req-1"]);
        assert!(!all[0].outcome.is_success());
        let okta = block_on(h.list(&HistoryQuery::new().tenant("okta").limit(1))).unwrap();
        assert_eq!(okta.len(), 1);
        assert_eq!(okta[0].request_id, "req-3");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_entry_kept() {
        let path = temp_path("torn");
        {
            let h = JsonLinesHistory::open(&path).unwrap();
            block_on(h.record(entry("okta", 1))).unwrap();
        }
        // A crash in the middle of writing the second entry.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"time":"2026-01-01T00:00:00.000Z","tenant":"ok"#)
            .unwrap();
        drop(f);
        let h = JsonLinesHistory::open(&path).unwrap();
        block_on(h.record(entry("okta", 3))).unwrap();
        let all = block_on(h.list(&HistoryQuery::new())).unwrap();
        let ids: Vec<&str> = all.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["req-3", "req-1"]);
    }

    #[test]
    fn finds_entries_older_than_the_newest_5000_by_user() {
        let h = JsonLinesHistory::open(temp_path("search")).unwrap();
        block_on(crate::history::tests::finds_old_entries_by_user(&h));
    }

    #[test]
    fn unreadable_paths_are_reported_with_the_path() {
        let path = temp_path("dir");
        let dir = path.parent().unwrap().join("not-a-file");
        std::fs::create_dir_all(&dir).unwrap();
        let err = JsonLinesHistory::open(&dir).unwrap_err();
        assert!(err.to_string().contains("not-a-file"), "{err}");
    }
}
