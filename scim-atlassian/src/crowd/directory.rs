//! [`CrowdDirectory`]: the [`Directory`] for Crowd: users by a stable SCIM id kept in a Crowd
//! user attribute (found through Crowd's attribute search), or by name for users made
//! outside SCIM; SCIM data in another attribute.

use async_trait::async_trait;
use scim_provisioning::bounded::{self, Task};
use serde_json::Value;

use super::client::{CROWD_PAGE, CrowdClient, CrowdUser, WithAttributes};
use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges, created_unless_exists};
use crate::error::AtlassianError;

/// Characters of SCIM data per attribute value: Crowd keeps values of at most 255
/// characters \[K\], and each carries a 4-character position prefix.
const CHUNK: usize = 250;
/// The longest attribute value Crowd keeps \[K\].
const VALUE_MAX: usize = 255;
/// The most SCIM data kept per user (as much as Jira's user properties hold).
const DATA_MAX: usize = 32_768;
/// What every stable SCIM id starts with; 32 lower-case hex digits follow.
pub(crate) const ID_PREFIX: &str = "crowd-";
/// Hex digits after [`ID_PREFIX`].
const ID_DIGITS: usize = 32;

/// Crowd through its usermanagement API. Crowd users have no identifier but their name, and
/// a rename (`POST /user/rename` \[K\]) changes it, while SCIM wants an `id` that never
/// changes (RFC 7643 §3.1). So, with `stable_ids`, a user created through SCIM gets a random
/// id (`crowd-` and 32 hex digits), kept in Crowd in the user attribute `<attribute>.id`
/// (attributes follow renames \[K\]) and found through Crowd's attribute search
/// (`GET /search?restriction=<attribute>.id = "..."` \[K\]): one call, as a lookup by name
/// was. Reads ask for `expand=attributes`, so listings and lookups by name learn the id in
/// the calls they made anyway.
///
/// A user without that attribute (made in Crowd's console, or before stable ids) keeps its
/// name as its id; a name-shaped id never finds a user that has a stable id (and a user made
/// by hand with a name shaped like a stable id is found by listings and by name, not by id). When such a
/// user is renamed through SCIM, it gets a stable id then: its id changes that once (the
/// answer to the rename carries the new one), and never again.
///
/// Without `stable_ids` (Confluence's use of its embedded Crowd API, whose SCIM id is
/// Confluence's `userKey`), every id is the user name.
///
/// SCIM data lives in a user attribute, split into values of at most 255 characters, each
/// prefixed with its position (`000|`), since Crowd keeps an attribute's values as a set
/// \[K\].
#[derive(Debug)]
pub(crate) struct CrowdDirectory {
    pub(crate) client: CrowdClient,
    pub(crate) attribute: String,
    /// Whether users created or renamed through SCIM get a stable id (the Crowd target).
    pub(crate) stable_ids: bool,
}

impl CrowdDirectory {
    fn external_id_attribute(&self) -> String {
        format!("{}.externalId", self.attribute)
    }

    fn id_attribute(&self) -> String {
        format!("{}.id", self.attribute)
    }

    /// The SCIM id of a user read with its attributes: its stable id, else its name.
    fn id_of(&self, user: &WithAttributes) -> String {
        self.stable_id_of(user)
            .unwrap_or_else(|| user.user.name.clone())
    }

    fn stable_id_of(&self, user: &WithAttributes) -> Option<String> {
        if !self.stable_ids {
            return None;
        }
        user.values(&self.id_attribute())?
            .iter()
            .find(|v| is_stable_id(v))
            .cloned()
    }

    fn to_directory(&self, user: WithAttributes) -> DirectoryUser {
        let id = self.id_of(&user);
        let mut out = from_crowd(user.user);
        out.id = id;
        out
    }

    /// Users of a listing asked for with `expand=user,attributes`: a user answered without
    /// its attributes (a Crowd that ignores the expansion there) is read again with them, so
    /// that it never shows its name where it has a stable id.
    async fn to_directory_all(
        &self,
        users: Vec<WithAttributes>,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        Ok(self
            .with_attributes_all(users)
            .await?
            .into_iter()
            .map(|u| self.to_directory(u))
            .collect())
    }

    /// `users`, those answered without their attributes read again with them (see
    /// [`CrowdDirectory::to_directory_all`]).
    async fn with_attributes_all(
        &self,
        users: Vec<WithAttributes>,
    ) -> Result<Vec<WithAttributes>, AtlassianError> {
        // A few reads at a time, as the scans that call this read the rest.
        let reads: Vec<Task<'_, Result<WithAttributes, AtlassianError>>> = users
            .into_iter()
            .map(|user| {
                Box::pin(async move {
                    if user.has_attributes() {
                        return Ok(user);
                    }
                    let read = self.client.user_with_attributes(&user.user.name).await?;
                    Ok(read.unwrap_or(user))
                }) as Task<'_, _>
            })
            .collect();
        bounded::run_in_order(reads, crate::provisioner::READS_IN_FLIGHT)
            .await
            .into_iter()
            .collect()
    }

