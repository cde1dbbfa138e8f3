//! The two resource types the service serves, behind one trait so each handler is written once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::Serializer;
use serde::de::DeserializeOwned;

use crate::error::ScimError;
use crate::etag::ETag;
use crate::patch::PatchOp;
use crate::provision::{FetchedUser, ListQuery, Page, Provisioner, RequestContext, UserJson};
use crate::resource::{Group, User};
use crate::scim1::ResourceKind;
use crate::urn;

use super::served;

/// User or Group, as a value (for routing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KindTag {
    User,
    Group,
}

/// A resource for a plain `GET`: typed and shared, or (users, from some backends) stored JSON.
pub(crate) enum Fetched<T> {
    Shared(Arc<T>),
    UserJson(Box<UserJson>),
}

/// A provisioner call in progress, boxed as `async_trait` boxes it: the methods of [`Kind`]
/// hand it on as it is rather than boxing it again.
pub(crate) type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, ScimError>> + Send + 'a>>;

/// What the handlers need to know about a resource type and how to reach the provisioner.
pub(crate) trait Kind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// `User`.
    const NAME: &'static str;
    /// `Users`.
    const ENDPOINT: &'static str;
    /// The core schema URN.
    const CORE: &'static str;
    /// Extension URNs a request may name in `schemas`.
    const EXTENSIONS: &'static [&'static str];
    /// The SCIM 1.1 reading of the shared core URN.
    const V1: ResourceKind;

    /// 400 `invalidValue` when a required attribute is missing.
    fn check_required(&self) -> Result<(), ScimError>;

    /// Extension schemas registered for this type with the service's builder.
    fn registered_extensions(inner: &super::Inner) -> &[crate::schema::Schema];

    /// The bodies of plain `GET`s of this type kept for reuse.
    fn rendered(inner: &super::Inner) -> &super::rendered::RenderedBodies<Self>;

    /// `meta.version`, as stored.
    fn meta_version(&self) -> Option<&str>;

    /// `id`.
    fn id(&self) -> Option<&str>;

    /// Serialises the resource as served: `meta.location` set to `location`, and a `$ref`
    /// under `base_url` for each member or group that has none (clients follow it, and only
    /// the service knows the base URL). The resource itself is not changed or copied.
    fn serialize_served<S: Serializer>(
        &self,
        s: S,
        base_url: &str,
        location: &str,
    ) -> Result<S::Ok, S::Error>;

    /// [`Kind::get`], shared: see [`Provisioner::get_user_shared`].
    fn get_shared<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
    ) -> Pending<'a, Arc<Self>>;
    /// The resource for a plain `GET`: see [`Provisioner::fetch_user`].
    fn fetch<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
    ) -> impl Future<Output = Result<Fetched<Self>, ScimError>> + Send + 'a;
    fn create<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        resource: Self,
    ) -> Pending<'a, Self>;
    fn get<'a>(p: &'a dyn Provisioner, ctx: &'a RequestContext, id: &'a str) -> Pending<'a, Self>;
    fn replace<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        resource: Self,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self>;
    fn delete<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, ()>;
    fn patch<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        patch: &'a PatchOp,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self>;
    fn search<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        query: &'a ListQuery,
    ) -> Pending<'a, Page<Self>>;
}

fn required(value: &str, name: &str) -> Result<(), ScimError> {
    if value.trim().is_empty() {
        Err(ScimError::invalid_value(
            name,
            "is required and must not be empty",
        ))
    } else {
        Ok(())
    }
}

