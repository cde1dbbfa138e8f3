//! Atlassian Cloud user provisioning: [`CloudProvisioner`], a SCIM-to-SCIM [`Provisioner`] for
//! the directory API at `https://api.atlassian.com/scim/directory/{directoryId}`.
//!
//! Cloud serves SCIM 2.0 itself, so most operations forward as they are. What it cannot do is
//! made up for here:
//! - Filters: Cloud accepts a single `eq` on `userName` or `externalId` (users) and on
//!   `displayName` (groups). Those pass through; any other filter is evaluated locally while
//!   paging through the directory 100 at a time (Cloud's largest page). Without `sortBy` only the
//!   requested page is kept, so memory holds one Cloud page plus the answer; with `sortBy` every
//!   match is kept, since any of them may sort first.
//! - Sorting: Cloud does not sort; results are sorted locally.
//! - Versions: Cloud is not documented to send `meta.version` or honour `If-Match`, so the
//!   version is an [`ETag::from_content`] of the resource as Cloud returns it. An `expected` version is checked
//!   by a read just before the write: a write by someone else between that read and the write
//!   goes undetected (Cloud offers no conditional write to close the window).
//! - Group membership changes go through PATCH on `members`, which is how Cloud accepts them;
//!   a group replace becomes one PATCH of the differences.
//! - `DELETE /Users/{id}` only deactivates the Atlassian account; the id answers 404 afterwards,
//!   as a deleted resource should.
//!
//! Policies: [`CloudBuilder::policy`] applies a [`SyncPolicy`]'s user-name and group-name
//! transformations (see there); its group mapping, default groups, scope and deprovisioning
//! settings are not applied to Cloud yet.

mod names;
mod search;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{ListQuery, Page, Provisioner, RequestContext};
use scim_core::{ErrorBody, Group, HttpClient, HttpError, Member, ScimError, User};
use serde_json::{Value, json};

use crate::policy::SyncPolicy;
use crate::{
    AtlassianError, CallObserver, CallRecord, Credentials, RetryPolicy, Sleeper, ThreadSleeper,
};

/// Cloud's largest page (`count`) for `GET /Users` and `GET /Groups`.
pub const CLOUD_PAGE: usize = 100;

/// Which Cloud collection a call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn collection(self) -> &'static str {
        match self {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        }
    }

    fn resource_type(self) -> &'static str {
        match self {
            Kind::Users => "User",
            Kind::Groups => "Group",
        }
    }
}

/// A [`Provisioner`] writing to one Atlassian Cloud directory through its SCIM API.
///
/// Built with [`CloudProvisioner::builder`]. The directory is the whole of what it sees: the
/// [`RequestContext`]'s tenant is not used to separate data (run one `CloudProvisioner` per
/// directory and tenant).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use std::sync::Arc;
/// use scim_atlassian::cloud::CloudProvisioner;
/// use scim_atlassian::simulator::CloudSimulator;
/// use scim_core::provision::{ListQuery, Provisioner, RequestContext};
/// use scim_core::User;
///
/// let sim = Arc::new(CloudSimulator::new("dir-1", "directory-api-key"));
/// let cloud = CloudProvisioner::builder(
///     "https://api.atlassian.com/scim/directory/dir-1",
///     "directory-api-key",
/// )
/// .client(sim.clone())
/// .build()?;
/// # block_on(async {
/// let ctx = RequestContext::new("acme");
/// cloud.create_user(&ctx, User::new("bjensen@example.com")).await?;
/// let query = ListQuery::new().with_filter(r#"userName eq "bjensen@example.com""#.parse()?);
/// assert_eq!(cloud.search_users(&ctx, &query).await?.total_results, 1);
/// # Ok::<(), scim_core::ScimError>(())
/// # }).unwrap();
/// # Ok::<(), scim_atlassian::AtlassianError>(())
/// ```
#[derive(Clone)]
pub struct CloudProvisioner {
    base: url::Url,
    auth: HeaderValue,
    http: Arc<dyn HttpClient>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
    names: names::Names,
}

