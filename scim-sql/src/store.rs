//! [`SqlProvisioner`]'s connection: URL, dialect, pool, and the SQL text builder every query goes
//! through (values are always bound parameters).

use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

use crate::error::SqlError;

/// Which database a pool talks to: the few places where their SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded, one file).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL.
    pub fn of_url(url: &str) -> Result<Dialect, SqlError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Dialect::Postgres)
        } else {
            Err(SqlError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// The `n`th (1-based) bound parameter.
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// `column` in code-point order (SQLite's BINARY collation is that already; PostgreSQL's
    /// default follows the locale).
    pub(crate) fn binary(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column} COLLATE \"C\""),
        }
    }
}

/// A value bound to a parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    /// A JSON document: on SQLite stored as binary JSONB (`jsonb(?)`), parsed once when
    /// written instead of on every filter that reads it; on PostgreSQL text.
    Json(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

/// SQL text with its arguments; [`Sql::arg`] appends a placeholder and binds the value.
#[derive(Clone, Debug)]
pub(crate) struct Sql {
    pub(crate) dialect: Dialect,
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Sql {
            dialect,
            text: String::new(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text (never a value).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds `arg` and returns its placeholder, for use inside a larger piece of text.
    pub(crate) fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        self.dialect.placeholder(self.args.len())
    }

    /// Appends the placeholder of a newly bound `arg`.
    pub(crate) fn arg(&mut self, arg: Arg) -> &mut Self {
        let jsonb = matches!(arg, Arg::Json(_)) && self.dialect == Dialect::Sqlite;
        let p = self.bind(arg);
        if jsonb {
            self.text.push_str("jsonb(");
            self.text.push_str(&p);
            self.text.push(')');
        } else {
            self.text.push_str(&p);
        }
        self
    }

    /// Appends another fragment built with the same dialect, renumbering its placeholders.
    pub(crate) fn append(&mut self, other: &Fragment) -> &mut Self {
        let mut rest = other.text.as_str();
        let mut args = other.args.iter();
        while let Some(at) = rest.find('\u{0}') {
            let (head, tail) = rest.split_at(at);
            self.text.push_str(head);
            if let Some(a) = args.next() {
                self.arg(a.clone());
            }
            rest = tail.get(1..).unwrap_or("");
        }
        self.text.push_str(rest);
        self
    }

    /// The query, with every argument bound.
    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Text(s) | Arg::Json(s) => q.bind(s.as_str()),
                Arg::OptText(s) => q.bind(s.as_deref()),
                Arg::Int(i) => q.bind(*i),
                Arg::OptInt(i) => q.bind(*i),
            };
        }
        q
    }
}

/// A piece of a WHERE clause built before its final position is known: `\0` marks each
/// placeholder, filled in order by [`Sql::append`].
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fragment {
    pub(crate) text: String,
    pub(crate) args: Vec<Arg>,
}

impl Fragment {
    pub(crate) fn raw(text: &str) -> Self {
        Fragment {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// A placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &'static str {
        self.args.push(arg);
        "\u{0}"
    }
}

/// Options for [`SqlProvisioner::connect_with`](crate::SqlProvisioner::connect_with).
#[derive(Clone, Debug)]
pub struct SqlOptions {
    pub(crate) url: String,
    pub(crate) max_connections: u32,
    pub(crate) read_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) fallback_limit: usize,
    pub(crate) push_down: bool,
    pub(crate) mmap_size: u64,
    pub(crate) schemas: std::sync::Arc<scim_core::schema::SchemaRegistry>,
}

impl SqlOptions {
    /// [`SqlOptions::mmap_size`]'s default: 256 MiB.
    pub const DEFAULT_MMAP_SIZE: u64 = 256 << 20;

    /// Options for `url`: `sqlite://PATH` (the file is created if missing), `sqlite::memory:`,
    /// or `postgres://user:password@host/db`.
    pub fn new(url: impl Into<String>) -> Self {
        SqlOptions {
            url: url.into(),
            max_connections: 8,
            read_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            fallback_limit: 1_000_000,
            push_down: true,
            mmap_size: Self::DEFAULT_MMAP_SIZE,
            schemas: std::sync::Arc::new(scim_core::schema::SchemaRegistry::builtin().clone()),
        }
    }

