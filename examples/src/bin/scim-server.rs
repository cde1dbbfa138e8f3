//! `scim-server`: SCIM 2.0 (at `/scim/v2`) and SCIM 1.1 (at `/scim/v1`) over axum and tokio,
//! backed by the in-memory reference provisioner.
//!
//! ```text
//! cargo run --release -p scim-examples --bin scim-server -- --bind 127.0.0.1:8080 --token TOKEN
//! ```
//!
//! The token also comes from `SCIM_TOKEN`; with neither, a random one is generated and printed
//! once on standard output (it is never logged). Logs go to standard error; `RUST_LOG` sets the
//! level (default `info`). Ctrl-C or SIGTERM stops it gracefully: requests in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use scim_core::provision::InMemoryProvisioner;
use scim_core::{BearerTokens, ScimError, ScimService};
use scim_examples::{Args, random_token};
use tokio::net::TcpListener;
use tracing::{info, warn};

const MAX_PAYLOAD: usize = 1024 * 1024;
const TENANT: &str = "default";

#[derive(Clone)]
struct App {
    scim: ScimService,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match Args::parse(std::env::args().skip(1), std::env::var("SCIM_TOKEN").ok()) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", Args::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("scim-server: {why}\n\n{}", Args::USAGE);
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let token = if let Some(t) = args.token {
        t
    } else {
        let t = random_token();
        // Printed once, for the person who started the server; never sent to the log.
        println!("generated bearer token: {t}");
        t
    };
    let mut builder = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
        .authenticator(Arc::new(BearerTokens::new().with_token(token, TENANT)))
        .max_payload_size(MAX_PAYLOAD);
    if let Some(url) = &args.public_url {
        builder = builder.public_url(url.clone());
    }
    let app = App {
        scim: builder.build(),
    };
    let router = Router::new().fallback(serve).with_state(app);

    let listener = match TcpListener::bind(args.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("scim-server: cannot listen on {}: {e}", args.bind);
            return std::process::ExitCode::FAILURE;
        }
    };
    let local: SocketAddr = listener.local_addr().unwrap_or(args.bind);
    // Tests and scripts read this line to find the port when binding to port 0.
    println!("listening on http://{local} (SCIM 2.0 at /scim/v2, SCIM 1.1 at /scim/v1)");
    info!(%local, "scim-server started");
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("scim-server: {e}");
        return std::process::ExitCode::FAILURE;
    }
    info!("scim-server stopped");
    std::process::ExitCode::SUCCESS
}

/// Every request goes to the SCIM service: routing, authentication and errors are its job.
async fn serve(State(app): State<App>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    // The path only: query strings can carry personal data (filters on userName).
    let path = parts.uri.path().to_owned();
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // One byte over the limit is enough to know the body is too large.
    let response = match axum::body::to_bytes(body, MAX_PAYLOAD + 1).await {
        Ok(bytes) => {
            let response = app
                .scim
                .handle(axum::http::Request::from_parts(parts, bytes))
                .await;
            response.map(Body::from)
        }
        Err(_) => too_large(),
    };
    let status = response.status();
    let elapsed_us = started.elapsed().as_micros();
    if status.is_server_error() {
        warn!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request failed");
    } else {
        info!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request");
    }
    response
}

fn too_large() -> Response<Body> {
    let err = ScimError::payload_too_large(format_args!(
        "the request body is larger than {MAX_PAYLOAD} bytes"
    ));
    let body = serde_json::to_vec(&err.to_body()).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    response
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutdown requested; finishing requests in flight");
}