impl std::fmt::Debug for CloudProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudProvisioner")
            .field("directory", &self.base.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Configures a [`CloudProvisioner`]; from [`CloudProvisioner::builder`].
#[must_use]
pub struct CloudBuilder {
    directory_url: String,
    credentials: Credentials,
    http: Option<Arc<dyn HttpClient>>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
    policy: SyncPolicy,
}

impl std::fmt::Debug for CloudBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudBuilder")
            .field("directory_url", &self.directory_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl CloudBuilder {
    /// The [`HttpClient`] requests go through (required).
    pub fn client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// How waits before retries are done (default [`ThreadSleeper`]).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// How GET, PUT and DELETE are retried on 429/503 (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Told of every call, without secrets.
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Applies `policy`'s `user_name` and `group_name` transformations: to the `userName` of
    /// users created and replaced, to the `displayName` of groups created and replaced, and to
    /// the value of a `userName eq` / `displayName eq` filter, so an IdP finds a user by the name
    /// it sent. While a transformation is set, PATCH is applied here (read, apply, replace, with
    /// the read-to-write window of the module docs) rather than forwarded, so a PATCH of the name
    /// is transformed too. Other filters see the names as Cloud stores them. The rest of the
    /// policy (group mapping, default groups, scope, deprovisioning) is not applied to Cloud yet.
    pub fn policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The provisioner; fails when the URL is not an absolute `http(s)` URL, the API key cannot
    /// be sent in a header, or no client was given.
    pub fn build(self) -> Result<CloudProvisioner, AtlassianError> {
        let base = url::Url::parse(self.directory_url.trim_end_matches('/'))
            .map_err(|e| AtlassianError::InvalidBaseUrl(format!("{}: {e}", self.directory_url)))?;
        if !matches!(base.scheme(), "http" | "https")
            || base.query().is_some()
            || base.cannot_be_a_base()
        {
            return Err(AtlassianError::InvalidBaseUrl(format!(
                "{}: expected https://api.atlassian.com/scim/directory/{{directoryId}}",
                self.directory_url
            )));
        }
        let auth = self
            .credentials
            .header_value()
            .ok_or(AtlassianError::InvalidCredentials)?;
        let http = self.http.ok_or(AtlassianError::MissingClient)?;
        let names = names::Names::new(&self.policy)?;
        Ok(CloudProvisioner {
            names,
            base,
            auth,
            http,
            sleeper: self.sleeper,
            retry: self.retry,
            observer: self.observer,
        })
    }
}

/// A call's parts: how it is named in records and errors (`GET /Users/{id}`, no id, no query:
/// nothing personal) and where it goes.
struct Call<'a> {
    method: Method,
    kind: Kind,
    id: Option<&'a str>,
    query: &'a [(&'a str, String)],
    body: Option<&'a Value>,
}

impl Call<'_> {
    fn name(&self) -> String {
        let suffix = if self.id.is_some() { "/{id}" } else { "" };
        format!("{} /{}{suffix}", self.method, self.kind.collection())
    }
}

impl CloudProvisioner {
    /// A builder for the directory at `directory_url`
    /// (`https://api.atlassian.com/scim/directory/{directoryId}`) with its directory API key
    /// (not an organization admin key), sent as `Authorization: Bearer`.
    pub fn builder(directory_url: impl Into<String>, api_key: impl Into<String>) -> CloudBuilder {
        CloudBuilder {
            directory_url: directory_url.into(),
            credentials: Credentials::bearer(api_key),
            http: None,
            sleeper: Arc::new(ThreadSleeper),
            retry: RetryPolicy::default(),
            observer: None,
            policy: SyncPolicy::default(),
        }
    }

