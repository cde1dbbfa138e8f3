//! [`ConfluenceSimulator`]: Confluence Data Center's user and group admin REST API, and the
//! Crowd API it embeds, in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::{HttpClient, HttpError};
use serde_json::{Value, json};

use super::wire::{self, Window};
use super::{CallLog, CrowdSimulator, Fault, empty, respond};
use scim_provisioning::Credentials;

/// The prefix of Confluence's REST API.
const API: &str = "/rest/api";
/// The prefix of the Crowd API embedded in Confluence.
const CROWD_API: &str = "/rest/usermanagement/1";
/// The prefix of Confluence's licence API \[K\].
const LICENSE_API: &str = "/rest/license/1.0/license";

#[derive(Debug, Default)]
struct State {
    /// userKey -> the user's name, lower-cased.
    keys: BTreeMap<String, String>,
    next_key: u64,
    /// Seats the licence grants; `None`: unlimited.
    max_users: Option<u64>,
    log: CallLog,
}

/// Confluence Data Center as an in-process [`HttpClient`], for an
/// `scim_atlassian::AtlassianProvisioner::confluence`. Users live
/// in the embedded directory, served as Crowd's API under `/rest/usermanagement/1` to the
/// application credentials (see [`CrowdSimulator`]); `/rest/api` answers the administrator's
/// credentials (ATLASSIAN.md):
/// - `POST /admin/user` `{userName, fullName, email, password}`: 201 `{userKey}`; 409 for a
///   taken name; 400 for a name that is not lower-case or holds whitespace or
///   `\ , + < > ' "` (Confluence 8.4+).
/// - `PUT /admin/user/{u}/disable` and `/enable` (idempotent, 204); `DELETE /admin/user/{u}`
///   starts a long task (202 `{id}`; the simulator finishes it at once).
/// - `GET /user?key=` or `?username=`: `{type: "known", username, userKey, displayName}`
///   (no email, no status \[K\]); the `userKey` survives renames.
/// - Groups: `POST /admin/group` `{name}` (409 when it exists \[K\]),
///   `DELETE /admin/group/{g}`, `GET /group/{g}`, `GET /group?start&limit`, members
///   `GET /group/{g}/member?start&limit` as `{results, start, limit, size, _links.next}`,
///   membership `PUT`/`DELETE /user/{u}/group/{g}` (idempotent, 204).
/// - Errors as `{"statusCode", "message"}`; every call counted (embedded Crowd calls under
///   their full path, `/rest/usermanagement/1/user`); faults with
///   [`ConfluenceSimulator::fail_next`].
#[derive(Debug)]
pub struct ConfluenceSimulator {
    state: Mutex<State>,
    credentials: Credentials,
    crowd: CrowdSimulator,
}

