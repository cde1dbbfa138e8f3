//! [`DocumentStore`]: the smallest thing an application writes to serve its own tables as SCIM,
//! and [`DocumentProvisioner`], which turns one into a complete [`Provisioner`].
//!
//! A [`Provisioner`] has ten required methods, and each must get the contract's details right:
//! 404 versus 412 when a guarded write changes nothing, 409 naming the `userName`, `id` and
//! `meta` ignored on input, members checked, resources parsed. Most of that does not depend on
//! the storage, so it lives here once; a store keeps JSON documents and says what happened.

use std::error::Error as StdError;

use async_trait::async_trait;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Capabilities, Provisioner, RequestContext};
use crate::error::ScimError;
use crate::etag::ETag;
use crate::resource::{Group, User};

/// Which resource type a [`DocumentStore`] call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DocumentKind {
    /// SCIM Users.
    User,
    /// SCIM Groups.
    Group,
}

impl DocumentKind {
    /// The resource type's name: `"User"` or `"Group"`.
    pub const fn name(self) -> &'static str {
        match self {
            DocumentKind::User => "User",
            DocumentKind::Group => "Group",
        }
    }
}

/// A resource as a [`DocumentStore`] writes it: its attributes as JSON, without `id`, `meta`,
/// a user's `groups` or a group's `members` (which the store keeps in its own columns and
/// tables), and a group's member ids apart.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    kind: DocumentKind,
    json: String,
    members: Vec<String>,
}

impl Document {
    fn new<T: Serialize>(
        kind: DocumentKind,
        resource: &T,
        members: Vec<String>,
    ) -> Result<Self, ScimError> {
        let mut value = serde_json::to_value(resource)?;
        if let Some(fields) = value.as_object_mut() {
            for kept_elsewhere in ["id", "meta", "groups", "members"] {
                fields.remove(kept_elsewhere);
            }
        }
        Ok(Document {
            kind,
            json: value.to_string(),
            members,
        })
    }

    /// Whether this is a User or a Group.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The attributes as a JSON object, e.g. `{"userName":"bjensen","active":true,...}`.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// A group's member ids, sorted and without duplicates; empty for a user.
    pub fn members(&self) -> &[String] {
        &self.members
    }
}

/// What a [`DocumentStore::write`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// The document was stored under this id.
    Stored(String),
    /// Nothing was written: no resource has the id, or its version is not the expected one
    /// ([`DocumentProvisioner`] reads it to tell 404 from 412).
    NoMatch,
    /// Nothing was written: a group names this member id, which is not a user of the tenant.
    UnknownMember(String),
}

