//! The bridge's scheduled inactive-user cleanup (`[cleanup]` in its configuration): every so
//! often (`every`), or when an administrator starts a run from the admin page, the users of the
//! target who have not logged in for `inactive_days` days are deprovisioned per the bridge's
//! `[policy.deprovision]`, as `sync --inactive-days` does once: the same last-login data
//! (Crowd's `lastAuthenticated`; Jira and Confluence through their embedded Crowd API), the
//! same exclude list, the same safety rail (at most `max_fraction` of the users in one run,
//! default 10%) and dry run. Each run is one `CLEANUP` entry in the sync history (and each
//! deprovisioning its own entry); the admin page shows the last run.
//!
//! ```toml
//! [cleanup]
//! inactive_days = 90
//! every = "24h"
//! exclude = ["^admin$", "^svc-"]
//! dry_run = false
//! ```

use std::sync::Arc;
use std::time::Duration;

use scim_atlassian::AtlassianProvisioner;
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::history::{HistoryError, HistoryObserver, RecordingProvisioner, SyncHistory};
use scim_atlassian::policy::SyncPolicy;
use scim_core::provision::RequestContext;
use scim_sync::{CleanupMode, InactiveCleanup, RunLock, SyncError, SyncOptions, target_policy};
use serde::Deserialize;
use tracing::{info, warn};

use crate::bridge_sync::{Claim, LastRun, RunSlot};
use crate::sync::parse_every;
use crate::target::{Built, TargetClient};

/// The tenant cleanup runs are recorded and locked under when `[cleanup] tenant` is not given.
pub const DEFAULT_CLEANUP_TENANT: &str = "inactive-cleanup";

/// How long a cleanup run's lease lasts (renewed by nothing: a run is expected to end sooner).
const LEASE_TTL: Duration = Duration::from_secs(30 * 60);

/// What [`under_lock`] did.
pub(crate) enum Locked<T> {
    /// The run ran (under the lease, when there is a lock), with its result.
    Ran(T),
    /// Another holder has the tenant's lease: nothing ran.
    Held,
}

/// Runs `run` under `lock`'s lease on `tenant` (as `holder`), released afterwards; without a
/// lock, just runs it. The cleanup runs of the bridge's schedule and of `sync --inactive-days`
/// share it, so that instances on one database never clean up a tenant at once.
pub(crate) async fn under_lock<T>(
    lock: Option<&dyn RunLock>,
    tenant: &str,
    holder: &str,
    run: impl std::future::Future<Output = T>,
) -> Result<Locked<T>, String> {
    let Some(lock) = lock else {
        return Ok(Locked::Ran(run.await));
    };
    let lease = match lock.try_acquire(tenant, holder, LEASE_TTL).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return Ok(Locked::Held),
        Err(e) => return Err(format!("the run lock: {e}")),
    };
    let result = run.await;
    if let Err(e) = lock.release(&lease).await {
        warn!(error = %e, "the cleanup's run lock could not be released");
    }
    Ok(Locked::Ran(result))
}

/// `[cleanup]`: which users are idle, and when to look.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupConfig {
    /// `inactive_days`: users who have not logged in for this many days (at least 1) are
    /// deprovisioned; users who never logged in count from their creation.
    pub inactive_days: u32,
    /// `every`: run every `30m`, `24h`...; without it, runs start only from the admin page.
    pub every: Option<String>,
    /// `exclude`: regexes on `userName`; matching users are never touched (administrators,
    /// service accounts).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `dry_run`: plan and record what would be deprovisioned, write nothing (default false).
    #[serde(default)]
    pub dry_run: bool,
    /// `max_fraction`: the safety rail, the largest share of the target's users one run may
    /// deprovision (default 0.1, as for a sync); a run that would take more writes nothing
    /// and records why.
    pub max_fraction: Option<f64>,
    /// `tenant`: the name runs are recorded and locked under (default
    /// [`DEFAULT_CLEANUP_TENANT`]).
    pub tenant: Option<String>,
}

