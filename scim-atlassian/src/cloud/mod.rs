//! Atlassian Cloud user provisioning: [`CloudProvisioner`], a SCIM-to-SCIM [`Provisioner`](scim_core::provision::Provisioner) for
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
//! Policies: [`CloudBuilder::policy`] applies a [`SyncPolicy`] as the Jira provisioner does
//! (see there for what differs on Cloud).

mod kept;
mod names;
mod org;
mod rules;
mod search;

pub use kept::{Deprovisioned, DeprovisionedUsers, InMemoryDeprovisioned, JsonFileDeprovisioned};

/// Atlassian's user extension on Cloud, carrying the account id (`atlassianAccountId`).
pub const ATLASSIAN_EXTERNAL: &str = "urn:scim:schemas:extension:atlassian-external:1.1";

/// The schema of [`ATLASSIAN_EXTERNAL`], for `/Schemas` and `/ResourceTypes`: Cloud's users
/// carry it (Atlassian sets the account id; it is read-only), so a service serving them
/// declares it, e.g. with `ServiceBuilder::user_extension`.
pub fn atlassian_user_extension() -> scim_core::Schema {
    let attribute = scim_core::AttributeDef {
        name: "atlassianAccountId".to_owned(),
        kind: scim_core::schema::AttributeType::String,
        description: Some("The Atlassian account of the user, set by Atlassian.".to_owned()),
        case_exact: Some(true),
        mutability: scim_core::schema::Mutability::ReadOnly,
        ..scim_core::AttributeDef::default()
    };
    scim_core::Schema {
        id: ATLASSIAN_EXTERNAL.to_owned(),
        name: Some("AtlassianExternal".to_owned()),
        description: Some("Atlassian's extension of Cloud users".to_owned()),
        attributes: vec![attribute],
        ..scim_core::Schema::default()
    }
}

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, RequestContext};
use scim_core::{ErrorBody, Group, HttpClient, HttpError, Member, ScimError, User};
use serde_json::{Value, json};

use crate::history::note_action;
use crate::seats::SeatUsage;
use crate::transport::{Connection, Exhaustible, Link, Retry, base_url_of, is_transient};
use crate::{AtlassianError, CallObserver, Credentials, RetryPolicy, Sleeper};
use scim_provisioning::policy::{
    CompiledPolicy, DeprovisionAction, RemoveGroups, SyncPolicy, idp_groups, split_group_ops,
    touches_groups,
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

/// A [`Provisioner`](scim_core::provision::Provisioner) writing to one Atlassian Cloud directory through its SCIM API.
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
    pub(crate) link: Link,
    names: names::Names,
    policy: Arc<CompiledPolicy>,
    /// Anonymized originals and users hidden by a SCIM `DELETE` ([`kept`]).
    deprovisioned: Arc<dyn DeprovisionedUsers>,
    /// The organizations REST API, for last-active dates, when configured (boxed: it is
    /// rarely set, and applications keep provisioners in enums).
    org: Option<Box<org::OrgApi>>,
}

impl std::fmt::Debug for CloudProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudProvisioner")
            .field("directory", &self.base.as_str())
            .field("retry", self.link.retry())
            .finish_non_exhaustive()
    }
}

