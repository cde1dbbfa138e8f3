//! [`BitbucketSimulator`]: Bitbucket Data Center's user, group and global-permission
//! administration (REST API 1.0) in memory.

// Handlers answer errors as ready responses (`Err(response)`); their size is no concern in a
// test double, and boxing them would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::{HttpClient, HttpError};
use serde_json::{Value, json};

use super::wire::{self, RateHeaders, Window};
use super::{CallLog, Fault, empty, respond};
use scim_provisioning::Credentials;

/// The API roots Bitbucket answers on (`latest` is an alias of the current version).
const ROOTS: [&str; 2] = ["/rest/api/1.0", "/rest/api/latest"];
/// Bitbucket's page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 25;
/// The largest `limit` honoured by default (reported, not documented: \[K\]).
const PAGE_CAP: usize = 1000;
/// The permissions that let a holder log in, lowest first.
const PERMISSIONS: [&str; 4] = ["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"];

type Reply = Response<Vec<u8>>;
type Handled = Result<Reply, Reply>;

/// A Bitbucket user as the simulator stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimBitbucketUser {
    /// The numeric id (kept across renames).
    pub id: u64,
    /// The user name (unique ignoring case).
    pub name: String,
    /// The URL-safe form of the name.
    pub slug: String,
    /// `displayName`.
    pub display_name: String,
    /// `emailAddress`.
    pub email: String,
    /// `lastAuthenticationTimestamp` (milliseconds since 1970), as
    /// [`BitbucketSimulator::set_last_login`] set it; `None`: never authenticated.
    pub last_authentication: Option<i64>,
}

#[derive(Debug)]
struct Group {
    name: String,
    /// Member ids.
    members: BTreeSet<u64>,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<u64, SimBitbucketUser>,
    next_id: u64,
    /// Groups by lower-cased name: names are unique ignoring case.
    groups: BTreeMap<String, Group>,
    /// Global permission per group (lower-cased name).
    group_permissions: BTreeMap<String, &'static str>,
    /// Global permission granted to a user directly.
    user_permissions: BTreeMap<u64, &'static str>,
    /// A hash per user id (a simulator has no need to keep the text).
    passwords: HashMap<u64, u64>,
    default_group: Option<String>,
    license_limit: Option<usize>,
    /// User settings (`/users/{slug}/settings`) per user id.
    settings: HashMap<u64, serde_json::Map<String, Value>>,
    log: CallLog,
}

/// Bitbucket Data Center's admin REST API (`/rest/api/1.0/admin`, also under `/latest`) as an
/// in-process [`HttpClient`]. What it does, as Bitbucket does (ATLASSIAN.md, and Atlassian's
/// published API description):
/// - Users: numeric `id` kept across renames; names unique ignoring case; `POST /admin/users`
///   takes query parameters only, needs `name`, `displayName`, a valid `emailAddress` and a
///   `password` unless `notify` (which needs a mail server, see
///   [`BitbucketSimulator::set_mail_server`]) and answers 204; a taken name is 409;
///   `addToDefaultGroup` (default true) adds the default group (`stash-users`, holding
///   `LICENSED_USER`). `PUT /admin/users` `{name, displayName?, email?}` leaves out what is
///   not sent; `POST /admin/users/rename` `{name, newName}`; `PUT /admin/users/credentials`;
///   `DELETE /admin/users?name=` answers the deleted user and drops memberships and
///   permissions. `GET /admin/users` carries `lastAuthenticationTimestamp` (milliseconds)
///   for users who authenticated ([`BitbucketSimulator::set_last_login`]), and leaves it out
///   for those who never did.
/// - Groups: `POST`/`DELETE /admin/groups?name=` (409 on a taken name), memberships through
///   `POST /admin/users/add-groups` `{user, groups}`, `/admin/groups/add-users`
///   `{group, users}` (all or nothing: one unknown name and nothing changes, 404),
///   `/admin/users/remove-group` `{context: user, itemName: group}` and
///   `/admin/groups/remove-user` `{context: group, itemName: user}`. Adding an existing
///   membership or removing a missing one changes nothing and succeeds \[K\].
/// - Listings (`/admin/users`, `/admin/groups`, `more-members` both ways,
///   `/admin/permissions/groups` and `/users`) page with `start`/`limit` (default 25, capped at
///   1,000 \[K\], see [`BitbucketSimulator::set_page_cap`]) as
///   `{size, limit, isLastPage, values, start, nextPageStart}`, sorted by name, with
///   `filter` matching part of a name (users: also display name and email), ignoring case.
///   `more-members` of an unknown group or user is 404 \[K\].
/// - Global permissions: every one of `LICENSED_USER`, `PROJECT_CREATE`, `ADMIN`, `SYS_ADMIN`
///   lets its holder log in and takes a licence seat; a licence limit
///   ([`BitbucketSimulator::set_license_limit`]) makes grants past it fail with 403.
///   `DELETE /admin/permissions/users?name=` revokes a user's direct permissions.
/// - `GET /users/{slug}`; `GET`/`POST /users/{slug}/settings`: a map of settings kept per
///   user (across renames), which a `POST` merges into (a `null` value removes the key) and
///   answers 204 \[K\].
/// - Errors as `{"errors": [{"context", "message", "exceptionName"}]}`; 401 without the
///   expected credentials.
/// - Every call counted by method and path ([`BitbucketSimulator::calls`]); faults injected
///   with [`BitbucketSimulator::fail_next`] and [`BitbucketSimulator::fail_call`].
#[derive(Debug)]
pub struct BitbucketSimulator {
    state: Mutex<State>,
    credentials: Credentials,
    page_cap: AtomicUsize,
    mail_server: AtomicBool,
    admin: AtomicBool,
    require_email: AtomicBool,
}

