//! What several bridge and `sync` instances share through one database: the sync history
//! ([`SqlHistory`]) and `sync`'s one-run-per-tenant lock ([`SqlRunLock`]).
//!
//! Both binaries take the database the same way: `--db URL` on the command line, or else
//! `db = "URL"` in the configuration file's `[history]` (the flag wins). Without either, the
//! history is the file of `[history] path` or memory, and the lock is the process's own.

use std::sync::Arc;

use scim_sql::{SqlHistory, SqlProvisioner, SqlRunLock};

use crate::redact_url;

/// Checks a shared database URL: `sqlite://PATH` or `postgres://...` (named `what` in errors).
pub fn parse_shared_db(what: &str, url: &str) -> Result<String, String> {
    if crate::is_db_url(url) {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "{what} {url:?}: expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
        ))
    }
}

/// The history and the run lock in one database.
#[derive(Clone, Debug)]
pub struct SharedDb {
    /// The sync history.
    pub history: Arc<SqlHistory>,
    /// The run lock (`sync` only; the bridge serves requests and runs no schedule).
    pub lock: Arc<SqlRunLock>,
}

impl SharedDb {
    /// Opens (creating and migrating on first use) the database at `url`.
    pub async fn open(url: &str) -> Result<SharedDb, String> {
        let db = SqlProvisioner::connect(url)
            .await
            .map_err(|e| format!("cannot open the database {}: {e}", redact_url(url)))?;
        Ok(SharedDb {
            history: Arc::new(SqlHistory::new(&db)),
            lock: Arc::new(SqlRunLock::new(&db)),
        })
    }
}