impl Kind for User {
    const NAME: &'static str = "User";
    const ENDPOINT: &'static str = "Users";
    const CORE: &'static str = urn::USER;
    const EXTENSIONS: &'static [&'static str] = &[urn::ENTERPRISE_USER];
    const V1: ResourceKind = ResourceKind::User;

    fn check_required(&self) -> Result<(), ScimError> {
        required(&self.user_name, "userName")
    }

    fn registered_extensions(inner: &super::Inner) -> &[crate::schema::Schema] {
        &inner.user_extensions
    }

    fn rendered(inner: &super::Inner) -> &super::rendered::RenderedBodies<Self> {
        &inner.rendered_users
    }

    fn meta_version(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.version.as_deref())
    }

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn serialize_served<S: Serializer>(
        &self,
        s: S,
        base_url: &str,
        location: &str,
    ) -> Result<S::Ok, S::Error> {
        served::serve_user(s, self, base_url, location)
    }

    fn get_shared<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
    ) -> Pending<'a, Arc<Self>> {
        p.get_user_shared(ctx, id)
    }

    async fn fetch(
        p: &dyn Provisioner,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Fetched<Self>, ScimError> {
        Ok(match p.fetch_user(ctx, id).await? {
            FetchedUser::Shared(user) => Fetched::Shared(user),
            FetchedUser::Json(user) => Fetched::UserJson(user),
        })
    }

    fn create<'a>(p: &'a dyn Provisioner, ctx: &'a RequestContext, r: Self) -> Pending<'a, Self> {
        p.create_user(ctx, r)
    }
    fn get<'a>(p: &'a dyn Provisioner, ctx: &'a RequestContext, id: &'a str) -> Pending<'a, Self> {
        p.get_user(ctx, id)
    }
    fn replace<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        r: Self,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self> {
        p.replace_user(ctx, id, r, expected)
    }
    fn delete<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, ()> {
        p.delete_user(ctx, id, expected)
    }
    fn patch<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        patch: &'a PatchOp,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self> {
        p.patch_user(ctx, id, patch, expected)
    }
    fn search<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        query: &'a ListQuery,
    ) -> Pending<'a, Page<Self>> {
        p.search_users(ctx, query)
    }
}

impl Kind for Group {
    const NAME: &'static str = "Group";
    const ENDPOINT: &'static str = "Groups";
    const CORE: &'static str = urn::GROUP;
    const EXTENSIONS: &'static [&'static str] = &[];
    const V1: ResourceKind = ResourceKind::Group;

    fn check_required(&self) -> Result<(), ScimError> {
        required(&self.display_name, "displayName")
    }

    fn registered_extensions(inner: &super::Inner) -> &[crate::schema::Schema] {
        &inner.group_extensions
    }

    fn rendered(inner: &super::Inner) -> &super::rendered::RenderedBodies<Self> {
        &inner.rendered_groups
    }

    fn meta_version(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.version.as_deref())
    }

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    fn serialize_served<S: Serializer>(
        &self,
        s: S,
        base_url: &str,
        location: &str,
    ) -> Result<S::Ok, S::Error> {
        served::serve_group(s, self, base_url, location)
    }

    fn get_shared<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
    ) -> Pending<'a, Arc<Self>> {
        p.get_group_shared(ctx, id)
    }

    async fn fetch(
        p: &dyn Provisioner,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Fetched<Self>, ScimError> {
        p.get_group_shared(ctx, id).await.map(Fetched::Shared)
    }

    fn create<'a>(p: &'a dyn Provisioner, ctx: &'a RequestContext, r: Self) -> Pending<'a, Self> {
        p.create_group(ctx, r)
    }
    fn get<'a>(p: &'a dyn Provisioner, ctx: &'a RequestContext, id: &'a str) -> Pending<'a, Self> {
        p.get_group(ctx, id)
    }
    fn replace<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        r: Self,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self> {
        p.replace_group(ctx, id, r, expected)
    }
    fn delete<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, ()> {
        p.delete_group(ctx, id, expected)
    }
    fn patch<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        id: &'a str,
        patch: &'a PatchOp,
        expected: Option<&'a ETag>,
    ) -> Pending<'a, Self> {
        p.patch_group(ctx, id, patch, expected)
    }
    fn search<'a>(
        p: &'a dyn Provisioner,
        ctx: &'a RequestContext,
        query: &'a ListQuery,
    ) -> Pending<'a, Page<Self>> {
        p.search_groups(ctx, query)
    }
}
