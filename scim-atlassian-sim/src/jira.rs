//! [`JiraSimulator`]: Jira Data Center's user and group REST API (v2) in memory.

// Handlers answer errors as ready responses (`Err(response)`); their size is no concern in a
// test double, and boxing them would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::{HttpClient, HttpError};
use serde_json::{Value, json};

use super::wire::{self, RateHeaders, Window, crowd_error};
use super::{CallLog, empty, password_hash, respond};
use scim_provisioning::Credentials;

/// The prefix of every Jira REST v2 path.
const API: &str = "/rest/api/2";
/// The id of Jira's internal directory, where users go unless asked otherwise.
const INTERNAL_DIRECTORY: u64 = 1;
/// The prefix of the Crowd API embedded in Jira.
const CROWD_API: &str = "/rest/usermanagement/1";
/// Jira caps `/user/search` pages at 1,000 users (reported, not documented: ATLASSIAN.md \[K\]).
const SEARCH_CAP: usize = 1000;
/// Jira pages group members 50 at a time at most.
const MEMBER_CAP: usize = 50;

/// A failure the simulator answers with instead of serving a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>` and the `X-RateLimit-*` headers.
    RateLimited {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// 503 without `Retry-After`.
    Unavailable,
    /// Any status, with a Jira error body.
    Status(u16),
    /// No response at all ([`HttpError::Timeout`]); the request is not applied.
    Timeout,
    /// 503 with `Retry-After: <seconds>`: overloaded, the request not processed.
    Overloaded {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// The connection drops before an answer ([`HttpError::Other`]); the request is not
    /// applied.
    Dropped,
    /// The request is served (its change applied), then the answer is lost or replaced by
    /// the inner fault: the case a retry must not turn into a duplicate or a failure.
    AfterApplying(Box<Fault>),
}

impl Fault {
    /// `fault`, injected after the request has been applied.
    pub fn after_applying(fault: Fault) -> Fault {
        Fault::AfterApplying(Box::new(fault))
    }
}

/// A Jira user as the simulator stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    /// The stable key (`JIRAUSER10000`, as Jira 8+ assigns to new users).
    pub key: String,
    /// The user name (unique ignoring case, changed by renames).
    pub name: String,
    /// `emailAddress`.
    pub email: String,
    /// `displayName`.
    pub display_name: String,
    /// `active`.
    pub active: bool,
    /// The id of the user directory holding the user (1, Jira's internal directory, unless
    /// created with another `directoryId`).
    pub directory: u64,
}

#[derive(Debug)]
struct Group {
    name: String,
    /// Member keys.
    members: BTreeSet<String>,
}

#[derive(Debug)]
struct Project {
    key: String,
    name: String,
    /// The lead's user key.
    lead: String,
}

#[derive(Debug)]
struct Component {
    id: u64,
    project: String,
    name: String,
    /// The lead's user key, if any.
    lead: Option<String>,
}

/// A fault aimed at one call: the `nth` (1-based) next request with this method and path.
#[derive(Debug)]
struct Targeted {
    method: Method,
    path: String,
    remaining: usize,
    fault: Fault,
}

/// A Jira application role (`/applicationrole`).
#[derive(Debug, Clone)]
struct Role {
    key: String,
    name: String,
    groups: Vec<String>,
    /// `None`: unlimited.
    seats: Option<u64>,
    selected_by_default: bool,
}

#[derive(Debug, Default)]
struct State {
    /// User key -> last login (milliseconds since the epoch), served as the embedded Crowd
    /// API's `login.lastLoginMillis` attribute.
    last_login: HashMap<String, i64>,
    /// Application roles, in the order added.
    roles: Vec<Role>,
    /// Users by key.
    users: BTreeMap<String, SimUser>,
    /// ASCII-lower-cased user name -> key (Jira compares names ignoring case): a lookup by
    /// name costs what it costs in Jira, not a scan of every user.
    names: HashMap<String, String>,
    /// Ids of the user directories besides the internal one (1).
    directories: BTreeSet<u64>,
    next_user: u64,
    /// Groups by lower-cased name: Jira group names are unique ignoring case.
    groups: BTreeMap<String, Group>,
    /// (user key, property key) -> value.
    properties: HashMap<(String, String), Value>,
    /// User key -> a hash of the password (a simulator has no need to keep the text).
    passwords: HashMap<String, u64>,
    /// Projects by key.
    projects: BTreeMap<String, Project>,
    /// Components by id.
    components: BTreeMap<u64, Component>,
    next_component: u64,
    log: CallLog,
    targeted: Vec<Targeted>,
}

