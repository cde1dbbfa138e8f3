//! `atlassian-bridge`: SCIM 2.0 (at `/scim/v2`) and SCIM 1.1 (at `/scim/v1`) for several
//! identity providers at once, provisioning into Jira Data Center, with a sync history that
//! administrators read at `GET /admin/history`.
//!
//! ```text
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --bind 127.0.0.1:8081 --token TOKEN --config bridge.toml
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --simulate
//! cargo run --release -p scim-examples --bin atlassian-bridge -- --config bridge.toml --test-connection
//! ```
//!
//! `--simulate` provisions into the in-process Jira simulator (nothing to configure; the
//! Bitbucket simulator when the configuration's `target.type` is `bitbucket-dc`). Each
//! `[[tenants]]` entry of the configuration is one identity provider with its own bearer
//! token; history entries name the tenant. Logs go to standard error (`RUST_LOG`, default
//! `info`) and never hold a token. Ctrl-C or SIGTERM stops it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::get;
use scim_atlassian::history::{
    DEFAULT_LIST_LIMIT, HistoryEntry, HistoryError, HistoryObserver, HistoryQuery, InMemoryHistory,
    JsonLinesHistory, Outcome, RecordingProvisioner, SyncHistory, parse_time,
};
use scim_atlassian::policy::SyncPolicy;
use scim_atlassian::simulator::{
    BitbucketSimulator, ConfluenceSimulator, CrowdSimulator, JiraSimulator,
};
use scim_atlassian::{
    AtlassianError, AtlassianProvisioner, CallObserver, CallRecord, Credentials, ReqwestClient,
    Sleeper,
};
use scim_core::{Authenticator, BearerTokens, ScimService};
use scim_examples::bridge::{BridgeArgs, Config, Target};
use scim_examples::glue::{MAX_PAYLOAD, init_tracing, query_param, serve_scim, shutdown_signal};
use scim_examples::random_token;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// The most entries one `/admin/history` response holds.
const MAX_HISTORY_LIMIT: usize = 1000;
/// The simulator's address: never resolved, requests go to the in-process simulator.
const SIMULATOR_URL: &str = "http://jira-simulator.invalid";

#[derive(Clone)]
struct App {
    scim: ScimService,
    history: Arc<dyn SyncHistory>,
    admin: Arc<BearerTokens>,
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
    let (provisioner, described) = match build_provisioner(&target, &config.policy) {
        Ok(p) => p,
        Err(why) => return fail(&why, 2),
    };

