//! [`Plan`]: the writes a sync will make, as a value to print, serialize or apply.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{Group, Member, OpKind, PatchOp, PatchOperation, ScimError, User};
use scim_provisioning::bounded::{self, Task};
use serde::Serialize;
use serde_json::Value;

use crate::SyncError;
use crate::ledger::GroupLedger;

/// A user a step refers to: one at the target (`id` set) or one this plan creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    /// The target's id; `None` for a user the plan creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user's `userName`.
    pub user_name: String,
}

/// One attribute an update sets: its canonical name and the source's value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The top-level attribute (or extension URN), as the PATCH path.
    pub attribute: String,
    /// The value the target gets.
    pub value: Value,
}

/// One write of a [`Plan`].
///
/// Updates are PATCH requests with one `replace` per changed top-level attribute: only what
/// differs is sent, attributes the source does not provide are left alone at the target (the
/// target may hold data of its own), and a backend that turns PATCH into product calls (as
/// scim-atlassian does) writes only those.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Step {
    /// Create a user missing at the target.
    CreateUser {
        /// The user as the source has it.
        user: Box<User>,
    },
    /// Replace the attributes that differ.
    UpdateUser {
        /// The target user.
        user: UserRef,
        /// The attributes to set.
        changes: Vec<Change>,
    },
    /// Set `active` to true.
    ActivateUser {
        /// The target user.
        user: UserRef,
    },
    /// Set `active` to false: the user is inactive at the source, or missing there.
    DeactivateUser {
        /// The target user.
        user: UserRef,
    },
    /// Delete a user the source no longer has (the policy deprovisions by deleting).
    DeleteUser {
        /// The target user.
        user: UserRef,
    },
    /// Deprovision a user who has not logged in for too long ([`InactiveCleanup`](crate::InactiveCleanup)):
    /// applied as `active: false`, which the target deprovisions per its policy (deactivate,
    /// delete, anonymize or keep, and the memberships it removes).
    DeprovisionInactive {
        /// The target user.
        user: UserRef,
        /// When it last logged in (RFC 3339), `None` for never.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_login: Option<String>,
    },
    /// Create a group missing at the target, with its members.
    CreateGroup {
        /// `displayName`.
        display_name: String,
        /// `externalId`.
        #[serde(skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        /// The members.
        members: Vec<UserRef>,
    },
    /// Set a group's `displayName` or `externalId`.
    UpdateGroup {
        /// The target group's id.
        id: String,
        /// Its current `displayName`.
        display_name: String,
        /// The attributes to set.
        changes: Vec<Change>,
    },
    /// Add members to a group.
    AddMembers {
        /// The target group's id.
        group_id: String,
        /// Its `displayName`.
        display_name: String,
        /// The users to add.
        members: Vec<UserRef>,
    },
    /// Remove members from a group.
    RemoveMembers {
        /// The target group's id.
        group_id: String,
        /// Its `displayName`.
        display_name: String,
        /// The users to remove.
        members: Vec<UserRef>,
    },
    /// Delete a group the source no longer has.
    DeleteGroup {
        /// The target group's id.
        id: String,
        /// Its `displayName`.
        display_name: String,
    },
}

/// How many steps of each kind a plan holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Users to create.
    pub create_users: usize,
    /// Users to update.
    pub update_users: usize,
    /// Users to activate.
    pub activate_users: usize,
    /// Users to deactivate: what the safety rail counts, with deletes.
    pub deactivate_users: usize,
    /// Users to delete.
    pub delete_users: usize,
    /// Groups to create.
    pub create_groups: usize,
    /// Groups to rename or give an `externalId`.
    pub update_groups: usize,
    /// Groups to delete: what the groups' safety rail counts.
    pub delete_groups: usize,
    /// Memberships to add (users, over all groups).
    pub add_members: usize,
    /// Memberships to remove (users, over all groups).
    pub remove_members: usize,
}

/// The limits a plan is applied under, taken from the reconciler's options.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The largest fraction of the target's users one apply may deactivate or delete.
    pub max_deactivate_fraction: f64,
    /// The largest fraction of the target's groups one apply may delete.
    pub max_delete_group_fraction: f64,
    /// How many writes are in flight at once.
    pub concurrency: usize,
}

