//! The [`Provisioner`] trait: what a backend (a directory, a database, Atlassian) writes to be
//! served as SCIM, plus the query and context types it receives.
//!
//! A backend writes create/get/replace/delete and a raw paged scan for users and groups. Filtering,
//! sorting, paging, PATCH and group membership have default implementations built on those
//! (scan then filter; get, apply, replace with a version check), so a minimal backend is
//! complete; a backend that can do better (push a filter down to SQL or to a product's search,
//! turn member changes into membership calls) overrides them.
//!
//! [`InMemoryProvisioner`] is the reference backend, used in tests as the model of correct
//! behaviour. The `conformance` feature exposes `provision::conformance`, a suite any
//! backend's tests run against their own implementation.

mod capabilities;
mod collect;
mod context;
mod defaults;
mod fetched;
mod memory;
mod query;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use capabilities::Capabilities;
pub use collect::PageCollector;
pub use context::{RequestContext, ScimVersion};
pub use defaults::remove_members_patch;
pub use fetched::{FetchedUser, UserJson, UserJsonError};
pub use memory::InMemoryProvisioner;
pub use query::{ListQuery, Page};
pub use store::{Document, DocumentKind, DocumentProvisioner, DocumentStore, Written};

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::ScimError;
use crate::etag::ETag;
use crate::patch::PatchOp;
use crate::resource::{Group, Member, User};

/// How many resources a default implementation asks a backend's `scan_*` for at a time.
pub const SCAN_PAGE: usize = 200;

/// The default [`Provisioner::search_users`]: scans every user ([`SCAN_PAGE`] at a time), keeps
/// the matches, sorts them and cuts the page. For a backend that overrides `search_users` to
/// push some filters down and falls back to this for the others.
pub async fn search_users_by_scan<P: Provisioner + ?Sized>(
    p: &P,
    ctx: &RequestContext,
    query: &ListQuery,
) -> Result<Page<User>, ScimError> {
    defaults::search(query, crate::urn::USER, |offset, limit| {
        p.scan_users(ctx, offset, limit)
    })
    .await
}

/// The default [`Provisioner::search_groups`]; see [`search_users_by_scan`].
pub async fn search_groups_by_scan<P: Provisioner + ?Sized>(
    p: &P,
    ctx: &RequestContext,
    query: &ListQuery,
) -> Result<Page<Group>, ScimError> {
    defaults::search(query, crate::urn::GROUP, |offset, limit| {
        p.scan_groups(ctx, offset, limit)
    })
    .await
}