impl CleanupConfig {
    /// The cleanup these settings describe; errors name the setting.
    pub fn cleanup(&self) -> Result<InactiveCleanup, String> {
        let named = |e: SyncError| format!("cleanup: {e}");
        let mut cleanup = InactiveCleanup::new(self.inactive_days).map_err(named)?;
        for pattern in &self.exclude {
            cleanup = cleanup.exclude(pattern).map_err(named)?;
        }
        let mut options = SyncOptions::default();
        if let Some(f) = self.max_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!(
                    "cleanup.max_fraction = {f} must be between 0 and 1 (a share of the users)"
                ));
            }
            options = options.max_deactivate_fraction(f);
        }
        Ok(cleanup.with_options(options))
    }

    /// The schedule, if any.
    pub fn every(&self) -> Result<Option<Duration>, String> {
        self.every
            .as_deref()
            .map(|e| parse_every(e).map_err(|why| format!("cleanup.every: {why}")))
            .transpose()
    }

    /// The tenant runs are recorded under.
    pub fn tenant(&self) -> Result<String, String> {
        match self.tenant.as_deref() {
            None => Ok(DEFAULT_CLEANUP_TENANT.to_owned()),
            Some("") => Err("cleanup.tenant must not be empty".to_owned()),
            Some(t) => Ok(t.to_owned()),
        }
    }
}

/// What [`BridgeCleanup::new`] is built from.
pub struct CleanupParts<'a> {
    /// `[cleanup]`.
    pub config: &'a CleanupConfig,
    /// The bridge's `[policy]`: its deprovisioning settings apply.
    pub policy: &'a SyncPolicy,
    /// The bridge's target.
    pub target: &'a TargetClient,
    /// The bridge's history: each run's summary and each deprovisioning go there.
    pub history: Arc<dyn SyncHistory>,
    /// The run lock shared with other instances, if the history is in a database: one run
    /// per tenant at a time across them.
    pub lock: Option<Arc<dyn RunLock>>,
}

/// The bridge's target, each step recorded in the history.
enum Target {
    DataCenter(RecordingProvisioner<AtlassianProvisioner>),
    Cloud(RecordingProvisioner<CloudProvisioner>),
}

/// The bridge's inactive-user cleanup: runs on demand or on a schedule, one at a time.
pub struct BridgeCleanup {
    tenant: String,
    cleanup: InactiveCleanup,
    excluded: Vec<String>,
    dry_run: bool,
    every: Option<Duration>,
    target: Target,
    history: Arc<dyn SyncHistory>,
    lock: Option<Arc<dyn RunLock>>,
    slot: RunSlot,
}

