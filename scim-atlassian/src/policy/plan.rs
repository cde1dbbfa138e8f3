//! The policy's decisions about one user's groups, shared by every target: which groups a
//! user write leads to, and whether a user is still in scope. Pure: the caller reads the
//! product's state and writes what is decided.

use http::StatusCode;
use scim_core::{ScimError, User};

use super::CompiledPolicy;

/// What a user write asks of the user's groups in the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupPlan {
    /// Groups to put the user in.
    pub(crate) add: Vec<String>,
    /// Groups to take the user out of.
    pub(crate) remove: Vec<String>,
    /// The groups the mapping gave the user, to remember as managed, when the write carried
    /// `groups`.
    pub(crate) managed: Option<Vec<String>>,
}

fn has(list: &[String], g: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(g))
}

impl CompiledPolicy {
    /// The groups a user write leads to: `idp` (the IdP group names the write carried, if
    /// any) mapped, plus the default groups, against the user's `current` groups in the
    /// product. `managed` are the groups earlier writes gave the user through the mapping.
    /// With `current_names_stay`, an IdP name that is already one of the user's groups stands
    /// for that group (a PATCH starts from the user as SCIM showed it, with the product's
    /// names).
    pub(crate) fn plan_groups(
        &self,
        idp: Option<&[String]>,
        current: &[String],
        managed: &[String],
        new_user: bool,
        current_names_stay: bool,
    ) -> GroupPlan {
        let mut mapped: Vec<String> = Vec::new();
        for name in idp.unwrap_or(&[]) {
            let targets = if current_names_stay && has(current, name) {
                Some(vec![name.clone()])
            } else {
                self.jira_groups(name)
            };
            for g in targets.into_iter().flatten() {
                if !has(&mapped, &g) {
                    mapped.push(g);
                }
            }
        }
        let mut wanted = mapped.clone();
        let defaults = self
            .all_users
            .iter()
            .chain(self.new_users.iter().filter(|_| new_user));
        for g in defaults {
            if !has(&wanted, g) {
                wanted.push(g.clone());
            }
        }
        let add = wanted
            .iter()
            .filter(|g| !has(current, g))
            .cloned()
            .collect();
        let remove = if idp.is_some() {
            current
                .iter()
                .filter(|c| !has(&wanted, c) && !self.is_default_group(c))
                .filter(|c| self.remove_unmanaged || self.manages(c, managed))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        GroupPlan {
            add,
            remove,
            managed: idp.map(|_| mapped),
        }
    }

    /// Whether a user in the product groups `groups` is in one of the groups the scope
    /// groups map to (always, without a scope).
    pub(crate) fn in_scope_groups(&self, groups: &[String]) -> bool {
        self.scope.is_empty()
            || self
                .scope
                .iter()
                .filter_map(|s| self.jira_groups(s))
                .flatten()
                .any(|t| has(groups, &t))
    }
}

impl CompiledPolicy {
    /// Refuses (403, nothing written) the creation of user `user_name` whose IdP `groups`
    /// name no scope group; `product` names where nothing was written.
    pub(crate) fn check_create_scope(
        &self,
        user_name: &str,
        groups: Option<&[String]>,
        product: &str,
    ) -> Result<(), ScimError> {
        if self.in_scope(groups.into_iter().flatten().map(String::as_str)) {
            return Ok(());
        }
        Err(ScimError::other(
            StatusCode::FORBIDDEN,
            None,
            format_args!(
                "user {user_name:?} is outside the sync scope: its groups name none of the \
                 policy's scope.groups; nothing was written to {product}"
            ),
        ))
    }
}

/// The IdP group names a user write carries in `groups` (`display`, else `value`); `None`
/// when it carries none.
pub(crate) fn idp_groups(user: &User) -> Option<Vec<String>> {
    let names: Vec<String> = user
        .groups
        .iter()
        .filter_map(|g| g.display.as_deref().or(g.value.as_deref()))
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

#[cfg(test)]
mod tests {
    use crate::policy::SyncPolicy;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn plans_mapped_and_default_groups_and_removes_only_managed_ones() {
        let policy = SyncPolicy::builder()
            .map_group("okta-dev", ["developers", "jira-users"])
            .default_group_for_new("newcomers")
            .default_group_for_all("everyone")
            .build()
            .and_then(|p| p.compile());
        let Ok(policy) = policy else {
            panic!("the policy is valid");
        };
        let current = names(&["jira-users", "admins", "testers", "everyone"]);
        let plan = policy.plan_groups(
            Some(&names(&["okta-dev", "okta-unknown"])),
            &current,
            &names(&["testers"]),
            true,
            false,
        );
        assert_eq!(plan.add, names(&["developers", "newcomers"]));
        // `admins` is not the mapping's, `testers` was given by an earlier write.
        assert_eq!(plan.remove, names(&["testers"]));
        assert_eq!(plan.managed, Some(names(&["developers", "jira-users"])));
        // Without `groups` nothing is removed, and only all-user defaults are added.
        let plan = policy.plan_groups(None, &[], &[], false, false);
        assert_eq!(plan.add, names(&["everyone"]));
        assert!(plan.remove.is_empty() && plan.managed.is_none());
    }

    #[test]
    fn scope_is_checked_on_the_groups_the_scope_groups_map_to() {
        let Ok(policy) = SyncPolicy::builder()
            .group_name(crate::policy::NameTransform::default().rule("^okta-(.*)$", "$1"))
            .scope_group("okta-staff")
            .build()
            .and_then(|p| p.compile())
        else {
            panic!("the policy is valid");
        };
        assert!(policy.in_scope_groups(&names(&["Staff"])));
        assert!(!policy.in_scope_groups(&names(&["okta-staff", "others"])));
    }
}
