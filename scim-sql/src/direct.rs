//! Primary-key reads on a SQLite file without sqlx's connection thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement to it
//! and the rows back through channels: two thread wake-ups per statement. For a `GET` by id,
//! which SQLite answers in a few microseconds from its page cache, that hand-off was most of
//! the request's cost (profiled: about half of all CPU time in the kernel's scheduler and futex
//! paths, SQLite itself under 3%). [`DirectReaders`] keeps a few read-only `rusqlite`
//! connections to the same file (the same bundled SQLite library as sqlx's) and runs the one
//! statement of a `GET` on the calling thread.
//!
//! It never waits: with every connection in use, or SQLite busy (`busy_timeout` is 0, so a
//! reader that would have to wait for a WAL recovery returns at once), or any error at all, the
//! caller falls back to the sqlx read pool, which waits on its own threads and reports errors
//! as before. So a request thread of the async runtime blocks only for the statement itself.
//! Each statement runs in its own read transaction (autocommit; the statement is reset when its
//! rows are dropped), so it sees every write committed before it started, as the sqlx readers
//! do.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::provisioner::{GROUPS, RawRow, RowKind, USERS};
use crate::store::Dialect;

/// What a direct read found.
#[derive(Debug)]
pub(crate) enum Read {
    /// The row.
    Found(RawRow),
    /// No such row.
    Missing,
    /// This path could not answer (every connection busy, SQLite busy, an error): ask the sqlx
    /// pool instead.
    Unavailable,
}

/// The connections not in use, and how many exist (idle or in use; at most `max`).
#[derive(Debug, Default)]
struct Conns {
    idle: Vec<Connection>,
    open: usize,
}

/// A few read-only connections to one SQLite file, used without waiting.
#[derive(Debug)]
pub(crate) struct DirectReaders {
    path: PathBuf,
    conns: Mutex<Conns>,
    max: usize,
    /// `SELECT` of a user row by tenant (`?1`) and id (`?2`).
    user_sql: String,
    /// The same for a group row.
    group_sql: String,
}

impl DirectReaders {
    /// Readers of the file at `path` (opened on first use, up to `max` at once).
    pub(crate) fn new(path: &Path, max: usize) -> Self {
        let by_id = |kind: RowKind| {
            format!(
                "SELECT {} FROM {} WHERE tenant = ?1 AND id = ?2",
                kind.columns(Dialect::Sqlite),
                kind.table
            )
        };
        DirectReaders {
            path: path.to_owned(),
            conns: Mutex::default(),
            max: max.max(1),
            user_sql: by_id(USERS),
            group_sql: by_id(GROUPS),
        }
    }

    /// The user row `id` of `tenant`.
    pub(crate) fn user(&self, tenant: &str, id: &str) -> Read {
        self.row(&self.user_sql, true, tenant, id)
    }

    /// The group row `id` of `tenant`; see [`DirectReaders::user`].
    pub(crate) fn group(&self, tenant: &str, id: &str) -> Read {
        self.row(&self.group_sql, false, tenant, id)
    }

    fn row(&self, sql: &str, password: bool, tenant: &str, id: &str) -> Read {
        let Some(conn) = self.take() else {
            return Read::Unavailable;
        };
        let found = read_row(&conn, sql, password, tenant, id);
        // A connection that failed may be broken: drop it (a later read opens another).
        match found {
            Ok(row) => {
                self.give_back(conn);
                row.map_or(Read::Missing, Read::Found)
            }
            Err(e) => {
                tracing::debug!(target: "scim_sql::direct", error = %e, "direct read failed; using the pool");
                drop(conn);
                self.forget_one();
                Read::Unavailable
            }
        }
    }

    /// An idle connection, or a new one while fewer than `max` exist.
    fn take(&self) -> Option<Connection> {
        {
            let mut conns = self.conns.lock().ok()?;
            if let Some(conn) = conns.idle.pop() {
                return Some(conn);
            }
            if conns.open >= self.max {
                return None;
            }
            conns.open += 1;
        }
        // As the sqlx readers: 8 MiB of pages, a fixed size whatever the number of users.
        match open_read_only(&self.path, -8192) {
            Ok(conn) => Some(conn),
            Err(e) => {
                tracing::debug!(target: "scim_sql::direct", error = %e, "cannot open a direct reader");
                self.forget_one();
                None
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.idle.push(conn);
        }
    }

    /// One connection fewer exists.
    fn forget_one(&self) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.open = conns.open.saturating_sub(1);
        }
    }
}

/// A read-only connection that never waits for a lock, with SQLite's `cache_size` (pages if
/// positive, KiB if negative).
pub(crate) fn open_read_only(path: &Path, cache_size: i64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "cache_size", cache_size)?;
    Ok(conn)
}

fn read_row(
    conn: &Connection,
    sql: &str,
    password: bool,
    tenant: &str,
    id: &str,
) -> rusqlite::Result<Option<RawRow>> {
    let mut statement = conn.prepare_cached(sql)?;
    // By position, in the order of `RowKind::columns` (users have `password` before `resource`;
    // groups do not): looking a column up by name compares it with every column's name, which
    // cost a GET more than SQLite's own work for the row.
    statement
        .query_row((tenant, id), |row| {
            let rest = if password { 5 } else { 4 };
            Ok(RawRow {
                id: row.get(0)?,
                version: row.get(1)?,
                created: row.get(2)?,
                last_modified: row.get(3)?,
                password: if password { row.get(4)? } else { None },
                resource: row.get(rest)?,
                related: row.get(rest + 1)?,
            })
        })
        .optional()
}
