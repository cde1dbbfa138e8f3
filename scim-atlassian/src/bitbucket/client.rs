//! [`BitbucketClient`]: typed calls to Bitbucket Data Center's user and group administration
//! (`{base}/rest/api/1.0/admin`).

use std::sync::Arc;

use http::{Method, Response};
use scim_core::HttpClient;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::AtlassianError;
use crate::transport::{
    Connection, Query, Retry, Transport, decode, not_found_is_none, status_error_from,
};
use scim_provisioning::CallObserver;
use scim_provisioning::Credentials;
use scim_provisioning::{RetryPolicy, Sleeper, ThreadSleeper};

/// Items asked for per page when following every page. Bitbucket's own default is 25; larger
/// pages mean fewer calls, and a server capping `limit` lower is handled by following
/// `nextPageStart` rather than assuming the size asked for \[K\].
pub const PAGE_LIMIT: usize = 1000;

/// A user as Bitbucket's admin API returns it (`RestDetailedUser`, the fields we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BitbucketUser {
    /// The numeric id: stable across renames, so the one identifier to use as a SCIM `id`.
    pub id: u64,
    /// The user name (unique ignoring case; changed by renames).
    pub name: String,
    /// The URL-safe form of the name used in `/users/{slug}` paths.
    #[serde(default)]
    pub slug: String,
    /// `displayName`.
    #[serde(default)]
    pub display_name: String,
    /// `emailAddress` (absent for users without one).
    #[serde(default)]
    pub email_address: String,
    /// Whether the user's directory allows them in. Internal-directory users are always
    /// active: Bitbucket itself cannot deactivate anyone.
    #[serde(default = "yes")]
    pub active: bool,
    /// The directory the user lives in, when sent.
    #[serde(default)]
    pub directory_name: Option<String>,
    /// Whether name, display name and email can be changed here (false for read-only
    /// LDAP/Crowd directories), when sent.
    #[serde(default)]
    pub mutable_details: Option<bool>,
    /// Whether group memberships can be changed here, when sent.
    #[serde(default)]
    pub mutable_groups: Option<bool>,
    /// When the user last authenticated, in milliseconds since 1970 (`RestDetailedUser`'s
    /// `lastAuthenticationTimestamp`); absent for a user who never has.
    #[serde(default)]
    pub last_authentication_timestamp: Option<i64>,
}

fn yes() -> bool {
    true
}

/// A group as the admin API returns it (`RestDetailedGroup`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BitbucketGroup {
    /// The name: a group's only identifier (Bitbucket cannot rename groups).
    pub name: String,
    /// Whether the group can be deleted here (false for read-only directories).
    #[serde(default = "yes")]
    pub deletable: bool,
}

/// A global permission, from lowest to highest; each implies the ones before it, and every
/// one of them lets its holder log in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GlobalPermission {
    /// `LICENSED_USER`: may log in (and takes a licence seat).
    LicensedUser,
    /// `PROJECT_CREATE`.
    ProjectCreate,
    /// `ADMIN`.
    Admin,
    /// `SYS_ADMIN`.
    SysAdmin,
    /// A value this client does not know (a newer Bitbucket), kept as sent.
    Other(String),
}

impl GlobalPermission {
    /// Reads Bitbucket's name for it.
    pub fn parse(text: &str) -> Self {
        match text {
            "LICENSED_USER" => GlobalPermission::LicensedUser,
            "PROJECT_CREATE" => GlobalPermission::ProjectCreate,
            "ADMIN" => GlobalPermission::Admin,
            "SYS_ADMIN" => GlobalPermission::SysAdmin,
            other => GlobalPermission::Other(other.to_owned()),
        }
    }

    /// Bitbucket's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            GlobalPermission::LicensedUser => "LICENSED_USER",
            GlobalPermission::ProjectCreate => "PROJECT_CREATE",
            GlobalPermission::Admin => "ADMIN",
            GlobalPermission::SysAdmin => "SYS_ADMIN",
            GlobalPermission::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for GlobalPermission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| GlobalPermission::parse(&s))
    }
}

/// A group holding a global permission (`RestPermittedGroup`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PermittedGroup {
    /// The group.
    pub group: BitbucketGroup,
    /// Its highest global permission.
    pub permission: GlobalPermission,
}

