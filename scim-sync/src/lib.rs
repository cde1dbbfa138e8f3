//! Directory sync: read users and groups from a [`DirectorySource`] (a JSON or CSV export, any
//! SCIM 2.0 server, a Keycloak realm) and reconcile them into any [`Provisioner`](scim_core::provision::Provisioner).
//!
//! For identity providers that do not push SCIM, and for scheduled full syncs that repair drift
//! after outages. The library brings no HTTP stack and no async runtime: sources talk HTTP
//! through [`scim_core::HttpClient`], and every future runs on whatever executor the caller has.
//!
//! - [`source`]: where users and groups are read from, a page at a time.
//! - [`Reconciler`] and [`plan`]: the minimal writes, as a [`Plan`] value to print (a dry run),
//!   serialize or apply with bounded concurrency under a safety rail.
//! - [`ledger`]: which target groups earlier syncs managed, so a sync deletes only groups it
//!   can show were the source's (never an administrator's or a product's built-in group).
//! - [`policy`]: which users and groups are synced and what they become;
//!   [`PushPolicy`] applies push provisioning's `SyncPolicy` (see there how it is applied once).
//! - [`cleanup`]: [`InactiveCleanup`] deprovisions target users who have not logged in for a
//!   number of days, under the same safety rail and dry run.
//! - [`schedule`]: a [`Runner`] syncing a tenant on demand or every few minutes, one run at a
//!   time per tenant ([`RunLock`]), with progress and a summary in the sync history.

pub mod cleanup;
mod error;
pub mod ledger;
pub mod plan;
pub mod policy;
mod reconcile;
pub mod schedule;
pub mod source;

pub use cleanup::{CleanupMode, CleanupRun, InactiveCleanup, LastLogins};
pub use error::SyncError;
pub use ledger::{FileGroupLedger, GroupLedger, InMemoryGroupLedger};
pub use plan::{ApplyReport, Plan, Progress, Step};
pub use policy::{
    BUILT_IN_GROUPS, MissingGroup, Policy, PushPolicy, SyncEverything, is_built_in_group,
    target_policy,
};
pub use reconcile::{Reconciler, SyncOptions};
pub use schedule::{InMemoryRunLock, Lease, LockError, RunLock, RunOutcome, RunSummary, Runner};
pub use source::{Cursor, DirectorySource, FileSource, KeycloakSource, ScimSource};
