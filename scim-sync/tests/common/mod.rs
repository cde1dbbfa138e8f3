//! Shared test fixtures: a SCIM server in process, reachable as an `HttpClient`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod keycloak_sim;

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

impl Counting {
    /// Refuses to create user `user` while [`Counting::fail_create`] names it.
    fn refuse_named(&self, user: &User) -> Result<(), ScimError> {
        if self.fail_create.lock().unwrap().as_deref() == Some(user.user_name.as_str()) {
            return Err(ScimError::invalid_value("userName", "the target is down"));
        }
        Ok(())
    }
}

/// Implements `Provisioner` for [`Counting`]: each listed method counts itself as a `read` or
/// a `write`, runs its guard (if any) on the named argument, and hands over to `inner`.
macro_rules! counted {
    ($($count:ident $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $(, guard $guard:ident($garg:ident))?;)*) => {
        #[async_trait]
        impl Provisioner for Counting {
            $(
                async fn $name(&self, ctx: &RequestContext $(, $arg: $ty)*) -> Result<$ret, ScimError> {
                    self.$count();
                    $(self.$guard(&$garg)?;)?
                    self.inner.$name(ctx $(, $arg)*).await
                }
            )*
        }
    };
}

counted! {
    write create_user(user: User) -> User, guard refuse_named(user);
    read get_user(id: &str) -> User;
    write replace_user(id: &str, user: User, expected: Option<&ETag>) -> User;
    write delete_user(id: &str, expected: Option<&ETag>) -> ();
    read scan_users(offset: usize, limit: usize) -> Vec<User>;
    write create_group(group: Group) -> Group;
    read get_group(id: &str) -> Group;
    write replace_group(id: &str, group: Group, expected: Option<&ETag>) -> Group;
    write delete_group(id: &str, expected: Option<&ETag>) -> ();
    read scan_groups(offset: usize, limit: usize) -> Vec<Group>;
    write patch_user(id: &str, patch: &PatchOp, expected: Option<&ETag>) -> User;
    write patch_group(id: &str, patch: &PatchOp, expected: Option<&ETag>) -> Group;
    write add_members(group_id: &str, members: &[Member]) -> Group;
    write remove_members(group_id: &str, member_ids: &[String]) -> Group;
}

/// Progress nobody watches.
pub struct Quiet;

impl scim_sync::Progress for Quiet {
    fn step_finished(&self, _: &scim_sync::Step, _: bool, _: usize, _: usize) {}
}

/// The names of `tenant`'s groups at `target`, sorted.
pub fn group_names(target: &InMemoryProvisioner, tenant: &str) -> Vec<String> {
    let ctx = RequestContext::new(tenant);
    let groups = scim_core::provision::conformance::block_on(target.scan_groups(&ctx, 0, 10_000));
    let mut names: Vec<String> = groups
        .unwrap()
        .into_iter()
        .map(|g| g.display_name)
        .collect();
    names.sort();
    names
}