/// Jira Data Center's user and group REST API (`/rest/api/2`) as an in-process [`HttpClient`].
///
/// Point an `scim_atlassian::AtlassianProvisioner` at any base URL and hand it
/// the simulator as its client. What it does, as Jira does (ATLASSIAN.md):
/// - Users: `key` (`JIRAUSER<n>`) survives renames; `directoryId` in `POST /user` picks the
///   user directory (\[K\]; 400 for a directory that does not exist, see
///   [`JiraSimulator::add_directory`]); `name` unique ignoring case; create requires
///   `name`, `displayName` and `emailAddress` (400 with field errors otherwise; see
///   [`JiraSimulator::require_email`]); `PUT /user` is partial and renames via `name`;
///   `{"active": false}` deactivates; `DELETE` drops the user's memberships and properties.
/// - `PUT /user/password` \[K\], refusing passwords under 4 characters as a stand-in for a
///   password policy.
/// - `/user/search`: a bare array, no total, `maxResults` capped at 1,000, `username=.`
///   matches everyone, otherwise a case-insensitive prefix of name, display name or email;
///   `includeActive` (default true) and `includeInactive` (default false); sorted by name.
/// - User properties (`/user/properties/{key}?userKey=` or `username=`), groups (create,
///   delete, members paged 50 at a time as `{startAt, maxResults, total, isLast, values}`,
///   add and remove members), `/groups/picker`.
/// - Projects and components (`GET /project?expand=lead`, `PUT /project/{key}` `{"lead"}`,
///   `GET /project/{key}/components`, `PUT /component/{id}` `{"leadUserName"}` \[K\]), set up
///   with [`JiraSimulator::add_project`] and [`JiraSimulator::add_component`]; deleting a user
///   who leads a project or component is refused with 400, as Jira does \[K\].
/// - `/myself`, `/serverInfo` (8.2.6 with `set_before_8_3`, else 9.12.2) and `/mypermissions` (the `ADMINISTER` permission, see
///   [`JiraSimulator::set_admin`]), for connection tests.
/// - Errors as `{"errorMessages": [...], "errors": {...}}` with Jira's status codes; 401
///   without the expected credentials.
/// - Every call counted by method and path ([`JiraSimulator::calls`]); faults injected with
///   [`JiraSimulator::fail_next`] and [`JiraSimulator::fail_call`].
#[derive(Debug)]
pub struct JiraSimulator {
    state: Mutex<State>,
    credentials: Credentials,
    require_email: std::sync::atomic::AtomicBool,
    search_cap: std::sync::atomic::AtomicUsize,
    admin: std::sync::atomic::AtomicBool,
    before_8_3: std::sync::atomic::AtomicBool,
    /// The application credentials the embedded Crowd API accepts; none: it answers 401.
    embedded_crowd: Mutex<Option<Credentials>>,
}

