//! [`CrowdSimulator`]: Crowd's usermanagement REST API in memory.

// Handlers answer errors as ready responses (`Err(response)`), as in the Jira simulator.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::{HttpClient, HttpError};
use serde_json::{Value, json};

use super::wire::{self, RateHeaders, Window, crowd_error as error};
use super::{CallLog, Fault, empty, password_hash, respond};
use scim_provisioning::Credentials;

/// The prefix of every Crowd REST path.
const API: &str = "/rest/usermanagement/1";
/// Crowd's largest `max-results` \[K\].
const PAGE_CAP: usize = 1000;
/// The longest attribute value Crowd stores \[K\].
const ATTRIBUTE_MAX: usize = 255;

/// A Crowd user as the simulator stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrowdSimUser {
    /// The user name (unique ignoring case).
    pub name: String,
    /// `first-name`.
    pub first_name: String,
    /// `last-name`.
    pub last_name: String,
    /// `display-name`.
    pub display_name: String,
    /// `email`.
    pub email: String,
    /// `active`.
    pub active: bool,
    /// Attributes: name -> values (a set, as Crowd keeps them).
    pub attributes: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug)]
struct Group {
    name: String,
    /// Lower-cased member names.
    members: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct State {
    /// Users by lower-cased name.
    users: BTreeMap<String, CrowdSimUser>,
    /// Groups by lower-cased name.
    groups: BTreeMap<String, Group>,
    /// Lower-cased name -> a hash of the password.
    passwords: HashMap<String, u64>,
    log: CallLog,
}

/// Crowd's usermanagement API (`/rest/usermanagement/1`) as an in-process [`HttpClient`], for
/// an `scim_atlassian::AtlassianProvisioner::crowd`. As Crowd does
/// (ATLASSIAN.md):
/// - Basic authentication with the application's name and password; 401 otherwise.
/// - Users by name (unique ignoring case); `POST /user/rename` `{"new-name"}` \[K\]. `POST /user` requires `name` and a password
///   (`{"password": {"value": ...}}`), 400 `INVALID_USER` "already exists" for a taken name.
///   **`PUT /user` replaces the whole record**: a field left out is emptied (and `active` left
///   out is false), and the body's `name` must be the user's. `DELETE` drops memberships.
/// - `PUT /user/password` (shorter than 4 characters refused with 400
///   `INVALID_CREDENTIAL`, standing in for a password policy).
/// - User attributes (`GET`/`POST /user/attribute`): values of at most 255 characters
///   \[K\], kept as a set; `expand=attributes` on `GET /user`, and `expand=user,attributes`
///   on user searches and group members, puts them in each user.
/// - Groups (`GET`/`POST`/`DELETE /group`), direct members
///   (`GET`/`POST`/`DELETE /group/user/direct`, 409 `MEMBERSHIP_ALREADY_EXISTS`, 404
///   `MEMBERSHIP_NOT_FOUND`), a user's groups (`GET /user/group/direct`: an unknown user has
///   none, 200 \[V\]).
/// - `GET /search?entity-type=user|group` with `start-index`/`max-results` (capped at 1,000)
///   and `expand`, sorted by name; for users, a `restriction` of the one form
///   `<attribute> = "<value>"` (`name`, `email` or a custom attribute; Crowd's query language
///   has more \[K\]).
/// - Errors as `{"reason": "USER_NOT_FOUND", "message": "..."}` \[K\].
/// - Every call counted by method and path; faults injected with
///   [`CrowdSimulator::fail_next`].
#[derive(Debug)]
pub struct CrowdSimulator {
    state: Mutex<State>,
    credentials: Credentials,
}

impl CrowdSimulator {
    /// An empty Crowd accepting only the application `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        CrowdSimulator {
            state: Mutex::new(State::default()),
            credentials,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every handler checks before it writes, so a panic cannot leave a half-applied change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    call_log_methods!();

    /// Adds an active user directly (as an administrator would in Crowd's console).
    pub fn add_user(&self, name: &str, email: &str, display_name: &str) {
        let user = CrowdSimUser {
            name: name.to_owned(),
            first_name: String::new(),
            last_name: String::new(),
            display_name: display_name.to_owned(),
            email: email.to_owned(),
            active: true,
            attributes: BTreeMap::new(),
        };
        self.lock().users.insert(name.to_lowercase(), user);
    }

