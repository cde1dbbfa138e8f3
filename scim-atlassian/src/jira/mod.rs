//! Jira Data Center (REST API v2): the typed [`JiraClient`].

mod client;

pub(crate) use client::SEARCH_PAGE;
pub use client::{JiraClient, JiraComponent, JiraProject, JiraUser, UserRef};
