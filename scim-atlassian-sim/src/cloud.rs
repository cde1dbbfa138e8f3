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

    /// The user `id` as it was when `DELETE /Users/{id}` deactivated it (`active: false`).
    pub fn deactivated(&self, id: &str) -> Option<Value> {
        self.lock().deactivated.get(id).cloned()
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
            state.log.next_fault()
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
        Ok(self.service.handle(Request::from_parts(parts, body)).await)
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
        let mut names: Vec<&str> = Vec::new();
        if let Some(n) = json.get("displayName").and_then(Value::as_str) {
            names.push(n);
        }
        for op in json
            .get("Operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let value = op.get("value");
            match op.get("path").and_then(Value::as_str) {
                Some(p) if p.eq_ignore_ascii_case("displayName") => {
                    names.extend(value.and_then(Value::as_str));
                }
                None => names.extend(
                    value
                        .and_then(|v| v.get("displayName"))
                        .and_then(Value::as_str),
                ),
                _ => {}
            }
        }
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
        let mut members: Vec<&Value> = Vec::new();
        if let Some(list) = json.get("members").and_then(Value::as_array) {
            members.extend(list);
        }
        for op in json
            .get("Operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = op.get("path").and_then(Value::as_str);
            let value = op.get("value");
            let list = match path {
                Some(p) if p.eq_ignore_ascii_case("members") => value.and_then(Value::as_array),
                None => value
                    .and_then(|v| v.get("members"))
                    .and_then(Value::as_array),
                _ => None,
            };
            members.extend(list.into_iter().flatten());
        }
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
        self.serve(request).await
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
            Fault::Unavailable => "service unavailable",
            Fault::Status(_) | Fault::Timeout => "injected failure",
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
