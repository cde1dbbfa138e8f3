//! Jira Data Center (REST API v2): the typed [`JiraClient`].

mod client;
mod directory;

pub use client::{JiraClient, JiraComponent, JiraProject, JiraUser, ServerInfo, UserRef};
pub(crate) use directory::JiraDirectory;
