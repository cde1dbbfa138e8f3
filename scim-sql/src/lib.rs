//! A durable SCIM [`Provisioner`](scim_core::provision::Provisioner): users, groups,
//! memberships and tenants in SQLite (embedded, one file, the default) or PostgreSQL (several
//! instances sharing one database), with the same schema and migrations on both.
//!
//! - Each resource is stored as its full JSON (extensions included) next to indexed columns
//!   (`userName` lower-cased, `externalId`, `displayName`, `active`, `meta` instants, version),
//!   and a user also as a `search` copy for filters (keys and non-case-exact strings
//!   lower-cased), with the `value`s of its emails, phone numbers, ims, entitlements and roles (and
//!   its `title`, which many users share) in an indexed table of their own. A read is one statement: a user's `groups` and a group's
//!   `members` come with the row.
//! - SCIM filters run as SQL with bound parameters, on every attribute the schemas know (core
//!   User and Group, the enterprise extension, and any extension given with
//!   [`SqlOptions::schemas`]): every operator, `and`/`or`/`not`, `pr`, value filters
//!   (`emails[type eq "work" and value co "@x"]`, `EXISTS` over the JSON array), `caseExact`,
//!   date-times as instants; and so do sorting and paging. Indexes serve what IdPs filter on:
//!   `userName`, `externalId`, `displayName`, `emails.value`, `title` and the enterprise
//!   `employeeNumber`. The rules are in `src/filter.rs`. What SQL cannot express (a user's
//!   `groups`, numbers and date-times inside the JSON, attributes no schema knows) is evaluated
//!   in memory over the rows the translatable part selects, a page at a time, up to
//!   [`SqlOptions::fallback_limit`] rows, and logged at `debug` on target `scim_sql::search`.
//! - SQLite: one writer connection and [`SqlOptions::read_connections`] read-only ones (WAL), so
//!   GETs and searches run in parallel beside writes. On a file, a `GET` by id runs its one
//!   statement on the calling thread through a read-only `rusqlite` connection of that thread's
//!   own (the same bundled SQLite), without sqlx's hand-off to a connection thread. There are
//!   as many of those as read connections, or cores if more; a thread beyond them, or SQLite
//!   having to wait, sends the read through the sqlx readers instead. The service's plain
//!   `GET` of a user gets the row's JSON text as it is stored
//!   ([`Provisioner::fetch_user`](scim_core::provision::Provisioner::fetch_user)), not decoded
//!   into a `User` to be encoded again. A thread of its own
//!   checkpoints the write-ahead log, so the writer does not stop for it. User creates that
//!   arrive while the writer is busy are written together in its next transaction (group
//!   commit), each still answered, and failing, on its own. A sort by an attribute
//!   without a column reads its keys from a narrow copy of the users' `search`, kept by triggers.
//! - Writes are transactions: a failed request writes nothing. `If-Match` is a conditional
//!   `UPDATE ... WHERE version = ?`; `userName` uniqueness per tenant (ignoring case) is a unique
//!   index.
//! - [`SqlRunLock`]: a lease row per tenant, so bridge instances behind a load balancer run one
//!   sync per tenant at a time; with feature `sync` it is a `scim_provisioning::RunLock` for scim-sync's
//!   `Runner`. `SqlHistory` (feature `history`): the sync history (scim-provisioning's `SyncHistory`) in the database.
//!
//! **Runtime**: sqlx drives the database on tokio; call this crate from within a tokio runtime.
//! Unlike scim-core, this storage crate is not runtime-agnostic.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use scim_core::provision::{Provisioner, RequestContext};
//! let backend = scim_sql::SqlProvisioner::connect("sqlite://./scim.db").await?;
//! let user = backend
//!     .create_user(&RequestContext::new("acme"), scim_core::User::new("bjensen"))
//!     .await?;
//! # Ok(()) }
//! ```

mod batch;
mod checkpoint;
mod direct;
mod error;
mod filter;
#[cfg(feature = "history")]
mod history;
mod lock;
mod provisioner;
mod schema;
mod search;
mod store;
mod tenants;

pub use error::SqlError;
#[cfg(feature = "history")]
pub use history::SqlHistory;
pub use lock::{SqlLease, SqlRunLock};
pub use provisioner::SqlProvisioner;
pub use store::{Dialect, SqlOptions};

/// How a search would run, for tests and diagnostics: whether everything happens in SQL.
///
/// ```no_run
/// # async fn run(p: &scim_sql::SqlProvisioner) {
/// use scim_core::provision::ListQuery;
/// let q = ListQuery::new().with_filter(r#"userName eq "bjensen""#.parse().unwrap());
/// assert!(scim_sql::runs_in_sql(p, &q, false));
/// # }
/// ```
pub fn runs_in_sql(
    p: &SqlProvisioner,
    query: &scim_core::provision::ListQuery,
    groups: bool,
) -> bool {
    let table = if groups {
        filter::Table::Groups
    } else {
        filter::Table::Users
    };
    search::plan(p, table, query, "").in_sql()
}