/// Configures a [`CloudProvisioner`]; from [`CloudProvisioner::builder`].
#[must_use]
pub struct CloudBuilder {
    directory_url: String,
    credentials: Credentials,
    connection: Connection,
    policy: SyncPolicy,
    dry_run: bool,
    deprovisioned: Option<Arc<dyn DeprovisionedUsers>>,
    organization: Option<(String, Credentials)>,
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
        self.connection.client = Some(client);
        self
    }

    /// How waits before retries are done (default [`ThreadSleeper`](crate::ThreadSleeper)).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.connection.sleeper = sleeper;
        self
    }

    /// How GET, PUT and DELETE are retried on 429/503 (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.connection.retry = retry;
        self
    }

    /// Told of every call, without secrets.
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.connection.observer = Some(observer);
        self
    }

    /// Applies `policy` as the Jira provisioner does, with the same decisions:
    /// - Names: `user_name` transforms the `userName` of users written and of `userName eq`
    ///   lookups; `group_name` the group names.
    /// - Group mapping: on-the-fly (include/exclude, rename) or manual. A mapped group is found
    ///   in Cloud by name and created when missing; under manual mapping a membership change
    ///   goes to every Cloud group the IdP group maps to, and the first shows under the IdP
    ///   group's name. A group the policy ignores is accepted and reads as empty under an id
    ///   of its own (`unsynced-...`); nothing of it reaches Cloud.
    /// - User writes carrying `groups` (create, replace) put the user in the mapped groups and
    ///   the default groups (new users: on create; all users: on every write). Groups the
    ///   mapping manages (manual: its targets) are left when no longer sent, others too with
    ///   `remove_unmanaged_groups`. Cloud has nowhere to remember which groups on-the-fly
    ///   mapping gave a user, so under on-the-fly mapping only `remove_unmanaged_groups`
    ///   removes anything.
    /// - Scope: a create outside it is refused with 403 and nothing written; a write showing
    ///   the user left it is ignored or deprovisions it (`deprovision_out_of_scope`, which also
    ///   acts on users removed from a scope group).
    /// - Deprovisioning (`active: false`, out of scope, the inactive-user cleanup, and a SCIM
    ///   `DELETE`), each step told to the sync history: `delete` is Cloud's
    ///   `DELETE /Users/{id}` (what Cloud calls deletion deactivates the Atlassian account and
    ///   removes its SCIM record); `deactivate` sets `active: false`, and a SCIM `DELETE` is
    ///   Cloud's `DELETE` under it too. `anonymize` replaces `userName`, `emails`,
    ///   `displayName` and `name` with opaque values in one PATCH that also deactivates (the
    ///   email keeps the user's own domain: Cloud takes only verified domains for managed
    ///   accounts); the originals are kept in the [`DeprovisionedUsers`] store, SCIM keeps
    ///   showing them, and reactivating or creating the user again writes them back. `keep`
    ///   writes nothing to the account. Under `anonymize` and `keep` a SCIM `DELETE` sends no
    ///   Cloud `DELETE`: the user is hidden (SCIM answers 404) and a create of the same name
    ///   finds the same Cloud user again.
    /// - Memberships: `remove_groups` and `keep_groups` act as on Data Center on every
    ///   deprovisioning that keeps the account (one PATCH per group left). Not on a Cloud
    ///   `DELETE`: Cloud removes the SCIM record with all its memberships, whatever
    ///   `keep_groups` says. Cloud cannot tell which groups on-the-fly mapping gave a user,
    ///   so `remove_groups = "managed"` removes only a manual mapping's targets.
    /// - Licence seats: `seats.enforce` is refused when built (no Cloud API tells seats).
    ///
    /// While a user-name transformation, all-user default groups, an action other than
    /// `deactivate` or membership removal on every deprovisioning is set, a user PATCH is
    /// applied here (read, apply, replace, with the read-to-write window of the module docs)
    /// rather than forwarded; so is a group PATCH under any mapping but same-named groups. A
    /// user PATCH of `groups` is not applied to Cloud.
    pub fn policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Where anonymized users' own values and the users a SCIM `DELETE` hid under `anonymize`
    /// or `keep` are remembered (Cloud has no field to keep them in that people would not
    /// see: see [`DeprovisionedUsers`]). Default: [`InMemoryDeprovisioned`], lost on restart;
    /// use [`JsonFileDeprovisioned`] with those policies in production.
    pub fn deprovisioned_users(mut self, store: Arc<dyn DeprovisionedUsers>) -> Self {
        self.deprovisioned = Some(store);
        self
    }

    /// The organization (`orgId`) and an organization admin API key, for what the directory
    /// API key cannot reach: users' last-active dates
    /// ([`CloudProvisioner::last_login`]), from the organizations REST API
    /// (`/admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates`) on the
    /// directory URL's host. The key is sent as `Authorization: Bearer`.
    pub fn organization(mut self, org_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        self.organization = Some((org_id.into(), Credentials::bearer(api_key)));
        self
    }

    /// Computes what would change without writing: the client is wrapped in a
    /// [`DryRunClient`](crate::dry_run::DryRunClient) (reads reach Cloud, writes are held back
    /// and reported in the sync history).
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// The provisioner; fails when the URL is not an absolute `http(s)` URL, the API key cannot
    /// be sent in a header, or no client was given.
    pub fn build(self) -> Result<CloudProvisioner, AtlassianError> {
        let base = base_url_of(
            self.directory_url.trim_end_matches('/'),
            &self.directory_url,
            "https://api.atlassian.com/scim/directory/{directoryId}",
        )?;
        let auth = self
            .credentials
            .header_value()
            .ok_or(AtlassianError::InvalidCredentials)?;
        let mut connection = self.connection;
        connection.client = connection
            .client
            .map(|client| crate::dry_run::maybe(client, self.dry_run));
        let link = Link::new(&connection)?;
        let policy = self.policy.compile()?;
        refuse_on_cloud(&self.policy)?;
        let names = names::Names::new(&policy);
        let org = match &self.organization {
            Some((id, key)) => Some(Box::new(org::OrgApi::new(&base, id, key)?)),
            None => None,
        };
        Ok(CloudProvisioner {
            names,
            policy: Arc::new(policy),
            base,
            auth,
            link,
            deprovisioned: {
                let store = self
                    .deprovisioned
                    .unwrap_or_else(|| Arc::new(InMemoryDeprovisioned::new()));
                // A dry run remembers nothing either: its writes never reached Cloud.
                if self.dry_run {
                    Arc::new(kept::HeldBack(store))
                } else {
                    store
                }
            },
            org,
        })
    }
}

