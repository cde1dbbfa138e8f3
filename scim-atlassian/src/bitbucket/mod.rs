//! Bitbucket Data Center (REST API 1.0, admin resources): the typed [`BitbucketClient`] and
//! [`BitbucketTarget`], the adapter a provisioner drives.
//!
//! How Bitbucket differs from Jira, and what this module does about it:
//! - **No deactivation.** Bitbucket keeps no "active" flag of its own (the `active` it sends
//!   reflects an external directory). Whoever holds a global permission (`LICENSED_USER` or
//!   higher), through a group or directly, may log in. So a user is *active* here when they
//!   belong to a **login group**, and deprovisioning removes them from every login group
//!   (and, when asked, revokes permissions granted to them directly). The login groups come
//!   from configuration ([`BitbucketTarget::new`]) and, optionally, from the server's own list
//!   of groups holding a global permission ([`BitbucketTarget::discover_login_groups`]).
//!   Activation adds the user to the *configured* login groups only: discovered ones include
//!   administrator groups, which no automatic activation should grant.
//! - **Identifiers.** A user's numeric `id` survives renames, so it is the SCIM `id`
//!   ([`TargetUser::id`]). Bitbucket has no lookup by id: the adapter remembers the name of
//!   every id it has seen (one filtered listing call then finds the user) and otherwise walks
//!   the user listing, a call per 1,000 users. Groups are identified by name only, and cannot
//!   be renamed.
//! - **`externalId` and other SCIM data.** Bitbucket users have no properties or custom
//!   fields, and the display name and email are the user's own (users see and may edit both,
//!   so nothing is hidden in them). What Bitbucket does keep per user is a map of *user
//!   settings* (`GET`/`POST /users/{slug}/settings`), which an administrator may write
//!   \[K\]: [`AtlassianProvisioner::bitbucket`](crate::AtlassianProvisioner::bitbucket) keeps
//!   the SCIM data (`externalId`, timestamps, attributes Bitbucket has no field for) there, as
//!   JSON text under one key, so nothing lives only in memory and `externalId eq` reads it
//!   back from Bitbucket. [`BitbucketTarget`] itself stores no SCIM data;
//!   [`BitbucketClient::user_settings`] and [`BitbucketClient::update_user_settings`] are
//!   the calls. Settings are addressed by slug, which changes with a rename: each use looks
//!   the user up by id first. If a Bitbucket version refuses an administrator's write there,
//!   creates answer a 5xx naming the settings call and saying the user was created but its
//!   SCIM attributes were not stored.
//! - **Passwords.** Bitbucket needs a password or an emailed invitation (`notify`, which needs
//!   a mail server) to create a user. Users provisioned for single sign-on have neither: when
//!   the caller gives no password and does not ask for `notify`, the adapter sets an
//!   unguessable random one, as Jira does on its own.
//! - **Errors** come as `{"errors": [{"context", "message", "exceptionName"}]}` and become
//!   [`AtlassianError::Status`] with the message and, in `fields`, the `context` (the field
//!   Bitbucket blames).

mod client;
mod directory;

pub(crate) use directory::BitbucketDirectory;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

pub use client::{
    BitbucketClient, BitbucketClientBuilder, BitbucketGroup, BitbucketUser, GlobalPermission,
    NewUser, PAGE_LIMIT, Page, PermittedGroup, PermittedUser,
};

use crate::error::AtlassianError;

/// A user as a provisioner sees it, whatever the product.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetUser {
    /// Bitbucket's numeric user id, as text: stable across renames.
    pub id: String,
    /// The user name.
    pub name: String,
    /// The display name.
    pub display_name: String,
    /// The email address (empty when Bitbucket has none).
    pub email: String,
    /// Whether the user can log in: their directory lets them in and they belong to a login
    /// group (or, with direct permissions checked, hold a global permission themselves).
    pub active: bool,
    /// The names of the user's groups (empty where a listing did not read them: see
    /// [`BitbucketTarget::list_users`]).
    pub groups: Vec<String>,
}

/// A group as a provisioner sees it: Bitbucket groups have a name and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetGroup {
    /// The name, which is also the group's identifier.
    pub name: String,
}

/// A group member as a listing of members returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetMember {
    /// The member's numeric id, as text.
    pub id: String,
    /// The member's user name.
    pub name: String,
    /// The member's display name.
    pub display_name: String,
}

