//! [`LastLogins`]: where a target tells when its users last logged in, for the inactive-user
//! cleanup (`scim_sync::InactiveCleanup`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scim_core::ScimError;
use scim_core::provision::{Provisioner, RequestContext};

use crate::history::RecordingProvisioner;

/// Where a target tells when its users last logged in (scim-atlassian's
/// `AtlassianProvisioner` implements it from the product's login records).
#[async_trait]
pub trait LastLogins: Send + Sync {
    /// When the user with SCIM id `id` last logged in; `Ok(None)`: never.
    async fn last_login(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Option<DateTime<Utc>>, ScimError>;
}

/// A recorded provisioner tells what the one inside tells (reads are not recorded).
#[async_trait]
impl<P: LastLogins + Provisioner> LastLogins for RecordingProvisioner<P> {
    async fn last_login(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Option<DateTime<Utc>>, ScimError> {
        self.inner().last_login(ctx, id).await
    }
}
