//! The runner: one run at a time per tenant, history entries, progress, resuming, schedules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Counting, Quiet};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, RequestContext};
use scim_core::{Group, User};
use scim_provisioning::Sleeper;
use scim_provisioning::history::{HistoryQuery, InMemoryHistory, SyncHistory};
use scim_sync::source::SourcePage;
use scim_sync::{
    Cursor, DirectorySource, FileSource, InMemoryRunLock, RunLock, RunOutcome, Runner, SyncError,
};

const CSV: &str = "userName,email,groups\nalice,alice@example.com,eng\nbob,bob@example.com,eng;ops\ncarol,carol@example.com,ops\n";

fn ran(outcome: RunOutcome) -> Box<scim_sync::RunSummary> {
    match outcome {
        RunOutcome::Ran(s) => s,
        other => panic!("expected a run, got {other:?}"),
    }
}

#[test]
fn a_run_syncs_and_writes_one_history_entry() {
    let history = Arc::new(InMemoryHistory::new());
    let runner = Runner::builder().history(history.clone()).build();
    let target = InMemoryProvisioner::new();
    let source = FileSource::from_csv_str(CSV).unwrap();

    let summary = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert_eq!(summary.plan.summary().create_users, 3);
    assert_eq!(summary.report.as_ref().unwrap().failed, 0);
    assert_eq!(target.user_count("acme"), 3);
    let steps = summary.plan.steps().len();
    assert_eq!(runner.progress().get(), (steps, steps));

    let second = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert!(second.plan.is_empty(), "{}", second.plan);

    let entries = block_on(history.list(&HistoryQuery::new().tenant("acme"))).unwrap();
    assert_eq!(entries.len(), 2);
    // Newest first.
    assert_eq!(entries[0].changes, "no change");
    assert!(
        entries[1].changes.contains("users 3 to create"),
        "{}",
        entries[1].changes
    );
    assert!(entries.iter().all(|e| e.outcome.is_success()));
    assert_eq!(entries[0].operation.method, "SYNC");
}

#[test]
fn a_dry_run_writes_nothing_and_says_so() {
    let history = Arc::new(InMemoryHistory::new());
    let runner = Runner::builder()
        .history(history.clone())
        .dry_run(true)
        .build();
    let target = InMemoryProvisioner::new();
    let source = FileSource::from_csv_str(CSV).unwrap();
    let summary = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert!(summary.report.is_none());
    assert_eq!(summary.plan.summary().create_users, 3);
    assert_eq!(target.user_count("acme"), 0);
    let entries = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert!(
        entries[0].changes.starts_with("dry run: "),
        "{}",
        entries[0].changes
    );
}

#[test]
fn a_tenant_held_by_another_runner_is_skipped_and_other_tenants_run() {
    let lock = Arc::new(InMemoryRunLock::new());
    let runner = Runner::builder()
        .lock(lock.clone())
        .holder("host-a")
        .build();
    let held = block_on(lock.try_acquire("acme", "host-b", Duration::from_secs(60)))
        .unwrap()
        .unwrap();
    let target = InMemoryProvisioner::new();
    let source = FileSource::from_csv_str(CSV).unwrap();

    let outcome = block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap();
    assert!(matches!(outcome, RunOutcome::Skipped), "{outcome:?}");
    assert_eq!(target.user_count("acme"), 0, "a skipped run writes nothing");

    ran(block_on(runner.run_once("globex", &source, &target, &Quiet)).unwrap());
    assert_eq!(target.user_count("globex"), 3);

    block_on(lock.release(&held)).unwrap();
    ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert_eq!(target.user_count("acme"), 3);
}

/// A source that, while the run reads it, starts a second run of the same tenant.
struct Reentrant<'a> {
    inner: FileSource,
    runner: &'a Runner,
    target: &'a InMemoryProvisioner,
    nested: Mutex<Vec<String>>,
}

