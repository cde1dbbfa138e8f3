//! [`DirectorySource`]: where a sync reads users and groups from, a page at a time.

mod csv;
mod file;
mod keycloak;
mod scim;

pub use file::FileSource;
pub use keycloak::KeycloakSource;
pub use scim::ScimSource;

use async_trait::async_trait;
use scim_core::{Group, User};

use crate::SyncError;

/// Where the next page starts; opaque to the reconciler, meaningful only to the source that
/// handed it out (an offset, a SCIM `startIndex`, a server's continuation token).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor holding `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Cursor(token.into())
    }

    /// The token this cursor holds.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of a source: the resources and where the next page starts (`None` after the last).
pub type SourcePage<T> = (Vec<T>, Option<Cursor>);

/// A directory to sync from: users, and groups with their members, read in pages so the
/// reconciler never holds a whole directory twice.
///
/// A group's `members[].value` names a user of the same source by its `id`, its `externalId` or
/// its `userName` (looked up in that order, `userName` ignoring case), so exports that only know
/// user names work as well as SCIM servers that use ids.
///
/// Reading starts with `cursor: None`; each call returns the cursor of the next page, and `None`
/// once there is nothing more.
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// A page of users.
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError>;

    /// A page of groups, with their members.
    async fn groups_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<Group>, SyncError>;
}
