//! scim-sync's runners over the SQL run lock: instances sharing one database run a tenant once
//! at a time, take over expired leases, and release what they hold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use scim_core::{Group, User};
use scim_provisioning::history::{HistoryQuery, SyncHistory};
use scim_sql::{SqlHistory, SqlProvisioner, SqlRunLock};
use scim_sync::plan::Progress;
use scim_sync::source::SourcePage;
use scim_sync::{
    Cursor, DirectorySource, FileSource, RunLock, RunOutcome, Runner, Step, SyncError,
};

const CSV: &str =
    "userName,email,groups\nalice,alice@example.com,eng\nbob,bob@example.com,eng;ops\n";

struct Quiet;
impl Progress for Quiet {
    fn step_finished(&self, _: &Step, _: bool, _: usize, _: usize) {}
}

fn ran(outcome: &RunOutcome) -> &scim_sync::RunSummary {
    match outcome {
        RunOutcome::Ran(s) => s,
        other => panic!("expected a run, got {other:?}"),
    }
}

/// One instance: its own connection pool to the shared database, its lock and its runner.
struct Instance {
    db: SqlProvisioner,
    lock: Arc<SqlRunLock>,
    runner: Runner,
}

impl Instance {
    fn new(db: SqlProvisioner, holder: &str) -> Self {
        let lock = Arc::new(SqlRunLock::new(&db));
        let runner = Runner::builder()
            .lock(lock.clone())
            .history(Arc::new(SqlHistory::new(&db)))
            .holder(holder)
            .build();
        Instance { db, lock, runner }
    }
}

/// A source that, while instance A's run reads it, has instance B try the same tenant and
/// another one.
struct WhileRunning<'a> {
    inner: FileSource,
    other: &'a Instance,
    tenant: &'a str,
    elsewhere: &'a str,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl DirectorySource for WhileRunning<'_> {
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError> {
        if cursor.is_none() {
            let source = FileSource::from_csv_str(CSV).unwrap();
            let runner = &self.other.runner;
            let same = runner
                .run_once(self.tenant, &source, &self.other.db, &Quiet)
                .await;
            let elsewhere = runner
                .run_once(self.elsewhere, &source, &self.other.db, &Quiet)
                .await;
            self.seen.lock().unwrap().extend([
                format!("{:?}", same.map(|o| matches!(o, RunOutcome::Skipped))),
                format!("{:?}", elsewhere.map(|o| matches!(o, RunOutcome::Ran(_)))),
            ]);
        }
        self.inner.users_page(cursor).await
    }

    async fn groups_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<Group>, SyncError> {
        self.inner.groups_page(cursor).await
    }
}

async fn two_runners(a: &Instance, b: &Instance, tenant: &str) {
    let elsewhere = format!("{tenant}-elsewhere");
    let source = WhileRunning {
        inner: FileSource::from_csv_str(CSV).unwrap(),
        other: b,
        tenant,
        elsewhere: &elsewhere,
        seen: Mutex::new(Vec::new()),
    };
    let first = a
        .runner
        .run_once(tenant, &source, &a.db, &Quiet)
        .await
        .unwrap();
    assert_eq!(ran(&first).plan.summary().create_users, 2);
    assert_eq!(
        *source.seen.lock().unwrap(),
        ["Ok(true)", "Ok(true)"],
        "B skipped the tenant A was running, and ran another one meanwhile"
    );

    // A released its lease: B runs the tenant now, and finds A's writes in the shared database.
    let plain = FileSource::from_csv_str(CSV).unwrap();
    let second = b
        .runner
        .run_once(tenant, &plain, &b.db, &Quiet)
        .await
        .unwrap();
    assert!(ran(&second).plan.is_empty(), "{}", ran(&second).plan);

    // Both runs are in the shared history, whichever instance reads it.
    let entries = SqlHistory::new(&a.db)
        .list(&HistoryQuery::new().tenant(tenant))
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e.operation.method == "SYNC"));

    // A crashed runner's lease blocks the tenant until it expires, then is taken over. Long
    // enough that B's run starts before it expires even on a loaded machine (at 50 ms it
    // sometimes expired first under a load average of 11 on 2 cores).
    let stale = a
        .lock
        .as_ref()
        .try_acquire_lease(tenant, "crashed", Duration::from_millis(750))
        .await;
    let blocked = b
        .runner
        .run_once(tenant, &plain, &b.db, &Quiet)
        .await
        .unwrap();
    assert!(matches!(blocked, RunOutcome::Skipped), "{blocked:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let taken = RunLock::try_acquire(b.lock.as_ref(), tenant, "host-b", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    // The crashed runner coming back and releasing its old lease does not free the tenant.
    RunLock::release(a.lock.as_ref(), &stale).await.unwrap();
    let still = a
        .runner
        .run_once(tenant, &plain, &a.db, &Quiet)
        .await
        .unwrap();
    assert!(matches!(still, RunOutcome::Skipped), "{still:?}");
    // The holder's release frees it.
    RunLock::release(b.lock.as_ref(), &taken).await.unwrap();
    let after = a
        .runner
        .run_once(tenant, &plain, &a.db, &Quiet)
        .await
        .unwrap();
    ran(&after);

    // A live lease blocks even a runner of the same name (runners may share one).
    let held = RunLock::try_acquire(a.lock.as_ref(), tenant, "same", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        RunLock::try_acquire(b.lock.as_ref(), tenant, "same", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    RunLock::release(b.lock.as_ref(), &held).await.unwrap();
    assert!(
        RunLock::try_acquire(a.lock.as_ref(), tenant, "other", Duration::from_secs(60))
            .await
            .unwrap()
            .is_some()
    );
}

/// Takes a lease through scim-sync's trait (the helper keeps the test's lines short).
trait AcquireLease {
    async fn try_acquire_lease(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> scim_sync::Lease;
}

impl AcquireLease for SqlRunLock {
    async fn try_acquire_lease(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> scim_sync::Lease {
        RunLock::try_acquire(self, tenant, holder, ttl)
            .await
            .unwrap()
            .expect("the tenant is free")
    }
}

#[tokio::test]
async fn sqlite_two_runners_share_one_run_lock() {
    // Two pools on one file: two instances as far as SQLite is concerned.
    let url = common::temp_sqlite_url("run-lock");
    let a = Instance::new(SqlProvisioner::connect(&url).await.unwrap(), "host-a");
    let b = Instance::new(SqlProvisioner::connect(&url).await.unwrap(), "host-b");
    two_runners(&a, &b, "acme").await;
}

#[tokio::test]
async fn postgres_two_runners_share_one_run_lock() {
    let Some(pa) = common::postgres("postgres_two_runners_share_one_run_lock").await else {
        return;
    };
    let pb = common::postgres("postgres_two_runners_share_one_run_lock")
        .await
        .unwrap();
    let a = Instance::new(pa, "host-a");
    let b = Instance::new(pb, "host-b");
    two_runners(&a, &b, &common::unique("runners")).await;
}

#[tokio::test]
async fn a_ttl_out_of_range_is_refused() {
    let p = common::sqlite().await;
    let lock = SqlRunLock::new(&p);
    let err = RunLock::try_acquire(&lock, "t", "h", Duration::MAX)
        .await
        .unwrap_err();
    assert!(matches!(err, scim_sync::LockError::Ttl(_)), "{err}");
}
