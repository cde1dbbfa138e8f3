//! [`SyncError`]: everything a sync can fail with.

use scim_core::{HttpError, ScimError};

/// Why reading a source, planning or applying a sync failed.
///
/// Messages name the file position, the HTTP status or the limit that was hit, never a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A CSV export could not be read; `line` is 1-based and counts the header.
    #[error("CSV line {line}{}: {message}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
    Csv {
        /// The line the record starts on.
        line: usize,
        /// The column at fault, when one is.
        field: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// A JSON export could not be read.
    #[error("JSON export line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// An export names the same user or group twice.
    #[error("duplicate {kind} `{key}` in the source")]
    Duplicate {
        /// `user` or `group`.
        kind: &'static str,
        /// The repeated `userName`, `displayName` or `externalId`.
        key: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// A SCIM source request got no response.
    #[error("SCIM source: {0}")]
    Http(#[from] HttpError),
    /// A SCIM source answered with an error status or a body that is not a SCIM list.
    #[error("SCIM source {url}: {message}")]
    Source {
        /// The URL asked (without credentials).
        url: String,
        /// The status and the server's `detail`, or why the body was unreadable.
        message: String,
    },
    /// The target `Provisioner` failed while it was being read.
    #[error("target: {0}")]
    Target(#[from] ScimError),
    /// A plan would deactivate or delete more of the target's users than allowed.
    #[error(
        "refusing to apply: the plan deactivates or deletes {affected} of the target's {target_users} users, \
         more than the limit of {allowed} ({percent}%); check the source, or force the plan"
    )]
    SafetyLimit {
        /// Users the plan would deactivate or delete.
        affected: usize,
        /// Users at the target when the plan was made.
        target_users: usize,
        /// The most the limit lets through.
        allowed: usize,
        /// The limit as a percentage of the target's users.
        percent: f64,
    },
    /// A plan would delete more of the target's groups than allowed.
    #[error(
        "refusing to apply: the plan would delete {affected} of the target's {target_groups} groups \
         ({}), more than the limit of {allowed} ({percent}%); check the source, or force the plan",
        listed(groups)
    )]
    GroupSafetyLimit {
        /// Groups the plan would delete.
        affected: usize,
        /// Groups at the target when the plan was made.
        target_groups: usize,
        /// The most the limit lets through.
        allowed: usize,
        /// The limit as a percentage of the target's groups.
        percent: f64,
        /// The names of the groups it would delete.
        groups: Vec<String>,
    },
    /// The ledger of managed groups could not be read or written.
    #[error("managed-group ledger {path}: {message}")]
    Ledger {
        /// Where the ledger is kept.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The run lock could not be taken or released.
    #[error("{0}")]
    Lock(#[from] crate::schedule::LockError),
    /// The run's summary could not be written to the sync history (the run itself finished).
    #[error("sync history: {0}")]
    History(String),
    /// A setting that cannot work (a bad regex, zero days), named by its path.
    #[error("setting {setting}: {message}")]
    Config {
        /// The setting (`inactive.exclude[0]`).
        setting: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The first few of `names`, and how many more there are.
pub(crate) fn listed(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(SHOWN) {
        0 => text,
        more => format!("{text} and {more} more"),
    }
}
