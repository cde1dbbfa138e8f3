//! WAL checkpoints on a thread of their own, off the writer's path.
//!
//! In WAL mode SQLite appends each commit to the `-wal` file and, by default, the connection
//! whose commit takes the log past 1,000 pages copies the log back into the database file
//! there and then: a checkpoint, with an `fsync` of each file. On the one writer connection that
//! stalls every write queued behind it (profiled under a POST load: checkpoints and their
//! `fsync` were about a tenth of the CPU, and the p99 of a create several times its median).
//! [`Checkpointer`] runs passive checkpoints from its own connection every
//! [`CHECKPOINT_EVERY`] instead: a passive checkpoint copies what it can without waiting for
//! readers or the writer, and the writer goes on appending meanwhile.
//!
//! Under a steady stream of writes, though, a passive checkpoint from another connection never
//! catches up with the last commit, and SQLite starts the log over from its beginning only when
//! a write begins with every frame copied. So the writer keeps SQLite's own checkpoint, at
//! [`WRITER_BACKSTOP_PAGES`]: by then the thread has copied all but the last frames, so the
//! writer's checkpoint is short (the tail, and the `fsync`s), and its next write starts the log
//! over. Under sustained writes the log file so grows to about 64 MiB, and no further.
//!
//! Measured (POST creates at 8 connections, 20k users, pairs of runs on the same host): with
//! the writer's checkpoint at SQLite's 1,000 pages, 1,119 to 1,326 creates a second; with the
//! thread and the writer's at 16,384 pages, 1,537 to 1,560 (and 1,204 to 1,277 in a slower
//! hour); at 4,096 pages, 1,181 to 1,219 in that hour, with twice the p99; with the thread
//! forcing a restart itself at 2,048 pages, 1,278 to 1,346, its waits for the write lock and
//! for readers stalling the writer.
//!
//! The thread also keeps readers from paying for their locks while nothing is written. Each
//! statement of a reader runs in a read transaction of its own, and taking and dropping that
//! transaction's lock on the `-shm` file is two `fcntl` system calls, which profiled as about
//! half of a primary-key read's cost (8.2 µs a read, 4.5 µs without them, on the 100k-user file).
//! SQLite skips those calls when another connection of the same process holds the same lock.
//! So when a tick finds that nothing was committed since the one before, the thread holds a
//! read transaction open on a connection of its own ([`Pin`]) until the next tick: readers of
//! the same snapshot share its lock. A held read transaction would stop checkpoints from copying
//! what is committed after it, and the log from starting over, so the thread lets go at every
//! tick before it checkpoints, and takes it again only after a tick without writes. Readers
//! always see every committed write, pinned or not: each still starts its own transaction at
//! the latest commit; only the lock is shared.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the thread checkpoints. At a thousand creates a second, about a hundred
/// creates' pages: each checkpoint is a short copy.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// `wal_autocheckpoint` of the writer connection: the log size (in pages, 64 MiB) at which the
/// writer checkpoints the tail the thread has not copied, and so starts the log over.
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 16_384;

/// The checkpointing thread of one SQLite file. Dropping it stops the thread (at its next
/// tick; nothing waits for it).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    /// Closed on drop, which the thread sees as its signal to end.
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the file at `path` every `every`.
    pub(crate) fn start(path: &Path, every: Duration) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let path: PathBuf = path.to_owned();
        std::thread::Builder::new()
            .name("scim-sql-checkpoint".to_owned())
            .spawn(move || run(&path, every, &stopped))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(path: &Path, every: Duration, stopped: &mpsc::Receiver<()>) {
    let mut conn: Option<Connection> = None;
    let mut pin = Pin::default();
    // The database's version at the last tick, to tell whether anything was committed since.
    let mut last_version = None;
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // Before checkpointing: a held read transaction would keep it from copying the commits
        // that came after it.
        pin.release();
        if conn.is_none() {
            conn = open(path)
                .map_err(|e| {
                    tracing::debug!(target: "scim_sql::checkpoint", error = %e, "cannot open the checkpoint connection");
                })
                .ok();
        }
        let Some(c) = &conn else { continue };
        let version = c
            .query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
            .ok();
        let quiet = version.is_some() && version == last_version;
        last_version = version;
        // (busy, frames in the log, frames copied): busy only means another checkpoint ran.
        let result = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match result {
            Ok((log, copied)) => {
                tracing::trace!(target: "scim_sql::checkpoint", log, copied, "checkpointed");
                if quiet {
                    pin.hold(path);
                }
            }
            Err(e) => {
                // Try again with a fresh connection at the next tick; the writer's backstop
                // keeps the log bounded meanwhile.
                tracing::debug!(target: "scim_sql::checkpoint", error = %e, "checkpoint failed");
                conn = None;
            }
        }
    }
}