    /// The user named `name`, as stored.
    pub fn user(&self, name: &str) -> Option<CrowdSimUser> {
        self.lock().users.get(&name.to_lowercase()).cloned()
    }

    /// How many active users there are.
    pub fn active_user_count(&self) -> usize {
        self.lock().users.values().filter(|u| u.active).count()
    }

    /// Sets user `name`'s last login, as Crowd keeps it in the `lastAuthenticated` attribute
    /// (milliseconds since the epoch) \[V\]; `None` forgets it (never logged in). False
    /// when there is no such user.
    pub fn set_last_login(&self, name: &str, at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        let mut state = self.lock();
        let Some(user) = state.users.get_mut(&name.to_lowercase()) else {
            return false;
        };
        match at {
            Some(t) => {
                user.attributes.insert(
                    "lastAuthenticated".to_owned(),
                    std::iter::once(t.timestamp_millis().to_string()).collect(),
                );
            }
            None => {
                user.attributes.remove("lastAuthenticated");
            }
        }
        true
    }

    /// How many users there are.
    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// Member names of group `group`, sorted; `None` when there is no such group.
    pub fn group_members(&self, group: &str) -> Option<Vec<String>> {
        let state = self.lock();
        let g = state.groups.get(&group.to_lowercase())?;
        Some(
            g.members
                .iter()
                .filter_map(|m| state.users.get(m).map(|u| u.name.clone()))
                .collect(),
        )
    }

    /// Every group name.
    pub fn group_names(&self) -> Vec<String> {
        self.lock()
            .groups
            .values()
            .map(|g| g.name.clone())
            .collect()
    }

    /// Serves a request as the application would get it, without authentication or counting:
    /// how the Confluence simulator's own API reaches the directory it embeds.
    pub(crate) fn internal(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response<Vec<u8>> {
        let query: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let call = Call {
            query: &query,
            body: &bytes,
        };
        route(&mut self.lock(), method, path, &call).unwrap_or_else(|r| r)
    }

    /// Whether user `name`'s password is `password`.
    pub fn password_is(&self, name: &str, password: &str) -> bool {
        self.lock().passwords.get(&name.to_lowercase()) == Some(&password_hash(password))
    }
}

#[async_trait]
impl HttpClient for CrowdSimulator {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        super::serve_with_faults(
            request,
            |r| std::future::ready(self.serve(&r)),
            fault_response,
        )
        .await
    }
}

impl CrowdSimulator {
    /// Answers `request` (or the fault injected in its place).
    fn serve(&self, request: &Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        let uri = request.uri().clone();
        let full = uri.path();
        let path = full
            .find(API)
            .and_then(|at| full.get(at + API.len()..))
            .unwrap_or(full)
            .to_owned();
        let method = request.method().clone();
        let mut state = self.lock();
        state.log.record(&method, &path);
        if let Some(fault) = super::before_serving(request.extensions(), state.log.next_fault()) {
            return fault_response(&fault);
        }
        if !wire::authorized(request, &self.credentials) {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIAL",
                "Application failed to authenticate",
            ));
        }
        let query = wire::query_last_wins(&uri);
        let call = Call {
            query: &query,
            body: request.body(),
        };
        Ok(route(&mut state, &method, &path, &call).unwrap_or_else(|r| r))
    }
}

struct Call<'a> {
    query: &'a HashMap<String, String>,
    body: &'a [u8],
}

impl Call<'_> {
    fn param(&self, name: &str) -> &str {
        self.query.get(name).map_or("", String::as_str)
    }

    fn json(&self) -> Result<Value, Response<Vec<u8>>> {
        serde_json::from_slice(self.body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "ILLEGAL_ARGUMENT",
                &format!("Invalid JSON: {e}"),
            )
        })
    }

    fn expand(&self, what: &str) -> bool {
        self.param("expand").split(',').any(|e| e.trim() == what)
    }

    fn window<T>(&self, items: impl Iterator<Item = T>) -> Vec<T> {
        Window::read(self.query, "start-index", "max-results", PAGE_CAP, PAGE_CAP).take(items)
    }
}