impl BitbucketSimulator {
    /// A Bitbucket with one group, `stash-users`, holding `LICENSED_USER` and set as the
    /// default group, accepting only `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        let mut state = State {
            next_id: 1,
            ..State::default()
        };
        state.groups.insert(
            "stash-users".to_owned(),
            Group {
                name: "stash-users".to_owned(),
                members: BTreeSet::new(),
            },
        );
        state
            .group_permissions
            .insert("stash-users".to_owned(), "LICENSED_USER");
        state.default_group = Some("stash-users".to_owned());
        BitbucketSimulator {
            state: Mutex::new(state),
            credentials,
            page_cap: AtomicUsize::new(PAGE_CAP),
            mail_server: AtomicBool::new(false),
            admin: AtomicBool::new(true),
            require_email: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every handler checks before it writes, so a panic cannot leave a half-applied change.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The largest `limit` a listing honours (1,000 by default).
    pub fn set_page_cap(&self, cap: usize) {
        self.page_cap.store(cap.max(1), Ordering::Relaxed);
    }

    /// Whether a mail server is configured, which `notify` needs (false by default).
    pub fn set_mail_server(&self, configured: bool) {
        self.mail_server.store(configured, Ordering::Relaxed);
    }

    /// Whether `POST /admin/users` requires `emailAddress` (true, as Bitbucket does); off, a
    /// user may be created without one (for suites whose users have none).
    pub fn require_email(&self, required: bool) {
        self.require_email.store(required, Ordering::Relaxed);
    }

    /// Whether the credentials' user holds the `ADMIN` global permission (true by default):
    /// without it every `/admin` resource answers 401, as Bitbucket does.
    pub fn set_admin(&self, admin: bool) {
        self.admin.store(admin, Ordering::Relaxed);
    }

    /// The most users that may hold a global permission (`None`, the default: no limit).
    pub fn set_license_limit(&self, limit: Option<usize>) {
        self.lock().license_limit = limit;
    }

    /// The group `addToDefaultGroup` adds new users to (`stash-users` by default).
    pub fn set_default_group(&self, group: Option<&str>) {
        self.lock().default_group = group.map(str::to_lowercase);
    }

    call_log_methods!();

    /// Requests other than `GET`.
    pub fn write_calls(&self) -> usize {
        self.lock().log.writes()
    }

    /// The `nth` (1-based) next request with `method` to `path` gets `fault`.
    pub fn fail_call(&self, method: &str, path: &str, nth: usize, fault: Fault) {
        self.lock().log.fail_call(method, path, nth, fault);
    }

    /// Adds a user directly (as an administrator would in the UI), in no group; returns its id.
    pub fn add_user(&self, name: &str, display_name: &str, email: &str) -> u64 {
        self.lock().insert_user(name, display_name, email)
    }

    /// Sets when user `name` last authenticated (`None`: never), which `GET /admin/users`
    /// reports as `lastAuthenticationTimestamp`; false when there is no such user.
    pub fn set_last_login(&self, name: &str, at: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        let mut state = self.lock();
        let lower = name.to_lowercase();
        let Some(user) = state
            .users
            .values_mut()
            .find(|u| u.name.to_lowercase() == lower)
        else {
            return false;
        };
        user.last_authentication = at.map(|t| t.timestamp_millis());
        true
    }

    /// Adds an empty group; false when the name is taken.
    pub fn add_group(&self, name: &str) -> bool {
        let mut state = self.lock();
        let lower = name.to_lowercase();
        if state.groups.contains_key(&lower) {
            return false;
        }
        state.groups.insert(
            lower,
            Group {
                name: name.to_owned(),
                members: BTreeSet::new(),
            },
        );
        true
    }

    /// Grants `group` the global `permission`; false for an unknown group or permission.
    pub fn grant_group(&self, group: &str, permission: &str) -> bool {
        let mut state = self.lock();
        let lower = group.to_lowercase();
        match (
            state.groups.contains_key(&lower),
            permission_name(permission),
        ) {
            (true, Some(p)) => {
                state.group_permissions.insert(lower, p);
                true
            }
            _ => false,
        }
    }

    /// Grants the user `name` the global `permission` directly; false when either is unknown.
    pub fn grant_user(&self, name: &str, permission: &str) -> bool {
        let mut state = self.lock();
        match (
            state.by_name(name).map(|u| u.id),
            permission_name(permission),
        ) {
            (Some(id), Some(p)) => {
                state.user_permissions.insert(id, p);
                true
            }
            _ => false,
        }
    }

    /// Adds the user `name` to `group` directly; false when either is unknown.
    pub fn add_member(&self, group: &str, name: &str) -> bool {
        let mut state = self.lock();
        let Some(id) = state.by_name(name).map(|u| u.id) else {
            return false;
        };
        state
            .groups
            .get_mut(&group.to_lowercase())
            .is_some_and(|g| {
                g.members.insert(id);
                true
            })
    }

    /// Renames a user directly (as an administrator would, outside any client's knowledge);
    /// false when `old` is unknown or `new` is taken.
    pub fn rename(&self, old: &str, new: &str) -> bool {
        let mut state = self.lock();
        let Some(id) = state.by_name(old).map(|u| u.id) else {
            return false;
        };
        if state.by_name(new).is_some_and(|u| u.id != id) {
            return false;
        }
        if let Some(u) = state.users.get_mut(&id) {
            new.clone_into(&mut u.name);
            u.slug = slug(new);
        }
        true
    }

    /// The user named `name` (ignoring case).
    pub fn user(&self, name: &str) -> Option<SimBitbucketUser> {
        self.lock().by_name(name).cloned()
    }

    /// How many users exist.
    pub fn user_count(&self) -> usize {
        self.lock().users.len()
    }

    /// The names of every group, sorted ignoring case.
    pub fn group_names(&self) -> Vec<String> {
        self.lock()
            .groups
            .values()
            .map(|g| g.name.clone())
            .collect()
    }

    /// The names of the members of `group`, sorted, or `None` when it does not exist.
    pub fn group_members(&self, group: &str) -> Option<Vec<String>> {
        let state = self.lock();
        let g = state.groups.get(&group.to_lowercase())?;
        let mut names: Vec<String> = g
            .members
            .iter()
            .filter_map(|id| state.users.get(id).map(|u| u.name.clone()))
            .collect();
        names.sort_by_key(|n| n.to_lowercase());
        Some(names)
    }

    /// The names of the groups the user `name` belongs to, sorted.
    pub fn groups_of(&self, name: &str) -> Vec<String> {
        let state = self.lock();
        state
            .by_name(name)
            .map(|u| {
                state
                    .groups_of(u.id)
                    .into_iter()
                    .map(|g| g.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The user setting `key` of user `name`, as text (`/users/{slug}/settings`).
    pub fn user_setting(&self, name: &str, key: &str) -> Option<String> {
        let state = self.lock();
        let id = state.by_name(name)?.id;
        let value = state.settings.get(&id)?.get(key)?;
        Some(
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        )
    }

    /// Whether the user `name` holds any global permission (through a group or directly),
    /// that is, may log in.
    pub fn can_log_in(&self, name: &str) -> bool {
        let state = self.lock();
        state.by_name(name).is_some_and(|u| state.licensed(u.id))
    }

    /// The global permission granted to the user `name` directly.
    pub fn direct_permission(&self, name: &str) -> Option<&'static str> {
        let state = self.lock();
        let id = state.by_name(name)?.id;
        state.user_permissions.get(&id).copied()
    }

    /// Whether the user `name` has the password `password`.
    pub fn password_is(&self, name: &str, password: &str) -> bool {
        let state = self.lock();
        state
            .by_name(name)
            .and_then(|u| state.passwords.get(&u.id))
            .is_some_and(|h| *h == password_hash(password))
    }
}

/// Splits `/rest/api/1.0/admin/users` into the base URL before the root and the path after.
fn split_path(uri: &http::Uri) -> (String, String) {
    let full = uri.path();
    for root in ROOTS {
        if let Some(at) = full.find(root) {
            let base = format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or("http"),
                uri.authority().map_or("bitbucket", |a| a.as_str()),
                full.get(..at).unwrap_or("")
            );
            return (base, full.get(at + root.len()..).unwrap_or("").to_owned());
        }
    }
    (String::new(), full.to_owned())
}

#[async_trait]
impl HttpClient for BitbucketSimulator {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Reply, HttpError> {
        super::serve_with_faults(
            request,
            |r| std::future::ready(self.serve(&r)),
            fault_response,
        )
        .await
    }
}

impl BitbucketSimulator {
    /// Answers `request` (or the fault injected in its place).
    fn serve(&self, request: &Request<Vec<u8>>) -> Result<Reply, HttpError> {
        let uri = request.uri().clone();
        let (base, path) = split_path(&uri);
        let method = request.method().clone();
        let mut state = self.lock();
        state.log.record(&method, &path);
        if let Some(fault) =
            super::before_serving(request.extensions(), state.log.fault_for(&method, &path))
        {
            return fault_response(&fault);
        }
        if !wire::authorized(request, &self.credentials) {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                None,
                "Authentication failed. Please check your credentials and try again.",
                "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
            ));
        }
        if path.starts_with("/admin/") && !self.admin.load(Ordering::Relaxed) {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                None,
                "You are not permitted to access this resource",
                "com.atlassian.bitbucket.AuthorisationException",
            ));
        }
        let query = wire::query_first_wins(&uri);
        let call = Call {
            base: &base,
            query: &query,
            body: request.body(),
            page_cap: self.page_cap.load(Ordering::Relaxed),
            mail_server: self.mail_server.load(Ordering::Relaxed),
            require_email: self.require_email.load(Ordering::Relaxed),
        };
        Ok(route(&mut state, &method, &path, &call).unwrap_or_else(|r| r))
    }
}