    /// The SCIM data among `user`'s attributes.
    fn data_of(&self, user: &WithAttributes) -> Option<Value> {
        user.values(&self.attribute)
            .map(<[String]>::to_vec)
            .and_then(decode)
    }

    /// The user whose SCIM id is `id` (with `stable_ids`): one attribute search for a stable
    /// id, one `GET /user?expand=attributes` for a name, which must then have no stable id.
    async fn find(&self, id: &str) -> Result<Option<WithAttributes>, AtlassianError> {
        if is_stable_id(id) {
            let found = self
                .client
                .users_with_attribute(&self.id_attribute(), id)
                .await?;
            return Ok(found
                .into_iter()
                .find(|u| self.stable_id_of(u).as_deref() == Some(id)));
        }
        Ok(self
            .client
            .user_with_attributes(id)
            .await?
            .filter(|u| self.stable_id_of(u).is_none()))
    }

    /// The Crowd name of the user whose SCIM id is `id`; 404 `USER_NOT_FOUND` when none.
    async fn name_of(&self, id: &str) -> Result<String, AtlassianError> {
        if !self.stable_ids {
            return Ok(id.to_owned());
        }
        match self.find(id).await? {
            Some(u) => Ok(u.user.name),
            None => Err(not_found(id)),
        }
    }

    /// Gives user `name` the stable id `id`.
    async fn assign_id(&self, name: &str, id: &str) -> Result<(), AtlassianError> {
        self.client
            .set_attributes(name, &[(&self.id_attribute(), &[id.to_owned()])])
            .await
    }

    /// Writes SCIM data to user `name`.
    async fn write_data(&self, name: &str, value: &Value) -> Result<(), AtlassianError> {
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
                name,
                &[
                    (self.attribute.as_str(), values.as_slice()),
                    (&self.external_id_attribute(), external.as_slice()),
                ],
            )
            .await
    }
}