impl JiraSimulator {
    /// An empty Jira accepting only `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        JiraSimulator {
            state: Mutex::new(State {
                next_user: 10000,
                next_component: 10000,
                ..State::default()
            }),
            credentials,
            require_email: std::sync::atomic::AtomicBool::new(true),
            search_cap: std::sync::atomic::AtomicUsize::new(SEARCH_CAP),
            admin: std::sync::atomic::AtomicBool::new(true),
            before_8_3: std::sync::atomic::AtomicBool::new(false),
            embedded_crowd: Mutex::new(None),
        }
    }

    /// Whether creating a user requires `emailAddress` (true, as in Jira). Turned off by tests
    /// whose users have no email.
    pub fn require_email(&self, required: bool) {
        self.require_email
            .store(required, std::sync::atomic::Ordering::Relaxed);
    }

    /// The most users one `/user/search` page returns (1,000 by default, as reported for
    /// Jira; lower it to test clients against servers with a smaller cap).
    pub fn set_search_cap(&self, cap: usize) {
        self.search_cap
            .store(cap, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the credentials' user holds Jira's global `ADMINISTER` permission (true by
    /// default), as `/mypermissions` reports.
    pub fn set_admin(&self, admin: bool) {
        self.admin
            .store(admin, std::sync::atomic::Ordering::Relaxed);
    }

    /// Behave as Jira before 8.3, whose `PUT /user` refuses `active` with 400
    /// `error.no.value.found.to.be.changed` (false by default).
    pub fn set_before_8_3(&self, old: bool) {
        self.before_8_3
            .store(old, std::sync::atomic::Ordering::Relaxed);
    }

    /// Serve the Crowd API embedded in Jira (`/rest/usermanagement/1`: `GET` and `PUT /user`,
    /// the whole record, Crowd's shapes and errors) to the application with `credentials`, as
    /// Jira's User Server settings allow. Calls are counted under their full path
    /// (`/rest/usermanagement/1/user`).
    pub fn set_embedded_crowd(&self, credentials: Credentials) {
        *self
            .embedded_crowd
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(credentials);
    }

    /// Sets application role `key` (`jira-software`): its name, the groups granting it, its
    /// seats (`None`: unlimited) and whether new users get it. `GET /applicationrole` counts
    /// as its users the active users in any of its groups. A Jira without roles answers an
    /// empty list.
    pub fn set_application_role(
        &self,
        key: &str,
        name: &str,
        groups: &[&str],
        seats: Option<u64>,
        selected_by_default: bool,
    ) {
        let role = Role {
            key: key.to_owned(),
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            seats,
            selected_by_default,
        };
        let mut state = self.lock();
        match state.roles.iter_mut().find(|r| r.key == key) {
            Some(r) => *r = role,
            None => state.roles.push(role),
        }
    }

    /// Sets when user `name` last logged in (`None`: never), as the embedded Crowd API's
    /// `GET /user/attribute` serves it (`login.lastLoginMillis` \[K\]). False when there is
    /// no such user.
    pub fn set_last_login(&self, name: &str, at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        let mut state = self.lock();
        let Some(key) = state.by_name(name).map(|u| u.key.clone()) else {
            return false;
        };
        match at {
            Some(t) => state.last_login.insert(key, t.timestamp_millis()),
            None => state.last_login.remove(&key),
        };
        true
    }

    /// Adds a writable user directory with id `id` (e.g. an internal directory with LDAP
    /// authentication), which `POST /user` accepts as `directoryId` \[K\].
    pub fn add_directory(&self, id: u64) {
        self.lock().directories.insert(id);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every handler checks before it writes, so a panic cannot leave a half-applied change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    call_log_methods!();

    /// Requests other than `GET`.
    pub fn write_calls(&self) -> usize {
        self.lock().log.writes()
    }

    /// The `nth` (1-based) next request with `method` to `path` gets `fault`: a failure in the
    /// middle of a multi-call operation.
    pub fn fail_call(&self, method: &str, path: &str, nth: usize, fault: Fault) {
        self.lock().targeted.push(Targeted {
            method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
            path: path.to_owned(),
            remaining: nth.max(1),
            fault,
        });
    }

    /// Adds a user directly (as an administrator would in Jira's UI), returning its key.
    pub fn add_user(&self, name: &str, email: &str, display_name: &str) -> String {
        let mut state = self.lock();
        state.insert_user(name, email, display_name)
    }

    /// Adds project `key` led by the user named `lead` (as an administrator would); false when
    /// the key is taken or no such user exists.
    pub fn add_project(&self, key: &str, name: &str, lead: &str) -> bool {
        let mut state = self.lock();
        let Some(lead) = state.by_name(lead).map(|u| u.key.clone()) else {
            return false;
        };
        if state.projects.contains_key(key) {
            return false;
        }
        state.projects.insert(
            key.to_owned(),
            Project {
                key: key.to_owned(),
                name: name.to_owned(),
                lead,
            },
        );
        true
    }

    /// Adds a component to project `project`, led by the user named `lead` (or by nobody),
    /// returning its id; `None` when the project or the user does not exist.
    pub fn add_component(&self, project: &str, name: &str, lead: Option<&str>) -> Option<u64> {
        let mut state = self.lock();
        if !state.projects.contains_key(project) {
            return None;
        }
        let lead = match lead {
            Some(l) => Some(state.by_name(l)?.key.clone()),
            None => None,
        };
        let id = state.next_component;
        state.next_component += 1;
        state.components.insert(
            id,
            Component {
                id,
                project: project.to_owned(),
                name: name.to_owned(),
                lead,
            },
        );
        Some(id)
    }

    /// The name of the user leading project `key`.
    pub fn project_lead(&self, key: &str) -> Option<String> {
        let state = self.lock();
        let lead = &state.projects.get(key)?.lead;
        state.users.get(lead).map(|u| u.name.clone())
    }

    /// The name of the user leading component `id`.
    pub fn component_lead(&self, id: u64) -> Option<String> {
        let state = self.lock();
        let lead = state.components.get(&id)?.lead.as_ref()?;
        state.users.get(lead).map(|u| u.name.clone())
    }

    /// The user named `name` (ignoring case).
    pub fn user(&self, name: &str) -> Option<SimUser> {
        let state = self.lock();
        state.by_name(name).cloned()
    }

    /// The user with `key`.
    pub fn user_by_key(&self, key: &str) -> Option<SimUser> {
        self.lock().users.get(key).cloned()
    }

    /// How many users exist.
    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// The names of the members of `group`, sorted, or `None` when it does not exist.
    pub fn group_members(&self, group: &str) -> Option<Vec<String>> {
        let state = self.lock();
        let g = state.groups.get(&group.to_lowercase())?;
        let mut names: Vec<String> = g
            .members
            .iter()
            .filter_map(|k| state.users.get(k).map(|u| u.name.clone()))
            .collect();
        names.sort();
        Some(names)
    }

    /// The names of every group, sorted.
    pub fn group_names(&self) -> Vec<String> {
        self.lock()
            .groups
            .values()
            .map(|g| g.name.clone())
            .collect()
    }

    /// Whether the user named `name` has the password `password`.
    pub fn password_is(&self, name: &str, password: &str) -> bool {
        let state = self.lock();
        state
            .by_name(name)
            .and_then(|u| state.passwords.get(&u.key))
            .is_some_and(|h| *h == password_hash(password))
    }

    /// The user property `property` of the user with `key`.
    pub fn property(&self, key: &str, property: &str) -> Option<Value> {
        self.lock()
            .properties
            .get(&(key.to_owned(), property.to_owned()))
            .cloned()
    }

    fn take_fault(state: &mut State, method: &Method, path: &str) -> Option<Fault> {
        let mut hit = None;
        for t in &mut state.targeted {
            if hit.is_none() && t.method == method && t.path == path {
                t.remaining -= 1;
                if t.remaining == 0 {
                    hit = Some(t.fault.clone());
                }
            }
        }
        state.targeted.retain(|t| t.remaining > 0);
        hit.or_else(|| state.log.next_fault())
    }
}

#[async_trait]
impl HttpClient for JiraSimulator {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        super::serve_with_faults(
            request,
            |r| std::future::ready(self.serve(&r)),
            fault_response,
        )
        .await
    }
}

impl JiraSimulator {
    /// Answers `request` (or the fault injected in its place).
    fn serve(&self, request: &Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        let uri = request.uri().clone();
        let full_path = uri.path();
        let (base, path) = match full_path.find(API) {
            Some(at) => (
                format!(
                    "{}://{}{}",
                    uri.scheme_str().unwrap_or("http"),
                    uri.authority().map_or("jira", |a| a.as_str()),
                    full_path.get(..at).unwrap_or("")
                ),
                full_path.get(at + API.len()..).unwrap_or("").to_owned(),
            ),
            // The embedded Crowd API is counted under its full path, context path left out.
            None => (
                String::new(),
                full_path
                    .find(CROWD_API)
                    .and_then(|at| full_path.get(at..))
                    .unwrap_or(full_path)
                    .to_owned(),
            ),
        };
        let method = request.method().clone();
        let mut state = self.lock();
        state.log.record(&method, &path);
        if let Some(fault) = super::before_serving(
            request.extensions(),
            Self::take_fault(&mut state, &method, &path),
        ) {
            return fault_response(&fault);
        }
        let query = wire::query_last_wins(&uri);
        if let Some(crowd_path) = path.strip_prefix(CROWD_API) {
            let allowed = self
                .embedded_crowd
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let authorized = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .zip(allowed)
                .is_some_and(|(h, c)| c.matches_header(h.as_bytes()));
            return Ok(embedded_crowd(
                &mut state,
                &method,
                crowd_path,
                &query,
                request.body(),
                authorized,
            ));
        }
        if !wire::authorized(request, &self.credentials) {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                &["You are not authenticated. Authentication required to perform this operation."],
                &[],
            ));
        }
        let body = request.body();
        let ctx = Call {
            base: &base,
            query: &query,
            body,
            require_email: self
                .require_email
                .load(std::sync::atomic::Ordering::Relaxed),
            search_cap: self.search_cap.load(std::sync::atomic::Ordering::Relaxed),
            admin: self.admin.load(std::sync::atomic::Ordering::Relaxed),
            before_8_3: self.before_8_3.load(std::sync::atomic::Ordering::Relaxed),
        };
        Ok(route(&mut state, &method, &path, &ctx))
    }
}

