//! `atlassian-bridge`: SCIM 2.0 (at `/scim/v2`) and SCIM 1.1 (at `/scim/v1`) for several
//! identity providers at once, provisioning into Jira Data Center or Atlassian Cloud, with a
//! sync history read at `GET /admin/history` and each tenant's settings at
//! `GET /admin/settings` (the admin token sees every tenant; an identity provider's SCIM token
//! sees only its own), and an admin web page at `/admin` (see `scim_examples::admin`) with the
//! directory sync of `[sync]` (`scim_examples::bridge_sync`).
//!
//! ```text
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --bind 127.0.0.1:8081 --token TOKEN --config bridge.toml
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --simulate
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --config bridge.toml --test-connection
//! ```
//!
//! `--simulate` provisions into the in-process simulator of `[target] type` (Jira when there
//! is no configuration). Each `[[tenants]]` (or `[[idp]]`) entry of the configuration is one
//! identity provider with its own bearer token and, optionally, its own policy and `dry_run`:
//! each gets its own provisioner over the one target, chosen by the token, and history entries
//! name the tenant. Logs go to standard error (`RUST_LOG`, default
//! `info`) and never hold a token. Ctrl-C or SIGTERM stops it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::get;
use scim_atlassian::ReqwestClient;
use scim_atlassian::history::{
    DEFAULT_LIST_LIMIT, HistoryEntry, HistoryError, HistoryObserver, HistoryQuery, InMemoryHistory,
    JsonLinesHistory, Outcome, SyncHistory, UserMatch, parse_time,
};
use scim_atlassian::policy::SyncPolicy;
use scim_atlassian::{AtlassianError, AtlassianProvisioner, CallObserver, CallRecord};
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::tower::TowerService;
use scim_core::{Authenticator, BearerTokens, ScimService};
use scim_examples::admin::{self, AdminPage, AdminPageBuilder, html::TenantRow};
use scim_examples::bridge::{BridgeArgs, Config, TenantSettings};
use scim_examples::bridge_cleanup::{BridgeCleanup, CleanupParts};
use scim_examples::bridge_sync::{BridgeSync, SyncParts};
use scim_examples::glue::{MAX_PAYLOAD, init_tracing, query_param, shutdown_signal};
use scim_examples::random_token;
use scim_examples::shared::SharedDb;
use scim_examples::target::{Built, TargetClient, recorded};
use scim_examples::tenants::TenantRouter;
use scim_sync::RunLock;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// The most entries one `/admin/history` response holds.
const MAX_HISTORY_LIMIT: usize = 1000;

#[derive(Clone)]
struct App {
    scim: TowerService,
    history: Arc<dyn SyncHistory>,
    admin: Arc<BearerTokens>,
    /// The identity providers' SCIM tokens: each may read its own history and settings.
    tenants: Arc<BearerTokens>,
    settings: Arc<Vec<TenantSettings>>,
    /// Whether any tenant is a dry run: only then does a SCIM request's token get checked a
    /// second time (for the `X-Dry-Run` header), besides the service's own check.
    any_dry_run: bool,
}

/// Who asks for an admin endpoint.
enum Caller {
    /// The administrator: every tenant.
    Admin,
    /// An identity provider, by its SCIM token: its own tenant only.
    Tenant(String),
}

impl App {
    async fn caller(&self, parts: &axum::http::request::Parts) -> Option<Caller> {
        if self.admin.authenticate(parts).await.is_ok() {
            return Some(Caller::Admin);
        }
        let principal = self.tenants.authenticate(parts).await.ok()?;
        Some(Caller::Tenant(principal.tenant().to_owned()))
    }
}

/// The tenant an admin request is about: `?tenant=` for the administrator (optional), the
/// caller's own for an identity provider, which may not name another (403).
fn tenant_scope(caller: &Caller, asked: Option<String>) -> Result<Option<String>, String> {
    match (caller, asked) {
        (Caller::Admin, asked) => Ok(asked),
        (Caller::Tenant(own), Some(asked)) if asked != *own => Err(format!(
            "this token belongs to tenant {own:?}: it cannot read tenant {asked:?}"
        )),
        (Caller::Tenant(own), _) => Ok(Some(own.clone())),
    }
}