/// Storage for SCIM resources as JSON documents, per tenant: what an application implements to
/// serve its own tables as SCIM, wrapped in a [`DocumentProvisioner`].
///
/// Contract:
/// - [`read`](DocumentStore::read) returns complete resources as JSON text, with `id` and `meta`
///   (`resourceType`, `created`, `lastModified`, `version` as an `ETag` such as `W/"3"`), a user's
///   `groups` and a group's `members`, in a stable order.
/// - A write is all or nothing. `expected: Some(tag)` means "only if the current version is
///   `tag`" ([`ETag::opaque`] is its value); every write gives the resource a new version.
/// - `userName` is unique per tenant, compared case-insensitively; an error for which
///   [`is_conflict`](DocumentStore::is_conflict) is true becomes 409 `uniqueness`.
/// - Any other error becomes a 500 naming it, so the store's own error type can be used with `?`.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// The storage's own error (e.g. `sqlx::Error`).
    type Error: StdError + Send + Sync + 'static;

    /// Up to `limit` resources of `kind` from `offset`, or (`id: Some`) the one with that id
    /// (none when it does not exist).
    async fn read(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, Self::Error>;

    /// Inserts `doc` (`id: None`) or replaces the resource `id` if its version is `expected`,
    /// and for a group sets its members to [`Document::members`].
    async fn write(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        doc: &Document,
        expected: Option<&ETag>,
    ) -> Result<Written, Self::Error>;

    /// Deletes the resource `id` if its version is `expected`, and the user from every group;
    /// `false` when nothing was deleted (missing, or another version).
    async fn delete(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<bool, Self::Error>;

    /// Whether `error` is the store refusing a duplicate `userName` (a unique index).
    fn is_conflict(&self, error: &Self::Error) -> bool {
        let _ = error;
        false
    }

    /// What the store keeps, for discovery; see [`Provisioner::capabilities`].
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

/// A [`Provisioner`] over a [`DocumentStore`]: filtering, sorting, paging, PATCH and member
/// changes are the trait's defaults over the store's reads and writes.
///
/// ```
/// use scim_core::provision::{DocumentProvisioner, DocumentStore};
/// # fn serve<S: DocumentStore + 'static>(store: S) {
/// let provisioner = DocumentProvisioner::new(store);
/// let service = scim_core::ScimService::builder(std::sync::Arc::new(provisioner)).build();
/// # let _ = service;
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct DocumentProvisioner<S> {
    store: S,
}

impl<S: DocumentStore> DocumentProvisioner<S> {
    /// Serves `store`.
    pub fn new(store: S) -> Self {
        DocumentProvisioner { store }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn failed(&self, error: &S::Error, user_name: Option<&str>) -> ScimError {
        match user_name {
            Some(name) if self.store.is_conflict(error) => ScimError::uniqueness("userName", name),
            _ => ScimError::other(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                format!("storage: {error}"),
            ),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: &str,
    ) -> Result<T, ScimError> {
        let found = self.store.read(ctx, kind, Some(id), 0, 1).await;
        match found.map_err(|e| self.failed(&e, None))?.first() {
            Some(json) => parse(kind, json),
            None => Err(ScimError::not_found(kind.name(), id)),
        }
    }

    async fn scan<T: DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<T>, ScimError> {
        let found = self.store.read(ctx, kind, None, offset, limit).await;
        let texts = found.map_err(|e| self.failed(&e, None))?;
        // A document that does not parse is the store's fault (500), as in `get`.
        texts.iter().map(|json| parse(kind, json)).collect()
    }

    async fn save<T: DeserializeOwned>(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        doc: Document,
        user_name: Option<&str>,
        expected: Option<&ETag>,
    ) -> Result<T, ScimError> {
        let written = self.store.write(ctx, id, &doc, expected).await;
        match written.map_err(|e| self.failed(&e, user_name))? {
            Written::Stored(id) => self.get(ctx, doc.kind, &id).await,
            Written::NoMatch => match id {
                Some(id) => Err(self.no_match(ctx, doc.kind, id, expected).await),
                // An insert is not guarded: writing nothing breaks the store's contract.
                None => Err(ScimError::other(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    format!("storage: a new {} was not written", doc.kind.name()),
                )),
            },
            Written::UnknownMember(member) => Err(ScimError::invalid_value(
                "members",
                format!("no user has the id {member:?}"),
            )),
        }
    }

    /// Why a guarded write changed nothing: the resource is missing (404) or has another
    /// version (412).
    async fn no_match(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: &str,
        expected: Option<&ETag>,
    ) -> ScimError {
        let kind_name = kind.name();
        match (self.get::<Value>(ctx, kind, id).await, expected) {
            (Ok(_), Some(tag)) => ScimError::precondition_failed(format!(
                "the {kind_name} {id:?} is no longer at version {tag}"
            )),
            // Unguarded, existing, and still not written: the store broke its contract.
            (Ok(_), None) => ScimError::other(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                format!("storage: the {kind_name} {id:?} exists but was not changed"),
            ),
            (Err(e), _) => e,
        }
    }

    async fn remove(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let deleted = self.store.delete(ctx, kind, id, expected).await;
        if deleted.map_err(|e| self.failed(&e, None))? {
            Ok(())
        } else {
            Err(self.no_match(ctx, kind, id, expected).await)
        }
    }
}

/// A stored document as a resource; one that does not parse is the store's fault (500), not
/// the client's.
fn parse<T: DeserializeOwned>(kind: DocumentKind, json: &str) -> Result<T, ScimError> {
    serde_json::from_str(json).map_err(|e| {
        let id = serde_json::from_str::<Value>(json)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        let detail = format!(
            "storage: the {} {id:?} it holds is not one: {e}",
            kind.name()
        );
        ScimError::other(StatusCode::INTERNAL_SERVER_ERROR, None, detail)
    })
}

fn user_document(user: &User) -> Result<Document, ScimError> {
    if user.user_name.trim().is_empty() {
        return Err(ScimError::invalid_value("userName", "must not be empty"));
    }
    Document::new(DocumentKind::User, user, Vec::new())
}

fn group_document(group: &Group) -> Result<Document, ScimError> {
    if group.display_name.trim().is_empty() {
        return Err(ScimError::invalid_value("displayName", "must not be empty"));
    }
    let mut members = Vec::with_capacity(group.members.len());
    for member in &group.members {
        match member.value.as_deref() {
            Some(id) if !id.is_empty() => members.push(id.to_owned()),
            _ => return Err(ScimError::invalid_value("members", "a member has no value")),
        }
    }
    members.sort_unstable();
    members.dedup();
    Document::new(DocumentKind::Group, group, members)
}

#[async_trait]
impl<S: DocumentStore> Provisioner for DocumentProvisioner<S> {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        let doc = user_document(&user)?;
        self.save(ctx, None, doc, Some(&user.user_name), None).await
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.get(ctx, DocumentKind::User, id).await
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let doc = user_document(&user)?;
        self.save(ctx, Some(id), doc, Some(&user.user_name), expected)
            .await
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.remove(ctx, DocumentKind::User, id, expected).await
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.scan(ctx, DocumentKind::User, offset, limit).await
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.save(ctx, None, group_document(&group)?, None, None)
            .await
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.get(ctx, DocumentKind::Group, id).await
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.save(ctx, Some(id), group_document(&group)?, None, expected)
            .await
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.remove(ctx, DocumentKind::Group, id, expected).await
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.scan(ctx, DocumentKind::Group, offset, limit).await
    }

    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }
}
