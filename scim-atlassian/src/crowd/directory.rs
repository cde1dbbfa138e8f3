//! [`CrowdDirectory`]: the [`Directory`] for Crowd.

use async_trait::async_trait;
use serde_json::Value;

use super::client::{CROWD_PAGE, CrowdClient, CrowdUser};
use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges, created_unless_exists};
use crate::error::AtlassianError;

/// Characters of SCIM data per attribute value: Crowd keeps values of at most 255
/// characters \[K\], and each carries a 4-character position prefix.
const CHUNK: usize = 250;
/// The longest attribute value Crowd keeps \[K\].
const VALUE_MAX: usize = 255;
/// The most SCIM data kept per user (as much as Jira's user properties hold).
const DATA_MAX: usize = 32_768;

/// Crowd through its usermanagement API. Crowd users have no identifier other than their
/// name, so the SCIM id is the name, and a rename (`POST /user/rename` \[K\]) changes it. SCIM data lives in a user
/// attribute, split into values of at most 255 characters, each prefixed with its position
/// (`000|`), since Crowd keeps an attribute's values as a set \[K\].
#[derive(Debug)]
pub(crate) struct CrowdDirectory {
    pub(crate) client: CrowdClient,
    pub(crate) attribute: String,
}

impl CrowdDirectory {
    fn external_id_attribute(&self) -> String {
        format!("{}.externalId", self.attribute)
    }
}

fn from_crowd(u: CrowdUser) -> DirectoryUser {
    DirectoryUser {
        id: u.name.clone(),
        name: u.name,
        email: u.email,
        display_name: u.display_name,
        active: u.active,
        groups: Vec::new(),
    }
}

/// A password nobody knows, for users created without one: Crowd requires a password \[V\].
/// Drawn from the standard library's per-process random hash keys.
pub(crate) fn unguessable_password() -> String {
    use std::fmt::Write;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(64);
    for i in 0..4u32 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(i);
        // Writing to a String cannot fail.
        let _ = write!(out, "{:016x}", h.finish());
    }
    out
}

/// Given and family names from a display name, for Crowd, which requires both \[K\].
fn split_name(display: &str) -> (String, String) {
    let display = display.trim();
    match display.rsplit_once(' ') {
        Some((first, last)) if !first.trim().is_empty() => {
            (first.trim().to_owned(), last.trim().to_owned())
        }
        _ => (display.to_owned(), display.to_owned()),
    }
}

/// Crowd says a name is taken with 400 `INVALID_USER` "...already exists" \[K\]: the
/// provisioner's contract wants the field named.
fn name_taken(e: AtlassianError) -> AtlassianError {
    match e {
        AtlassianError::Status {
            call,
            status: 400,
            message,
            mut fields,
        } if message.to_ascii_lowercase().contains("already exists") => {
            fields.push("username".to_owned());
            AtlassianError::Status {
                call,
                status: 400,
                message,
                fields,
            }
        }
        other => other,
    }
}

