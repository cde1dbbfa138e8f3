//! The group half of a plan: the target groups the source's groups become (through the
//! policy), compared with the target's.

use std::collections::{HashMap, HashSet};

use scim_core::provision::{Provisioner, RequestContext, SCAN_PAGE};
use scim_core::{Group, User};
use serde_json::Value;

use super::{Reconciler, SyncedUsers, key, scan};
use crate::SyncError;
use crate::error::listed;
use crate::plan::{Change, Step, UserRef};
use crate::policy::{MissingGroup, is_built_in_group};
use crate::source::{Cursor, DirectorySource};

impl Reconciler {
    /// The target groups the source's groups become, with their wanted members.
    async fn desired_groups<S: DirectorySource + ?Sized>(
        &self,
        source: &S,
        users: &SyncedUsers,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Desired>, SyncError> {
        let mut desired: Vec<Desired> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.groups_page(cursor).await?;
            for group in page {
                let Some(targets) = self.policy.target_groups(&group) else {
                    continue;
                };
                let mut wanted: Vec<usize> = Vec::new();
                for member in &group.members {
                    let Some(value) = member.value.as_deref() else {
                        continue;
                    };
                    let lower = value.to_lowercase();
                    let found = users
                        .refs
                        .get(&key("id", value))
                        .or_else(|| users.refs.get(&key("ext", value)))
                        .or_else(|| users.refs.get(&key("name", &lower)));
                    match found {
                        Some(at) => wanted.push(*at),
                        // Out of the policy's scope: left out on purpose, not worth a warning.
                        None if ["id", "ext", "name"]
                            .iter()
                            .any(|p| users.excluded.contains(&key(p, if *p == "name" { &lower } else { value }))) => {}
                        None => warnings.push(format!(
                            "group {}: member `{value}` is not a synced user of the source; skipped",
                            group.display_name
                        )),
                    }
                }
                let single = targets.len() == 1;
                for name in targets {
                    let entry = desired_entry(&mut desired, &mut index, &name);
                    if entry.mapped {
                        // Several source groups map here: an externalId is no one's.
                        if entry.external_id != group.external_id {
                            entry.external_id = None;
                        }
                    } else if single {
                        entry.external_id.clone_from(&group.external_id);
                    }
                    entry.mapped = true;
                    entry.add(&wanted);
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        for name in self.policy.default_groups_for_all() {
            let everyone: Vec<usize> = (0..users.users.len()).collect();
            desired_entry(&mut desired, &mut index, name).add(&everyone);
        }
        for name in self.policy.default_groups_for_new() {
            desired_entry(&mut desired, &mut index, name).add(&users.created);
        }
        Ok(desired)
    }

    /// Plans the group steps. `recorded` are the groups the ledger holds as the source's: with
    /// those the policy claims, the only ones deleted or emptied when no source group maps
    /// onto them.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plan_groups<S: DirectorySource + ?Sized, P: Provisioner + ?Sized>(
        &self,
        source: &S,
        target: &P,
        ctx: &RequestContext,
        target_users: &[User],
        users: &SyncedUsers,
        recorded: &[String],
        steps: &mut Vec<Step>,
        warnings: &mut Vec<String>,
    ) -> Result<PlannedGroups, SyncError> {
        let recorded: HashSet<String> = recorded.iter().map(|n| n.trim().to_lowercase()).collect();
        let mut managed = Managed::default();
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
        // Target user members of `group` the sync manages (not those left alone).
        let present = |group: &'_ Group| -> HashSet<String> {
            group
                .members
                .iter()
                .filter_map(|m| m.value.as_deref())
                .filter(|v| user_names.contains_key(v) && !users.left_alone.contains(*v))
                .map(str::to_owned)
                .collect()
        };
        let user_ref = |id: &str| UserRef {
            id: Some(id.to_owned()),
            user_name: user_names.get(id).copied().unwrap_or_default().to_owned(),
        };

        for group in self.desired_groups(source, users, warnings).await? {
            if group.mapped {
                managed.add(&group.name);
            }
            let found = group
                .external_id
                .as_deref()
                .and_then(|e| by_ext.get(e))
                .or_else(|| by_name.get(&group.name.to_lowercase()))
                .copied();
            let Some((i, current)) = found.and_then(|i| target_groups.get(i).map(|g| (i, g)))
            else {
                steps.push(Step::CreateGroup {
                    members: users.refs_of(&group.members),
                    display_name: group.name,
                    external_id: group.external_id,
                });
                continue;
            };
            if let Some(seen) = seen.get_mut(i) {
                if *seen {
                    warnings.push(format!(
                        "source group {} matches target group {} that another source group \
                         matched already; skipped",
                        group.name, current.display_name
                    ));
                    continue;
                }
                *seen = true;
            }
            let Some(group_id) = current.id.clone() else {
                continue;
            };
            let mut changes = Vec::new();
            if group.name != current.display_name {
                changes.push(Change {
                    attribute: "displayName".into(),
                    value: Value::String(group.name.clone()),
                });
            }
            // A target group without an externalId keeps it so: some targets (Jira) have
            // nowhere to store one, and writing it again on every run would never converge.
            if current.external_id.is_some()
                && group.external_id.is_some()
                && group.external_id != current.external_id
            {
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
            let present = present(current);
            let wanted = users.refs_of(&group.members);
            let wanted_ids: HashSet<&str> = wanted.iter().filter_map(|u| u.id.as_deref()).collect();
            let add: Vec<UserRef> = wanted
                .iter()
                .filter(|u| u.id.as_deref().is_none_or(|id| !present.contains(id)))
                .cloned()
                .collect();
            if !add.is_empty() {
                steps.push(Step::AddMembers {
                    group_id: group_id.clone(),
                    display_name: current.display_name.clone(),
                    members: add,
                });
            }
            // Default groups only ever gain members.
            if group.mapped {
                let mut remove: Vec<UserRef> = present
                    .iter()
                    .filter(|id| !wanted_ids.contains(id.as_str()))
                    .map(|id| user_ref(id))
                    .collect();
                remove.sort_by(|a, b| a.user_name.cmp(&b.user_name));
                if !remove.is_empty() {
                    steps.push(Step::RemoveMembers {
                        group_id,
                        display_name: current.display_name.clone(),
                        members: remove,
                    });
                }
            }
        }
        let mut unproven = Vec::new();
        let mut built_in = Vec::new();
        for (group, seen) in target_groups.iter().zip(&seen) {
            let name = &group.display_name;
            let ours = recorded.contains(&name.trim().to_lowercase());
            if ours {
                // Still at the target, so still the source's until a delete goes through.
                managed.add(name);
            }
            let (false, Some(id)) = (seen, &group.id) else {
                continue;
            };
            let owned = ours || self.policy.claims_group(name);
            match self.policy.missing_group(name) {
                MissingGroup::Delete | MissingGroup::Empty if !owned => unproven.push(name.clone()),
                MissingGroup::Delete if is_built_in_group(name) => built_in.push(name.clone()),
                MissingGroup::Delete if self.options.delete_missing_groups => {
                    steps.push(Step::DeleteGroup {
                        id: id.clone(),
                        display_name: group.display_name.clone(),
                    });
                }
                MissingGroup::Empty => {
                    let mut remove: Vec<UserRef> =
                        present(group).iter().map(|id| user_ref(id)).collect();
                    remove.sort_by(|a, b| a.user_name.cmp(&b.user_name));
                    if !remove.is_empty() {
                        steps.push(Step::RemoveMembers {
                            group_id: id.clone(),
                            display_name: group.display_name.clone(),
                            members: remove,
                        });
                    }
                }
                _ => {}
            }
        }
        unproven.sort_by_key(|n| n.to_lowercase());
        built_in.sort_by_key(|n| n.to_lowercase());
        if !unproven.is_empty() && self.options.delete_missing_groups {
            warnings.push(format!(
                "kept {} target groups no source group maps onto, since no earlier sync \
                 recorded them as the source's: {}",
                unproven.len(),
                listed(&unproven)
            ));
        }
        if !built_in.is_empty() && self.options.delete_missing_groups {
            warnings.push(format!(
                "kept built-in groups the product needs, though the source no longer has them: {}",
                listed(&built_in)
            ));
        }
        let mut managed = managed.names;
        managed.sort_by_key(|n| n.to_lowercase());
        Ok(PlannedGroups {
            target_groups: target_groups.len(),
            managed,
        })
    }
}

/// What planning the groups found besides the steps.
pub(super) struct PlannedGroups {
    /// How many groups the target has.
    pub(super) target_groups: usize,
    /// The groups the ledger records once the plan is applied.
    pub(super) managed: Vec<String>,
}

/// Target group names, each once whatever its case.
#[derive(Default)]
struct Managed {
    names: Vec<String>,
    keys: HashSet<String>,
}

impl Managed {
    fn add(&mut self, name: &str) {
        if self.keys.insert(name.trim().to_lowercase()) {
            self.names.push(name.to_owned());
        }
    }
}

/// A target group as the source wants it.
struct Desired {
    name: String,
    external_id: Option<String>,
    /// Places of the wanted members in [`SyncedUsers::users`].
    members: Vec<usize>,
    keys: HashSet<usize>,
    /// Whether a source group maps here (else it is only a default group: members are
    /// added, never removed).
    mapped: bool,
}

impl Desired {
    fn add(&mut self, users: &[usize]) {
        for at in users {
            if self.keys.insert(*at) {
                self.members.push(*at);
            }
        }
    }
}

/// The entry for target group `name` (compared ignoring case), added when missing.
fn desired_entry<'a>(
    desired: &'a mut Vec<Desired>,
    index: &mut HashMap<String, usize>,
    name: &str,
) -> &'a mut Desired {
    let at = *index.entry(name.to_lowercase()).or_insert_with(|| {
        desired.push(Desired {
            name: name.to_owned(),
            external_id: None,
            members: Vec::new(),
            keys: HashSet::new(),
            mapped: false,
        });
        desired.len() - 1
    });
    // `index` only holds positions of `desired`.
    #[allow(clippy::indexing_slicing)]
    &mut desired[at]
}