#[async_trait]
impl DirectorySource for Reentrant<'_> {
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError> {
        if cursor.is_none() {
            let other = FileSource::from_csv_str(CSV).unwrap();
            let same = self
                .runner
                .run_once("acme", &other, self.target, &Quiet)
                .await;
            let elsewhere = self
                .runner
                .run_once("globex", &other, self.target, &Quiet)
                .await;
            self.nested.lock().unwrap().extend([
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

#[test]
fn a_second_run_of_a_tenant_while_one_is_under_way_is_skipped() {
    let runner = Runner::builder().build();
    let target = InMemoryProvisioner::new();
    let source = Reentrant {
        inner: FileSource::from_csv_str(CSV).unwrap(),
        runner: &runner,
        target: &target,
        nested: Mutex::new(Vec::new()),
    };
    ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert_eq!(
        *source.nested.lock().unwrap(),
        ["Ok(true)", "Ok(true)"],
        "same tenant skipped, another tenant ran"
    );
    assert_eq!(
        target.user_count("acme"),
        3,
        "the skipped run duplicated nothing"
    );
    assert_eq!(target.user_count("globex"), 3);
}

#[test]
fn an_expired_lease_is_taken_over_and_its_late_release_changes_nothing() {
    let lock = InMemoryRunLock::new();
    let stale = block_on(lock.try_acquire("acme", "crashed", Duration::ZERO))
        .unwrap()
        .unwrap();
    let fresh = block_on(lock.try_acquire("acme", "host-a", Duration::from_secs(60)))
        .unwrap()
        .expect("an expired lease is taken over");
    assert_eq!(fresh.holder, "host-a");
    // The crashed runner coming back and releasing its old lease does not free the tenant.
    block_on(lock.release(&stale)).unwrap();
    assert!(
        block_on(lock.try_acquire("acme", "host-b", Duration::from_secs(60)))
            .unwrap()
            .is_none()
    );
    block_on(lock.release(&fresh)).unwrap();
    assert!(
        block_on(lock.try_acquire("acme", "host-b", Duration::from_secs(60)))
            .unwrap()
            .is_some()
    );
}

#[test]
fn an_interrupted_run_resumes_on_the_next_without_duplicates() {
    let history = Arc::new(InMemoryHistory::new());
    let runner = Runner::builder().history(history.clone()).build();
    let target = Counting::default();
    *target.fail_create.lock().unwrap() = Some("bob".into());
    let source = FileSource::from_csv_str(CSV).unwrap();

    let first = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert!(first.report.as_ref().unwrap().failed > 0);
    assert_eq!(
        runner.progress().failed(),
        first.report.as_ref().unwrap().failed
    );

    *target.fail_create.lock().unwrap() = None;
    let second = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert_eq!(second.plan.summary().create_users, 1, "{}", second.plan);
    assert_eq!(second.report.as_ref().unwrap().failed, 0);
    assert_eq!(target.inner.user_count("acme"), 3);
    assert_eq!(target.inner.group_count("acme"), 2);

    target.take();
    let third = ran(block_on(runner.run_once("acme", &source, &target, &Quiet)).unwrap());
    assert!(third.plan.is_empty(), "{}", third.plan);
    assert_eq!(target.take().1, 0, "a converged run writes nothing");

    let entries = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        !entries[2].outcome.is_success(),
        "the interrupted run is recorded as failed"
    );
    assert!(entries[1].outcome.is_success());
}

#[test]
fn a_run_refused_by_the_safety_rail_is_recorded_and_releases_the_lease() {
    let history = Arc::new(InMemoryHistory::new());
    let runner = Runner::builder().history(history.clone()).build();
    let target = InMemoryProvisioner::new();
    ran(block_on(runner.run_once(
        "acme",
        &FileSource::from_csv_str(CSV).unwrap(),
        &target,
        &Quiet,
    ))
    .unwrap());
    let empty = FileSource::from_csv_str("userName,email\n").unwrap();
    let err = block_on(runner.run_once("acme", &empty, &target, &Quiet)).unwrap_err();
    assert!(matches!(err, SyncError::SafetyLimit { .. }), "{err}");
    assert_eq!(target.user_count("acme"), 3);
    let entries = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert!(!entries[0].outcome.is_success());

    // The lease was released: a forced runner sharing nothing else can run right away.
    let forced = Runner::builder().force(true).build();
    ran(block_on(forced.run_once("acme", &empty, &target, &Quiet)).unwrap());
    let active = block_on(scim_core::provision::Provisioner::scan_users(
        &target,
        &RequestContext::new("acme"),
        0,
        10,
    ))
    .unwrap()
    .iter()
    .filter(|u| u.active.unwrap_or(true))
    .count();
    assert_eq!(active, 0);
}

/// Counts sleeps instead of sleeping.
#[derive(Default)]
struct Sleeps(AtomicUsize, Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for Sleeps {
    async fn sleep(&self, duration: Duration) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.lock().unwrap().push(duration);
    }
}

#[test]
fn run_every_runs_until_told_to_stop_and_later_runs_change_nothing() {
    let runner = Runner::builder().build();
    let target = InMemoryProvisioner::new();
    let source = FileSource::from_csv_str(CSV).unwrap();
    let sleeps = Sleeps::default();
    let mut steps = Vec::new();
    block_on(runner.run_every(
        "acme",
        &source,
        &target,
        Duration::from_secs(900),
        &sleeps,
        &Quiet,
        |outcome| {
            if let Ok(RunOutcome::Ran(s)) = outcome {
                steps.push(s.plan.steps().len());
            }
            steps.len() < 3
        },
    ));
    assert_eq!(steps.len(), 3);
    assert!(steps[0] > 0);
    assert_eq!(&steps[1..], [0, 0]);
    assert_eq!(*sleeps.1.lock().unwrap(), [Duration::from_secs(900); 2]);
}
