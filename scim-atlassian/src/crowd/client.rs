//! [`CrowdClient`]: typed calls to Crowd's REST API (`{base}/rest/usermanagement/1`).

use http::{HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::AtlassianError;
use crate::transport::{Connection, Query, Transport, not_found_is_none};

/// Users or groups per `/search` or membership page.
pub(crate) const CROWD_PAGE: usize = 1000;

/// A Crowd user as `/user` returns it (the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrowdUser {
    /// The user name: Crowd's identifier.
    pub name: String,
    /// `first-name`.
    #[serde(rename = "first-name", default)]
    pub first_name: String,
    /// `last-name`.
    #[serde(rename = "last-name", default)]
    pub last_name: String,
    /// `display-name`.
    #[serde(rename = "display-name", default)]
    pub display_name: String,
    /// `email`.
    #[serde(default)]
    pub email: String,
    /// `active`.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A user as `expand=attributes` answers it: the record and its custom attributes
/// (`"attributes": {"attributes": [{name, values}]}` \[K\]).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WithAttributes {
    /// The record.
    #[serde(flatten)]
    pub(crate) user: CrowdUser,
    /// `None` when Crowd did not expand them.
    #[serde(default)]
    attributes: Option<AttributeList>,
}

#[derive(Debug, Clone, Deserialize)]
struct AttributeList {
    #[serde(default)]
    attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, Deserialize)]
struct Attribute {
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

impl WithAttributes {
    /// Whether the answer carried the user's attributes (Crowd honoured `expand=attributes`).
    pub(crate) fn has_attributes(&self) -> bool {
        self.attributes.is_some()
    }

    /// The values of attribute `name`, `None` when the user has no such attribute.
    pub(crate) fn values(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .as_ref()?
            .attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.values.as_slice())
    }
}

/// Crowd's query language restriction `<attribute> = "<value>"`, quotes and backslashes
/// escaped.
fn equals(attribute: &str, value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{attribute} = \"{escaped}\"")
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// A page of Crowd's listings: `{"users": [...]}` or `{"groups": [...]}`.
#[derive(Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Listing<T> {
    #[serde(default = "Vec::new")]
    users: Vec<T>,
    #[serde(default = "Vec::new")]
    groups: Vec<T>,
}

impl<T> Listing<T> {
    fn users(self) -> Vec<T> {
        self.users
    }

    fn groups(self) -> Vec<T> {
        self.groups
    }
}

/// Typed calls to Crowd's usermanagement API, standalone or embedded in Jira or Confluence
/// (same paths under the product's base URL). Crowd authenticates the *application* (its
/// name and password, Basic), not a user \[V\].
#[derive(Clone, Debug)]
pub struct CrowdClient {
    t: Transport,
}

impl CrowdClient {
    pub(crate) fn new(
        product: &'static str,
        base_url: &str,
        auth: HeaderValue,
        connection: &Connection,
    ) -> Result<Self, AtlassianError> {
        Ok(CrowdClient {
            t: Transport::new(
                product,
                base_url,
                "/rest/usermanagement/1",
                auth,
                connection,
            )?,
        })
    }

    /// `GET /user?username=`; `None` on 404.
    pub async fn user(&self, name: &str) -> Result<Option<CrowdUser>, AtlassianError> {
        not_found_is_none(
            self.t
                .call_json(Method::GET, "/user", &[("username", name)], None)
                .await,
        )
    }

    /// `GET /user?username=&expand=attributes`: the user and its attributes in one call;
    /// `None` on 404.
    pub(crate) async fn user_with_attributes(
        &self,
        name: &str,
    ) -> Result<Option<WithAttributes>, AtlassianError> {
        not_found_is_none(
            self.t
                .call_json(
                    Method::GET,
                    "/user",
                    &[("username", name), ("expand", "attributes")],
                    None,
                )
                .await,
        )
    }

