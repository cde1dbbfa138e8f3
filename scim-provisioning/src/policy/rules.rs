//! [`PolicyRules`]: a checked [`SyncPolicy`]'s decisions as pure functions, for code that
//! applies the policy outside a provisioner (a directory sync planning in target terms).

use super::{CompiledPolicy, DeprovisionAction, Mapping, PolicyError, SyncPolicy};

/// What a [`SyncPolicy`] decides, name by name, with nothing of the target in it: the same
/// functions `scim_atlassian::AtlassianProvisioner` applies to pushed writes.
///
/// ```
/// use scim_provisioning::policy::{NameTransform, SyncPolicy};
///
/// let rules = SyncPolicy::builder()
///     .include("^okta-")
///     .group_name(NameTransform::default().rule("^okta-(.*)$", "jira-$1"))
///     .user_name(NameTransform::default().strip_domain())
///     .build()?
///     .rules()?;
/// assert_eq!(rules.user_name("bjensen@example.com").as_deref(), Some("bjensen"));
/// assert_eq!(rules.target_groups("okta-eng"), Some(vec!["jira-eng".to_owned()]));
/// assert_eq!(rules.target_groups("sales"), None);
/// # Ok::<(), scim_provisioning::policy::PolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PolicyRules {
    compiled: CompiledPolicy,
}

impl SyncPolicy {
    /// The policy's decisions as functions ([`PolicyRules`]), or the first setting that
    /// cannot work.
    pub fn rules(&self) -> Result<PolicyRules, PolicyError> {
        Ok(PolicyRules {
            compiled: self.compile()?,
        })
    }
}

impl PolicyRules {
    /// The target user name for IdP `userName` `name` (the `user_name` transformation), or
    /// `None` when the transformation leaves nothing of it.
    pub fn user_name(&self, name: &str) -> Option<String> {
        self.compiled.user_name.apply(name)
    }

    /// The target groups IdP group `name` stands for (one on the fly, one or more with
    /// manual mapping), or `None` when the policy ignores the group.
    pub fn target_groups(&self, name: &str) -> Option<Vec<String>> {
        self.compiled.jira_groups(name)
    }

    /// Whether groups map to same-named groups, one to one, with no filter.
    pub fn groups_are_identity(&self) -> bool {
        self.compiled.groups_are_identity()
    }

    /// Whether target group `name` is one the mapping owns, so a sync may empty or delete it
    /// when no IdP group maps onto it any more: with manual mapping, a target of the map; on
    /// the fly, a group the mapping would make of an IdP group of the same name (an
    /// administrator's `jira-administrators` is not, under an `include` filter). Renamed
    /// groups cannot be traced back to their IdP name, so on the fly they count only when
    /// the rename leaves their name as it is. Default groups never count.
    pub fn manages_group(&self, name: &str) -> bool {
        if self.is_default_group(name) {
            return false;
        }
        match &self.compiled.mapping {
            Mapping::Manual(_) => self.compiled.manages(name, &[]),
            Mapping::OnTheFly { .. } => self.compiled.jira_groups(name).is_some_and(|t| {
                t.first()
                    .is_some_and(|first| first.eq_ignore_ascii_case(name.trim()))
            }),
        }
    }

    /// The IdP groups whose members alone are synced; empty syncs everyone.
    pub fn scope_groups(&self) -> &[String] {
        &self.compiled.scope
    }

    /// Whether a user in IdP groups `groups` is in scope (always, without scope groups).
    pub fn in_scope<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> bool {
        self.compiled.in_scope(groups.into_iter())
    }

    /// Whether a user who left every scope group is deprovisioned (rather than left alone).
    pub fn deprovision_out_of_scope(&self) -> bool {
        self.compiled.deprovision_out_of_scope
    }

    /// Target groups every new user joins.
    pub fn default_groups_for_new(&self) -> &[String] {
        &self.compiled.new_users
    }

    /// Target groups every user is kept in.
    pub fn default_groups_for_all(&self) -> &[String] {
        &self.compiled.all_users
    }

    /// Whether `name` is one of the default groups (which no sync removes anyone from).
    pub fn is_default_group(&self, name: &str) -> bool {
        self.compiled.is_default_group(name)
    }

    /// Deactivate or delete on deprovisioning.
    pub fn deprovision_action(&self) -> DeprovisionAction {
        self.compiled.action
    }
}