    /// The pool size for PostgreSQL. (SQLite writes through one connection: it has one writer,
    /// and one connection cannot deadlock upgrading a read to a write.)
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How many read-only connections a SQLite file gets besides its writer (default 4): GETs
    /// and searches run on them in parallel (WAL lets readers run beside the writer), so a
    /// read never queues behind a write or another read. A `GET` by id on a file also has
    /// read-only connections of its own, each kept by the thread that opened it and used on
    /// the request's thread (see the crate docs): as many as this, or as the machine's cores
    /// if more, so that each of an async runtime's worker threads gets one. `0` sends reads to
    /// the writer. An in-memory SQLite database (`sqlite::memory:`) always has its one
    /// connection only: a second one would open another, empty database.
    #[must_use]
    pub fn read_connections(mut self, n: u32) -> Self {
        self.read_connections = n;
        self
    }

    /// How long a request waits for a free connection.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How many resources a search evaluated in memory (a filter SQL cannot express) may read
    /// before it fails with 400 `tooMany` instead of reading the whole table.
    #[must_use]
    pub fn fallback_limit(mut self, n: usize) -> Self {
        self.fallback_limit = n;
        self
    }

    /// The schemas filters are translated with (default: the built-in User, Group and
    /// enterprise User schemas). Register your extensions here (the same registry the service
    /// validates with) and filters on their attributes run in SQL too; attributes no schema
    /// knows are evaluated in memory.
    #[must_use]
    pub fn schemas(mut self, schemas: scim_core::schema::SchemaRegistry) -> Self {
        self.schemas = std::sync::Arc::new(schemas);
        self
    }

    /// Whether filters and sorting go to SQL (the default). `false` evaluates every search in
    /// memory over all rows: for comparisons and diagnosis, not for production.
    #[must_use]
    pub fn push_down(mut self, enabled: bool) -> Self {
        self.push_down = enabled;
        self
    }

    /// How many bytes of a SQLite file its read-only connections map into memory (SQLite's
    /// `mmap_size`; default [`SqlOptions::DEFAULT_MMAP_SIZE`], `0` turns it off). The writer
    /// never maps.
    ///
    /// A mapped page is read where it lies in the operating system's page cache: no copy into
    /// each connection's own page cache, no lookup there. On a 100k-user file that took 1 to
    /// 3 µs of server CPU off each `GET` by id, about a sixth (see BENCHMARKS.md). The mapped
    /// pages are shared, file-backed memory that the kernel reclaims at will, but they count in
    /// the process's resident size (`RssFile`) while in use, once for each connection that maps
    /// them; the process's own memory (`RssAnon`) is smaller, as no page is copied into a page
    /// cache. SQLite maps at most its compile-time limit (2 GiB in the bundled build).
    ///
    /// The price of mapping: a read error of the disk under a mapped page reaches the process
    /// as a `SIGBUS` rather than as an I/O error of the query. Set `0` where that matters more
    /// than the speed.
    #[must_use]
    pub fn mmap_size(mut self, bytes: u64) -> Self {
        self.mmap_size = bytes;
        self
    }
}

/// The pools of a provisioner: `write` for every write and for reads inside a write's
/// transaction, `read` for reads on their own (the same pool except on a SQLite file).
#[derive(Clone, Debug)]
pub(crate) struct Pools {
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    /// The SQLite file, when the database is one (not in memory): its WAL checkpoints run on a
    /// thread of their own, and, with read connections, a `GET` by id reads it directly.
    pub(crate) file: Option<std::path::PathBuf>,
}

/// The URL to connect with: a SQLite file is created on first start.
fn connect_url(options: &SqlOptions, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite if !options.url.contains("mode=") && !options.url.contains(":memory:") => {
            let sep = if options.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}mode=rwc", options.url)
        }
        _ => options.url.clone(),
    }
}

