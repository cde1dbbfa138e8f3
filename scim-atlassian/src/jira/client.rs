//! [`JiraClient`]: typed calls to Jira Data Center's REST API v2.

use http::{HeaderValue, Method};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AtlassianError;
use crate::transport::{Connection, Transport, not_found_is_none};

/// Group members per page: Jira's own maximum.
const MEMBER_PAGE: usize = 50;
/// Users per `/user/search` page: Jira caps `maxResults` at 1,000 \[K\].
pub(crate) const SEARCH_PAGE: usize = 1000;

/// A Jira user as REST v2 returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraUser {
    /// The stable key (survives renames).
    pub key: String,
    /// The user name.
    pub name: String,
    /// `emailAddress` (may be empty or hidden).
    #[serde(default)]
    pub email_address: String,
    /// `displayName`.
    #[serde(default)]
    pub display_name: String,
    /// `active`; Jira leaves it out in some responses, where the user is active.
    #[serde(default = "yes")]
    pub active: bool,
    /// Group names, present when asked for with `expand=groups`.
    #[serde(default, deserialize_with = "group_names")]
    pub groups: Vec<String>,
}

fn yes() -> bool {
    true
}

fn group_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Item {
        name: String,
    }
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        items: Vec<Item>,
    }
    let list = Option::<List>::deserialize(d)?;
    Ok(list
        .map(|l| l.items.into_iter().map(|i| i.name).collect())
        .unwrap_or_default())
}

/// Typed calls to one Jira Data Center (`{base}/rest/api/2`), through an [`HttpClient`](scim_core::HttpClient), with
/// idempotent calls (GET, PUT, DELETE) retried on 429/503/timeouts per the [`RetryPolicy`](crate::RetryPolicy).
///
/// Errors name the call (`PUT /user`) and Jira's messages, never the credentials.
#[derive(Clone, Debug)]
pub struct JiraClient {
    t: Transport,
}

impl JiraClient {
    pub(crate) fn new(
        base_url: &str,
        auth: HeaderValue,
        connection: &Connection,
    ) -> Result<Self, AtlassianError> {
        Ok(JiraClient {
            t: Transport::new("Jira", base_url, "/rest/api/2", auth, connection)?,
        })
    }

    /// `GET /user?key=` (with `expand=groups` when asked); `None` on 404.
    pub async fn user_by_key(
        &self,
        key: &str,
        groups: bool,
    ) -> Result<Option<JiraUser>, AtlassianError> {
        self.get_user(("key", key), groups).await
    }

    /// `GET /user?username=` (with `expand=groups` when asked); `None` on 404.
    pub async fn user_by_name(
        &self,
        name: &str,
        groups: bool,
    ) -> Result<Option<JiraUser>, AtlassianError> {
        self.get_user(("username", name), groups).await
    }

    async fn get_user(
        &self,
        by: (&str, &str),
        groups: bool,
    ) -> Result<Option<JiraUser>, AtlassianError> {
        let mut query = vec![by];
        if groups {
            query.push(("expand", "groups"));
        }
        not_found_is_none(self.t.call_json(Method::GET, "/user", &query, None).await)
    }

    /// `GET /myself`: who the credentials belong to.
    pub async fn myself(&self) -> Result<JiraUser, AtlassianError> {
        self.t.call_json(Method::GET, "/myself", &[], None).await
    }

    /// Jira's version, from `GET /serverInfo` (`version`, and `versionNumbers` such as
    /// `[8, 2, 0]`).
    pub async fn server_info(&self) -> Result<ServerInfo, AtlassianError> {
        self.t
            .call_json(Method::GET, "/serverInfo", &[], None)
            .await
    }