/// The writes that bring a target in line with a source: print it (`Display`, a dry run),
/// serialize it (JSON), or [`apply`](Plan::apply) it.
///
/// An empty plan means the target already matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) target_users: usize,
    pub(crate) target_groups: usize,
    pub(crate) warnings: Vec<String>,
    pub(crate) limits: Limits,
    pub(crate) summary: Summary,
    /// The target groups the ledger records once the plan is applied.
    pub(crate) managed_groups: Vec<String>,
    #[serde(skip)]
    pub(crate) ledger: Option<LedgerUpdate>,
}

/// What applying a plan writes to the reconciler's [`GroupLedger`].
#[derive(Clone)]
pub(crate) struct LedgerUpdate {
    pub(crate) ledger: Arc<dyn GroupLedger>,
    pub(crate) tenant: String,
    /// Whether [`Plan::managed_groups`] differs from what the ledger holds (else nothing is
    /// written).
    pub(crate) changed: bool,
}

impl fmt::Debug for LedgerUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerUpdate")
            .field("tenant", &self.tenant)
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl PartialEq for LedgerUpdate {
    /// Two updates are alike when they record the same for the same tenant, in whichever
    /// ledger.
    fn eq(&self, other: &Self) -> bool {
        self.tenant == other.tenant && self.changed == other.changed
    }
}

/// The parts of a [`Plan`] besides its steps, as the reconciler found them.
pub(crate) struct Context {
    pub(crate) target_users: usize,
    pub(crate) target_groups: usize,
    pub(crate) warnings: Vec<String>,
    pub(crate) limits: Limits,
    pub(crate) managed_groups: Vec<String>,
    pub(crate) ledger: Option<LedgerUpdate>,
}

/// A step that failed while applying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepFailure {
    /// The step, as the plan prints it.
    pub step: String,
    /// Why it failed.
    pub error: String,
}

/// Told as each step of [`Plan::apply_with_progress`] finishes.
pub trait Progress: Send + Sync {
    /// `step` finished (`ok` or failed); `done` of `total` steps have finished so far.
    fn step_finished(&self, step: &Step, ok: bool, done: usize, total: usize);
}

/// Progress nobody watches.
struct NoProgress;

impl Progress for NoProgress {
    fn step_finished(&self, _: &Step, _: bool, _: usize, _: usize) {}
}

/// What [`Plan::apply`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Steps applied.
    pub done: usize,
    /// Steps that failed (the others still ran; re-running the sync retries these).
    pub failed: usize,
    /// Why each failed step failed.
    pub errors: Vec<StepFailure>,
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} done, {} failed", self.done, self.failed)?;
        for e in &self.errors {
            write!(f, "\n  {}: {}", e.step, e.error)?;
        }
        Ok(())
    }
}

