//! The bridge's admin web page at `/admin`: the target and whether it answers, licence seats,
//! the identity providers, the directory sync (start a run, follow its progress, the dry-run
//! plan of the next one), the inactive-user cleanup (its settings and last run; start one),
//! the last sync and cleanup runs and the sync history, searchable by user (name or id,
//! containing the text or exactly) and by identity provider over the whole history, a page at
//! a time.
//!
//! Server-rendered HTML ([`html`]) with one small script for the progress bar; a strict
//! Content-Security-Policy allows only this page's own style sheet and script. A browser signs
//! in once with the admin token (a form at `/admin/login`), which opens a session held in an
//! `HttpOnly`, `SameSite=Strict` cookie; the page's forms carry the session's CSRF token and a
//! foreign `Origin` is refused. Scripts may send `Authorization: Bearer <admin token>` instead.
//! The page never shows a token, password or other credential: history entries, plans and
//! target descriptions hold none, and user attributes such as `password` are never rendered.

pub mod html;
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::routing::{get, post};
use scim_atlassian::history::{
    CLEANUP_METHOD, HistoryEntry, HistoryQuery, SYNC_METHOD, SyncHistory, UserMatch,
};
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use tracing::{info, warn};

use crate::bridge_cleanup::BridgeCleanup;
use crate::bridge_sync::{BridgeSync, now};
use crate::glue::query_param;
use crate::target::Built;
use html::{
    CleanupSection, Dashboard, HistorySection, SeatRow, Seats, SyncSection, TargetStatus,
    TenantRow, login_page, message_page, signed_in_page, url_encode,
};
use session::{COOKIE, SESSION_TTL, Sessions, constant_time_eq, session_cookie};

pub use session::{MAX_SESSIONS, SESSION_TTL as SESSION_LIFETIME};

/// History entries one page of the search shows.
pub const HISTORY_PAGE: usize = 25;
/// Sync and inactive-user cleanup runs the page lists.
pub const RUNS_SHOWN: usize = 10;
/// How long the target's connection status is reused before it is asked again.
pub const STATUS_TTL: Duration = Duration::from_secs(30);
/// The largest form body the page accepts.
const MAX_FORM: usize = 8 * 1024;

/// The page's Content-Security-Policy: nothing but this page's own files, no inline script or
/// style, no framing, forms posting only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self'; connect-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The target's status and seats, and when they were asked.
type StatusCache = (Instant, TargetStatus, Result<Seats, String>);

/// The admin page's state, built with [`AdminPage::builder`].
pub struct AdminPage {
    admin_token: String,
    sessions: Sessions,
    history: Arc<dyn SyncHistory>,
    tenants: Vec<TenantRow>,
    described: String,
    probe: Option<Built>,
    status: tokio::sync::Mutex<Option<StatusCache>>,
    sync: Option<Arc<BridgeSync>>,
    cleanup: Option<Arc<BridgeCleanup>>,
    secure_cookie: bool,
}