struct Call<'a> {
    base: &'a str,
    query: &'a HashMap<String, String>,
    body: &'a [u8],
    require_email: bool,
    search_cap: usize,
    admin: bool,
    before_8_3: bool,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        self.param(name)
            .map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }

    fn number(&self, name: &str, default: usize) -> usize {
        wire::number(self.query, name, default)
    }

    /// The `startAt`/`maxResults` window, `maxResults` at most `cap`.
    fn window(&self, default: usize, cap: usize) -> Window {
        Window::read(self.query, "startAt", "maxResults", default, cap)
    }

    fn json(&self) -> Result<Value, Response<Vec<u8>>> {
        serde_json::from_slice(self.body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &[&format!("Unexpected character in JSON body: {e}")],
                &[],
            )
        })
    }
}

pub(crate) fn fault_response(fault: &Fault) -> Result<Response<Vec<u8>>, HttpError> {
    wire::fault_reply(fault, RateHeaders::DataCenter, |status, fault| {
        let message = match fault {
            Fault::RateLimited { .. } => "Rate limit exceeded.",
            Fault::Unavailable | Fault::Overloaded { .. } => "Service unavailable.",
            _ => "Injected failure.",
        };
        error(status, &[message], &[])
    })
}

/// Jira's error body: `{"errorMessages": [...], "errors": {field: message}}`.
fn error(status: StatusCode, messages: &[&str], errors: &[(&str, &str)]) -> Response<Vec<u8>> {
    let errors: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    respond(
        status,
        &json!({"errorMessages": messages, "errors": errors}),
    )
}

fn route(state: &mut State, method: &Method, path: &str, call: &Call<'_>) -> Response<Vec<u8>> {
    let result = match (method.as_str(), path) {
        ("GET", "/user") => get_user(state, call),
        ("POST", "/user") => create_user(state, call),
        ("PUT", "/user") => update_user(state, call),
        ("DELETE", "/user") => delete_user(state, call),
        ("PUT", "/user/password") => set_password(state, call),
        ("GET", "/user/search") => Ok(search_users(state, call)),
        ("POST", "/group") => create_group(state, call),
        ("DELETE", "/group") => delete_group(state, call),
        ("GET", "/group/member") => group_members(state, call),
        ("POST", "/group/user") => add_member(state, call),
        ("DELETE", "/group/user") => remove_member(state, call),
        ("GET", "/groups/picker") => Ok(groups_picker(state, call)),
        ("GET", "/myself") => Ok(respond(
            StatusCode::OK,
            &json!({
                "self": format!("{}{API}/user?username=admin", call.base),
                "key": "admin",
                "name": "admin",
                "displayName": "Administrator",
                "emailAddress": "admin@example.com",
                "active": true,
            }),
        )),
        ("GET", "/serverInfo") => {
            let (version, numbers) = if call.before_8_3 {
                ("8.2.6", [8, 2, 6])
            } else {
                ("9.12.2", [9, 12, 2])
            };
            Ok(respond(
                StatusCode::OK,
                &json!({
                    "baseUrl": call.base,
                    "version": version,
                    "versionNumbers": numbers,
                    "deploymentType": "Server",
                    "serverTitle": "Jira simulator",
                }),
            ))
        }
        ("GET", "/mypermissions") => {
            let mut permissions = serde_json::Map::new();
            for key in call.param("permissions").unwrap_or("").split(',') {
                let key = key.trim();
                if !key.is_empty() {
                    let have = key == "ADMINISTER" && call.admin;
                    permissions.insert(
                        key.to_owned(),
                        json!({"key": key, "type": "GLOBAL", "havePermission": have}),
                    );
                }
            }
            Ok(respond(
                StatusCode::OK,
                &json!({"permissions": permissions}),
            ))
        }
        ("GET", "/project") => Ok(list_projects(state, call)),
        ("GET", "/applicationrole") => Ok(application_roles(state)),
        (m, p) => match p.strip_prefix("/user/properties/") {
            Some(prop) if !prop.is_empty() && !prop.contains('/') => {
                user_property(state, m, prop, call)
            }
            _ if m == "GET" && p.starts_with("/project/") && p.ends_with("/components") => {
                let key = p
                    .get("/project/".len()..p.len() - "/components".len())
                    .unwrap_or("");
                project_components(state, key, call)
            }
            _ if m == "PUT" && p.starts_with("/project/") => {
                set_project_lead(state, p.get("/project/".len()..).unwrap_or(""), call)
            }
            _ if m == "PUT" && p.starts_with("/component/") => {
                set_component_lead(state, p.get("/component/".len()..).unwrap_or(""), call)
            }
            _ => Err(error(
                StatusCode::NOT_FOUND,
                &["null for uri: not a simulated Jira resource"],
                &[],
            )),
        },
    };
    result.unwrap_or_else(|r| r)
}

