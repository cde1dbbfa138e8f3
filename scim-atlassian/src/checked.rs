//! [`Checked`]: a [`Directory`] whose writes are safe to repeat after a failure that may
//! have been applied.
//!
//! The transport retries what it can on its own: any call the product did not process (429,
//! 503 with `Retry-After`, a failed connect) and idempotent calls after any transient failure.
//! What is left are non-idempotent writes (`POST` creates and renames) that failed with a 5xx,
//! a timeout or a dropped connection ([`AtlassianError::may_have_applied`]): the product may
//! have made the change and lost only the answer. Sending them again blindly would create a
//! duplicate or fail on the first attempt's own success ("already exists"). This wrapper
//! answers them the way the [`Directory`] contract allows, once for every product:
//!
//! - `create_user`: reads the user back by name; found (with the email asked for), that is
//!   the user just created; not found, the create goes again.
//! - `update_user` (renames are `POST`s on Crowd and Bitbucket): reads the user back (by id,
//!   else by its new name) and is done when the changes are there; otherwise writes again
//!   from what it read.
//! - `create_group`, `add_member`, `remove_member`: the contract makes them idempotent (an
//!   existing group answers `false`, a member already added or removed is success), so they
//!   simply go again.
//!
//! Each goes again at most [`RetryPolicy::max_retries`](crate::RetryPolicy) times; then the
//! error becomes [`AtlassianError::Exhausted`] (503 with `Retry-After` for the IdP). Every
//! attempt passes through the transport, so the call observer and sync history see them all.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use scim_core::ScimError;
use serde_json::Value;

use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges};
use crate::error::AtlassianError;