type Handled = Result<Response<Vec<u8>>, Response<Vec<u8>>>;

fn fault_response(fault: &Fault) -> Result<Response<Vec<u8>>, HttpError> {
    wire::fault_reply(
        fault,
        RateHeaders::RetryAfter,
        |status, fault| match fault {
            Fault::RateLimited { .. } => error(status, "RATE_LIMITED", "Rate limit exceeded."),
            Fault::Unavailable | Fault::Overloaded { .. } => {
                error(status, "OPERATION_FAILED", "Service unavailable.")
            }
            _ => error(status, "OPERATION_FAILED", "Injected failure."),
        },
    )
}

fn user_not_found(name: &str) -> Response<Vec<u8>> {
    error(
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
        &format!("User <{name}> does not exist"),
    )
}

fn group_not_found(name: &str) -> Response<Vec<u8>> {
    error(
        StatusCode::NOT_FOUND,
        "GROUP_NOT_FOUND",
        &format!("Group <{name}> does not exist"),
    )
}

fn route(state: &mut State, method: &Method, path: &str, call: &Call<'_>) -> Handled {
    match (method.as_str(), path) {
        ("GET", "/user") => {
            let user = state.user(call.param("username"))?;
            Ok(respond(
                StatusCode::OK,
                &user_json(user, call.expand("attributes")),
            ))
        }
        ("POST", "/user") => create_user(state, call),
        ("PUT", "/user") => replace_user(state, call),
        ("POST", "/user/rename") => rename_user(state, call),
        ("DELETE", "/user") => {
            let key = state.user(call.param("username"))?.name.to_lowercase();
            state.users.remove(&key);
            state.passwords.remove(&key);
            for g in state.groups.values_mut() {
                g.members.remove(&key);
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ("PUT", "/user/password") => {
            let key = state.user(call.param("username"))?.name.to_lowercase();
            let body = call.json()?;
            let password = body.get("value").and_then(Value::as_str).unwrap_or("");
            if password.chars().count() < 4 {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_CREDENTIAL",
                    "The password does not meet the directory's complexity requirements",
                ));
            }
            state.passwords.insert(key, password_hash(password));
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ("GET", "/user/attribute") => {
            let user = state.user(call.param("username"))?;
            let attributes: Vec<Value> = user
                .attributes
                .iter()
                .map(|(n, v)| json!({"name": n, "values": v}))
                .collect();
            Ok(respond(
                StatusCode::OK,
                &json!({ "attributes": attributes }),
            ))
        }
        ("POST", "/user/attribute") => set_attributes(state, call),
        ("GET", "/user/group/direct") => {
            // An unknown user is in no group: 200 and an empty list [V].
            let key = call.param("username").to_lowercase();
            let groups = call.window(
                state
                    .groups
                    .values()
                    .filter(|g| g.members.contains(&key))
                    .map(|g| json!({"name": g.name})),
            );
            Ok(respond(StatusCode::OK, &json!({ "groups": groups })))
        }
        ("GET", "/group") => {
            let g = state.group(call.param("groupname"))?;
            Ok(respond(StatusCode::OK, &group_json(g)))
        }
        ("POST", "/group") => {
            let body = call.json()?;
            let name = body
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim();
            if name.is_empty() {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_GROUP",
                    "A group name is required",
                ));
            }
            if state.groups.contains_key(&name.to_lowercase()) {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_GROUP",
                    &format!("Group <{name}> already exists"),
                ));
            }
            state.groups.insert(
                name.to_lowercase(),
                Group {
                    name: name.to_owned(),
                    members: BTreeSet::new(),
                },
            );
            Ok(empty(StatusCode::CREATED))
        }
        ("DELETE", "/group") => {
            let key = state.group(call.param("groupname"))?.name.to_lowercase();
            state.groups.remove(&key);
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ("GET", "/group/user/direct") => {
            let g = state.group(call.param("groupname"))?;
            let expand = call.expand("user");
            let users = call.window(
                g.members
                    .iter()
                    .filter_map(|m| state.users.get(m))
                    .map(|u| {
                        if expand {
                            user_json(u, call.expand("attributes"))
                        } else {
                            json!({"name": u.name})
                        }
                    }),
            );
            Ok(respond(StatusCode::OK, &json!({ "users": users })))
        }
        ("POST", "/group/user/direct") => add_member(state, call),
        ("DELETE", "/group/user/direct") => {
            let group = call.param("groupname");
            let gkey = state.group(group)?.name.to_lowercase();
            let ukey = state.user(call.param("username"))?.name.to_lowercase();
            let removed = state
                .groups
                .get_mut(&gkey)
                .is_some_and(|g| g.members.remove(&ukey));
            if removed {
                Ok(empty(StatusCode::NO_CONTENT))
            } else {
                Err(error(
                    StatusCode::NOT_FOUND,
                    "MEMBERSHIP_NOT_FOUND",
                    &format!("{} is not a member of {group}", call.param("username")),
                ))
            }
        }
        ("GET", "/search") => Ok(search(state, call)),
        _ => Err(error(
            StatusCode::NOT_FOUND,
            "ILLEGAL_ARGUMENT",
            "not a simulated Crowd resource",
        )),
    }
}

