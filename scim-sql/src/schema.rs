//! The database schema: numbered migrations, the same SQL for SQLite and PostgreSQL, applied in
//! order at start-up and recorded in `scim_schema_version`.
//!
//! Types are chosen to mean the same on both: `TEXT`, `BIGINT` (SQLite gives it integer
//! affinity), booleans as `BIGINT` 0/1, JSON as `TEXT` (each resource's full JSON), instants as
//! RFC 3339 text for output plus nanoseconds since the epoch for comparison and sorting. A user's
//! `search` column is its JSON with every string lower-cased, for case-insensitive filters on
//! attributes without a column of their own.

use sqlx::{AnyPool, Row};

use crate::error::SqlError;
use crate::store::Dialect;

/// The migrations, in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit one that
/// has shipped: add the next.
const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE scim_tenants (
        tenant TEXT PRIMARY KEY,
        created TEXT NOT NULL
    )",
    "CREATE TABLE scim_users (
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
    )",
    // userName is unique per tenant ignoring case: the database enforces it.
    "CREATE UNIQUE INDEX scim_users_name_key ON scim_users (tenant, user_name_key)",
    "CREATE INDEX scim_users_name_ci ON scim_users (tenant, user_name_ci)",
    "CREATE INDEX scim_users_external_id ON scim_users (tenant, external_id)",
    "CREATE INDEX scim_users_display_name_ci ON scim_users (tenant, display_name_ci)",
    "CREATE TABLE scim_groups (
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
    )",
    "CREATE INDEX scim_groups_display_name_ci ON scim_groups (tenant, display_name_ci)",
    "CREATE INDEX scim_groups_external_id ON scim_groups (tenant, external_id)",
    "CREATE TABLE scim_memberships (
        tenant TEXT NOT NULL,
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        member TEXT NOT NULL,
        PRIMARY KEY (tenant, group_id, member_id)
    )",
    "CREATE INDEX scim_memberships_member ON scim_memberships (tenant, member_id)",
    "CREATE TABLE scim_run_locks (
        tenant TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    )",
    "CREATE TABLE scim_sync_history (
        seq_key TEXT NOT NULL,
        tenant TEXT NOT NULL,
        at_ns BIGINT NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (tenant, at_ns, seq_key)
    )",
    "CREATE INDEX scim_sync_history_at ON scim_sync_history (at_ns)",
]];

/// The schema version this build migrates to.
#[allow(clippy::cast_possible_wrap)] // A handful of migrations.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`LATEST`]. On PostgreSQL, an advisory lock makes instances starting
/// together apply each migration once; SQLite's single writer serialises them anyway.
pub(crate) async fn migrate(pool: &AnyPool, dialect: Dialect) -> Result<(), SqlError> {
    let mut conn = pool.acquire().await?;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_lock(734101)")
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(&mut conn).await;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(734101)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection) -> Result<(), SqlError> {
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
        for statement in *statements {
            sqlx::query(statement).execute(&mut *tx).await?;
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
