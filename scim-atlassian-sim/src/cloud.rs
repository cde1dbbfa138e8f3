//! [`CloudSimulator`]: Atlassian Cloud's user-provisioning SCIM API in memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::provision::{InMemoryProvisioner, ListQuery, Provisioner, RequestContext};
use scim_core::{BearerTokens, HttpClient, HttpError, ScimError, ScimService};
use scim_filter::{CompValue, CompareOp, Filter};
use serde_json::Value;

use super::wire::{self, RateHeaders};
use super::{CallLog, Fault};
use scim_provisioning::Credentials;

/// The tenant the in-process service keeps the directory's resources in.
const TENANT: &str = "cloud";
/// Cloud's largest page.
const PAGE_CAP: u64 = 100;

/// An [`HttpClient`] serving one Atlassian Cloud directory
/// (`https://api.atlassian.com/scim/directory/{directoryId}`, any host accepted) from a
/// [`ScimService`] over an [`InMemoryProvisioner`], with Cloud's restrictions (ATLASSIAN.md):
/// - `Authorization: Bearer <directory API key>`, else 401.
/// - `GET /Users` accepts only a single `eq` on `userName` or `externalId`, `GET /Groups` only
///   on `displayName`; any other filter is 400 `invalidFilter`.
/// - `sortBy`/`sortOrder` are ignored: Cloud does not sort, and whether it refuses the
///   parameters or ignores them is not documented, so the milder behaviour is simulated.
/// - `count` is capped at 100 (and is 100 when absent).
/// - `DELETE /Users/{id}` deactivates: the user is kept aside with `active: false`
///   ([`CloudSimulator::deactivated`]) and the id answers 404 from then on. Its `userName` is
///   free again here; what Cloud does when a deactivated account's name is created again is
///   not documented, so tests should not rely on it.
/// - Users may carry Atlassian's `urn:scim:schemas:extension:atlassian-external:1.1`
///   extension (`atlassianAccountId`), registered with the service as Cloud has it; other
///   unknown schema URNs are 400.
/// - No nested groups: a group given as a member is 400 `invalidValue`.
/// - Each user gets an Atlassian account id when created, shown in every user answer as
///   `atlassianAccountId` of that extension ([`CloudSimulator::account_id`]).
/// - Managed accounts only: once [`CloudSimulator::verify_domain`] named the organization's
///   verified domains, a user write (`POST`, `PUT`, `PATCH`) carrying an email outside them is
///   400 `invalidValue` ("A user account can only be created if it has an email address on a
///   verified domain"; the simulator holds changes to the same rule). `PATCH` and `PUT` change
///   `userName`, `emails`, `displayName`, `name` and `active` of a managed account.
/// - The organizations REST API's last-active dates, once enabled with
///   [`CloudSimulator::enable_org_api`]: `GET /admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates`
///   with the organization admin API key (401 otherwise, 404 for another organization or an
///   unknown account) answers `{"data": {"product_access": [{"key", "name",
///   "last_active": "YYYY-MM-DD"}]}, "links": {}}`, `product_access` empty for a user with no
///   activity ([`CloudSimulator::set_last_active`]).
/// - Every call counted by `METHOD /path` (ids as `{id}`), every request's path and query
///   logged ([`CloudSimulator::requests`]), faults injected with [`CloudSimulator::fail_next`].
pub struct CloudSimulator {
    base: String,
    credentials: Credentials,
    backend: Arc<InMemoryProvisioner>,
    service: ScimService,
    state: Mutex<State>,
    page_cap: AtomicU64,
}

#[derive(Default)]
struct State {
    log: CallLog,
    requests: Vec<String>,
    deactivated: BTreeMap<String, Value>,
    /// SCIM user id -> Atlassian account id.
    accounts: BTreeMap<String, String>,
    /// Atlassian account id -> last active time.
    last_active: BTreeMap<String, chrono::DateTime<chrono::Utc>>,
    /// Verified domains, lower-cased; empty: every domain is taken.
    verified: Vec<String>,
    /// The organizations API: organization id and its admin API key.
    org: Option<(String, Credentials)>,
}