/// Exit statuses: 2 for a usage or configuration mistake, 1 for anything else.
fn fail(why: &str, code: u8) -> std::process::ExitCode {
    eprintln!("atlassian-bridge: {why}");
    std::process::ExitCode::from(code)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match BridgeArgs::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", BridgeArgs::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(why) => return fail(&format!("{why}\n\n{}", BridgeArgs::USAGE), 2),
    };
    init_tracing();
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(why) => return fail(&why, 2),
        },
        None => Config::default(),
    };
    let env = |var: &str| std::env::var(var).ok();
    let target = match config.target(args.simulate, &env) {
        Ok(t) => t,
        Err(why) => return fail(&why, 2),
    };
    let concurrency = match config.concurrency() {
        Ok(n) => n,
        Err(why) => return fail(&why, 2),
    };
    let group_rename = match config.group_rename() {
        Ok(r) => r,
        Err(why) => return fail(&why, 2),
    };
    let target = match TargetClient::new(&target, concurrency) {
        Ok(t) => t.group_rename(group_rename),
        Err(why) => return fail(&why, 2),
    };
    let described = target.described().to_owned();

    if args.test_connection {
        return test_connection(&target, &config.policy).await;
    }

    let mut tenants = match config.tenants(args.token.as_deref(), &env) {
        Ok(t) => t,
        Err(why) => return fail(&why, 2),
    };
    if tenants.is_empty() {
        let t = random_token();
        // Printed once, for the person who started the bridge; never sent to the log.
        println!("generated bearer token for tenant \"default\": {t}");
        tenants.push(("default".to_owned(), t));
    }
    let admin_token = match config.admin_token(args.admin_token.as_deref(), &tenants, &env) {
        Ok(Some(t)) => t,
        Ok(None) => {
            let t = random_token();
            // As for the SCIM token: printed once, never logged.
            println!("generated admin token for /admin/history: {t}");
            t
        }
        Err(why) => return fail(&why, 2),
    };
    let shared = match config.history_db(args.db.as_deref()) {
        Ok(Some(url)) => match SharedDb::open(&url).await {
            Ok(db) => Some(db),
            Err(why) => return fail(&why, 2),
        },
        Ok(None) => None,
        Err(why) => return fail(&why, 2),
    };
    // The run lock of the bridge's own directory sync: shared with every instance on the
    // database, else this process's.
    let run_lock: Option<Arc<dyn RunLock>> = shared
        .as_ref()
        .map(|db| Arc::clone(&db.lock) as Arc<dyn RunLock>);
    let history: Arc<dyn SyncHistory> = match (shared, &config.history.path) {
        // Shared with the other instances; `--db` overrides the file's `path`.
        (Some(db), _) => db.history,
        (None, Some(path)) => match JsonLinesHistory::open(path) {
            Ok(h) => Arc::new(h),
            Err(e) => return fail(&e.to_string(), 2),
        },
        (None, None) => Arc::new(
            config
                .history
                .capacity
                .map_or_else(InMemoryHistory::new, InMemoryHistory::with_capacity),
        ),
    };

    let logged: Arc<dyn SyncHistory> = Arc::new(LoggedHistory(Arc::clone(&history)));
    // One provisioner per tenant, each with its own policy, over the one target; the tenant
    // comes from the bearer token, so a token only ever reaches its own tenant's provisioner.
    let mut router = TenantRouter::new();
    let mut settings = Vec::new();
    let mut tokens = BearerTokens::new();
    for (name, token) in &tenants {
        tokens = tokens.with_token(token.clone(), name.clone());
        let tenant = config.tenant_settings(name);
        let provisioner = match tenant_provisioner(&target, &tenant) {
            Ok(p) => p,
            Err(why) => return fail(&format!("tenant {name:?}: {why}"), 2),
        };
        router = router.tenant(
            name.clone(),
            recorded(
                provisioner,
                Arc::clone(&logged),
                config.history.record_reads,
            ),
        );
        settings.push(tenant);
    }
    let tokens = Arc::new(tokens);
    let admin_page = match admin_page(
        &admin_token,
        &config,
        &target,
        &settings,
        &history,
        run_lock,
        &env,
    ) {
        Ok(page) => page.secure_cookie(
            args.public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        ),
        Err(why) => return fail(&why, 2),
    };
    let mut builder = ScimService::builder(Arc::new(router))
        .authenticator(tokens.clone())
        .max_payload_size(MAX_PAYLOAD);
    if let Some(url) = &args.public_url {
        builder = builder.public_url(url.clone());
    }
    if target.is_cloud() {
        // Cloud's users carry Atlassian's extension (the account id): declared, as served.
        builder = builder.user_extension(scim_atlassian::cloud::atlassian_user_extension());
    }
    let app = App {
        scim: builder.build().into_service(),
        history,
        admin: Arc::new(BearerTokens::new().with_token(admin_token, "admin")),
        tenants: tokens,
        any_dry_run: settings.iter().any(|t| t.dry_run),
        settings: Arc::new(settings),
    };
    let router = Router::new()
        .route("/admin/history", get(admin_history))
        .route("/admin/settings", get(admin_settings))
        .fallback(scim)
        .with_state(app)
        .merge(admin::router(admin_page.build()));

    let listener = match TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", args.bind), 1),
    };
    let local: SocketAddr = listener.local_addr().unwrap_or(args.bind);
    println!("provisioning into {described}");
    // Tests and scripts read this line to find the port when binding to port 0.
    // Before the `listening on` line: scripts stop reading there.
    println!("admin page at http://{local}/admin");
    println!("listening on http://{local} (SCIM 2.0 at /scim/v2, SCIM 1.1 at /scim/v1)");
    let names: Vec<&str> = tenants.iter().map(|(n, _)| n.as_str()).collect();
    info!(%local, target = %described, tenants = ?names, "atlassian-bridge started");
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        return fail(&e.to_string(), 1);
    }
    info!("atlassian-bridge stopped");
    std::process::ExitCode::SUCCESS
}