/// A user holding a global permission directly, not through a group (`RestPermittedUser`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PermittedUser {
    /// The user.
    pub user: BitbucketUser,
    /// Their highest direct global permission.
    pub permission: GlobalPermission,
}

/// One page of a Bitbucket listing: `{size, limit, isLastPage, values, start, nextPageStart}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Page<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    /// Where this page starts.
    #[serde(default)]
    pub start: usize,
    /// Whether no page follows.
    #[serde(default = "yes")]
    pub is_last_page: bool,
    /// Where the next page starts (absent on the last page).
    #[serde(default)]
    pub next_page_start: Option<usize>,
}

/// What `POST /admin/users` creates.
///
/// Bitbucket needs either a password or `notify` (which mails the user a link to set one and
/// works only with a mail server configured).
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    name: String,
    display_name: String,
    email: String,
    password: Option<String>,
    notify: bool,
    add_to_default_group: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("notify", &self.notify)
            .field("add_to_default_group", &self.add_to_default_group)
            .finish()
    }
}

impl NewUser {
    /// A user with these name, display name and email, no password yet, not notified, and
    /// not added to Bitbucket's default group (access is granted by explicit groups).
    pub fn new(
        name: impl Into<String>,
        display_name: impl Into<String>,
        email: impl Into<String>,
    ) -> Self {
        NewUser {
            name: name.into(),
            display_name: display_name.into(),
            email: email.into(),
            password: None,
            notify: false,
            add_to_default_group: false,
        }
    }

    /// The initial password (never logged, never part of an error).
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Mail the user a link to set their password instead of setting one.
    #[must_use]
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = notify;
        self
    }

    /// Also add the user to Bitbucket's configured default group.
    #[must_use]
    pub fn add_to_default_group(mut self, add: bool) -> Self {
        self.add_to_default_group = add;
        self
    }

    /// The user name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether Bitbucket will accept it as it stands: it needs a password or `notify`.
    pub(crate) fn has_password_or_notify(&self) -> bool {
        self.password.is_some() || self.notify
    }
}

/// What `GET /admin/license` says about seats \[V\] (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BitbucketLicense {
    /// Users the licence allows (absent or 0 with `unlimited_number_of_users`).
    #[serde(default)]
    pub maximum_number_of_users: u64,
    /// Whether the licence has no user limit.
    #[serde(default)]
    pub unlimited_number_of_users: bool,
    /// The licence's current state.
    #[serde(default)]
    pub status: BitbucketLicenseStatus,
}

/// `status` of `GET /admin/license`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BitbucketLicenseStatus {
    /// Users holding a licence seat now.
    #[serde(default)]
    pub current_number_of_users: u64,
}

/// Typed calls to one Bitbucket Data Center (`{base}/rest/api/1.0`), through an
/// [`HttpClient`], built with [`BitbucketClient::builder`].
///
/// Reads, `PUT`s, `DELETE`s and the set-like membership calls (`add-groups`, `remove-group`)
/// are retried on 429/503/timeouts per the [`RetryPolicy`]; creating and renaming are not,
/// since a repeated copy could act twice. Errors name the product and call (`Bitbucket POST
/// /admin/users`) and Bitbucket's messages (from `{"errors": [{"context", "message"}]}`),
/// never credentials.
#[derive(Clone, Debug)]
pub struct BitbucketClient {
    rest: Transport,
}

/// Configures a [`BitbucketClient`].
#[must_use]
pub struct BitbucketClientBuilder {
    base_url: String,
    credentials: Credentials,
    client: Option<Arc<dyn HttpClient>>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
}

impl std::fmt::Debug for BitbucketClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitbucketClientBuilder")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl BitbucketClientBuilder {
    /// The [`HttpClient`] requests go through (required).
    pub fn client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// How retries wait ([`ThreadSleeper`] by default).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// How retryable calls are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Told of every call made (e.g. a [`CallCounter`](crate::CallCounter)).
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The client, or what is wrong with the configuration.
    pub fn build(self) -> Result<BitbucketClient, AtlassianError> {
        let auth = self
            .credentials
            .header_value()
            .ok_or(AtlassianError::InvalidCredentials)?;
        let connection = Connection {
            client: self.client,
            sleeper: self.sleeper,
            retry: self.retry,
            observer: self.observer,
        };
        BitbucketClient::from_connection(&self.base_url, auth, &connection)
    }
}