type Handled = Result<Response<Vec<u8>>, Response<Vec<u8>>>;

impl State {
    fn by_name(&self, name: &str) -> Option<&SimUser> {
        self.users.get(self.names.get(&name.to_ascii_lowercase())?)
    }

    fn insert_user(&mut self, name: &str, email: &str, display_name: &str) -> String {
        let key = format!("JIRAUSER{}", self.next_user);
        self.next_user += 1;
        self.names.insert(name.to_ascii_lowercase(), key.clone());
        self.users.insert(
            key.clone(),
            SimUser {
                key: key.clone(),
                name: name.to_owned(),
                email: email.to_owned(),
                display_name: display_name.to_owned(),
                active: true,
                directory: INTERNAL_DIRECTORY,
            },
        );
        key
    }

    /// The key of the user named by `key=` or `username=` (the parameter names differ by call).
    fn find_user(&self, call: &Call<'_>, key_param: &str) -> Result<String, Response<Vec<u8>>> {
        if let Some(key) = call.param(key_param) {
            return self.users.get(key).map(|u| u.key.clone()).ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    &[&format!("The user with the key '{key}' does not exist")],
                    &[],
                )
            });
        }
        if let Some(name) = call.param("username") {
            return self.by_name(name).map(|u| u.key.clone()).ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    &[&format!("The user named '{name}' does not exist")],
                    &[],
                )
            });
        }
        Err(error(
            StatusCode::BAD_REQUEST,
            &["Either the 'username' or the 'key' query parameters need to be provided"],
            &[],
        ))
    }

    fn groups_of(&self, key: &str) -> Vec<&str> {
        self.groups
            .values()
            .filter(|g| g.members.contains(key))
            .map(|g| g.name.as_str())
            .collect()
    }

    fn user_json(&self, base: &str, user: &SimUser, with_groups: bool) -> Value {
        let encoded: String = url::form_urlencoded::byte_serialize(user.name.as_bytes()).collect();
        let mut v = json!({
            "self": format!("{base}{API}/user?username={encoded}"),
            "key": user.key,
            "name": user.name,
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": user.active,
            "deleted": false,
            "timeZone": "UTC",
            "locale": "en_US",
        });
        if with_groups {
            let items: Vec<Value> = self
                .groups_of(&user.key)
                .into_iter()
                .map(|g| json!({"name": g, "self": format!("{base}{API}/group?groupname={g}")}))
                .collect();
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "groups".to_owned(),
                    json!({"size": items.len(), "items": items}),
                );
            }
        }
        v
    }

    fn group(&self, call: &Call<'_>) -> Result<String, Response<Vec<u8>>> {
        let name = call.param("groupname").unwrap_or("");
        let lower = name.to_lowercase();
        if self.groups.contains_key(&lower) {
            Ok(lower)
        } else {
            Err(error(
                StatusCode::NOT_FOUND,
                &[&format!("The group '{name}' does not exist.")],
                &[],
            ))
        }
    }
}

fn get_user(state: &State, call: &Call<'_>) -> Handled {
    let key = state.find_user(call, "key")?;
    let with_groups = call
        .param("expand")
        .is_some_and(|e| e.split(',').any(|x| x.trim() == "groups"));
    let user = state
        .users
        .get(&key)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    Ok(respond(
        StatusCode::OK,
        &state.user_json(call.base, user, with_groups),
    ))
}

fn str_field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

fn create_user(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let name = str_field(&body, "name").unwrap_or("").trim();
    let display = str_field(&body, "displayName").unwrap_or("").trim();
    let email = str_field(&body, "emailAddress").unwrap_or("").trim();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(("username", "You must specify a username."));
    } else if state.by_name(name).is_some() {
        errors.push(("username", "A user with that username already exists."));
    }
    if display.is_empty() {
        errors.push(("displayName", "You must specify a full name."));
    }
    if email.is_empty() && call.require_email {
        errors.push(("email", "You must specify an email address."));
    }
    if !errors.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, &[], &errors));
    }
    let directory = match body.get("directoryId") {
        None | Some(Value::Null) => INTERNAL_DIRECTORY,
        Some(v) => match v.as_u64() {
            Some(d) if d == INTERNAL_DIRECTORY || state.directories.contains(&d) => d,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &[],
                    &[("directoryId", "The directory does not exist.")],
                ));
            }
        },
    };
    let key = state.insert_user(name, email, display);
    if let Some(u) = state.users.get_mut(&key) {
        u.directory = directory;
    }
    if let Some(password) = str_field(&body, "password") {
        state.passwords.insert(key.clone(), password_hash(password));
    }
    let user = state
        .users
        .get(&key)
        .ok_or_else(|| empty(StatusCode::INTERNAL_SERVER_ERROR))?;
    Ok(respond(
        StatusCode::CREATED,
        &state.user_json(call.base, user, false),
    ))
}

fn update_user(state: &mut State, call: &Call<'_>) -> Handled {
    let key = state.find_user(call, "key")?;
    let body = call.json()?;
    let mut user = state
        .users
        .get(&key)
        .cloned()
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    if let Some(name) = str_field(&body, "name") {
        let name = name.trim();
        if name.is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &[],
                &[("username", "You must specify a username.")],
            ));
        }
        if state.by_name(name).is_some_and(|u| u.key != key) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &[],
                &[("username", "A user with that username already exists.")],
            ));
        }
        name.clone_into(&mut user.name);
    }
    if let Some(display) = str_field(&body, "displayName") {
        if display.trim().is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &[],
                &[("displayName", "You must specify a full name.")],
            ));
        }
        display.trim().clone_into(&mut user.display_name);
    }
    if let Some(email) = str_field(&body, "emailAddress") {
        email.trim().clone_into(&mut user.email);
    }
    if let Some(active) = body.get("active").and_then(Value::as_bool) {
        if call.before_8_3 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &["error.no.value.found.to.be.changed"],
                &[],
            ));
        }
        user.active = active;
    }
    let json = state.user_json(call.base, &user, false);
    if let Some(old) = state.users.get(&key).map(|u| u.name.to_ascii_lowercase()) {
        state.names.remove(&old);
    }
    state
        .names
        .insert(user.name.to_ascii_lowercase(), key.clone());
    state.users.insert(key, user);
    Ok(respond(StatusCode::OK, &json))
}