impl std::fmt::Debug for CloudSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudSimulator")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl CloudSimulator {
    /// An empty directory `directory_id` accepting only `api_key`.
    pub fn new(directory_id: &str, api_key: &str) -> Self {
        let base = format!("/scim/directory/{directory_id}");
        let backend = Arc::new(InMemoryProvisioner::new());
        let service = ScimService::builder(backend.clone())
            .authenticator(Arc::new(BearerTokens::new().with_token(api_key, TENANT)))
            .base_path_v2(base.clone())
            .public_url("https://api.atlassian.com")
            .max_results(PAGE_CAP)
            .user_extension(atlassian_external_schema())
            .build();
        CloudSimulator {
            base,
            credentials: Credentials::bearer(api_key),
            backend,
            service,
            state: Mutex::new(State::default()),
            page_cap: AtomicU64::new(PAGE_CAP),
        }
    }

    /// The most resources one list page holds (100, as documented; lower it to test clients
    /// against a server handing out less than asked).
    pub fn set_page_cap(&self, cap: u64) {
        self.page_cap
            .store(cap.clamp(1, PAGE_CAP), Ordering::Relaxed);
    }

    /// The directory URL a client is configured with.
    pub fn directory_url(&self) -> String {
        format!("https://api.atlassian.com{}", self.base)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // Call counts are kept with ids as `{id}` (`("GET", "/Users/{id}")`).
    call_count_methods!();

    /// Every request as `METHOD /path?query` relative to the directory, in order (decoded
    /// query, for tests to check what was sent).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Forgets call counts and the request log.
    pub fn reset_calls(&self) {
        let mut state = self.lock();
        state.log.clear();
        state.requests.clear();
    }

    /// The next `n` requests, whatever they are, get `fault` instead of being served.
    pub fn fail_next(&self, n: usize, fault: &Fault) {
        self.lock().log.fail_next(n, fault);
    }

    fault_methods!();

    /// The user `id` as it was when `DELETE /Users/{id}` deactivated it (`active: false`).
    pub fn deactivated(&self, id: &str) -> Option<Value> {
        self.lock().deactivated.get(id).cloned()
    }

    /// The Atlassian account id Cloud gave user `id` when it was created.
    pub fn account_id(&self, id: &str) -> Option<String> {
        self.lock().accounts.get(id).cloned()
    }

    /// Declares `domain` one of the organization's verified domains: from the first one on,
    /// user emails outside them are refused.
    pub fn verify_domain(&self, domain: &str) {
        self.lock().verified.push(domain.trim().to_lowercase());
    }

    /// Serves the organizations REST API of organization `org_id` to `api_key` (its
    /// organization admin API key, sent as `Authorization: Bearer`).
    pub fn enable_org_api(&self, org_id: &str, api_key: &str) {
        self.lock().org = Some((org_id.to_owned(), Credentials::bearer(api_key)));
    }

    /// Sets when user `id` (a SCIM id) was last active in Jira (`None`: never); false when
    /// the user has no account.
    pub fn set_last_active(&self, id: &str, at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        let mut state = self.lock();
        let Some(account) = state.accounts.get(id).cloned() else {
            return false;
        };
        match at {
            Some(t) => state.last_active.insert(account, t),
            None => state.last_active.remove(&account),
        };
        true
    }

    /// Active users in the directory.
    pub fn user_count(&self) -> usize {
        self.backend.user_count(TENANT)
    }

    /// Groups in the directory.
    pub fn group_count(&self) -> usize {
        self.backend.group_count(TENANT)
    }

    async fn serve(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        let (mut parts, body) = request.into_parts();
        if let Some(org_path) = parts.uri.path().strip_prefix("/admin/v1/orgs/") {
            let org_path = org_path.to_owned();
            return self.serve_org(&parts, &org_path);
        }
        let Some(rel) = parts.uri.path().strip_prefix(&self.base).map(str::to_owned) else {
            return Ok(scim_error(&ScimError::not_found("path", parts.uri.path())));
        };
        let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let (collection, id) = match segments.as_slice() {
            [c] => (*c, None),
            [c, id] => (*c, Some(*id)),
            _ => ("", None),
        };
        let template = match id {
            Some(_) => format!("/{collection}/{{id}}"),
            None => format!("/{collection}"),
        };
        let fault = {
            let mut state = self.lock();
            state.log.record(&parts.method, &template);
            let query = parts.uri.query().map(decode_query).unwrap_or_default();
            state
                .requests
                .push(format!("{} {rel}{query}", parts.method));
            super::before_serving(&parts.extensions, state.log.next_fault())
        };
        if let Some(fault) = fault {
            return fault_response(&fault);
        }
        let authorized = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .is_some_and(|h| self.credentials.matches_header(h.as_bytes()));
        if !authorized {
            return Ok(scim_error(&ScimError::other(
                StatusCode::UNAUTHORIZED,
                None,
                "a valid directory API key is required",
            )));
        }
        let ctx = RequestContext::new(TENANT);
        match (&parts.method, collection, id) {
            (&Method::GET, "Users" | "Groups", None) => {
                let attrs: &[&str] = if collection == "Users" {
                    &["userName", "externalId"]
                } else {
                    &["displayName"]
                };
                let cap = self.page_cap.load(Ordering::Relaxed);
                match cloud_query(parts.uri.query().unwrap_or(""), attrs, cap) {
                    Ok(query) => {
                        let uri = format!("{}?{query}", parts.uri.path());
                        match uri.parse() {
                            Ok(uri) => parts.uri = uri,
                            Err(_) => {
                                return Ok(scim_error(&ScimError::invalid_syntax("bad query")));
                            }
                        }
                    }
                    Err(e) => return Ok(scim_error(&e)),
                }
            }
            (&Method::DELETE, "Users", Some(id)) => {
                if let Ok(user) = self.backend.get_user(&ctx, id).await {
                    let mut json = serde_json::to_value(&user).unwrap_or(Value::Null);
                    if let Some(obj) = json.as_object_mut() {
                        obj.insert("active".to_owned(), Value::Bool(false));
                    }
                    self.lock().deactivated.insert(id.to_owned(), json);
                }
            }
            (&Method::POST | &Method::PUT | &Method::PATCH, "Users", _) => {
                if let Some(err) = self.unverified_email(&body) {
                    return Ok(scim_error(&err));
                }
            }
            (&Method::POST | &Method::PUT | &Method::PATCH, "Groups", _) => {
                if let Some(err) = self.nested_group(&ctx, &body).await {
                    return Ok(scim_error(&err));
                }
                if let Some(err) = self.duplicate_group_name(&ctx, id, &body).await {
                    return Ok(scim_error(&err));
                }
            }
            _ => {}
        }
        let is_create = parts.method == Method::POST && collection == "Users";
        let resp = self.service.handle(Request::from_parts(parts, body)).await;
        if collection != "Users" || !resp.status().is_success() {
            return Ok(resp);
        }
        Ok(self.with_accounts(resp, is_create))
    }

    /// Users in `resp` (one, or a list's `Resources`) with their Atlassian account id; a
    /// created user gets one first.
    fn with_accounts(&self, resp: Response<Vec<u8>>, created: bool) -> Response<Vec<u8>> {
        let (parts, body) = resp.into_parts();
        let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
            return Response::from_parts(parts, body);
        };
        let mut state = self.lock();
        if created {
            if let Some(id) = json.get("id").and_then(Value::as_str) {
                let n = state.accounts.len() + 1;
                state
                    .accounts
                    .entry(id.to_owned())
                    .or_insert_with(|| format!("5b10a2844c20165700ed{n:04x}"));
            }
        }
        let mut add = |user: &mut Value| {
            let account = user
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| state.accounts.get(id).cloned());
            if let (Some(account), Some(obj)) = (account, user.as_object_mut()) {
                obj.insert(
                    ATLASSIAN_EXTERNAL.to_owned(),
                    serde_json::json!({ "atlassianAccountId": account }),
                );
            }
        };
        match json.get_mut("Resources").and_then(Value::as_array_mut) {
            Some(list) => list.iter_mut().for_each(&mut add),
            None => add(&mut json),
        }
        drop(state);
        let bytes = serde_json::to_vec(&json).unwrap_or(body);
        Response::from_parts(parts, bytes)
    }

    /// A 400 when a user write carries an email outside the verified domains (once any are
    /// declared).
    fn unverified_email(&self, body: &[u8]) -> Option<ScimError> {
        let verified = self.lock().verified.clone();
        if verified.is_empty() {
            return None;
        }
        let json: Value = serde_json::from_slice(body).ok()?;
        // `emails`, and paths under it (`emails[type eq "work"].value`).
        let emails = flattened(written(&json, "emails", true));
        for email in emails {
            // Other sub-attributes (`primary`, `type`) say nothing of the domain.
            let Some(text) = email
                .get("value")
                .and_then(Value::as_str)
                .or_else(|| email.as_str())
            else {
                continue;
            };
            let domain = text.rsplit_once('@').map(|(_, d)| d.to_lowercase());
            if !domain.is_some_and(|d| verified.contains(&d)) {
                return Some(ScimError::invalid_value(
                    "emails",
                    format_args!(
                        "{text:?} is not on a verified domain of the organization: a managed \
                         account's email must be"
                    ),
                ));
            }
        }
        None
    }

    /// The organizations REST API (`/admin/v1/orgs/...`): last-active dates only.
    fn serve_org(
        &self,
        parts: &http::request::Parts,
        path: &str,
    ) -> Result<Response<Vec<u8>>, HttpError> {
        const TEMPLATE: &str =
            "/admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates";
        let fault = {
            let mut state = self.lock();
            state.log.record(&parts.method, TEMPLATE);
            state
                .requests
                .push(format!("{} /admin/v1/orgs/{path}", parts.method));
            super::before_serving(&parts.extensions, state.log.next_fault())
        };
        if let Some(fault) = fault {
            return fault_response(&fault);
        }
        let state = self.lock();
        let Some((org, key)) = &state.org else {
            return Ok(org_error(StatusCode::NOT_FOUND, "Not Found"));
        };
        let authorized = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .is_some_and(|h| key.matches_header(h.as_bytes()));
        if !authorized {
            return Ok(org_error(StatusCode::UNAUTHORIZED, "Unauthorized"));
        }
        let segments: Vec<&str> = path.split('/').collect();
        let account = match segments.as_slice() {
            [o, "directory", "users", account, "last-active-dates"]
                if parts.method == Method::GET && o == org =>
            {
                *account
            }
            _ => return Ok(org_error(StatusCode::NOT_FOUND, "Not Found")),
        };
        if !state.accounts.values().any(|a| a == account) {
            return Ok(org_error(StatusCode::NOT_FOUND, "User not found"));
        }
        let products: Vec<Value> = state
            .last_active
            .get(account)
            .map(|t| {
                serde_json::json!({
                    "id": "ari:cloud:jira::site/simulated",
                    "key": "jira-software",
                    "name": "Jira",
                    "url": "https://simulated.atlassian.net",
                    "last_active": t.format("%Y-%m-%d").to_string(),
                })
            })
            .into_iter()
            .collect();
        let body = serde_json::json!({
            "data": {"product_access": products},
            "links": {},
        });
        let mut r = Response::new(serde_json::to_vec(&body).unwrap_or_default());
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(r)
    }

    /// A 409 when a group write would give the group another group's name (Cloud refuses
    /// duplicate group names, compared ignoring case). Not atomic with the write: concurrent
    /// creates of one name can both pass, which tests do not rely on.
    async fn duplicate_group_name(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        body: &[u8],
    ) -> Option<ScimError> {
        let json: Value = serde_json::from_slice(body).ok()?;
        let names = written(&json, "displayName", false)
            .into_iter()
            .filter_map(Value::as_str);
        for name in names {
            let filter = Filter::eq_str("displayName".parse().ok()?, name);
            let query = ListQuery::new().with_filter(filter);
            let taken = self
                .backend
                .search_groups(ctx, &query)
                .await
                .ok()?
                .resources
                .iter()
                .any(|g| g.id.as_deref() != id);
            if taken {
                return Some(ScimError::uniqueness("displayName", name));
            }
        }
        None
    }

    /// A 400 when a group write names a group as a member: Cloud has no nested groups.
    async fn nested_group(&self, ctx: &RequestContext, body: &[u8]) -> Option<ScimError> {
        let json: Value = serde_json::from_slice(body).ok()?;
        let members = flattened(written(&json, "members", false));
        for member in members {
            let is_group_type = member
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("Group"));
            let is_group_id = match member.get("value").and_then(Value::as_str) {
                Some(v) => self.backend.get_group(ctx, v).await.is_ok(),
                None => false,
            };
            if is_group_type || is_group_id {
                return Some(ScimError::invalid_value(
                    "members",
                    "nested groups are not supported",
                ));
            }
        }
        None
    }
}

