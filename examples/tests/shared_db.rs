//! Several instances over one database (`--db` or `[history] db`): bridges share the sync
//! history, and `sync` runs a tenant under the database's run lock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes,
    missing_docs
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Server;
use scim_atlassian::history::{HistoryQuery, SyncHistory};
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{BearerTokens, HttpClient, HttpError, MultiValue, ScimService, User};
use scim_examples::shared::SharedDb;
use scim_examples::sync::{Exit, SyncArgs, run};
use scim_sync::RunLock;

const ADMIN: &str = "admin-token-for-tests";
const SCIM: &str = "entra-scim-token";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scim-shared-db-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("shared.db").display())
}

/// A bridge configuration with one tenant and `history` as its `[history]` section's body.
fn config(dir: &Path, name: &str, history: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "admin_token = \"{ADMIN}\"\n\n[[tenants]]\nname = \"entra\"\ntoken = \"{SCIM}\"\n\n\
         [history]\n{history}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn bridge(config: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.arg("--simulate")
        .arg("--config")
        .arg(config)
        .args(extra);
    Server::start(cmd)
}

fn create_user(server: &Server, name: &str) {
    let body = format!(r#"{{"userName":"{name}","emails":[{{"value":"{name}@example.com"}}]}}"#);
    let r = server.request("POST", "/scim/v2/Users", Some(SCIM), Some(&body));
    assert_eq!(r.status, 201, "{}", r.body);
}

/// The `(method, resource type)` of the tenant's history entries, newest first.
fn history(server: &Server) -> Vec<(String, String)> {
    let r = server.request("GET", "/admin/history?tenant=entra", Some(ADMIN), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operation"]["method"].as_str().unwrap().to_owned(),
                e["operation"]["resourceType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_bridges_on_one_sqlite_file_share_the_history() {
    let dir = temp_dir("bridges");
    let url = sqlite_url(&dir);
    // One instance takes the database from its file, the other from `--db`, which overrides
    // its file's `path`.
    let a = bridge(&config(&dir, "a.toml", &format!("db = \"{url}\"")), &[]);
    let b_config = config(
        &dir,
        "b.toml",
        &format!("path = \"{}\"", dir.join("b.jsonl").display()),
    );
    let b = bridge(&b_config, &["--db", &url]);

    create_user(&a, "alice");
    let seen_by_b = history(&b);
    assert_eq!(seen_by_b.len(), 1, "{seen_by_b:?}");
    assert_eq!(seen_by_b[0].0, "POST");
    create_user(&b, "bob");
    assert_eq!(history(&a), history(&b), "both read the one history");
    assert_eq!(history(&a).len(), 2);
    assert!(
        !dir.join("b.jsonl").exists(),
        "--db replaced the file history"
    );
    for server in [a, b] {
        let (clean, _) = server.stop();
        assert!(clean);
    }
}

#[test]
fn history_path_and_db_together_are_refused() {
    let dir = temp_dir("both");
    let config = config(
        &dir,
        "bridge.toml",
        &format!("path = \"h.jsonl\"\ndb = \"{}\"", sqlite_url(&dir)),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"))
        .arg("--simulate")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not both"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An identity provider's SCIM API that, on the sync's first read (its run under way), tries
/// to take the tenant's lease as another instance would.
struct Probe {
    idp: ScimService,
    db: SharedDb,
    tenant: String,
    taken_meanwhile: Mutex<Option<bool>>,
}

#[async_trait::async_trait]
impl HttpClient for Probe {
    async fn send(
        &self,
        request: axum::http::Request<Vec<u8>>,
    ) -> Result<axum::http::Response<Vec<u8>>, HttpError> {
        if self.taken_meanwhile.lock().unwrap().is_none() {
            let lease = RunLock::try_acquire(
                self.db.lock.as_ref(),
                &self.tenant,
                "probe",
                Duration::from_secs(60),
            )
            .await
            .unwrap();
            *self.taken_meanwhile.lock().unwrap() = Some(lease.is_some());
        }
        Ok(self.idp.handle(request).await)
    }
}

#[tokio::test]
async fn sync_with_db_runs_under_the_shared_run_lock() {
    let dir = temp_dir("sync-lock");
    let url = sqlite_url(&dir);
    let db = SharedDb::open(&url).await.unwrap();
    let idp = Arc::new(InMemoryProvisioner::new());
    for name in ["dana", "eve"] {
        let mut user = User::new(name);
        user.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
        idp.create_user(&RequestContext::new("idp"), user)
            .await
            .unwrap();
    }
    let probe = Arc::new(Probe {
        idp: ScimService::builder(idp)
            .authenticator(Arc::new(BearerTokens::new().with_token("idp-token", "idp")))
            .build(),
        db: db.clone(),
        tenant: "acme".to_owned(),
        taken_meanwhile: Mutex::new(None),
    });
    let env = |var: &str| (var == "SYNC_SOURCE_TOKEN").then(|| "idp-token".to_owned());
    let args = [
        "--source",
        "scim",
        "--source-url",
        "http://idp.test/scim/v2",
        "--target",
        "simulate",
        "--tenant",
        "acme",
        "--db",
        &url,
    ];
    let args = SyncArgs::parse(args.iter().map(|s| (*s).to_owned()), &env)
        .unwrap()
        .unwrap();
    let mut out = Vec::new();
    let exit = run(&args, &env, probe.clone(), &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(exit, Exit::Ok, "{out}");
    assert!(out.contains("applied: 2 done, 0 failed"), "{out}");
    assert_eq!(
        *probe.taken_meanwhile.lock().unwrap(),
        Some(false),
        "while sync ran, its lease in the database kept another instance out"
    );
    // Released after the run; the run's summary is in the shared history.
    let lease = RunLock::try_acquire(db.lock.as_ref(), "acme", "other", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the run released its lease");
    let entries = db
        .history
        .list(&HistoryQuery::new().tenant("acme"))
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].operation.method, "SYNC");

    // The binary, while another instance holds the tenant's lease, skips the run.
    let export = dir.join("export.csv");
    std::fs::write(&export, "userName,email\ncarol,carol@example.com\n").unwrap();
    let sync_binary = || {
        let done = Command::new(env!("CARGO_BIN_EXE_sync"))
            .args(["--source", "file", "--file"])
            .arg(&export)
            .args(["--target", "simulate", "--tenant", "acme", "--db", &url])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
        assert!(done.status.success(), "{stdout}");
        stdout
    };
    let stdout = sync_binary();
    assert!(
        stdout.contains("skipped: another run of acme is under way"),
        "{stdout}"
    );
    // So does its inactive-user cleanup, under the same tenant's lease.
    let crowd = dir.join("crowd.toml");
    std::fs::write(&crowd, "[target]\ntype = \"crowd\"\n").unwrap();
    let cleanup_binary = || {
        let done = Command::new(env!("CARGO_BIN_EXE_sync"))
            .args(["--inactive-days", "90", "--simulate", "--target"])
            .arg(&crowd)
            .args(["--tenant", "acme", "--db", &url])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
        assert!(done.status.success(), "{stdout}");
        stdout
    };
    let stdout = cleanup_binary();
    assert!(
        stdout.contains("skipped: another instance holds the run lock of tenant \"acme\""),
        "{stdout}"
    );
    // Once released, the binary runs and records its run where the first one is.
    RunLock::release(db.lock.as_ref(), &lease).await.unwrap();
    let stdout = cleanup_binary();
    assert!(stdout.contains("nothing to do"), "{stdout}");
    let stdout = sync_binary();
    assert!(stdout.contains("applied: 1 done, 0 failed"), "{stdout}");
    let entries = db
        .history
        .list(&HistoryQuery::new().tenant("acme"))
        .await
        .unwrap();
    // The sync runs and the cleanup run.
    assert_eq!(entries.len(), 3, "{entries:?}");
}