struct Call<'a> {
    base: &'a str,
    query: &'a HashMap<String, String>,
    body: &'a [u8],
    page_cap: usize,
    mail_server: bool,
    require_email: bool,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn json(&self) -> Result<Value, Reply> {
        serde_json::from_slice(self.body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                None,
                &format!("The request body is not valid JSON: {e}"),
                "com.atlassian.bitbucket.rest.exception.UnmappedRuntimeException",
            )
        })
    }

    /// One page of `items` as Bitbucket pages: `start`, `limit` (capped), `nextPageStart`.
    fn page(&self, items: Vec<Value>) -> Reply {
        let mut window = Window::read(self.query, "start", "limit", DEFAULT_LIMIT, usize::MAX);
        // Bitbucket reads a limit under 1 as 1.
        window.limit = window.limit.clamp(1, self.page_cap.max(1));
        let total = items.len();
        let values = window.take(items);
        let size = values.len();
        let is_last = window.is_last(size, total);
        let mut page = json!({
            "size": size,
            "limit": window.limit,
            "isLastPage": is_last,
            "values": values,
            "start": window.start,
        });
        if !is_last {
            if let Some(obj) = page.as_object_mut() {
                obj.insert("nextPageStart".to_owned(), Value::from(window.start + size));
            }
        }
        respond(StatusCode::OK, &page)
    }

    /// Whether `text` contains the `filter` parameter, ignoring case (no filter: everything).
    fn filter_matches(&self, texts: &[&str]) -> bool {
        match self.param("filter").map(str::to_lowercase) {
            None => true,
            Some(f) if f.is_empty() => true,
            Some(f) => texts.iter().any(|t| t.to_lowercase().contains(&f)),
        }
    }
}