    fn request(&self, call: &Call<'_>) -> Result<Request<Vec<u8>>, ScimError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| internal(call, "the directory URL cannot take a path"))?;
            segments.pop_if_empty().push(call.kind.collection());
            if let Some(id) = call.id {
                segments.push(id);
            }
        }
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in call.query {
                pairs.append_pair(k, v);
            }
        }
        let bytes = match call.body {
            Some(b) => serde_json::to_vec(b).map_err(|e| internal(call, e))?,
            None => Vec::new(),
        };
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(url.as_str())
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::ACCEPT, "application/scim+json, application/json");
        if call.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
        }
        builder.body(bytes).map_err(|e| internal(call, e))
    }

    /// Sends a call, retrying GET, PUT and DELETE on 429/503 and timeouts (and anything on a
    /// failed connect, which cannot have reached Cloud). POST and PATCH are not retried after a
    /// response or timeout: a create or a member `add` may have been applied already.
    async fn send(&self, call: &Call<'_>) -> Result<Response<Vec<u8>>, ScimError> {
        let name = call.name();
        let idempotent = matches!(call.method, Method::GET | Method::PUT | Method::DELETE);
        let mut attempt = 0;
        loop {
            let request = self.request(call)?;
            let started = Instant::now();
            let outcome = self.http.send(request).await;
            if let Some(observer) = &self.observer {
                observer.on_call(&CallRecord {
                    call: name.clone(),
                    status: outcome.as_ref().ok().map(|r| r.status().as_u16()),
                    attempt,
                    elapsed: started.elapsed(),
                });
            }
            let (err, retry_after, retryable) = match outcome {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let retryable = idempotent
                        && matches!(
                            resp.status(),
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        );
                    (cloud_error(&name, &resp), retry_after(&resp), retryable)
                }
                Err(e) => {
                    let retryable = match &e {
                        HttpError::Connect(_) => true,
                        HttpError::Timeout(_) => idempotent,
                        _ => false,
                    };
                    (transport_error(&name, &e), None, retryable)
                }
            };
            if !retryable {
                return Err(err);
            }
            match self.retry.delay(attempt, retry_after) {
                Some(wait) => {
                    self.sleeper.sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(err),
            }
        }
    }

    /// Sends a call and reads the resource it answers with, versioned; `None` for 204.
    async fn send_resource(&self, call: &Call<'_>) -> Result<Option<Value>, ScimError> {
        let resp = self.send(call).await?;
        if resp.status() == StatusCode::NO_CONTENT || resp.body().is_empty() {
            return Ok(None);
        }
        let value: Value =
            serde_json::from_slice(resp.body()).map_err(|e| decode_error(&call.name(), e))?;
        Ok(Some(versioned(call.kind, value)))
    }

    async fn get(&self, kind: Kind, id: &str) -> Result<Value, ScimError> {
        let call = Call {
            method: Method::GET,
            kind,
            id: Some(id),
            query: &[],
            body: None,
        };
        self.send_resource(&call)
            .await?
            .ok_or_else(|| decode_error(&call.name(), "an empty body"))
    }

    /// Checks `expected` against the current version, read now (see the module docs for the
    /// window this leaves).
    async fn check_version(
        &self,
        kind: Kind,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<Option<Value>, ScimError> {
        let Some(want) = expected else {
            return Ok(None);
        };
        let current = self.get(kind, id).await?;
        check_expected(Some(want), version_of(&current).as_ref())?;
        Ok(Some(current))
    }

    /// Writes with `method` and returns the resource, reading it back when Cloud answers 204.
    async fn write(
        &self,
        method: Method,
        kind: Kind,
        id: Option<&str>,
        body: &Value,
    ) -> Result<Value, ScimError> {
        let call = Call {
            method,
            kind,
            id,
            query: &[],
            body: Some(body),
        };
        match (self.send_resource(&call).await?, id) {
            (Some(v), _) => Ok(v),
            (None, Some(id)) => self.get(kind, id).await,
            (None, None) => Err(decode_error(
                &call.name(),
                "a create answered without a body",
            )),
        }
    }

    async fn patch(
        &self,
        kind: Kind,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Value, ScimError> {
        self.check_version(kind, id, expected).await?;
        let body = serde_json::to_value(patch)?;
        self.write(Method::PATCH, kind, Some(id), &body).await
    }

    async fn delete(&self, kind: Kind, id: &str, expected: Option<&ETag>) -> Result<(), ScimError> {
        self.check_version(kind, id, expected).await?;
        let call = Call {
            method: Method::DELETE,
            kind,
            id: Some(id),
            query: &[],
            body: None,
        };
        self.send(&call).await.map(drop)
    }

    /// Turns `current` into `group` with one PATCH of what differs (name, externalId, members
    /// removed, members added), since Cloud takes membership changes through PATCH; no call
    /// when nothing differs.
    async fn change_group(
        &self,
        id: &str,
        current: Group,
        group: &Group,
    ) -> Result<Group, ScimError> {
        let mut ops = Vec::new();
        if current.display_name != group.display_name {
            ops.push(json!({"op": "replace", "path": "displayName", "value": group.display_name}));
        }
        if current.external_id != group.external_id {
            match &group.external_id {
                Some(e) => ops.push(json!({"op": "replace", "path": "externalId", "value": e})),
                None => ops.push(json!({"op": "remove", "path": "externalId"})),
            }
        }
        // Sets: a Cloud group holds up to 35,000 members, too many for nested scans.
        let have: HashSet<&str> = member_ids(&current.members).into_iter().collect();
        let want: HashSet<&str> = member_ids(&group.members).into_iter().collect();
        let mut gone: Vec<&str> = have.difference(&want).copied().collect();
        let mut new: Vec<&str> = want.difference(&have).copied().collect();
        // Sorted so the PATCH sent is the same for the same change.
        gone.sort_unstable();
        new.sort_unstable();
        ops.extend(remove_ops(&gone)?);
        if !new.is_empty() {
            ops.push(add_op(&new));
        }
        if ops.is_empty() {
            return Ok(current);
        }
        group_from(
            self.write(Method::PATCH, Kind::Groups, Some(id), &patch_body(&ops))
                .await?,
        )
    }

    /// One page of Cloud's listing: `(resources, totalResults)`.
    pub(crate) async fn list_page(
        &self,
        kind: Kind,
        filter: Option<&str>,
        start_index: usize,
        count: usize,
    ) -> Result<(Vec<Value>, u64), ScimError> {
        let mut query = vec![
            ("startIndex", start_index.to_string()),
            ("count", count.min(CLOUD_PAGE).to_string()),
        ];
        if let Some(f) = filter {
            query.push(("filter", f.to_owned()));
        }
        let call = Call {
            method: Method::GET,
            kind,
            id: None,
            query: &query,
            body: None,
        };
        let resp = self.send(&call).await?;
        let list: scim_core::ListResponse<Value> =
            serde_json::from_slice(resp.body()).map_err(|e| decode_error(&call.name(), e))?;
        let resources = list
            .resources
            .into_iter()
            .map(|v| versioned(kind, v))
            .collect();
        Ok((resources, list.total_results))
    }
}

/// The body of a create or replace: `id`, `meta` and `groups` are the server's.
fn writable<T: serde::Serialize>(resource: &T) -> Result<Value, ScimError> {
    let mut value = serde_json::to_value(resource)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("id");
        obj.remove("meta");
        obj.remove("groups");
    }
    Ok(value)
}

