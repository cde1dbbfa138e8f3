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

use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{
    BearerTokens, Group, HttpClient, HttpError, Member, MultiValue, ScimService, User,
};
use scim_examples::bridge::Env;
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
    let all: Vec<&str> = ["--source", "file", "--file", export]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    run_with(&all, &no_env, Arc::new(NoHttp)).await
}

/// Runs `sync` with `args`, `env` and `http`: its exit and what it printed.
async fn run_with(args: &[&str], env: Env<'_>, http: Arc<dyn HttpClient>) -> (Exit, String) {
    let args = SyncArgs::parse(args.iter().map(|s| (*s).to_owned()), env)
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let exit = run(&args, env, http, &mut out).await.unwrap();
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
    // Each run records the product calls it made: the first wrote, the second only read.
    let runs: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let calls = |run: &serde_json::Value| -> Vec<String> {
        run["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["call"].as_str().unwrap().to_owned())
            .collect()
    };
    let (first, second) = (calls(&runs[0]), calls(&runs[1]));
    assert!(first.iter().any(|c| c == "POST /user"), "{first:?}");
    assert!(!second.is_empty(), "the no-op run read the product");
    assert!(
        second.iter().all(|c| c.starts_with("GET ")),
        "a no-op resync makes read calls only: {second:?}"
    );
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

#[test]
fn the_binary_runs_the_inactive_user_cleanup() {
    // A simulated Crowd: its login records are read, and an empty directory plans nothing.
    let dir = temp_dir("inactive");
    let config = dir.join("bridge.toml");
    std::fs::write(&config, "[target]\ntype = \"crowd\"\n").unwrap();
    let done = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args([
            "--inactive-days",
            "90",
            "--exclude",
            "^svc-",
            "--simulate",
            "--target",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        stdout.contains("inactive-user cleanup (90 days) of the in-process Crowd simulator"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");

    let dry = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args([
            "--inactive-days",
            "30",
            "--dry-run",
            "--simulate",
            "--target",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}");
    assert!(stdout.contains("dry run: nothing written"), "{stdout}");

    // Bitbucket (its admin user listing) and Cloud (the organizations API, which the
    // simulated Cloud target is configured with) tell logins too.
    for (kind, named) in [
        ("bitbucket-dc", "the in-process Bitbucket simulator"),
        ("cloud", "the in-process Atlassian Cloud simulator"),
    ] {
        std::fs::write(&config, format!("[target]\ntype = \"{kind}\"\n")).unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_sync"))
            .args(["--inactive-days", "90", "--simulate", "--target"])
            .arg(&config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{kind}: {stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            stdout.contains(&format!("inactive-user cleanup (90 days) of {named}"))
                && stdout.contains("nothing to do"),
            "{stdout}"
        );
    }

    // On a schedule, each run recorded in the configuration's history.
    let history = dir.join("history.jsonl");
    std::fs::write(
        &config,
        format!(
            "[target]\ntype = \"crowd\"\n[history]\npath = \"{}\"\n",
            history.display()
        ),
    )
    .unwrap();
    let every = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args([
            "--inactive-days",
            "30",
            "--every",
            "1s",
            "--max-runs",
            "2",
            "--tenant",
            "idle",
            "--simulate",
            "--target",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&every.stdout);
    assert!(every.status.success(), "{stdout}");
    assert_eq!(
        stdout.matches("inactive-user cleanup (30 days)").count(),
        2,
        "{stdout}"
    );
    let recorded = std::fs::read_to_string(&history).unwrap();
    let runs: Vec<&str> = recorded
        .lines()
        .filter(|l| l.contains("\"method\":\"CLEANUP\""))
        .collect();
    assert_eq!(runs.len(), 2, "{recorded}");
    assert!(
        runs.iter().all(|l| l.contains("\"tenant\":\"idle\"")),
        "{recorded}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args(["--inactive-days", "0", "--target", "simulate"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not a positive number of days"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The example server's service, answering in process; with `lose_groups`, a broken IdP
/// whose group listings after the first come back empty.
struct InProcess {
    service: ScimService,
    lose_groups: bool,
    group_listings: std::sync::atomic::AtomicUsize,
}

impl InProcess {
    fn new(service: ScimService, lose_groups: bool) -> Self {
        InProcess {
            service,
            lose_groups,
            group_listings: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// `idp` as a SCIM server taking token `idp-token` (see [`InProcess`] for `lose_groups`).
fn serve(idp: Arc<InMemoryProvisioner>, lose_groups: bool) -> Arc<dyn HttpClient> {
    let service = ScimService::builder(idp)
        .authenticator(Arc::new(BearerTokens::new().with_token("idp-token", "idp")))
        .build();
    Arc::new(InProcess::new(service, lose_groups))
}

/// The arguments syncing from the SCIM source [`serve`] answers as, into the simulator.
const SCIM_SOURCE: [&str; 6] = [
    "--source",
    "scim",
    "--source-url",
    "http://idp.test/scim/v2",
    "--target",
    "simulate",
];

#[async_trait::async_trait]
impl HttpClient for InProcess {
    async fn send(
        &self,
        request: axum::http::Request<Vec<u8>>,
    ) -> Result<axum::http::Response<Vec<u8>>, HttpError> {
        let listed_before = request.uri().path().ends_with("/Groups")
            && self
                .group_listings
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                > 0;
        if self.lose_groups && listed_before {
            let empty = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "startIndex": 1,
                "itemsPerPage": 0,
                "Resources": [],
            });
            return Ok(axum::http::Response::builder()
                .status(200)
                .header("content-type", "application/scim+json")
                .body(serde_json::to_vec(&empty).unwrap())
                .unwrap());
        }
        Ok(self.service.handle(request).await)
    }
}

#[tokio::test]
async fn a_scim_source_syncs_with_its_bearer_token() {
    let idp = Arc::new(InMemoryProvisioner::new());
    let ctx = RequestContext::new("idp");
    let mut ids = Vec::new();
    for name in ["dana", "eve", "frank"] {
        let mut u = User::new(name);
        u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
        ids.push(idp.create_user(&ctx, u).await.unwrap().id.unwrap());
    }
    let mut g = Group::new("staff");
    g.members = ids
        .iter()
        .take(2)
        .map(|id| Member::new(id.clone()))
        .collect();
    idp.create_group(&ctx, g).await.unwrap();
    let http = serve(idp, false);
    let source = SCIM_SOURCE;
    let env = |var: &str| (var == "SYNC_SOURCE_TOKEN").then(|| "idp-token".to_owned());
    let scheduled: Vec<&str> = source
        .into_iter()
        .chain(["--every", "1s", "--max-runs", "2"])
        .collect();
    let (exit, out) = run_with(&scheduled, &env, http.clone()).await;
    assert_eq!(exit, Exit::Ok, "{out}");
    assert!(
        out.contains("+ create group staff with 2 members: dana, eve"),
        "{out}"
    );
    assert!(
        out.contains("nothing to do: the target's 3 users match"),
        "{out}"
    );

    // A wrong token is a failed run with the source's status, not a wiped target.
    let wrong = |var: &str| (var == "SYNC_SOURCE_TOKEN").then(|| "nope".to_owned());
    let (exit, out) = run_with(&source, &wrong, http).await;
    assert_eq!(exit, Exit::Failed, "{out}");
    assert!(out.contains("sync failed: SCIM source"), "{out}");
    assert!(out.contains("401"), "{out}");
    assert!(!out.contains("nope"), "the token is never shown: {out}");
}

/// An IdP with users dana and eve in groups eng, ops and sales, served by a client that
/// loses the groups after the first run.
async fn idp_losing_groups() -> Arc<dyn HttpClient> {
    let idp = Arc::new(InMemoryProvisioner::new());
    let ctx = RequestContext::new("idp");
    let mut ids = Vec::new();
    for name in ["dana", "eve"] {
        let mut u = User::new(name);
        u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
        ids.push(idp.create_user(&ctx, u).await.unwrap().id.unwrap());
    }
    for name in ["eng", "ops", "sales"] {
        let mut g = Group::new(name);
        g.members = ids.iter().map(|id| Member::new(id.clone())).collect();
        idp.create_group(&ctx, g).await.unwrap();
    }
    serve(idp, true)
}

#[tokio::test]
async fn a_source_that_loses_its_groups_is_refused_with_exit_3_unless_forced() {
    let dir = temp_dir("groups");
    let state = dir.join("groups.json");
    let state = state.to_str().unwrap();
    let args = |extra: &'static [&'static str]| -> Vec<&str> {
        SCIM_SOURCE
            .into_iter()
            .chain(["--every", "1s", "--max-runs", "2", "--state", state])
            .chain(extra.iter().copied())
            .collect()
    };
    let env = |var: &str| (var == "SYNC_SOURCE_TOKEN").then(|| "idp-token".to_owned());

    let (exit, out) = run_with(&args(&[]), &env, idp_losing_groups().await).await;
    assert_eq!(exit, Exit::Refused, "{out}");
    assert!(out.contains("+ create group ops with 2 members"), "{out}");
    assert!(
        out.contains(
            "refusing to apply: the plan would delete 3 of the target's 3 groups (eng, ops, \
             sales), more than the limit of 0 (10%)"
        ),
        "{out}"
    );
    let recorded = std::fs::read_to_string(dir.join("groups.json")).unwrap();
    assert!(recorded.contains("\"ops\""), "{recorded}");

    let (exit, out) = run_with(&args(&["--force"]), &env, idp_losing_groups().await).await;
    assert_eq!(exit, Exit::Ok, "{out}");
    assert!(out.contains("- delete group ops ("), "{out}");
    assert!(out.contains("applied: 3 done, 0 failed"), "{out}");
}
