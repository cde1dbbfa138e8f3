//! Backends for the tests: SQLite in memory, and PostgreSQL when `SCIM_SQL_POSTGRES_URL` is set.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use scim_sql::SqlProvisioner;

pub mod capture;

/// A fresh in-memory SQLite provisioner.
pub async fn sqlite() -> SqlProvisioner {
    SqlProvisioner::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite opens")
}

/// The PostgreSQL provisioner, or `None` (with a message) when no database is configured. Under
/// CI (`CI` set) a missing database fails the test instead: CI must never skip silently.
pub async fn postgres(test: &str) -> Option<SqlProvisioner> {
    postgres_with(test, |o| o).await
}

/// [`postgres`] with options of the test's choosing.
pub async fn postgres_with(
    test: &str,
    options: impl FnOnce(scim_sql::SqlOptions) -> scim_sql::SqlOptions,
) -> Option<SqlProvisioner> {
    let Ok(url) = std::env::var("SCIM_SQL_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: SCIM_SQL_POSTGRES_URL is not set but CI is: .ci/run must start PostgreSQL"
        );
        eprintln!(
            "SKIPPED {test}: set SCIM_SQL_POSTGRES_URL=postgres://user:pass@host/db to run it \
             against PostgreSQL"
        );
        return None;
    };
    Some(
        SqlProvisioner::connect_with(options(scim_sql::SqlOptions::new(url.clone())))
            .await
            .unwrap_or_else(|e| panic!("{test}: cannot connect to {url}: {e}")),
    )
}

/// A tenant name no earlier run used (the PostgreSQL database outlives test runs).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A `sqlite://` URL for a new database file under the system temp dir.
pub fn temp_sqlite_url(prefix: &str) -> String {
    let dir = std::env::temp_dir().join(unique(&format!("scim-sql-{prefix}")));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    format!("sqlite://{}", dir.join("test.db").display())
}

/// Statements undoing schema 6 (the memberships index by member without the group).
pub const UNDO_SCHEMA_6: [&str; 3] = [
    "DROP INDEX scim_memberships_member",
    "CREATE INDEX scim_memberships_member ON scim_memberships (tenant, member_id)",
    "DELETE FROM scim_schema_version WHERE version = 6",
];

/// Statements undoing schema 5 (SQLite's narrow table of the users' `search` copies and its
/// triggers; only the version row on PostgreSQL), as a database an earlier release wrote has it.
pub fn undo_schema_5(sqlite: bool) -> Vec<&'static str> {
    let sqlite_only = [
        "DROP TRIGGER IF EXISTS scim_user_search_insert",
        "DROP TRIGGER IF EXISTS scim_user_search_update",
        "DROP TRIGGER IF EXISTS scim_user_search_delete",
        "DROP TABLE IF EXISTS scim_user_search",
    ];
    sqlite_only
        .into_iter()
        .filter(|_| sqlite)
        .chain(["DELETE FROM scim_schema_version WHERE version = 5"])
        .collect()
}

/// Statements undoing schema 4 (the sync history's search columns and their indexes), as a
/// database an earlier release wrote has it.
pub const UNDO_SCHEMA_4: [&str; 6] = [
    "DROP INDEX scim_sync_history_user_name",
    "DROP INDEX scim_sync_history_user_id",
    "DROP INDEX scim_sync_history_method",
    "ALTER TABLE scim_sync_history DROP COLUMN method",
    "ALTER TABLE scim_sync_history DROP COLUMN user_name_ci",
    "ALTER TABLE scim_sync_history DROP COLUMN user_id_ci",
];