/// Sets `meta.version` (and `meta.resourceType` when missing) on a resource from Cloud.
fn versioned(kind: Kind, mut value: Value) -> Value {
    let tag = ETag::from_content(&value).to_string();
    if let Some(obj) = value.as_object_mut() {
        let meta = obj.entry("meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.entry("resourceType")
                .or_insert_with(|| Value::from(kind.resource_type()));
            meta.insert("version".to_owned(), Value::from(tag));
        }
    }
    value
}

/// 412 unless `current` is `expected` (when given).
fn check_expected(expected: Option<&ETag>, current: Option<&ETag>) -> Result<(), ScimError> {
    match expected {
        Some(want) if !current.is_some_and(|v| v.weak_eq(want)) => {
            Err(ScimError::precondition_failed(format_args!(
                "If-Match {want} does not match the current version {}",
                current.map_or_else(|| "(none)".to_owned(), ToString::to_string)
            )))
        }
        _ => Ok(()),
    }
}

fn version_of(value: &Value) -> Option<ETag> {
    value
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .and_then(|t| ETag::parse(t).ok())
}

fn user_from(value: Value) -> Result<User, ScimError> {
    serde_json::from_value(value).map_err(|e| decode_error("a user from Cloud", e))
}

fn group_from(value: Value) -> Result<Group, ScimError> {
    serde_json::from_value(value).map_err(|e| decode_error("a group from Cloud", e))
}