/// One page of users, for SCIM list requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserPage {
    /// The users, sorted by name, with `active` set and `groups` left empty.
    pub users: Vec<TargetUser>,
    /// Where the next page starts, `None` after the last.
    pub next_start: Option<usize>,
}

/// The changes [`BitbucketTarget::update_user`] makes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// A new user name (a rename: the id stays).
    pub name: Option<String>,
    /// A new display name.
    pub display_name: Option<String>,
    /// A new email address.
    pub email: Option<String>,
}

/// [`BitbucketClient`] plus the login-group rules, with one method per thing a provisioner
/// needs. Every method documents its calls; ids are Bitbucket's numeric user ids as text.
///
/// ```
/// use std::sync::Arc;
/// use scim_atlassian::Credentials;
/// use scim_atlassian::bitbucket::{BitbucketClient, BitbucketTarget};
/// use scim_atlassian::simulator::BitbucketSimulator;
///
/// let sim = Arc::new(BitbucketSimulator::new(Credentials::bearer("pat")));
/// let client = BitbucketClient::builder("https://bitbucket.example.com", Credentials::bearer("pat"))
///     .client(sim)
///     .build()?;
/// let target = BitbucketTarget::new(client, vec!["stash-users".to_owned()]);
/// # Ok::<(), scim_atlassian::AtlassianError>(())
/// ```
#[derive(Debug)]
pub struct BitbucketTarget {
    client: BitbucketClient,
    login_groups: Vec<String>,
    discover: bool,
    direct_permissions: bool,
    /// Names of the ids seen so far: Bitbucket cannot look a user up by id.
    names: Mutex<HashMap<u64, String>>,
}

impl BitbucketTarget {
    /// An adapter whose login groups are `login_groups`: the groups activation adds users to
    /// and deprovisioning removes them from.
    pub fn new(client: BitbucketClient, login_groups: Vec<String>) -> Self {
        BitbucketTarget {
            client,
            login_groups,
            discover: false,
            direct_permissions: false,
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Also treat every group the server lists as holding a global permission
    /// (`GET /admin/permissions/groups`, one call per use) as a login group, for deciding
    /// `active` and for deprovisioning (off by default).
    #[must_use]
    pub fn discover_login_groups(mut self, discover: bool) -> Self {
        self.discover = discover;
        self
    }

    /// Count global permissions granted to a user directly (not through a group) as letting
    /// them log in, and revoke them when deprovisioning (off by default: one more call per
    /// user read).
    #[must_use]
    pub fn direct_permissions(mut self, check: bool) -> Self {
        self.direct_permissions = check;
        self
    }

    /// The typed client underneath.
    pub fn client(&self) -> &BitbucketClient {
        &self.client
    }

    /// The configured login groups, plus the discovered ones when discovery is on.
    pub async fn login_groups(&self) -> Result<Vec<String>, AtlassianError> {
        let mut groups = self.login_groups.clone();
        if self.discover {
            for p in self.client.permitted_groups().await? {
                if !contains_ignoring_case(&groups, &p.group.name) {
                    groups.push(p.group.name);
                }
            }
        }
        Ok(groups)
    }

    /// Checks that Bitbucket answers, that the credentials may administer users and groups
    /// (every `/admin` resource needs the `ADMIN` global permission), and that every
    /// configured login group exists and holds a global permission (a typo there would create
    /// users who cannot log in). The error says which failed. Calls:
    /// `GET /admin/permissions/groups`, all pages.
    pub async fn test_connection(&self) -> Result<(), AtlassianError> {
        let permitted = self.client.permitted_groups().await.map_err(|e| match e {
            AtlassianError::Status {
                status: 401, call, ..
            } => AtlassianError::Status {
                call,
                status: 401,
                message: "Bitbucket refused the credentials, or their user lacks the ADMIN \
                          global permission that managing users and groups requires"
                    .to_owned(),
                fields: Vec::new(),
            },
            other => other,
        })?;
        let granting: Vec<String> = permitted.into_iter().map(|p| p.group.name).collect();
        let missing: Vec<&str> = self
            .login_groups
            .iter()
            .filter(|g| !contains_ignoring_case(&granting, g))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AtlassianError::InvalidConfig(format!(
                "login groups {missing:?} do not exist in Bitbucket or hold no global \
                 permission, so their members could not log in"
            )))
        }
    }

