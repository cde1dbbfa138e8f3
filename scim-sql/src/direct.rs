//! Primary-key reads on a SQLite file without sqlx's connection thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement to it
//! and the rows back through channels: two thread wake-ups per statement. For a `GET` by id,
//! which SQLite answers in a few microseconds from its page cache, that hand-off was most of
//! the request's cost (profiled: about half of all CPU time in the kernel's scheduler and futex
//! paths, SQLite itself under 3%). [`DirectReaders`] keeps read-only `rusqlite` connections to
//! the same file (the same bundled SQLite library as sqlx's) and runs the one statement of a
//! `GET` on the calling thread.
//!
//! Each connection belongs to the thread that opened it. Shared through a pool, a connection
//! went to whichever worker thread asked next, and its statement, page-cache and allocator
//! memory moved between cores' caches with it: SQLite's allocations from a connection's own
//! memory became the hottest symbol of a 100k-user `GET` load. Kept by one thread, the same
//! load took 14 to 17 µs of server CPU per `GET` instead of 17 to 18.5.
//!
//! It never waits: with no connection for this thread (at most `max` exist), or SQLite busy
//! (`busy_timeout` is 0, so a reader that would have to wait for a WAL recovery returns at
//! once), or any error at all, the caller falls back to the sqlx read pool, which waits on its
//! own threads and reports errors as before. So a request thread of the async runtime blocks
//! only for the statement itself. Each statement runs in its own read transaction
//! (autocommit; the statement is reset when its rows are dropped), so it sees every write
//! committed before it started, as the sqlx readers do.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use thread_local::ThreadLocal;

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

/// Read-only connections to one SQLite file, one for each thread that reads (up to `max`),
/// used without waiting.
#[derive(Debug)]
pub(crate) struct DirectReaders {
    path: PathBuf,
    /// Each reading thread's own connection, once it has one.
    mine: ThreadLocal<RefCell<Option<Connection>>>,
    /// How many connections exist (at most `max`).
    open: AtomicUsize,
    max: usize,
    /// SQLite's `mmap_size` for each connection
    /// ([`SqlOptions::mmap_size`](crate::SqlOptions::mmap_size)).
    mmap_size: u64,
    /// The temporary views each connection reads rows through (see [`DirectReaders::new`]).
    views: String,
}

/// A user row by tenant (`?1`) and id (`?2`), through the view [`DirectReaders::new`] makes.
/// (Named columns: `*` would also copy out the tenant.)
const USER_SQL: &str = "SELECT id, version, created, last_modified, password, resource, member_of \
     FROM temp.scim_user_row WHERE tenant = ?1 AND id = ?2";
/// The same for a group row.
const GROUP_SQL: &str = "SELECT id, version, created, last_modified, resource, members \
     FROM temp.scim_group_row WHERE tenant = ?1 AND id = ?2";

impl DirectReaders {
    /// Readers of the file at `path`: one per thread that reads, opened on its first read, up
    /// to `max` threads.
    ///
    /// Each connection reads rows through temporary views of its own (a read-only connection
    /// may still write its `temp` schema): rusqlite finds a prepared statement by hashing its
    /// text, twice per use, and the full `SELECT` with its `member_of` subquery is some 400
    /// bytes, which made that lookup cost a `GET` about 4% of its instructions. SQLite flattens
    /// the view, so the statement's plan is the same (a search of the primary key).
    pub(crate) fn new(path: &Path, max: usize, mmap_size: u64) -> Self {
        let view = |name: &str, kind: RowKind| {
            format!(
                "CREATE TEMP VIEW {name} AS SELECT {}, tenant FROM main.{};",
                kind.columns(Dialect::Sqlite),
                kind.table
            )
        };
        DirectReaders {
            path: path.to_owned(),
            mine: ThreadLocal::new(),
            open: AtomicUsize::new(0),
            max: max.max(1),
            mmap_size,
            views: view("scim_user_row", USERS) + &view("scim_group_row", GROUPS),
        }
    }

    /// The user row `id` of `tenant`.
    pub(crate) fn user(&self, tenant: &str, id: &str) -> Read {
        self.row(USER_SQL, true, tenant, id)
    }

    /// The group row `id` of `tenant`; see [`DirectReaders::user`].
    pub(crate) fn group(&self, tenant: &str, id: &str) -> Read {
        self.row(GROUP_SQL, false, tenant, id)
    }