impl State {
    fn user(&self, name: &str) -> Result<&CrowdSimUser, Response<Vec<u8>>> {
        self.users
            .get(&name.to_lowercase())
            .ok_or_else(|| user_not_found(name))
    }

    fn group(&self, name: &str) -> Result<&Group, Response<Vec<u8>>> {
        self.groups
            .get(&name.to_lowercase())
            .ok_or_else(|| group_not_found(name))
    }
}

/// A user as Crowd answers it; with `attributes` (`expand=attributes`), its attributes as
/// `{"attributes": {"attributes": [{name, values}]}}` \[K\].
fn user_json(u: &CrowdSimUser, attributes: bool) -> Value {
    let mut json = json!({
        "name": u.name,
        "first-name": u.first_name,
        "last-name": u.last_name,
        "display-name": u.display_name,
        "email": u.email,
        "active": u.active,
    });
    if let Some(obj) = json.as_object_mut().filter(|_| attributes) {
        let list: Vec<Value> = u
            .attributes
            .iter()
            .map(|(n, v)| json!({"name": n, "values": v}))
            .collect();
        obj.insert("attributes".to_owned(), json!({ "attributes": list }));
    }
    json
}

fn group_json(g: &Group) -> Value {
    json!({"name": g.name, "type": "GROUP", "active": true, "description": ""})
}

fn text(body: &Value, field: &str) -> String {
    body.get(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The user a `POST` or `PUT` body describes: every field from the body, none kept.
fn user_from(body: &Value) -> CrowdSimUser {
    CrowdSimUser {
        name: text(body, "name"),
        first_name: text(body, "first-name"),
        last_name: text(body, "last-name"),
        display_name: text(body, "display-name"),
        email: text(body, "email"),
        active: body.get("active").and_then(Value::as_bool).unwrap_or(false),
        attributes: BTreeMap::new(),
    }
}

fn create_user(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let user = user_from(&body);
    let password = body
        .get("password")
        .and_then(|p| p.get("value"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if user.name.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_USER",
            "A user name is required",
        ));
    }
    if password.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_CREDENTIAL",
            "A password is required",
        ));
    }
    let key = user.name.to_lowercase();
    if state.users.contains_key(&key) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_USER",
            &format!("User <{}> already exists", user.name),
        ));
    }
    state.passwords.insert(key.clone(), password_hash(password));
    state.users.insert(key, user);
    Ok(empty(StatusCode::CREATED))
}