/// How settings calls are named: the slug in their path is personal data.
const SETTINGS: &str = "/users/{slug}/settings";

/// `/users/{slug}/settings`, refusing a slug that is not URL-safe as Bitbucket makes them
/// (it would otherwise address another resource).
fn settings_path(slug: &str) -> Result<String, AtlassianError> {
    let safe = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~'));
    if !safe || slug.starts_with('.') {
        return Err(AtlassianError::Decode {
            call: format!("Bitbucket GET {SETTINGS}"),
            detail: "a user slug that is not URL-safe".to_owned(),
        });
    }
    Ok(format!("/users/{slug}/settings"))
}

/// Guards a paged walk: stops at the last page, at an empty page, and when the server hands
/// back a `nextPageStart` that does not move forward (it would loop forever).
fn next_start<T>(
    call: &str,
    page: &Page<T>,
    start: usize,
) -> Result<Option<usize>, AtlassianError> {
    if page.is_last_page || page.values.is_empty() {
        return Ok(None);
    }
    match page.next_page_start {
        Some(next) if next > start => Ok(Some(next)),
        Some(_) => Err(AtlassianError::Decode {
            call: call.to_owned(),
            detail: "nextPageStart does not move past start".to_owned(),
        }),
        // Not the last page, yet no next start: continue after what we got.
        None => Ok(Some(start + page.values.len())),
    }
}

impl BitbucketClient {
    /// Starts configuring a client for the Bitbucket Data Center at `base_url` (with its
    /// context path, e.g. `https://example.com/bitbucket`).
    pub fn builder(
        base_url: impl Into<String>,
        credentials: Credentials,
    ) -> BitbucketClientBuilder {
        BitbucketClientBuilder {
            base_url: base_url.into(),
            credentials,
            client: None,
            sleeper: Arc::new(ThreadSleeper),
            retry: RetryPolicy::default(),
            observer: None,
        }
    }

