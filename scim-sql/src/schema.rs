//! The database schema: numbered migrations, the same SQL for SQLite and PostgreSQL (except for
//! SQLite's narrow copy of the users' `search`, migration 5), applied in order at start-up and
//! recorded in `scim_schema_version`.
//!
//! Types are chosen to mean the same on both: `TEXT`, `BIGINT` (SQLite gives it integer
//! affinity), booleans as `BIGINT` 0/1, JSON as `TEXT` (each resource's full JSON), instants as
//! RFC 3339 text for output plus nanoseconds since the epoch for comparison and sorting. A user's
//! `search` column is its JSON with every string lower-cased, for case-insensitive filters on
//! attributes without a column of their own.

use scim_core::schema::SchemaRegistry;
use sqlx::{AnyPool, Row};

use crate::error::SqlError;
use crate::filter::{Doc, SIDE_SINGLES};
use crate::provisioner::insert_side_values;
use crate::store::{Arg, Dialect, Sql, search_json, side_values};

/// One step of a migration.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The same SQL on both databases.
    Sql(&'static str),
    /// SQL for SQLite only (nothing on PostgreSQL).
    SqliteSql(&'static str),
    /// An index on `scim_users (tenant, <the string at this path of search>, id)`, written with
    /// the expression filters use ([`Dialect::json_value`]), so that the planner matches it.
    JsonIndex {
        name: &'static str,
        keys: &'static [&'static str],
    },
    /// Rewrites every user's `search` copy (keys lower-cased since migration 2) and fills
    /// `scim_user_values` from it.
    RebuildSearch,
    /// Adds the rows of `scim_user_values` for [`SIDE_SINGLES`] of every existing user.
    SideSingles,
    /// Fills the sync history's query columns of migration 4 from each entry's JSON.
    FillHistoryColumns,
}

use Step::{FillHistoryColumns, JsonIndex, RebuildSearch, SideSingles, Sql as S, SqliteSql};

/// The JSON keys (as in `search`) of the enterprise extension's `employeeNumber`.
const EMPLOYEE_NUMBER: &[&str] = &[
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
    "employeenumber",
];

