//! [`ConfluenceDirectory`]: the [`Directory`] for Confluence Data Center.

use async_trait::async_trait;
use serde_json::Value;

use super::client::ConfluenceClient;
use crate::crowd::CrowdDirectory;
use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges, created_unless_exists};
use crate::error::AtlassianError;
use crate::seats::SeatPool;

/// Confluence Data Center: ids are `userKey`s, which survive renames. Confluence's REST API
/// creates, disables, enables and deletes users and manages groups; it shows no email or
/// status and cannot change a profile \[K\], so reading users, changing names, emails and
/// display names, listing users and keeping SCIM data (a user attribute) go through the
/// Crowd API Confluence embeds (an application allowed in its User Management settings).
/// Every user read costs one more call than on Crowd: the key-to-name lookup.
#[derive(Debug)]
pub(crate) struct ConfluenceDirectory {
    pub(crate) api: ConfluenceClient,
    pub(crate) crowd: CrowdDirectory,
}

fn gone(what: &str) -> AtlassianError {
    AtlassianError::Status {
        call: "Confluence GET /user".to_owned(),
        status: 404,
        message: format!("the user {what} does not exist"),
        fields: Vec::new(),
    }
}

impl ConfluenceDirectory {
    /// The name of the user with key `key`.
    async fn name_of(&self, key: &str) -> Result<Option<String>, AtlassianError> {
        Ok(self.api.user_by_key(key).await?.map(|u| u.username))
    }

    async fn existing_name(&self, key: &str) -> Result<String, AtlassianError> {
        self.name_of(key)
            .await?
            .ok_or_else(|| gone(&format!("with key {key:?}")))
    }

    /// The embedded directory's user, re-keyed with Confluence's key.
    async fn keyed(
        &self,
        mut user: DirectoryUser,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        let Some(c) = self.api.user_by_name(&user.name).await? else {
            return Ok(None);
        };
        user.id = c.user_key;
        Ok(Some(user))
    }
}