/// The policy settings Atlassian Cloud's user provisioning API cannot carry out, refused
/// before anything is sent: seat checks (neither the user provisioning API nor the
/// organizations API tells a product's licensed seats; they are managed in
/// admin.atlassian.com).
fn refuse_on_cloud(policy: &SyncPolicy) -> Result<(), AtlassianError> {
    if policy.seats.enforce {
        return Err(AtlassianError::Policy(
            crate::policy::PolicyError::Invalid {
                setting: "seats.enforce".to_owned(),
                reason: format!("not available on Atlassian Cloud: {CLOUD_SEATS}"),
            },
        ));
    }
    Ok(())
}

/// Why Cloud has no seat counts, for the refusal and [`SeatUsage::note`].
const CLOUD_SEATS: &str = "no Atlassian Cloud API that a directory or organization API key \
     reaches tells a product's licensed seats (the user provisioning API has no licence call, \
     the organizations API lists users but not seats); manage seats in admin.atlassian.com";

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
    /// Licence seats: Cloud's user provisioning API exposes none, so the counts are `None`
    /// and [`SeatUsage::note`] says where to look. Async, like
    /// [`AtlassianProvisioner::seats`](crate::AtlassianProvisioner::seats), so callers treat
    /// every target alike.
    #[allow(clippy::unused_async)]
    pub async fn seats(&self) -> Result<SeatUsage, AtlassianError> {
        Ok(SeatUsage::from_pools(
            "Atlassian Cloud",
            Vec::new(),
            0,
            Some(CLOUD_SEATS.to_owned()),
        ))
    }

    /// A builder for the directory at `directory_url`
    /// (`https://api.atlassian.com/scim/directory/{directoryId}`) with its directory API key
    /// (not an organization admin key), sent as `Authorization: Bearer`.
    pub fn builder(directory_url: impl Into<String>, api_key: impl Into<String>) -> CloudBuilder {
        CloudBuilder {
            directory_url: directory_url.into(),
            credentials: Credentials::bearer(api_key),
            connection: Connection::default(),
            policy: SyncPolicy::default(),
            dry_run: false,
            deprovisioned: None,
            organization: None,
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

    /// Sends a call. Any call goes again after a 429 or a 503 with `Retry-After` (Cloud did
    /// not process it) and after a failed connect; GET, PUT and DELETE also after other
    /// transient failures. POST and PATCH are not repeated blindly after a 5xx or timeout: a
    /// create or a member `add` may have been applied already (see [`CloudProvisioner::write`]).
    async fn send(&self, call: &Call<'_>) -> Result<Response<Vec<u8>>, ScimError> {
        self.send_noting(call, &AtomicBool::new(false)).await
    }

    /// [`CloudProvisioner::send`], setting `unsure` when a failed attempt may have been
    /// applied (a 500/502/504, a 503 without `Retry-After`, a timeout, a dropped connection).
    async fn send_noting(
        &self,
        call: &Call<'_>,
        unsure: &AtomicBool,
    ) -> Result<Response<Vec<u8>>, ScimError> {
        let name = call.name();
        let rule = if matches!(call.method, Method::GET | Method::PUT | Method::DELETE) {
            Retry::Idempotent
        } else {
            Retry::Once
        };
        self.link
            .send(
                &name,
                rule,
                || self.request(call),
                |resp| {
                    if is_transient(resp.status())
                        && !resp.headers().contains_key(header::RETRY_AFTER)
                    {
                        unsure.store(true, Ordering::Relaxed);
                    }
                    cloud_error(&name, resp)
                },
                |e| {
                    if e.may_have_been_sent() {
                        unsure.store(true, Ordering::Relaxed);
                    }
                    transport_error(&name, &e)
                },
            )
            .await
    }

    /// Sends a call and reads the resource it answers with, versioned; `None` for 204.
    async fn send_resource(&self, call: &Call<'_>) -> Result<Option<Value>, ScimError> {
        self.send_resource_noting(call, &AtomicBool::new(false))
            .await
    }

    /// [`CloudProvisioner::send_resource`], noting unsure failures as
    /// [`CloudProvisioner::send_noting`] does.
    async fn send_resource_noting(
        &self,
        call: &Call<'_>,
        unsure: &AtomicBool,
    ) -> Result<Option<Value>, ScimError> {
        let resp = self.send_noting(call, unsure).await?;
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

    /// User `id` as Cloud has it (its JSON), 404 when a SCIM `DELETE` hid it.
    async fn visible(&self, id: &str) -> Result<Value, ScimError> {
        if self.deprovisioned.get(id)?.is_some_and(|e| e.hidden) {
            return Err(ScimError::not_found("User", id));
        }
        self.get(Kind::Users, id).await
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
    ///
    /// A create (`POST`, no `id`) that failed in a way that may have been applied is looked up
    /// by its `userName` or `displayName` before it is sent again: found, it is the one just
    /// created; so a retry never makes a duplicate nor fails on the first attempt's success.
    /// A `PATCH` that may have been applied goes again: the operations this provisioner sends
    /// (`replace`, member `add`, member `remove` by value) leave the same result when applied
    /// twice.
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
        let mut retries = 0;
        loop {
            let unsure = AtomicBool::new(false);
            match self.send_resource_noting(&call, &unsure).await {
                Err(e) if unsure.load(Ordering::Relaxed) => {
                    if id.is_none() {
                        if let Some(found) = self.find_created(kind, body).await? {
                            return Ok(found);
                        }
                    }
                    if retries >= self.link.retry().max_retries {
                        return Err(e.exhausted(retries, Duration::from_secs(5)));
                    }
                    retries += 1;
                }
                Err(e) => return Err(e),
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {
                    return match id {
                        Some(id) => self.get(kind, id).await,
                        None => Err(decode_error(
                            &call.name(),
                            "a create answered without a body",
                        )),
                    };
                }
            }
        }
    }

    /// The resource a create of `body` made, found by its `userName` (users) or `displayName`
    /// (groups); `None` when there is none.
    async fn find_created(&self, kind: Kind, body: &Value) -> Result<Option<Value>, ScimError> {
        let attribute = match kind {
            Kind::Users => "userName",
            Kind::Groups => "displayName",
        };
        let Some(name) = body.get(attribute).and_then(Value::as_str) else {
            return Ok(None);
        };
        let quoted = serde_json::to_string(name)?;
        let filter = format!("{attribute} eq {quoted}");
        let (page, _) = self.list_page(kind, Some(&filter), 1, 2).await?;
        Ok(page.into_iter().next())
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
        let (new, gone) = member_diff(&current, group);
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

/// The member ids `group` adds to `current`, and those it drops, each sorted so the PATCH
/// sent is the same for the same change.
fn member_diff<'a>(current: &'a Group, group: &'a Group) -> (Vec<&'a str>, Vec<&'a str>) {
    // Sets: a Cloud group holds up to 35,000 members, too many for nested scans.
    let have: HashSet<&str> = member_ids(&current.members).into_iter().collect();
    let want: HashSet<&str> = member_ids(&group.members).into_iter().collect();
    let mut added: Vec<&str> = want.difference(&have).copied().collect();
    let mut removed: Vec<&str> = have.difference(&want).copied().collect();
    added.sort_unstable();
    removed.sort_unstable();
    (added, removed)
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

impl CloudProvisioner {
    /// Whether a user write needs the user as Cloud has it first, for the policy: it carries
    /// `groups` (scope and mapping), default groups apply to every write, it deactivates under
    /// a policy that does more than Cloud's `active: false` (see
    /// [`CloudProvisioner::deprovision_is_local`]), or the user is anonymized.
    fn user_write_reads(
        &self,
        id: &str,
        user: &User,
        groups: Option<&[String]>,
    ) -> Result<bool, ScimError> {
        Ok(groups.is_some()
            || !self.policy.all_users.is_empty()
            || (user.active == Some(false) && self.deprovision_is_local())
            || self.deprovisioned.get(id)?.is_some())
    }

    /// Whether deprovisioning takes more than forwarding `active: false`: an action other
    /// than `deactivate`, or memberships to remove on every deprovisioning.
    fn deprovision_is_local(&self) -> bool {
        self.policy.action != DeprovisionAction::Deactivate
            || matches!(
                self.policy.remove_groups,
                RemoveGroups::All | RemoveGroups::Managed
            )
    }

    /// Writes `user` over `current` (already read) with the policy applied: out of scope
    /// ignored or deprovisioned, deactivation through the policy's deprovisioning, an
    /// anonymized user's values kept aside (or written back when it is reactivated), then
    /// the `PUT` and the group plan. `groups` are the IdP groups the write carried.
    async fn write_user(
        &self,
        id: &str,
        user: User,
        current: User,
        groups: Option<&[String]>,
    ) -> Result<User, ScimError> {
        if let Some(groups) = groups {
            if !self.policy.in_scope(groups.iter().map(String::as_str)) {
                return if self.policy.deprovision_out_of_scope {
                    self.deprovision_user(id, current, false).await
                } else {
                    Ok(current)
                };
            }
        }
        let mut entry = self.deprovisioned.get(id)?.unwrap_or_default();
        // Under `keep`, a user the identity provider deactivated before: its other attributes
        // are written, the account stays as active as it is, SCIM still shows it inactive.
        // Only `active: true` ends that; a write without `active` does not (as on Data Center).
        let kept_inactive = entry.idp_inactive && user.active != Some(true);
        if user.active == Some(false)
            && current.active != Some(false)
            && entry.original.is_none()
            && !kept_inactive
            && self.deprovision_is_local()
        {
            return self.deprovision_user(id, current, false).await;
        }
        let mut user = self.names.user(user)?;
        if kept_inactive {
            user.active = current.active;
        }
        if entry.original.is_some() && user.active != Some(true) {
            // Anonymized and staying inactive: Cloud keeps the anonymous values, the write
            // goes to the kept originals (what SCIM shows).
            let mut shown = current.clone();
            rules::unmask(&mut shown, entry.original.as_ref());
            let original = rules::original_of(&user)?;
            if entry.original.as_ref() != Some(&original) {
                entry.original = Some(original);
                self.deprovisioned.set(id, Some(entry.clone()))?;
            }
            let mut answer = user;
            answer.id = Some(id.to_owned());
            answer.groups = shown.groups;
            answer.meta = shown.meta;
            answer.active = Some(false);
            return Ok(answer);
        }
        let restoring = entry.original.is_some();
        let before = rules::cloud_group_names(&current);
        let body = writable(&user)?;
        if kept_inactive && groups.is_none() && body == writable(&current)? {
            // The same `active: false` again: nothing to write.
            let mut answer = current;
            answer.active = Some(false);
            return Ok(answer);
        }
        let written = user_from(
            self.write(Method::PUT, Kind::Users, Some(id), &body)
                .await?,
        )?;
        // Still inactive in SCIM under `keep`: the entry stays.
        if !kept_inactive {
            if entry.idp_inactive {
                note_action(format!(
                    "reactivated user {id} to SCIM (kept as it was in Atlassian Cloud, where the \
                     account stayed active)"
                ));
            }
            if restoring || entry.hidden || entry.idp_inactive {
                entry.original = None;
                entry.hidden = false;
                entry.idp_inactive = false;
                self.deprovisioned.set(id, None)?;
                if restoring {
                    note_action(format!(
                        "restored user {id}'s own user name, email and display name in Atlassian \
                         Cloud (it had been anonymized) and reactivated it"
                    ));
                }
            }
        }
        let plan = self.policy.plan_groups(groups, &before, &[], false, false);
        let mut answer = if self.apply_plan(id, &plan).await? {
            user_from(self.get(Kind::Users, id).await?)?
        } else {
            written
        };
        if kept_inactive {
            answer.active = Some(false);
        }
        Ok(answer)
    }

    /// Turns Cloud group `id` (`current`) into `group` as the IdP sent it: the name through
    /// the policy (a name the policy ignores cannot be taken), one PATCH of the differences,
    /// the membership change repeated on the manual mapping's other targets, and users who
    /// left a scope group deprovisioned when the policy says so.
    async fn change_mapped_group(
        &self,
        id: &str,
        current: Group,
        mut group: Group,
    ) -> Result<Group, ScimError> {
        let wanted = group.display_name.trim().to_owned();
        if wanted.eq_ignore_ascii_case(&self.shown(current.clone()).display_name) {
            group.display_name.clone_from(&current.display_name);
        } else {
            group.display_name = self.cloud_group_name(&wanted)?.ok_or_else(|| {
                ScimError::invalid_value(
                    "displayName",
                    format_args!(
                        "the policy does not sync groups named {wanted:?}: a synced group \
                         cannot take that name"
                    ),
                )
            })?;
        }
        let (added, removed) = member_diff(&current, &group);
        let name = group.display_name.clone();
        let changed = self.change_group(id, current.clone(), &group).await?;
        self.fan_out(&name, &added, &removed).await?;
        self.deprovision_left(&name, &removed).await?;
        Ok(self.shown(changed))
    }
}

/// The User attributes Atlassian Cloud's user provisioning API keeps (its published user
/// schema); the enterprise extension's `department` and `organization` \[K\].
pub(crate) const CLOUD_USER_ATTRIBUTES: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "preferredLanguage",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
];

// The SCIM operations. `Provisioner` (in the crate's `scoped.rs`) runs each inside the
// request's retry budget and calls these.
impl CloudProvisioner {
    /// Cloud's user schema (no addresses, ims, photos, roles, entitlements, certificates); no
    /// passwords (Atlassian accounts authenticate through Atlassian or the identity provider).
    // `&self` like the Data Center provisioner's, which `scoped.rs`'s one macro calls alike.
    #[allow(clippy::unused_self)]
    pub(crate) fn capabilities(&self) -> Capabilities {
        Capabilities::default().user_attributes(CLOUD_USER_ATTRIBUTES.iter().copied())
    }

    /// `POST /Users`, then the groups the policy puts the user in (its mapped `groups`, the
    /// default groups; a missing group is created) and one more read when there were any. A
    /// user outside the policy's scope is refused with 403 and nothing is written.
    ///
    /// A user deprovisioned earlier comes back as the same Cloud user, with the values sent:
    /// under `anonymize`, the anonymized account is looked up first by its anonymous name
    /// (one read more per create); a user a SCIM `DELETE` hid under `keep` is found when
    /// Cloud answers 409 for its name.
    pub(crate) async fn create_user(
        &self,
        _ctx: &RequestContext,
        user: User,
    ) -> Result<User, ScimError> {
        let groups = idp_groups(&user);
        self.policy
            .check_create_scope(&user.user_name, groups.as_deref(), "Atlassian Cloud")?;
        let user = self.names.user(user)?;
        if self.policy.action == DeprovisionAction::Anonymize {
            let (anon, _) = rules::anonymous_identity(&user.user_name, None);
            if let Some(found) = self.user_named(&anon).await? {
                return self.revive(found, user, groups.as_deref()).await;
            }
        }
        let body = writable(&user)?;
        let created = match self.write(Method::POST, Kind::Users, None, &body).await {
            Ok(v) => user_from(v)?,
            Err(e) if e.status() == StatusCode::CONFLICT => {
                match self.user_named(&user.user_name).await? {
                    Some(found) if self.is_hidden(&found)? => {
                        return self.revive(found, user, groups.as_deref()).await;
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let plan = self
            .policy
            .plan_groups(groups.as_deref(), &[], &[], true, false);
        let user = match created.id.as_deref() {
            Some(id) if self.apply_plan(id, &plan).await? => {
                user_from(self.get(Kind::Users, id).await?)?
            }
            _ => created,
        };
        Ok(self.shown_user(user))
    }

    /// The Cloud user named `name` (`userName eq`), if any.
    async fn user_named(&self, name: &str) -> Result<Option<User>, ScimError> {
        let literal = serde_json::to_string(name)?;
        let (found, _) = self
            .list_page(Kind::Users, Some(&format!("userName eq {literal}")), 1, 1)
            .await?;
        found.into_iter().next().map(user_from).transpose()
    }

    /// Whether a SCIM `DELETE` hid `user`.
    fn is_hidden(&self, user: &User) -> Result<bool, ScimError> {
        match user.id.as_deref() {
            Some(id) => Ok(self.deprovisioned.get(id)?.is_some_and(|e| e.hidden)),
            None => Ok(false),
        }
    }

    /// A create of a user deprovisioned earlier (`found`): the same Cloud user takes the
    /// values sent, active unless they say otherwise, and shows to SCIM again.
    async fn revive(
        &self,
        found: User,
        mut user: User,
        groups: Option<&[String]>,
    ) -> Result<User, ScimError> {
        let Some(id) = found.id.clone() else {
            return Err(decode_error("GET /Users", "a user without an id"));
        };
        user.active = Some(user.active.unwrap_or(true));
        if let Some(mut entry) = self.deprovisioned.get(&id)? {
            entry.hidden = false;
            self.deprovisioned.set(&id, Some(entry))?;
        }
        note_action(format!(
            "user {id} was deprovisioned earlier: created again as the same Atlassian Cloud user"
        ));
        self.write_user(&id, user, found, groups)
            .await
            .map(|u| self.shown_user(u))
    }

    pub(crate) async fn get_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> Result<User, ScimError> {
        Ok(self.shown_user(user_from(self.visible(id).await?)?))
    }

    /// `PUT /Users/{id}` with the policy applied (see [`CloudBuilder::policy`]); with a policy
    /// that needs it, the user is read first.
    pub(crate) async fn replace_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let groups = idp_groups(&user);
        if self.user_write_reads(id, &user, groups.as_deref())? {
            let current = self.visible(id).await?;
            check_expected(expected, version_of(&current).as_ref())?;
            return self
                .write_user(id, user, user_from(current)?, groups.as_deref())
                .await
                .map(|u| self.shown_user(u));
        }
        self.check_version(Kind::Users, id, expected).await?;
        let user = self.names.user(user)?;
        let body = writable(&user)?;
        user_from(
            self.write(Method::PUT, Kind::Users, Some(id), &body)
                .await?,
        )
        .map(|u| self.shown_user(u))
    }

    /// Under `deactivate` and `delete`: `DELETE /Users/{id}`, which in Cloud deactivates the
    /// account and removes its SCIM record, memberships included (Cloud offers no deletion
    /// through SCIM); the id answers 404 after. Under `anonymize` and `keep`: no Cloud
    /// `DELETE` (it would end the account's link to the identity provider, and a later create
    /// would not find the anonymized values): the user is deprovisioned per the policy (see
    /// [`CloudBuilder::policy`]) and hidden, so SCIM answers 404 for it.
    pub(crate) async fn delete_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        match self.policy.action {
            DeprovisionAction::Anonymize | DeprovisionAction::Keep => {
                let current = self.visible(id).await?;
                check_expected(expected, version_of(&current).as_ref())?;
                self.deprovision_user(id, user_from(current)?, true)
                    .await
                    .map(drop)
            }
            _ => {
                if self.deprovisioned.get(id)?.is_some_and(|e| e.hidden) {
                    return Err(ScimError::not_found("User", id));
                }
                self.delete(Kind::Users, id, expected).await?;
                self.deprovisioned.set(id, None)
            }
        }
    }

    /// Cloud's users in its order. A user a SCIM `DELETE` hid stays in the page, shown
    /// `active: false`, so the page keeps its length (callers page by offset and take a short
    /// page for the end) and a sync or cleanup counts it as deprovisioned already.
    pub(crate) async fn scan_users(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        search::scan(self, Kind::Users, offset, limit)
            .await?
            .into_iter()
            .map(|v| {
                let mut user = self.shown_user(user_from(v)?);
                if self.is_hidden(&user)? {
                    user.active = Some(false);
                }
                Ok(user)
            })
            .collect()
    }

    /// Same-named groups (the default policy): `POST /Groups` as sent. Otherwise the group is
    /// mapped: each Cloud group the policy maps it to is found by name and created when
    /// missing, with the members; a group the policy ignores is accepted and nothing of it
    /// reaches Cloud (it reads as empty, under an id of its own).
    pub(crate) async fn create_group(
        &self,
        _ctx: &RequestContext,
        group: Group,
    ) -> Result<Group, ScimError> {
        if self.policy.groups_are_identity() {
            let body = writable(&group)?;
            return group_from(self.write(Method::POST, Kind::Groups, None, &body).await?);
        }
        let name = group.display_name.trim().to_owned();
        if self.cloud_group_name(&name)?.is_none() {
            return Ok(rules::unsynced_group(&name));
        }
        let members = member_ids(&group.members);
        let mut first = None;
        for target in self.policy.jira_groups(&name).into_iter().flatten() {
            let made = self.ensure_group(&target, &members).await?;
            first.get_or_insert(made);
        }
        // A validated mapping names at least one group, so `first` is set.
        Ok(first.map_or_else(|| rules::unsynced_group(&name), |g| self.shown(g)))
    }

    pub(crate) async fn get_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> Result<Group, ScimError> {
        if let Some(name) = rules::unsynced_name(id) {
            return Ok(rules::unsynced_group(&name));
        }
        Ok(self.shown(group_from(self.get(Kind::Groups, id).await?)?))
    }

    /// One read, then one PATCH of what differs (name, members added, members removed), since
    /// Cloud takes membership changes through PATCH; nothing is written when nothing differs.
    /// Under a mapping policy the change also goes to the other groups the group maps to.
    pub(crate) async fn replace_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        if rules::unsynced_name(id).is_some() {
            return Ok(rules::unsynced_group(group.display_name.trim()));
        }
        let current = match self.check_version(Kind::Groups, id, expected).await? {
            Some(v) => v,
            None => self.get(Kind::Groups, id).await?,
        };
        let current = group_from(current)?;
        if self.policy.groups_are_identity() {
            return self.change_group(id, current, &group).await;
        }
        self.change_mapped_group(id, current, group).await
    }

    /// `DELETE /Groups/{id}`; under manual mapping the Cloud groups (the administrator's,
    /// possibly shared by several IdP groups) stay, and an ignored group has nothing to delete.
    pub(crate) async fn delete_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        if rules::unsynced_name(id).is_some() {
            return Ok(());
        }
        if matches!(
            self.policy.mapping,
            scim_provisioning::policy::Mapping::Manual(_)
        ) {
            return self
                .check_version(Kind::Groups, id, expected)
                .await
                .map(drop);
        }
        self.delete(Kind::Groups, id, expected).await
    }

    pub(crate) async fn scan_groups(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        search::scan(self, Kind::Groups, offset, limit)
            .await?
            .into_iter()
            .map(|v| group_from(v).map(|g| self.shown(g)))
            .collect()
    }

    pub(crate) async fn search_users(
        &self,
        _ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        let query = self.names.query(Kind::Users, query)?;
        // Users a SCIM `DELETE` hid are left out, of the total and the offsets too; the others
        // are filtered as a GET shows them (originals of anonymized users, `active: false` kept
        // for the identity provider, its group names).
        let view = |v: Value| -> Result<Option<Value>, ScimError> {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                if self.deprovisioned.get(id)?.is_some_and(|e| e.hidden) {
                    return Ok(None);
                }
            }
            let shown = self.shown_user(user_from(v)?);
            serde_json::to_value(shown)
                .map(Some)
                .map_err(|e| decode_error("a user from Cloud", e))
        };
        let page = search::search(self, Kind::Users, &query, &view).await?;
        if page.total_results == 0 {
            if let Some(found) = self.anonymized_named(&query).await? {
                let (offset, count) = query.window();
                return Ok(Page {
                    resources: std::iter::once(found).skip(offset).take(count).collect(),
                    total_results: 1,
                    start_index: query.start_index,
                });
            }
        }
        let resources = page
            .resources
            .into_iter()
            .map(user_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            resources,
            total_results: page.total_results,
            start_index: page.start_index,
        })
    }

    /// For `userName eq "name"` under `anonymize`: the user SCIM shows as `name` whose Cloud
    /// account is anonymized (deactivated, not deleted), found by its anonymous name, which is
    /// all Cloud knows it by. The identity provider's lookup before a create then finds the
    /// user it deactivated, as on Data Center. One more read, only when Cloud found no `name`.
    async fn anonymized_named(&self, query: &ListQuery) -> Result<Option<User>, ScimError> {
        if self.policy.action != DeprovisionAction::Anonymize {
            return Ok(None);
        }
        let Some(name) = query.filter.as_ref().and_then(search::user_name_eq) else {
            return Ok(None);
        };
        let (anon, _) = rules::anonymous_identity(name, None);
        let Some(found) = self.user_named(&anon).await? else {
            return Ok(None);
        };
        if self.is_hidden(&found)? {
            return Ok(None);
        }
        let shown = self.shown_user(found);
        Ok(shown
            .user_name
            .eq_ignore_ascii_case(name.trim())
            .then_some(shown))
    }

    /// A `displayName eq` lookup goes to the Cloud group the policy maps the name to (a name
    /// the policy ignores finds nothing); other filters see Cloud's names.
    pub(crate) async fn search_groups(
        &self,
        _ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        let Some(query) = self.names.group_query(&self.policy, query)? else {
            return Ok(Page {
                resources: Vec::new(),
                total_results: 0,
                start_index: query.start_index,
            });
        };
        // Groups are filtered with Cloud's names: `group_query` has put the policy's mapping
        // into the filter already.
        let page = search::search(self, Kind::Groups, &query, &|v| Ok(Some(v))).await?;
        Ok(Page {
            resources: page
                .resources
                .into_iter()
                .map(|v| group_from(v).map(|g| self.shown(g)))
                .collect::<Result<_, _>>()?,
            total_results: page.total_results,
            start_index: page.start_index,
        })
    }

    /// Forwarded to Cloud as one PATCH, which applies it atomically. Applied here instead
    /// (read, apply, then as a replace) when a user-name transformation is set, default groups
    /// for all users apply, deactivation means deletion (see [`CloudBuilder::policy`]), or an
    /// operation touches `groups` (read as the IdP's memberships, through the mapping).
    pub(crate) async fn patch_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let local = !self.names.users_identity()
            || !self.policy.all_users.is_empty()
            || self.deprovision_is_local()
            || touches_groups(patch)
            || self.deprovisioned.get(id)?.is_some();
        if local {
            let current = self.visible(id).await?;
            let version = version_of(&current);
            check_expected(expected, version.as_ref())?;
            let current = user_from(current)?;
            // Operations on `groups` (read-only in the schema, but identity providers that
            // send them mean memberships) become the write's IdP groups, as for Data Center.
            let (rest, groups) = split_group_ops(
                patch,
                &rules::cloud_group_names(&self.shown_user(current.clone())),
            );
            // An anonymized user is patched as SCIM shows it: with its own values.
            let mut user = current.clone();
            if let Some(entry) = self.deprovisioned.get(id)? {
                rules::unmask(&mut user, entry.original.as_ref());
            }
            if !rest.operations.is_empty() || groups.is_none() {
                scim_core::patch::apply_user(
                    &mut user,
                    &rest,
                    scim_core::SchemaRegistry::builtin(),
                )?;
            }
            return self
                .write_user(id, user, current, groups.as_deref())
                .await
                .map(|u| self.shown_user(u));
        }
        user_from(self.patch(Kind::Users, id, patch, expected).await?).map(|u| self.shown_user(u))
    }

    /// Forwarded to Cloud as one PATCH, which applies it atomically; applied here (read,
    /// apply, then as a replace) when the group mapping is not same-named groups.
    pub(crate) async fn patch_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        if let Some(name) = rules::unsynced_name(id) {
            let mut group = rules::unsynced_group(&name);
            scim_core::patch::apply_group(&mut group, patch, scim_core::SchemaRegistry::builtin())?;
            group.members.clear();
            return Ok(group);
        }
        if !self.policy.groups_are_identity() {
            let current = self.get(Kind::Groups, id).await?;
            let version = version_of(&current);
            check_expected(expected, version.as_ref())?;
            let current = group_from(current)?;
            let mut group = self.shown(current.clone());
            scim_core::patch::apply_group(&mut group, patch, scim_core::SchemaRegistry::builtin())?;
            return self.change_mapped_group(id, current, group).await;
        }
        group_from(self.patch(Kind::Groups, id, patch, expected).await?)
    }

    /// One PATCH `add` on `members` (repeated on the manual mapping's other targets).
    pub(crate) async fn add_members(
        &self,
        _ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        if let Some(name) = rules::unsynced_name(group_id) {
            return Ok(rules::unsynced_group(&name));
        }
        let ids = member_ids(members);
        if ids.is_empty() {
            return Ok(self.shown(group_from(self.get(Kind::Groups, group_id).await?)?));
        }
        let body = patch_body(&[add_op(&ids)]);
        let group = group_from(
            self.write(Method::PATCH, Kind::Groups, Some(group_id), &body)
                .await?,
        )?;
        self.fan_out(&group.display_name, &ids, &[]).await?;
        Ok(self.shown(group))
    }

    /// A read, then one PATCH `remove` of the ids that are members (a remove matching nothing
    /// is an error in SCIM, and ids that are not members are to be ignored here); repeated on
    /// the manual mapping's other targets, and users who left a scope group deprovisioned
    /// when the policy says so.
    pub(crate) async fn remove_members(
        &self,
        _ctx: &RequestContext,
        group_id: &str,
        member_ids_in: &[String],
    ) -> Result<Group, ScimError> {
        if let Some(name) = rules::unsynced_name(group_id) {
            return Ok(rules::unsynced_group(&name));
        }
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
            return Ok(self.shown(group));
        }
        let body = patch_body(&remove_ops(&present)?);
        let changed = group_from(
            self.write(Method::PATCH, Kind::Groups, Some(group_id), &body)
                .await?,
        )?;
        self.fan_out(&group.display_name, &[], &present).await?;
        self.deprovision_left(&group.display_name, &present).await?;
        Ok(self.shown(changed))
    }
}