impl std::fmt::Debug for AdminPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the admin token.
        f.debug_struct("AdminPage")
            .field("described", &self.described)
            .field("tenants", &self.tenants)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AdminPage`].
#[must_use]
pub struct AdminPageBuilder {
    page: AdminPage,
}

impl AdminPageBuilder {
    /// The identity providers the page lists (and offers in the history search).
    pub fn tenants(mut self, tenants: Vec<TenantRow>) -> Self {
        self.page.tenants = tenants;
        self
    }

    /// The target, by its description, and a provisioner over it to check the connection
    /// with (built as a dry run: checking never writes).
    pub fn target(mut self, described: impl Into<String>, probe: Built) -> Self {
        self.page.described = described.into();
        self.page.probe = Some(probe);
        self
    }

    /// The bridge's directory sync, if it has one.
    pub fn sync(mut self, sync: Option<Arc<BridgeSync>>) -> Self {
        self.page.sync = sync;
        self
    }

    /// The bridge's inactive-user cleanup, if it has one.
    pub fn cleanup(mut self, cleanup: Option<Arc<BridgeCleanup>>) -> Self {
        self.page.cleanup = cleanup;
        self
    }

    /// Marks the session cookie `Secure` (the bridge is reached over HTTPS).
    pub fn secure_cookie(mut self, secure: bool) -> Self {
        self.page.secure_cookie = secure;
        self
    }

    /// The page.
    pub fn build(self) -> Arc<AdminPage> {
        Arc::new(self.page)
    }
}

impl AdminPage {
    /// A page guarded by `admin_token`, reading `history`.
    pub fn builder(
        admin_token: impl Into<String>,
        history: Arc<dyn SyncHistory>,
    ) -> AdminPageBuilder {
        AdminPageBuilder {
            page: AdminPage {
                admin_token: admin_token.into(),
                sessions: Sessions::new(SESSION_TTL),
                history,
                tenants: Vec::new(),
                described: "no target".to_owned(),
                probe: None,
                status: tokio::sync::Mutex::new(None),
                sync: None,
                cleanup: None,
                secure_cookie: false,
            },
        }
    }

    fn is_admin_token(&self, presented: &str) -> bool {
        !self.admin_token.is_empty()
            && constant_time_eq(self.admin_token.as_bytes(), presented.as_bytes())
    }

    /// Who asks: a session (with its CSRF token), or the admin token in `Authorization`.
    fn who(&self, headers: &HeaderMap) -> Option<Who> {
        if let Some(id) = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(session_cookie)
        {
            if let Some(csrf) = self.sessions.csrf_of(id) {
                return Some(Who::Session {
                    id: id.to_owned(),
                    csrf,
                });
            }
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        self.is_admin_token(bearer.trim()).then_some(Who::Bearer)
    }

    /// The target's connection status and licence seats, asked at most every
    /// [`STATUS_TTL`].
    async fn target_status(&self) -> (TargetStatus, Result<Seats, String>) {
        let mut cache = self.status.lock().await;
        if let Some((asked, status, seats)) = &*cache {
            if asked.elapsed() < STATUS_TTL {
                return (status.clone(), seats.clone());
            }
        }
        let (result, seats) = match &self.probe {
            Some(built) => (probe(built).await, read_seats(built).await),
            None => (Err("no target configured".to_owned()), Ok(Seats::default())),
        };
        let status = TargetStatus {
            described: self.described.clone(),
            checked_at: now(),
            result,
        };
        *cache = Some((Instant::now(), status.clone(), seats.clone()));
        (status, seats)
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        format!(
            "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }
}

/// Who is asking for the page.
enum Who {
    /// A browser session.
    Session { id: String, csrf: String },
    /// A script with the admin token in `Authorization` (no cookie, so no CSRF to fear).
    Bearer,
}

/// Asks the target who the bridge is to it: the account name, or what went wrong.
async fn probe(built: &Built) -> Result<String, String> {
    match built {
        Built::DataCenter(p) => p
            .test_connection()
            .await
            .map(|name| format!("as {name}"))
            .map_err(|e| e.to_string()),
        Built::Cloud(p) => p
            .search_users(
                &RequestContext::new("admin"),
                &ListQuery::new().with_page(1, Some(1)),
            )
            .await
            .map(|_| "directory API key accepted".to_owned())
            .map_err(|e| e.detail()),
    }
}

/// The target's licence seats, one row per pool it counts.
async fn read_seats(built: &Built) -> Result<Seats, String> {
    let usage = match built {
        Built::DataCenter(p) => p.seats().await,
        Built::Cloud(p) => p.seats().await,
    }
    .map_err(|e| e.to_string())?;
    Ok(Seats {
        rows: usage
            .pools
            .iter()
            .map(|pool| SeatRow {
                product: pool.name.clone(),
                licensed: pool.licensed,
                used: pool.used,
            })
            .collect(),
        reserve: usage.reserve,
        note: usage.note.clone(),
    })
}

/// The admin page's routes; merge them into the bridge's router.
pub fn router(page: Arc<AdminPage>) -> Router {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/sync", post(start_sync))
        .route("/admin/cleanup", post(start_cleanup))
        .route("/admin/progress", get(progress))
        .route("/admin/assets/admin.css", get(css))
        .route("/admin/assets/admin.js", get(js))
        .with_state(page)
}

/// A response with the page's security headers.
fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const HTML: &str = "text/html; charset=utf-8";

fn page(status: StatusCode, body: String) -> Response<Body> {
    respond(status, HTML, body)
}

fn see_other(location: &str) -> Response<Body> {
    let mut response = respond(StatusCode::SEE_OTHER, HTML, "");
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Where to go after signing in: a path of this page only (never another site).
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| {
        (n == "/admin" || n.starts_with("/admin?") || n.starts_with("/admin#")) && !n.contains('\\')
    })
    .unwrap_or_else(|| "/admin".to_owned())
}

async fn css() -> Response<Body> {
    respond(
        StatusCode::OK,
        "text/css; charset=utf-8",
        include_str!("assets/admin.css"),
    )
}

async fn js() -> Response<Body> {
    respond(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        include_str!("assets/admin.js"),
    )
}

async fn login_form(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    let next = safe_next(query_param(request.uri().query(), "next"));
    if admin.who(request.headers()).is_some() {
        return see_other(&next);
    }
    page(StatusCode::OK, login_page(None, &next))
}

/// The form fields of a POST body, or a page saying why it could not be read.
async fn form(body: Body) -> Result<String, Response<Body>> {
    let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
        page(
            StatusCode::PAYLOAD_TOO_LARGE,
            message_page("Form too large", "The form sent is larger than 8 KiB."),
        )
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        page(
            StatusCode::BAD_REQUEST,
            message_page("Unreadable form", "The form sent is not UTF-8."),
        )
    })
}

async fn login(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    let body = match form(request.into_body()).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let next = safe_next(query_param(Some(&body), "next"));
    let token = query_param(Some(&body), "token").unwrap_or_default();
    if !admin.is_admin_token(&token) {
        info!(path = "/admin/login", status = 401, "admin sign-in refused");
        return page(
            StatusCode::UNAUTHORIZED,
            login_page(Some("That is not the admin token."), &next),
        );
    }
    let Some((id, _csrf)) = admin.sessions.open() else {
        warn!("no random bytes from the operating system for an admin session");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            message_page("Try again", "No session could be opened; try again."),
        );
    };
    info!(path = "/admin/login", status = 200, "admin signed in");
    let mut response = page(StatusCode::OK, signed_in_page(&next));
    if let Ok(v) = HeaderValue::from_str(&admin.cookie(&id, SESSION_TTL.as_secs())) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Checks a form POST: a session with the form's CSRF token (or the admin token in
/// `Authorization`), from this site. Returns the session id, if any.
fn check_post(
    admin: &AdminPage,
    headers: &HeaderMap,
    body: &str,
) -> Result<Option<String>, Box<Response<Body>>> {
    let forbidden = |why: &str| Box::new(page(StatusCode::FORBIDDEN, message_page("Refused", why)));
    // A browser names the page a form was sent from; one of another site is refused even
    // before the CSRF token is looked at.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let ours = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !ours {
            return Err(forbidden("This form was sent from another site."));
        }
    }
    match admin.who(headers) {
        None => Err(Box::new(page(
            StatusCode::UNAUTHORIZED,
            login_page(Some("Sign in first."), "/admin"),
        ))),
        Some(Who::Bearer) => Ok(None),
        Some(Who::Session { id, csrf }) => {
            let sent = query_param(Some(body), "csrf").unwrap_or_default();
            if constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                Ok(Some(id))
            } else {
                Err(forbidden(
                    "The form's CSRF token is missing or stale: reload the admin page and try \
                     again.",
                ))
            }
        }
    }
}

async fn logout(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match form(body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    match check_post(&admin, &parts.headers, &body) {
        Ok(session) => {
            if let Some(id) = session {
                admin.sessions.close(&id);
            }
            let mut response = see_other("/admin/login");
            if let Ok(v) = HeaderValue::from_str(&admin.cookie("", 0)) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(refused) => *refused,
    }
}

/// What a run started from the page is called in its answers.
struct RunKind {
    /// The section of `[...]` that configures it.
    section: &'static str,
    /// `directory sync`, `inactive-user cleanup`.
    name: &'static str,
    /// The page's anchor to go back to.
    anchor: &'static str,
    /// What the page shows of a run under way.
    shown: &'static str,
}

const SYNC_RUN: RunKind = RunKind {
    section: "sync",
    name: "directory sync",
    anchor: "/admin#sync",
    shown: "its progress is on the admin page",
};

const CLEANUP_RUN: RunKind = RunKind {
    section: "cleanup",
    name: "inactive-user cleanup",
    anchor: "/admin#cleanup",
    shown: "its result will be on the admin page",
};

async fn start_sync(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    start_run(&admin, request, &SYNC_RUN, |a| {
        a.sync.as_ref().map(|s| (s.start(), s.tenant().to_owned()))
    })
    .await
}

async fn start_cleanup(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    start_run(&admin, request, &CLEANUP_RUN, |a| {
        a.cleanup
            .as_ref()
            .map(|c| (c.start(), c.tenant().to_owned()))
    })
    .await
}

/// Answers a form starting a run of `kind`: refused unless the form is the admin's, from this
/// site; then `start` starts it, saying whether it started (not when one is under way) and
/// its tenant, or `None` when the bridge has no such run.
async fn start_run(
    admin: &AdminPage,
    request: Request,
    kind: &RunKind,
    start: impl FnOnce(&AdminPage) -> Option<(bool, String)>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match form(body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    if let Err(refused) = check_post(admin, &parts.headers, &body) {
        return *refused;
    }
    let Some((started, tenant)) = start(admin) else {
        return page(
            StatusCode::NOT_FOUND,
            message_page(
                &format!("No {}", kind.name),
                &format!(
                    "This bridge has no [{}] section in its configuration: there is nothing to \
                     run.",
                    kind.section
                ),
            ),
        );
    };
    if started {
        info!(%tenant, run = kind.name, "started from the admin page");
        see_other(kind.anchor)
    } else {
        page(
            StatusCode::CONFLICT,
            message_page(
                &format!("A {} is running", kind.name),
                &format!(
                    "A {} of this bridge is already under way; {}.",
                    kind.name, kind.shown
                ),
            ),
        )
    }
}

async fn progress(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    if admin.who(request.headers()).is_none() {
        return respond(
            StatusCode::UNAUTHORIZED,
            "application/json",
            r#"{"status":401,"detail":"sign in at /admin/login, or send the admin token"}"#,
        );
    }
    match &admin.sync {
        Some(sync) => respond(
            StatusCode::OK,
            "application/json",
            serde_json::to_vec(&sync.progress()).unwrap_or_default(),
        ),
        None => respond(
            StatusCode::NOT_FOUND,
            "application/json",
            r#"{"status":404,"detail":"this bridge has no [sync] section"}"#,
        ),
    }
}

/// What the history search asks: a user or group (`user`, its name or id containing the
/// text, or being it when `exact`), an
/// identity provider (`tenant`), and a page (from 1).
pub(crate) struct HistorySearch {
    pub(crate) user: String,
    pub(crate) exact: bool,
    pub(crate) tenant: String,
    pub(crate) page: usize,
}

impl HistorySearch {
    /// The store's query for this page, one entry more than a page to tell whether older
    /// ones match too: every condition runs in the store (the SQL history's indexes), over
    /// the whole history.
    fn query(&self) -> HistoryQuery {
        let mut q = HistoryQuery::new()
            .offset((self.page - 1).saturating_mul(HISTORY_PAGE))
            .limit(HISTORY_PAGE + 1);
        if !self.tenant.is_empty() {
            q = q.tenant(self.tenant.as_str());
        }
        if !self.user.is_empty() {
            q = q.user(if self.exact {
                UserMatch::exact(self.user.as_str())
            } else {
                UserMatch::contains(self.user.as_str())
            });
        }
        q
    }
}

/// The history search's page of entries, and whether older ones match too.
async fn search_history(
    history: &dyn SyncHistory,
    search: &HistorySearch,
) -> Result<(Vec<HistoryEntry>, bool), String> {
    let mut entries = history.list(&search.query()).await.map_err(|e| {
        warn!(error = %e, "sync history could not be read");
        "the sync history could not be read".to_owned()
    })?;
    let more = entries.len() > HISTORY_PAGE;
    entries.truncate(HISTORY_PAGE);
    Ok((entries, more))
}

async fn dashboard(State(admin): State<Arc<AdminPage>>, request: Request) -> Response<Body> {
    let who = admin.who(request.headers());
    let query = request.uri().query();
    let Some(who) = who else {
        let here = match query {
            Some(q) => format!("/admin?{q}"),
            None => "/admin".to_owned(),
        };
        return see_other(&format!("/admin/login?next={}", url_encode(&here)));
    };
    let user = query_param(query, "user").unwrap_or_default();
    let tenant = query_param(query, "tenant").unwrap_or_default();
    let exact = match query_param(query, "match").as_deref() {
        None | Some("" | "contains") => false,
        Some("exact") => true,
        Some(other) => {
            return page(
                StatusCode::BAD_REQUEST,
                message_page(
                    "Bad search",
                    &format!("match={other:?} is not known: use \"contains\" or \"exact\"."),
                ),
            );
        }
    };
    let page_no = match query_param(query, "page") {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return page(
                    StatusCode::BAD_REQUEST,
                    message_page(
                        "Bad page number",
                        &format!("page={p:?} is not a page number (1, 2, ...)."),
                    ),
                );
            }
        },
    };
    let csrf = match &who {
        Who::Session { csrf, .. } => csrf.clone(),
        Who::Bearer => String::new(),
    };
    let (target, seats) = admin.target_status().await;
    let search = HistorySearch {
        user,
        exact,
        tenant,
        page: page_no,
    };
    let (entries, more, error) = match search_history(admin.history.as_ref(), &search).await {
        Ok((entries, more)) => (entries, more, None),
        Err(why) => (Vec::new(), false, Some(why)),
    };
    let runs = admin
        .history
        .list(
            &HistoryQuery::new()
                .method(SYNC_METHOD)
                .method(CLEANUP_METHOD)
                .limit(RUNS_SHOWN),
        )
        .await
        .map_err(|_| "the sync history could not be read".to_owned());
    let sync = match &admin.sync {
        Some(s) => Some(SyncSection {
            tenant: s.tenant(),
            source: s.source_described(),
            every: s.every(),
            progress: s.progress(),
            last: s.last_run(),
            plan: Some(s.plan().await),
        }),
        None => None,
    };
    let cleanup = admin.cleanup.as_ref().map(|c| CleanupSection {
        tenant: c.tenant(),
        days: c.days(),
        excluded: c.excluded(),
        dry_run: c.dry_run(),
        every: c.every(),
        running: c.running(),
        last: c.last_run(),
    });
    let body = Dashboard {
        csrf: &csrf,
        target: &target,
        seats: &seats,
        tenants: &admin.tenants,
        sync,
        cleanup,
        runs,
        history: HistorySection {
            search: &search,
            entries,
            more,
            error,
        },
    }
    .render();
    page(StatusCode::OK, body)
}
