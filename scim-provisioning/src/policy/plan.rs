//! The policy's decisions about one user's groups, shared by every target: which groups a
//! user write leads to, which groups a user PATCH names, and whether a user is still in scope. Pure: the caller reads the
//! product's state and writes what is decided.

use http::StatusCode;
use scim_core::patch::{PatchOp, PatchOperation};
use scim_core::{ScimError, User};
use serde_json::Value;

use super::CompiledPolicy;

/// What a user write asks of the user's groups in the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    /// Groups to put the user in.
    pub add: Vec<String>,
    /// Groups to take the user out of.
    pub remove: Vec<String>,
    /// The groups the mapping gave the user, to remember as managed, when the write carried
    /// `groups`.
    pub managed: Option<Vec<String>>,
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
    pub fn plan_groups(
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
    pub fn in_scope_groups(&self, groups: &[String]) -> bool {
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
    pub fn check_create_scope(
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
pub fn idp_groups(user: &User) -> Option<Vec<String>> {
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

/// Whether a user PATCH has an operation on `groups` (by path, or inside a path-less value).
pub fn touches_groups(patch: &PatchOp) -> bool {
    patch.operations.iter().any(|op| {
        path_is_groups(op)
            || (op.path.is_none()
                && matches!(&op.value, Some(Value::Object(obj)) if groups_key(obj).is_some()))
    })
}

/// Whether the operation's path is `groups` (with or without a filter).
fn path_is_groups(op: &PatchOperation) -> bool {
    op.path
        .as_ref()
        .is_some_and(|p| p.attr().name().eq_ignore_ascii_case("groups"))
}

/// The key spelling `groups` in a path-less operation's value, if any.
fn groups_key(obj: &serde_json::Map<String, Value>) -> Option<&String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case("groups"))
}

/// Takes the operations on `groups` out of a user PATCH (the schema makes `groups` read-only,
/// but identity providers that send a user's groups this way mean its memberships) and applies
/// them to `current` (the user's groups as SCIM shows them). Returns the other operations and
/// the resulting group names, `None` when no operation touched `groups`. `remove` takes a
/// path without filter (all) or with `value`/`display eq` terms; other filters remove nothing.
pub fn split_group_ops(patch: &PatchOp, current: &[String]) -> (PatchOp, Option<Vec<String>>) {
    fn names(value: Option<&Value>) -> Vec<String> {
        let one = |v: &Value| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Object(o) => o
                .get("display")
                .or_else(|| o.get("value"))
                .and_then(Value::as_str)
                .map(|s| s.trim().to_owned()),
            _ => None,
        };
        match value {
            Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
            Some(v) => one(v).into_iter().collect(),
            None => Vec::new(),
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
    fn eq_terms(filter: &scim_filter::Filter, out: &mut Vec<String>) {
        use scim_filter::{CompValue, CompareOp, Filter};
        match filter {
            Filter::Compare(_, CompareOp::Eq, CompValue::String(s)) => out.push(s.to_string()),
            Filter::Or(ops) => ops.as_slice().iter().for_each(|f| eq_terms(f, out)),
            _ => {}
        }
    }
    let mut groups: Option<Vec<String>> = None;
    let mut rest = Vec::new();
    for op in &patch.operations {
        if path_is_groups(op) {
            let list = groups.get_or_insert_with(|| current.to_vec());
            match op.op {
                scim_core::patch::OpKind::Replace => *list = names(op.value.as_ref()),
                scim_core::patch::OpKind::Add => list.extend(names(op.value.as_ref())),
                scim_core::patch::OpKind::Remove => {
                    match op.path.as_ref().and_then(|p| p.filter()) {
                        None => list.clear(),
                        Some(filter) => {
                            let mut terms = Vec::new();
                            eq_terms(filter, &mut terms);
                            list.retain(|g| !terms.iter().any(|t| t.eq_ignore_ascii_case(g)));
                        }
                    }
                }
            }
            continue;
        }
        if op.path.is_none() {
            if let Some(Value::Object(obj)) = &op.value {
                if let Some(key) = groups_key(obj).cloned() {
                    let list = groups.get_or_insert_with(|| current.to_vec());
                    let sent = names(obj.get(&key));
                    if op.op == scim_core::patch::OpKind::Add {
                        list.extend(sent);
                    } else {
                        *list = sent;
                    }
                    let mut others = obj.clone();
                    others.remove(&key);
                    rest.push(scim_core::patch::PatchOperation::new(
                        op.op,
                        None,
                        Some(Value::Object(others)),
                    ));
                    continue;
                }
            }
        }
        rest.push(op.clone());
    }
    (PatchOp::new(rest), groups)
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
