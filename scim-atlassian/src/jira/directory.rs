//! [`JiraDirectory`]: the [`Directory`] for Jira Data Center.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use scim_core::ScimError;
use serde_json::{Map, Value};

use super::client::{JiraClient, JiraUser, SEARCH_PAGE, UserRef};
use crate::crowd::CrowdClient;
use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges, created_unless_exists};
use crate::error::AtlassianError;
use crate::seats::SeatPool;

/// The largest user property value Jira stores: 32,768 characters \[K\].
const PROPERTY_MAX: usize = 32_768;

/// Jira Data Center through REST v2: ids are user keys, SCIM data lives in a user property,
/// and on Jira before 8.3 (which refuses `active` in `PUT /user` with 400
/// `error.no.value.found.to.be.changed`) `active` goes through the Crowd API embedded in
/// Jira, when credentials for it are configured.
#[derive(Debug)]
pub(crate) struct JiraDirectory {
    pub(crate) client: JiraClient,
    pub(crate) property: String,
    /// The embedded Crowd API (`{jira}/rest/usermanagement/1`), for deactivation before 8.3.
    pub(crate) crowd: Option<CrowdClient>,
    /// The user directory new users are created in (`directoryId` \[K\]), Jira's default
    /// when unset.
    pub(crate) directory_id: Option<u64>,
    /// Set once Jira refused `active` in `PUT /user`: it is older than 8.3, so later
    /// (de)activations go straight to the embedded Crowd API.
    pub(crate) before_8_3: AtomicBool,
}

fn from_jira(u: JiraUser) -> DirectoryUser {
    DirectoryUser {
        id: u.key,
        name: u.name,
        email: u.email_address,
        display_name: u.display_name,
        active: u.active,
        groups: u.groups,
    }
}

impl JiraDirectory {
    /// `active` through the embedded Crowd API, for Jira before 8.3.
    async fn set_active_through_crowd(
        &self,
        name: &str,
        active: bool,
        refused: AtlassianError,
    ) -> Result<(), AtlassianError> {
        let Some(crowd) = &self.crowd else {
            return Err(refused);
        };
        crowd.set_active(name, active).await
    }
}

