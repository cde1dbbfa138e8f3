//! `own-app`: the "add SCIM to your own app" example (README): an application with its own
//! SQLite users and teams, its own route `GET /api/users?org=ORG`, and SCIM 2.0 at `/scim/v2`
//! provisioning the organisation `--org` (default `acme`) with the bearer token `--token`.
//!
//! ```text
//! cargo run -p scim-examples --bin own-app -- --token TOKEN [--bind 127.0.0.1:8082] [--db sqlite://./own-app.db] [--org acme]
//! ```

use scim_examples::glue::{init_tracing, shutdown_signal};
use scim_examples::{Flags, parse_bind, random_token};
use tokio::net::TcpListener;

const USAGE: &str = "\
usage: own-app [--bind ADDR] [--token TOKEN] [--db sqlite://PATH] [--org NAME]

  --bind ADDR     address to listen on (default 127.0.0.1:8082)
  --token TOKEN   the identity provider's bearer token (default: generated and printed)
  --db URL        the app's SQLite database (default sqlite://./own-app.db; sqlite::memory:
                  keeps nothing)
  --org NAME      the organisation SCIM provisions (default acme)
  -h, --help      this text";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut bind = "127.0.0.1:8082".to_owned();
    let (mut token, mut db, mut org) =
        (None, "sqlite://./own-app.db".to_owned(), "acme".to_owned());
    let mut flags = Flags::new(std::env::args().skip(1));
    while let Some(flag) = flags.next_flag() {
        let value = match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return std::process::ExitCode::SUCCESS;
            }
            "--bind" | "--token" | "--db" | "--org" => flags.value(&flag),
            other => Err(format!("unknown argument {other:?}")),
        };
        match (flag.as_str(), value) {
            (_, Err(why)) => return usage_error(&why),
            ("--bind", Ok(v)) => bind = v,
            ("--token", Ok(v)) => token = Some(v),
            ("--db", Ok(v)) => db = v,
            (_, Ok(v)) => org = v,
        }
    }
    let addr = match parse_bind(&bind) {
        Ok(a) => a,
        Err(why) => return usage_error(&why),
    };
    init_tracing();
    let token = token.filter(|t| !t.is_empty()).unwrap_or_else(|| {
        let t = random_token();
        println!("generated bearer token: {t}");
        t
    });
    let pool = match scim_examples::own_app::open(&db).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("own-app: cannot open {db}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let router = scim_examples::own_app::with_scim(pool, &token, &org);
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("own-app: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    // Tests and scripts read this line to find the port when binding to port 0.
    println!("listening on http://{local} (the app at /api/users, SCIM 2.0 at /scim/v2)");
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("own-app: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

fn usage_error(why: &str) -> std::process::ExitCode {
    eprintln!("own-app: {why}\n\n{USAGE}");
    std::process::ExitCode::from(2)
}