#[async_trait]
impl Directory for CrowdDirectory {
    fn product(&self) -> &'static str {
        "Crowd"
    }

    async fn test_connection(&self) -> Result<String, AtlassianError> {
        self.client.check().await.map_err(|e| match e {
            AtlassianError::Status {
                status: 401, call, ..
            } => AtlassianError::Status {
                call,
                status: 401,
                message: "Crowd refused the application: check the application name and \
                          password, and that Crowd allows this address for it"
                    .to_owned(),
                fields: Vec::new(),
            },
            other => other,
        })?;
        Ok("the Crowd application".to_owned())
    }

    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        self.user_by_name(id, groups).await
    }

    /// `GET /user`, then `GET /user/group/direct` when asked for groups.
    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        let Some(user) = self.client.user(name).await? else {
            return Ok(None);
        };
        let mut user = from_crowd(user);
        if groups {
            user.groups = self.client.groups_of(&user.name).await?;
        }
        Ok(Some(user))
    }

    /// `POST /user` with every field Crowd requires; an unguessable password when the SCIM
    /// user has none.
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError> {
        let (first, last) = split_name(&user.display_name);
        let record = CrowdUser {
            name: user.name.clone(),
            first_name: user.first_name.clone().unwrap_or(first),
            last_name: user.last_name.clone().unwrap_or(last),
            display_name: user.display_name.clone(),
            email: user.email.clone().unwrap_or_default(),
            active: user.active,
        };
        let password = user.password.clone().unwrap_or_else(unguessable_password);
        self.client
            .create_user(&record, &password)
            .await
            .map_err(name_taken)?;
        Ok(from_crowd(record))
    }

    /// A rename first (`POST /user/rename`), then the record read and `PUT` back whole with
    /// the changes: Crowd's update replaces every field \[V\].
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let mut name = current.id.clone();
        if let Some(new_name) = &changes.name {
            self.client
                .rename_user(&name, new_name)
                .await
                .map_err(name_taken)?;
            name.clone_from(new_name);
        }
        let others = UserChanges {
            name: None,
            ..changes.clone()
        };
        if others.is_empty() {
            let mut renamed = current.clone();
            renamed.id.clone_from(&name);
            renamed.name = name;
            return Ok(renamed);
        }
        let mut record = self
            .client
            .user(&name)
            .await?
            .ok_or_else(|| AtlassianError::Status {
                call: "Crowd GET /user".to_owned(),
                status: 404,
                message: format!("the user {name:?} does not exist"),
                fields: vec!["USER_NOT_FOUND".to_owned()],
            })?;
        if let Some(display) = &changes.display_name {
            let (first, last) = split_name(display);
            record.first_name = first;
            record.last_name = last;
            record.display_name.clone_from(display);
        }
        if let Some(email) = &changes.email {
            record.email.clone_from(email);
        }
        if let Some(active) = changes.active {
            record.active = active;
        }
        self.client.replace_user(&record).await?;
        let mut updated = from_crowd(record);
        updated.groups.clone_from(&current.groups);
        Ok(updated)
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        self.client.set_password(id, password).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        self.client.delete_user(id).await
    }

    /// `/search?entity-type=user&expand=user`.
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        let page = self.client.users_page(start, max).await?;
        Ok(page.into_iter().map(from_crowd).collect())
    }

    fn page_size(&self) -> usize {
        CROWD_PAGE
    }

    /// The attribute's values, put back in order by their prefix and joined.
    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        let Some(mut values) = self.client.attribute(id, &self.attribute).await? else {
            return Ok(None);
        };
        values.sort();
        let text: String = values
            .iter()
            .map(|v| v.split_once('|').map_or("", |(_, chunk)| chunk))
            .collect();
        // Data someone else wrote badly reads as none, like a missing Jira property.
        Ok(serde_json::from_str(&text).ok())
    }

    /// The data in chunks, and `externalId` alone in a second attribute (`<attribute>.externalId`,
    /// empty when there is none or it is longer than a value can be), so that Crowd can search
    /// for it; one `POST /user/attribute` for both.
    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        let text = value.to_string();
        let chars: Vec<char> = text.chars().collect();
        let values: Vec<String> = chars
            .chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| format!("{i:03}|{}", c.iter().collect::<String>()))
            .collect();
        let external: Vec<String> = value
            .get("externalId")
            .and_then(Value::as_str)
            .filter(|e| e.chars().count() <= VALUE_MAX)
            .map(str::to_owned)
            .into_iter()
            .collect();
        self.client
            .set_attributes(
                id,
                &[
                    (self.attribute.as_str(), values.as_slice()),
                    (&self.external_id_attribute(), external.as_slice()),
                ],
            )
            .await
    }

    /// `GET /search?entity-type=user&restriction=<attribute>.externalId = "..."` \[K\]; an
    /// `externalId` too long for an attribute value was never indexed, so Crowd cannot be
    /// asked (`None`: the provisioner scans).
    async fn ids_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Vec<String>>, AtlassianError> {
        if external_id.chars().count() > VALUE_MAX {
            return Ok(None);
        }
        let names = self
            .client
            .names_with_attribute(&self.external_id_attribute(), external_id)
            .await?;
        Ok(Some(names))
    }

    fn scim_data_limit(&self) -> usize {
        DATA_MAX
    }

    fn scim_data_home(&self) -> &'static str {
        "a Crowd user attribute"
    }

    /// `POST /group`; Crowd answers 400 `INVALID_GROUP` for a group it has \[K\].
    async fn create_group(&self, name: &str) -> Result<bool, AtlassianError> {
        created_unless_exists(self.client.create_group(name).await)
    }

    async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.client.delete_group(name).await
    }

    async fn group_members(
        &self,
        name: &str,
    ) -> Result<Option<Vec<DirectoryUser>>, AtlassianError> {
        Ok(self
            .client
            .members(name)
            .await?
            .map(|m| m.into_iter().map(from_crowd).collect()))
    }

    /// A member already is 409 `MEMBERSHIP_ALREADY_EXISTS` \[K\].
    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        match self.client.add_member(group, user_name).await {
            Err(e) if e.status() == Some(409) => Ok(()),
            other => other,
        }
    }

    /// A non-member is 404 `MEMBERSHIP_NOT_FOUND`, a deleted user 404 `USER_NOT_FOUND` \[K\].
    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        match self.client.remove_member(group, user_name).await {
            Err(e)
                if e.status() == Some(404)
                    && (e.has_field("MEMBERSHIP_NOT_FOUND") || e.has_field("USER_NOT_FOUND")) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.client.group_names(max).await
    }

    /// `GET /group?groupname=`: Crowd looks names up ignoring case, so this finds the one
    /// group a `displayName eq` asks for in one call.
    async fn find_groups(&self, query: &str, _max: usize) -> Result<Vec<String>, AtlassianError> {
        Ok(self.client.group(query).await?.into_iter().collect())
    }
}
