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

    /// The string at the JSON object path `keys` inside the JSON text column `column`, as SQL
    /// text (`NULL` when absent). `keys` come from a fixed table, never from a request.
    pub(crate) fn json_text(self, column: &str, keys: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", keys.join(".")),
            Dialect::Postgres => format!("(CAST({column} AS jsonb) #>> '{{{}}}')", keys.join(",")),
        }
    }

    /// `EXISTS` an element of the user's multi-valued attribute `key` (read from the lower-cased
    /// copy, `search`) satisfying `cond`, written with [`Dialect::element_text`].
    pub(crate) fn elements_exist(self, key: &str, cond: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(search, '$.{key}') AS e WHERE {cond})")
            }
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN \
                 jsonb_typeof(CAST(search AS jsonb) -> '{key}') = 'array' THEN \
                 CAST(search AS jsonb) -> '{key}' ELSE '[]'::jsonb END) AS e(v) WHERE {cond})"
            ),
        }
    }

    /// The string sub-attribute `sub` of the current element in [`Dialect::elements_exist`].
    pub(crate) fn element_text(self, sub: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(e.value, '$.{sub}')"),
            Dialect::Postgres => format!("(e.v ->> '{sub}')"),
        }
    }

    /// Whether `haystack` contains the parameter `needle` (`instr`/`strpos`: no LIKE wildcards
    /// to escape, and case-sensitive on both).
    pub(crate) fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }
}

/// A value bound to a parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Text(String),
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
        let p = self.bind(arg);
        self.text.push_str(&p);
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
                Arg::Text(s) => q.bind(s.as_str()),
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
    pub(crate) acquire_timeout: Duration,
    pub(crate) fallback_limit: usize,
    pub(crate) push_down: bool,
}

impl SqlOptions {
    /// Options for `url`: `sqlite://PATH` (the file is created if missing), `sqlite::memory:`,
    /// or `postgres://user:password@host/db`.
    pub fn new(url: impl Into<String>) -> Self {
        SqlOptions {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            fallback_limit: 1_000_000,
            push_down: true,
        }
    }

    /// The pool size for PostgreSQL (SQLite always uses one connection: it has one writer, and
    /// one connection cannot deadlock upgrading a read to a write).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
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

    /// Whether filters and sorting go to SQL (the default). `false` evaluates every search in
    /// memory over all rows: for comparisons and diagnosis, not for production.
    #[must_use]
    pub fn push_down(mut self, enabled: bool) -> Self {
        self.push_down = enabled;
        self
    }
}

/// Opens the pool for `options` and returns it with its dialect.
pub(crate) async fn open(options: &SqlOptions) -> Result<(AnyPool, Dialect), SqlError> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::of_url(&options.url)?;
    let url = match dialect {
        // Create the file on first start.
        Dialect::Sqlite if !options.url.contains("mode=") && !options.url.contains(":memory:") => {
            let sep = if options.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}mode=rwc", options.url)
        }
        _ => options.url.clone(),
    };
    let max = match dialect {
        Dialect::Sqlite => 1,
        Dialect::Postgres => options.max_connections,
    };
    let _ = sqlx::any::AnyConnectOptions::from_str(&url)?;
    let pool = AnyPoolOptions::new()
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
                }
                Ok(())
            })
        })
        .max_connections(max)
        .acquire_timeout(options.acquire_timeout)
        // An in-memory SQLite database lives as long as its connection.
        .idle_timeout(None)
        .max_lifetime(None)
        .connect(&url)
        .await?;
    Ok((pool, dialect))
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

/// `value` with every string lower-cased as filters compare (keys kept): the copy of a resource
/// that case-insensitive comparisons on JSON paths read.
pub(crate) fn fold_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(fold(s)),
        Value::Array(items) => Value::Array(items.iter().map(fold_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), fold_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// Lower-cased as filters compare (`char::to_lowercase` one character at a time).
pub(crate) fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}