    /// `POST /user` with the user and its password (`{"value": ...}`).
    pub async fn create_user(
        &self,
        user: &CrowdUser,
        password: &str,
    ) -> Result<(), AtlassianError> {
        let mut body = serde_json::to_value(user).map_err(|e| AtlassianError::Decode {
            call: self.t.call_name(&Method::POST, "/user"),
            detail: e.to_string(),
        })?;
        if let Some(obj) = body.as_object_mut() {
            obj.insert("password".to_owned(), json!({ "value": password }));
        }
        self.t.send(Method::POST, "/user", &[], Some(&body)).await
    }

    /// `PUT /user?username=` with the whole record: Crowd replaces every field \[V\].
    pub async fn replace_user(&self, user: &CrowdUser) -> Result<(), AtlassianError> {
        let body = serde_json::to_value(user).map_err(|e| AtlassianError::Decode {
            call: self.t.call_name(&Method::PUT, "/user"),
            detail: e.to_string(),
        })?;
        self.t
            .send(
                Method::PUT,
                "/user",
                &[("username", &user.name)],
                Some(&body),
            )
            .await
    }

    /// `POST /user/rename?username=` `{"new-name": new_name}` \[K\]: memberships and
    /// attributes follow the user.
    pub async fn rename_user(&self, name: &str, new_name: &str) -> Result<(), AtlassianError> {
        let body = json!({ "new-name": new_name });
        self.t
            .send(
                Method::POST,
                "/user/rename",
                &[("username", name)],
                Some(&body),
            )
            .await
    }

    /// Reads user `name` and writes it back with `active`: Crowd's PUT replaces the whole
    /// record, so every other field is sent as read.
    pub async fn set_active(&self, name: &str, active: bool) -> Result<(), AtlassianError> {
        let mut user = self
            .user(name)
            .await?
            .ok_or_else(|| AtlassianError::Status {
                call: self.t.call_name(&Method::GET, "/user"),
                status: 404,
                message: format!("the user {name:?} does not exist"),
                fields: vec!["USER_NOT_FOUND".to_owned()],
            })?;
        if user.active == active {
            return Ok(());
        }
        user.active = active;
        self.replace_user(&user).await
    }

