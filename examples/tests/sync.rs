//! The `sync` binary end to end: a file export into the simulated Jira under the bridge's
//! `[policy]`, dry run, schedule, history, and the safety rail's exit code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use scim_core::{HttpClient, HttpError};
use scim_examples::sync::{Exit, SyncArgs, run};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scim-sync-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const EXPORT: &str = "userName,email,groups\n\
    Alice@Example.com,alice@example.com,okta-eng\n\
    bob@example.com,bob@example.com,okta-eng;sales\n";

/// The file source never calls out.
struct NoHttp;

#[async_trait::async_trait]
impl HttpClient for NoHttp {
    async fn send(
        &self,
        _: axum::http::Request<Vec<u8>>,
    ) -> Result<axum::http::Response<Vec<u8>>, HttpError> {
        panic!("the file source made an HTTP call")
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Syncs the export at `export` with the further arguments `args`.
async fn sync(export: &std::path::Path, args: &[&str]) -> (Exit, String) {
    let export = export.to_str().unwrap();
    let first = ["--source", "file", "--file", export];
    let all = first.iter().chain(args);
    let args = SyncArgs::parse(all.map(|s| (*s).to_owned()), &no_env)
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let exit = run(&args, &no_env, Arc::new(NoHttp), &mut out)
        .await
        .unwrap();
    (exit, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn a_scheduled_sync_applies_the_bridge_policy_and_then_has_nothing_to_do() {
    let dir = temp_dir("policy");
    let export = dir.join("export.csv");
    std::fs::write(&export, EXPORT).unwrap();
    let history = dir.join("history.jsonl");
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        format!(
            "[history]\npath = {history:?}\n\n\
             [policy.groups]\ninclude = [\"^okta-\"]\n\n\
             [policy.group_name]\nrules = [{{ pattern = \"^okta-(.*)$\", replacement = \"jira-$1\" }}]\n\n\
             [policy.user_name]\nstrip_domain = true\nlowercase = true\n"
        ),
    )
    .unwrap();
    let (exit, out) = sync(
        &export,
        &[
            "--target",
            config.to_str().unwrap(),
            "--simulate",
            "--every",
            "1s",
            "--max-runs",
            "2",
        ],
    )
    .await;
    assert_eq!(exit, Exit::Ok, "{out}");
    assert!(out.contains("+ create user alice\n"), "{out}");
    assert!(
        out.contains("+ create group jira-eng with 2 members: alice, bob"),
        "{out}"
    );
    assert!(!out.contains("sales"), "filtered out by the policy: {out}");
    assert!(out.contains("applied: 3 done, 0 failed"), "{out}");
    assert!(
        out.contains("nothing to do: the target's 2 users match the source"),
        "the second run converged: {out}"
    );
    let lines = std::fs::read_to_string(&history).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains("\"no change\""), "{lines}");
}

#[tokio::test]
async fn a_dry_run_prints_the_plan() {
    let dir = temp_dir("dry");
    let export = dir.join("export.csv");
    std::fs::write(&export, EXPORT).unwrap();
    let (exit, out) = sync(&export, &["--target", "simulate", "--dry-run"]).await;
    assert_eq!(exit, Exit::Ok);
    assert!(out.contains("+ create user Alice@Example.com"), "{out}");
    assert!(out.contains("+ create group sales"), "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
}

#[test]
fn the_binary_runs_and_reports_bad_arguments() {
    let dir = temp_dir("binary");
    let export = dir.join("export.json");
    std::fs::write(
        &export,
        r#"{"users": [{"userName": "carol", "emails": [{"value": "carol@example.com"}]}]}"#,
    )
    .unwrap();
    let done = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args(["--source", "file", "--file"])
        .arg(&export)
        .args(["--target", "simulate"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{stdout}");
    assert!(stdout.contains("+ create user carol"), "{stdout}");
    assert!(stdout.contains("applied: 1 done, 0 failed"), "{stdout}");

    let bad = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args(["--source", "ldap", "--target", "simulate"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"ldap\" is not known"));
}