/// A required text field of the JSON body (trimmed), or a 400 naming it.
fn field(body: &Value, name: &str) -> Result<String, Reply> {
    match body.get(name).and_then(Value::as_str).map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(validation(name, &format!("{name} is required."))),
    }
}

fn permission_name(text: &str) -> Option<&'static str> {
    PERMISSIONS.into_iter().find(|p| *p == text)
}

/// Bitbucket's user slug: the name lower-cased, with characters other than letters, digits,
/// `.`, `-` and `_` replaced by `_` \[K\].
fn slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn password_hash(password: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    password.hash(&mut h);
    h.finish()
}

fn fault_response(fault: &Fault) -> Result<Reply, HttpError> {
    wire::fault_reply(fault, RateHeaders::DataCenter, |status, fault| {
        let (message, exception) = match fault {
            Fault::RateLimited { .. } => (
                "You have been rate limited. Please try again later.",
                "com.atlassian.bitbucket.throttle.ThrottledException",
            ),
            Fault::Unavailable | Fault::Overloaded { .. } => (
                "Bitbucket is unavailable.",
                "com.atlassian.bitbucket.ServiceUnavailableException",
            ),
            _ => (
                "Injected failure.",
                "com.atlassian.bitbucket.ServiceException",
            ),
        };
        error(status, None, message, exception)
    })
}