#[async_trait]
impl HttpClient for CloudSimulator {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        super::serve_with_faults(request, |r| self.serve(r), fault_response).await
    }
}

fn decode_query(query: &str) -> String {
    let pairs: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("?{}", pairs.join("&"))
}

/// The query the service gets: the filter checked against what Cloud accepts, sorting dropped,
/// `count` capped.
fn cloud_query(query: &str, attrs: &[&str], cap: u64) -> Result<String, ScimError> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    let mut count = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "filter" => {
                let filter: Filter = v
                    .parse()
                    .map_err(|e| ScimError::invalid_filter(format_args!("{e}")))?;
                if !cloud_filter(&filter, attrs) {
                    return Err(ScimError::invalid_filter(format_args!(
                        "only a single `eq` on {} is supported",
                        attrs.join(" or ")
                    )));
                }
                out.append_pair("filter", &v);
            }
            "sortBy" | "sortOrder" => {}
            "count" => count = v.parse::<u64>().ok(),
            _ => {
                out.append_pair(&k, &v);
            }
        }
    }
    let count = count.unwrap_or(cap).min(cap);
    out.append_pair("count", &count.to_string());
    Ok(out.finish())
}

fn cloud_filter(filter: &Filter, attrs: &[&str]) -> bool {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(_)) => {
            path.sub_attr().is_none() && attrs.iter().any(|a| path.name().eq_ignore_ascii_case(a))
        }
        _ => false,
    }
}