/// `Retry-After` in seconds.
fn retry_after(resp: &Response<Vec<u8>>) -> Option<Duration> {
    let value = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Cloud's SCIM error body as a [`ScimError`] with Cloud's status and `scimType`, its detail
/// prefixed with the call. Two statuses change: 401 (Cloud refusing *our* API key) and 5xx
/// other than 503 become 502, since the SCIM client cannot fix either.
fn cloud_error(call: &str, resp: &Response<Vec<u8>>) -> ScimError {
    let body: Option<ErrorBody> = serde_json::from_slice(resp.body()).ok();
    let status = resp.status();
    let detail = body
        .as_ref()
        .and_then(|b| b.detail.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no detail").to_owned());
    let scim_type = body.and_then(|b| b.scim_type);
    let mapped = match status.as_u16() {
        401 => StatusCode::BAD_GATEWAY,
        503 => StatusCode::SERVICE_UNAVAILABLE,
        s if s >= 500 => StatusCode::BAD_GATEWAY,
        _ => status,
    };
    ScimError::other(
        mapped,
        scim_type,
        format_args!(
            "Atlassian Cloud {call} answered {}: {detail}",
            status.as_u16()
        ),
    )
}

fn transport_error(call: &str, err: &HttpError) -> ScimError {
    let status = match err {
        HttpError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    ScimError::other(status, None, format_args!("Atlassian Cloud {call}: {err}"))
}

fn decode_error(call: &str, why: impl std::fmt::Display) -> ScimError {
    ScimError::other(
        StatusCode::BAD_GATEWAY,
        None,
        format_args!("Atlassian Cloud {call}: unexpected response: {why}"),
    )
}

fn internal(call: &Call<'_>, why: impl std::fmt::Display) -> ScimError {
    ScimError::other(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        format_args!(
            "Atlassian Cloud {}: cannot build the request: {why}",
            call.name()
        ),
    )
}

/// A PATCH body of `operations`.
fn patch_body(operations: &[Value]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

fn member_ids(members: &[Member]) -> Vec<&str> {
    members.iter().filter_map(|m| m.value.as_deref()).collect()
}

/// `remove` operations for `ids`, built by scim-core as its own default `remove_members` does.
fn remove_ops(ids: &[&str]) -> Result<Vec<Value>, ScimError> {
    let patch = scim_core::provision::remove_members_patch(ids)?;
    patch
        .operations
        .iter()
        .map(|op| serde_json::to_value(op).map_err(ScimError::from))
        .collect()
}

fn add_op(ids: &[&str]) -> Value {
    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"op": "add", "path": "members", "value": value})
}

#[async_trait]
impl Provisioner for CloudProvisioner {
    async fn create_user(&self, _ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        let user = self.names.user(user)?;
        let body = writable(&user)?;
        user_from(self.write(Method::POST, Kind::Users, None, &body).await?)
    }

    async fn get_user(&self, _ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        user_from(self.get(Kind::Users, id).await?)
    }

    async fn replace_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let user = self.names.user(user)?;
        self.check_version(Kind::Users, id, expected).await?;
        let body = writable(&user)?;
        user_from(
            self.write(Method::PUT, Kind::Users, Some(id), &body)
                .await?,
        )
    }

    async fn delete_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.delete(Kind::Users, id, expected).await
    }

    async fn scan_users(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        search::scan(self, Kind::Users, offset, limit)
            .await?
            .into_iter()
            .map(user_from)
            .collect()
    }

    async fn create_group(&self, _ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        let group = self.names.group(group)?;
        let body = writable(&group)?;
        group_from(self.write(Method::POST, Kind::Groups, None, &body).await?)
    }

    async fn get_group(&self, _ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        group_from(self.get(Kind::Groups, id).await?)
    }

    /// One read, then one PATCH of what differs (name, members added, members removed), since
    /// Cloud takes membership changes through PATCH; nothing is written when nothing differs.
    async fn replace_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        let group = self.names.group(group)?;
        let current = match self.check_version(Kind::Groups, id, expected).await? {
            Some(v) => v,
            None => self.get(Kind::Groups, id).await?,
        };
        self.change_group(id, group_from(current)?, &group).await
    }

    async fn delete_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.delete(Kind::Groups, id, expected).await
    }

    async fn scan_groups(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        search::scan(self, Kind::Groups, offset, limit)
            .await?
            .into_iter()
            .map(group_from)
            .collect()
    }

    async fn search_users(
        &self,
        _ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        let query = self.names.query(Kind::Users, query)?;
        let page = search::search(self, Kind::Users, &query).await?;
        Ok(Page {
            resources: page
                .resources
                .into_iter()
                .map(user_from)
                .collect::<Result<_, _>>()?,
            total_results: page.total_results,
            start_index: page.start_index,
        })
    }

    async fn search_groups(
        &self,
        _ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        let query = self.names.query(Kind::Groups, query)?;
        let page = search::search(self, Kind::Groups, &query).await?;
        Ok(Page {
            resources: page
                .resources
                .into_iter()
                .map(group_from)
                .collect::<Result<_, _>>()?,
            total_results: page.total_results,
            start_index: page.start_index,
        })
    }

    /// Forwarded to Cloud as one PATCH, which applies it atomically (applied here when a
    /// user-name transformation is set; see [`CloudBuilder::policy`]).
    async fn patch_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        if !self.names.users_identity() {
            let current = self.get(Kind::Users, id).await?;
            let version = version_of(&current);
            check_expected(expected, version.as_ref())?;
            let mut user = user_from(current)?;
            scim_core::patch::apply_user(&mut user, patch, scim_core::SchemaRegistry::builtin())?;
            let body = writable(&self.names.user(user)?)?;
            return user_from(
                self.write(Method::PUT, Kind::Users, Some(id), &body)
                    .await?,
            );
        }
        user_from(self.patch(Kind::Users, id, patch, expected).await?)
    }

    /// Forwarded to Cloud as one PATCH, which applies it atomically (applied here when a
    /// group-name transformation is set; see [`CloudBuilder::policy`]).
    async fn patch_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        if !self.names.groups_identity() {
            let current = self.get(Kind::Groups, id).await?;
            let version = version_of(&current);
            check_expected(expected, version.as_ref())?;
            let current = group_from(current)?;
            let mut group = current.clone();
            scim_core::patch::apply_group(&mut group, patch, scim_core::SchemaRegistry::builtin())?;
            let group = self.names.group(group)?;
            return self.change_group(id, current, &group).await;
        }
        group_from(self.patch(Kind::Groups, id, patch, expected).await?)
    }

    /// One PATCH `add` on `members`.
    async fn add_members(
        &self,
        _ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        let ids = member_ids(members);
        if ids.is_empty() {
            return group_from(self.get(Kind::Groups, group_id).await?);
        }
        let body = patch_body(&[add_op(&ids)]);
        group_from(
            self.write(Method::PATCH, Kind::Groups, Some(group_id), &body)
                .await?,
        )
    }

    /// A read, then one PATCH `remove` of the ids that are members (a remove matching nothing
    /// is an error in SCIM, and ids that are not members are to be ignored here).
    async fn remove_members(
        &self,
        _ctx: &RequestContext,
        group_id: &str,
        member_ids_in: &[String],
    ) -> Result<Group, ScimError> {
        let current = self.get(Kind::Groups, group_id).await?;
        let group = group_from(current)?;
        let have: HashSet<&str> = member_ids(&group.members).into_iter().collect();
        let mut present: Vec<&str> = member_ids_in
            .iter()
            .map(String::as_str)
            .filter(|id| have.contains(id))
            .collect();
        present.sort_unstable();
        present.dedup();
        if present.is_empty() {
            return Ok(group);
        }
        let body = patch_body(&remove_ops(&present)?);
        group_from(
            self.write(Method::PATCH, Kind::Groups, Some(group_id), &body)
                .await?,
        )
    }
}