    fn remember(&self, user: &BitbucketUser) {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.id, user.name.clone());
    }

    /// The Bitbucket user with `id`: by the remembered name when there is one (it may be stale
    /// after a rename made elsewhere, so the id is checked), else by walking the listing.
    async fn resolve(&self, id: &str) -> Result<Option<BitbucketUser>, AtlassianError> {
        // Only the canonical form: "+7" or "007" would otherwise find user 7 under another id.
        let canonical =
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
        let Some(id) = id.parse::<u64>().ok().filter(|_| canonical) else {
            return Ok(None);
        };
        let known = self
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(name) = known {
            if let Some(u) = self.client.user_by_name(&name).await? {
                if u.id == id {
                    return Ok(Some(u));
                }
            }
        }
        let found = self.client.user_by_id(id).await?;
        if let Some(u) = &found {
            self.remember(u);
        }
        Ok(found)
    }

    /// The names of the user's groups (`GET /admin/users/more-members`, all pages); none for
    /// a user deleted since it was looked up.
    async fn groups_of(&self, name: &str) -> Result<Vec<String>, AtlassianError> {
        Ok(self.client.user_groups(name).await?.unwrap_or_default())
    }

    /// The user with `id` and the names of their groups.
    async fn resolve_with_groups(
        &self,
        id: &str,
    ) -> Result<Option<(BitbucketUser, Vec<String>)>, AtlassianError> {
        let Some(user) = self.resolve(id).await? else {
            return Ok(None);
        };
        let groups = self.groups_of(&user.name).await?;
        Ok(Some((user, groups)))
    }

    /// A [`TargetUser`] with groups read (`GET /admin/users/more-members`) and `active`
    /// decided from them.
    async fn complete(&self, user: BitbucketUser) -> Result<TargetUser, AtlassianError> {
        self.remember(&user);
        let groups = self.groups_of(&user.name).await?;
        let login = self.login_groups().await?;
        let mut active = groups.iter().any(|g| contains_ignoring_case(&login, g));
        if !active && self.direct_permissions {
            active = self.client.direct_permission(&user.name).await?.is_some();
        }
        Ok(target_user(user, active, groups))
    }

    /// The user with `id`, with groups; `None` when there is none. Calls: one filtered
    /// listing for a remembered id (else the listing walk), one group listing.
    pub async fn get_user(&self, id: &str) -> Result<Option<TargetUser>, AtlassianError> {
        match self.resolve(id).await? {
            Some(u) => self.complete(u).await.map(Some),
            None => Ok(None),
        }
    }

    /// The user named `name` (ignoring case), with groups; `None` when there is none. Calls:
    /// one filtered listing, one group listing.
    pub async fn find_user_by_name(
        &self,
        name: &str,
    ) -> Result<Option<TargetUser>, AtlassianError> {
        match self.client.user_by_name(name).await? {
            Some(u) => self.complete(u).await.map(Some),
            None => Ok(None),
        }
    }

    /// Creates a user and, when `active`, adds them to the configured login groups. Without a
    /// password and without `notify`, the user gets a random password (single sign-on users
    /// never use it).
    ///
    /// Calls: `POST /admin/users`, a filtered listing to learn the new id, and for an active
    /// user `POST /admin/users/add-groups`. When that last call fails the new user is deleted
    /// again, so a failed create leaves nothing behind.
    pub async fn create_user(
        &self,
        user: NewUser,
        active: bool,
    ) -> Result<TargetUser, AtlassianError> {
        let user = if user.has_password_or_notify() {
            user
        } else {
            user.password(random_password())
        };
        let name = user.name().to_owned();
        let groups: Vec<&str> = self.login_groups.iter().map(String::as_str).collect();
        if active && groups.is_empty() {
            return Err(no_login_groups());
        }
        self.client.create_user(&user).await?;
        let created = match self.client.user_by_name(&name).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                return Err(AtlassianError::Decode {
                    call: "GET /admin/users".to_owned(),
                    detail: format!("the user {name:?} just created is not listed"),
                });
            }
            Err(e) => return Err(self.undo_create(&name, e).await),
        };
        self.remember(&created);
        if active {
            if let Err(e) = self.client.add_user_to_groups(&created.name, &groups).await {
                return Err(self.undo_create(&created.name, e).await);
            }
        }
        let groups = if active {
            self.login_groups.clone()
        } else {
            Vec::new()
        };
        Ok(target_user(created, active, groups))
    }

    /// Deletes a half-created user, returning the error that stopped the creation (the
    /// clean-up's own failure is secondary: the original cause is what the caller must see).
    async fn undo_create(&self, name: &str, cause: AtlassianError) -> AtlassianError {
        let _ = self.client.delete_user(name).await;
        cause
    }

    /// Renames and/or changes display name and email; `None` when there is no user `id`.
    ///
    /// Calls: the lookup, `POST /admin/users/rename` for a new name, `PUT /admin/users` for
    /// new details, one group listing. When the details fail after a rename, the rename is
    /// undone, so the user is left as they were.
    pub async fn update_user(
        &self,
        id: &str,
        changes: &UserChanges,
    ) -> Result<Option<TargetUser>, AtlassianError> {
        let Some(mut user) = self.resolve(id).await? else {
            return Ok(None);
        };
        let old_name = user.name.clone();
        let renamed = match &changes.name {
            Some(new) if *new != user.name => {
                user = self.client.rename_user(&user.name, new).await?;
                self.remember(&user);
                true
            }
            _ => false,
        };
        if changes.display_name.is_some() || changes.email.is_some() {
            let updated = self
                .client
                .update_user(
                    &user.name,
                    changes.display_name.as_deref(),
                    changes.email.as_deref(),
                )
                .await;
            match updated {
                Ok(u) => user = u,
                Err(e) => {
                    if renamed {
                        if let Ok(back) = self.client.rename_user(&user.name, &old_name).await {
                            self.remember(&back);
                        }
                    }
                    return Err(e);
                }
            }
        }
        self.complete(user).await.map(Some)
    }

    /// Takes away the user's access: removes them from every login group they belong to
    /// (configured and, with discovery on, discovered), and with direct permissions on,
    /// revokes the global permissions granted to them directly. Other groups stay. `None`
    /// when there is no user `id`.
    ///
    /// Calls: the lookup, one group listing, one `POST /admin/users/remove-group` per login
    /// group held, and with direct permissions on a permission lookup plus, when there is
    /// one, `DELETE /admin/permissions/users`. Nothing is rolled back on a failure midway
    /// (that would give access back); repeating the call finishes the job.
    pub async fn deprovision_user(&self, id: &str) -> Result<Option<TargetUser>, AtlassianError> {
        let Some((user, mut groups)) = self.resolve_with_groups(id).await? else {
            return Ok(None);
        };
        let login = self.login_groups().await?;
        let mut kept = Vec::with_capacity(groups.len());
        for g in groups.drain(..) {
            if contains_ignoring_case(&login, &g) {
                self.client.remove_user_from_group(&user.name, &g).await?;
            } else {
                kept.push(g);
            }
        }
        if self.direct_permissions && self.client.direct_permission(&user.name).await?.is_some() {
            self.client.revoke_direct_permissions(&user.name).await?;
        }
        Ok(Some(target_user(user, false, kept)))
    }

    /// Gives access back: adds the user to every configured login group in one all-or-nothing
    /// `POST /admin/users/add-groups`, after the lookup and a group listing. `None` when
    /// there is no user `id`.
    pub async fn activate_user(&self, id: &str) -> Result<Option<TargetUser>, AtlassianError> {
        if self.login_groups.is_empty() {
            return Err(no_login_groups());
        }
        let Some((user, mut groups)) = self.resolve_with_groups(id).await? else {
            return Ok(None);
        };
        let missing: Vec<&str> = self
            .login_groups
            .iter()
            .filter(|g| !contains_ignoring_case(&groups, g))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            self.client.add_user_to_groups(&user.name, &missing).await?;
            groups.extend(missing.iter().map(|g| (*g).to_owned()));
        }
        Ok(Some(target_user(user, true, groups)))
    }

    /// Deletes the user; false when there is no user `id`. Calls: the lookup,
    /// `DELETE /admin/users`.
    pub async fn delete_user(&self, id: &str) -> Result<bool, AtlassianError> {
        let Some(user) = self.resolve(id).await? else {
            return Ok(false);
        };
        self.client.delete_user(&user.name).await?;
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&user.id);
        Ok(true)
    }

    /// One page of users (`GET /admin/users?filter=&start=&limit=`) with `active` decided
    /// from the login groups' member lists (one listing per login group, not one call per
    /// user); `groups` stays empty.
    ///
    /// `filter` is Bitbucket's: users whose name, display name *or* email contains it,
    /// ignoring case. It narrows a search (a SCIM `userName sw "al"` can pass `"al"`), but
    /// the caller must still apply its own filter to what comes back.
    pub async fn list_users(
        &self,
        filter: Option<&str>,
        start: usize,
        limit: usize,
    ) -> Result<UserPage, AtlassianError> {
        let page = self.client.users_page(filter, start, limit).await?;
        let mut licensed = std::collections::HashSet::new();
        if !page.values.is_empty() {
            for g in self.login_groups().await? {
                for m in self.client.group_members(&g).await?.unwrap_or_default() {
                    licensed.insert(m.id);
                }
            }
        }
        let next_start = if page.is_last_page || page.values.is_empty() {
            None
        } else {
            Some(
                page.next_page_start
                    .unwrap_or(page.start + page.values.len()),
            )
        };
        let users = page
            .values
            .into_iter()
            .map(|u| {
                self.remember(&u);
                let active = licensed.contains(&u.id);
                target_user(u, active, Vec::new())
            })
            .collect();
        Ok(UserPage { users, next_start })
    }

    /// Creates a group (`POST /admin/groups`); Bitbucket answers 409 when the name is taken.
    pub async fn create_group(&self, name: &str) -> Result<TargetGroup, AtlassianError> {
        let g = self.client.create_group(name).await?;
        Ok(TargetGroup { name: g.name })
    }

    /// Deletes a group; false when it does not exist. Calls: `DELETE /admin/groups` (a 404
    /// reads as false).
    pub async fn delete_group(&self, name: &str) -> Result<bool, AtlassianError> {
        match self.client.delete_group(name).await {
            Ok(()) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The group named `name` (ignoring case), with its name as Bitbucket spells it. Calls:
    /// one filtered listing.
    pub async fn find_group(&self, name: &str) -> Result<Option<TargetGroup>, AtlassianError> {
        Ok(self
            .client
            .group(name)
            .await?
            .map(|g| TargetGroup { name: g.name }))
    }

    /// Every group (`GET /admin/groups`, all pages).
    pub async fn list_groups(&self) -> Result<Vec<TargetGroup>, AtlassianError> {
        Ok(self
            .client
            .groups(None)
            .await?
            .into_iter()
            .map(|g| TargetGroup { name: g.name })
            .collect())
    }

    /// Adds the user `user_id` to `group`; false when there is no such user (an unknown group
    /// is Bitbucket's 404). Calls: the lookup, `POST /admin/groups/add-users`.
    pub async fn add_member(&self, group: &str, user_id: &str) -> Result<bool, AtlassianError> {
        let Some(user) = self.resolve(user_id).await? else {
            return Ok(false);
        };
        self.client
            .add_users_to_group(group, &[user.name.as_str()])
            .await?;
        Ok(true)
    }

    /// Removes the user `user_id` from `group`; false when there is no such user. Calls: the
    /// lookup, `POST /admin/users/remove-group`.
    pub async fn remove_member(&self, group: &str, user_id: &str) -> Result<bool, AtlassianError> {
        let Some(user) = self.resolve(user_id).await? else {
            return Ok(false);
        };
        self.client
            .remove_user_from_group(&user.name, group)
            .await?;
        Ok(true)
    }

    /// Every member of `group`; `None` when the group does not exist. Calls:
    /// `GET /admin/groups/more-members`, all pages.
    pub async fn list_members(
        &self,
        group: &str,
    ) -> Result<Option<Vec<TargetMember>>, AtlassianError> {
        let Some(members) = self.client.group_members(group).await? else {
            return Ok(None);
        };
        Ok(Some(
            members
                .into_iter()
                .map(|u| {
                    self.remember(&u);
                    TargetMember {
                        id: u.id.to_string(),
                        name: u.name,
                        display_name: u.display_name,
                    }
                })
                .collect(),
        ))
    }
}

fn contains_ignoring_case(list: &[String], name: &str) -> bool {
    let lower = name.to_lowercase();
    list.iter().any(|g| g.to_lowercase() == lower)
}

fn target_user(u: BitbucketUser, in_login_group: bool, groups: Vec<String>) -> TargetUser {
    TargetUser {
        id: u.id.to_string(),
        active: u.active && in_login_group,
        name: u.name,
        display_name: u.display_name,
        email: u.email_address,
        groups,
    }
}

fn no_login_groups() -> AtlassianError {
    AtlassianError::InvalidConfig(
        "Bitbucket cannot activate a user without login groups: configure at least one group \
         holding LICENSED_USER in BitbucketTarget::new"
            .to_owned(),
    )
}

/// A password nobody knows, for users who sign in through single sign-on (32 random hex
/// digits); the suffix satisfies password policies that want mixed character classes.
fn random_password() -> String {
    format!("{}-Aa1", crate::random::random_hex(2))
}
