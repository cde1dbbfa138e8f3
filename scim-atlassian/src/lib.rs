//! A SCIM `Provisioner` for Jira, Confluence, Bitbucket, Crowd and Atlassian Cloud (work in
//! progress: Jira Data Center first).
//!
//! - [`Credentials`]: Basic or a personal access token, never shown in `Debug`.
//! - [`simulator`] (feature `simulator`): in-process simulators of the products' REST APIs.

mod credentials;
#[cfg(feature = "simulator")]
pub mod simulator;

pub use credentials::Credentials;