    fn row(&self, sql: &str, password: bool, tenant: &str, id: &str) -> Read {
        // Only this thread ever borrows its slot, and a read does not call back into this
        // type, so the borrow cannot fail; if it did, the pool answers.
        let Ok(mut slot) = self.mine.get_or_default().try_borrow_mut() else {
            return Read::Unavailable;
        };
        if slot.is_none() {
            *slot = self.open();
        }
        let Some(conn) = slot.as_ref() else {
            return Read::Unavailable;
        };
        match read_row(conn, sql, password, tenant, id) {
            Ok(row) => row.map_or(Read::Missing, Read::Found),
            Err(e) => {
                // A connection that failed may be broken: drop it (a later read opens another).
                tracing::debug!(target: "scim_sql::direct", error = %e, "direct read failed; using the pool");
                *slot = None;
                self.forget_one();
                Read::Unavailable
            }
        }
    }

    /// A new connection, while fewer than `max` exist.
    fn open(&self) -> Option<Connection> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()?;
        // As the sqlx readers: 8 MiB of pages, a fixed size whatever the number of users.
        let opened = open_read_only(&self.path, -8192).and_then(|conn| {
            conn.execute_batch(&mmap_pragma(self.mmap_size))?;
            conn.execute_batch(&self.views)?;
            Ok(conn)
        });
        match opened {
            Ok(conn) => Some(conn),
            Err(e) => {
                tracing::debug!(target: "scim_sql::direct", error = %e, "cannot open a direct reader");
                self.forget_one();
                None
            }
        }
    }

    /// One connection fewer exists.
    fn forget_one(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
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

/// The statement that sets a connection's `mmap_size` to `bytes` (SQLite takes at most its
/// compile-time limit: larger values are clamped, never refused).
pub(crate) fn mmap_pragma(bytes: u64) -> String {
    format!("PRAGMA mmap_size = {}", bytes.min(i64::MAX as u64))
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
            let related: Option<String> = row.get(rest + 1)?;
            Ok(RawRow {
                id: row.get(0)?,
                version: row.get(1)?,
                created: row.get(2)?,
                last_modified: row.get(3)?,
                password: if password { row.get(4)? } else { None },
                resource: text_with_room(row, rest, related.as_deref())?,
                related,
            })
        })
        .optional()
}

/// Bytes a served resource adds after its stored members, besides its `groups`/`members`:
/// `meta` with its `location` URL takes about 250.
const SERVED_META: usize = 384;