/// Bitbucket's error body: `{"errors": [{"context", "message", "exceptionName"}]}`.
fn error(status: StatusCode, context: Option<&str>, message: &str, exception: &str) -> Reply {
    respond(
        status,
        &json!({"errors": [{"context": context, "message": message, "exceptionName": exception}]}),
    )
}

fn validation(field: &str, message: &str) -> Reply {
    error(
        StatusCode::BAD_REQUEST,
        Some(field),
        message,
        "com.atlassian.bitbucket.validation.ArgumentValidationException",
    )
}

fn no_user(name: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        None,
        &format!("User {name} does not exist."),
        "com.atlassian.bitbucket.user.NoSuchUserException",
    )
}

fn no_group(name: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        None,
        &format!("Group {name} does not exist."),
        "com.atlassian.bitbucket.user.NoSuchGroupException",
    )
}

/// `GET /admin/license` \[V\]: the limit set with
/// [`BitbucketSimulator::set_license_limit`] and the users holding a global permission.
fn license(state: &State) -> Reply {
    let licensed = state.users.keys().filter(|id| state.licensed(**id)).count();
    respond(
        StatusCode::OK,
        &json!({
            "maximumNumberOfUsers": state.license_limit.unwrap_or(0),
            "unlimitedNumberOfUsers": state.license_limit.is_none(),
            "status": {"currentNumberOfUsers": licensed},
        }),
    )
}

fn route(state: &mut State, method: &Method, path: &str, call: &Call<'_>) -> Handled {
    match (method.as_str(), path) {
        ("GET", "/admin/users") => Ok(list_users(state, call)),
        ("GET", "/admin/license") => Ok(license(state)),
        ("POST", "/admin/users") => create_user(state, call),
        ("PUT", "/admin/users") => update_user(state, call),
        ("DELETE", "/admin/users") => delete_user(state, call),
        ("POST", "/admin/users/rename") => rename_user(state, call),
        ("PUT", "/admin/users/credentials") => set_password(state, call),
        ("GET", "/admin/users/more-members") => user_groups(state, call),
        ("POST", "/admin/users/add-groups") => {
            let body = call.json()?;
            let user = field(&body, "user")?;
            add_memberships(state, &[user], &names(&body, "groups"))
        }
        ("POST", "/admin/groups/add-users") => {
            let body = call.json()?;
            let group = field(&body, "group")?;
            add_memberships(state, &names(&body, "users"), &[group])
        }
        ("POST", "/admin/users/remove-group") => {
            let body = call.json()?;
            let user = field(&body, "context")?;
            let group = field(&body, "itemName")?;
            remove_membership(state, &user, &group)
        }
        ("POST", "/admin/groups/remove-user") => {
            let body = call.json()?;
            let group = field(&body, "context")?;
            let user = field(&body, "itemName")?;
            remove_membership(state, &user, &group)
        }
        ("GET", "/admin/groups") => Ok(list_groups(state, call)),
        ("POST", "/admin/groups") => create_group(state, call),
        ("DELETE", "/admin/groups") => delete_group(state, call),
        ("GET", "/admin/groups/more-members") => group_members(state, call),
        ("GET", "/admin/permissions/groups") => Ok(permitted_groups(state, call)),
        ("GET", "/admin/permissions/users") => Ok(permitted_users(state, call)),
        ("DELETE", "/admin/permissions/users") => revoke_user(state, call),
        ("GET" | "POST", p) if p.starts_with("/users/") && p.ends_with("/settings") => {
            let slug = p
                .get("/users/".len()..p.len() - "/settings".len())
                .unwrap_or("");
            user_settings(state, method, slug, call)
        }
        ("GET", p) if p.starts_with("/users/") => {
            let wanted = p.get("/users/".len()..).unwrap_or("");
            state
                .users
                .values()
                .find(|u| u.slug == wanted)
                .map(|u| respond(StatusCode::OK, &user_json(call.base, u)))
                .ok_or_else(|| no_user(wanted))
        }
        _ => Err(error(
            StatusCode::NOT_FOUND,
            None,
            "Not a simulated Bitbucket resource.",
            "com.sun.jersey.api.NotFoundException",
        )),
    }
}

