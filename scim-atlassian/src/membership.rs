//! Group `PATCH`es that only add or remove members, in O(1) product calls whatever the size of
//! the group.
//!
//! Entra ID and Okta fill a group one member per `PATCH`. Reading the whole group first (a
//! product pages its members 50 at a time) made each such `PATCH` cost 2 + members/50 calls,
//! and filling a group quadratic. The products' membership calls answer for themselves
//! (Jira: 400 "already a member" / "not a member", Crowd: 409 / 404 `MEMBERSHIP_NOT_FOUND`,
//! Confluence and Bitbucket: idempotent), which the [`Directory`](crate::directory::Directory)
//! contract already makes success, so no read is needed to decide. The group is read back
//! once for the response, and not at all when the client left `members` out of it
//! (`excludedAttributes=members`, [`RequestContext::members_returned`]).

use scim_core::ScimError;
use scim_core::patch::{OpKind, PatchOp};
use scim_core::provision::RequestContext;
use scim_core::{Group, Member};
use scim_filter::{CompValue, CompareOp, Filter};

use crate::AtlassianProvisioner;
use crate::provisioner::group_view;

/// The members a `PATCH` adds and removes, when that is all it does.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberChanges {
    /// Ids added.
    pub(crate) add: Vec<String>,
    /// Ids removed.
    pub(crate) remove: Vec<String>,
}

impl MemberChanges {
    /// The member changes of `patch`, or `None` when it does anything else (a rename, a
    /// `replace` of `members`, a remove of every member, a filter other than `value eq`).
    pub(crate) fn of(patch: &PatchOp) -> Option<Self> {
        let mut changes = MemberChanges::default();
        for op in &patch.operations {
            let path = op.path.as_ref()?;
            if !path.attr().name().eq_ignore_ascii_case("members") || path.sub_attr().is_some() {
                return None;
            }
            match (op.op, path.filter()) {
                (OpKind::Add, None) => changes.add.extend(values(op.value.as_ref()?)?),
                (OpKind::Remove, Some(filter)) if op.value.is_none() => {
                    value_ids(filter, &mut changes.remove)?;
                }
                // Okta and some others send the members to remove as the value.
                (OpKind::Remove, None) => changes.remove.extend(values(op.value.as_ref()?)?),
                _ => return None,
            }
        }
        Some(changes)
    }
}

/// The `value`s of an array of members (or of one member).
fn values(value: &serde_json::Value) -> Option<Vec<String>> {
    let items = match value {
        serde_json::Value::Array(items) => items.as_slice(),
        one @ serde_json::Value::Object(_) => std::slice::from_ref(one),
        _ => return None,
    };
    items
        .iter()
        .map(|m| {
            m.get("value")
                .and_then(serde_json::Value::as_str)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .collect()
}

/// The ids of `value eq "id"` (or several joined by `or`) into `out`; `None` for any other
/// filter.
fn value_ids(filter: &Filter, out: &mut Vec<String>) -> Option<()> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(id))
            if path.name().eq_ignore_ascii_case("value") && path.sub_attr().is_none() =>
        {
            out.push(id.as_str().to_owned());
            Some(())
        }
        Filter::Or(operands) => operands.iter().try_for_each(|f| value_ids(f, out)),
        _ => None,
    }
}

impl AtlassianProvisioner {
    /// Applies `changes` to group `id` with one membership call per member and Jira group it
    /// maps to (plus one read of each member added, to check and name it), then reads the
    /// group once for the answer unless `ctx` says `members` are not shown.
    pub(crate) async fn change_members(
        &self,
        ctx: &RequestContext,
        id: &str,
        changes: &MemberChanges,
    ) -> Result<Group, ScimError> {
        let Some(targets) = self.targets(id) else {
            return Ok(group_view(id, &[]));
        };
        let added = self.resolve_members(&changes.add).await?;
        let mut removed = Vec::with_capacity(changes.remove.len());
        for key in &changes.remove {
            // A user that is gone is in no group.
            if let Some(user) = self.dir.user_by_id(key, false).await? {
                removed.push(user);
            }
        }
        for (i, target) in targets.iter().enumerate() {
            for user in &added {
                match self.dir.add_member(target, &user.name).await {
                    Ok(()) => {}
                    Err(e) if e.status() == Some(404) && e.mentions("group") => {
                        if i == 0 {
                            return Err(ScimError::not_found("Group", id));
                        }
                        // A manual target deleted in the product: the mapping names it, so
                        // it comes back.
                        self.dir.create_group(target).await?;
                        self.dir.add_member(target, &user.name).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for user in &removed {
                match self.dir.remove_member(target, &user.name).await {
                    Ok(()) => {}
                    Err(e) if e.status() == Some(404) && e.mentions("group") && i == 0 => {
                        return Err(ScimError::not_found("Group", id));
                    }
                    Err(e) if e.status() == Some(404) && e.mentions("group") => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let scope_group = self.policy.scope.iter().any(|s| s.eq_ignore_ascii_case(id));
        if self.policy.deprovision_out_of_scope && scope_group {
            for user in &removed {
                self.deprovision_if_out_of_scope(&user.id).await?;
            }
        }
        if !ctx.members_returned() {
            let mut group = Group::new(id);
            group.id = Some(id.to_owned());
            group.meta = Some(scim_core::Meta {
                resource_type: Some("Group".to_owned()),
                ..scim_core::Meta::default()
            });
            return Ok(group);
        }
        Ok(self.read_group(id).await?.1)
    }

    /// [`Provisioner::add_members`](scim_core::provision::Provisioner::add_members) in O(1)
    /// calls per member.
    pub(crate) async fn add_member_ids(
        &self,
        ctx: &RequestContext,
        id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        let mut changes = MemberChanges::default();
        for (i, m) in members.iter().enumerate() {
            match m.value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => changes.add.push(v.to_owned()),
                None => {
                    return Err(ScimError::invalid_value(
                        format!("members[{i}].value"),
                        "is required",
                    ));
                }
            }
        }
        self.change_members(ctx, id, &changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(ops: &serde_json::Value) -> PatchOp {
        PatchOp::from_value(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops
        }))
        .unwrap()
    }

    #[test]
    fn member_adds_and_removes_are_recognised_and_anything_else_is_not() {
        let p = patch(&serde_json::json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"c\" or value eq \"d\"]"},
            {"op": "Remove", "path": "members", "value": [{"value": "e"}]}
        ]));
        assert_eq!(
            MemberChanges::of(&p),
            Some(MemberChanges {
                add: vec!["a".into(), "b".into()],
                remove: vec!["c".into(), "d".into(), "e".into()],
            })
        );
        for other in [
            serde_json::json!([{"op": "replace", "path": "members", "value": [{"value": "a"}]}]),
            serde_json::json!([{"op": "remove", "path": "members"}]),
            serde_json::json!([{"op": "replace", "path": "displayName", "value": "x"}]),
            serde_json::json!([{"op": "add", "value": {"members": [{"value": "a"}]}}]),
            serde_json::json!([{"op": "remove", "path": "members[display eq \"a\"]"}]),
            serde_json::json!([{"op": "add", "path": "members", "value": [{"display": "a"}]}]),
        ] {
            assert_eq!(MemberChanges::of(&patch(&other)), None, "{other}");
        }
    }
}
