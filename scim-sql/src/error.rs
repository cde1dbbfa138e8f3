//! [`SqlError`]: what can go wrong below the SCIM layer, and how it reaches a SCIM client.

use scim_core::ScimError;

/// A storage failure: the database could not be reached, refused a statement, or holds data this
/// crate cannot read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The database URL names no supported backend (`sqlite:` or `postgres:`).
    #[error(
        "unsupported database URL `{0}`: expected sqlite://PATH, sqlite::memory: or postgres://..."
    )]
    UnsupportedUrl(String),
    /// The driver reported an error (connection, SQL, constraint).
    #[error("database error: {0}")]
    Driver(#[from] sqlx::Error),
    /// A stored row could not be decoded (written by another program or a newer version).
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// The table the row is in.
        table: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// The thread that checkpoints a SQLite file's write-ahead log could not be started.
    #[error("cannot start the SQLite checkpoint thread: {0}")]
    Thread(std::io::Error),
    /// The database's schema is newer than this crate knows.
    #[error("database schema version {found} is newer than the {known} this build knows")]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The latest version this build applies.
        known: i64,
    },
}

impl From<SqlError> for ScimError {
    /// A storage failure is the service's problem, not the client's: 500, with the cause in the
    /// detail (it names tables and constraints, never stored values).
    fn from(err: SqlError) -> Self {
        ScimError::other(http::StatusCode::INTERNAL_SERVER_ERROR, None, err)
    }
}

/// A driver error as a SCIM error (500).
pub(crate) fn db(err: sqlx::Error) -> ScimError {
    SqlError::Driver(err).into()
}

/// Whether `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}