/// The strings of the array `name` in `body`.
fn names(body: &Value, name: &str) -> Vec<String> {
    body.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl State {
    fn by_name(&self, name: &str) -> Option<&SimBitbucketUser> {
        let lower = name.to_lowercase();
        self.users.values().find(|u| u.name.to_lowercase() == lower)
    }

    fn user_id(&self, name: &str) -> Result<u64, Reply> {
        self.by_name(name)
            .map(|u| u.id)
            .ok_or_else(|| no_user(name))
    }

    fn group_key(&self, name: &str) -> Result<String, Reply> {
        let lower = name.to_lowercase();
        if self.groups.contains_key(&lower) {
            Ok(lower)
        } else {
            Err(no_group(name))
        }
    }

    fn insert_user(&mut self, name: &str, display_name: &str, email: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.users.insert(
            id,
            SimBitbucketUser {
                id,
                name: name.to_owned(),
                slug: slug(name),
                display_name: display_name.to_owned(),
                email: email.to_owned(),
                last_authentication: None,
            },
        );
        id
    }

    fn groups_of(&self, id: u64) -> Vec<&Group> {
        self.groups
            .values()
            .filter(|g| g.members.contains(&id))
            .collect()
    }

    /// Whether the user holds a global permission, through a group or directly.
    fn licensed(&self, id: u64) -> bool {
        self.user_permissions.contains_key(&id)
            || self
                .groups
                .iter()
                .any(|(key, g)| g.members.contains(&id) && self.group_permissions.contains_key(key))
    }

    /// 403 when making the users `extra` licensed would pass the licence limit.
    fn check_license(&self, extra: &BTreeSet<u64>) -> Result<(), Reply> {
        self.check_license_seats(extra.iter().filter(|id| !self.licensed(**id)).count())
    }

    /// 403 when `added` more licensed users would pass the licence limit.
    fn check_license_seats(&self, added: usize) -> Result<(), Reply> {
        let Some(limit) = self.license_limit else {
            return Ok(());
        };
        let licensed = self.users.keys().filter(|id| self.licensed(**id)).count();
        if licensed + added > limit {
            return Err(error(
                StatusCode::FORBIDDEN,
                None,
                &format!(
                    "This change would exceed the licensed user limit of {limit}: remove \
                     licensed users or upgrade the licence."
                ),
                "com.atlassian.bitbucket.license.LicenseLimitException",
            ));
        }
        Ok(())
    }

    fn sorted_users(&self) -> Vec<&SimBitbucketUser> {
        let mut users: Vec<&SimBitbucketUser> = self.users.values().collect();
        users.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        users
    }
}

fn user_json(base: &str, u: &SimBitbucketUser) -> Value {
    let mut user = json!({
        "name": u.name,
        "emailAddress": u.email,
        "id": u.id,
        "displayName": u.display_name,
        "active": true,
        "slug": u.slug,
        "type": "NORMAL",
        "directoryName": "Bitbucket Internal Directory",
        "deletable": true,
        "mutableDetails": true,
        "mutableGroups": true,
        "links": {"self": [{"href": format!("{base}/users/{}", u.slug)}]},
    });
    // Bitbucket leaves the field out for users who never authenticated.
    if let (Some(ms), Some(obj)) = (u.last_authentication, user.as_object_mut()) {
        obj.insert("lastAuthenticationTimestamp".to_owned(), json!(ms));
    }
    user
}

fn group_json(g: &Group) -> Value {
    json!({"name": g.name, "deletable": true})
}

fn list_users(state: &State, call: &Call<'_>) -> Reply {
    let items = state
        .sorted_users()
        .into_iter()
        .filter(|u| call.filter_matches(&[&u.name, &u.display_name, &u.email]))
        .map(|u| user_json(call.base, u))
        .collect();
    call.page(items)
}

/// Bitbucket refuses user names that are blank, over 255 characters, or hold characters a
/// URL or a directory cannot take \[K\].
fn check_user_name(name: &str) -> Result<(), Reply> {
    if name.chars().count() > 255
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"' | '<' | '>'))
    {
        return Err(validation(
            "name",
            "The username may not contain / \\ \" < > or control characters, nor exceed 255 characters.",
        ));
    }
    Ok(())
}

fn check_email(email: &str, field: &str) -> Result<(), Reply> {
    let mut parts = email.splitn(2, '@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if local.is_empty() || domain.is_empty() || email.chars().any(char::is_whitespace) {
        return Err(validation(
            field,
            &format!("'{email}' is not a valid e-mail address."),
        ));
    }
    Ok(())
}

fn create_user(state: &mut State, call: &Call<'_>) -> Handled {
    let text = |name: &str| call.param(name).map_or("", str::trim);
    let (name, display, email) = (text("name"), text("displayName"), text("emailAddress"));
    let notify = call.param("notify").is_some_and(|v| v != "false");
    for (field, value) in [
        ("name", name),
        ("displayName", display),
        ("emailAddress", email),
    ] {
        if value.is_empty() && (field != "emailAddress" || call.require_email) {
            return Err(validation(field, &format!("{field} is required.")));
        }
    }
    check_user_name(name)?;
    if !email.is_empty() {
        check_email(email, "emailAddress")?;
    }
    let password = call.param("password").filter(|p| !p.is_empty());
    if password.is_none() && !notify {
        return Err(validation(
            "password",
            "A password is required unless the user is notified to set one.",
        ));
    }
    if notify && !call.mail_server {
        return Err(validation(
            "notify",
            "Users can only be notified when a mail server is configured.",
        ));
    }
    if state.by_name(name).is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            None,
            &format!("A user with the name '{name}' already exists."),
            "com.atlassian.bitbucket.user.DuplicateUserException",
        ));
    }
    let to_default = call.param("addToDefaultGroup") != Some("false");
    let default = match (&state.default_group, to_default) {
        (Some(g), true) if state.groups.contains_key(g) => Some(g.clone()),
        _ => None,
    };
    if let Some(g) = &default {
        // The new user is not stored yet: one more seat.
        if state.group_permissions.contains_key(g) {
            state.check_license_seats(1)?;
        }
    }
    let id = state.insert_user(name, display, email);
    if let Some(p) = password {
        state.passwords.insert(id, password_hash(p));
    }
    if let Some(g) = default.and_then(|g| state.groups.get_mut(&g)) {
        g.members.insert(id);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

fn update_user(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let name = field(&body, "name")?;
    let id = state.user_id(&name)?;
    let display = body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim);
    let email = body.get("email").and_then(Value::as_str).map(str::trim);
    if display.is_some_and(str::is_empty) {
        return Err(validation("displayName", "displayName may not be blank."));
    }
    if let Some(e) = email {
        check_email(e, "email")?;
    }
    if let Some(u) = state.users.get_mut(&id) {
        if let Some(d) = display {
            d.clone_into(&mut u.display_name);
        }
        if let Some(e) = email {
            e.clone_into(&mut u.email);
        }
    }
    let u = state.users.get(&id).ok_or_else(|| no_user(&name))?;
    Ok(respond(StatusCode::OK, &user_json(call.base, u)))
}