/// A SCIM backend: the operations on users and groups of one tenant (named by the
/// [`RequestContext`]).
///
/// Contract for implementations:
/// - Resources come back with `id` and `meta` (`resourceType`, `created`, `lastModified`,
///   `version`) set; `meta.version` is the resource's [`ETag`] and changes on every write.
///   `meta.location` is left to the service, which knows the base URL.
/// - `expected: Some(tag)` on a write means "only if the current version is `tag`"; a mismatch is
///   [`ScimError::PreconditionFailed`] (412), checked atomically with the write.
/// - A missing resource is [`ScimError::NotFound`]; a `userName` already in use (compared
///   case-insensitively) is [`ScimError::Uniqueness`] (409).
/// - `scan_*` returns resources in a stable order (the same for repeated calls without writes),
///   `offset` counted from 0.
/// - A failed call changes nothing.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use scim_core::provision::{InMemoryProvisioner, ListQuery, Provisioner, RequestContext};
/// use scim_core::User;
///
/// # block_on(async {
/// let backend = InMemoryProvisioner::new();
/// let ctx = RequestContext::new("acme");
/// let created = backend.create_user(&ctx, User::new("bjensen")).await?;
/// assert!(created.meta.as_ref().and_then(|m| m.version.as_ref()).is_some());
///
/// let query = ListQuery::new().with_filter(r#"userName eq "BJENSEN""#.parse()?);
/// let page = backend.search_users(&ctx, &query).await?;
/// assert_eq!(page.total_results, 1);
/// # Ok::<(), scim_core::ScimError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Creates `user`; its `id` and `meta` as sent are ignored and assigned anew.
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError>;

    /// The user `id`.
    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError>;

    /// The user `id`, as [`get_user`](Self::get_user) returns it, behind an [`Arc`]: the
    /// service's `GET` only reads the user it serves, so a backend that keeps users in memory
    /// can hand out a shared one instead of building a copy for every request (the in-memory
    /// provisioner does). The default wraps [`get_user`](Self::get_user); a wrapper that
    /// changes what `get_user` returns must leave this default in place, or change both alike.
    ///
    /// ```
    /// use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
    /// use scim_core::User;
    ///
    /// # scim_core::provision::conformance::block_on(async {
    /// let backend = InMemoryProvisioner::new();
    /// let ctx = RequestContext::new("acme");
    /// let id = backend.create_user(&ctx, User::new("bjensen")).await?.id.unwrap();
    /// let shared = backend.get_user_shared(&ctx, &id).await?;
    /// assert_eq!(*shared, backend.get_user(&ctx, &id).await?);
    /// # Ok::<(), scim_core::ScimError>(())
    /// # }).unwrap();
    /// ```
    async fn get_user_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<User>, ScimError> {
        self.get_user(ctx, id).await.map(Arc::new)
    }

    /// The user `id` for the service's plain `GET` (SCIM 2.0, no `attributes`): typed and shared
    /// (the default, [`get_user_shared`](Self::get_user_shared)), or as the JSON text a backend
    /// keeps, which the service serves without decoding it (see [`UserJson`]). A backend that
    /// overrides it answers exactly what [`get_user`](Self::get_user) would; a wrapper that
    /// changes what `get_user` returns leaves this default in place, or changes it alike.
    ///
    /// ```
    /// use scim_core::provision::{FetchedUser, InMemoryProvisioner, Provisioner, RequestContext};
    /// use scim_core::User;
    ///
    /// # scim_core::provision::conformance::block_on(async {
    /// let backend = InMemoryProvisioner::new();
    /// let ctx = RequestContext::new("acme");
    /// let id = backend.create_user(&ctx, User::new("bjensen")).await?.id.unwrap();
    /// match backend.fetch_user(&ctx, &id).await? {
    ///     FetchedUser::Shared(user) => assert_eq!(user.user_name, "bjensen"),
    ///     other => panic!("the in-memory store shares its users: {other:?}"),
    /// }
    /// # Ok::<(), scim_core::ScimError>(())
    /// # }).unwrap();
    /// ```
    async fn fetch_user(&self, ctx: &RequestContext, id: &str) -> Result<FetchedUser, ScimError> {
        self.get_user_shared(ctx, id).await.map(FetchedUser::Shared)
    }

    /// Replaces the user `id` with `user` (RFC 7644 §3.5.1: `id`, `meta` and `groups` as sent
    /// are ignored), if its version is `expected` (when given).
    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError>;

    /// Deletes the user `id` (and its group memberships), if its version is `expected`.
    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError>;

    /// Up to `limit` users starting at `offset` (0-based) in a stable order, and nothing more:
    /// the raw listing the default [`Provisioner::search_users`] filters, sorts and pages.
    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError>;

    /// Creates `group`; members must exist (400 `invalidValue` otherwise).
    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError>;

    /// The group `id`.
    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError>;

    /// The group `id` behind an [`Arc`], as [`get_user_shared`](Self::get_user_shared) is to
    /// users. The default wraps [`get_group`](Self::get_group).
    async fn get_group_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<Group>, ScimError> {
        self.get_group(ctx, id).await.map(Arc::new)
    }

    /// Replaces the group `id` with `group` (members included), if its version is `expected`.
    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError>;

    /// Deletes the group `id`, if its version is `expected`.
    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError>;

    /// Up to `limit` groups starting at `offset`, in a stable order.
    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError>;

    /// What this backend keeps, which discovery reports ([`Capabilities::default`]: every
    /// User attribute, no password changes). Wrappers delegate it.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Users matching `query`, sorted and paged. The default scans every user
    /// ([`SCAN_PAGE`] at a time), keeps the matches, sorts them and cuts the page; override it
    /// to push the filter down.
    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        search_users_by_scan(self, ctx, query).await
    }

    /// Groups matching `query`, sorted and paged; see [`Provisioner::search_users`].
    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        search_groups_by_scan(self, ctx, query).await
    }

    /// Applies `patch` to the user `id` atomically. The default reads the user, applies the
    /// PATCH with the built-in schemas and writes it back conditionally on the version it read;
    /// when another writer got there first and the caller gave no `expected` version, it starts
    /// over (a bounded number of times), so concurrent PATCH requests lose no update.
    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        defaults::patch(
            patch,
            expected,
            || self.get_user(ctx, id),
            |user, version| async move { self.replace_user(ctx, id, user, version.as_ref()).await },
        )
        .await
    }

    /// Applies `patch` to the group `id` atomically; see [`Provisioner::patch_user`].
    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        defaults::patch(
            patch,
            expected,
            || self.get_group(ctx, id),
            |group, version| async move {
                self.replace_group(ctx, id, group, version.as_ref())
                    .await
            },
        )
        .await
    }

    /// Adds `members` to the group `group_id` (members already there are left as they are).
    /// The default is a PATCH `add` of `members`.
    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        let patch = defaults::members_patch(crate::patch::OpKind::Add, members)?;
        self.patch_group(ctx, group_id, &patch, None).await
    }

    /// Removes the members whose `value` is in `member_ids` from the group `group_id` (ids that
    /// are not members are ignored). The default reads the group and applies a PATCH `remove`
    /// of the ids it holds.
    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        for _ in 0..3 {
            let group = self.get_group(ctx, group_id).await?;
            let mut present: Vec<String> = member_ids
                .iter()
                .filter(|id| {
                    group
                        .members
                        .iter()
                        .any(|m| m.value.as_deref() == Some(id.as_str()))
                })
                .cloned()
                .collect();
            present.sort_unstable();
            present.dedup();
            if present.is_empty() {
                return Ok(group);
            }
            let patch = remove_members_patch(&present)?;
            match self.patch_group(ctx, group_id, &patch, None).await {
                // Another writer removed some of them in between: look again.
                Err(ScimError::NoTarget { .. }) => {}
                other => return other,
            }
        }
        self.get_group(ctx, group_id).await
    }
}