fn delete_user(state: &mut State, call: &Call<'_>) -> Handled {
    let key = state.find_user(call, "key")?;
    // [K] Jira refuses to delete a project or component lead until someone else leads.
    let led: Vec<&str> = state
        .projects
        .values()
        .filter(|p| p.lead == key)
        .map(|p| p.key.as_str())
        .collect();
    if !led.is_empty() {
        let name = state.users.get(&key).map_or("", |u| u.name.as_str());
        let msg = format!(
            "Cannot delete user '{name}' because they are the project lead of: {}.",
            led.join(", ")
        );
        return Err(error(StatusCode::BAD_REQUEST, &[&msg], &[]));
    }
    let led: Vec<String> = state
        .components
        .values()
        .filter(|c| c.lead.as_deref() == Some(key.as_str()))
        .map(|c| format!("{} ({})", c.name, c.project))
        .collect();
    if !led.is_empty() {
        let name = state.users.get(&key).map_or("", |u| u.name.as_str());
        let msg = format!(
            "Cannot delete user '{name}' because they are the component lead of: {}.",
            led.join(", ")
        );
        return Err(error(StatusCode::BAD_REQUEST, &[&msg], &[]));
    }
    if let Some(gone) = state.users.remove(&key) {
        state.names.remove(&gone.name.to_ascii_lowercase());
    }
    for g in state.groups.values_mut() {
        g.members.remove(&key);
    }
    state.properties.retain(|(k, _), _| *k != key);
    state.passwords.remove(&key);
    Ok(empty(StatusCode::NO_CONTENT))
}

fn set_password(state: &mut State, call: &Call<'_>) -> Handled {
    let key = state.find_user(call, "key")?;
    let body = call.json()?;
    let password = str_field(&body, "password").unwrap_or("");
    // Stands in for Jira's password policy: too short is refused.
    if password.chars().count() < 4 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &[],
            &[(
                "password",
                "The password must be at least 4 characters long.",
            )],
        ));
    }
    state.passwords.insert(key, password_hash(password));
    Ok(empty(StatusCode::NO_CONTENT))
}

fn search_users(state: &State, call: &Call<'_>) -> Response<Vec<u8>> {
    let needle = call.param("username").unwrap_or("").to_lowercase();
    let window = call.window(50, call.search_cap);
    let (active, inactive) = (
        call.flag("includeActive", true),
        call.flag("includeInactive", false),
    );
    let mut hits: Vec<&SimUser> = state
        .users
        .values()
        .filter(|u| if u.active { active } else { inactive })
        .filter(|u| {
            needle == "."
                || (!needle.is_empty()
                    && [&u.name, &u.display_name, &u.email]
                        .iter()
                        .any(|f| f.to_lowercase().starts_with(&needle)))
        })
        .collect();
    // Each name lower-cased once, not twice a comparison.
    hits.sort_by_cached_key(|u| (u.name.to_lowercase(), u.key.as_str()));
    let page: Vec<Value> = window
        .take(hits)
        .into_iter()
        .map(|u| state.user_json(call.base, u, false))
        .collect();
    respond(StatusCode::OK, &Value::Array(page))
}

fn user_property(state: &mut State, method: &str, prop: &str, call: &Call<'_>) -> Handled {
    let key = state.find_user(call, "userKey")?;
    let slot = (key, prop.to_owned());
    match method {
        "GET" => match state.properties.get(&slot) {
            Some(v) => Ok(respond(StatusCode::OK, &json!({"key": prop, "value": v}))),
            None => Err(error(
                StatusCode::NOT_FOUND,
                &[&format!("The property with key '{prop}' does not exist.")],
                &[],
            )),
        },
        "PUT" => {
            let value = call.json()?;
            // [K] Jira refuses property values over 32,768 characters.
            if String::from_utf8_lossy(call.body).chars().count() > 32_768 {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &["The property value is too long: at most 32768 characters."],
                    &[],
                ));
            }
            let existed = state.properties.insert(slot, value).is_some();
            Ok(empty(if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            }))
        }
        "DELETE" => match state.properties.remove(&slot) {
            Some(_) => Ok(empty(StatusCode::NO_CONTENT)),
            None => Err(error(
                StatusCode::NOT_FOUND,
                &[&format!("The property with key '{prop}' does not exist.")],
                &[],
            )),
        },
        _ => Err(empty(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

fn group_json(base: &str, name: &str) -> Value {
    json!({
        "name": name,
        "self": format!("{base}{API}/group?groupname={name}"),
        "users": {"size": 0, "items": [], "max-results": 50, "start-index": 0, "end-index": 0},
        "expand": "users",
    })
}

fn create_group(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let name = str_field(&body, "name").unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &["You must specify a valid group name."],
            &[],
        ));
    }
    let lower = name.to_lowercase();
    if state.groups.contains_key(&lower) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &["A group or user with this name already exists."],
            &[],
        ));
    }
    state.groups.insert(
        lower,
        Group {
            name: name.clone(),
            members: BTreeSet::new(),
        },
    );
    Ok(respond(StatusCode::CREATED, &group_json(call.base, &name)))
}