/// Whether `id` has the shape of a stable id (`crowd-` and 32 lower-case hex digits).
pub(crate) fn is_stable_id(id: &str) -> bool {
    id.strip_prefix(ID_PREFIX).is_some_and(|hex| {
        hex.len() == ID_DIGITS
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A new stable id: [`ID_PREFIX`] and 128 random bits in hex (URL-safe).
fn new_stable_id() -> String {
    format!("{ID_PREFIX}{}", crate::random::random_hex(2))
}

fn not_found(id: &str) -> AtlassianError {
    AtlassianError::Status {
        call: "Crowd GET /search".to_owned(),
        status: 404,
        message: format!("no user has the id {id:?}"),
        fields: vec!["USER_NOT_FOUND".to_owned()],
    }
}

/// The SCIM data in an attribute's values, put back in order by their prefix and joined.
/// Data someone else wrote badly reads as none, like a missing Jira property.
fn decode(mut values: Vec<String>) -> Option<Value> {
    values.sort();
    let text: String = values
        .iter()
        .map(|v| v.split_once('|').map_or("", |(_, chunk)| chunk))
        .collect();
    serde_json::from_str(&text).ok()
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
pub(crate) fn unguessable_password() -> String {
    crate::random::random_hex(4)
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

    /// The `lastAuthenticated` attribute \[V\].
    async fn last_login(
        &self,
        user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        self.client.last_login(&user.name).await
    }

    /// Crowd's application API has no licence call: seats are not read.
    fn seats_note(&self) -> Option<&'static str> {
        Some(
            "Crowd's usermanagement API (application credentials) does not expose the \
             licence's seats; see Crowd's administration console",
        )
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

    /// With stable ids, [`CrowdDirectory::find`]; else `GET /user`. Then
    /// `GET /user/group/direct` when asked for groups.
    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        if !self.stable_ids {
            return self.user_by_name(id, groups).await;
        }
        let Some(user) = self.find(id).await? else {
            return Ok(None);
        };
        let mut user = self.to_directory(user);
        if groups {
            user.groups = self.client.groups_of(&user.name).await?;
        }
        Ok(Some(user))
    }

    /// `GET /user` (`expand=attributes` with stable ids), then `GET /user/group/direct` when
    /// asked for groups.
    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        let user = if self.stable_ids {
            let Some(user) = self.client.user_with_attributes(name).await? else {
                return Ok(None);
            };
            self.to_directory(user)
        } else {
            let Some(user) = self.client.user(name).await? else {
                return Ok(None);
            };
            from_crowd(user)
        };
        let mut user = user;
        if groups {
            user.groups = self.client.groups_of(&user.name).await?;
        }
        Ok(Some(user))
    }

    /// `POST /user` with every field Crowd requires (an unguessable password when the SCIM
    /// user has none); with stable ids, then `POST /user/attribute` with the new id. A user
    /// whose id could not be stored is deleted again: it would otherwise exist under an id
    /// nobody was told.
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
        let mut created = from_crowd(record);
        if self.stable_ids {
            let id = new_stable_id();
            if let Err(e) = self.assign_id(&created.name, &id).await {
                // Best effort: the error that matters is the attribute's.
                let _ = self.client.delete_user(&created.name).await;
                return Err(e);
            }
            created.id = id;
        }
        Ok(created)
    }

    /// A rename first (`POST /user/rename`; attributes, and so the stable id, follow the
    /// user \[K\]; a user without a stable id gets one then), then the record read and `PUT`
    /// back whole with the changes: Crowd's update replaces every field \[V\].
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let mut name = current.name.clone();
        let mut id = current.id.clone();
        if let Some(new_name) = &changes.name {
            self.client
                .rename_user(&name, new_name)
                .await
                .map_err(name_taken)?;
            name.clone_from(new_name);
            if !self.stable_ids {
                id.clone_from(new_name);
            } else if !is_stable_id(&id) {
                let stable = new_stable_id();
                self.assign_id(&name, &stable).await.map_err(|e| {
                    AtlassianError::Status {
                        call: "Crowd POST /user/attribute".to_owned(),
                        status: e.status().unwrap_or(500),
                        message: format!(
                            "user {:?} was renamed {name:?} (its id is now its new name) but                              could not be given a stable id: {e}",
                            current.name
                        ),
                        fields: Vec::new(),
                    }
                })?;
                id = stable;
            }
        }
        let others = UserChanges {
            name: None,
            ..changes.clone()
        };
        if others.is_empty() {
            let mut renamed = current.clone();
            renamed.id = id;
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
        updated.id = id;
        updated.groups.clone_from(&current.groups);
        Ok(updated)
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        let name = self.name_of(id).await?;
        self.client.set_password(&name, password).await
    }

    /// By name: no lookup of the id.
    async fn set_user_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), AtlassianError> {
        self.client.set_password(&user.name, password).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        let name = self.name_of(id).await?;
        self.client.delete_user(&name).await
    }

    /// By name: no lookup of the id.
    async fn delete_found_user(&self, user: &DirectoryUser) -> Result<(), AtlassianError> {
        self.client.delete_user(&user.name).await
    }

    /// `/search?entity-type=user&expand=user` (`user,attributes` with stable ids: the ids come
    /// in the same call).
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        if self.stable_ids {
            let page = self.client.users_page_with_attributes(start, max).await?;
            return self.to_directory_all(page).await;
        }
        let page = self.client.users_page(start, max).await?;
        Ok(page.into_iter().map(from_crowd).collect())
    }

    fn page_size(&self) -> usize {
        CROWD_PAGE
    }

    /// With stable ids, the listing's `expand=user,attributes` carries the SCIM data too: no
    /// read per user.
    async fn users_page_with_data(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Option<Vec<(DirectoryUser, Option<Value>)>>, AtlassianError> {
        if !self.stable_ids {
            return Ok(None);
        }
        let page = self.client.users_page_with_attributes(start, max).await?;
        Ok(Some(
            self.with_attributes_all(page)
                .await?
                .into_iter()
                .map(|u| {
                    let data = self.data_of(&u);
                    (self.to_directory(u), data)
                })
                .collect(),
        ))
    }

    /// The attribute's values, put back in order by their prefix and joined: one call,
    /// `GET /user/attribute` by name, or with stable ids the attribute search that finds the
    /// user, which answers its attributes too.
    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        if self.stable_ids {
            let Some(user) = self.find(id).await? else {
                return Ok(None);
            };
            return Ok(self.data_of(&user));
        }
        let values = self.client.attribute(id, &self.attribute).await?;
        Ok(values.and_then(decode))
    }

    /// The data in chunks, and `externalId` alone in a second attribute (`<attribute>.externalId`,
    /// empty when there is none or it is longer than a value can be), so that Crowd can search
    /// for it; one `POST /user/attribute` for both (after the id's lookup, with stable ids).
    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        let name = self.name_of(id).await?;
        self.write_data(&name, value).await
    }

    /// By name: no lookup of the id.
    async fn set_user_scim_data(
        &self,
        user: &DirectoryUser,
        value: &Value,
    ) -> Result<(), AtlassianError> {
        self.write_data(&user.name, value).await
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
        if self.stable_ids {
            let users = self
                .client
                .users_with_attribute(&self.external_id_attribute(), external_id)
                .await?;
            return Ok(Some(users.iter().map(|u| self.id_of(u)).collect()));
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
        if self.stable_ids {
            return match self.client.members_with_attributes(name).await? {
                Some(members) => Ok(Some(self.to_directory_all(members).await?)),
                None => Ok(None),
            };
        }
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
