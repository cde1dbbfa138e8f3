//! Confluence Data Center: [`ConfluenceClient`] for its admin REST API (`{base}/rest/api`);
//! profiles, SCIM data and listings go through the Crowd API Confluence embeds.

mod client;
mod directory;

pub use client::{ConfluenceClient, ConfluenceUser};
pub(crate) use directory::ConfluenceDirectory;