    /// `PUT /user/password?username=` `{"value": ...}`.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), AtlassianError> {
        let body = json!({ "value": password });
        self.t
            .send(
                Method::PUT,
                "/user/password",
                &[("username", name)],
                Some(&body),
            )
            .await
    }

    /// `DELETE /user?username=`.
    pub async fn delete_user(&self, name: &str) -> Result<(), AtlassianError> {
        self.t
            .send(Method::DELETE, "/user", &[("username", name)], None)
            .await
    }

    /// Every attribute of user `name` (`GET /user/attribute`) as (name, values); empty when
    /// the user is gone.
    async fn attributes(&self, name: &str) -> Result<Vec<(String, Vec<String>)>, AtlassianError> {
        #[derive(Deserialize)]
        struct Attr {
            name: String,
            #[serde(default)]
            values: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Attrs {
            #[serde(default)]
            attributes: Vec<Attr>,
        }
        let got: Option<Attrs> = not_found_is_none(
            self.t
                .call_json(Method::GET, "/user/attribute", &[("username", name)], None)
                .await,
        )?;
        Ok(got
            .into_iter()
            .flat_map(|a| a.attributes)
            .map(|a| (a.name, a.values))
            .collect())
    }

    /// The values of attribute `attribute` of user `name` (`GET /user/attribute`), `None`
    /// when the user has no such attribute.
    pub async fn attribute(
        &self,
        name: &str,
        attribute: &str,
    ) -> Result<Option<Vec<String>>, AtlassianError> {
        Ok(self
            .attributes(name)
            .await?
            .into_iter()
            .find(|(n, _)| n == attribute)
            .map(|(_, values)| values))
    }

    /// When user `name` last logged in, from its attributes (`GET /user/attribute`): the later
    /// of Crowd's `lastAuthenticated` \[V\] and Jira's `login.lastLoginMillis` \[K\]
    /// (milliseconds since the epoch). `Ok(None)`: never (or the user is gone).
    pub async fn last_login(
        &self,
        name: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, AtlassianError> {
        Ok(self
            .attributes(name)
            .await?
            .into_iter()
            .filter(|(n, _)| n == "lastAuthenticated" || n == "login.lastLoginMillis")
            .flat_map(|(_, values)| values)
            .filter_map(|v| v.trim().parse::<i64>().ok())
            .max()
            .and_then(chrono::DateTime::from_timestamp_millis))
    }

    /// `POST /user/attribute?username=` `{"attributes": [{name, values}]}`: sets each
    /// attribute's values, leaving the user's other attributes alone \[V\].
    pub async fn set_attributes(
        &self,
        name: &str,
        attributes: &[(&str, &[String])],
    ) -> Result<(), AtlassianError> {
        let list: Vec<Value> = attributes
            .iter()
            .map(|(n, v)| json!({ "name": n, "values": v }))
            .collect();
        let body = json!({ "attributes": list });
        self.t
            .send(
                Method::POST,
                "/user/attribute",
                &[("username", name)],
                Some(&body),
            )
            .await
    }

    /// One page of `GET /search?entity-type=user&expand=user` (every user, by name).
    pub async fn users_page(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<CrowdUser>, AtlassianError> {
        self.search_page(start, max, "user").await
    }

    /// One page of `GET /search?entity-type=user&expand=user,attributes`: every user with
    /// its attributes, in the same one call per page (how Crowd's own Java client searches
    /// users with attributes \[V\]).
    pub(crate) async fn users_page_with_attributes(
        &self,
        start: usize,
        max: usize,
    ) -> Result<Vec<WithAttributes>, AtlassianError> {
        self.search_page(start, max, "user,attributes").await
    }

    async fn search_page<T: serde::de::DeserializeOwned>(
        &self,
        start: usize,
        max: usize,
        expand: &str,
    ) -> Result<Vec<T>, AtlassianError> {
        let (start, max) = (start.to_string(), max.min(CROWD_PAGE).to_string());
        let got: Listing<T> = self
            .t
            .call_json(
                Method::GET,
                "/search",
                &[
                    ("entity-type", "user"),
                    ("expand", expand),
                    ("start-index", &start),
                    ("max-results", &max),
                ],
                None,
            )
            .await?;
        Ok(got.users)
    }

    /// Names of the users whose attribute `attribute` has the value `value`, from
    /// `GET /search?entity-type=user&restriction=<attribute> = "<value>"` (Crowd's query
    /// language searches custom attributes \[K\]), every page.
    pub async fn names_with_attribute(
        &self,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<String>, AtlassianError> {
        let restriction = equals(attribute, value);
        let query = [
            ("entity-type", "user"),
            ("restriction", restriction.as_str()),
        ];
        let users: Vec<Named> = self
            .every_page("/search", &query, Listing::users)
            .await?
            .unwrap_or_default();
        Ok(users.into_iter().map(|u| u.name).collect())
    }

    /// The users (with their attributes) whose attribute `attribute` has the value `value`:
    /// [`CrowdClient::names_with_attribute`]'s search with `expand=user,attributes`, every
    /// page.
    pub(crate) async fn users_with_attribute(
        &self,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<WithAttributes>, AtlassianError> {
        let restriction = equals(attribute, value);
        let query = [
            ("entity-type", "user"),
            ("restriction", restriction.as_str()),
            ("expand", "user,attributes"),
        ];
        Ok(self
            .every_page("/search", &query, Listing::users)
            .await?
            .unwrap_or_default())
    }

    /// Names of the groups user `name` is directly in (`GET /user/group/direct`, paged). An
    /// unknown user has none (Crowd answers 200 and an empty list \[V\]).
    pub async fn groups_of(&self, name: &str) -> Result<Vec<String>, AtlassianError> {
        let groups: Vec<Named> = self
            .every_page("/user/group/direct", &[("username", name)], Listing::groups)
            .await?
            .unwrap_or_default();
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// Whether group `name` exists (`GET /group?groupname=`), with Crowd's spelling.
    pub async fn group(&self, name: &str) -> Result<Option<String>, AtlassianError> {
        let got: Option<Named> = not_found_is_none(
            self.t
                .call_json(Method::GET, "/group", &[("groupname", name)], None)
                .await,
        )?;
        Ok(got.map(|g| g.name))
    }

    /// `POST /group` `{name, type: "GROUP", active: true}`.
    pub async fn create_group(&self, name: &str) -> Result<(), AtlassianError> {
        let body = json!({ "name": name, "type": "GROUP", "active": true });
        self.t.send(Method::POST, "/group", &[], Some(&body)).await
    }

    /// `DELETE /group?groupname=`.
    pub async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.t
            .send(Method::DELETE, "/group", &[("groupname", name)], None)
            .await
    }

    /// Every direct member of group `name` (`GET /group/user/direct?expand=user`, paged);
    /// `None` when the group does not exist.
    pub async fn members(&self, name: &str) -> Result<Option<Vec<CrowdUser>>, AtlassianError> {
        let query = [("groupname", name), ("expand", "user")];
        self.every_page("/group/user/direct", &query, Listing::users)
            .await
    }

    /// [`CrowdClient::members`] with each member's attributes (`expand=user,attributes`, as on
    /// `/search` \[K\]: the caller copes with members answered without them).
    pub(crate) async fn members_with_attributes(
        &self,
        name: &str,
    ) -> Result<Option<Vec<WithAttributes>>, AtlassianError> {
        let query = [("groupname", name), ("expand", "user,attributes")];
        self.every_page("/group/user/direct", &query, Listing::users)
            .await
    }

    /// Every page of a listing (`start-index`, `max-results` added to `query`), until a short
    /// one; `None` when the first answers 404 (the user or group does not exist).
    async fn every_page<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
        pick: fn(Listing<T>) -> Vec<T>,
    ) -> Result<Option<Vec<T>>, AtlassianError> {
        let mut out: Vec<T> = Vec::new();
        loop {
            let (start, max) = (out.len().to_string(), CROWD_PAGE.to_string());
            let mut paged = query.to_vec();
            paged.extend([
                ("start-index", start.as_str()),
                ("max-results", max.as_str()),
            ]);
            let got: Option<Listing<T>> =
                not_found_is_none(self.t.call_json(Method::GET, path, &paged, None).await)?;
            let Some(got) = got else {
                return Ok(None);
            };
            let items = pick(got);
            let n = items.len();
            out.extend(items);
            if n < CROWD_PAGE {
                return Ok(Some(out));
            }
        }
    }

    /// `POST /group/user/direct?groupname=` `{"name": user_name}` (409 when already a
    /// member \[K\]).
    pub async fn add_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        let body = json!({ "name": user_name });
        self.t
            .send(
                Method::POST,
                "/group/user/direct",
                &[("groupname", group)],
                Some(&body),
            )
            .await
    }

    /// `DELETE /group/user/direct?groupname=&username=`.
    pub async fn remove_member(&self, group: &str, user_name: &str) -> Result<(), AtlassianError> {
        self.t
            .send(
                Method::DELETE,
                "/group/user/direct",
                &[("groupname", group), ("username", user_name)],
                None,
            )
            .await
    }

    /// Group names from `GET /search?entity-type=group` (paged), at most `max`.
    pub async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        #[derive(Deserialize)]
        struct Groups {
            #[serde(default)]
            groups: Vec<Named>,
        }
        let mut out = Vec::new();
        while out.len() < max {
            let want = (max - out.len()).min(CROWD_PAGE);
            let (start, want_s) = (out.len().to_string(), want.to_string());
            let got: Groups = self
                .t
                .call_json(
                    Method::GET,
                    "/search",
                    &[
                        ("entity-type", "group"),
                        ("start-index", &start),
                        ("max-results", &want_s),
                    ],
                    None,
                )
                .await?;
            let n = got.groups.len();
            out.extend(got.groups.into_iter().map(|g| g.name));
            if n < want || n == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Reads one user of `/search`: proves Crowd answers, accepts the application's
    /// credentials and allows this address.
    pub async fn check(&self) -> Result<(), AtlassianError> {
        let _: Value = self
            .t
            .call_json(
                Method::GET,
                "/search",
                &[("entity-type", "user"), ("max-results", "1")],
                None,
            )
            .await?;
        Ok(())
    }
}