#[async_trait]
impl Directory for JiraDirectory {
    fn product(&self) -> &'static str {
        "Jira"
    }

    /// [K] Jira refuses a user without an email address (400 naming `email`).
    fn requires_email(&self) -> bool {
        true
    }

    /// `GET /myself`, `GET /serverInfo` (Jira before 8.3 needs the embedded Crowd API to
    /// deactivate), then `GET /mypermissions?permissions=ADMINISTER`: managing users and
    /// groups needs Jira's global Administer permission.
    async fn test_connection(&self) -> Result<String, AtlassianError> {
        let me = self.client.myself().await.map_err(|e| match e {
            AtlassianError::Status {
                status: 401, call, ..
            } => AtlassianError::Status {
                call,
                status: 401,
                message: "Jira refused the credentials: check the user and password or the \
                          personal access token"
                    .to_owned(),
                fields: Vec::new(),
            },
            other => other,
        })?;
        // Jira before 8.3 refuses `active` in `PUT /user`: known now, deprovisioning goes
        // straight to the embedded Crowd API, or the administrator learns it is missing
        // before the first deactivation fails.
        let info = self.client.server_info().await?;
        if info.before_8_3() == Some(true) {
            if self.crowd.is_none() {
                return Err(AtlassianError::InvalidConfig(format!(
                    "Jira {} is older than 8.3 and cannot (de)activate users through REST v2: \
                     configure the embedded Crowd API's application credentials \
                     (embedded_crowd; the bridge's target.crowd_application and crowd_password)",
                    info.version
                )));
            }
            self.before_8_3.store(true, Ordering::Relaxed);
        }
        if !self.client.has_permission("ADMINISTER").await? {
            return Err(AtlassianError::Status {
                call: "Jira GET /mypermissions".to_owned(),
                status: 403,
                message: format!(
                    "{:?} lacks Jira's global Administer permission, which managing users and \
                     groups requires",
                    me.name
                ),
                fields: Vec::new(),
            });
        }
        Ok(me.name)
    }

    async fn user_by_id(
        &self,
        id: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        Ok(self.client.user_by_key(id, groups).await?.map(from_jira))
    }

    async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<DirectoryUser>, AtlassianError> {
        Ok(self.client.user_by_name(name, groups).await?.map(from_jira))
    }

    /// `POST /user` (no notification); the user is active whatever `user.active` says.
    async fn create_user(&self, user: &NewUser) -> Result<DirectoryUser, AtlassianError> {
        let mut body = Map::new();
        body.insert("name".to_owned(), Value::from(user.name.as_str()));
        body.insert(
            "displayName".to_owned(),
            Value::from(user.display_name.as_str()),
        );
        body.insert("notification".to_owned(), Value::from(false));
        if let Some(email) = &user.email {
            body.insert("emailAddress".to_owned(), Value::from(email.as_str()));
        }
        if let Some(password) = &user.password {
            body.insert("password".to_owned(), Value::from(password.as_str()));
        }
        if let Some(dir) = self.directory_id {
            body.insert("directoryId".to_owned(), Value::from(dir));
        }
        // Jira creates users active: the provisioner deactivates one created inactive.
        Ok(from_jira(
            self.client.create_user(&Value::Object(body)).await?,
        ))
    }

    /// `PUT /user?key=` with the changed fields; before 8.3, `active` through the embedded
    /// Crowd API (and the other fields through REST v2 first).
    async fn update_user(
        &self,
        current: &DirectoryUser,
        changes: &UserChanges,
    ) -> Result<DirectoryUser, AtlassianError> {
        let mut body = Map::new();
        if let Some(name) = &changes.name {
            body.insert("name".to_owned(), Value::from(name.as_str()));
        }
        if let Some(display) = &changes.display_name {
            body.insert("displayName".to_owned(), Value::from(display.as_str()));
        }
        if let Some(email) = &changes.email {
            body.insert("emailAddress".to_owned(), Value::from(email.as_str()));
        }
        let old = self.before_8_3.load(Ordering::Relaxed);
        if let Some(active) = changes.active.filter(|_| !old) {
            body.insert("active".to_owned(), Value::from(active));
        }
        let mut updated = current.clone();
        if !body.is_empty() {
            match self
                .client
                .update_user(&current.id, &Value::Object(body.clone()))
                .await
            {
                Ok(u) => updated = from_jira(u),
                Err(e)
                    if e.status() == Some(400)
                        && e.mentions("no.value.found.to.be.changed")
                        && self.crowd.is_some() =>
                {
                    self.before_8_3.store(true, Ordering::Relaxed);
                    body.remove("active");
                    if !body.is_empty() {
                        updated = from_jira(
                            self.client
                                .update_user(&current.id, &Value::Object(body))
                                .await?,
                        );
                    }
                    let active = changes.active.unwrap_or(current.active);
                    self.set_active_through_crowd(&updated.name, active, e)
                        .await?;
                    updated.active = active;
                }
                Err(e) => return Err(e),
            }
        }
        if old {
            if let Some(active) = changes.active {
                let refused = AtlassianError::InvalidConfig(
                    "Jira before 8.3 needs the embedded Crowd API to change `active`".to_owned(),
                );
                self.set_active_through_crowd(&updated.name, active, refused)
                    .await?;
                updated.active = active;
            }
        }
        updated.groups.clone_from(&current.groups);
        Ok(updated)
    }

    async fn set_password(&self, id: &str, password: &str) -> Result<(), AtlassianError> {
        self.client.set_password(id, password).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), AtlassianError> {
        self.client.delete_user(id).await
    }

    /// `/user/search?username=.`, 1,000 a page asked for (Jira may cap it lower \[K\]).
    async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<DirectoryUser>, AtlassianError> {
        let page = self.client.all_users_page(start, max).await?;
        Ok(page.into_iter().map(from_jira).collect())
    }

    fn page_size(&self) -> usize {
        SEARCH_PAGE
    }

    async fn scim_data(&self, id: &str) -> Result<Option<Value>, AtlassianError> {
        self.client.property(id, &self.property).await
    }

    async fn set_scim_data(&self, id: &str, value: &Value) -> Result<(), AtlassianError> {
        self.client.set_property(id, &self.property, value).await
    }

    fn scim_data_limit(&self) -> usize {
        PROPERTY_MAX
    }

    fn scim_data_home(&self) -> &'static str {
        "a Jira user property"
    }

    /// `POST /group`; Jira answers 400 "already exists" for a group it has.
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
            .group_members(name)
            .await?
            .map(|m| m.into_iter().map(from_jira).collect()))
    }

    /// `POST /group/user`; a member already is 400 "already a member" \[K\].
    async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        match self.client.add_member(group, user_name).await {
            Err(e) if e.status() == Some(400) && e.mentions("already a member") => Ok(()),
            other => other,
        }
    }

    /// `DELETE /group/user`; a non-member is 400 "not a member", a deleted user 404 naming
    /// the user \[K\].
    async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        match self.client.remove_member(group, user_name).await {
            Err(e)
                if (e.status() == Some(400) && e.mentions("not a member"))
                    || (e.status() == Some(404) && e.mentions("the user")) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// `/groups/picker`, whose results a Jira setting caps \[K\].
    async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.client.group_names(max).await
    }

    async fn find_groups(&self, query: &str, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.client.pick_groups(query, max).await
    }

    /// Through the Crowd API embedded in Jira (`embedded_crowd`): `lastAuthenticated` or
    /// `login.lastLoginMillis` \[K\]; REST v2 does not tell.
    async fn last_login(
        &self,
        user: &DirectoryUser,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        match &self.crowd {
            Some(crowd) => crowd.last_login(&user.name).await,
            None => Err(AtlassianError::InvalidConfig(
                "last login is not supported by Jira Data Center's REST API v2 (it does not \
                 tell when users last logged in); configure embedded_crowd, the application \
                 credentials of the Crowd API embedded in Jira, which does"
                    .to_owned(),
            )),
        }
    }

    /// `GET /applicationrole`: one pool per licensed role; a role on an unlimited licence
    /// (`hasUnlimitedSeats`, or `numberOfSeats` below 0 \[K\]) has no limit.
    async fn seats(&self) -> Result<Vec<SeatPool>, AtlassianError> {
        let roles = self.client.application_roles().await?;
        Ok(roles
            .into_iter()
            .filter(|r| r.defined)
            .map(|r| {
                let licensed = if r.has_unlimited_seats {
                    None
                } else {
                    u64::try_from(r.number_of_seats).ok()
                };
                SeatPool::role(
                    r.key,
                    r.name,
                    licensed,
                    r.user_count,
                    r.groups,
                    r.selected_by_default,
                )
            })
            .collect())
    }

    /// Projects (`GET /project?expand=lead`, `PUT /project/{key}`) and components
    /// (`GET /project/{key}/components`, `PUT /component/{id}`) led by the user.
    async fn hand_over_leads(
        &self,
        id: &str,
        name: &str,
        project_lead: Option<&str>,
        component_lead: Option<&str>,
    ) -> Result<(), ScimError> {
        if project_lead.is_none() && component_lead.is_none() {
            return Ok(());
        }
        let is_user = |r: Option<&UserRef>, fallback: Option<&str>| {
            r.is_some_and(|r| {
                r.key.as_deref() == Some(id)
                    || r.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            }) || fallback.is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        let done = |what: &str| format!("user {name:?} was not deleted: handing over {what}");
        let projects = self.client.projects_with_leads().await?;
        if let Some(lead) = project_lead {
            for p in projects.iter().filter(|p| is_user(p.lead.as_ref(), None)) {
                self.client
                    .set_project_lead(&p.key, lead)
                    .await
                    .map_err(|e| {
                        crate::provisioner::partial(
                            e,
                            &done(&format!("project {} to {lead:?}", p.key)),
                        )
                    })?;
            }
        }
        if let Some(lead) = component_lead {
            for p in &projects {
                for c in self.client.components(&p.key).await? {
                    if is_user(c.lead.as_ref(), c.lead_user_name.as_deref()) {
                        self.client
                            .set_component_lead(&c.id, lead)
                            .await
                            .map_err(|e| {
                                crate::provisioner::partial(
                                    e,
                                    &done(&format!("component {} to {lead:?}", c.name)),
                                )
                            })?;
                    }
                }
            }
        }
        Ok(())
    }
}