/// `PUT /user`: the whole record replaced (attributes and password stay).
fn replace_user(state: &mut State, call: &Call<'_>) -> Handled {
    let name = call.param("username");
    let existing = state.user(name)?.clone();
    let body = call.json()?;
    let mut user = user_from(&body);
    if !user.name.eq_ignore_ascii_case(&existing.name) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "ILLEGAL_ARGUMENT",
            "The user name in the body must be the user's; renames go through /user/rename",
        ));
    }
    user.attributes = existing.attributes;
    state.users.insert(existing.name.to_lowercase(), user);
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /user/rename` `{"new-name"}` \[K\]: the user keeps its attributes, password and
/// memberships under the new name.
fn rename_user(state: &mut State, call: &Call<'_>) -> Handled {
    let old = state.user(call.param("username"))?.name.to_lowercase();
    let body = call.json()?;
    let new_name = text(&body, "new-name");
    if new_name.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_USER",
            "A new name is required",
        ));
    }
    let new = new_name.to_lowercase();
    if new != old && state.users.contains_key(&new) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_USER",
            &format!("User <{new_name}> already exists"),
        ));
    }
    let Some(mut user) = state.users.remove(&old) else {
        return Err(user_not_found(&old));
    };
    user.name.clone_from(&new_name);
    let json = user_json(&user, false);
    state.users.insert(new.clone(), user);
    if let Some(p) = state.passwords.remove(&old) {
        state.passwords.insert(new.clone(), p);
    }
    for g in state.groups.values_mut() {
        if g.members.remove(&old) {
            g.members.insert(new.clone());
        }
    }
    Ok(respond(StatusCode::OK, &json))
}

fn set_attributes(state: &mut State, call: &Call<'_>) -> Handled {
    let key = state.user(call.param("username"))?.name.to_lowercase();
    let body = call.json()?;
    let mut set = Vec::new();
    for attr in body
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = text(attr, "name");
        let values: BTreeSet<String> = attr
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if name.is_empty() || values.iter().any(|v| v.chars().count() > ATTRIBUTE_MAX) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "ILLEGAL_ARGUMENT",
                &format!(
                    "attribute {name:?}: a name, and values of at most {ATTRIBUTE_MAX} characters"
                ),
            ));
        }
        set.push((name, values));
    }
    if let Some(user) = state.users.get_mut(&key) {
        user.attributes.extend(set);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

fn add_member(state: &mut State, call: &Call<'_>) -> Handled {
    let group = call.param("groupname");
    let gkey = state.group(group)?.name.to_lowercase();
    let body = call.json()?;
    let name = text(&body, "name");
    // [K] Crowd answers an unknown user here with 400, not 404.
    let ukey = match state.user(&name) {
        Ok(u) => u.name.to_lowercase(),
        Err(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "USER_NOT_FOUND",
                &format!("User <{name}> does not exist"),
            ));
        }
    };
    let added = state
        .groups
        .get_mut(&gkey)
        .is_some_and(|g| g.members.insert(ukey));
    if added {
        Ok(empty(StatusCode::CREATED))
    } else {
        Err(error(
            StatusCode::CONFLICT,
            "MEMBERSHIP_ALREADY_EXISTS",
            &format!("{name} is already a member of {group}"),
        ))
    }
}

fn search(state: &State, call: &Call<'_>) -> Response<Vec<u8>> {
    if call.param("entity-type") == "group" {
        let groups = call.window(state.groups.values().map(|g| {
            if call.expand("group") {
                group_json(g)
            } else {
                json!({"name": g.name})
            }
        }));
        return respond(StatusCode::OK, &json!({ "groups": groups }));
    }
    let restriction = match call.query.get("restriction") {
        Some(text) => match parse_restriction(text) {
            Some(r) => Some(r),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ILLEGAL_ARGUMENT",
                    &format!("cannot parse the restriction {text:?}"),
                );
            }
        },
        None => None,
    };
    let matching = state.users.values().filter(|u| {
        restriction
            .as_ref()
            .is_none_or(|(attr, value)| match attr.as_str() {
                "name" => u.name.eq_ignore_ascii_case(value),
                "email" => u.email.eq_ignore_ascii_case(value),
                other => u.attributes.get(other).is_some_and(|v| v.contains(value)),
            })
    });
    let users = call.window(matching.map(|u| {
        if call.expand("user") {
            user_json(u, call.expand("attributes"))
        } else {
            json!({"name": u.name})
        }
    }));
    respond(StatusCode::OK, &json!({ "users": users }))
}

/// `<attribute> = "<value>"` (with `\\` and `\"` escapes): the one restriction form the
/// simulator understands.
fn parse_restriction(text: &str) -> Option<(String, String)> {
    let (attr, rest) = text.split_once('=')?;
    let rest = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            value.push(chars.next()?);
        } else if c == '"' {
            return None;
        } else {
            value.push(c);
        }
    }
    Some((attr.trim().to_owned(), value))
}