    /// Whether the credentials hold the global permission `permission` (e.g. `ADMINISTER`),
    /// from `GET /mypermissions?permissions=`.
    pub async fn has_permission(&self, permission: &str) -> Result<bool, AtlassianError> {
        let got: Value = self
            .t
            .call_json(
                Method::GET,
                "/mypermissions",
                &[("permissions", permission)],
                None,
            )
            .await?;
        Ok(got
            .get("permissions")
            .and_then(|p| p.get(permission))
            .and_then(|p| p.get("havePermission"))
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    /// `POST /user` with `{name, emailAddress, displayName, password?, notification: false}`.
    pub async fn create_user(&self, body: &Value) -> Result<JiraUser, AtlassianError> {
        self.t
            .call_json(Method::POST, "/user", &[], Some(body))
            .await
    }

    /// `PUT /user?key=` with the fields to change (Jira leaves the others as they are).
    pub async fn update_user(
        &self,
        key: &str,
        changes: &Value,
    ) -> Result<JiraUser, AtlassianError> {
        self.t
            .call_json(Method::PUT, "/user", &[("key", key)], Some(changes))
            .await
    }

    /// `PUT /user/password?key=` `{"password": ...}` \[K\]. The password appears in no error.
    pub async fn set_password(&self, key: &str, password: &str) -> Result<(), AtlassianError> {
        let body = serde_json::json!({ "password": password });
        self.t
            .send(Method::PUT, "/user/password", &[("key", key)], Some(&body))
            .await
    }

    /// `DELETE /user?key=`.
    pub async fn delete_user(&self, key: &str) -> Result<(), AtlassianError> {
        self.t
            .send(Method::DELETE, "/user", &[("key", key)], None)
            .await
    }

    /// One page of `GET /user/search?username=.` (every user, active and inactive), in Jira's
    /// order. A page shorter than `max` is not necessarily the last: the server may cap
    /// `maxResults` below what was asked.
    pub async fn all_users_page(
        &self,
        start_at: usize,
        max: usize,
    ) -> Result<Vec<JiraUser>, AtlassianError> {
        let (start, max) = (start_at.to_string(), max.min(SEARCH_PAGE).to_string());
        let query = [
            ("username", "."),
            ("startAt", start.as_str()),
            ("maxResults", max.as_str()),
            ("includeActive", "true"),
            ("includeInactive", "true"),
        ];
        self.t
            .call_json(Method::GET, "/user/search", &query, None)
            .await
    }

    /// `GET /user/properties/{property}?userKey=`: the property's value, `None` when unset.
    pub async fn property(
        &self,
        key: &str,
        property: &str,
    ) -> Result<Option<Value>, AtlassianError> {
        #[derive(Deserialize)]
        struct Prop {
            #[serde(default)]
            value: Value,
        }
        let path = format!("/user/properties/{property}");
        let got: Option<Prop> = not_found_is_none(
            self.t
                .call_json(Method::GET, &path, &[("userKey", key)], None)
                .await,
        )?;
        Ok(got.map(|p| p.value))
    }

    /// `PUT /user/properties/{property}?userKey=` with `value`.
    pub async fn set_property(
        &self,
        key: &str,
        property: &str,
        value: &Value,
    ) -> Result<(), AtlassianError> {
        let path = format!("/user/properties/{property}");
        self.t
            .send(Method::PUT, &path, &[("userKey", key)], Some(value))
            .await
    }

    /// `POST /group` `{"name": name}`.
    pub async fn create_group(&self, name: &str) -> Result<(), AtlassianError> {
        let body = serde_json::json!({ "name": name });
        self.t.send(Method::POST, "/group", &[], Some(&body)).await
    }

    /// `DELETE /group?groupname=`.
    pub async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.t
            .send(Method::DELETE, "/group", &[("groupname", name)], None)
            .await
    }

    /// Every member of the group (inactive users included), following `/group/member`'s pages;
    /// `None` when the group does not exist.
    pub async fn group_members(&self, name: &str) -> Result<Option<Vec<JiraUser>>, AtlassianError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct MemberPage {
            #[serde(default)]
            values: Vec<JiraUser>,
            #[serde(default = "yes")]
            is_last: bool,
        }
        let mut members: Vec<JiraUser> = Vec::new();
        let mut previous: Option<String> = None;
        loop {
            let start = members.len().to_string();
            let max = MEMBER_PAGE.to_string();
            let query = [
                ("groupname", name),
                ("includeInactiveUsers", "true"),
                ("startAt", start.as_str()),
                ("maxResults", max.as_str()),
            ];
            let page: Option<MemberPage> = not_found_is_none(
                self.t
                    .call_json(Method::GET, "/group/member", &query, None)
                    .await,
            )?;
            let Some(page) = page else {
                return Ok(None);
            };
            let got = page.values.len();
            let first = page.values.first().map(|u| u.key.clone());
            if first.is_some() && first == previous {
                return Err(AtlassianError::Decode {
                    call: self.t.call_name(&Method::GET, "/group/member"),
                    detail: "the same page came back for the next startAt".to_owned(),
                });
            }
            previous = first;
            members.extend(page.values);
            // An empty page ends the loop even if Jira claims more: it cannot loop forever.
            if page.is_last || got == 0 {
                return Ok(Some(members));
            }
        }
    }

    /// `POST /group/user?groupname=` `{"name": user_name}`.
    pub async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        let body = serde_json::json!({ "name": user_name });
        self.t
            .send(
                Method::POST,
                "/group/user",
                &[("groupname", group)],
                Some(&body),
            )
            .await
    }

    /// `DELETE /group/user?groupname=&username=`.
    pub async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.t
            .send(
                Method::DELETE,
                "/group/user",
                &[("groupname", group), ("username", user_name)],
                None,
            )
            .await
    }

    /// Group names from `GET /groups/picker?query=&maxResults=`: at most `max`, and at most
    /// what the server's picker limit allows, so not a complete listing on large instances.
    pub async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        self.pick_groups("", max).await
    }

    /// Names of groups matching `query` (Jira matches part of the name, ignoring case \[K\]),
    /// from `GET /groups/picker`.
    pub async fn pick_groups(
        &self,
        query: &str,
        max: usize,
    ) -> Result<Vec<String>, AtlassianError> {
        #[derive(Deserialize)]
        struct Picked {
            name: String,
        }
        #[derive(Deserialize)]
        struct Picker {
            #[serde(default)]
            groups: Vec<Picked>,
        }
        let max = max.to_string();
        let picker: Picker = self
            .t
            .call_json(
                Method::GET,
                "/groups/picker",
                &[("query", query), ("maxResults", max.as_str())],
                None,
            )
            .await?;
        Ok(picker.groups.into_iter().map(|g| g.name).collect())
    }
}