fn delete_group(state: &mut State, call: &Call<'_>) -> Handled {
    let lower = state.group(call)?;
    state.groups.remove(&lower);
    Ok(empty(StatusCode::OK))
}

fn group_members(state: &State, call: &Call<'_>) -> Handled {
    let lower = state.group(call)?;
    let group = state
        .groups
        .get(&lower)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    let inactive = call.flag("includeInactiveUsers", false);
    let window = call.window(MEMBER_CAP, MEMBER_CAP);
    let mut members: Vec<&SimUser> = group
        .members
        .iter()
        .filter_map(|k| state.users.get(k))
        .filter(|u| inactive || u.active)
        .collect();
    members.sort_by_cached_key(|u| u.name.to_lowercase());
    let total = members.len();
    let values: Vec<Value> = window
        .take(members)
        .into_iter()
        .map(|u| state.user_json(call.base, u, false))
        .collect();
    let is_last = window.is_last(values.len(), total);
    Ok(respond(
        StatusCode::OK,
        &json!({
            "self": format!("{}{API}/group/member?groupname={}", call.base, group.name),
            "maxResults": window.limit,
            "startAt": window.start,
            "total": total,
            "isLast": is_last,
            "values": values,
        }),
    ))
}

fn add_member(state: &mut State, call: &Call<'_>) -> Handled {
    let lower = state.group(call)?;
    let body = call.json()?;
    let name = str_field(&body, "name").unwrap_or("");
    let Some(key) = state.by_name(name).map(|u| u.key.clone()) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            &[&format!("The user named '{name}' does not exist")],
            &[],
        ));
    };
    let group = state
        .groups
        .get_mut(&lower)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    // [K] Jira refuses a duplicate membership with 400 rather than ignoring it.
    if !group.members.insert(key) {
        let msg = format!(
            "Cannot add user. '{name}' is already a member of '{}'",
            group.name
        );
        return Err(error(StatusCode::BAD_REQUEST, &[&msg], &[]));
    }
    let name = group.name.clone();
    Ok(respond(StatusCode::CREATED, &group_json(call.base, &name)))
}

fn remove_member(state: &mut State, call: &Call<'_>) -> Handled {
    let lower = state.group(call)?;
    let key = state.find_user(call, "key")?;
    let group = state
        .groups
        .get_mut(&lower)
        .ok_or_else(|| empty(StatusCode::NOT_FOUND))?;
    // [K] Removing a non-member is a 400 in Jira.
    if !group.members.remove(&key) {
        let msg = format!("The user is not a member of '{}'", group.name);
        return Err(error(StatusCode::BAD_REQUEST, &[&msg], &[]));
    }
    Ok(empty(StatusCode::OK))
}

fn groups_picker(state: &State, call: &Call<'_>) -> Response<Vec<u8>> {
    let query = call.param("query").unwrap_or("").to_lowercase();
    let max = call.number("maxResults", 20).min(SEARCH_CAP);
    let matching: Vec<&Group> = state
        .groups
        .values()
        .filter(|g| g.name.to_lowercase().contains(&query))
        .collect();
    let total = matching.len();
    let groups: Vec<Value> = matching
        .into_iter()
        .take(max)
        .map(|g| json!({"name": g.name, "html": g.name, "labels": []}))
        .collect();
    respond(
        StatusCode::OK,
        &json!({
            "header": format!("Showing {} of {total} matching groups", groups.len()),
            "total": total,
            "groups": groups,
        }),
    )
}

/// `GET /applicationrole` \[V\]: each role with its seats and the active users in its groups.
fn application_roles(state: &State) -> Response<Vec<u8>> {
    let roles: Vec<Value> = state
        .roles
        .iter()
        .map(|r| {
            let users = state
                .users
                .values()
                .filter(|u| {
                    u.active
                        && r.groups.iter().any(|g| {
                            state
                                .groups
                                .get(&g.to_lowercase())
                                .is_some_and(|grp| grp.members.contains(&u.key))
                        })
                })
                .count() as u64;
            let seats = r.seats.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
            json!({
                "key": r.key,
                "name": r.name,
                "groups": r.groups,
                "defaultGroups": r.groups.iter().take(1).collect::<Vec<_>>(),
                "selectedByDefault": r.selected_by_default,
                "defined": true,
                "numberOfSeats": seats,
                "remainingSeats": r.seats.map_or(-1, |n| i64::try_from(n.saturating_sub(users)).unwrap_or(i64::MAX)),
                "userCount": users,
                "userCountDescription": format!("{users} users"),
                "hasUnlimitedSeats": r.seats.is_none(),
                "platform": false,
            })
        })
        .collect();
    respond(StatusCode::OK, &Value::Array(roles))
}

fn lead_json(state: &State, key: &str) -> Value {
    state.users.get(key).map_or(Value::Null, |u| {
        json!({"key": u.key, "name": u.name, "displayName": u.display_name, "active": u.active})
    })
}

fn project_json(state: &State, base: &str, p: &Project, with_lead: bool) -> Value {
    let mut v = json!({
        "self": format!("{base}{API}/project/{}", p.key),
        "key": p.key,
        "name": p.name,
    });
    if with_lead {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("lead".to_owned(), lead_json(state, &p.lead));
        }
    }
    v
}

fn list_projects(state: &State, call: &Call<'_>) -> Response<Vec<u8>> {
    let with_lead = call
        .param("expand")
        .is_some_and(|e| e.split(',').any(|x| x.trim() == "lead"));
    let all: Vec<Value> = state
        .projects
        .values()
        .map(|p| project_json(state, call.base, p, with_lead))
        .collect();
    respond(StatusCode::OK, &Value::Array(all))
}

