//! The [`Provisioner`] implementations of [`AtlassianProvisioner`] and [`CloudProvisioner`]:
//! each SCIM operation (the inherent methods in `provisioner.rs` and `cloud/mod.rs`) runs inside
//! a [`RetryBudget`] of the builder's [`RetryPolicy::budget`](crate::RetryPolicy), so its product
//! calls and their retries share one deadline and a product that keeps throttling gets the IdP a
//! timely 503 with `Retry-After` instead of a timeout.
//!
//! One macro writes both implementations, so a `Provisioner` method overridden for one target
//! cannot be forgotten for the other.

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, Provisioner, RequestContext};
use scim_core::{Group, Member, ScimError, User};
use scim_provisioning::{BudgetScope, RetryBudget};

use crate::AtlassianProvisioner;
use crate::cloud::CloudProvisioner;

/// `impl Provisioner for $ty`, each operation delegated to `$ty`'s inherent method of the same
/// name (`add_members` to `$add_members`) inside a fresh budget of `$budget` (read from `$p`,
/// the provisioner).
macro_rules! within_budget {
    ($ty:ty, budget: |$p:ident| $budget:expr, add_members: $add_members:ident) => {
        impl $ty {
            /// `operation` under a fresh budget of [`RetryPolicy::budget`](crate::RetryPolicy).
            fn within_budget<F: std::future::Future>(&self, operation: F) -> BudgetScope<F> {
                let $p = self;
                RetryBudget::new($budget).scope(operation)
            }
        }

        #[async_trait]
        impl Provisioner for $ty {
            fn capabilities(&self) -> Capabilities {
                <$ty>::capabilities(self)
            }

            async fn create_user(
                &self,
                ctx: &RequestContext,
                user: User,
            ) -> Result<User, ScimError> {
                self.within_budget(<$ty>::create_user(self, ctx, user))
                    .await
            }

            async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
                self.within_budget(<$ty>::get_user(self, ctx, id)).await
            }

            async fn replace_user(
                &self,
                ctx: &RequestContext,
                id: &str,
                user: User,
                expected: Option<&ETag>,
            ) -> Result<User, ScimError> {
                self.within_budget(<$ty>::replace_user(self, ctx, id, user, expected))
                    .await
            }

            async fn delete_user(
                &self,
                ctx: &RequestContext,
                id: &str,
                expected: Option<&ETag>,
            ) -> Result<(), ScimError> {
                self.within_budget(<$ty>::delete_user(self, ctx, id, expected))
                    .await
            }

            async fn scan_users(
                &self,
                ctx: &RequestContext,
                offset: usize,
                limit: usize,
            ) -> Result<Vec<User>, ScimError> {
                self.within_budget(<$ty>::scan_users(self, ctx, offset, limit))
                    .await
            }

            async fn search_users(
                &self,
                ctx: &RequestContext,
                query: &ListQuery,
            ) -> Result<Page<User>, ScimError> {
                self.within_budget(<$ty>::search_users(self, ctx, query))
                    .await
            }

            async fn patch_user(
                &self,
                ctx: &RequestContext,
                id: &str,
                patch: &PatchOp,
                expected: Option<&ETag>,
            ) -> Result<User, ScimError> {
                self.within_budget(<$ty>::patch_user(self, ctx, id, patch, expected))
                    .await
            }

            async fn create_group(
                &self,
                ctx: &RequestContext,
                group: Group,
            ) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::create_group(self, ctx, group))
                    .await
            }

            async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::get_group(self, ctx, id)).await
            }

            async fn replace_group(
                &self,
                ctx: &RequestContext,
                id: &str,
                group: Group,
                expected: Option<&ETag>,
            ) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::replace_group(self, ctx, id, group, expected))
                    .await
            }

            async fn delete_group(
                &self,
                ctx: &RequestContext,
                id: &str,
                expected: Option<&ETag>,
            ) -> Result<(), ScimError> {
                self.within_budget(<$ty>::delete_group(self, ctx, id, expected))
                    .await
            }

            async fn scan_groups(
                &self,
                ctx: &RequestContext,
                offset: usize,
                limit: usize,
            ) -> Result<Vec<Group>, ScimError> {
                self.within_budget(<$ty>::scan_groups(self, ctx, offset, limit))
                    .await
            }

            async fn search_groups(
                &self,
                ctx: &RequestContext,
                query: &ListQuery,
            ) -> Result<Page<Group>, ScimError> {
                self.within_budget(<$ty>::search_groups(self, ctx, query))
                    .await
            }

            async fn patch_group(
                &self,
                ctx: &RequestContext,
                id: &str,
                patch: &PatchOp,
                expected: Option<&ETag>,
            ) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::patch_group(self, ctx, id, patch, expected))
                    .await
            }

            /// One membership call per member and mapped group, without reading the group
            /// first.
            async fn add_members(
                &self,
                ctx: &RequestContext,
                group_id: &str,
                members: &[Member],
            ) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::$add_members(self, ctx, group_id, members))
                    .await
            }

            async fn remove_members(
                &self,
                ctx: &RequestContext,
                group_id: &str,
                member_ids: &[String],
            ) -> Result<Group, ScimError> {
                self.within_budget(<$ty>::remove_members(self, ctx, group_id, member_ids))
                    .await
            }
        }
    };
}

within_budget!(AtlassianProvisioner, budget: |p| p.budget, add_members: add_member_ids);
within_budget!(CloudProvisioner, budget: |p| p.link.retry().budget, add_members: add_members);
