//! Directory sync: read users and groups from a [`DirectorySource`] (a JSON or CSV export, any
//! SCIM 2.0 server, a Keycloak realm) and reconcile them into any [`Provisioner`](scim_core::provision::Provisioner).
//!
//! For identity providers that do not push SCIM, and for scheduled full syncs that repair drift
//! after outages. The library brings no HTTP stack and no async runtime: sources talk HTTP
//! through [`scim_core::HttpClient`], and every future runs on whatever executor the caller has.

mod error;

pub use error::SyncError;
pub mod source;

pub use source::{Cursor, DirectorySource, FileSource, KeycloakSource, ScimSource};
mod bounded;
pub mod plan;
mod reconcile;

pub use plan::{ApplyReport, Plan, Progress, Step};
pub mod policy;

pub use policy::{MissingGroup, Policy, PushPolicy, SyncEverything, target_policy};
pub use reconcile::{Reconciler, SyncOptions};
pub mod schedule;

pub use schedule::{InMemoryRunLock, Lease, LockError, RunLock, RunOutcome, RunSummary, Runner};