    if args.test_connection {
        return test_connection(&provisioner, &described).await;
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
    let history: Arc<dyn SyncHistory> = match &config.history.path {
        Some(path) => match JsonLinesHistory::open(path) {
            Ok(h) => Arc::new(h),
            Err(e) => return fail(&e.to_string(), 2),
        },
        None => Arc::new(
            config
                .history
                .capacity
                .map_or_else(InMemoryHistory::new, InMemoryHistory::with_capacity),
        ),
    };

    let logged: Arc<dyn SyncHistory> = Arc::new(LoggedHistory(Arc::clone(&history)));
    let recording = RecordingProvisioner::new(provisioner, logged)
        .record_reads(config.history.record_reads)
        .on_record_error(|e| warn!(error = %e, "a sync history entry could not be recorded"));
    let mut tokens = BearerTokens::new();
    for (name, token) in &tenants {
        tokens = tokens.with_token(token.clone(), name.clone());
    }
    let mut builder = ScimService::builder(Arc::new(recording))
        .authenticator(Arc::new(tokens))
        .max_payload_size(MAX_PAYLOAD);
    if let Some(url) = &args.public_url {
        builder = builder.public_url(url.clone());
    }
    let app = App {
        scim: builder.build(),
        history,
        admin: Arc::new(BearerTokens::new().with_token(admin_token, "admin")),
    };
    let router = Router::new()
        .route("/admin/history", get(admin_history))
        .fallback(scim)
        .with_state(app);

    let listener = match TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", args.bind), 1),
    };
    let local: SocketAddr = listener.local_addr().unwrap_or(args.bind);
    println!("provisioning into {described}");
    // Tests and scripts read this line to find the port when binding to port 0.
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

/// The provisioner for `target`, and how to name the target in messages (never with
/// credentials).
fn build_provisioner(
    target: &Target,
    policy: &SyncPolicy,
) -> Result<(AtlassianProvisioner, String), String> {
    let observer = Arc::new(HistoryObserver::new().then(Arc::new(LogCalls)));
    let http = |timeout: &Duration| -> Result<Arc<dyn scim_core::HttpClient>, String> {
        ReqwestClient::new(*timeout)
            .map(|c| Arc::new(c) as Arc<dyn scim_core::HttpClient>)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    };
    let (builder, described) = match target {
        Target::Simulator => {
            let credentials = Credentials::bearer("simulator-pat");
            let sim = Arc::new(JiraSimulator::new(credentials.clone()));
            (
                AtlassianProvisioner::jira(SIMULATOR_URL, credentials).client(sim),
                "the in-process Jira simulator".to_owned(),
            )
        }
        Target::JiraDc {
            url,
            credentials,
            timeout,
        } => (
            AtlassianProvisioner::jira(url.clone(), credentials.clone()).client(http(timeout)?),
            format!("Jira Data Center at {url}"),
        ),
        Target::CrowdSimulator => {
            let credentials = Credentials::basic("simulator-app", "simulator-secret");
            let sim = Arc::new(CrowdSimulator::new(credentials.clone()));
            (
                AtlassianProvisioner::crowd(SIMULATOR_URL, credentials).client(sim),
                "the in-process Crowd simulator".to_owned(),
            )
        }
        Target::BitbucketSimulator { login_groups } => {
            let credentials = Credentials::bearer("simulator-pat");
            let sim = Arc::new(BitbucketSimulator::new(credentials.clone()));
            for g in login_groups {
                // The simulator starts with stash-users only: other login groups get the
                // licence they would hold in a real Bitbucket.
                if sim.add_group(g) {
                    sim.grant_group(g, "LICENSED_USER");
                }
            }
            (
                AtlassianProvisioner::bitbucket(SIMULATOR_URL, credentials)
                    .client(sim)
                    .login_groups(login_groups.clone()),
                "the in-process Bitbucket simulator".to_owned(),
            )
        }
        Target::BitbucketDc {
            url,
            credentials,
            timeout,
            login_groups,
            discover_login_groups,
        } => (
            AtlassianProvisioner::bitbucket(url.clone(), credentials.clone())
                .client(http(timeout)?)
                .login_groups(login_groups.clone())
                .discover_login_groups(*discover_login_groups),
            format!("Bitbucket Data Center at {url}"),
        ),
        Target::ConfluenceSimulator => {
            let admin = Credentials::bearer("simulator-pat");
            let app = Credentials::basic("simulator-app", "simulator-secret");
            let sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
            (
                AtlassianProvisioner::confluence(SIMULATOR_URL, admin)
                    .client(sim)
                    .embedded_crowd(app),
                "the in-process Confluence simulator".to_owned(),
            )
        }
        Target::ConfluenceDc {
            url,
            credentials,
            application,
            timeout,
        } => (
            AtlassianProvisioner::confluence(url.clone(), credentials.clone())
                .client(http(timeout)?)
                .embedded_crowd(application.clone()),
            format!("Confluence Data Center at {url}"),
        ),
        Target::Crowd {
            url,
            credentials,
            timeout,
        } => (
            AtlassianProvisioner::crowd(url.clone(), credentials.clone()).client(http(timeout)?),
            format!("Crowd at {url}"),
        ),
    };
    let built = builder
        .sleeper(Arc::new(TokioSleeper))
        .observer(observer)
        .policy(policy.clone())
        .build()
        .map(|p| (p, described));
    built.map_err(|e| format!("target: {e}"))
}

/// `--test-connection`: says what works or exactly what does not.
async fn test_connection(p: &AtlassianProvisioner, described: &str) -> std::process::ExitCode {
    match p.test_connection().await {
        Ok(name) => {
            println!(
                "test-connection OK: {described} answers, accepts the credentials ({name:?}) \
                 and grants them what provisioning needs"
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            let hint = match &e {
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
async fn scim(State(app): State<App>, request: Request) -> Response<Body> {
    serve_scim(&app.scim, request).await
}

/// `GET /admin/history?tenant=&since=&limit=`: the newest entries first, as a JSON array.
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

async fn admin_history_reply(app: &App, parts: &axum::http::request::Parts) -> Response<Body> {
    if app.admin.authenticate(parts).await.is_err() {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "send the admin token as `Authorization: Bearer <token>` (SCIM tokens are not accepted here)",
        );
    }
    let query = parts.uri.query();
    let mut q = HistoryQuery::new().limit(DEFAULT_LIST_LIMIT);
    if let Some(tenant) = query_param(query, "tenant") {
        q = q.tenant(tenant);
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

/// Retries wait on tokio's timer instead of the library's default helper thread.
struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
