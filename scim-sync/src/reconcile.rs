//! [`Reconciler`]: compares a source with a target and plans the difference.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scim_core::provision::{Provisioner, RequestContext, SCAN_PAGE};
use scim_core::{Group, User};
use serde_json::Value;

use crate::SyncError;
use crate::plan::{Change, Limits, Plan, Step, UserRef};
use crate::source::{Cursor, DirectorySource};

/// Decides which source users and groups are synced and how they look at the target.
///
/// The hook where push provisioning's rules plug in: scim-atlassian's `SyncPolicy` (scope,
/// name transforms) can implement this so scheduled and pushed syncs follow the same rules.
/// Returning `None` leaves a resource out of the sync, as if the source did not have it.
pub trait Policy: Send + Sync {
    /// The user as it should be at the target, or `None` to skip it.
    fn user(&self, user: User) -> Option<User> {
        Some(user)
    }

    /// The group as it should be at the target, or `None` to skip it.
    fn group(&self, group: Group) -> Option<Group> {
        Some(group)
    }
}

/// The policy that syncs everything as the source has it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncEverything;

impl Policy for SyncEverything {}

/// How a [`Reconciler`] plans and its plans are applied.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The largest fraction of the target's users one apply may deactivate (default 0.1):
    /// an empty or broken source must not wipe the target.
    pub max_deactivate_fraction: f64,
    /// Writes in flight at once while applying (default 4).
    pub concurrency: usize,
    /// Deactivate target users the source does not have (default true). They are never
    /// deleted: a deactivated user keeps its history and comes back with `activate`.
    pub deactivate_missing_users: bool,
    /// Delete target groups the source does not have (default true).
    pub delete_missing_groups: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_deactivate_fraction: 0.1,
            concurrency: 4,
            deactivate_missing_users: true,
            delete_missing_groups: true,
        }
    }
}

impl SyncOptions {
    /// Sets [`SyncOptions::max_deactivate_fraction`].
    #[must_use]
    pub fn max_deactivate_fraction(mut self, fraction: f64) -> Self {
        self.max_deactivate_fraction = fraction;
        self
    }

    /// Sets [`SyncOptions::concurrency`] (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`SyncOptions::deactivate_missing_users`].
    #[must_use]
    pub fn deactivate_missing_users(mut self, yes: bool) -> Self {
        self.deactivate_missing_users = yes;
        self
    }

    /// Sets [`SyncOptions::delete_missing_groups`].
    #[must_use]
    pub fn delete_missing_groups(mut self, yes: bool) -> Self {
        self.delete_missing_groups = yes;
        self
    }
}

/// Plans a sync from a [`DirectorySource`] into a [`Provisioner`].
///
/// Users are matched by `externalId`, then by `userName` ignoring case; groups by `externalId`,
/// then by `displayName` ignoring case. The target is read whole (to know what the source
/// lacks); the source is read a page at a time and only an index of its users (id, externalId,
/// userName -> target user) is kept to resolve group members.
///
/// ```
/// use std::sync::Arc;
/// use scim_core::provision::{InMemoryProvisioner, RequestContext, conformance::block_on};
/// use scim_sync::{FileSource, Reconciler};
///
/// let source = FileSource::from_csv_str(
///     "userName,email,groups\nalice,alice@example.com,eng\nbob,bob@example.com,eng;ops\n",
/// )?;
/// let target = InMemoryProvisioner::new();
/// let ctx = RequestContext::new("acme");
/// let reconciler = Reconciler::new();
///
/// let plan = block_on(reconciler.plan(&source, &target, &ctx))?;
/// println!("{plan}"); // the dry run
/// assert_eq!(plan.summary().create_users, 2);
/// assert_eq!(plan.summary().create_groups, 2);
///
/// let report = block_on(plan.apply(&target, &ctx))?;
/// assert_eq!(report.failed, 0);
///
/// // Converged: a second run plans nothing.
/// assert!(block_on(reconciler.plan(&source, &target, &ctx))?.is_empty());
/// # Ok::<(), scim_sync::SyncError>(())
/// ```
#[derive(Clone)]
pub struct Reconciler {
    options: SyncOptions,
    policy: Arc<dyn Policy>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for Reconciler {
    fn default() -> Self {
        Reconciler::new()
    }
}

/// Attributes never compared: server-assigned, derived from memberships, write-only, or
/// handled by their own steps.
const NOT_COMPARED: [&str; 6] = ["id", "meta", "schemas", "groups", "password", "active"];

impl Reconciler {
    /// A reconciler with the default [`SyncOptions`] that syncs everything.
    pub fn new() -> Self {
        Reconciler {
            options: SyncOptions::default(),
            policy: Arc::new(SyncEverything),
        }
    }