fn rename_user(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let name = field(&body, "name")?;
    let new_name = field(&body, "newName")?;
    let id = state.user_id(&name)?;
    check_user_name(&new_name)?;
    // [K] A taken name is refused as a malformed request: the API lists no 409 for renames.
    if state.by_name(&new_name).is_some_and(|u| u.id != id) {
        return Err(validation(
            "newName",
            &format!("A user with the name '{new_name}' already exists."),
        ));
    }
    if let Some(u) = state.users.get_mut(&id) {
        u.slug = slug(&new_name);
        u.name = new_name;
    }
    let u = state.users.get(&id).ok_or_else(|| no_user(&name))?;
    Ok(respond(StatusCode::OK, &user_json(call.base, u)))
}

fn set_password(state: &mut State, call: &Call<'_>) -> Handled {
    let body = call.json()?;
    let name = field(&body, "name")?;
    let password = field(&body, "password")?;
    if body.get("passwordConfirm").and_then(Value::as_str) != Some(password.as_str()) {
        return Err(validation(
            "passwordConfirm",
            "The password and its confirmation do not match.",
        ));
    }
    let id = state.user_id(&name)?;
    state.passwords.insert(id, password_hash(&password));
    Ok(empty(StatusCode::NO_CONTENT))
}

fn delete_user(state: &mut State, call: &Call<'_>) -> Handled {
    let name = call.param("name").unwrap_or("").trim();
    if name.is_empty() {
        return Err(validation("name", "name is required."));
    }
    let id = state.user_id(name)?;
    let json = state
        .users
        .get(&id)
        .map(|u| user_json(call.base, u))
        .ok_or_else(|| no_user(name))?;
    state.users.remove(&id);
    for g in state.groups.values_mut() {
        g.members.remove(&id);
    }
    state.user_permissions.remove(&id);
    state.passwords.remove(&id);
    state.settings.remove(&id);
    Ok(respond(StatusCode::OK, &json))
}

