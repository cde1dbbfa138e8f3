//! [`Policy`]: which source users and groups are synced and what they become at the target;
//! [`PushPolicy`]: push provisioning's [`SyncPolicy`] as such a policy.
//!
//! # Applying a `SyncPolicy` once
//!
//! scim-atlassian's provisioner applies a [`SyncPolicy`] to every write it receives when built
//! with `JiraBuilder::policy`, and shows resources back in the identity provider's terms. A
//! sync does not go through that: the reconciler applies the policy itself ([`PushPolicy`])
//! and plans in target terms (Jira's user and group names), so that any [`Provisioner`]
//! (scim-core's in-memory one, Cloud, Jira) is a target and the plan prints what will be in
//! the product. The target is then built with [`target_policy`] of the same policy: only its
//! deprovisioning mechanics (who takes over a deleted user's projects), no mapping, so
//! nothing is mapped twice.
//!
//! [`Provisioner`]: scim_core::provision::Provisioner

use scim_core::{Group, User};
use scim_provisioning::policy::{
    DeprovisionAction, GroupMapping, PolicyError, PolicyRules, SyncPolicy,
};

/// What a sync does with a target group no source group maps onto any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingGroup {
    /// Delete it.
    Delete,
    /// Remove its members, keep the group (an administrator's group the mapping fills).
    Empty,
    /// Leave it as it is: the sync does not manage it.
    Keep,
}

/// Decides which source users and groups are synced and how they look at the target.
///
/// Names a policy returns are target names: the reconciler matches and writes them as they
/// are. Every method has a default that syncs everything as the source has it.
pub trait Policy: Send + Sync {
    /// The user as it should be at the target (its `userName` transformed), or `None` to
    /// leave it out, as if the source did not have it.
    fn user(&self, user: User) -> Option<User> {
        Some(user)
    }

    /// The target groups source group `group` becomes (several when one IdP group stands for
    /// several target groups), or `None` to leave it out. Source groups mapping onto the same
    /// target group give it the union of their members.
    fn target_groups(&self, group: &Group) -> Option<Vec<String>> {
        Some(vec![group.display_name.clone()])
    }

    /// Source group names whose members alone are synced; empty (the default) syncs every
    /// user.
    fn scope_groups(&self) -> &[String] {
        &[]
    }

    /// Whether target users matching a source user outside the scope are deprovisioned
    /// (otherwise they are left as they are).
    fn deprovision_out_of_scope(&self) -> bool {
        false
    }

    /// Target groups each user this sync creates joins.
    fn default_groups_for_new(&self) -> &[String] {
        &[]
    }

    /// Target groups every synced user is kept in. Members are only ever added to default
    /// groups, never removed, and the groups are never deleted.
    fn default_groups_for_all(&self) -> &[String] {
        &[]
    }

    /// What becomes of target group `name` when no source group maps onto it. `Delete` and
    /// `Empty` apply only to a group the sync can show was the source's: one the
    /// [`GroupLedger`](crate::GroupLedger) recorded, or one [`claims_group`](Policy::claims_group)
    /// claims. Others are kept, and a product's built-in groups ([`is_built_in_group`]) are
    /// never deleted.
    fn missing_group(&self, name: &str) -> MissingGroup {
        let _ = name;
        MissingGroup::Delete
    }

