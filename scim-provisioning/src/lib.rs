//! Vendor-neutral machinery for provisioning users and groups into a target system: what both
//! push provisioning (a SCIM server in front of a product) and scheduled directory sync need,
//! without tying either to one vendor.
//!
//! - [`policy::SyncPolicy`]: the administrator's rules (group mapping, default groups, scope,
//!   name transformations, deprovisioning), checked once and applied to every write.
//! - [`history`]: the sync history ([`history::SyncHistory`] in memory or in a JSON-lines file)
//!   and [`history::RecordingProvisioner`], which records every operation with its product calls.
//! - [`CallObserver`] (and [`CallCounter`]): told of every call made to a product, without secrets.
//! - [`Sleeper`] and [`RetryPolicy`]: how retryable answers are waited out without tying the
//!   library to an async runtime.
//! - [`RunLock`]: one sync run at a time per tenant ([`InMemoryRunLock`] here; a SQL one in
//!   `scim-sql`).
//! - [`Credentials`]: Basic or a bearer token, never shown in `Debug`.
//! - [`LastLogins`]: when a target's users last logged in (the inactive-user cleanup).
//! - [`bounded`]: futures run with at most N in flight, on any executor.
//!
//! The Atlassian provisioner (`scim-atlassian`) and the directory reconciler (`scim-sync`) both
//! build on this crate and re-export what their users need.

pub mod bounded;
mod credentials;
pub mod history;
mod lock;
mod logins;
mod observe;
pub mod policy;
mod retry;

pub use credentials::Credentials;
pub use lock::{InMemoryRunLock, Lease, LockError, RunLock};
pub use logins::LastLogins;
pub use observe::{CallCounter, CallObserver, CallRecord};
pub use retry::{BudgetScope, RetryBudget, RetryPolicy, Sleeper, ThreadSleeper};