/// The migrations, in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit one that
/// has shipped: add the next.
const MIGRATIONS: &[&[Step]] = &[
    &[
        S("CREATE TABLE scim_tenants (
        tenant TEXT PRIMARY KEY,
        created TEXT NOT NULL
    )"),
        S("CREATE TABLE scim_users (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        user_name TEXT NOT NULL,
        user_name_key TEXT NOT NULL,
        user_name_ci TEXT NOT NULL,
        external_id TEXT,
        external_id_ci TEXT,
        display_name TEXT,
        display_name_ci TEXT,
        active BIGINT,
        password TEXT,
        version BIGINT NOT NULL,
        created TEXT NOT NULL,
        created_ns BIGINT NOT NULL,
        last_modified TEXT NOT NULL,
        last_modified_ns BIGINT NOT NULL,
        resource TEXT NOT NULL,
        search TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    )"),
        // userName is unique per tenant ignoring case: the database enforces it.
        S("CREATE UNIQUE INDEX scim_users_name_key ON scim_users (tenant, user_name_key)"),
        S("CREATE INDEX scim_users_name_ci ON scim_users (tenant, user_name_ci)"),
        S("CREATE INDEX scim_users_external_id ON scim_users (tenant, external_id)"),
        S("CREATE INDEX scim_users_display_name_ci ON scim_users (tenant, display_name_ci)"),
        S("CREATE TABLE scim_groups (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        display_name_ci TEXT NOT NULL,
        external_id TEXT,
        external_id_ci TEXT,
        version BIGINT NOT NULL,
        created TEXT NOT NULL,
        created_ns BIGINT NOT NULL,
        last_modified TEXT NOT NULL,
        last_modified_ns BIGINT NOT NULL,
        resource TEXT NOT NULL,
        PRIMARY KEY (tenant, id)
    )"),
        S("CREATE INDEX scim_groups_display_name_ci ON scim_groups (tenant, display_name_ci)"),
        S("CREATE INDEX scim_groups_external_id ON scim_groups (tenant, external_id)"),
        S("CREATE TABLE scim_memberships (
        tenant TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        member TEXT NOT NULL,
        PRIMARY KEY (tenant, group_id, member_id)
    )"),
        S("CREATE INDEX scim_memberships_member ON scim_memberships (tenant, member_id)"),
        S("CREATE TABLE scim_run_locks (
        tenant TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    )"),
        S("CREATE TABLE scim_sync_history (
        seq_key TEXT NOT NULL,
        tenant TEXT NOT NULL,
        at_ns BIGINT NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (tenant, at_ns, seq_key)
    )"),
        S("CREATE INDEX scim_sync_history_at ON scim_sync_history (at_ns)"),
    ],
    // 2: filters on every attribute in SQL. `search` keys are lower-cased (rebuilt for existing
    // rows); the `value`s of emails, phoneNumbers, ... in their own indexed table; indexes on
    // the JSON paths IdPs and admins filter on.
    &[
        S("CREATE TABLE scim_user_values (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            attr TEXT NOT NULL,
            value TEXT NOT NULL
        )"),
        // Covering: `attr`/`value` comparisons read the user ids from the index alone.
        S("CREATE INDEX scim_user_values_value ON scim_user_values (tenant, attr, value, user_id)"),
        S("CREATE INDEX scim_user_values_user ON scim_user_values (tenant, user_id)"),
        RebuildSearch,
        JsonIndex {
            name: "scim_users_title",
            keys: &["title"],
        },
        JsonIndex {
            name: "scim_users_employee_number",
            keys: EMPLOYEE_NUMBER,
        },
    ],
    // 3: `title` in `scim_user_values`, whose covering index answers `title eq` (and the other
    // comparisons) from the index alone; the JSON path index on it is no longer used.
    &[SideSingles, S("DROP INDEX IF EXISTS scim_users_title")],
    // 4: the sync history searched by user (name or id, lower-cased) and by method (sync and
    // cleanup runs) in SQL, each with an index in time order; filled for existing entries.
    &[
        S("ALTER TABLE scim_sync_history ADD COLUMN method TEXT"),
        S("ALTER TABLE scim_sync_history ADD COLUMN user_name_ci TEXT"),
        S("ALTER TABLE scim_sync_history ADD COLUMN user_id_ci TEXT"),
        FillHistoryColumns,
        S("CREATE INDEX scim_sync_history_user_name ON scim_sync_history (user_name_ci, at_ns)"),
        S("CREATE INDEX scim_sync_history_user_id ON scim_sync_history (user_id_ci, at_ns)"),
        S("CREATE INDEX scim_sync_history_method ON scim_sync_history (method, at_ns)"),
    ],
    // 5: on SQLite, the users' `search` copies also in a narrow table of their own, kept in step
    // by triggers, so that a sort by an attribute without a column reads each key from about a
    // third of the bytes (not every row whole with its JSON). Not an index on `scim_users`:
    // SQLite's planner, without statistics, would also pick that for counts and id lookups.
    // PostgreSQL plans such scans by itself and keeps its rows' jsonb out of line (TOAST).
    &[
        SqliteSql(
            "CREATE TABLE scim_user_search (
            tenant TEXT NOT NULL,
            id TEXT NOT NULL,
            search TEXT NOT NULL,
            PRIMARY KEY (tenant, id)
        ) WITHOUT ROWID",
        ),
        SqliteSql(
            "INSERT INTO scim_user_search (tenant, id, search) \
             SELECT tenant, id, search FROM scim_users",
        ),
        SqliteSql(
            "CREATE TRIGGER scim_user_search_insert AFTER INSERT ON scim_users BEGIN \
             INSERT INTO scim_user_search (tenant, id, search) \
             VALUES (new.tenant, new.id, new.search); END",
        ),
        SqliteSql(
            "CREATE TRIGGER scim_user_search_update AFTER UPDATE OF tenant, id, search \
             ON scim_users BEGIN UPDATE scim_user_search \
             SET tenant = new.tenant, id = new.id, search = new.search \
             WHERE tenant = old.tenant AND id = old.id; END",
        ),
        SqliteSql(
            "CREATE TRIGGER scim_user_search_delete AFTER DELETE ON scim_users BEGIN \
             DELETE FROM scim_user_search WHERE tenant = old.tenant AND id = old.id; END",
        ),
    ],
    // 6: the memberships index by member also holds the group, so that it covers the lookup of
    // a user's groups. Without it SQLite's planner (no statistics) preferred the covering
    // primary key searched by tenant alone: every read of a user scanned all of the tenant's
    // memberships (about 1 ms per 10k of them).
    &[
        S("DROP INDEX scim_memberships_member"),
        S("CREATE INDEX scim_memberships_member ON scim_memberships (tenant, member_id, group_id)"),
    ],
];

