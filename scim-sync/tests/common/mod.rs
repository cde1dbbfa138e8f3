//! Shared test fixtures: a SCIM server in process, reachable as an `HttpClient`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::provision::InMemoryProvisioner;
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{BearerTokens, HttpClient, HttpError, ScimService};
use scim_core::{Group, Member, PatchOp, ScimError, User};

pub const TOKEN: &str = "source-token";
pub const TENANT: &str = "idp";

/// A `ScimService` answering requests in process.
pub struct ServiceClient(pub ScimService);

#[async_trait]
impl HttpClient for ServiceClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        Ok(self.0.handle(request).await)
    }
}

/// An identity provider: a SCIM server over its own in-memory directory (tenant [`TENANT`],
/// token [`TOKEN`]).
pub fn idp() -> (Arc<InMemoryProvisioner>, Arc<ServiceClient>) {
    let backend = Arc::new(InMemoryProvisioner::new());
    let tokens = BearerTokens::new().with_token(TOKEN, TENANT);
    let service = ScimService::builder(backend.clone())
        .authenticator(Arc::new(tokens))
        .build();
    (backend, Arc::new(ServiceClient(service)))
}

/// Counts the calls made to an `InMemoryProvisioner`.
#[derive(Default)]
pub struct Counting {
    pub inner: InMemoryProvisioner,
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
    /// Creating the user of this name fails (an outage in the middle of a run).
    pub fail_create: std::sync::Mutex<Option<String>>,
}

impl Counting {
    pub fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
    pub fn take(&self) -> (usize, usize) {
        (
            self.reads.swap(0, Ordering::SeqCst),
            self.writes.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl Provisioner for Counting {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        self.write();
        if self.fail_create.lock().unwrap().as_deref() == Some(user.user_name.as_str()) {
            return Err(ScimError::invalid_value("userName", "the target is down"));
        }
        self.inner.create_user(ctx, user).await
    }
    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.read();
        self.inner.get_user(ctx, id).await
    }
    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.write();
        self.inner.replace_user(ctx, id, user, expected).await
    }
    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.write();
        self.inner.delete_user(ctx, id, expected).await
    }
    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.read();
        self.inner.scan_users(ctx, offset, limit).await
    }
    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.write();
        self.inner.create_group(ctx, group).await
    }
    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.read();
        self.inner.get_group(ctx, id).await
    }
    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.replace_group(ctx, id, group, expected).await
    }
    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.write();
        self.inner.delete_group(ctx, id, expected).await
    }
    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.read();
        self.inner.scan_groups(ctx, offset, limit).await
    }
    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.write();
        self.inner.patch_user(ctx, id, patch, expected).await
    }
    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.patch_group(ctx, id, patch, expected).await
    }
    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.add_members(ctx, group_id, members).await
    }
    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.remove_members(ctx, group_id, member_ids).await
    }
}