/// The users' `userName`s, comma-separated, as plans print them.
pub fn user_names(users: &[UserRef]) -> String {
    users
        .iter()
        .map(|u| u.user_name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn id_of(user: &UserRef) -> &str {
    user.id.as_deref().unwrap_or("new")
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateUser { user } => write!(f, "+ create user {}", user.user_name),
            Step::UpdateUser { user, changes } => {
                let attrs: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
                write!(
                    f,
                    "~ update user {} ({}): {}",
                    user.user_name,
                    id_of(user),
                    attrs.join(", ")
                )
            }
            Step::ActivateUser { user } => {
                write!(f, "+ activate user {} ({})", user.user_name, id_of(user))
            }
            Step::DeactivateUser { user } => {
                write!(f, "- deactivate user {} ({})", user.user_name, id_of(user))
            }
            Step::DeleteUser { user } => {
                write!(f, "- delete user {} ({})", user.user_name, id_of(user))
            }
            Step::DeprovisionInactive { user, last_login } => write!(
                f,
                "- deprovision inactive user {} ({}): last login {}",
                user.user_name,
                id_of(user),
                last_login.as_deref().unwrap_or("never")
            ),
            Step::CreateGroup {
                display_name,
                members,
                ..
            } => write!(
                f,
                "+ create group {display_name} with {} members: {}",
                members.len(),
                user_names(members)
            ),
            Step::UpdateGroup {
                id,
                display_name,
                changes,
            } => {
                let attrs: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
                write!(
                    f,
                    "~ update group {display_name} ({id}): {}",
                    attrs.join(", ")
                )
            }
            Step::AddMembers {
                display_name,
                members,
                ..
            } => write!(f, "+ add to group {display_name}: {}", user_names(members)),
            Step::RemoveMembers {
                display_name,
                members,
                ..
            } => write!(
                f,
                "- remove from group {display_name}: {}",
                user_names(members)
            ),
            Step::DeleteGroup { id, display_name } => {
                write!(f, "- delete group {display_name} ({id})")
            }
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users {} to create, {} to update, {} to activate, {} to deactivate, {} to delete; \
             groups {} to create, {} to update, {} to delete; memberships {} to add, {} to remove",
            self.create_users,
            self.update_users,
            self.activate_users,
            self.deactivate_users,
            self.delete_users,
            self.create_groups,
            self.update_groups,
            self.delete_groups,
            self.add_members,
            self.remove_members
        )
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        if self.steps.is_empty() {
            write!(
                f,
                "nothing to do: the target's {} users match the source",
                self.target_users
            )?;
        } else {
            write!(f, "plan for a target of {} users: {s}", self.target_users)?;
        }
        for step in &self.steps {
            write!(f, "\n{step}")?;
        }
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

/// What a step of the first phase hands to the next: the id of a user it created.
type Created = Option<(String, String)>;

impl Plan {
    pub(crate) fn new(steps: Vec<Step>, context: Context) -> Self {
        let mut summary = Summary::default();
        for step in &steps {
            match step {
                Step::CreateUser { .. } => summary.create_users += 1,
                Step::UpdateUser { .. } => summary.update_users += 1,
                Step::ActivateUser { .. } => summary.activate_users += 1,
                Step::DeactivateUser { .. } | Step::DeprovisionInactive { .. } => {
                    summary.deactivate_users += 1;
                }
                Step::DeleteUser { .. } => summary.delete_users += 1,
                Step::CreateGroup { .. } => summary.create_groups += 1,
                Step::UpdateGroup { .. } => summary.update_groups += 1,
                Step::DeleteGroup { .. } => summary.delete_groups += 1,
                Step::AddMembers { members, .. } => summary.add_members += members.len(),
                Step::RemoveMembers { members, .. } => summary.remove_members += members.len(),
            }
        }
        Plan {
            steps,
            target_users: context.target_users,
            target_groups: context.target_groups,
            warnings: context.warnings,
            limits: context.limits,
            summary,
            managed_groups: context.managed_groups,
            ledger: context.ledger,
        }
    }

    /// The steps, in the order they were planned.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether the target already matches the source.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many steps of each kind.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// What the reconciler skipped and why (a group member the source does not have, two
    /// source users matching one target user).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many users the target had when the plan was made.
    pub fn target_users(&self) -> usize {
        self.target_users
    }

    /// How many groups the target had when the plan was made.
    pub fn target_groups(&self) -> usize {
        self.target_groups
    }

    /// The target groups the reconciler's [`GroupLedger`] records as the source's once this
    /// plan is applied: those source groups map onto now, and those recorded before that the
    /// target still has (a group whose delete failed or was held back stays the source's).
    pub fn managed_groups(&self) -> &[String] {
        &self.managed_groups
    }

    /// The safety rails: an error when the plan deactivates or deletes more of the target's
    /// users than [`Limits::max_deactivate_fraction`] allows, or deletes more of its groups
    /// than [`Limits::max_delete_group_fraction`] allows. Users are checked first.
    pub fn check_limits(&self) -> Result<(), SyncError> {
        let affected = self.summary.deactivate_users + self.summary.delete_users;
        let (allowed, percent) = allowance(self.limits.max_deactivate_fraction, self.target_users);
        if affected > allowed {
            return Err(SyncError::SafetyLimit {
                affected,
                target_users: self.target_users,
                allowed,
                percent,
            });
        }
        let affected = self.summary.delete_groups;
        let (allowed, percent) =
            allowance(self.limits.max_delete_group_fraction, self.target_groups);
        if affected > allowed {
            let mut groups: Vec<String> = self
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::DeleteGroup { display_name, .. } => Some(display_name.clone()),
                    _ => None,
                })
                .collect();
            groups.sort_by_key(|n| n.to_lowercase());
            return Err(SyncError::GroupSafetyLimit {
                affected,
                target_groups: self.target_groups,
                allowed,
                percent,
                groups,
            });
        }
        Ok(())
    }

    /// Applies the plan to `target`, refusing (before any write) when it trips
    /// [`check_limits`](Plan::check_limits), then records [`managed_groups`](Plan::managed_groups)
    /// in the reconciler's [`GroupLedger`] (a failure to is reported as a failed step).
    ///
    /// Steps run in three phases, each with at most [`Limits::concurrency`] writes in flight:
    /// user creates, updates and activations; then group creates, updates and memberships (which
    /// need the ids of the users just created); then deactivations and group deletes, last so
    /// an interrupted run has removed nothing it had not replaced. A failed step is reported
    /// and the others go on; running the sync again retries what is left.
    pub async fn apply<P: Provisioner + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
    ) -> Result<ApplyReport, SyncError> {
        self.check_limits()?;
        Ok(self.apply_forced(target, ctx).await)
    }

    /// Applies the plan without the safety rail: for an administrator who has read the plan.
    pub async fn apply_forced<P: Provisioner + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
    ) -> ApplyReport {
        self.run(target, ctx, &NoProgress).await
    }

    /// [`apply`](Plan::apply) (or, with `force`, [`apply_forced`](Plan::apply_forced)),
    /// telling `progress` as each step finishes: for a progress bar or a runner's status.
    pub async fn apply_with_progress<P: Provisioner + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<ApplyReport, SyncError> {
        if !force {
            self.check_limits()?;
        }
        Ok(self.run(target, ctx, progress).await)
    }

    async fn run<P: Provisioner + ?Sized>(
        &self,
        target: &P,
        ctx: &RequestContext,
        progress: &dyn Progress,
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        let total = self.steps.len();
        let finished = &AtomicUsize::new(0);
        let tell = move |step: &Step, ok: bool| {
            let done = finished.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            progress.step_finished(step, ok, done, total);
        };
        let tell = &tell;
        let phase = |n: u8| {
            self.steps.iter().filter(move |s| {
                let p = match s {
                    Step::CreateUser { .. }
                    | Step::UpdateUser { .. }
                    | Step::ActivateUser { .. } => 1,
                    Step::CreateGroup { .. }
                    | Step::UpdateGroup { .. }
                    | Step::AddMembers { .. }
                    | Step::RemoveMembers { .. } => 2,
                    Step::DeactivateUser { .. }
                    | Step::DeprovisionInactive { .. }
                    | Step::DeleteUser { .. }
                    | Step::DeleteGroup { .. } => 3,
                };
                p == n
            })
        };
        let no_created = &HashMap::new();
        let first: Vec<Task<'_, (String, Result<Created, ScimError>)>> = phase(1)
            .map(|step| {
                Box::pin(async move {
                    let result = run_step(step, target, ctx, no_created).await;
                    tell(step, result.is_ok());
                    (step.to_string(), result)
                }) as Task<'_, _>
            })
            .collect();
        let mut created: HashMap<String, String> = HashMap::new();
        for (label, result) in bounded::run(first, self.limits.concurrency).await {
            match result {
                Ok(made) => {
                    report.done += 1;
                    created.extend(made);
                }
                Err(e) => report.fail(label, &e),
            }
        }
        for n in [2, 3] {
            let created = &created;
            let tasks: Vec<Task<'_, (String, Result<Created, ScimError>)>> = phase(n)
                .map(|step| {
                    Box::pin(async move {
                        let result = run_step(step, target, ctx, created).await;
                        tell(step, result.is_ok());
                        (step.to_string(), result)
                    }) as Task<'_, _>
                })
                .collect();
            for (label, result) in bounded::run(tasks, self.limits.concurrency).await {
                match result {
                    Ok(_) => report.done += 1,
                    Err(e) => report.fail(label, &e),
                }
            }
        }
        // Recorded whatever failed: a group made is the source's, a group whose delete failed
        // still is, and one never made drops out of the ledger at the next plan.
        if let Some(update) = self.ledger.as_ref().filter(|u| u.changed) {
            if let Err(e) = update
                .ledger
                .save(&update.tenant, &self.managed_groups)
                .await
            {
                report.fail("record the managed groups".to_owned(), &e);
            }
        }
        report
    }
}

