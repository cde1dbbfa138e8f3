//! [`Directory`]: the one interface [`AtlassianProvisioner`](crate::AtlassianProvisioner)
//! provisions through, whatever the product (Jira, Crowd, Confluence, Bitbucket Data Center).
//!
//! The provisioner owns every SCIM decision (mapping, versions, policy, partial-failure
//! messages); a `Directory` only makes the product's calls and answers in these neutral
//! types, smoothing over the product's quirks as its contract below says. Implementing it for
//! another product is what adding a target takes:
//!
//! 1. a typed client in `src/<product>/client.rs` on the crate's shared transport
//!    (`crate::transport::Transport`: retries, call observers, error bodies of every Atlassian
//!    shape, errors named `<Product> METHOD /path`);
//! 2. `impl Directory` in `src/<product>/directory.rs`, meeting the contract below (e.g.
//!    Bitbucket Data Center, which cannot deactivate: `update_user` with `active: Some(false)`
//!    removes the login-granting groups instead, and says so in its docs);
//! 3. a target in `src/builder.rs` (a `Target` variant, an `AtlassianProvisioner::<product>`
//!    constructor, a `build` arm), so the shared transport options and policy apply;
//! 4. a simulator in the scimrs-atlassian-sim crate (`scim-atlassian-sim/src/<product>.rs`) and the conformance suite against it (see
//!    `tests/crowd_provisioner.rs`).

use async_trait::async_trait;
use scim_core::ScimError;
use serde_json::Value;

use crate::error::AtlassianError;
use crate::seats::SeatPool;

/// A user as the product holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryUser {
    /// The SCIM `id`: what identifies the user for as long as it exists (Jira's user key,
    /// Confluence's `userKey`; on Crowd a random id kept in a user attribute, or the name of
    /// a user that has none).
    pub id: String,
    /// The user name (what the product logs users in with; memberships name it).
    pub name: String,
    /// The email address (empty when the product has none or hides it).
    pub email: String,
    /// The display name.
    pub display_name: String,
    /// Whether the user may log in.
    pub active: bool,
    /// The user's group names, filled in only when asked for (`groups: true`).
    pub groups: Vec<String>,
}

/// What a new user is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The user name.
    pub name: String,
    /// The display name (never empty: the provisioner finds a stand-in).
    pub display_name: String,
    /// The email address, when the SCIM user has one.
    pub email: Option<String>,
    /// The given and family names, for products that keep them apart (Crowd).
    pub first_name: Option<String>,
    /// The family name.
    pub last_name: Option<String>,
    /// The initial password, when the SCIM user carries one (products that need one get a
    /// random password from the directory, never a guessable one).
    pub password: Option<String>,
    /// Whether the user starts active.
    pub active: bool,
}

/// The fields a user write changes; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserChanges {
    /// A new user name (a rename).
    pub name: Option<String>,
    /// A new display name.
    pub display_name: Option<String>,
    /// A new email address.
    pub email: Option<String>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

impl UserChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.display_name.is_none()
            && self.email.is_none()
            && self.active.is_none()
    }
}

/// One product's user and group calls, in the terms the provisioner needs.
///
/// Contract (what the provisioner relies on; each implementation documents how its product
/// meets it):
/// - Reads answer `Ok(None)` for what does not exist, never an error.
/// - `create_user` refuses a taken name with an [`AtlassianError::Status`] 400 whose `fields`
///   name `username` and whose message says `already exists`; a missing email that the
///   product requires is 400 naming the field `email`.
/// - `update_user`, `set_password`, `delete_user`: 404 when the user is gone; `delete_user` is
///   400 mentioning `lead` when the product refuses to delete someone who leads something.
/// - Group calls are idempotent where SCIM needs them to be: `create_group` answers `false`
///   for a group that exists, `add_member` succeeds for a member, `remove_member` for a
///   non-member or a user that is gone. A missing group is 404 mentioning `group`.
/// - User data ([`Directory::scim_data`]) is one JSON value per user kept in the product
///   (Jira user property, Crowd attribute, Confluence user property), so nothing of a SCIM
///   user lives only in memory; at most [`Directory::scim_data_limit`] characters.
/// - Retries, paging and the product's error bodies are the implementation's business.
#[async_trait]
pub trait Directory: Send + Sync + std::fmt::Debug {
    /// The product's name for messages (`Jira`, `Crowd`).
    fn product(&self) -> &'static str;

    /// Whether the product refuses a user without an email address (Jira, Bitbucket), which
    /// discovery then reports as `emails` required.
    fn requires_email(&self) -> bool {
        false
    }

    /// The name the product keeps for user name `name` (after the policy's transformation):
    /// `name` itself unless the product only takes one spelling (Confluence: lower-case).
    fn normalize_name(&self, name: &str) -> String {
        name.to_owned()
    }

    /// Checks that the product answers and the credentials may manage users and groups;
    /// returns who the credentials belong to.
    async fn test_connection(&self) -> Result<String, AtlassianError>;