/// The stored text at `idx`, in a buffer with room for what the service writes after its
/// members (`meta`, and the `related` rows with their keys and `$ref` URLs: a group stored as
/// `["id","name"]` is served at up to three times that size, more with a long base URL, when
/// the buffer grows once): a `GET` then serves the text from this buffer, not from a copy.
fn text_with_room(
    row: &rusqlite::Row<'_>,
    idx: usize,
    related: Option<&str>,
) -> rusqlite::Result<String> {
    let text = row.get_ref(idx)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let room = SERVED_META + related.map_or(0, |r| r.len().saturating_mul(3));
    let mut owned = String::with_capacity(text.len().saturating_add(room));
    owned.push_str(text);
    Ok(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqlOptions, SqlProvisioner};
    use scim_core::provision::{Provisioner, RequestContext};
    use scim_core::{Group, Member, User};

    /// A store on a fresh file holding one user in one group; the file, the user's and the
    /// group's ids.
    async fn seeded(name: &str) -> (PathBuf, String, String) {
        let dir = std::env::temp_dir().join(format!(
            "scim-sql-direct-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("direct.db");
        let _ = std::fs::remove_file(&path);
        let store = SqlProvisioner::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connect");
        let ctx = RequestContext::new("acme");
        let user = store
            .create_user(&ctx, User::new("bjensen"))
            .await
            .expect("create user");
        let user_id = user.id.expect("an id");
        let mut group = Group::new("Tour Guides");
        group.members = vec![Member::new(user_id.clone())];
        let group = store.create_group(&ctx, group).await.expect("create group");
        (path, user_id, group.id.expect("an id"))
    }

    /// Rows come through each connection's views, by tenant and id, with the related rows'
    /// aggregates; another tenant's id is missing, not found.
    #[tokio::test]
    async fn rows_are_read_through_the_views_by_tenant_and_id() {
        let (path, user_id, group_id) = seeded("views").await;
        let readers = DirectReaders::new(&path, 2, SqlOptions::DEFAULT_MMAP_SIZE);
        let Read::Found(user) = readers.user("acme", &user_id) else {
            panic!("the user is read directly");
        };
        assert_eq!(user.id, user_id);
        assert!(user.resource.contains("bjensen"), "{}", user.resource);
        let member_of = user.related.expect("member_of");
        assert!(
            member_of.contains(&group_id) && member_of.contains("Tour Guides"),
            "{member_of}"
        );
        let Read::Found(group) = readers.group("acme", &group_id) else {
            panic!("the group is read directly");
        };
        assert_eq!(group.id, group_id);
        assert!(group.related.expect("members").contains(&user_id));
        assert!(matches!(readers.user("acme", "no-such-id"), Read::Missing));
        assert!(matches!(readers.user("other", &user_id), Read::Missing));
        assert!(matches!(readers.group("acme", &user_id), Read::Missing));
        // Both reads above reused the one connection opened first.
        assert_eq!(readers.open.load(Ordering::Acquire), 1);
    }

    /// A user's groups are found through the memberships index by member (with the group in
    /// it, schema 6), not by a scan of the tenant's memberships; a group's members through the
    /// primary key.
    #[tokio::test]
    async fn memberships_are_searched_by_member_and_by_group() {
        let (path, user_id, group_id) = seeded("plans").await;
        let readers = DirectReaders::new(&path, 1, SqlOptions::DEFAULT_MMAP_SIZE);
        let conn = open_read_only(&path, -1024).expect("open");
        conn.execute_batch(&readers.views).expect("views");
        let plan = |sql: &str, id: &str| -> Vec<String> {
            let mut statement = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            statement
                .query_map(("acme", id), |row| row.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan rows")
        };
        let user = plan(USER_SQL, &user_id);
        assert!(
            user.iter().any(|step| step.contains(
                "SEARCH m USING COVERING INDEX scim_memberships_member (tenant=? AND member_id=?)"
            )),
            "{user:#?}"
        );
        let group = plan(GROUP_SQL, &group_id);
        assert!(
            group.iter().any(|step| step
                .contains("sqlite_autoindex_scim_memberships_1 (tenant=? AND group_id=?)")),
            "{group:#?}"
        );
    }

    /// A file that is not a store (no tables to make the views of): every read is left to the
    /// pool, and no connection stays counted.
    #[tokio::test]
    async fn a_file_without_the_tables_leaves_reads_to_the_pool() {
        let (path, user_id, _) = seeded("no-tables").await;
        let other = path.with_file_name("empty.db");
        let _ = std::fs::remove_file(&other);
        Connection::open(&other)
            .and_then(|c| c.execute_batch("CREATE TABLE unrelated (x)"))
            .expect("an unrelated database");
        let readers = DirectReaders::new(&other, 2, 0);
        assert!(matches!(readers.user("acme", &user_id), Read::Unavailable));
        assert_eq!(readers.open.load(Ordering::Acquire), 0);
    }

    /// Each connection maps what it is told to (SQLite's `mmap_size`), off included.
    #[tokio::test]
    async fn connections_map_the_configured_size() {
        let (path, user_id, _) = seeded("mmap").await;
        for bytes in [0_u64, 1 << 20] {
            let readers = DirectReaders::new(&path, 1, bytes);
            assert!(matches!(readers.user("acme", &user_id), Read::Found(_)));
            let slot = readers.mine.get().expect("this thread's slot").borrow();
            let mapped: i64 = slot
                .as_ref()
                .expect("this thread's connection")
                .query_row("PRAGMA mmap_size", [], |row| row.get(0))
                .expect("mmap_size");
            assert_eq!(u64::try_from(mapped).ok(), Some(bytes));
        }
    }

    /// A connection stays with the thread that opened it: at `max`, another thread's read is
    /// left to the pool while the first thread goes on reading through its own.
    #[tokio::test]
    async fn each_thread_keeps_its_connection_up_to_max() {
        let (path, user_id, _) = seeded("per-thread").await;
        let readers = std::sync::Arc::new(DirectReaders::new(&path, 1, 0));
        assert!(matches!(readers.user("acme", &user_id), Read::Found(_)));
        let other = {
            let readers = std::sync::Arc::clone(&readers);
            let user_id = user_id.clone();
            std::thread::spawn(move || matches!(readers.user("acme", &user_id), Read::Unavailable))
        };
        assert!(
            other.join().expect("the other thread"),
            "no second connection past max"
        );
        assert!(matches!(readers.user("acme", &user_id), Read::Found(_)));
        assert_eq!(readers.open.load(Ordering::Acquire), 1);
        // With room for two, the other thread opens its own.
        let readers = std::sync::Arc::new(DirectReaders::new(&path, 2, 0));
        assert!(matches!(readers.user("acme", &user_id), Read::Found(_)));
        let other = {
            let readers = std::sync::Arc::clone(&readers);
            std::thread::spawn(move || matches!(readers.user("acme", &user_id), Read::Found(_)))
        };
        assert!(other.join().expect("the other thread"));
        assert_eq!(readers.open.load(Ordering::Acquire), 2);
    }
}
