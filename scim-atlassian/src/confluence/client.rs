//! [`ConfluenceClient`]: typed calls to Confluence Data Center's REST API (`{base}/rest/api`).

use http::{HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AtlassianError;
use crate::transport::{Connection, Transport, not_found_is_none};

/// Results per page Confluence is asked for (its usual maximum for these listings \[K\]).
const PAGE: usize = 200;

/// A user as `GET /user` returns it: no email and no status \[K\].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfluenceUser {
    /// The user name.
    pub username: String,
    /// The stable key (survives renames).
    pub user_key: String,
    /// The display name.
    #[serde(default)]
    pub display_name: String,
}

#[derive(Deserialize)]
struct Paged<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default, rename = "_links")]
    links: Links,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// A path segment, percent-encoded (user and group names may hold anything a URL cannot).
fn seg(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Typed calls to Confluence Data Center's user and group administration, with the
/// administrator's credentials.
#[derive(Clone, Debug)]
pub struct ConfluenceClient {
    t: Transport,
    /// The licence REST API (`{base}/rest/license/1.0`) \[K\].
    license: Transport,
}

impl ConfluenceClient {
    pub(crate) fn new(
        base_url: &str,
        auth: HeaderValue,
        connection: &Connection,
    ) -> Result<Self, AtlassianError> {
        Ok(ConfluenceClient {
            t: Transport::new(
                "Confluence",
                base_url,
                "/rest/api",
                auth.clone(),
                connection,
            )?,
            license: Transport::new(
                "Confluence",
                base_url,
                "/rest/license/1.0",
                auth,
                connection,
            )?,
        })
    }

    /// `GET /rest/license/1.0/license/maxUsers` and `.../userCount`: seats licensed (`None`:
    /// unlimited, answered as a negative count \[K\]) and seats used \[K\].
    pub async fn license_seats(&self) -> Result<(Option<u64>, u64), AtlassianError> {
        #[derive(Deserialize)]
        struct Count {
            count: i64,
        }
        let max: Count = self
            .license
            .call_json(Method::GET, "/license/maxUsers", &[], None)
            .await?;
        let used: Count = self
            .license
            .call_json(Method::GET, "/license/userCount", &[], None)
            .await?;
        Ok((
            u64::try_from(max.count).ok(),
            u64::try_from(used.count).unwrap_or(0),
        ))
    }

    /// `GET /user?key=`; `None` on 404.
    pub async fn user_by_key(&self, key: &str) -> Result<Option<ConfluenceUser>, AtlassianError> {
        not_found_is_none(
            self.t
                .call_json(Method::GET, "/user", &[("key", key)], None)
                .await,
        )
    }

    /// `GET /user?username=`; `None` on 404.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<ConfluenceUser>, AtlassianError> {
        not_found_is_none(
            self.t
                .call_json(Method::GET, "/user", &[("username", name)], None)
                .await,
        )
    }

    /// `POST /admin/user` `{userName, fullName, email, password}` (no email sent to the
    /// user); the new user's key.
    pub async fn create_user(
        &self,
        name: &str,
        full_name: &str,
        email: &str,
        password: &str,
    ) -> Result<String, AtlassianError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            user_key: String,
        }
        let body = json!({
            "userName": name,
            "fullName": full_name,
            "email": email,
            "password": password,
            "notifyViaEmail": false,
        });
        let created: Created = self
            .t
            .call_json(Method::POST, "/admin/user", &[], Some(&body))
            .await?;
        Ok(created.user_key)
    }

    /// `PUT /admin/user/{u}/enable` or `/disable` (idempotent).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), AtlassianError> {
        let action = if enabled { "enable" } else { "disable" };
        let path = format!("/admin/user/{}/{action}", seg(name));
        self.t.send(Method::PUT, &path, &[], None).await
    }

    /// `DELETE /admin/user/{u}`: Confluence answers 202 and deletes in a long task \[V\].
    pub async fn delete_user(&self, name: &str) -> Result<(), AtlassianError> {
        let path = format!("/admin/user/{}", seg(name));
        self.t.send(Method::DELETE, &path, &[], None).await
    }

    /// `POST /admin/group` `{name}`.
    pub async fn create_group(&self, name: &str) -> Result<(), AtlassianError> {
        let body = json!({ "name": name });
        self.t
            .send(Method::POST, "/admin/group", &[], Some(&body))
            .await
    }

    /// `DELETE /admin/group/{g}`.
    pub async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        let path = format!("/admin/group/{}", seg(name));
        self.t.send(Method::DELETE, &path, &[], None).await
    }

    /// `GET /group/{g}`: the group's name as Confluence spells it, `None` when there is none.
    pub async fn group(&self, name: &str) -> Result<Option<String>, AtlassianError> {
        let path = format!("/group/{}", seg(name));
        let got: Option<Named> =
            not_found_is_none(self.t.call_json(Method::GET, &path, &[], None).await)?;
        Ok(got.map(|g| g.name))
    }

    /// Group names from `GET /group?start&limit`, at most `max`.
    pub async fn group_names(&self, max: usize) -> Result<Vec<String>, AtlassianError> {
        let mut out: Vec<String> = Vec::new();
        while out.len() < max {
            let got: Paged<Named> = self.page("/group", out.len()).await?;
            let more = got.links.next.is_some() && !got.results.is_empty();
            out.extend(got.results.into_iter().map(|g| g.name));
            if !more {
                break;
            }
        }
        out.truncate(max);
        Ok(out)
    }

    /// Every member of group `name` (`GET /group/{g}/member`, following `_links.next`);
    /// `None` when there is no such group.
    pub async fn members(&self, name: &str) -> Result<Option<Vec<ConfluenceUser>>, AtlassianError> {
        let path = format!("/group/{}/member", seg(name));
        let mut out = Vec::new();
        loop {
            let got: Option<Paged<ConfluenceUser>> =
                not_found_is_none(self.page(&path, out.len()).await)?;
            let Some(got) = got else {
                return Ok(None);
            };
            let more = got.links.next.is_some() && !got.results.is_empty();
            out.extend(got.results);
            if !more {
                return Ok(Some(out));
            }
        }
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        start: usize,
    ) -> Result<Paged<T>, AtlassianError> {
        let (start, limit) = (start.to_string(), PAGE.to_string());
        self.t
            .call_json(
                Method::GET,
                path,
                &[("start", &start), ("limit", &limit)],
                None,
            )
            .await
    }

    /// `PUT /user/{u}/group/{g}` (idempotent) or `DELETE` of it.
    pub async fn set_member(
        &self,
        group: &str,
        user_name: &str,
        member: bool,
    ) -> Result<(), AtlassianError> {
        let path = format!("/user/{}/group/{}", seg(user_name), seg(group));
        let method = if member { Method::PUT } else { Method::DELETE };
        self.t.send(method, &path, &[], None::<&Value>).await
    }
}
