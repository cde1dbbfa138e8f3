//! [`TenantRouter`]: one [`Provisioner`] per tenant (identity provider), chosen by the
//! request's tenant, so each identity provider's requests run under its own policy and are
//! recorded under its name. The tenant comes from the authenticator (the bearer token), never
//! from the request's content, so one identity provider's token cannot reach another's
//! provisioner.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{
    Capabilities, FetchedUser, ListQuery, Page, Provisioner, RequestContext,
};
use scim_core::{Group, Member, ScimError, User};

/// Dispatches every operation to the provisioner of the request's tenant; a tenant without
/// one is refused with 403 (the authenticator and the router disagree: a configuration bug,
/// never served by another tenant's provisioner).
#[derive(Clone, Default)]
pub struct TenantRouter {
    by_tenant: BTreeMap<String, Arc<dyn Provisioner>>,
}

impl std::fmt::Debug for TenantRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRouter")
            .field("tenants", &self.by_tenant.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TenantRouter {
    /// A router serving no tenant yet.
    pub fn new() -> Self {
        TenantRouter::default()
    }

    /// Serves `tenant` with `provisioner` (replacing any earlier one).
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>, provisioner: Arc<dyn Provisioner>) -> Self {
        self.by_tenant.insert(tenant.into(), provisioner);
        self
    }

    fn route(&self, ctx: &RequestContext) -> Result<&dyn Provisioner, ScimError> {
        self.by_tenant
            .get(ctx.tenant())
            .map(|p| &**p)
            .ok_or_else(|| {
                ScimError::other(
                    axum::http::StatusCode::FORBIDDEN,
                    None,
                    format_args!("tenant {:?} has no provisioner configured", ctx.tenant()),
                )
            })
    }
}

#[async_trait]
impl Provisioner for TenantRouter {
    /// The first tenant's: every tenant's provisioner writes into the one target, and
    /// discovery is answered before a tenant is known.
    fn capabilities(&self) -> Capabilities {
        self.by_tenant
            .values()
            .next()
            .map_or_else(Capabilities::default, |p| p.capabilities())
    }

    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        self.route(ctx)?.create_user(ctx, user).await
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.route(ctx)?.get_user(ctx, id).await
    }

    async fn get_user_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<User>, ScimError> {
        self.route(ctx)?.get_user_shared(ctx, id).await
    }

    async fn fetch_user(&self, ctx: &RequestContext, id: &str) -> Result<FetchedUser, ScimError> {
        self.route(ctx)?.fetch_user(ctx, id).await
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.route(ctx)?.replace_user(ctx, id, user, expected).await
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.route(ctx)?.delete_user(ctx, id, expected).await
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.route(ctx)?.scan_users(ctx, offset, limit).await
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.route(ctx)?.create_group(ctx, group).await
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.route(ctx)?.get_group(ctx, id).await
    }

    async fn get_group_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<Group>, ScimError> {
        self.route(ctx)?.get_group_shared(ctx, id).await
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.route(ctx)?
            .replace_group(ctx, id, group, expected)
            .await
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.route(ctx)?.delete_group(ctx, id, expected).await
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.route(ctx)?.scan_groups(ctx, offset, limit).await
    }

    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        self.route(ctx)?.search_users(ctx, query).await
    }

    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        self.route(ctx)?.search_groups(ctx, query).await
    }

    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.route(ctx)?.patch_user(ctx, id, patch, expected).await
    }

    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.route(ctx)?.patch_group(ctx, id, patch, expected).await
    }

    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        self.route(ctx)?.add_members(ctx, group_id, members).await
    }

    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        self.route(ctx)?
            .remove_members(ctx, group_id, member_ids)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::provision::InMemoryProvisioner;

    #[tokio::test]
    async fn each_tenant_reaches_only_its_own_provisioner() {
        let a = Arc::new(InMemoryProvisioner::new());
        let b = Arc::new(InMemoryProvisioner::new());
        let router = TenantRouter::new()
            .tenant("a", a.clone())
            .tenant("b", b.clone());
        let ctx_a = RequestContext::new("a");
        let Ok(created) = router.create_user(&ctx_a, User::new("alice")).await else {
            panic!("tenant a creates");
        };
        assert_eq!(a.user_count("a"), 1);
        assert_eq!(b.user_count("a") + b.user_count("b"), 0);
        let id = created.id.unwrap_or_default();
        let refused = router.get_user(&RequestContext::new("c"), &id).await;
        assert!(refused.is_err_and(|e| e.status().as_u16() == 403));
        // The service's plain GET asks `fetch_user`: routed the same way.
        match router.fetch_user(&ctx_a, &id).await {
            Ok(FetchedUser::Shared(user)) => assert_eq!(user.user_name, "alice"),
            other => panic!("tenant a's user: {other:?}"),
        }
        let refused = router.fetch_user(&RequestContext::new("b"), &id).await;
        assert!(refused.is_err_and(|e| e.status().as_u16() == 404));
        let refused = router.fetch_user(&RequestContext::new("c"), &id).await;
        assert!(refused.is_err_and(|e| e.status().as_u16() == 403));
    }
}