/// A read transaction held open between two ticks while nothing is written (see the module
/// docs), on a read-only connection of its own.
#[derive(Default)]
struct Pin {
    conn: Option<Connection>,
    held: bool,
}

impl Pin {
    /// Opens a read transaction at the latest commit, unless one is open. Failing is harmless
    /// (readers take their locks themselves), so errors only drop the connection.
    fn hold(&mut self, path: &Path) {
        if self.held {
            return;
        }
        if self.conn.is_none() {
            // It reads one page: a minimal page cache.
            self.conn = crate::direct::open_read_only(path, 16).ok();
        }
        let Some(conn) = &self.conn else { return };
        // `BEGIN` is deferred: the transaction, and its lock, start with the first read.
        let read = conn.execute_batch("BEGIN").and_then(|()| {
            conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |row| {
                row.get::<_, i64>(0)
            })
        });
        match read {
            Ok(_) => self.held = true,
            Err(e) => {
                tracing::debug!(target: "scim_sql::checkpoint", error = %e, "cannot hold a read transaction");
                self.conn = None;
            }
        }
    }

    /// Ends the read transaction, if one is open.
    fn release(&mut self) {
        if !std::mem::replace(&mut self.held, false) {
            return;
        }
        if let Some(conn) = &self.conn {
            if conn.execute_batch("COMMIT").is_err() {
                // A connection that cannot end its transaction would keep the lock: close it.
                self.conn = None;
            }
        }
    }
}

/// A connection that checkpoints: read-write (a checkpoint writes the database file), never
/// waiting for a lock, syncing as the writer does.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Its own page cache is never used for reading: keep it minimal.
    conn.pragma_update(None, "cache_size", 16)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "scim-sql-checkpoint-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// While nothing is written the thread holds a read transaction open ([`Pin`]). A write
    /// that follows is seen at once by readers, and within a tick the thread lets go, so that
    /// a full checkpoint (which a held transaction would block) gets through and the log
    /// starts over.
    #[test]
    fn after_a_quiet_spell_writes_are_seen_at_once_and_the_log_still_starts_over() {
        let dir = temp_dir("quiet");
        let path = dir.join("wal.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(4000))",
            )
            .expect("set up");
        // Never waits: a checkpoint the pin blocks answers "busy" rather than waiting for it.
        writer.busy_timeout(Duration::ZERO).expect("busy timeout");
        let checkpointer = Checkpointer::start(&path, Duration::from_millis(10)).expect("start");
        // Ticks copy the row, then find nothing new and hold their read transaction.
        std::thread::sleep(Duration::from_millis(150));
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open a reader");
        let count = || -> i64 {
            reader
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(count(), 1);
        for _ in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .expect("insert");
            assert_eq!(count(), {
                let n: i64 = writer
                    .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .expect("count");
                n
            });
        }
        assert_eq!(count(), 51, "every commit is seen");
        let wal = dir.join("wal.db-wal");
        let mut truncated = false;
        for _ in 0..200 {
            let busy: i64 = writer
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .expect("checkpoint");
            if busy == 0 && std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0) {
                truncated = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            truncated,
            "a full checkpoint got through and emptied the log"
        );
        assert_eq!(count(), 51);
        drop(checkpointer);
        drop(reader);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_thread_copies_the_log_into_the_database_without_the_writer() {
        let dir = temp_dir("copies");
        let path = dir.join("wal.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x BLOB)",
            )
            .expect("set up");
        let checkpointer = Checkpointer::start(&path, Duration::from_millis(10)).expect("start");
        for _ in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .expect("insert");
        }
        // The rows reach the database file itself only through a checkpoint, and the writer
        // never checkpoints (autocheckpoint 0, and it stays open): only the thread can copy.
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        let mut waited = 0;
        while size() < 200 * 4000 && waited < 500 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            size() >= 200 * 4000,
            "the file holds the rows: {} bytes",
            size()
        );
        assert!(
            std::fs::metadata(dir.join("wal.db-wal")).is_ok_and(|m| m.len() > 0),
            "the log is still there: the copy was a checkpoint, not the writer closing"
        );
        let rows: i64 = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open")
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 200);
        drop(checkpointer);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