/// Opens the writer pool for `options` and returns it with its dialect; [`open_readers`] adds
/// the readers once the schema is migrated.
pub(crate) async fn open(options: &SqlOptions) -> Result<(AnyPool, Dialect), SqlError> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::of_url(&options.url)?;
    let url = connect_url(options, dialect);
    let max = match dialect {
        Dialect::Sqlite => 1,
        Dialect::Postgres => options.max_connections,
    };
    let _ = sqlx::any::AnyConnectOptions::from_str(&url)?;
    let pool = pool_options(max, options)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    // WAL: readers do not block the writer; NORMAL sync: one fsync per
                    // checkpoint rather than per commit (a power cut may lose the last
                    // commits, never corrupt the file).
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    // 16 MiB of pages (default 2 MiB): the writer updates the table and its
                    // indexes at random places; at 100k users their B-trees no longer fit 2 MiB.
                    // A fixed size, so memory stays flat in the number of users.
                    sqlx::query("PRAGMA cache_size = -16384")
                        .execute(&mut *conn)
                        .await?;
                    // On a file, a thread of its own checkpoints (see `checkpoint.rs`); the
                    // writer only does when the log grows far past what that thread leaves.
                    sqlx::query(&format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        crate::checkpoint::WRITER_BACKSTOP_PAGES
                    ))
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok((pool, dialect))
}

/// What both pools share: `max` connections, kept for good.
fn pool_options(max: u32, options: &SqlOptions) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(options.acquire_timeout)
        // A connection's health shows on its next query; pinging it on every checkout would
        // double the round trips of a primary-key read (each one a hand-off to SQLite's
        // connection thread).
        .test_before_acquire(false)
        // An in-memory SQLite database lives as long as its connection.
        .idle_timeout(None)
        .max_lifetime(None)
}

/// The read pool beside `write`: on a SQLite file, `read_connections` connections that refuse
/// writes (`query_only`); elsewhere, or with `read_connections` 0, the writer pool itself.
pub(crate) async fn open_readers(
    options: &SqlOptions,
    dialect: Dialect,
    write: AnyPool,
) -> Result<Pools, SqlError> {
    let memory = options.url.contains(":memory:") || options.url.contains("mode=memory");
    if dialect != Dialect::Sqlite || memory {
        return Ok(Pools {
            read: write.clone(),
            write,
            file: None,
        });
    }
    let url = connect_url(options, dialect);
    let file = Some(
        sqlx::sqlite::SqliteConnectOptions::from_str(&url)?
            .get_filename()
            .to_owned(),
    );
    if options.read_connections == 0 {
        return Ok(Pools {
            read: write.clone(),
            write,
            file,
        });
    }
    let mmap = crate::direct::mmap_pragma(options.mmap_size);
    let read = pool_options(options.read_connections, options)
        .after_connect(move |conn, _| {
            let mmap = mmap.clone();
            Box::pin(async move {
                sqlx::query("PRAGMA query_only = ON")
                    .execute(&mut *conn)
                    .await?;
                // 8 MiB of pages each (default 2 MiB), fixed: GETs hit random rows.
                sqlx::query("PRAGMA cache_size = -8192")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(&mmap).execute(&mut *conn).await?;
                Ok(())
            })
        })
        .min_connections(1)
        .connect(&url)
        .await?;
    Ok(Pools { write, read, file })
}

/// A timestamp as served (`meta.created`) and as compared (nanoseconds since the epoch).
pub(crate) fn now() -> (String, i64) {
    let t = DateTime::<Utc>::from(SystemTime::now());
    // Served with millisecond precision: compare and sort on exactly that instant.
    let t = t
        .with_nanosecond(t.timestamp_subsec_millis() * 1_000_000)
        .unwrap_or(t);
    (
        t.to_rfc3339_opts(SecondsFormat::Millis, true),
        instant_ns(&t.fixed_offset()).unwrap_or(0),
    )
}

/// Nanoseconds since the epoch, if the instant is between 1677 and 2262.
pub(crate) fn instant_ns(t: &DateTime<chrono::FixedOffset>) -> Option<i64> {
    t.timestamp_nanos_opt()
}

/// UUID-shaped ids that sort in creation order (time first), unique across instances (random
/// bits from a per-process seed and a counter).
#[derive(Debug)]
pub(crate) struct IdSource {
    next: AtomicU64,
    salt: RandomState,
}

impl IdSource {
    pub(crate) fn new() -> Self {
        IdSource {
            next: AtomicU64::new(1),
            salt: RandomState::new(),
        }
    }

    pub(crate) fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let micros = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let micros = u64::try_from(micros).unwrap_or(u64::MAX);
        let r = self.salt.hash_one(n);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            micros >> 24,
            (micros >> 8) & 0xffff,
            ((micros & 0xff) << 4) | (n & 0xf),
            (r >> 52) & 0xfff,
            r & 0xffff_ffff_ffff
        )
    }
}