/// What a write body (a resource, or a PATCH's `Operations`) gives attribute `attr`: the
/// resource's value, the value of each operation whose path is `attr` (with `under`, also a
/// path below it), and `value.attr` of each operation without a path.
fn written<'a>(json: &'a Value, attr: &str, under: bool) -> Vec<&'a Value> {
    let mut out: Vec<&Value> = json.get(attr).into_iter().collect();
    let ops = json.get("Operations").and_then(Value::as_array);
    for op in ops.into_iter().flatten() {
        let value = op.get("value");
        match op.get("path").and_then(Value::as_str) {
            Some(p) => {
                let named = p.eq_ignore_ascii_case(attr)
                    || (under
                        && p.get(..attr.len())
                            .is_some_and(|head| head.eq_ignore_ascii_case(attr)));
                if named {
                    out.extend(value);
                }
            }
            None => out.extend(value.and_then(|v| v.get(attr))),
        }
    }
    out
}

/// `values` with arrays replaced by their items.
fn flattened(values: Vec<&Value>) -> Vec<&Value> {
    values
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        })
        .collect()
}

/// An organizations-API error (`{"code", "message"}`, not SCIM's form).
fn org_error(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    let body = serde_json::json!({"code": status.as_u16(), "message": message});
    let mut r = Response::new(serde_json::to_vec(&body).unwrap_or_default());
    *r.status_mut() = status;
    r
}