/// The `Retry-After` asked of the IdP when a write stayed unsure after every retry.
const UNSURE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A [`Directory`] that reads back, or repeats, writes that may have been applied (see the
/// module docs).
#[derive(Debug)]
pub(crate) struct Checked {
    inner: Arc<dyn Directory>,
    retries: u32,
}

impl Checked {
    /// `inner`, each unsure write tried again at most `retries` times.
    pub(crate) fn new(inner: Arc<dyn Directory>, retries: u32) -> Self {
        Checked { inner, retries }
    }

    /// `write` until it succeeds, fails for sure, or `retries` attempts after the first were
    /// unsure; before each repeat `settled` reads back whether the unsure attempt took effect
    /// (`Some`: it did, and that is the answer).
    async fn settle<T, W, WF, S, SF>(
        &self,
        mut write: W,
        mut settled: S,
    ) -> Result<T, AtlassianError>
    where
        W: FnMut() -> WF + Send,
        WF: Future<Output = Result<T, AtlassianError>> + Send,
        S: FnMut() -> SF + Send,
        SF: Future<Output = Result<Option<T>, AtlassianError>> + Send,
        T: Send,
    {
        let mut retries = 0;
        loop {
            match write().await {
                Err(e) if e.may_have_applied() => {
                    if let Some(done) = settled().await? {
                        return Ok(done);
                    }
                    if retries >= self.retries {
                        return Err(AtlassianError::exhausted(e, retries, UNSURE_RETRY_AFTER));
                    }
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    /// A write the contract makes idempotent: repeated as it is.
    async fn repeat<W, WF, T>(&self, write: W) -> Result<T, AtlassianError>
    where
        W: FnMut() -> WF + Send,
        WF: Future<Output = Result<T, AtlassianError>> + Send,
        T: Send,
    {
        self.settle(write, || async { Ok(None) }).await
    }

    /// The user `current` names after `changes`, read back: by id, else (an id that is the
    /// name, renamed) by the new name.
    async fn read_back(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        if let Some(user) = self.inner.user_by_id(&current.id, false).await? {
            return Ok(Some(user));
        }
        match &changes.name {
            Some(name) => self.inner.user_by_name(name, false).await,
            None => Ok(None),
        }
    }
}

/// Whether `user` shows every change of `changes`.
fn has_changes(user: &DirectoryUser, changes: &UserChanges) -> bool {
    changes
        .name
        .as_ref()
        .is_none_or(|n| n.eq_ignore_ascii_case(&user.name))
        && changes
            .display_name
            .as_ref()
            .is_none_or(|d| *d == user.display_name)
        && changes
            .email
            .as_ref()
            // Some products hide emails: an empty one proves nothing either way.
            .is_none_or(|e| user.email.is_empty() || e.eq_ignore_ascii_case(&user.email))
        && changes.active.is_none_or(|a| a == user.active)
}

#[async_trait]
impl Directory for Checked {
    fn product(&self) -> &'static str {
        self.inner.product()
    }

    fn requires_email(&self) -> bool {
        self.inner.requires_email()
    }

    fn normalize_name(&self, name: &str) -> String {
        self.inner.normalize_name(name)
    }

    async fn test_connection(&self) -> Result<String, AtlassianError> {
        self.inner.test_connection().await
    }

    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        self.inner.user_by_id(id, groups).await
    }

    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        self.inner.user_by_name(name, groups).await
    }

    /// Read back by name after an unsure create: the user found is the one created when its
    /// email is the one asked for (or either is unknown).
    /// A create that made the user but not what follows inside it (Bitbucket's login groups,
    /// which are its `active`) is completed from what was read back.
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError> {
        self.settle(
            || self.inner.create_user(user),
            || async {
                let found = self.inner.user_by_name(&user.name, false).await?;
                let Some(found) = found.filter(|f| {
                    f.email.is_empty()
                        || user
                            .email
                            .as_ref()
                            .is_none_or(|e| e.eq_ignore_ascii_case(&f.email))
                }) else {
                    return Ok(None);
                };
                if found.active == user.active {
                    return Ok(Some(found));
                }
                let active = UserChanges {
                    active: Some(user.active),
                    ..UserChanges::default()
                };
                self.update_user(&found, &active).await.map(Some)
            },
        )
        .await
    }

    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let mut latest = current.clone();
        let mut retries = 0;
        loop {
            match self.inner.update_user(&latest, changes).await {
                Err(e) if e.may_have_applied() => {
                    match self.read_back(&latest, changes).await? {
                        Some(user) if has_changes(&user, changes) => return Ok(user),
                        // Half done (Bitbucket renames, then updates): go on from here.
                        Some(user) => latest = user,
                        None => return Err(e),
                    }
                    if retries >= self.retries {
                        return Err(AtlassianError::exhausted(e, retries, UNSURE_RETRY_AFTER));
                    }
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.set_password(id, password)).await
    }

    async fn set_user_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.set_user_password(user, password))
            .await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        self.inner.delete_user(id).await
    }

    async fn delete_found_user(&self, user: &DirectoryUser) -> Result<(), AtlassianError> {
        self.inner.delete_found_user(user).await
    }

    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        self.inner.users_page(start, max).await
    }

    async fn user_scim_data(&self, user: &DirectoryUser) -> Result<Option<Value>, AtlassianError> {
        self.inner.user_scim_data(user).await
    }

    async fn users_page_with_data(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Option<Vec<(DirectoryUser, Option<Value>)>>, AtlassianError> {
        self.inner.users_page_with_data(start, max).await
    }

    fn page_size(&self) -> usize {
        self.inner.page_size()
    }

    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        self.inner.scim_data(id).await
    }

    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.set_scim_data(id, value)).await
    }

    async fn set_user_scim_data(
        &self,
        user: &DirectoryUser,
        value: &Value,
    ) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.set_user_scim_data(user, value))
            .await
    }

    async fn ids_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Vec<String>>, AtlassianError> {
        self.inner.ids_by_external_id(external_id).await
    }

    fn scim_data_limit(&self) -> usize {
        self.inner.scim_data_limit()
    }

    fn scim_data_home(&self) -> &'static str {
        self.inner.scim_data_home()
    }

    /// Repeated: a group the first attempt created answers `false`, as any existing group.
    async fn create_group(&self, name: &str) -> Result<bool, AtlassianError> {
        self.repeat(|| self.inner.create_group(name)).await
    }

    async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.inner.delete_group(name).await
    }

    async fn group_members(
        &self,
        name: &str,
    ) -> Result<Option<Vec<DirectoryUser>>, AtlassianError> {
        self.inner.group_members(name).await
    }

    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.add_member(group, user_name))
            .await
    }

    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.repeat(|| self.inner.remove_member(group, user_name))
            .await
    }

    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.inner.group_names(max).await
    }

    async fn find_groups(&self, query: &str, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.inner.find_groups(query, max).await
    }

    async fn hand_over_leads(
        &self,
        id: &str,
        name: &str,
        project_lead: Option<&str>,
        component_lead: Option<&str>,
    ) -> Result<(), ScimError> {
        self.inner
            .hand_over_leads(id, name, project_lead, component_lead)
            .await
    }

    async fn last_login(
        &self,
        user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        self.inner.last_login(user).await
    }

    async fn seats(&self) -> Result<Vec<crate::seats::SeatPool>, AtlassianError> {
        self.inner.seats().await
    }

    fn seats_note(&self) -> Option<&'static str> {
        self.inner.seats_note()
    }
}
