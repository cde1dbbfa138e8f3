//! The [`Provisioner`] implementation of [`CloudProvisioner`]: each SCIM operation runs
//! inside a [`RetryBudget`] of the builder's [`RetryPolicy::budget`](crate::RetryPolicy), as
//! on the Data Center targets.

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, Provisioner, RequestContext};
use scim_core::{Group, Member, ScimError, User};

use super::CloudProvisioner;
use scim_provisioning::{BudgetScope, RetryBudget};

impl CloudProvisioner {
    /// `operation` under a fresh budget of [`RetryPolicy::budget`](crate::RetryPolicy).
    fn within_budget<F: std::future::Future>(&self, operation: F) -> BudgetScope<F> {
        RetryBudget::new(self.link.retry().budget).scope(operation)
    }
}

#[async_trait]
impl Provisioner for CloudProvisioner {
    /// Cloud's user schema (no addresses, ims, photos, roles, entitlements, certificates); no
    /// passwords (Atlassian accounts authenticate through Atlassian or the identity provider).
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().user_attributes(super::CLOUD_USER_ATTRIBUTES.iter().copied())
    }

    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        self.within_budget(CloudProvisioner::create_user(self, ctx, user))
            .await
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.within_budget(CloudProvisioner::get_user(self, ctx, id))
            .await
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.within_budget(CloudProvisioner::replace_user(
            self, ctx, id, user, expected,
        ))
        .await
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.within_budget(CloudProvisioner::delete_user(self, ctx, id, expected))
            .await
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.within_budget(CloudProvisioner::scan_users(self, ctx, offset, limit))
            .await
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::create_group(self, ctx, group))
            .await
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::get_group(self, ctx, id))
            .await
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::replace_group(
            self, ctx, id, group, expected,
        ))
        .await
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.within_budget(CloudProvisioner::delete_group(self, ctx, id, expected))
            .await
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.within_budget(CloudProvisioner::scan_groups(self, ctx, offset, limit))
            .await
    }

    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        self.within_budget(CloudProvisioner::search_users(self, ctx, query))
            .await
    }

    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        self.within_budget(CloudProvisioner::search_groups(self, ctx, query))
            .await
    }

    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.within_budget(CloudProvisioner::patch_user(self, ctx, id, patch, expected))
            .await
    }

    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::patch_group(
            self, ctx, id, patch, expected,
        ))
        .await
    }

    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::add_members(self, ctx, group_id, members))
            .await
    }

    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids_in: &[String],
    ) -> Result<Group, ScimError> {
        self.within_budget(CloudProvisioner::remove_members(
            self,
            ctx,
            group_id,
            member_ids_in,
        ))
        .await
    }
}