/// The copy of a resource that filters read (the `search` column): every object key
/// ASCII-lower-cased, as filters match attribute names (and extension URNs), and every string
/// lower-cased as filters compare it, except those `schemas` call `caseExact` (and binary
/// ones), kept as written. `core` is the resource's core schema URN. Of keys that differ only in
/// case, the first in the map's order is kept.
pub(crate) fn search_json(
    value: &serde_json::Value,
    schemas: &scim_core::schema::SchemaRegistry,
    core: &str,
) -> serde_json::Value {
    let serde_json::Value::Object(map) = value else {
        return fold_value(value, None);
    };
    let core_schema = schemas.get(core);
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        let folded = match (schemas.get(k), v) {
            // An extension's object: its attributes by that schema.
            (Some(ext), serde_json::Value::Object(attrs)) if !k.eq_ignore_ascii_case(core) => {
                let mut inner = serde_json::Map::new();
                for (ak, av) in attrs {
                    inner
                        .entry(ak.to_ascii_lowercase())
                        .or_insert_with(|| fold_value(av, ext.attribute(ak)));
                }
                serde_json::Value::Object(inner)
            }
            _ => fold_value(v, core_schema.and_then(|s| s.attribute(k))),
        };
        out.entry(k.to_ascii_lowercase()).or_insert(folded);
    }
    serde_json::Value::Object(out)
}

/// `value` of the attribute `def` (unknown: `None`) as [`search_json`] writes it.
fn fold_value(
    value: &serde_json::Value,
    def: Option<&scim_core::schema::AttributeDef>,
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let exact = def.is_some_and(|d| {
                d.is_case_exact() || d.info().kind() == scim_filter::AttrType::Binary
            });
            Value::String(if exact { s.clone() } else { fold(s) })
        }
        // The elements of a multi-valued attribute have its definition.
        Value::Array(items) => Value::Array(items.iter().map(|v| fold_value(v, def)).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.entry(k.to_ascii_lowercase())
                    .or_insert_with(|| fold_value(v, def.and_then(|d| d.sub_attribute(k))));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The rows of `scim_user_values` for a user's `search` JSON: the lower-cased string `value` of
/// each element of its multi-valued attributes in [`SIDE_VALUES`](crate::filter::SIDE_VALUES),
/// and the strings of [`SIDE_SINGLES`](crate::filter::SIDE_SINGLES).
pub(crate) fn side_values(search: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for attr in crate::filter::SIDE_VALUES {
        let Some(serde_json::Value::Array(items)) = search.get(*attr) else {
            continue;
        };
        for item in items {
            if let Some(serde_json::Value::String(v)) = item.get("value") {
                out.push((*attr, v.clone()));
            }
        }
    }
    for attr in crate::filter::SIDE_SINGLES {
        if let Some(serde_json::Value::String(v)) = search.get(*attr) {
            out.push((*attr, v.clone()));
        }
    }
    out
}

/// Lower-cased as filters compare (`char::to_lowercase` one character at a time).
pub(crate) fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read pool of a SQLite file maps [`SqlOptions::mmap_size`] bytes and refuses writes;
    /// the writer never maps.
    #[tokio::test]
    async fn sqlite_readers_map_the_file_and_the_writer_does_not() {
        let dir = std::env::temp_dir().join(format!("scim-sql-store-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("mmap.db").display());
        for bytes in [0_u64, 3 << 20] {
            let options = SqlOptions::new(url.clone())
                .read_connections(1)
                .mmap_size(bytes);
            let (write, dialect) = open(&options).await.expect("open");
            let pools = open_readers(&options, dialect, write)
                .await
                .expect("readers");
            let mapped = |pool: AnyPool| async move {
                let (n,): (i64,) = sqlx::query_as("PRAGMA mmap_size")
                    .fetch_one(&pool)
                    .await
                    .expect("mmap_size");
                n
            };
            assert_eq!(
                u64::try_from(mapped(pools.read.clone()).await).ok(),
                Some(bytes)
            );
            assert_eq!(mapped(pools.write.clone()).await, 0);
            pools.read.close().await;
            pools.write.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
