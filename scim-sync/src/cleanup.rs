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

use crate::SyncError;
use crate::plan::{Context, Limits, Plan, Step, UserRef};
use crate::reconcile::{SyncOptions, scan};

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