/// How many of `total` a limit of `fraction` lets through, and the limit as a percentage.
fn allowance(fraction: f64, total: usize) -> (usize, f64) {
    let fraction = fraction.clamp(0.0, 1.0);
    // Directories are far below 2^52 users or groups, where usize -> f64 is exact.
    #[allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]
    let allowed = (fraction * total as f64).floor() as usize;
    (allowed, fraction * 100.0)
}

impl ApplyReport {
    fn fail(&mut self, step: String, error: &dyn fmt::Display) {
        self.failed += 1;
        self.errors.push(StepFailure {
            step,
            error: error.to_string(),
        });
    }
}

/// The target id of `user`: its own, or the one its create got.
fn resolve(user: &UserRef, created: &HashMap<String, String>) -> Result<String, ScimError> {
    if let Some(id) = &user.id {
        return Ok(id.clone());
    }
    created
        .get(&user.user_name.to_lowercase())
        .cloned()
        .ok_or_else(|| {
            ScimError::invalid_value(
                "members",
                format!(
                    "user {} was not created, so it cannot be a member",
                    user.user_name
                ),
            )
        })
}

fn set_active(active: bool) -> Result<PatchOp, ScimError> {
    Ok(PatchOp::new(vec![PatchOperation::with_path(
        OpKind::Replace,
        "active",
        Some(Value::Bool(active)),
    )?]))
}