    /// Whether target group `name` is the source's by its name alone (it passes the mapping's
    /// `include` filters, it is a target of a manual mapping), so a sync may delete or empty it
    /// even when no earlier sync recorded it. The default claims nothing: only groups the
    /// ledger recorded are the source's.
    fn claims_group(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// Whether users are deprovisioned by deleting them rather than deactivating them.
    fn delete_users(&self) -> bool {
        false
    }
}

/// The policy that syncs everything as the source has it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncEverything;

impl Policy for SyncEverything {}

/// Push provisioning's [`SyncPolicy`], applied by the reconciler in target terms: the
/// `user_name` and `group_name` transformations, on-the-fly (with include/exclude filters) or
/// manual group mapping, scope by IdP groups, default groups and the deprovision action.
///
/// Differences from push, where a sync sees more than one write does: a target group the
/// mapping owns that no IdP group maps onto any more is deleted on the fly and emptied under
/// manual mapping (whose groups are the administrator's); users are deprovisioned when the
/// source no longer has them, not only when told to. `remove_unmanaged_groups` has nothing to
/// do here: a sync removes members only from groups the mapping owns.
///
/// Which groups the mapping owns: with `include` filters, the groups they let through; with
/// manual mapping, the map's targets ([`claims_group`](Policy::claims_group)). Without
/// `include` filters every name would pass, `jira-administrators` too, so on-the-fly mapping
/// then owns only the groups the [`GroupLedger`](crate::GroupLedger) recorded from earlier
/// syncs: groups made in Jira are kept, and so is every group on a first run.
#[derive(Debug, Clone)]
pub struct PushPolicy {
    rules: PolicyRules,
    manual: bool,
    /// Whether the mapping names the groups it owns (`include` filters, or a manual map).
    claims: bool,
}

impl PushPolicy {
    /// `policy`, checked.
    pub fn new(policy: &SyncPolicy) -> Result<Self, PolicyError> {
        let manual = matches!(policy.groups, GroupMapping::Manual { .. });
        let filtered =
            matches!(&policy.groups, GroupMapping::OnTheFly { include, .. } if !include.is_empty());
        Ok(PushPolicy {
            rules: policy.rules()?,
            manual,
            claims: manual || filtered,
        })
    }
}

impl Policy for PushPolicy {
    fn user(&self, mut user: User) -> Option<User> {
        user.user_name = self.rules.user_name(&user.user_name)?;
        Some(user)
    }

    fn target_groups(&self, group: &Group) -> Option<Vec<String>> {
        self.rules.target_groups(&group.display_name)
    }

    fn scope_groups(&self) -> &[String] {
        self.rules.scope_groups()
    }

    fn deprovision_out_of_scope(&self) -> bool {
        self.rules.deprovision_out_of_scope()
    }

    fn default_groups_for_new(&self) -> &[String] {
        self.rules.default_groups_for_new()
    }

    fn default_groups_for_all(&self) -> &[String] {
        self.rules.default_groups_for_all()
    }

    fn missing_group(&self, name: &str) -> MissingGroup {
        match (self.rules.manages_group(name), self.manual) {
            (false, _) => MissingGroup::Keep,
            (true, true) => MissingGroup::Empty,
            (true, false) => MissingGroup::Delete,
        }
    }

    fn claims_group(&self, name: &str) -> bool {
        self.claims && self.rules.manages_group(name)
    }

    fn delete_users(&self) -> bool {
        self.rules.deprovision_action() == DeprovisionAction::Delete
    }
}

/// Groups Atlassian products make themselves and depend on: administrators' groups and the
/// groups that grant product access. On Cloud the product-access groups carry the site's name
/// as a suffix (`jira-software-users-acme`), so a name counts when it is one of these or
/// starts with one and a `-`.
pub const BUILT_IN_GROUPS: &[&str] = &[
    "jira-administrators",
    "jira-admins",
    "jira-users",
    "jira-developers",
    "jira-software-users",
    "jira-core-users",
    "jira-servicedesk-users",
    "jira-servicemanagement-users",
    "jira-work-management-users",
    "confluence-administrators",
    "confluence-admins",
    "confluence-users",
    "stash-users",
    "bitbucket-users",
    "bitbucket-administrators",
    "site-admins",
    "system-administrators",
    "administrators",
    "org-admins",
    "trusted-users",
];

/// Whether `name` is one of the [`BUILT_IN_GROUPS`] (ignoring case and surrounding blanks, with
/// a `-site` suffix or not): a sync never deletes such a group, whatever the policy or the
/// ledger says.
pub fn is_built_in_group(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    BUILT_IN_GROUPS.iter().any(|b| {
        name.strip_prefix(b)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

/// The policy for the target of a sync that applies `policy` itself ([`PushPolicy`]): only
/// the deprovisioning and seat settings, which are target mechanics (how a user is deleted,
/// who takes over what it leads, how many licence seats stay free), and the default mapping, so names are not transformed twice.
pub fn target_policy(policy: &SyncPolicy) -> SyncPolicy {
    SyncPolicy {
        deprovision: policy.deprovision.clone(),
        seats: policy.seats.clone(),
        ..SyncPolicy::default()
    }
}