/// The admin page over the target and history, with the directory sync of `[sync]` and the
/// inactive-user cleanup of `[cleanup]` (each started on its schedule here).
fn admin_page(
    admin_token: &str,
    config: &Config,
    target: &TargetClient,
    settings: &[TenantSettings],
    history: &Arc<dyn SyncHistory>,
    lock: Option<Arc<dyn RunLock>>,
    env: scim_examples::bridge::Env<'_>,
) -> Result<AdminPageBuilder, String> {
    let cleanup_lock = lock.clone();
    let sync = match &config.sync {
        Some(sync) => {
            let http = ReqwestClient::new(Duration::from_secs(30))
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
            let sync = BridgeSync::new(SyncParts {
                config: sync,
                policy: &config.policy,
                target,
                history: Arc::new(LoggedHistory(Arc::clone(history))),
                lock,
                http: Arc::new(http),
                env,
            })
            .map_err(|why| format!("[sync]: {why}"))?;
            sync.spawn_schedule();
            Some(sync)
        }
        None => None,
    };
    let cleanup = match &config.cleanup {
        Some(cleanup) => {
            let cleanup = BridgeCleanup::new(CleanupParts {
                config: cleanup,
                policy: &config.policy,
                target,
                history: Arc::new(LoggedHistory(Arc::clone(history))),
                lock: cleanup_lock,
            })
            .map_err(|why| format!("[cleanup]: {why}"))?;
            cleanup.spawn_schedule();
            Some(cleanup)
        }
        None => None,
    };
    // A dry run: checking the connection never writes.
    let probe = target.probe(&config.policy)?;
    Ok(AdminPage::builder(admin_token, Arc::clone(history))
        .tenants(
            settings
                .iter()
                .map(|s| TenantRow {
                    name: s.tenant.clone(),
                    dry_run: s.dry_run,
                })
                .collect(),
        )
        .target(target.described(), probe)
        .sync(sync)
        .cleanup(cleanup))
}

/// A tenant's provisioner over the target, its calls recorded in the history and logged.
fn tenant_provisioner(target: &TargetClient, tenant: &TenantSettings) -> Result<Built, String> {
    let observer = Arc::new(HistoryObserver::new().then(Arc::new(LogCalls)));
    target.provisioner(&tenant.policy, tenant.dry_run, Some(observer))
}

/// The seat line of `--test-connection`; a failure when `[policy.seats]` cannot work with
/// this licence (a reserve taking every seat), or when seats are enforced but unreadable.
async fn seats_report(p: &AtlassianProvisioner, policy: &SyncPolicy) -> std::process::ExitCode {
    match p.seats().await {
        Ok(seats) => {
            println!("seats: {seats}");
            match seats.reserve_too_large().filter(|_| policy.seats.enforce) {
                Some(pool) => {
                    eprintln!(
                        "test-connection FAILED: policy.seats.reserve ({}) is not below the {} \
                         seats of the {} licence: every new user would be refused\nhint: \
                         lower policy.seats.reserve",
                        seats.reserve,
                        pool.licensed.unwrap_or_default(),
                        pool.name
                    );
                    std::process::ExitCode::FAILURE
                }
                None => std::process::ExitCode::SUCCESS,
            }
        }
        Err(e) if policy.seats.enforce => {
            eprintln!(
                "test-connection FAILED: policy.seats.enforce is on but the licence seats cannot \
                 be read: {e}"
            );
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            println!("seats: not read ({e})");
            std::process::ExitCode::SUCCESS
        }
    }
}

