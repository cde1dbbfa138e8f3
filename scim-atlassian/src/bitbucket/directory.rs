//! [`BitbucketDirectory`]: the [`Directory`] for Bitbucket Data Center, over
//! [`BitbucketTarget`].

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{BitbucketTarget, TargetUser, UserChanges as TargetChanges};
use crate::bitbucket::{NewUser as BitbucketNewUser, PAGE_LIMIT};
use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges};
use crate::error::AtlassianError;
use crate::seats::SeatPool;

/// The most characters of SCIM data kept per user. Bitbucket documents no limit for a user
/// setting's value; this stays well inside what a database text column holds \[K\].
const DATA_MAX: usize = 8_192;

/// Bitbucket Data Center through its admin REST API. The SCIM id is the numeric user id
/// (stable across renames); `active` means "in a login group" (Bitbucket cannot deactivate:
/// see [`crate::bitbucket`]); SCIM data (`externalId`, timestamps, attributes Bitbucket has no
/// field for) lives in a user setting (`/users/{slug}/settings`, one key holding the JSON as
/// text) \[K\]: an administrator writing another user's settings is what Bitbucket's REST API
/// description allows, but it is not widely reported.
#[derive(Debug)]
pub(crate) struct BitbucketDirectory {
    pub(crate) target: BitbucketTarget,
    /// The settings key SCIM data is kept under.
    pub(crate) key: String,
}

fn from_target(u: TargetUser) -> DirectoryUser {
    DirectoryUser {
        id: u.id,
        name: u.name,
        email: u.email,
        display_name: u.display_name,
        active: u.active,
        groups: u.groups,
    }
}

/// Bitbucket's refusals in the terms the [`Directory`] contract uses: a taken name (409 on a
/// create, 400 on `newName` for a rename) is 400 naming `username` and saying "already
/// exists"; a missing or bad `emailAddress` names `email`.
fn contract_error(e: AtlassianError) -> AtlassianError {
    match e {
        AtlassianError::Status {
            call,
            status,
            message,
            mut fields,
        } if matches!(status, 400 | 409) => {
            let taken = message.to_ascii_lowercase().contains("already exists");
            if taken && (status == 409 || fields.iter().any(|f| f == "newName")) {
                fields.push("username".to_owned());
            }
            if fields.iter().any(|f| f == "emailAddress") {
                fields.push("email".to_owned());
            }
            AtlassianError::Status {
                call,
                status: if taken { 400 } else { status },
                message,
                fields,
            }
        }
        other => other,
    }
}

fn gone(call: &str, what: &str) -> AtlassianError {
    AtlassianError::Status {
        call: format!("Bitbucket {call}"),
        status: 404,
        message: format!("{what} does not exist"),
        fields: Vec::new(),
    }
}

impl BitbucketDirectory {
    /// The user in neutral terms, without the configured login groups among its `groups`:
    /// membership of those *is* `active` here, so they show as `active` and are left to it
    /// (group writes driven by a user's `groups` then never remove them by accident).
    fn user(&self, u: TargetUser) -> DirectoryUser {
        let mut user = from_target(u);
        user.groups
            .retain(|g| !super::contains_ignoring_case(&self.target.login_groups, g));
        user
    }

    /// The slug of user `id` (settings are addressed by slug), `None` when there is no user.
    async fn slug(&self, id: &str) -> Result<Option<String>, AtlassianError> {
        Ok(self.target.resolve(id).await?.map(|u| u.slug))
    }
}

