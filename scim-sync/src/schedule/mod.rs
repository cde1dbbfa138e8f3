//! Scheduled syncs: a [`Runner`] syncs a tenant on demand or every few minutes, one run at a
//! time per tenant (a [`RunLock`]), reporting progress and writing a summary of each run to
//! the sync history.
//!
//! Runs resume by starting over: a run that was interrupted (a crash, a lost lease, a failed
//! write) left the target part way, and the next run plans from what the target has then, so
//! it does only what is left and never creates anything twice.

pub use scim_provisioning::{InMemoryRunLock, Lease, LockError, RunLock};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scim_core::provision::{Provisioner, RequestContext};
use scim_provisioning::Sleeper;
use scim_provisioning::history::{HistoryEntry, Operation, Outcome, SyncHistory, collect_calls};

use crate::plan::{ApplyReport, Plan, Progress, Step};
use crate::{DirectorySource, Reconciler, SyncError};

/// How long a run's lease lasts unless configured otherwise: longer than any sane run, short
/// enough that a crashed runner's tenant syncs again within the hour.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(3600);

/// [`Progress`] that keeps the counts for whoever polls them (a status page, a progress
/// bar on another task).
#[derive(Debug, Default)]
pub struct ProgressCounter {
    done: AtomicUsize,
    failed: AtomicUsize,
    total: AtomicUsize,
}

impl ProgressCounter {
    /// A counter at 0 of 0.
    pub fn new() -> Self {
        ProgressCounter::default()
    }

    /// `(done, total)`: steps finished (applied or failed) of the current run's plan.
    pub fn get(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// Steps of the current run that failed so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    fn start(&self, total: usize) {
        self.done.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
}

impl Progress for ProgressCounter {
    fn step_finished(&self, _step: &Step, ok: bool, done: usize, total: usize) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Passes each step to the caller's progress and to the runner's counter.
struct Both<'a>(&'a dyn Progress, &'a ProgressCounter);

impl Progress for Both<'_> {
    fn step_finished(&self, step: &Step, ok: bool, done: usize, total: usize) {
        self.0.step_finished(step, ok, done, total);
        self.1.step_finished(step, ok, done, total);
    }
}

/// What one run did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RunSummary {
    /// The tenant synced.
    pub tenant: String,
    /// The plan made (printed, it is the dry run).
    pub plan: Plan,
    /// What applying it did; `None` for a dry run.
    pub report: Option<ApplyReport>,
    /// When the run started.
    pub started: DateTime<Utc>,
    /// When it finished.
    pub finished: DateTime<Utc>,
}

impl RunSummary {
    /// The summary the sync history keeps: the plan's counts and how applying went.
    pub fn describe(&self) -> String {
        let planned = self.plan.summary();
        match &self.report {
            None => format!("dry run: {planned}"),
            Some(_) if self.plan.is_empty() => "no change".to_owned(),
            Some(r) => format!("{planned}; {} steps done, {} failed", r.done, r.failed),
        }
    }
}

/// How a call to [`Runner::run_once`] ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The run happened.
    Ran(Box<RunSummary>),
    /// Another run holds the tenant's lease; nothing was read or written.
    Skipped,
}