impl ConfluenceSimulator {
    /// An empty Confluence accepting `admin` on its REST API and `application` on the
    /// embedded Crowd API.
    pub fn new(admin: Credentials, application: Credentials) -> Self {
        ConfluenceSimulator {
            state: Mutex::new(State {
                next_key: 0x8a7f_8080_0000,
                ..State::default()
            }),
            credentials: admin,
            crowd: CrowdSimulator::new(application),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The embedded directory, to inspect users, attributes and groups.
    pub fn directory(&self) -> &CrowdSimulator {
        &self.crowd
    }

    call_log_methods!();

    /// Limits the licence to `max` users (`None`: unlimited, the default). The licence API
    /// (`/rest/license/1.0/license/maxUsers`, `.../userCount` \[K\]) reports it with the
    /// active users, and `POST /admin/user` past it is refused with 402, as Confluence does
    /// \[V\].
    pub fn set_max_users(&self, max: Option<u64>) {
        self.lock().max_users = max;
    }

    /// The `userKey` of user `name`.
    pub fn key_of(&self, name: &str) -> Option<String> {
        let lower = name.to_lowercase();
        self.lock()
            .keys
            .iter()
            .find(|(_, n)| **n == lower)
            .map(|(k, _)| k.clone())
    }
}

/// Percent-decodes a path segment.
fn decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn confluence_error(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    respond(
        status,
        &json!({"statusCode": status.as_u16(), "message": message, "data": {}}),
    )
}

#[async_trait]
impl HttpClient for ConfluenceSimulator {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        super::serve_with_faults(request, |r| self.serve(r), super::jira::fault_response).await
    }
}

impl ConfluenceSimulator {
    /// Answers `request` (or the fault injected in its place).
    async fn serve(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        let uri = request.uri().clone();
        let full = uri.path().to_owned();
        let method = request.method().clone();
        // The embedded Crowd API is counted under its full path, the REST API relative to
        // `/rest/api`.
        let crowd_at = full.find(CROWD_API);
        let path = match crowd_at {
            Some(at) => full.get(at..),
            None => full.find(API).and_then(|at| full.get(at + API.len()..)),
        }
        .unwrap_or(&full)
        .to_owned();
        let fault = {
            let mut state = self.lock();
            state.log.record(&method, &path);
            super::before_serving(request.extensions(), state.log.next_fault())
        };
        if let Some(fault) = fault {
            return super::jira::fault_response(&fault);
        }
        let query = wire::query_last_wins(&uri);
        if crowd_at.is_some() {
            let renaming = method == Method::POST && path.ends_with("/user/rename");
            let new_name = serde_json::from_slice::<Value>(request.body())
                .ok()
                .and_then(|b| {
                    b.get("new-name")
                        .and_then(Value::as_str)
                        .map(str::to_lowercase)
                });
            let resp = self.crowd.send(request).await?;
            // Confluence's user key follows the user through a rename.
            if renaming && resp.status().is_success() {
                if let (Some(old), Some(new)) = (query.get("username"), new_name) {
                    let old = old.to_lowercase();
                    for name in self.lock().keys.values_mut() {
                        if *name == old {
                            name.clone_from(&new);
                        }
                    }
                }
            }
            return Ok(resp);
        }
        if !wire::authorized(&request, &self.credentials) {
            return Ok(confluence_error(
                StatusCode::UNAUTHORIZED,
                "Authentication required",
            ));
        }
        if let Some(what) = full
            .find(LICENSE_API)
            .and_then(|at| full.get(at + LICENSE_API.len()..))
        {
            return Ok(self.license(&method, what));
        }
        let body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
        Ok(self.route(&method, &path, &query, &body))
    }
}

impl ConfluenceSimulator {
    /// The licence API: `GET maxUsers` (-1 when unlimited) and `GET userCount` (active users)
    /// as `{"count": n}` \[K\].
    fn license(&self, method: &Method, what: &str) -> Response<Vec<u8>> {
        let count = match (method.as_str(), what) {
            ("GET", "/maxUsers") => self
                .lock()
                .max_users
                .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX)),
            ("GET", "/userCount") => {
                i64::try_from(self.crowd.active_user_count()).unwrap_or(i64::MAX)
            }
            _ => return confluence_error(StatusCode::NOT_FOUND, "No such licence resource"),
        };
        respond(StatusCode::OK, &json!({ "count": count }))
    }

    fn crowd_call(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let resp = self.crowd.internal(method, path, query, body);
        let value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (resp.status(), value)
    }

    fn user_json(&self, name: &str) -> Option<Value> {
        let (status, user) = self.crowd_call(&Method::GET, "/user", &[("username", name)], None);
        if !status.is_success() {
            return None;
        }
        let username = user.get("name").and_then(Value::as_str)?.to_owned();
        let key = self.key_of(&username)?;
        Some(json!({
            "type": "known",
            "username": username,
            "userKey": key,
            "displayName": user.get("display-name").cloned().unwrap_or(Value::Null),
        }))
    }

    fn route(
        &self,
        method: &Method,
        path: &str,
        query: &HashMap<String, String>,
        body: &Value,
    ) -> Response<Vec<u8>> {
        let segments: Vec<String> = path.split('/').skip(1).map(decode).collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let not_found = |what: &str| confluence_error(StatusCode::NOT_FOUND, what);
        match (method.as_str(), seg.as_slice()) {
            ("GET", ["user"]) => {
                let name = match (query.get("key"), query.get("username")) {
                    (Some(key), _) => self.lock().keys.get(key).cloned(),
                    (None, Some(name)) => Some(name.clone()),
                    (None, None) => None,
                };
                name.and_then(|n| self.user_json(&n)).map_or_else(
                    || not_found("No user found with the given key or username"),
                    |u| respond(StatusCode::OK, &u),
                )
            }
            ("POST", ["admin", "user"]) => self.create_user(body),
            ("PUT", ["admin", "user", user, action @ ("disable" | "enable")]) => {
                let (status, mut record) =
                    self.crowd_call(&Method::GET, "/user", &[("username", user)], None);
                if !status.is_success() {
                    return not_found(&format!("No user found with username {user}"));
                }
                if let Some(obj) = record.as_object_mut() {
                    obj.insert("active".to_owned(), Value::from(*action == "enable"));
                }
                self.crowd_call(&Method::PUT, "/user", &[("username", user)], Some(&record));
                empty(StatusCode::NO_CONTENT)
            }
            ("DELETE", ["admin", "user", user]) => {
                let (status, _) =
                    self.crowd_call(&Method::DELETE, "/user", &[("username", user)], None);
                if !status.is_success() {
                    return not_found(&format!("No user found with username {user}"));
                }
                let lower = user.to_lowercase();
                self.lock().keys.retain(|_, n| *n != lower);
                // A long task in Confluence; finished here before it is answered.
                respond(StatusCode::ACCEPTED, &json!({"id": "simulated-task"}))
            }
            ("POST", ["admin", "group"]) => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("");
                let (status, _) =
                    self.crowd_call(&Method::POST, "/group", &[], Some(&json!({"name": name})));
                match status {
                    StatusCode::CREATED => {
                        respond(StatusCode::CREATED, &json!({"type": "group", "name": name}))
                    }
                    _ => confluence_error(
                        StatusCode::CONFLICT,
                        &format!("Group {name} already exists"),
                    ),
                }
            }
            ("DELETE", ["admin", "group", group]) => {
                let (status, _) =
                    self.crowd_call(&Method::DELETE, "/group", &[("groupname", group)], None);
                if status.is_success() {
                    empty(StatusCode::NO_CONTENT)
                } else {
                    not_found(&format!("No group found with name {group}"))
                }
            }
            ("GET", ["group", group]) => {
                let (status, g) =
                    self.crowd_call(&Method::GET, "/group", &[("groupname", group)], None);
                if status.is_success() {
                    respond(
                        StatusCode::OK,
                        &json!({"type": "group", "name": g.get("name")}),
                    )
                } else {
                    not_found(&format!("No group found with name {group}"))
                }
            }
            ("GET", ["group"]) => {
                let Window { start, limit } = window(query);
                let (_, found) = self.crowd_call(
                    &Method::GET,
                    "/search",
                    &[
                        ("entity-type", "group"),
                        ("start-index", &start.to_string()),
                        ("max-results", &limit.to_string()),
                    ],
                    None,
                );
                let results: Vec<Value> = found
                    .get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|g| json!({"type": "group", "name": g.get("name")}))
                    .collect();
                page(&results, start, limit, "/rest/api/group")
            }
            ("GET", ["group", group, "member"]) => {
                let Window { start, limit } = window(query);
                let (status, found) = self.crowd_call(
                    &Method::GET,
                    "/group/user/direct",
                    &[
                        ("groupname", group),
                        ("start-index", &start.to_string()),
                        ("max-results", &limit.to_string()),
                    ],
                    None,
                );
                if !status.is_success() {
                    return not_found(&format!("No group found with name {group}"));
                }
                let results: Vec<Value> = found
                    .get("users")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u.get("name").and_then(Value::as_str))
                    .filter_map(|n| self.user_json(n))
                    .collect();
                page(
                    &results,
                    start,
                    limit,
                    &format!("/rest/api/group/{group}/member"),
                )
            }
            (m @ ("PUT" | "DELETE"), ["user", user, "group", group]) => {
                let (status, _) = if m == "PUT" {
                    self.crowd_call(
                        &Method::POST,
                        "/group/user/direct",
                        &[("groupname", group)],
                        Some(&json!({"name": user})),
                    )
                } else {
                    self.crowd_call(
                        &Method::DELETE,
                        "/group/user/direct",
                        &[("groupname", group), ("username", user)],
                        None,
                    )
                };
                match status.as_u16() {
                    // Idempotent: a member already, or not a member, is done.
                    201 | 204 | 409 => empty(StatusCode::NO_CONTENT),
                    // Not a member, or the user is gone: it is not a member either way.
                    404 if m == "DELETE"
                        && self
                            .crowd_call(&Method::GET, "/group", &[("groupname", group)], None)
                            .0
                            .is_success() =>
                    {
                        empty(StatusCode::NO_CONTENT)
                    }
                    _ => not_found(&format!("No user {user} or no group {group}")),
                }
            }
            _ => not_found("null for uri: not a simulated Confluence resource"),
        }
    }

    fn create_user(&self, body: &Value) -> Response<Vec<u8>> {
        let text = |f: &str| {
            body.get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let (name, full_name, email, password) = (
            text("userName"),
            text("fullName"),
            text("email"),
            text("password"),
        );
        let full = self.lock().max_users.is_some_and(|m| {
            u64::try_from(self.crowd.active_user_count()).unwrap_or(u64::MAX) >= m
        });
        if full {
            return confluence_error(
                StatusCode::PAYMENT_REQUIRED,
                "The licence's user limit is reached: no licence left for a new user",
            );
        }
        let bad = |c: char| c.is_whitespace() || "\\,+<>'\"".contains(c);
        if name.is_empty() || name != name.to_lowercase() || name.chars().any(bad) {
            return confluence_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "userName {name:?} must be lower-case, without whitespace or \\ , + < > ' \""
                ),
            );
        }
        if password.is_empty() && body.get("notifyViaEmail").and_then(Value::as_bool) != Some(true)
        {
            return confluence_error(
                StatusCode::BAD_REQUEST,
                "Either password or notifyViaEmail is required",
            );
        }
        let record = json!({
            "name": name,
            "display-name": full_name,
            "first-name": full_name,
            "last-name": full_name,
            "email": email,
            "active": true,
            "password": {"value": if password.is_empty() { "from-email" } else { password.as_str() }},
        });
        let (status, _) = self.crowd_call(&Method::POST, "/user", &[], Some(&record));
        if !status.is_success() {
            return confluence_error(
                StatusCode::CONFLICT,
                &format!("A user with username {name} already exists"),
            );
        }
        let key = {
            let mut state = self.lock();
            let key = format!("{:x}", state.next_key);
            state.next_key += 1;
            state.keys.insert(key.clone(), name.clone());
            key
        };
        respond(StatusCode::CREATED, &json!({"userKey": key}))
    }
}

/// Confluence's `start`/`limit` window, `limit` 200 at most.
fn window(query: &HashMap<String, String>) -> Window {
    Window::read(query, "start", "limit", 200, 200)
}

/// Confluence's page: `{results, start, limit, size, _links: {next}}`, `next` only when the
/// page is full.
fn page(results: &[Value], start: usize, limit: usize, path: &str) -> Response<Vec<u8>> {
    let size = results.len();
    let mut links = serde_json::Map::new();
    if size == limit && limit > 0 {
        links.insert(
            "next".to_owned(),
            Value::from(format!("{path}?start={}&limit={limit}", start + size)),
        );
    }
    respond(
        StatusCode::OK,
        &json!({"results": results, "start": start, "limit": limit, "size": size, "_links": links}),
    )
}