/// The schema version this build migrates to.
#[allow(clippy::cast_possible_wrap)] // A handful of migrations.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`LATEST`]. On PostgreSQL, an advisory lock makes instances starting
/// together apply each migration once; SQLite's single writer serialises them anyway.
pub(crate) async fn migrate(
    pool: &AnyPool,
    dialect: Dialect,
    schemas: &SchemaRegistry,
) -> Result<(), SqlError> {
    let mut conn = pool.acquire().await?;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_lock(734101)")
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(&mut conn, dialect, schemas).await;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(734101)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    schemas: &SchemaRegistry,
) -> Result<(), SqlError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS scim_schema_version (version BIGINT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: i64 =
        sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM scim_schema_version")
            .fetch_one(&mut *conn)
            .await?
            .try_get("v")?;
    if current > LATEST {
        return Err(SqlError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (n, statements) in (1..).zip(MIGRATIONS) {
        if n <= current {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for step in *statements {
            match step {
                Step::Sql(statement) => {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                Step::SqliteSql(statement) => {
                    if dialect == Dialect::Sqlite {
                        sqlx::query(statement).execute(&mut *tx).await?;
                    }
                }
                Step::JsonIndex { name, keys } => {
                    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
                    let expr = dialect.json_value(Doc::Row, &keys);
                    let expr = match dialect {
                        Dialect::Sqlite => expr,
                        // PostgreSQL wants an expression in an index in its own parentheses.
                        Dialect::Postgres => format!("({expr})"),
                    };
                    // `id` last: a filtered page sorts the matching ids from the index alone
                    // (see `crate::search`), without reading their rows.
                    sqlx::query(&format!(
                        "CREATE INDEX {name} ON scim_users (tenant, {expr}, id)"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                Step::RebuildSearch => rebuild_search(&mut tx, dialect, schemas).await?,
                Step::SideSingles => {
                    for attr in SIDE_SINGLES {
                        // Migration 2's rebuild (from schema 1) may have written them already.
                        sqlx::query(&format!(
                            "DELETE FROM scim_user_values WHERE attr = '{attr}'"
                        ))
                        .execute(&mut *tx)
                        .await?;
                        let keys = [(*attr).to_owned()];
                        sqlx::query(&format!(
                            "INSERT INTO scim_user_values (tenant, user_id, attr, value) \
                             SELECT tenant, id, '{attr}', {} FROM scim_users WHERE {}",
                            dialect.json_value(Doc::Row, &keys),
                            dialect.json_is_string(&keys)
                        ))
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                Step::FillHistoryColumns => fill_history_columns(&mut tx, dialect).await?,
            }
        }
        sqlx::query(&format!(
            "INSERT INTO scim_schema_version (version) VALUES ({n})"
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version = n, "scim-sql: applied schema migration");
    }
    Ok(())
}

/// How many users [`rebuild_search`] reads at a time.
const REBUILD_PAGE: i64 = 500;

/// Rewrites the `search` copy of every user from its stored JSON and fills `scim_user_values`,
/// a page at a time in `(tenant, id)` order (memory stays bounded whatever the table's size).
async fn rebuild_search(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    schemas: &SchemaRegistry,
) -> Result<(), SqlError> {
    let mut last: Option<(String, String)> = None;
    let mut rebuilt = 0_u64;
    loop {
        let mut q = Sql::new(dialect);
        q.push("SELECT tenant, id, resource FROM scim_users");
        if let Some((tenant, id)) = &last {
            q.push(" WHERE tenant > ")
                .arg(Arg::Text(tenant.clone()))
                .push(" OR (tenant = ")
                .arg(Arg::Text(tenant.clone()))
                .push(" AND id > ")
                .arg(Arg::Text(id.clone()))
                .push(")");
        }
        q.push(" ORDER BY tenant, id LIMIT ")
            .arg(Arg::Int(REBUILD_PAGE));
        let rows = q.query().fetch_all(&mut *conn).await?;
        let n = rows.len();
        for row in &rows {
            let tenant: String = row.try_get("tenant")?;
            let id: String = row.try_get("id")?;
            let text: String = row.try_get("resource")?;
            let resource: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| SqlError::Corrupt {
                    table: "scim_users",
                    detail: e.to_string(),
                })?;
            let search = search_json(&resource, schemas, scim_core::urn::USER);
            let mut q = Sql::new(dialect);
            q.push("UPDATE scim_users SET search = ")
                .arg(Arg::Json(search.to_string()))
                .push(" WHERE tenant = ")
                .arg(Arg::Text(tenant.clone()))
                .push(" AND id = ")
                .arg(Arg::Text(id.clone()));
            q.query().execute(&mut *conn).await?;
            insert_side_values(&mut *conn, dialect, &tenant, &id, &side_values(&search)).await?;
            last = Some((tenant, id));
        }
        rebuilt += n as u64;
        if i64::try_from(n).unwrap_or(0) < REBUILD_PAGE {
            break;
        }
    }
    if rebuilt > 0 {
        tracing::info!(
            users = rebuilt,
            "scim-sql: rebuilt the search copy of existing users"
        );
    }
    Ok(())
}

/// The query columns of a sync history entry (its JSON text): `(method, user_name_ci,
/// user_id_ci)`, names and ids lower-cased; `None`s for an entry that does not decode.
pub(crate) fn history_columns(entry: &str) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(entry) else {
        return (None, None, None);
    };
    let op = value.get("operation");
    let text = |key: &str| {
        op.and_then(|o| o.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    (
        text("method"),
        text("name").map(|n| n.to_lowercase()),
        text("id").map(|i| i.to_lowercase()),
    )
}

/// Fills `method`, `user_name_ci` and `user_id_ci` of every sync history entry from its JSON,
/// a page at a time in key order (memory stays bounded whatever the table's size). An entry
/// that does not decode keeps `NULL`s (listing reports it, as before).
async fn fill_history_columns(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
) -> Result<(), SqlError> {
    let mut last: Option<(String, i64, String)> = None;
    let mut filled = 0_u64;
    loop {
        let mut q = Sql::new(dialect);
        q.push("SELECT tenant, at_ns, seq_key, entry FROM scim_sync_history");
        if let Some((tenant, at, seq)) = &last {
            q.push(" WHERE tenant > ")
                .arg(Arg::Text(tenant.clone()))
                .push(" OR (tenant = ")
                .arg(Arg::Text(tenant.clone()))
                .push(" AND (at_ns > ")
                .arg(Arg::Int(*at))
                .push(" OR (at_ns = ")
                .arg(Arg::Int(*at))
                .push(" AND seq_key > ")
                .arg(Arg::Text(seq.clone()))
                .push(")))");
        }
        q.push(" ORDER BY tenant, at_ns, seq_key LIMIT ")
            .arg(Arg::Int(REBUILD_PAGE));
        let rows = q.query().fetch_all(&mut *conn).await?;
        let n = rows.len();
        for row in &rows {
            let tenant: String = row.try_get("tenant")?;
            let at: i64 = row.try_get("at_ns")?;
            let seq: String = row.try_get("seq_key")?;
            let entry: String = row.try_get("entry")?;
            let (method, name, id) = history_columns(&entry);
            let mut q = Sql::new(dialect);
            q.push("UPDATE scim_sync_history SET method = ")
                .arg(Arg::OptText(method))
                .push(", user_name_ci = ")
                .arg(Arg::OptText(name))
                .push(", user_id_ci = ")
                .arg(Arg::OptText(id))
                .push(" WHERE tenant = ")
                .arg(Arg::Text(tenant.clone()))
                .push(" AND at_ns = ")
                .arg(Arg::Int(at))
                .push(" AND seq_key = ")
                .arg(Arg::Text(seq.clone()));
            q.query().execute(&mut *conn).await?;
            last = Some((tenant, at, seq));
        }
        filled += n as u64;
        if i64::try_from(n).unwrap_or(0) < REBUILD_PAGE {
            break;
        }
    }
    if filled > 0 {
        tracing::info!(
            entries = filled,
            "scim-sql: filled the sync history's search columns"
        );
    }
    Ok(())
}