/// Syncs tenants from a source into a target: on demand ([`run_once`](Runner::run_once)) or
/// every so often ([`run_every`](Runner::run_every)), one run at a time per tenant.
///
/// Each run takes the tenant's lease from the [`RunLock`] (skipping the run when another holds
/// it), plans with its [`Reconciler`], applies the plan (unless a dry run) under the safety
/// rails (unless forced), which records the groups it manages in the reconciler's
/// [`GroupLedger`](crate::GroupLedger), releases the lease and writes one [`HistoryEntry`]
/// (operation `SYNC Directory`) summarising the run, failed or not.
#[derive(Clone)]
pub struct Runner {
    reconciler: Reconciler,
    lock: Arc<dyn RunLock>,
    history: Option<Arc<dyn SyncHistory>>,
    holder: String,
    lease_ttl: Duration,
    dry_run: bool,
    force: bool,
    progress: Arc<ProgressCounter>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("reconciler", &self.reconciler)
            .field("holder", &self.holder)
            .field("lease_ttl", &self.lease_ttl)
            .field("dry_run", &self.dry_run)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Runner`].
#[must_use]
pub struct RunnerBuilder {
    runner: Runner,
}

impl RunnerBuilder {
    /// Plans with `reconciler` (its options and policy).
    pub fn reconciler(mut self, reconciler: Reconciler) -> Self {
        self.runner.reconciler = reconciler;
        self
    }

    /// Serialises runs with `lock` (default: an [`InMemoryRunLock`] of this runner's own).
    pub fn lock(mut self, lock: Arc<dyn RunLock>) -> Self {
        self.runner.lock = lock;
        self
    }

    /// Writes a summary of each run to `history`.
    pub fn history(mut self, history: Arc<dyn SyncHistory>) -> Self {
        self.runner.history = Some(history);
        self
    }

    /// How leases name this runner (default `scim-sync`).
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.runner.holder = holder.into();
        self
    }

    /// How long a lease lasts (default [`DEFAULT_LEASE_TTL`]).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.runner.lease_ttl = ttl;
        self
    }

    /// Plan only, never write.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.runner.dry_run = dry_run;
        self
    }

    /// Apply plans that trip the safety rail.
    pub fn force(mut self, force: bool) -> Self {
        self.runner.force = force;
        self
    }

    /// The runner.
    pub fn build(self) -> Runner {
        self.runner
    }
}

impl Runner {
    /// A builder: default reconciler, an in-memory lock, no history, applying under the
    /// safety rail.
    pub fn builder() -> RunnerBuilder {
        RunnerBuilder {
            runner: Runner {
                reconciler: Reconciler::new(),
                lock: Arc::new(InMemoryRunLock::new()),
                history: None,
                holder: "scim-sync".to_owned(),
                lease_ttl: DEFAULT_LEASE_TTL,
                dry_run: false,
                force: false,
                progress: Arc::new(ProgressCounter::new()),
            },
        }
    }

    /// The progress of the run under way (or of the last one): steps done of total. One
    /// counter per runner: when one runner syncs several tenants at once, follow each run
    /// with the `progress` given to [`run_once`](Runner::run_once) instead.
    pub fn progress(&self) -> &ProgressCounter {
        &self.progress
    }

    /// Syncs `tenant` once, now, unless another run holds its lease.
    ///
    /// The lease is released and the history entry written whether the run succeeded or not;
    /// an error writing the history is returned after the run (whose writes are done).
    pub async fn run_once<S, P>(
        &self,
        tenant: &str,
        source: &S,
        target: &P,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, SyncError>
    where
        S: DirectorySource + ?Sized,
        P: Provisioner + ?Sized,
    {
        let Some(lease) = self
            .lock
            .try_acquire(tenant, &self.holder, self.lease_ttl)
            .await?
        else {
            return Ok(RunOutcome::Skipped);
        };
        let started = now();
        // The product calls a `HistoryObserver` in the target's client sees go into the
        // run's history entry, as they do for a push operation's.
        let (result, calls) =
            collect_calls(self.sync(tenant, source, target, progress, started)).await;
        let released = self.lock.release(&lease).await;
        if let Some(history) = &self.history {
            let request_id = format!("sync-{}-{}", self.holder, started.timestamp_millis());
            let entry = HistoryEntry::new(tenant, request_id, Operation::new("SYNC", "Directory"))
                .with_calls(calls);
            let entry = match &result {
                Ok(summary) => {
                    let failed = summary.report.as_ref().map_or(0, |r| r.failed);
                    let entry = entry.with_changes(summary.describe());
                    if failed == 0 {
                        entry
                    } else {
                        entry.with_outcome(Outcome::Failure {
                            status: 500,
                            scim_type: None,
                            detail: format!("{failed} steps failed; the next run retries them"),
                        })
                    }
                }
                Err(e) => entry.with_outcome(failure(e)),
            };
            history
                .record(entry)
                .await
                .map_err(|e| SyncError::History(e.to_string()))?;
        }
        released?;
        result.map(|s| RunOutcome::Ran(Box::new(s)))
    }

    /// Syncs `tenant` now and then every `every` (measured from the end of one run to the
    /// start of the next, so runs never pile up), until `after_run` returns `false`.
    ///
    /// `after_run` sees each run's outcome, errors included: a failed run does not stop the
    /// schedule unless `after_run` says so. `sleeper` waits between runs on the caller's
    /// executor.
    // The source, target and tenant of run_once, plus the schedule and a stop condition.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_every<S, P, F>(
        &self,
        tenant: &str,
        source: &S,
        target: &P,
        every: Duration,
        sleeper: &dyn Sleeper,
        progress: &dyn Progress,
        mut after_run: F,
    ) where
        S: DirectorySource + ?Sized,
        P: Provisioner + ?Sized,
        F: FnMut(&Result<RunOutcome, SyncError>) -> bool + Send,
    {
        loop {
            let outcome = self.run_once(tenant, source, target, progress).await;
            if !after_run(&outcome) {
                return;
            }
            sleeper.sleep(every).await;
        }
    }

    async fn sync<S, P>(
        &self,
        tenant: &str,
        source: &S,
        target: &P,
        progress: &dyn Progress,
        started: DateTime<Utc>,
    ) -> Result<RunSummary, SyncError>
    where
        S: DirectorySource + ?Sized,
        P: Provisioner + ?Sized,
    {
        let ctx = RequestContext::new(tenant);
        self.progress.start(0);
        let plan = self.reconciler.plan(source, target, &ctx).await?;
        self.progress.start(plan.steps().len());
        let report = if self.dry_run {
            None
        } else {
            let both = Both(progress, &self.progress);
            Some(
                plan.apply_with_progress(target, &ctx, self.force, &both)
                    .await?,
            )
        };
        Ok(RunSummary {
            tenant: tenant.to_owned(),
            plan,
            report,
            started,
            finished: now(),
        })
    }
}

/// The history outcome of a run that failed before or while applying.
pub(crate) fn failure(error: &SyncError) -> Outcome {
    match error {
        SyncError::Target(e) => Outcome::from_error(e),
        SyncError::SafetyLimit { .. } | SyncError::GroupSafetyLimit { .. } => Outcome::Failure {
            status: 409,
            scim_type: None,
            detail: error.to_string(),
        },
        _ => Outcome::Failure {
            status: 502,
            scim_type: None,
            detail: error.to_string(),
        },
    }
}

/// The wall-clock time now.
fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}
