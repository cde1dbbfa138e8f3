//! [`InactiveCleanup`]: deprovisions target users who have not logged in for a number of days.
//!
//! The cleanup plans like a sync: a [`Plan`] of
//! [`Step::DeprovisionInactive`] steps, printed for a dry run and applied under the same safety
//! rail ([`SyncOptions::max_deactivate_fraction`]), so a product reporting no logins at all (a
//! broken login record) cannot deprovision everyone. Each step is an `active: false` on the
//! target, which deprovisions per its policy (`deactivate`, `delete`, `anonymize`, `keep`, and
//! the memberships it removes): the cleanup applies the same deprovisioning choice as a SCIM
//! client would.
//!
//! Last-login data comes from the product through [`LastLogins`] (from scim-provisioning):
//! scim-atlassian's `AtlassianProvisioner` implements it (Crowd's `lastAuthenticated`
//! attribute; Jira and Confluence through their embedded Crowd API), and so does a
//! `RecordingProvisioner` around it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use regex::Regex;
use scim_core::provision::{Provisioner, RequestContext, SCAN_PAGE};
pub use scim_provisioning::LastLogins;
use scim_provisioning::history::{
    CLEANUP_METHOD, HistoryEntry, Operation, Outcome, SyncHistory, collect_calls,
};

use crate::SyncError;
use crate::plan::{ApplyReport, Context, Limits, Plan, Step, UserRef};
use crate::reconcile::{SyncOptions, scan};
use crate::schedule::failure;

/// How an inactive-user cleanup run ([`InactiveCleanup::run`]) is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupMode {
    /// Plan only: nothing is written, the history entry lists what would be.
    pub dry_run: bool,
    /// Apply even a plan the safety rail refuses.
    pub force: bool,
}

/// What an inactive-user cleanup run did.
#[derive(Clone, Debug)]
pub struct CleanupRun {
    /// The idle days it looked for.
    pub days: u32,
    /// Its plan.
    pub plan: Plan,
    /// What applying the plan did; `None` for a dry run.
    pub report: Option<ApplyReport>,
}

/// The most user names [`CleanupRun::describe`] lists.
const NAMES_SHOWN: usize = 20;

impl CleanupRun {
    /// The run in a few words, as its history entry says it: how many users were idle, who,
    /// and what became of them.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self
            .plan
            .steps()
            .iter()
            .filter_map(|s| match s {
                Step::DeprovisionInactive { user, .. } => Some(user.user_name.as_str()),
                _ => None,
            })
            .collect();
        let idle = names.len();
        let mut listed = names
            .iter()
            .take(NAMES_SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if idle > NAMES_SHOWN {
            listed = format!("{listed} and {} more", idle - NAMES_SHOWN);
        }
        let who = if idle == 0 {
            String::new()
        } else {
            format!(" ({listed})")
        };
        let of = format!(
            "{idle} of {} users inactive for {} days{who}",
            self.plan.target_users(),
            self.days
        );
        match &self.report {
            None => format!("dry run: {of} would be deprovisioned, nothing written"),
            Some(r) => format!("{of}: {} deprovisioned, {} failed", r.done, r.failed),
        }
    }
}

/// Plans the deprovisioning of active users who have not logged in for [`days`](Self::new)
/// days. Users who never logged in count from their `meta.created`; one without a creation
/// time is left alone (with a warning), since nothing says how long it has been idle.
/// Users whose `userName` matches an [`exclude`](Self::exclude) pattern (administrators,
/// service accounts) are never touched.
///
/// ```
/// use scim_sync::InactiveCleanup;
///
/// let cleanup = InactiveCleanup::new(90)?
///     .exclude("^admin$")?
///     .exclude("^svc-")?;
/// assert_eq!(cleanup.days(), 90);
/// assert!(InactiveCleanup::new(0).is_err());
/// assert!(InactiveCleanup::new(30)?.exclude("(").is_err());
/// # Ok::<(), scim_sync::SyncError>(())
/// ```
#[derive(Clone, Debug)]
pub struct InactiveCleanup {
    days: u32,
    exclude: Vec<Regex>,
    options: SyncOptions,
    now: Option<DateTime<Utc>>,
}

impl InactiveCleanup {
    /// A cleanup of users idle for `days` days (at least 1), with the default safety rail.
    pub fn new(days: u32) -> Result<Self, SyncError> {
        if days == 0 {
            return Err(SyncError::Config {
                setting: "inactive.days".to_owned(),
                message: "must be at least 1 (0 would deprovision everyone who has not logged \
                          in this very moment)"
                    .to_owned(),
            });
        }
        Ok(InactiveCleanup {
            days,
            exclude: Vec::new(),
            options: SyncOptions::default(),
            now: None,
        })
    }

    /// The idle days.
    pub fn days(&self) -> u32 {
        self.days
    }