/// A project as `GET /project?expand=lead` returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JiraProject {
    /// The project key (`PROJ`).
    pub key: String,
    /// The lead, when Jira names one.
    #[serde(default)]
    pub lead: Option<UserRef>,
}

/// A component as `GET /project/{key}/components` returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraComponent {
    /// The component id (a number, sent as a string).
    pub id: String,
    /// The component name.
    #[serde(default)]
    pub name: String,
    /// The lead, when there is one.
    #[serde(default)]
    pub lead: Option<UserRef>,
    /// The lead's user name (older versions send only this).
    #[serde(default)]
    pub lead_user_name: Option<String>,
}

/// A user named inside another resource (a lead).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserRef {
    /// The user key, when sent.
    #[serde(default)]
    pub key: Option<String>,
    /// The user name, when sent.
    #[serde(default)]
    pub name: Option<String>,
}

/// Refuses a path segment that would need escaping: project keys and component ids come from
/// Jira and are letters, digits, `_` and `-`, so anything else is a response we do not trust.
fn segment<'a>(call: &str, value: &'a str) -> Result<&'a str, AtlassianError> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        Ok(value)
    } else {
        Err(AtlassianError::Decode {
            call: call.to_owned(),
            detail: format!("{value:?} is not a project key or component id"),
        })
    }
}

impl JiraClient {
    /// `GET /project?expand=lead`: every project the credentials can see, with its lead \[K\].
    pub async fn projects_with_leads(&self) -> Result<Vec<JiraProject>, AtlassianError> {
        self.t
            .call_json(Method::GET, "/project", &[("expand", "lead")], None)
            .await
    }

    /// `PUT /project/{key}` `{"lead": user_name}` \[K\].
    pub async fn set_project_lead(&self, key: &str, user_name: &str) -> Result<(), AtlassianError> {
        let path = format!("/project/{}", segment("Jira PUT /project/{key}", key)?);
        let body = serde_json::json!({ "lead": user_name });
        self.t.send(Method::PUT, &path, &[], Some(&body)).await
    }

    /// `GET /project/{key}/components` \[K\].
    pub async fn components(&self, project: &str) -> Result<Vec<JiraComponent>, AtlassianError> {
        let path = format!(
            "/project/{}/components",
            segment("Jira GET /project/{key}/components", project)?
        );
        self.t.call_json(Method::GET, &path, &[], None).await
    }

    /// `PUT /component/{id}` `{"leadUserName": user_name}` \[K\].
    pub async fn set_component_lead(
        &self,
        id: &str,
        user_name: &str,
    ) -> Result<(), AtlassianError> {
        let path = format!("/component/{}", segment("Jira PUT /component/{id}", id)?);
        let body = serde_json::json!({ "leadUserName": user_name });
        self.t.send(Method::PUT, &path, &[], Some(&body)).await
    }
}

/// A Jira application role as `GET /applicationrole` returns it (the fields this crate
/// reads) \[V\].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApplicationRole {
    /// `jira-software`, `jira-servicedesk`, `jira-core`.
    pub key: String,
    /// The role's name (`Jira Software`).
    #[serde(default)]
    pub name: String,
    /// The groups granting the role.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether new users get the role (through its default groups).
    #[serde(default)]
    pub selected_by_default: bool,
    /// Seats licensed; `-1` (or `hasUnlimitedSeats`) for unlimited \[K\].
    #[serde(default)]
    pub number_of_seats: i64,
    /// Users holding the role.
    #[serde(default)]
    pub user_count: u64,
    /// Whether the licence has no seat limit.
    #[serde(default)]
    pub has_unlimited_seats: bool,
    /// Whether the role is licensed on this Jira (`false`: installed but unlicensed).
    #[serde(default = "yes")]
    pub defined: bool,
}

impl JiraClient {
    /// `GET /applicationrole`: every application role with its seats and user count \[V\].
    pub async fn application_roles(&self) -> Result<Vec<ApplicationRole>, AtlassianError> {
        self.t
            .call_json(Method::GET, "/applicationrole", &[], None)
            .await
    }
}

/// What `GET /serverInfo` says about a Jira (the fields this crate reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServerInfo {
    /// The version as shown, e.g. `8.20.1`.
    #[serde(default)]
    pub version: String,
    /// The version's numbers, e.g. `[8, 20, 1]`.
    #[serde(default)]
    pub version_numbers: Vec<u64>,
}

impl ServerInfo {
    /// Whether this Jira is older than 8.3, the first that takes `active` in `PUT /user`;
    /// `None` when the version numbers are missing.
    pub fn before_8_3(&self) -> Option<bool> {
        match self.version_numbers.as_slice() {
            [major, minor, ..] => Some((*major, *minor) < (8, 3)),
            [major] => Some(*major < 8),
            [] => None,
        }
    }
}