    /// The user with SCIM id `id`; its groups too when `groups`.
    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError>;

    /// The user named `name` (the product compares names ignoring case); its groups too when
    /// `groups`.
    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError>;

    /// Creates a user (in the configured user directory, where the product has several).
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError>;

    /// Changes the fields `changes` sets on user `current` (as last read). Products whose
    /// updates replace the whole record send `current` with the changes applied. Where the id
    /// is the name, a rename changes the id: the answer carries the new one (Crowd: only for
    /// a user that had no stable id yet).
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError>;

    /// Sets user `id`'s password (which appears in no error).
    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError>;

    /// [`Directory::set_password`] for a user just read: products that address users by
    /// something else than the id (Crowd, by name) save the id's lookup.
    async fn set_user_password(
        &self,
        user: &DirectoryUser,
        password: &str,
    ) -> Result<(), AtlassianError> {
        self.set_password(&user.id, password).await
    }

    /// Deletes user `id` for good.
    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError>;

    /// [`Directory::delete_user`] for a user just read (as [`Directory::set_user_password`]).
    async fn delete_found_user(&self, user: &DirectoryUser) -> Result<(), AtlassianError> {
        self.delete_user(&user.id).await
    }

    /// One page of every user (active and inactive) in a stable order, from `start`, at most
    /// `max`. A short page is not necessarily the last; an empty one is.
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError>;

    /// The page size [`Directory::users_page`] is best asked for.
    fn page_size(&self) -> usize;

    /// The SCIM data kept for user `id`, `None` when there is none.
    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError>;

    /// Replaces the SCIM data kept for user `id`.
    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError>;

    /// [`Directory::set_scim_data`] for a user just read or written (as
    /// [`Directory::set_user_password`]).
    async fn set_user_scim_data(
        &self,
        user: &DirectoryUser,
        value: &Value,
    ) -> Result<(), AtlassianError> {
        self.set_scim_data(&user.id, value).await
    }

    /// The ids of users whose SCIM data holds `externalId` = `external_id`, when the product
    /// can search for it (the provisioner reads and checks each); `None` when it cannot, and
    /// the provisioner pages every user instead (the default).
    async fn ids_by_external_id(
        &self,
        _external_id: &str,
    ) -> Result<Option<Vec<String>>, AtlassianError> {
        Ok(None)
    }

    /// The most characters of JSON [`Directory::set_scim_data`] can keep.
    fn scim_data_limit(&self) -> usize;

    /// Where SCIM data lives, for messages (`a Jira user property`).
    fn scim_data_home(&self) -> &'static str;

    /// Creates group `name`: `true` when created, `false` when it existed.
    async fn create_group(&self, name: &str) -> Result<bool, AtlassianError>;

    /// Deletes group `name` (404 when there is none).
    async fn delete_group(&self, name: &str) -> Result<(), AtlassianError>;

    /// Every member of group `name` (inactive users included), `None` when there is no such
    /// group.
    async fn group_members(&self, name: &str)
    -> Result<Option<Vec<DirectoryUser>>, AtlassianError>;

    /// Adds user `user_name` to group `group`.
    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError>;

    /// Removes user `user_name` from group `group`.
    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError>;

    /// Group names, at most `max` (products may cap listings: say so in the implementation).
    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError>;

    /// Names of groups whose name contains `query` (ignoring case), at most `max`; a superset
    /// is fine, the provisioner compares names itself.
    async fn find_groups(&self, query: &str, max: usize) -> Result<Vec<String>, AtlassianError>;

    /// When user `user` last logged in (`Ok(None)`: never), for the inactive-user cleanup.
    /// Products that do not tell answer an [`AtlassianError::InvalidConfig`] saying so.
    async fn last_login(
        &self,
        _user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        Err(AtlassianError::InvalidConfig(format!(
            "last login is not supported by {}: its REST API does not tell when users last \
             logged in",
            self.product()
        )))
    }

    /// The licence's seat pools as the product counts them; empty when it does not tell
    /// (then [`Directory::seats_note`] says why).
    async fn seats(&self) -> Result<Vec<SeatPool>, AtlassianError> {
        Ok(Vec::new())
    }

    /// Why [`Directory::seats`] is empty on this product, for messages.
    fn seats_note(&self) -> Option<&'static str> {
        None
    }

    /// Before user `id` (`name`) is deleted: hands what it leads to the given leads (Jira
    /// projects and components). Nothing by default: most products have no leads.
    async fn hand_over_leads(
        &self,
        _id: &str,
        _name: &str,
        _project_lead: Option<&str>,
        _component_lead: Option<&str>,
    ) -> Result<(), ScimError> {
        Ok(())
    }
}

/// A create's outcome as [`Directory::create_group`] answers it: `false` for 400 "already
/// exists", as Jira and Crowd both say \[K\].
pub(crate) fn created_unless_exists(r: Result<(), AtlassianError>) -> Result<bool, AtlassianError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.status() == Some(400) && e.mentions("already exists") => Ok(false),
        Err(e) => Err(e),
    }
}