    /// Never deprovisions users whose `userName` matches `pattern` (a regex).
    pub fn exclude(mut self, pattern: &str) -> Result<Self, SyncError> {
        let at = self.exclude.len();
        let regex = Regex::new(pattern).map_err(|e| SyncError::Config {
            setting: format!("inactive.exclude[{at}]"),
            message: format!("invalid regex {pattern:?}: {e}"),
        })?;
        self.exclude.push(regex);
        Ok(self)
    }

    /// The safety rail and concurrency ([`SyncOptions::max_deactivate_fraction`],
    /// [`SyncOptions::concurrency`]).
    #[must_use]
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Plans as if it were `now` (tests and reports); the clock by default.
    #[must_use]
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// One cleanup run of `ctx`'s tenant: [`plan`](Self::plan), then unless
    /// `mode.dry_run`, [`Plan::apply`] (under the safety rail unless `mode.force`). With a
    /// `history`, records one [`CLEANUP_METHOD`] entry for the run, with the product calls of
    /// its planning (a `HistoryObserver` in the target's client sees them) and its outcome:
    /// the dry run's would-be steps, the steps that failed, or why the run did not happen (a
    /// safety rail refusal is a 409, as for a sync). Each deprovisioning gets its own entry
    /// when `target` is a `RecordingProvisioner` on the same history.
    ///
    /// An error writing the history is returned after the run (whose writes are done).
    pub async fn run<P: Provisioner + LastLogins + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
        mode: CleanupMode,
        history: Option<&dyn SyncHistory>,
    ) -> Result<CleanupRun, SyncError> {
        let started = self
            .now
            .unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()));
        let (result, calls) = collect_calls(async {
            let plan = self.plan(target, ctx).await?;
            let report = if mode.dry_run {
                None
            } else if mode.force {
                Some(plan.apply_forced(target, ctx).await)
            } else {
                Some(plan.apply(target, ctx).await?)
            };
            Ok::<_, SyncError>(CleanupRun {
                days: self.days,
                plan,
                report,
            })
        })
        .await;
        if let Some(history) = history {
            let request_id = format!("cleanup-{}-{}", ctx.tenant(), started.timestamp_millis());
            let entry = HistoryEntry::new(
                ctx.tenant(),
                request_id,
                Operation::new(CLEANUP_METHOD, "User"),
            )
            .with_calls(calls);
            let entry = match &result {
                Ok(run) => {
                    let entry = entry.with_changes(run.describe());
                    match &run.report {
                        None => entry.with_outcome(Outcome::DryRun {
                            would_write: run.plan.steps().iter().map(ToString::to_string).collect(),
                        }),
                        Some(r) if r.failed > 0 => entry.with_outcome(Outcome::Failure {
                            status: 500,
                            scim_type: None,
                            detail: format!("{} steps failed; the next run retries them", r.failed),
                        }),
                        Some(_) => entry,
                    }
                }
                Err(e) => entry
                    .with_changes("nothing deprovisioned")
                    .with_outcome(failure(e)),
            };
            history
                .record(entry)
                .await
                .map_err(|e| SyncError::History(e.to_string()))?;
        }
        result
    }

    /// Reads the target's users and their last logins (one read per active user not
    /// excluded) and plans a [`Step::DeprovisionInactive`] for each idle one. Apply it with
    /// [`Plan::apply`] (safety rail) or print it for a dry run.
    pub async fn plan<P: Provisioner + LastLogins + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
    ) -> Result<Plan, SyncError> {
        let now = self
            .now
            .unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()));
        let cutoff = now - Duration::days(i64::from(self.days));
        let users = scan(|offset| target.scan_users(ctx, offset, SCAN_PAGE)).await?;
        let mut steps = Vec::new();
        let mut warnings = Vec::new();
        for user in &users {
            let Some(id) = user.id.as_deref() else {
                continue;
            };
            if user.active == Some(false)
                || self.exclude.iter().any(|r| r.is_match(&user.user_name))
            {
                continue;
            }
            let last = target.last_login(ctx, id).await?;
            // Never logged in: idle since it was created.
            let since = last.or_else(|| {
                user.meta
                    .as_ref()
                    .and_then(|m| m.created.as_deref())
                    .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                    .map(|c| c.with_timezone(&Utc))
            });
            let Some(since) = since else {
                warnings.push(format!(
                    "user {} ({id}) never logged in and has no creation time: left alone",
                    user.user_name
                ));
                continue;
            };
            if since < cutoff {
                steps.push(Step::DeprovisionInactive {
                    user: UserRef {
                        id: Some(id.to_owned()),
                        user_name: user.user_name.clone(),
                    },
                    last_login: last.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                });
            }
        }
        Ok(Plan::new(
            steps,
            Context {
                target_users: users.len(),
                target_groups: 0,
                warnings,
                limits: Limits {
                    max_deactivate_fraction: self.options.max_deactivate_fraction,
                    max_delete_group_fraction: self.options.max_delete_group_fraction,
                    concurrency: self.options.concurrency.max(1),
                },
                managed_groups: Vec::new(),
                ledger: None,
            },
        ))
    }
}