fn replace_ops(changes: &[Change]) -> Result<PatchOp, ScimError> {
    let ops = changes
        .iter()
        .map(|c| PatchOperation::with_path(OpKind::Replace, &c.attribute, Some(c.value.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PatchOp::new(ops))
}

async fn run_step<P: Provisioner + ?Sized>(
    step: &Step,
    target: &P,
    ctx: &RequestContext,
    created: &HashMap<String, String>,
) -> Result<Created, ScimError> {
    match step {
        Step::CreateUser { user } => {
            let made = target.create_user(ctx, (**user).clone()).await?;
            return Ok(made.id.map(|id| (user.user_name.to_lowercase(), id)));
        }
        Step::UpdateUser { user, changes } => {
            target
                .patch_user(ctx, &resolve(user, created)?, &replace_ops(changes)?, None)
                .await?;
        }
        Step::ActivateUser { user } => {
            target
                .patch_user(ctx, &resolve(user, created)?, &set_active(true)?, None)
                .await?;
        }
        Step::DeactivateUser { user } | Step::DeprovisionInactive { user, .. } => {
            target
                .patch_user(ctx, &resolve(user, created)?, &set_active(false)?, None)
                .await?;
        }
        Step::DeleteUser { user } => {
            target
                .delete_user(ctx, &resolve(user, created)?, None)
                .await?;
        }
        Step::CreateGroup {
            display_name,
            external_id,
            members,
        } => {
            let mut group = Group::new(display_name.clone());
            group.external_id.clone_from(external_id);
            group.members = members
                .iter()
                .map(|m| resolve(m, created).map(Member::new))
                .collect::<Result<_, _>>()?;
            target.create_group(ctx, group).await?;
        }
        Step::UpdateGroup { id, changes, .. } => {
            target
                .patch_group(ctx, id, &replace_ops(changes)?, None)
                .await?;
        }
        Step::AddMembers {
            group_id, members, ..
        } => {
            let members: Vec<Member> = members
                .iter()
                .map(|m| resolve(m, created).map(Member::new))
                .collect::<Result<_, _>>()?;
            target.add_members(ctx, group_id, &members).await?;
        }
        Step::RemoveMembers {
            group_id, members, ..
        } => {
            let ids: Vec<String> = members
                .iter()
                .map(|m| resolve(m, created))
                .collect::<Result<_, _>>()?;
            target.remove_members(ctx, group_id, &ids).await?;
        }
        Step::DeleteGroup { id, .. } => target.delete_group(ctx, id, None).await?,
    }
    Ok(None)
}