    /// A client on the transport options every target shares (an
    /// [`AtlassianBuilder`](crate::AtlassianBuilder)'s).
    pub(crate) fn from_connection(
        base_url: &str,
        auth: http::HeaderValue,
        connection: &Connection,
    ) -> Result<Self, AtlassianError> {
        let rest = Transport::new("Bitbucket", base_url, "/rest/api/1.0", auth, connection)?
            .with_error_reader(bitbucket_error);
        Ok(BitbucketClient { rest })
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
        start: usize,
        limit: usize,
    ) -> Result<Page<T>, AtlassianError> {
        let (start, limit) = (start.to_string(), limit.max(1).to_string());
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("start", start.as_str()));
        q.push(("limit", limit.as_str()));
        self.rest
            .call_json_with(Method::GET, path, &q, None, Retry::Idempotent)
            .await
    }

    /// Every item of a listing, following `nextPageStart`.
    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
    ) -> Result<Vec<T>, AtlassianError> {
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let page: Page<T> = self.page(path, query, start, PAGE_LIMIT).await?;
            let next = next_start(&format!("GET {path}"), &page, start)?;
            out.extend(page.values);
            match next {
                Some(n) => start = n,
                None => return Ok(out),
            }
        }
    }

    /// The first item of a filtered listing that `pick` accepts, reading only as many pages
    /// as it takes.
    async fn find<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
        pick: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, AtlassianError> {
        let mut start = 0;
        loop {
            let page: Page<T> = self.page(path, query, start, PAGE_LIMIT).await?;
            let next = next_start(&format!("GET {path}"), &page, start)?;
            if let Some(hit) = page.values.into_iter().find(&pick) {
                return Ok(Some(hit));
            }
            match next {
                Some(n) => start = n,
                None => return Ok(None),
            }
        }
    }

    async fn post(
        &self,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<(), AtlassianError> {
        self.rest
            .call_with(Method::POST, path, query, body, retry)
            .await
            .map(drop)
    }

    /// `GET /admin/license`: the licence's user limit and use \[V\].
    pub async fn license(&self) -> Result<BitbucketLicense, AtlassianError> {
        self.rest
            .call_json(Method::GET, "/admin/license", &[], None)
            .await
    }

    /// One page of `GET /admin/users?filter=&start=&limit=`: users whose name, display name or
    /// email contains `filter` (ignoring case), sorted by name.
    pub async fn users_page(
        &self,
        filter: Option<&str>,
        start: usize,
        limit: usize,
    ) -> Result<Page<BitbucketUser>, AtlassianError> {
        let q: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        self.page("/admin/users", &q, start, limit).await
    }

    /// Every user matching `filter` (every user for `None`), following the pages.
    pub async fn users(&self, filter: Option<&str>) -> Result<Vec<BitbucketUser>, AtlassianError> {
        let q: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        self.all("/admin/users", &q).await
    }

    /// The user named `name` (ignoring case): `GET /admin/users?filter=name`, keeping the
    /// exact match, since the filter also matches parts of names, display names and emails.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<BitbucketUser>, AtlassianError> {
        if name.is_empty() {
            return Ok(None);
        }
        let lower = name.to_lowercase();
        self.find("/admin/users", &[("filter", name)], |u: &BitbucketUser| {
            u.name.to_lowercase() == lower
        })
        .await
    }

    /// The user with numeric `id`, found by walking `GET /admin/users` (Bitbucket has no
    /// lookup by id): a page per 1,000 users. Callers that know the name should use
    /// [`BitbucketClient::user_by_name`].
    pub async fn user_by_id(&self, id: u64) -> Result<Option<BitbucketUser>, AtlassianError> {
        self.find("/admin/users", &[], |u: &BitbucketUser| u.id == id)
            .await
    }

    /// `POST /admin/users?name&displayName&emailAddress&password|notify&addToDefaultGroup`
    /// (query parameters, no body; 204). Not retried: a lost answer followed by a second copy
    /// would meet 409.
    pub async fn create_user(&self, user: &NewUser) -> Result<(), AtlassianError> {
        let mut q: Vec<(&str, &str)> = vec![
            ("name", user.name.as_str()),
            ("displayName", user.display_name.as_str()),
            ("emailAddress", user.email.as_str()),
            (
                "addToDefaultGroup",
                if user.add_to_default_group {
                    "true"
                } else {
                    "false"
                },
            ),
        ];
        if let Some(p) = &user.password {
            q.push(("password", p.as_str()));
        }
        if user.notify {
            q.push(("notify", "true"));
        }
        self.post("/admin/users", &q, None, Retry::Once).await
    }

    /// `PUT /admin/users` `{name, displayName?, email?}`: fields left `None` are not sent and
    /// stay as they are.
    pub async fn update_user(
        &self,
        name: &str,
        display_name: Option<&str>,
        email: Option<&str>,
    ) -> Result<BitbucketUser, AtlassianError> {
        let mut body = json!({ "name": name });
        if let (Some(d), Some(obj)) = (display_name, body.as_object_mut()) {
            obj.insert("displayName".to_owned(), Value::from(d));
        }
        if let (Some(e), Some(obj)) = (email, body.as_object_mut()) {
            obj.insert("email".to_owned(), Value::from(e));
        }
        self.rest
            .call_json_with(
                Method::PUT,
                "/admin/users",
                &[],
                Some(&body),
                Retry::Idempotent,
            )
            .await
    }

    /// `POST /admin/users/rename` `{name, newName}`: the user keeps their id. Not retried.
    pub async fn rename_user(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<BitbucketUser, AtlassianError> {
        let body = json!({ "name": name, "newName": new_name });
        self.rest
            .call_json_with(
                Method::POST,
                "/admin/users/rename",
                &[],
                Some(&body),
                Retry::Once,
            )
            .await
    }

    /// `PUT /admin/users/credentials` `{name, password, passwordConfirm}`.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), AtlassianError> {
        let body = json!({ "name": name, "password": password, "passwordConfirm": password });
        self.rest
            .call_with(
                Method::PUT,
                "/admin/users/credentials",
                &[],
                Some(&body),
                Retry::Idempotent,
            )
            .await
            .map(drop)
    }

    /// The settings map of the user whose slug is `slug` (`GET /users/{slug}/settings`);
    /// `None` when there is no such user.
    pub async fn user_settings(
        &self,
        slug: &str,
    ) -> Result<Option<serde_json::Map<String, Value>>, AtlassianError> {
        let path = settings_path(slug)?;
        let r = self
            .rest
            .call_as(SETTINGS, Method::GET, &path, &[], None, Retry::Idempotent)
            .await;
        let Some(resp) = not_found_is_none(r)? else {
            return Ok(None);
        };
        decode(format!("Bitbucket GET {SETTINGS}"), &resp).map(Some)
    }

    /// `POST /users/{slug}/settings` with `settings`: merged into the user's map (a `null`
    /// value removes its key) \[K\]. Retried: writing the same values twice is writing them
    /// once.
    pub async fn update_user_settings(
        &self,
        slug: &str,
        settings: &serde_json::Map<String, Value>,
    ) -> Result<(), AtlassianError> {
        let path = settings_path(slug)?;
        let body = Value::Object(settings.clone());
        self.rest
            .call_as(
                SETTINGS,
                Method::POST,
                &path,
                &[],
                Some(&body),
                Retry::Idempotent,
            )
            .await
            .map(drop)
    }

    /// `DELETE /admin/users?name=`. Bitbucket also drops the user's memberships and
    /// permissions.
    pub async fn delete_user(&self, name: &str) -> Result<(), AtlassianError> {
        self.rest
            .call_with(
                Method::DELETE,
                "/admin/users",
                &[("name", name)],
                None,
                Retry::Idempotent,
            )
            .await
            .map(drop)
    }

    /// One page of `GET /admin/groups?filter=`: groups whose name contains `filter`.
    pub async fn groups_page(
        &self,
        filter: Option<&str>,
        start: usize,
        limit: usize,
    ) -> Result<Page<BitbucketGroup>, AtlassianError> {
        let q: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        self.page("/admin/groups", &q, start, limit).await
    }

    /// Every group matching `filter` (all for `None`), following the pages.
    pub async fn groups(
        &self,
        filter: Option<&str>,
    ) -> Result<Vec<BitbucketGroup>, AtlassianError> {
        let q: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        self.all("/admin/groups", &q).await
    }

    /// The group named `name` (ignoring case), via the filtered listing.
    pub async fn group(&self, name: &str) -> Result<Option<BitbucketGroup>, AtlassianError> {
        if name.is_empty() {
            return Ok(None);
        }
        let lower = name.to_lowercase();
        self.find(
            "/admin/groups",
            &[("filter", name)],
            |g: &BitbucketGroup| g.name.to_lowercase() == lower,
        )
        .await
    }

    /// `POST /admin/groups?name=`: 409 when the name is taken. Not retried.
    pub async fn create_group(&self, name: &str) -> Result<BitbucketGroup, AtlassianError> {
        self.rest
            .call_json_with(
                Method::POST,
                "/admin/groups",
                &[("name", name)],
                None,
                Retry::Once,
            )
            .await
    }

    /// `DELETE /admin/groups?name=` (also drops the group's permissions).
    pub async fn delete_group(&self, name: &str) -> Result<(), AtlassianError> {
        self.rest
            .call_with(
                Method::DELETE,
                "/admin/groups",
                &[("name", name)],
                None,
                Retry::Idempotent,
            )
            .await
            .map(drop)
    }

    /// `POST /admin/users/add-groups` `{user, groups}`: all or nothing; adding a membership
    /// that exists changes nothing, so the call is retried like a `PUT` \[K\].
    pub async fn add_user_to_groups(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<(), AtlassianError> {
        let body = json!({ "user": user, "groups": groups });
        self.post(
            "/admin/users/add-groups",
            &[],
            Some(&body),
            Retry::Idempotent,
        )
        .await
    }

    /// `POST /admin/groups/add-users` `{group, users}`: all or nothing, retried like a `PUT`.
    pub async fn add_users_to_group(
        &self,
        group: &str,
        users: &[&str],
    ) -> Result<(), AtlassianError> {
        let body = json!({ "group": group, "users": users });
        self.post(
            "/admin/groups/add-users",
            &[],
            Some(&body),
            Retry::Idempotent,
        )
        .await
    }

    /// `POST /admin/users/remove-group` `{context: user, itemName: group}`, retried like a
    /// `DELETE`.
    pub async fn remove_user_from_group(
        &self,
        user: &str,
        group: &str,
    ) -> Result<(), AtlassianError> {
        let body = json!({ "context": user, "itemName": group });
        self.post(
            "/admin/users/remove-group",
            &[],
            Some(&body),
            Retry::Idempotent,
        )
        .await
    }

    /// One page of `GET /admin/groups/more-members?context=group`.
    pub async fn group_members_page(
        &self,
        group: &str,
        start: usize,
        limit: usize,
    ) -> Result<Page<BitbucketUser>, AtlassianError> {
        self.page(
            "/admin/groups/more-members",
            &[("context", group)],
            start,
            limit,
        )
        .await
    }

    /// Every member of `group`; `None` when the group does not exist.
    pub async fn group_members(
        &self,
        group: &str,
    ) -> Result<Option<Vec<BitbucketUser>>, AtlassianError> {
        not_found_is_none(
            self.all("/admin/groups/more-members", &[("context", group)])
                .await,
        )
    }

    /// One page of `GET /admin/users/more-members?context=user`: the user's groups.
    pub async fn user_groups_page(
        &self,
        user: &str,
        start: usize,
        limit: usize,
    ) -> Result<Page<BitbucketGroup>, AtlassianError> {
        self.page(
            "/admin/users/more-members",
            &[("context", user)],
            start,
            limit,
        )
        .await
    }

    /// The names of every group `user` belongs to; `None` when the user does not exist.
    pub async fn user_groups(&self, user: &str) -> Result<Option<Vec<String>>, AtlassianError> {
        let groups: Option<Vec<BitbucketGroup>> = not_found_is_none(
            self.all("/admin/users/more-members", &[("context", user)])
                .await,
        )?;
        Ok(groups.map(|g| g.into_iter().map(|g| g.name).collect()))
    }

    /// Every group holding a global permission (`GET /admin/permissions/groups`): the groups
    /// that let their members log in.
    pub async fn permitted_groups(&self) -> Result<Vec<PermittedGroup>, AtlassianError> {
        self.all("/admin/permissions/groups", &[]).await
    }

    /// The global permission granted to `user` directly (not through a group), from
    /// `GET /admin/permissions/users?filter=`.
    pub async fn direct_permission(
        &self,
        user: &str,
    ) -> Result<Option<GlobalPermission>, AtlassianError> {
        let lower = user.to_lowercase();
        let hit = self
            .find(
                "/admin/permissions/users",
                &[("filter", user)],
                |p: &PermittedUser| p.user.name.to_lowercase() == lower,
            )
            .await?;
        Ok(hit.map(|p| p.permission))
    }

    /// `DELETE /admin/permissions/users?name=`: revokes every global permission granted to
    /// `user` directly.
    pub async fn revoke_direct_permissions(&self, user: &str) -> Result<(), AtlassianError> {
        self.rest
            .call_with(
                Method::DELETE,
                "/admin/permissions/users",
                &[("name", user)],
                None,
                Retry::Idempotent,
            )
            .await
            .map(drop)
    }
}

/// Reads Bitbucket's `{"errors": [{"context", "message", "exceptionName"}]}` into an error
/// naming the call; `context`, when set, names the offending field (`emailAddress`).
pub(crate) fn bitbucket_error(call: &str, resp: &Response<Vec<u8>>) -> AtlassianError {
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "exceptionName")]
        exception_name: Option<String>,
    }
    let body: Body = serde_json::from_slice(resp.body()).unwrap_or_default();
    let mut parts = Vec::new();
    let mut fields = Vec::new();
    for item in body.errors {
        // The exception's class name (`NoSuchUserException`) tells causes apart the way
        // Crowd's `reason` does, without parsing the message.
        if let Some(class) = item
            .exception_name
            .as_deref()
            .and_then(|n| n.rsplit('.').next())
        {
            if !class.is_empty() {
                fields.push(class.to_owned());
            }
        }
        let text = item.message.unwrap_or_default();
        match item.context.filter(|c| !c.is_empty()) {
            Some(field) => {
                parts.push(format!("{field}: {text}"));
                fields.push(field);
            }
            None if !text.is_empty() => parts.push(text),
            None => {}
        }
    }
    status_error_from(call, resp, &parts, fields)
}
