//! A SCIM `Provisioner` for Jira, Confluence, Bitbucket, Crowd and Atlassian Cloud (work in
//! progress: Jira Data Center, Crowd, Confluence and Bitbucket Data Center so far).
//!
//! - [`AtlassianProvisioner`]: implements [`scim_core::provision::Provisioner`] for Jira Data
//!   Center ([`AtlassianProvisioner::jira`]), Crowd ([`AtlassianProvisioner::crowd`]),
//!   Confluence Data Center ([`AtlassianProvisioner::confluence`]) and Bitbucket Data Center
//!   ([`AtlassianProvisioner::bitbucket`]: numeric ids, login groups in place of deactivation,
//!   SCIM data in a user setting), configured with an [`AtlassianBuilder`], through one
//!   [`directory::Directory`] per product and one shared transport (retries, observer, errors
//!   naming the product).
//! - [`crowd::CrowdClient`]: typed calls to Crowd's usermanagement API (also the one embedded
//!   in Jira and Confluence, used to deactivate on Jira before 8.3 and for Confluence's users).
//! - [`confluence::ConfluenceClient`]: Confluence Data Center's admin REST API.
//! - [`cloud::CloudProvisioner`]: a SCIM-to-SCIM `Provisioner` for Atlassian Cloud's user
//!   provisioning API; configured with [`cloud::CloudProvisioner::builder`].
//! - [`bitbucket::BitbucketClient`]: typed calls to Bitbucket Data Center's admin REST API,
//!   and [`bitbucket::BitbucketTarget`], the adapter a provisioner drives (login groups in
//!   place of deactivation).
//! - [`jira::JiraClient`]: typed calls to Jira's REST API v2, sent through a
//!   [`scim_core::HttpClient`] the application provides.
//! - [`Credentials`]: Basic or a personal access token, never shown in `Debug`.
//! - [`CallObserver`] (and [`CallCounter`]): told of every call made, without secrets.
//! - [`history`]: sync history ([`history::SyncHistory`], in memory or in a JSON-lines file)
//!   and [`history::RecordingProvisioner`], which records every operation with its calls.
//! - [`Sleeper`] and [`RetryPolicy`]: how 429/503 answers are retried without tying the library
//!   to an async runtime.
//! - `ReqwestClient` (feature `reqwest`): a ready-made [`scim_core::HttpClient`] on reqwest
//!   with rustls.
//! - [`policy::SyncPolicy`]: the administrator's sync rules (group mapping, default groups,
//!   scope, name transformations, deprovisioning), applied with [`AtlassianBuilder::policy`] and
//!   [`cloud::CloudBuilder::policy`].
//! - [`dry_run::DryRunClient`] (and the builders' `dry_run(true)`): computes and reports what
//!   would change without writing.
//! - `simulator` (feature `simulator`): in-process simulators of the products' REST APIs.
//!
//! \[K\] in these docs marks product behaviour that is widely reported but not confirmed by
//! Atlassian's published API descriptions: the code handles it defensively.

pub mod bitbucket;
mod builder;
mod checked;
pub mod cloud;
pub mod confluence;
pub mod crowd;
pub mod directory;
pub mod dry_run;
mod error;
pub mod jira;
mod membership;
mod provisioner;
mod random;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod scoped;
pub mod seats;
mod transport;

pub use builder::{AtlassianBuilder, DEFAULT_PROPERTY_KEY, JiraBuilder};
pub use error::AtlassianError;
pub use provisioner::{AtlassianProvisioner, GroupRename};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;
// Vendor-neutral pieces live in scim-provisioning (shared with scim-sync and scim-sql); they are
// re-exported at the paths they had here.
/// In-process simulators of the products' REST APIs (feature `simulator`): the
/// `scimrs-atlassian-sim` crate.
#[cfg(feature = "simulator")]
pub use scim_atlassian_sim as simulator;
pub use scim_provisioning::{
    BudgetScope, CallCounter, CallObserver, CallRecord, Credentials, RetryBudget, RetryPolicy,
    Sleeper, ThreadSleeper, history, policy,
};
pub use seats::{SeatPool, SeatUsage};