#[async_trait]
impl Directory for BitbucketDirectory {
    fn product(&self) -> &'static str {
        "Bitbucket"
    }

    /// [K] Bitbucket refuses a user without an email address (400 naming `email`).
    fn requires_email(&self) -> bool {
        true
    }

    async fn test_connection(&self) -> Result<String, AtlassianError> {
        self.target.test_connection().await?;
        Ok("a Bitbucket administrator".to_owned())
    }

    /// `GET /admin/license`: one pool, every licensed user.
    async fn seats(&self) -> Result<Vec<SeatPool>, AtlassianError> {
        let l = self.target.client().license().await?;
        let licensed = (!l.unlimited_number_of_users).then_some(l.maximum_number_of_users);
        Ok(vec![SeatPool::whole(
            "bitbucket",
            "Bitbucket",
            licensed,
            l.status.current_number_of_users,
        )])
    }

    /// `GET /admin/users?filter=NAME` (one call): the `lastAuthenticationTimestamp` the admin
    /// user listing carries (`RestDetailedUser`); absent when the user never authenticated.
    async fn last_login(
        &self,
        user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        let found = self.target.client().user_by_name(&user.name).await?;
        let Some(found) = found else {
            return Err(gone("GET /admin/users", &format!("user {:?}", user.name)));
        };
        found
            .last_authentication_timestamp
            .map(|ms| {
                chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| AtlassianError::Decode {
                    call: "Bitbucket GET /admin/users".to_owned(),
                    detail: format!(
                        "lastAuthenticationTimestamp {ms} of user {:?} is not a time",
                        user.name
                    ),
                })
            })
            .transpose()
    }

    /// Groups are always read: `active` is decided from them.
    async fn user_by_id(
        &self,
        id: &str,
        _groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        Ok(self.target.get_user(id).await?.map(|u| self.user(u)))
    }

    async fn user_by_name(
        &self,
        name: &str,
        _groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        Ok(self
            .target
            .find_user_by_name(name)
            .await?
            .map(|u| self.user(u)))
    }

    /// Bitbucket requires an email address: without one, its 400 names `email`. Not added to
    /// Bitbucket's default group: which groups a user gets is the policy's business.
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError> {
        let email = user.email.as_deref().unwrap_or("");
        let mut new = BitbucketNewUser::new(&user.name, &user.display_name, email)
            .add_to_default_group(false);
        if let Some(p) = &user.password {
            new = new.password(p);
        }
        self.target
            .create_user(new, user.active)
            .await
            .map(|u| self.user(u))
            .map_err(contract_error)
    }

    /// Details and rename through [`BitbucketTarget::update_user`]; `active: false` removes
    /// the login groups, `active: true` adds the configured ones.
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let details = TargetChanges {
            name: changes.name.clone(),
            display_name: changes.display_name.clone(),
            email: changes.email.clone(),
        };
        let mut user = None;
        if details != TargetChanges::default() {
            user = self
                .target
                .update_user(&current.id, &details)
                .await
                .map_err(contract_error)?;
            if user.is_none() {
                return Err(gone("PUT /admin/users", "the user"));
            }
        }
        match changes.active {
            Some(false) => user = self.target.deprovision_user(&current.id).await?,
            Some(true) => user = self.target.activate_user(&current.id).await?,
            None if user.is_none() => user = self.target.get_user(&current.id).await?,
            None => {}
        }
        user.map(|u| self.user(u))
            .ok_or_else(|| gone("PUT /admin/users", "the user"))
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        let Some(user) = self.target.resolve(id).await? else {
            return Err(gone("PUT /admin/users/credentials", "the user"));
        };
        self.target
            .client()
            .set_password(&user.name, password)
            .await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        if self.target.delete_user(id).await? {
            Ok(())
        } else {
            Err(gone("DELETE /admin/users", "the user"))
        }
    }

    /// `GET /admin/users` pages (sorted by name) with `active` from the login groups'
    /// member lists.
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        let page = self.target.list_users(None, start, max).await?;
        Ok(page.users.into_iter().map(|u| self.user(u)).collect())
    }

    fn page_size(&self) -> usize {
        PAGE_LIMIT
    }

    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        let Some(slug) = self.slug(id).await? else {
            return Ok(None);
        };
        let settings = self.target.client().user_settings(&slug).await?;
        // The JSON is kept as text: a setting someone else wrote badly reads as none.
        Ok(settings
            .and_then(|mut s| s.remove(&self.key))
            .and_then(|v| v.as_str().and_then(|t| serde_json::from_str(t).ok())))
    }

    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        let Some(slug) = self.slug(id).await? else {
            return Err(gone("POST /users/{slug}/settings", "the user"));
        };
        let text = serde_json::to_string(value).map_err(|e| AtlassianError::Decode {
            call: "Bitbucket POST /users/{slug}/settings".to_owned(),
            detail: e.to_string(),
        })?;
        let mut settings = Map::new();
        settings.insert(self.key.clone(), Value::from(text));
        self.target
            .client()
            .update_user_settings(&slug, &settings)
            .await
    }

    fn scim_data_limit(&self) -> usize {
        DATA_MAX
    }

    fn scim_data_home(&self) -> &'static str {
        "a Bitbucket user setting"
    }

    /// Bitbucket answers 409 for a taken name.
    async fn create_group(&self, name: &str) -> Result<bool, AtlassianError> {
        match self.target.create_group(name).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(409) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        if self.target.delete_group(name).await? {
            Ok(())
        } else {
            Err(gone("DELETE /admin/groups", "the group"))
        }
    }

    /// `active` is Bitbucket's own flag (its directory's): deciding login-group membership
    /// for every member would cost a call each, and member listings show no status.
    async fn group_members(
        &self,
        name: &str,
    ) -> Result<Option<Vec<DirectoryUser>>, AtlassianError> {
        let Some(members) = self.target.client().group_members(name).await? else {
            return Ok(None);
        };
        Ok(Some(
            members
                .into_iter()
                .map(|u| {
                    self.target.remember(&u);
                    DirectoryUser {
                        id: u.id.to_string(),
                        name: u.name,
                        email: u.email_address,
                        display_name: u.display_name,
                        active: u.active,
                        groups: Vec::new(),
                    }
                })
                .collect(),
        ))
    }

    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.target
            .client()
            .add_users_to_group(group, &[user_name])
            .await
    }

    /// A user that is gone is not a member: fine. A group that is gone is 404.
    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        match self
            .target
            .client()
            .remove_user_from_group(user_name, group)
            .await
        {
            Err(e) if e.status() == Some(404) && e.has_field("NoSuchUserException") => Ok(()),
            other => other,
        }
    }

    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        let mut names: Vec<String> = self
            .target
            .list_groups()
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        names.truncate(max);
        Ok(names)
    }

    async fn find_groups(&self, query: &str, max: usize) -> Result<Vec<String>, AtlassianError> {
        let mut names: Vec<String> = self
            .target
            .client()
            .groups(Some(query))
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        names.truncate(max);
        Ok(names)
    }
}