fn no_project(key: &str) -> Response<Vec<u8>> {
    error(
        StatusCode::NOT_FOUND,
        &[&format!("No project could be found with key '{key}'.")],
        &[],
    )
}

fn set_project_lead(state: &mut State, key: &str, call: &Call<'_>) -> Handled {
    if !state.projects.contains_key(key) {
        return Err(no_project(key));
    }
    let body = call.json()?;
    if let Some(lead) = str_field(&body, "lead") {
        let Some(user) = state.by_name(lead).map(|u| u.key.clone()) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &[],
                &[(
                    "projectLead",
                    "The user you have specified as project lead does not exist.",
                )],
            ));
        };
        if let Some(p) = state.projects.get_mut(key) {
            p.lead = user;
        }
    }
    let p = state.projects.get(key).ok_or_else(|| no_project(key))?;
    Ok(respond(
        StatusCode::OK,
        &project_json(state, call.base, p, true),
    ))
}

fn component_json(state: &State, base: &str, c: &Component) -> Value {
    let mut v = json!({
        "self": format!("{base}{API}/component/{}", c.id),
        "id": c.id.to_string(),
        "name": c.name,
        "project": c.project,
    });
    if let (Some(lead), Some(obj)) = (&c.lead, v.as_object_mut()) {
        obj.insert("lead".to_owned(), lead_json(state, lead));
        if let Some(u) = state.users.get(lead) {
            obj.insert("leadUserName".to_owned(), Value::from(u.name.as_str()));
        }
    }
    v
}

fn project_components(state: &State, key: &str, call: &Call<'_>) -> Handled {
    if !state.projects.contains_key(key) {
        return Err(no_project(key));
    }
    let list: Vec<Value> = state
        .components
        .values()
        .filter(|c| c.project == key)
        .map(|c| component_json(state, call.base, c))
        .collect();
    Ok(respond(StatusCode::OK, &Value::Array(list)))
}

fn set_component_lead(state: &mut State, id: &str, call: &Call<'_>) -> Handled {
    let missing = || {
        error(
            StatusCode::NOT_FOUND,
            &[&format!("The component with id {id} does not exist.")],
            &[],
        )
    };
    let id: u64 = id.parse().map_err(|_| missing())?;
    if !state.components.contains_key(&id) {
        return Err(missing());
    }
    let body = call.json()?;
    if let Some(lead) = str_field(&body, "leadUserName") {
        let Some(user) = state.by_name(lead).map(|u| u.key.clone()) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &[],
                &[(
                    "leadUserName",
                    "The user specified as component lead does not exist.",
                )],
            ));
        };
        if let Some(c) = state.components.get_mut(&id) {
            c.lead = Some(user);
        }
    }
    let c = state.components.get(&id).ok_or_else(missing)?;
    Ok(respond(
        StatusCode::OK,
        &component_json(state, call.base, c),
    ))
}

/// The Crowd API embedded in Jira, as far as deactivation needs it: `GET /user?username=`
/// and `PUT /user?username=` with the whole record (Crowd's PUT replaces every field; Jira
/// keeps no first and last names apart, so those are read as the display name's words).
fn embedded_crowd(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &[u8],
    authorized: bool,
) -> Response<Vec<u8>> {
    if !authorized {
        return crowd_error(
            StatusCode::UNAUTHORIZED,
            "APPLICATION_ACCESS_DENIED",
            "Application failed to authenticate",
        );
    }
    let name = query.get("username").map_or("", String::as_str);
    let Some(key) = state.by_name(name).map(|u| u.key.clone()) else {
        return crowd_error(
            StatusCode::NOT_FOUND,
            "USER_NOT_FOUND",
            &format!("User <{name}> does not exist"),
        );
    };
    if (method.as_str(), path) == ("GET", "/user/attribute") {
        let attributes: Vec<Value> = state
            .last_login
            .get(&key)
            .map(|ms| json!({"name": "login.lastLoginMillis", "values": [ms.to_string()]}))
            .into_iter()
            .collect();
        return respond(StatusCode::OK, &json!({ "attributes": attributes }));
    }
    let Some(user) = state.users.get_mut(&key) else {
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    };
    match (method.as_str(), path) {
        ("GET", "/user") => {
            let (first, last) = user
                .display_name
                .rsplit_once(' ')
                .unwrap_or((user.display_name.as_str(), ""));
            respond(
                StatusCode::OK,
                &json!({
                    "name": user.name,
                    "first-name": first,
                    "last-name": last,
                    "display-name": user.display_name,
                    "email": user.email,
                    "active": user.active,
                }),
            )
        }
        ("PUT", "/user") => {
            let Ok(record) = serde_json::from_slice::<Value>(body) else {
                return crowd_error(StatusCode::BAD_REQUEST, "ILLEGAL_ARGUMENT", "Invalid JSON");
            };
            let text = |f: &str| {
                record
                    .get(f)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            if !text("name").eq_ignore_ascii_case(&user.name) {
                return crowd_error(
                    StatusCode::BAD_REQUEST,
                    "ILLEGAL_ARGUMENT",
                    "The user name in the body must be the user's",
                );
            }
            // The whole record: what is left out is emptied, `active` left out is false.
            user.display_name = text("display-name");
            user.email = text("email");
            user.active = record
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            empty(StatusCode::NO_CONTENT)
        }
        _ => crowd_error(
            StatusCode::NOT_FOUND,
            "ILLEGAL_ARGUMENT",
            "not a simulated embedded Crowd resource",
        ),
    }
}