/// `--test-connection`: says what works or exactly what does not.
async fn test_connection(target: &TargetClient, policy: &SyncPolicy) -> std::process::ExitCode {
    let described = target.described();
    let built = match target.probe(policy) {
        Ok(b) => b,
        Err(why) => return fail(&why, 2),
    };
    let p = match built {
        Built::DataCenter(p) => p,
        Built::Cloud(p) => {
            let query = ListQuery::new().with_page(1, Some(1));
            return match p
                .search_users(&RequestContext::new("default"), &query)
                .await
            {
                Ok(_) => {
                    println!(
                        "test-connection OK: {described} answers and accepts the directory API key"
                    );
                    if let Ok(seats) = p.seats().await {
                        println!("seats: {seats}");
                    }
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "test-connection FAILED for {described}: {}\nhint: check target.url (the \
                         directory URL) and target.token (the directory API key, not an \
                         organization admin key)",
                        e.detail()
                    );
                    std::process::ExitCode::FAILURE
                }
            };
        }
    };
    match p.test_connection().await {
        Ok(name) => {
            println!(
                "test-connection OK: {described} answers, accepts the credentials ({name:?}) \
                 and grants them what provisioning needs"
            );
            seats_report(&p, policy).await
        }
        Err(e) => {
            // Retried until the budget ran out: the last attempt's error says why.
            let cause = match &e {
                AtlassianError::Exhausted { last, .. } => last.as_ref(),
                other => other,
            };
            let hint = match cause {
                AtlassianError::Transport { .. } => {
                    "the target did not answer: check target.url, DNS, proxies and firewalls"
                }
                AtlassianError::Status { status: 401, .. } => {
                    "check target.token, or target.username and target.password"
                }
                AtlassianError::Status { status: 403, .. } => {
                    "use an account with the product's administrator permission (Jira: global \
                     Administer; Bitbucket: ADMIN)"
                }
                AtlassianError::Status { status: 404, .. } | AtlassianError::Decode { .. } => {
                    "is target.url the product's base URL (with its context path, e.g. /jira)?"
                }
                _ => "see the error above",
            };
            eprintln!("test-connection FAILED for {described}: {e}\nhint: {hint}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Every request but the admin endpoint goes to the SCIM service.
/// A dry-run tenant's responses carry `X-Dry-Run: true`: what they show was computed, and
/// nothing was written to the target.
async fn scim(State(app): State<App>, request: Request) -> Response<Body> {
    if !app.any_dry_run {
        return app.scim.serve(request).await.map(Body::new);
    }
    let (parts, body) = request.into_parts();
    let dry_run = match app.tenants.authenticate(&parts).await {
        Ok(principal) => app
            .settings
            .iter()
            .any(|t| t.tenant == principal.tenant() && t.dry_run),
        Err(_) => false,
    };
    let mut response = app
        .scim
        .serve(Request::from_parts(parts, body))
        .await
        .map(Body::new);
    if dry_run {
        response
            .headers_mut()
            .insert("x-dry-run", HeaderValue::from_static("true"));
    }
    response
}

/// `GET /admin/history?tenant=&since=&user=&match=contains|exact&offset=&limit=`: the
/// newest entries first (after `offset`), as a JSON array; `user` matches names and ids.
async fn admin_history(State(app): State<App>, request: Request) -> Response<Body> {
    let (parts, _) = request.into_parts();
    let response = admin_history_reply(&app, &parts).await;
    info!(
        path = "/admin/history",
        status = response.status().as_u16(),
        "admin request"
    );
    response
}

fn unauthorized() -> Response<Body> {
    json_error(
        StatusCode::UNAUTHORIZED,
        "send the admin token, or an identity provider's SCIM token for its own tenant, as \
         `Authorization: Bearer <token>`",
    )
}

async fn admin_history_reply(app: &App, parts: &axum::http::request::Parts) -> Response<Body> {
    let Some(caller) = app.caller(parts).await else {
        return unauthorized();
    };
    let query = parts.uri.query();
    let mut q = HistoryQuery::new().limit(DEFAULT_LIST_LIMIT);
    match tenant_scope(&caller, query_param(query, "tenant")) {
        Ok(Some(tenant)) => q = q.tenant(tenant),
        Ok(None) => {}
        Err(refused) => return json_error(StatusCode::FORBIDDEN, &refused),
    }
    if let Some(limit) = query_param(query, "limit") {
        match limit.parse::<usize>() {
            Ok(n) => q = q.limit(n.min(MAX_HISTORY_LIMIT)),
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("limit={limit:?} is not a number (at most {MAX_HISTORY_LIMIT})"),
                );
            }
        }
    }
    if let Some(user) = query_param(query, "user").filter(|u| !u.is_empty()) {
        q = match query_param(query, "match").as_deref() {
            None | Some("contains") => q.user(UserMatch::contains(user)),
            Some("exact") => q.user(UserMatch::exact(user)),
            Some(other) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("match={other:?} is not known: use contains or exact"),
                );
            }
        };
    }
    if let Some(offset) = query_param(query, "offset") {
        match offset.parse::<usize>() {
            Ok(n) => q = q.offset(n),
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("offset={offset:?} is not a number of entries to skip"),
                );
            }
        }
    }
    if let Some(since) = query_param(query, "since") {
        match parse_time(&since) {
            Some(t) => q = q.since(t),
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("since={since:?} is not an RFC 3339 time like 2026-01-31T12:00:00Z"),
                );
            }
        }
    }
    match app.history.list(&q).await {
        Ok(entries) => json(StatusCode::OK, &entries),
        Err(e) => {
            warn!(error = %e, "sync history could not be read");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the sync history could not be read",
            )
        }
    }
}