/// `GET` answers the user's settings map; `POST` merges a map into it (`null` removes).
fn user_settings(state: &mut State, method: &Method, wanted: &str, call: &Call<'_>) -> Handled {
    let id = state
        .users
        .values()
        .find(|u| u.slug == wanted)
        .map(|u| u.id)
        .ok_or_else(|| no_user(wanted))?;
    if method == Method::GET {
        let map = state.settings.get(&id).cloned().unwrap_or_default();
        return Ok(respond(StatusCode::OK, &Value::Object(map)));
    }
    let Value::Object(changes) = call.json()? else {
        return Err(validation(
            "settings",
            "Expected a JSON object of settings.",
        ));
    };
    let map = state.settings.entry(id).or_default();
    for (k, v) in changes {
        if v.is_null() {
            map.remove(&k);
        } else {
            map.insert(k, v);
        }
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

fn list_groups(state: &State, call: &Call<'_>) -> Reply {
    let items = state
        .groups
        .values()
        .filter(|g| call.filter_matches(&[&g.name]))
        .map(group_json)
        .collect();
    call.page(items)
}

fn create_group(state: &mut State, call: &Call<'_>) -> Handled {
    let name = call.param("name").unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(validation("name", "name is required."));
    }
    let lower = name.to_lowercase();
    if state.groups.contains_key(&lower) {
        return Err(error(
            StatusCode::CONFLICT,
            None,
            &format!("A group named '{name}' already exists."),
            "com.atlassian.bitbucket.user.DuplicateGroupException",
        ));
    }
    let group = Group {
        name,
        members: BTreeSet::new(),
    };
    let json = group_json(&group);
    state.groups.insert(lower, group);
    Ok(respond(StatusCode::OK, &json))
}

fn delete_group(state: &mut State, call: &Call<'_>) -> Handled {
    let key = state.group_key(call.param("name").unwrap_or(""))?;
    let group = state.groups.remove(&key).ok_or_else(|| no_group(&key))?;
    state.group_permissions.remove(&key);
    if state.default_group.as_deref() == Some(key.as_str()) {
        state.default_group = None;
    }
    Ok(respond(StatusCode::OK, &group_json(&group)))
}

/// Adds every one of `users` to every one of `groups`, or nothing when a name is unknown or
/// the licence would overflow.
fn add_memberships(state: &mut State, users: &[String], groups: &[String]) -> Handled {
    let ids = users
        .iter()
        .map(|u| state.user_id(u))
        .collect::<Result<BTreeSet<u64>, Reply>>()?;
    let keys = groups
        .iter()
        .map(|g| state.group_key(g))
        .collect::<Result<Vec<String>, Reply>>()?;
    if ids.is_empty() || keys.is_empty() {
        return Err(validation(
            "users",
            "At least one user and one group are required.",
        ));
    }
    if keys.iter().any(|k| state.group_permissions.contains_key(k)) {
        state.check_license(&ids)?;
    }
    for key in keys {
        if let Some(g) = state.groups.get_mut(&key) {
            g.members.extend(ids.iter().copied());
        }
    }
    Ok(empty(StatusCode::OK))
}

fn remove_membership(state: &mut State, user: &str, group: &str) -> Handled {
    let id = state.user_id(user)?;
    let key = state.group_key(group)?;
    if let Some(g) = state.groups.get_mut(&key) {
        g.members.remove(&id);
    }
    Ok(empty(StatusCode::OK))
}

fn group_members(state: &State, call: &Call<'_>) -> Handled {
    let key = state.group_key(call.param("context").unwrap_or(""))?;
    let group = state.groups.get(&key).ok_or_else(|| no_group(&key))?;
    let items = state
        .sorted_users()
        .into_iter()
        .filter(|u| group.members.contains(&u.id))
        .filter(|u| call.filter_matches(&[&u.name, &u.display_name, &u.email]))
        .map(|u| user_json(call.base, u))
        .collect();
    Ok(call.page(items))
}

fn user_groups(state: &State, call: &Call<'_>) -> Handled {
    let id = state.user_id(call.param("context").unwrap_or(""))?;
    let items = state
        .groups_of(id)
        .into_iter()
        .filter(|g| call.filter_matches(&[&g.name]))
        .map(group_json)
        .collect();
    Ok(call.page(items))
}

fn permitted_groups(state: &State, call: &Call<'_>) -> Reply {
    let items = state
        .group_permissions
        .iter()
        .filter_map(|(key, p)| state.groups.get(key).map(|g| (g, p)))
        .filter(|(g, _)| call.filter_matches(&[&g.name]))
        .map(|(g, p)| json!({"group": group_json(g), "permission": p}))
        .collect();
    call.page(items)
}

fn permitted_users(state: &State, call: &Call<'_>) -> Reply {
    let items = state
        .sorted_users()
        .into_iter()
        .filter_map(|u| state.user_permissions.get(&u.id).map(|p| (u, p)))
        .filter(|(u, _)| call.filter_matches(&[&u.name]))
        .map(|(u, p)| json!({"user": user_json(call.base, u), "permission": p}))
        .collect();
    call.page(items)
}

fn revoke_user(state: &mut State, call: &Call<'_>) -> Handled {
    let id = state.user_id(call.param("name").unwrap_or(""))?;
    state.user_permissions.remove(&id);
    Ok(empty(StatusCode::NO_CONTENT))
}
