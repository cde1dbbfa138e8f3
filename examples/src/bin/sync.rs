//! `sync`: reconciles a directory (Keycloak, a SCIM server, a JSON/CSV export) into the
//! bridge's target under its `[policy]`, once or every few minutes. See `sync --help`.

use std::sync::Arc;
use std::time::Duration;

use scim_atlassian::ReqwestClient;
use scim_examples::sync::{Exit, SyncArgs, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let env = |var: &str| std::env::var(var).ok();
    let args = match SyncArgs::parse(std::env::args().skip(1), &env) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", SyncArgs::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sync: {e}\n\n{}", SyncArgs::USAGE);
            return std::process::ExitCode::from(2);
        }
    };
    let http = match ReqwestClient::new(Duration::from_secs(30)) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("sync: cannot build the HTTP client: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    match run(&args, &env, http, &mut out).await {
        Ok(Exit::Ok) => std::process::ExitCode::SUCCESS,
        Ok(Exit::Failed) => std::process::ExitCode::from(1),
        Ok(Exit::Refused) => std::process::ExitCode::from(3),
        Err(e) => {
            eprintln!("sync: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