    /// Uses `options`.
    #[must_use]
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Filters and shapes source resources with `policy`.
    #[must_use]
    pub fn with_policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// Reads `source` and `target` and plans the writes that make the target match.
    pub async fn plan<S: DirectorySource + ?Sized, P: Provisioner + ?Sized>(
        &self,
        source: &S,
        target: &P,
        ctx: &RequestContext,
    ) -> Result<Plan, SyncError> {
        let mut steps = Vec::new();
        let mut warnings = Vec::new();

        let target_users = scan(|offset| target.scan_users(ctx, offset, SCAN_PAGE)).await?;
        let mut users_by_ext: HashMap<&str, usize> = HashMap::new();
        let mut users_by_name: HashMap<String, usize> = HashMap::new();
        for (i, user) in target_users.iter().enumerate() {
            if let Some(ext) = user.external_id.as_deref() {
                users_by_ext.entry(ext).or_insert(i);
            }
            users_by_name
                .entry(user.user_name.to_lowercase())
                .or_insert(i);
        }
        let mut user_seen = vec![false; target_users.len()];
        // "id:", "ext:" and "name:" keys of source users -> the target user they become.
        let mut refs: HashMap<String, UserRef> = HashMap::new();

        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.users_page(cursor).await?;
            for user in page {
                let source_id = user.id.clone();
                let Some(user) = self.policy.user(user) else {
                    continue;
                };
                let found = user
                    .external_id
                    .as_deref()
                    .and_then(|e| users_by_ext.get(e))
                    .or_else(|| users_by_name.get(&user.user_name.to_lowercase()))
                    .copied();
                let user_ref = match found.and_then(|i| target_users.get(i).map(|t| (i, t))) {
                    None => {
                        let user_ref = UserRef {
                            id: None,
                            user_name: user.user_name.clone(),
                        };
                        let mut new = user.clone();
                        new.id = None;
                        new.meta = None;
                        new.groups.clear();
                        steps.push(Step::CreateUser {
                            user: Box::new(new),
                        });
                        user_ref
                    }
                    Some((i, current)) => {
                        if let Some(seen) = user_seen.get_mut(i) {
                            if *seen {
                                warnings.push(format!(
                                    "source user {} matches target user {} that another source \
                                     user matched already; skipped",
                                    user.user_name, current.user_name
                                ));
                                continue;
                            }
                            *seen = true;
                        }
                        let user_ref = UserRef {
                            id: current.id.clone(),
                            user_name: current.user_name.clone(),
                        };
                        let changes = diff(&user, current);
                        if !changes.is_empty() {
                            steps.push(Step::UpdateUser {
                                user: user_ref.clone(),
                                changes,
                            });
                        }
                        let want = user.active.unwrap_or(true);
                        if want != current.active.unwrap_or(true) {
                            steps.push(if want {
                                Step::ActivateUser {
                                    user: user_ref.clone(),
                                }
                            } else {
                                Step::DeactivateUser {
                                    user: user_ref.clone(),
                                }
                            });
                        }
                        user_ref
                    }
                };
                if let Some(id) = source_id {
                    refs.insert(format!("id:{id}"), user_ref.clone());
                }
                if let Some(ext) = &user.external_id {
                    refs.insert(format!("ext:{ext}"), user_ref.clone());
                }
                refs.insert(format!("name:{}", user.user_name.to_lowercase()), user_ref);
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if self.options.deactivate_missing_users {
            for (user, seen) in target_users.iter().zip(&user_seen) {
                if !seen && user.active.unwrap_or(true) {
                    steps.push(Step::DeactivateUser {
                        user: UserRef {
                            id: user.id.clone(),
                            user_name: user.user_name.clone(),
                        },
                    });
                }
            }
        }

        self.plan_groups(
            source,
            target,
            ctx,
            &target_users,
            &refs,
            &mut steps,
            &mut warnings,
        )
        .await?;

        let limits = Limits {
            max_deactivate_fraction: self.options.max_deactivate_fraction,
            concurrency: self.options.concurrency.max(1),
        };
        Ok(Plan::new(steps, target_users.len(), warnings, limits))
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_groups<S: DirectorySource + ?Sized, P: Provisioner + ?Sized>(
        &self,
        source: &S,
        target: &P,
        ctx: &RequestContext,
        target_users: &[User],
        refs: &HashMap<String, UserRef>,
        steps: &mut Vec<Step>,
        warnings: &mut Vec<String>,
    ) -> Result<(), SyncError> {
        let user_names: HashMap<&str, &str> = target_users
            .iter()
            .filter_map(|u| u.id.as_deref().map(|id| (id, u.user_name.as_str())))
            .collect();
        let target_groups = scan(|offset| target.scan_groups(ctx, offset, SCAN_PAGE)).await?;
        let mut by_ext: HashMap<&str, usize> = HashMap::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (i, group) in target_groups.iter().enumerate() {
            if let Some(ext) = group.external_id.as_deref() {
                by_ext.entry(ext).or_insert(i);
            }
            by_name
                .entry(group.display_name.to_lowercase())
                .or_insert(i);
        }
        let mut seen = vec![false; target_groups.len()];

        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.groups_page(cursor).await?;
            for group in page {
                let Some(group) = self.policy.group(group) else {
                    continue;
                };
                let mut wanted: Vec<UserRef> = Vec::new();
                let mut wanted_keys = HashSet::new();
                for member in &group.members {
                    let Some(value) = member.value.as_deref() else {
                        continue;
                    };
                    let found = refs
                        .get(&format!("id:{value}"))
                        .or_else(|| refs.get(&format!("ext:{value}")))
                        .or_else(|| refs.get(&format!("name:{}", value.to_lowercase())));
                    let Some(user_ref) = found else {
                        warnings.push(format!(
                            "group {}: member `{value}` is not a synced user of the source; skipped",
                            group.display_name
                        ));
                        continue;
                    };
                    let key = user_ref
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("new:{}", user_ref.user_name.to_lowercase()));
                    if wanted_keys.insert(key) {
                        wanted.push(user_ref.clone());
                    }
                }
                let found = group
                    .external_id
                    .as_deref()
                    .and_then(|e| by_ext.get(e))
                    .or_else(|| by_name.get(&group.display_name.to_lowercase()))
                    .copied();
                let Some((i, current)) = found.and_then(|i| target_groups.get(i).map(|g| (i, g)))
                else {
                    steps.push(Step::CreateGroup {
                        display_name: group.display_name.clone(),
                        external_id: group.external_id.clone(),
                        members: wanted,
                    });
                    continue;
                };
                if let Some(seen) = seen.get_mut(i) {
                    if *seen {
                        warnings.push(format!(
                            "source group {} matches target group {} that another source group \
                             matched already; skipped",
                            group.display_name, current.display_name
                        ));
                        continue;
                    }
                    *seen = true;
                }
                let Some(group_id) = current.id.clone() else {
                    continue;
                };
                let mut changes = Vec::new();
                if group.display_name != current.display_name {
                    changes.push(Change {
                        attribute: "displayName".into(),
                        value: Value::String(group.display_name.clone()),
                    });
                }
                if group.external_id.is_some() && group.external_id != current.external_id {
                    changes.push(Change {
                        attribute: "externalId".into(),
                        value: group.external_id.clone().map_or(Value::Null, Value::String),
                    });
                }
                if !changes.is_empty() {
                    steps.push(Step::UpdateGroup {
                        id: group_id.clone(),
                        display_name: current.display_name.clone(),
                        changes,
                    });
                }
                // Only user members are managed: a nested group at the target is left alone.
                let present: HashSet<&str> = current
                    .members
                    .iter()
                    .filter_map(|m| m.value.as_deref())
                    .filter(|v| user_names.contains_key(v))
                    .collect();
                let add: Vec<UserRef> = wanted
                    .iter()
                    .filter(|u| u.id.as_deref().is_none_or(|id| !present.contains(id)))
                    .cloned()
                    .collect();
                let mut remove: Vec<UserRef> = present
                    .iter()
                    .filter(|id| !wanted_keys.contains(**id))
                    .map(|id| UserRef {
                        id: Some((*id).to_owned()),
                        user_name: user_names.get(id).copied().unwrap_or_default().to_owned(),
                    })
                    .collect();
                remove.sort_by(|a, b| a.user_name.cmp(&b.user_name));
                if !add.is_empty() {
                    steps.push(Step::AddMembers {
                        group_id: group_id.clone(),
                        display_name: current.display_name.clone(),
                        members: add,
                    });
                }
                if !remove.is_empty() {
                    steps.push(Step::RemoveMembers {
                        group_id,
                        display_name: current.display_name.clone(),
                        members: remove,
                    });
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if self.options.delete_missing_groups {
            for (group, seen) in target_groups.iter().zip(&seen) {
                if let (false, Some(id)) = (seen, &group.id) {
                    steps.push(Step::DeleteGroup {
                        id: id.clone(),
                        display_name: group.display_name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Every resource of a target, read [`SCAN_PAGE`] at a time.
async fn scan<T, F, Fut>(mut page: F) -> Result<Vec<T>, SyncError>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, scim_core::ScimError>>,
{
    let mut all = Vec::new();
    loop {
        let got = page(all.len()).await?;
        let n = got.len();
        all.extend(got);
        if n < SCAN_PAGE {
            return Ok(all);
        }
    }
}

/// The top-level attributes the source sets that differ at the target. Attributes the source
/// does not have are left alone: the target may hold data of its own.
fn diff(source: &User, target: &User) -> Vec<Change> {
    let (Ok(Value::Object(want)), Ok(Value::Object(have))) =
        (serde_json::to_value(source), serde_json::to_value(target))
    else {
        return Vec::new();
    };
    want.into_iter()
        .filter(|(k, _)| !NOT_COMPARED.contains(&k.as_str()))
        .filter(|(k, v)| have.get(k) != Some(v))
        .map(|(attribute, value)| Change { attribute, value })
        .collect()
}