fn scim_error(err: &ScimError) -> Response<Vec<u8>> {
    let body = serde_json::to_vec(&err.to_body()).unwrap_or_default();
    let mut r = Response::new(body);
    *r.status_mut() = err.status();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/scim+json"),
    );
    r
}

fn fault_response(fault: &Fault) -> Result<Response<Vec<u8>>, HttpError> {
    wire::fault_reply(fault, RateHeaders::RetryAfter, |status, fault| {
        let message = match fault {
            Fault::RateLimited { .. } => "rate limit exceeded",
            Fault::Unavailable | Fault::Overloaded { .. } => "service unavailable",
            _ => "injected failure",
        };
        scim_error(&ScimError::other(status, None, message))
    })
}

/// Atlassian's user extension on Cloud: `atlassianAccountId`, read-only, set by Atlassian.
fn atlassian_external_schema() -> scim_core::Schema {
    scim_core::Schema {
        id: ATLASSIAN_EXTERNAL.to_owned(),
        name: Some("AtlassianExternalUser".to_owned()),
        description: Some("The Atlassian account of a provisioned user".to_owned()),
        attributes: vec![scim_core::AttributeDef {
            name: "atlassianAccountId".to_owned(),
            ..scim_core::AttributeDef::default()
        }],
        ..scim_core::Schema::default()
    }
}

/// The URN of Atlassian's user extension on Cloud.
const ATLASSIAN_EXTERNAL: &str = "urn:scim:schemas:extension:atlassian-external:1.1";