/// `GET /admin/settings?tenant=`: the tenants' settings (policy, dry run) as a JSON array;
/// an identity provider's token sees only its own tenant's.
async fn admin_settings(State(app): State<App>, request: Request) -> Response<Body> {
    let (parts, _) = request.into_parts();
    let Some(caller) = app.caller(&parts).await else {
        return unauthorized();
    };
    match tenant_scope(&caller, query_param(parts.uri.query(), "tenant")) {
        Ok(only) => {
            let shown: Vec<&TenantSettings> = app
                .settings
                .iter()
                .filter(|s| only.as_ref().is_none_or(|t| *t == s.tenant))
                .collect();
            json(StatusCode::OK, &shown)
        }
        Err(refused) => json_error(StatusCode::FORBIDDEN, &refused),
    }
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"admin\""),
        );
    }
    response
}

fn json_error(status: StatusCode, detail: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "status": status.as_u16(), "detail": detail }),
    )
}

/// Logs every Jira call at `debug` (the call and status only: no query, header or body).
struct LogCalls;

impl CallObserver for LogCalls {
    fn on_call(&self, record: &CallRecord) {
        debug!(
            call = %record.call,
            status = record.status,
            attempt = record.attempt,
            elapsed_ms = u64::try_from(record.elapsed.as_millis()).unwrap_or(u64::MAX),
            "jira call"
        );
    }
}

/// Logs each operation as it is recorded (tenant, operation, outcome, Jira writes; not the
/// user name or the summary, which hold personal data), then stores it.
struct LoggedHistory(Arc<dyn SyncHistory>);

#[async_trait::async_trait]
impl SyncHistory for LoggedHistory {
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let op = &entry.operation;
        let writes = entry
            .calls
            .iter()
            .filter(|c| c.is_successful_write())
            .count();
        if let Outcome::Failure { status, .. } = &entry.outcome {
            warn!(
                tenant = %entry.tenant,
                request_id = %entry.request_id,
                method = %op.method,
                resource = %op.resource_type,
                id = op.id.as_deref(),
                status,
                jira_calls = entry.calls.len(),
                jira_writes = writes,
                "sync operation failed"
            );
        } else {
            info!(
                tenant = %entry.tenant,
                request_id = %entry.request_id,
                method = %op.method,
                resource = %op.resource_type,
                id = op.id.as_deref(),
                jira_calls = entry.calls.len(),
                jira_writes = writes,
                "sync operation"
            );
        }
        self.0.record(entry).await
    }

    async fn list(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, HistoryError> {
        self.0.list(query).await
    }
}
