//! A durable SCIM [`Provisioner`](scim_core::provision::Provisioner): users, groups,
//! memberships and tenants in SQLite (embedded, one file, the default) or PostgreSQL (several
//! instances sharing one database), with the same schema and migrations on both.
//!
//! - Each resource is stored as its full JSON (extensions included) next to indexed columns
//!   (`userName` lower-cased, `externalId`, `displayName`, `active`, `meta` instants, version).
//! - SCIM filters (every operator, `and`/`or`/`not`) on those columns, and on the user's other
//!   single-valued strings (`title`, `name.givenName`, ...: `json_extract` on SQLite, `#>>` on
//!   PostgreSQL, over the stored JSON and a lower-cased copy of it), run as SQL with bound
//!   parameters, and so do sorting and paging, and value filters on `emails`, `phoneNumbers`
//!   and `ims` (`emails[type eq "work" and value co "@x"]`, `EXISTS` over the JSON array); the
//!   rules are in `src/filter.rs`. The rest (extensions, addresses, `primary`, ...) is evaluated
//!   in memory over the rows the SQL part selects, a page at a time, up to
//!   [`SqlOptions::fallback_limit`] rows, and logged at `debug` on target `scim_sql::search`.
//! - Writes are transactions: a failed request writes nothing. `If-Match` is a conditional
//!   `UPDATE ... WHERE version = ?`; `userName` uniqueness per tenant (ignoring case) is a unique
//!   index.
//! - [`SqlRunLock`]: a lease row per tenant, so bridge instances behind a load balancer run one
//!   sync per tenant at a time; with feature `sync` it is a `scim_provisioning::RunLock` for scim-sync's
//!   `Runner`. [`SqlHistory`] (feature `history`): the sync history (scim-provisioning's `SyncHistory`) in the database.
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

mod error;
mod filter;
#[cfg(feature = "history")]
mod history;
mod lock;
mod provisioner;
mod schema;
mod search;
mod store;

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
    search::plan(p, table, query).in_sql()
}
