//! [`Reconciler`]: compares a source with a target and plans the difference: users here,
//! groups in `groups`.

mod groups;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use scim_core::User;
use scim_core::provision::{Provisioner, RequestContext, SCAN_PAGE};
use serde_json::Value;

use crate::SyncError;
use crate::ledger::{GroupLedger, InMemoryGroupLedger};
use crate::plan::{Change, Context, LedgerUpdate, Limits, Plan, Step, UserRef};
use crate::policy::{Policy, PushPolicy, SyncEverything};
use crate::source::{Cursor, DirectorySource};

/// How a [`Reconciler`] plans and its plans are applied.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The largest fraction of the target's users one apply may deactivate (default 0.1):
    /// an empty or broken source must not wipe the target.
    pub max_deactivate_fraction: f64,
    /// The largest fraction of the target's groups one apply may delete (default 0.1): a
    /// source that lost its groups must not take the target's with it.
    pub max_delete_group_fraction: f64,
    /// Writes in flight at once while applying (default 4).
    pub concurrency: usize,
    /// Deactivate target users the source does not have (default true). They are never
    /// deleted: a deactivated user keeps its history and comes back with `activate`.
    pub deactivate_missing_users: bool,
    /// Delete target groups the source no longer has (default true): only groups the sync
    /// can show were the source's (see [`GroupLedger`]), never a product's built-in group.
    pub delete_missing_groups: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_deactivate_fraction: 0.1,
            max_delete_group_fraction: 0.1,
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

    /// Sets [`SyncOptions::max_delete_group_fraction`].
    #[must_use]
    pub fn max_delete_group_fraction(mut self, fraction: f64) -> Self {
        self.max_delete_group_fraction = fraction;
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
/// lacks); the source is read a page at a time, and what is kept of it is an index of its users
/// (id, externalId, userName -> target user) to resolve group members and the wanted members
/// of each target group (as references into that index), gathered over every source group
/// first because a policy may map several source groups onto one target group.
///
/// A target group no source group maps onto is deleted only when the sync can show it was the
/// source's: the reconciler's [`GroupLedger`] recorded it after an earlier run (groups source
/// groups mapped onto), or the policy claims it by name ([`Policy::claims_group`]), and it is
/// not one of the product's [built-in groups](crate::policy::is_built_in_group). Clones of a
/// reconciler share its ledger, which is in memory unless [`with_ledger`](Reconciler::with_ledger)
/// gives another.
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
    ledger: Arc<dyn GroupLedger>,
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
            ledger: Arc::new(InMemoryGroupLedger::new()),
        }
    }

    /// Uses `options`.
    #[must_use]
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Records the target groups each tenant's syncs manage in `ledger` (one that survives
    /// restarts, such as a [`FileGroupLedger`](crate::FileGroupLedger), for runs in separate
    /// processes).
    #[must_use]
    pub fn with_ledger(mut self, ledger: Arc<dyn GroupLedger>) -> Self {
        self.ledger = ledger;
        self
    }

    /// Filters and shapes source resources with `policy`.
    #[must_use]
    pub fn with_policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// Applies push provisioning's `policy` ([`PushPolicy`]); build the target with
    /// [`target_policy`](crate::policy::target_policy) of it, so it is not applied twice.
    pub fn with_sync_policy(
        self,
        policy: &scim_provisioning::policy::SyncPolicy,
    ) -> Result<Self, scim_provisioning::policy::PolicyError> {
        Ok(self.with_policy(Arc::new(PushPolicy::new(policy)?)))
    }

    /// Reads `source` and `target` and plans the writes that make the target match.
    ///
    /// With a scope ([`Policy::scope_groups`]), the source's groups are read twice: first to
    /// learn the scope groups' members (only those are kept), then to plan the groups.
    pub async fn plan<S: DirectorySource + ?Sized, P: Provisioner + ?Sized>(
        &self,
        source: &S,
        target: &P,
        ctx: &RequestContext,
    ) -> Result<Plan, SyncError> {
        let mut steps = Vec::new();
        let mut warnings = Vec::new();
        let recorded = self.ledger.load(ctx.tenant()).await?;
        let target_users = scan(|offset| target.scan_users(ctx, offset, SCAN_PAGE)).await?;
        let users = self
            .plan_users(source, &target_users, &mut steps, &mut warnings)
            .await?;
        let groups = self
            .plan_groups(
                source,
                target,
                ctx,
                &target_users,
                &users,
                &recorded,
                &mut steps,
                &mut warnings,
            )
            .await?;
        let limits = Limits {
            max_deactivate_fraction: self.options.max_deactivate_fraction,
            max_delete_group_fraction: self.options.max_delete_group_fraction,
            concurrency: self.options.concurrency.max(1),
        };
        let changed = !same_names(&groups.managed, &recorded);
        Ok(Plan::new(
            steps,
            Context {
                target_users: target_users.len(),
                target_groups: groups.target_groups,
                warnings,
                limits,
                managed_groups: groups.managed,
                ledger: Some(LedgerUpdate {
                    ledger: self.ledger.clone(),
                    tenant: ctx.tenant().to_owned(),
                    changed,
                }),
            },
        ))
    }

    /// The lower-cased member values of the policy's scope groups, or `None` without a scope.
    async fn scope_members<S: DirectorySource + ?Sized>(
        &self,
        source: &S,
    ) -> Result<Option<HashSet<String>>, SyncError> {
        let scope = self.policy.scope_groups();
        if scope.is_empty() {
            return Ok(None);
        }
        let mut members = HashSet::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.groups_page(cursor).await?;
            for group in page {
                if names_one_of(&group.display_name, scope) {
                    members.extend(
                        group
                            .members
                            .iter()
                            .filter_map(|m| m.value.as_deref())
                            .map(str::to_lowercase),
                    );
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(Some(members)),
            }
        }
    }

    /// Plans the user steps; returns how source users resolve to target users.
    async fn plan_users<S: DirectorySource + ?Sized>(
        &self,
        source: &S,
        target_users: &[User],
        steps: &mut Vec<Step>,
        warnings: &mut Vec<String>,
    ) -> Result<SyncedUsers, SyncError> {
        let scope = self.scope_members(source).await?;
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
        let mut out = SyncedUsers::default();

        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.users_page(cursor).await?;
            for user in page {
                let keys = source_keys(&user);
                let in_scope = scope.as_ref().is_none_or(|members| {
                    user.groups.iter().any(|g| {
                        [g.display.as_deref(), g.value.as_deref()]
                            .into_iter()
                            .flatten()
                            .any(|n| names_one_of(n, self.policy.scope_groups()))
                    }) || keys
                        .iter()
                        .any(|(_, k)| members.contains(&k.to_lowercase()))
                });
                // Left out by the policy: group members naming it get a warning, as members
                // the source lacks do (unlike users out of scope, which are left out on purpose).
                let Some(user) = self.policy.user(user) else {
                    continue;
                };
                let found = user
                    .external_id
                    .as_deref()
                    .and_then(|e| users_by_ext.get(e))
                    .or_else(|| users_by_name.get(&user.user_name.to_lowercase()))
                    .copied()
                    .and_then(|i| target_users.get(i).map(|t| (i, t)));
                if !in_scope {
                    // Left as it is at the target, unless the policy deprovisions users who
                    // left the scope: then it counts as missing from the source.
                    if let Some((i, current)) = found {
                        if !self.policy.deprovision_out_of_scope() {
                            if let Some(seen) = user_seen.get_mut(i) {
                                *seen = true;
                            }
                            out.left_alone.extend(current.id.clone());
                        }
                    }
                    out.excluded
                        .extend(keys.into_iter().map(|(p, k)| key(p, &k)));
                    continue;
                }
                let user_ref = match found {
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
                        out.created.push(out.users.len());
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
                let at = out.users.len();
                out.users.push(user_ref);
                for (prefix, k) in keys {
                    out.refs.insert(key(prefix, &k), at);
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if self.options.deactivate_missing_users {
            for (user, seen) in target_users.iter().zip(&user_seen) {
                if !seen && user.active.unwrap_or(true) {
                    let user = UserRef {
                        id: user.id.clone(),
                        user_name: user.user_name.clone(),
                    };
                    steps.push(if self.policy.delete_users() {
                        Step::DeleteUser { user }
                    } else {
                        Step::DeactivateUser { user }
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Every resource of a target, read [`SCAN_PAGE`] at a time.
pub(crate) async fn scan<T, F, Fut>(mut page: F) -> Result<Vec<T>, SyncError>
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

/// How the source's users resolved while planning.
#[derive(Default)]
struct SyncedUsers {
    /// The target user each synced source user becomes, in source order.
    users: Vec<UserRef>,
    /// `id:`, `ext:` and `name:` (lower-cased) keys of synced source users -> their place in
    /// `users`.
    refs: HashMap<String, usize>,
    /// Keys of source users the policy left out.
    excluded: HashSet<String>,
    /// Target ids of users the policy leaves as they are (out of scope): never removed from
    /// groups.
    left_alone: HashSet<String>,
    /// Places in `users` of the users the plan creates.
    created: Vec<usize>,
}

impl SyncedUsers {
    /// The users at places `at` of `users`.
    fn refs_of(&self, at: &[usize]) -> Vec<UserRef> {
        at.iter()
            .filter_map(|i| self.users.get(*i).cloned())
            .collect()
    }
}

/// The keys group members may name a source user by: its id, externalId and userName.
fn source_keys(user: &User) -> Vec<(&'static str, String)> {
    let mut keys = Vec::with_capacity(3);
    if let Some(id) = &user.id {
        keys.push(("id", id.clone()));
    }
    if let Some(ext) = &user.external_id {
        keys.push(("ext", ext.clone()));
    }
    keys.push(("name", user.user_name.to_lowercase()));
    keys
}

fn key(prefix: &str, value: &str) -> String {
    format!("{prefix}:{value}")
}

/// Whether `a` and `b` hold the same names, ignoring case and order.
fn same_names(a: &[String], b: &[String]) -> bool {
    let set = |names: &[String]| -> HashSet<String> {
        names.iter().map(|n| n.trim().to_lowercase()).collect()
    };
    set(a) == set(b)
}

/// Whether group name `name` is one of `names`, ignoring case and surrounding blanks.
fn names_one_of(name: &str, names: &[String]) -> bool {
    let name = name.trim();
    names.iter().any(|n| n.trim().eq_ignore_ascii_case(name))
}