impl std::fmt::Debug for BridgeCleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeCleanup")
            .field("tenant", &self.tenant)
            .field("days", &self.cleanup.days())
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl BridgeCleanup {
    /// Checks `[cleanup]` and builds the cleanup over the bridge's target. On Atlassian Cloud
    /// the last-active dates come from the organizations API (`[target] org_id` and
    /// `org_token`); without them each run fails, saying so.
    pub fn new(parts: CleanupParts<'_>) -> Result<Arc<BridgeCleanup>, String> {
        let cfg = parts.config;
        let cleanup = cfg.cleanup()?;
        let tenant = cfg.tenant()?;
        let every = cfg.every()?;
        // As `sync` does: the target applies the deprovisioning settings; each step recorded.
        let built = parts.target.provisioner(
            &target_policy(parts.policy),
            false,
            Some(Arc::new(HistoryObserver::new())),
        )?;
        let history = parts.history;
        let on_error =
            |e: &HistoryError| warn!(error = %e, "a sync history entry could not be recorded");
        let target = match built {
            Built::DataCenter(p) => Target::DataCenter(
                RecordingProvisioner::new(p, Arc::clone(&history)).on_record_error(on_error),
            ),
            Built::Cloud(p) => Target::Cloud(
                RecordingProvisioner::new(p, Arc::clone(&history)).on_record_error(on_error),
            ),
        };
        Ok(Arc::new(BridgeCleanup {
            tenant,
            cleanup,
            excluded: cfg.exclude.clone(),
            dry_run: cfg.dry_run,
            every,
            target,
            history,
            lock: parts.lock,
            slot: RunSlot::default(),
        }))
    }

    /// The tenant runs are recorded under.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The idle days.
    pub fn days(&self) -> u32 {
        self.cleanup.days()
    }

    /// The exclude patterns, as configured.
    pub fn excluded(&self) -> &[String] {
        &self.excluded
    }

    /// Whether runs only plan.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The schedule, if any.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    /// Whether a run of this bridge is under way.
    pub fn running(&self) -> bool {
        self.slot.running()
    }

    /// How the last run of this bridge ended.
    pub fn last_run(&self) -> Option<LastRun> {
        self.slot.last()
    }

    /// Starts a run in the background; `false` when one of this bridge is already under way.
    pub fn start(self: &Arc<Self>) -> bool {
        let me = Arc::clone(self);
        self.slot.start(|claim| async move { me.run(claim).await })
    }

    /// Runs now, waiting for the end; `None` when a run of this bridge is already under way.
    pub async fn run_now(&self) -> Option<LastRun> {
        let claim = self.slot.claim()?;
        self.run(claim).await;
        self.last_run()
    }

    /// Runs now and every [`every`](Self::every) after (from the end of one run to the start
    /// of the next), until the process ends; nothing when there is no schedule.
    pub fn spawn_schedule(self: &Arc<Self>) {
        let Some(every) = self.every else {
            return;
        };
        let me = Arc::clone(self);
        self.slot.schedule(every, move |claim| {
            let me = Arc::clone(&me);
            async move { me.run(claim).await }
        });
    }

    async fn run(&self, claim: Claim) {
        let holder = format!("bridge-cleanup-{}", std::process::id());
        let mode = CleanupMode {
            dry_run: self.dry_run,
            force: false,
        };
        let ctx = RequestContext::new(self.tenant.as_str());
        let history = Some(self.history.as_ref());
        let run = async {
            match &self.target {
                Target::DataCenter(p) => self.cleanup.run(p, &ctx, mode, history).await,
                Target::Cloud(p) => self.cleanup.run(p, &ctx, mode, history).await,
            }
        };
        match under_lock(self.lock.as_deref(), &self.tenant, &holder, run).await {
            Ok(Locked::Ran(Ok(run))) => {
                let failed = run.report.as_ref().map_or(0, |r| r.failed);
                self.finish(&claim, failed == 0, run.describe());
            }
            Ok(Locked::Ran(Err(e))) => self.finish(&claim, false, format!("failed: {e}")),
            Ok(Locked::Held) => self.finish(
                &claim,
                true,
                "skipped: another instance is cleaning up this tenant".to_owned(),
            ),
            Err(e) => self.finish(&claim, false, format!("failed: {e}")),
        }
    }

    fn finish(&self, claim: &Claim, ok: bool, outcome: String) {
        if ok {
            info!(tenant = %self.tenant, outcome = %outcome, "inactive-user cleanup finished");
        } else {
            warn!(tenant = %self.tenant, outcome = %outcome, "inactive-user cleanup did not finish cleanly");
        }
        claim.finish(ok, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CleanupConfig {
        let config = crate::bridge::Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
        config
            .cleanup
            .unwrap_or_else(|| panic!("no [cleanup] in {text}"))
    }

    #[test]
    fn settings_and_their_mistakes() {
        let c = parse(
            "[cleanup]\ninactive_days = 90\nevery = \"24h\"\nexclude = [\"^svc-\"]\n\
             dry_run = true\nmax_fraction = 0.25\n",
        );
        assert_eq!(c.cleanup().map(|c| c.days()), Ok(90));
        assert_eq!(c.every(), Ok(Some(Duration::from_secs(24 * 3600))));
        assert_eq!(c.tenant().as_deref(), Ok(DEFAULT_CLEANUP_TENANT));
        assert!(c.dry_run);
        let e = parse("[cleanup]\ninactive_days = 0\n")
            .cleanup()
            .unwrap_err();
        assert!(e.contains("inactive.days"), "{e}");
        let e = parse("[cleanup]\ninactive_days = 9\nexclude = [\"(\"]\n")
            .cleanup()
            .unwrap_err();
        assert!(e.contains("exclude[0]"), "{e}");
        let e = parse("[cleanup]\ninactive_days = 9\nmax_fraction = 1.5\n")
            .cleanup()
            .unwrap_err();
        assert!(e.contains("cleanup.max_fraction"), "{e}");
        let e = parse("[cleanup]\ninactive_days = 9\nevery = \"daily\"\n")
            .every()
            .unwrap_err();
        assert!(e.contains("cleanup.every") && e.contains("daily"), "{e}");
        let e = parse("[cleanup]\ninactive_days = 9\ntenant = \"\"\n")
            .tenant()
            .unwrap_err();
        assert!(e.contains("cleanup.tenant"), "{e}");
        let e = crate::bridge::Config::from_toml("[cleanup]\ninactive_dys = 9\n").unwrap_err();
        assert!(e.contains("inactive_dys"), "{e}");
    }
}
