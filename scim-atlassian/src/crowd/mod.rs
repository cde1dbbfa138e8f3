//! Crowd (`{base}/rest/usermanagement/1`): the typed [`CrowdClient`], also used for the Crowd
//! API embedded in Jira and Confluence.

mod client;
mod directory;

pub use client::{CrowdClient, CrowdUser};
pub(crate) use directory::{CrowdDirectory, unguessable_password};
