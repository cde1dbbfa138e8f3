//! `scim-server`: SCIM 2.0 (at `/scim/v2`) and SCIM 1.1 (at `/scim/v1`) over axum and tokio,
//! backed by scim-sql: a SQLite file (`./scim.db` unless `--db` says otherwise, created and
//! migrated on first start, so data survives restarts), PostgreSQL (`--db postgres://...`), or the
//! in-memory reference provisioner (`--db memory`).
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

use axum::Router;
use scim_core::provision::{InMemoryProvisioner, Provisioner};
use scim_core::{BearerTokens, ScimService};
use scim_examples::glue::{MAX_PAYLOAD, init_tracing, shutdown_signal};
use scim_examples::{Args, random_token};
use tokio::net::TcpListener;
use tracing::info;

const TENANT: &str = "default";

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
    init_tracing();

    let token = if let Some(t) = args.token {
        t
    } else {
        let t = random_token();
        // Printed once, for the person who started the server; never sent to the log.
        println!("generated bearer token: {t}");
        t
    };
    let backend: Arc<dyn Provisioner> = if args.db == "memory" {
        Arc::new(InMemoryProvisioner::new())
    } else {
        match scim_sql::SqlProvisioner::connect(&args.db).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                eprintln!(
                    "scim-server: cannot open the database {}: {e}",
                    scim_examples::redact_url(&args.db)
                );
                return std::process::ExitCode::FAILURE;
            }
        }
    };
    info!(db = %scim_examples::redact_url(&args.db), "scim-server storage");
    let mut builder = ScimService::builder(backend)
        .authenticator(Arc::new(BearerTokens::new().with_token(token, TENANT)))
        .max_payload_size(MAX_PAYLOAD);
    if let Some(url) = &args.public_url {
        builder = builder.public_url(url.clone());
    }
    // Every request goes to the SCIM service: routing, authentication, body limits, request
    // logs and errors are its job.
    let router = Router::new().fallback_service(builder.build().into_service());

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