#[async_trait]
impl Directory for ConfluenceDirectory {
    fn product(&self) -> &'static str {
        "Confluence"
    }

    /// Confluence 8.4+ takes lower-case user names only \[V\]; SCIM compares `userName`
    /// ignoring case, and the name as sent is shown back.
    fn normalize_name(&self, name: &str) -> String {
        name.to_lowercase()
    }

    /// The embedded Crowd API (one user), then a group read on the REST API, which needs
    /// the administrator.
    async fn test_connection(&self) -> Result<String, AtlassianError> {
        self.crowd.test_connection().await?;
        self.api.group_names(1).await?;
        Ok("the Confluence administrator and the embedded Crowd application".to_owned())
    }

    /// The embedded directory's `lastAuthenticated` attribute \[K\].
    async fn last_login(
        &self,
        user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        self.crowd.last_login(user).await
    }

    /// The licence REST API: one pool, every licensed user \[K\].
    async fn seats(&self) -> Result<Vec<SeatPool>, AtlassianError> {
        let (licensed, used) = self.api.license_seats().await?;
        Ok(vec![SeatPool::whole(
            "confluence",
            "Confluence",
            licensed,
            used,
        )])
    }

    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        let Some(name) = self.name_of(id).await? else {
            return Ok(None);
        };
        let user = self.crowd.user_by_name(&name, groups).await?;
        Ok(user.map(|mut u| {
            id.clone_into(&mut u.id);
            u
        }))
    }

    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        match self.crowd.user_by_name(name, groups).await? {
            Some(user) => self.keyed(user).await,
            None => Ok(None),
        }
    }

    /// `POST /admin/user` (Confluence counts the licence: 402 when none is left \[V\]); 409
    /// for a taken name becomes the contract's 400 naming `username`.
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError> {
        let password = user
            .password
            .clone()
            .unwrap_or_else(crate::crowd::unguessable_password);
        let key = self
            .api
            .create_user(
                &user.name,
                &user.display_name,
                user.email.as_deref().unwrap_or(""),
                &password,
            )
            .await
            .map_err(|e| match e {
                AtlassianError::Status {
                    call,
                    status: 409,
                    message,
                    ..
                } => AtlassianError::Status {
                    call,
                    status: 400,
                    message: format!("{message} (already exists)"),
                    fields: vec!["username".to_owned()],
                },
                other => other,
            })?;
        Ok(DirectoryUser {
            id: key,
            name: user.name.clone(),
            email: user.email.clone().unwrap_or_default(),
            display_name: user.display_name.clone(),
            active: true,
            groups: Vec::new(),
        })
    }

    /// Profile fields through the embedded Crowd API (a rename keeps the key); `active`
    /// through `PUT /admin/user/{u}/disable|enable`.
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let mut by_name = current.clone();
        by_name.id.clone_from(&current.name);
        let profile = UserChanges {
            active: None,
            ..changes.clone()
        };
        let mut updated = if profile.is_empty() {
            by_name
        } else {
            self.crowd.update_user(&by_name, &profile).await?
        };
        if let Some(active) = changes.active {
            self.api.set_enabled(&updated.name, active).await?;
            updated.active = active;
        }
        updated.id.clone_from(&current.id);
        Ok(updated)
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        let name = self.existing_name(id).await?;
        self.crowd.set_password(&name, password).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        let name = self.existing_name(id).await?;
        self.api.delete_user(&name).await
    }

    /// The embedded directory's users, each re-keyed (one `GET /user` each).
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        let mut out = Vec::new();
        for user in self.crowd.users_page(start, max).await? {
            // A user of the directory Confluence does not know (no licence) is skipped.
            if let Some(keyed) = self.keyed(user).await? {
                out.push(keyed);
            }
        }
        Ok(out)
    }

    fn page_size(&self) -> usize {
        self.crowd.page_size()
    }

    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        match self.name_of(id).await? {
            Some(name) => self.crowd.scim_data(&name).await,
            None => Ok(None),
        }
    }

    /// By the name the user was listed with: no lookup of its key.
    async fn user_scim_data(&self, user: &DirectoryUser) -> Result<Option<Value>, AtlassianError> {
        self.crowd.scim_data(&user.name).await
    }

    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        let name = self.existing_name(id).await?;
        self.crowd.set_scim_data(&name, value).await
    }

    async fn ids_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Vec<String>>, AtlassianError> {
        let Some(names) = self.crowd.ids_by_external_id(external_id).await? else {
            return Ok(None);
        };
        let mut keys = Vec::new();
        for name in names {
            if let Some(u) = self.api.user_by_name(&name).await? {
                keys.push(u.user_key);
            }
        }
        Ok(Some(keys))
    }

    fn scim_data_limit(&self) -> usize {
        self.crowd.scim_data_limit()
    }

    fn scim_data_home(&self) -> &'static str {
        "a user attribute of Confluence's embedded directory"
    }

    /// `POST /admin/group`; 409 when it exists \[K\].
    async fn create_group(&self, name: &str) -> Result<bool, AtlassianError> {
        match self.api.create_group(name).await {
            Err(e) if e.status() == Some(409) => Ok(false),
            other => created_unless_exists(other),
        }
    }

    async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.api.delete_group(name).await
    }

    /// `GET /group/{g}/member`: names, keys and display names (no email or status: a group
    /// shows no more).
    async fn group_members(
        &self,
        name: &str,
    ) -> Result<Option<Vec<DirectoryUser>>, AtlassianError> {
        Ok(self.api.members(name).await?.map(|m| {
            m.into_iter()
                .map(|u| DirectoryUser {
                    id: u.user_key,
                    name: u.username,
                    display_name: u.display_name,
                    active: true,
                    ..DirectoryUser::default()
                })
                .collect()
        }))
    }

    /// `PUT /user/{u}/group/{g}`, idempotent \[V\].
    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.api.set_member(group, user_name, true).await
    }

    /// `DELETE /user/{u}/group/{g}`, idempotent \[V\].
    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.api.set_member(group, user_name, false).await
    }

    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.api.group_names(max).await
    }

    /// `GET /group/{g}`: one call for a `displayName eq`.
    async fn find_groups(&self, query: &str, _max: usize) -> Result<Vec<String>, AtlassianError> {
        Ok(self.api.group(query).await?.into_iter().collect())
    }
}
