//! In-process simulators of Atlassian products' REST APIs (feature `simulator`), answering the
//! requests an [`HttpClient`](scim_core::HttpClient) would send, for tests and demos.
//!
//! They reproduce the shapes, status codes, error bodies, paging and quirks described in the
//! workspace's `ATLASSIAN.md`, count every call, and inject faults on demand.

mod cloud;
mod jira;

pub use cloud::CloudSimulator;
pub use jira::{Fault, JiraSimulator, SimUser};
