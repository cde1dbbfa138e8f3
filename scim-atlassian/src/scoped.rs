//! The [`Provisioner`] implementation of [`AtlassianProvisioner`]: each SCIM operation (in
//! `provisioner.rs`) runs inside a [`RetryBudget`] of the builder's
//! [`RetryPolicy::budget`](crate::RetryPolicy), so its product calls and their retries share
//! one deadline and a product that keeps throttling gets the IdP a timely 503 with
//! `Retry-After` instead of a timeout.

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, Provisioner, RequestContext};
use scim_core::{Group, Member, ScimError, User};

use crate::AtlassianProvisioner;
use scim_provisioning::{BudgetScope, RetryBudget};

impl AtlassianProvisioner {
    /// `operation` under a fresh budget of [`RetryPolicy::budget`](crate::RetryPolicy).
    fn within_budget<F: std::future::Future>(&self, operation: F) -> BudgetScope<F> {
        RetryBudget::new(self.budget).scope(operation)
    }
}

#[async_trait]
impl Provisioner for AtlassianProvisioner {
    fn capabilities(&self) -> Capabilities {
        AtlassianProvisioner::capabilities(self)
    }

    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        self.within_budget(AtlassianProvisioner::create_user(self, ctx, user))
            .await
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.within_budget(AtlassianProvisioner::get_user(self, ctx, id))
            .await
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        RetryBudget::new(self.budget)
            .scope(AtlassianProvisioner::replace_user(
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
        self.within_budget(AtlassianProvisioner::delete_user(self, ctx, id, expected))
            .await
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.within_budget(AtlassianProvisioner::scan_users(self, ctx, offset, limit))
            .await
    }

    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        self.within_budget(AtlassianProvisioner::search_users(self, ctx, query))
            .await
    }

    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        self.within_budget(AtlassianProvisioner::search_groups(self, ctx, query))
            .await
    }

    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        RetryBudget::new(self.budget)
            .scope(AtlassianProvisioner::remove_members(
                self, ctx, group_id, member_ids,
            ))
            .await
    }

    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        RetryBudget::new(self.budget)
            .scope(AtlassianProvisioner::patch_user(
                self, ctx, id, patch, expected,
            ))
            .await
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.within_budget(AtlassianProvisioner::create_group(self, ctx, group))
            .await
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.within_budget(AtlassianProvisioner::get_group(self, ctx, id))
            .await
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        RetryBudget::new(self.budget)
            .scope(AtlassianProvisioner::replace_group(
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
        self.within_budget(AtlassianProvisioner::delete_group(self, ctx, id, expected))
            .await
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.within_budget(AtlassianProvisioner::scan_groups(self, ctx, offset, limit))
            .await
    }

    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        RetryBudget::new(self.budget)
            .scope(AtlassianProvisioner::patch_group(
                self, ctx, id, patch, expected,
            ))
            .await
    }

    /// One membership call per member and mapped group, without reading the group first.
    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        self.within_budget(AtlassianProvisioner::add_member_ids(
            self, ctx, group_id, members,
        ))
        .await
    }
}
