//! The [`SyncPolicy`](crate::policy::SyncPolicy) applied to Cloud: finding groups by name,
//! putting users in the groups the policy decides (creating missing ones), fanning group
//! membership changes out to every Cloud group a manual mapping names, groups the policy
//! ignores, and deprovisioning. The decisions are the policy module's, shared with Jira; this
//! module only reads Cloud and writes what they say.

use http::Method;
use scim_core::{Group, MultiValue, ScimError, User};
use serde_json::{Value, json};

use super::{
    CloudProvisioner, Kind, add_op, group_from, member_ids, patch_body, remove_ops, user_from,
};
use crate::history::note_action;
use scim_provisioning::policy::{DeprovisionAction, GroupPlan, Mapping};

/// The id prefix of a group the policy ignores: accepted, shown empty, never sent to Cloud.
/// Cloud's own ids are UUIDs, so the prefix cannot clash with them.
const UNSYNCED: &str = "unsynced-";

/// The id of the ignored group `name`: its UTF-8 bytes in hex, so the id is path-safe and
/// the name comes back from it.
pub(super) fn unsynced_id(name: &str) -> String {
    use std::fmt::Write;
    let mut id = String::with_capacity(UNSYNCED.len() + 2 * name.len());
    id.push_str(UNSYNCED);
    for b in name.bytes() {
        // Writing to a String cannot fail.
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// The name behind an ignored group's id, `None` for a Cloud id.
pub(super) fn unsynced_name(id: &str) -> Option<String> {
    let hex = id.strip_prefix(UNSYNCED)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// An ignored group as SCIM shows it: its name, no members.
pub(super) fn unsynced_group(name: &str) -> Group {
    let mut group = Group::new(name);
    group.id = Some(unsynced_id(name));
    group
}

impl CloudProvisioner {
    /// Cloud's group named `name` (Cloud's `displayName eq`, ignoring case as Cloud does).
    pub(super) async fn group_by_name(&self, name: &str) -> Result<Option<Value>, ScimError> {
        let literal = serde_json::to_string(name)?;
        let (found, _) = self
            .list_page(
                Kind::Groups,
                Some(&format!("displayName eq {literal}")),
                1,
                1,
            )
            .await?;
        Ok(found.into_iter().next())
    }

    /// Cloud's group `name` holding (at least) `members`: created when missing (the mapping
    /// and the default groups name groups that should exist), else given the members it
    /// lacks in one PATCH.
    pub(super) async fn ensure_group(
        &self,
        name: &str,
        members: &[&str],
    ) -> Result<Group, ScimError> {
        let found = if let Some(found) = self.group_by_name(name).await? {
            found
        } else {
            let value: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
            let body = json!({
                "schemas": [scim_core::urn::GROUP],
                "displayName": name,
                "members": value,
            });
            match self.write(Method::POST, Kind::Groups, None, &body).await {
                Ok(created) => return group_from(created),
                // Created meanwhile by a concurrent write (Cloud answers 409 to a duplicate
                // name): join the group that won.
                Err(e) if e.status().as_u16() == 409 => self.group_by_name(name).await?.ok_or(e)?,
                Err(e) => return Err(e),
            }
        };
        let group = group_from(found)?;
        let have = member_ids(&group.members);
        let mut missing: Vec<&str> = members
            .iter()
            .copied()
            .filter(|m| !have.contains(m))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let Some(id) = group.id.clone().filter(|_| !missing.is_empty()) else {
            return Ok(group);
        };
        group_from(
            self.write(
                Method::PATCH,
                Kind::Groups,
                Some(&id),
                &patch_body(&[add_op(&missing)]),
            )
            .await?,
        )
    }

    /// Takes `members` out of Cloud's group `name`, when it exists and holds them.
    async fn leave_group(&self, name: &str, members: &[&str]) -> Result<(), ScimError> {
        let Some(found) = self.group_by_name(name).await? else {
            return Ok(());
        };
        let group = group_from(found)?;
        let have = member_ids(&group.members);
        let mut present: Vec<&str> = members
            .iter()
            .copied()
            .filter(|m| have.contains(m))
            .collect();
        present.sort_unstable();
        present.dedup();
        match group.id.as_deref() {
            Some(id) if !present.is_empty() => {
                let body = patch_body(&remove_ops(&present)?);
                self.write(Method::PATCH, Kind::Groups, Some(id), &body)
                    .await
                    .map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Writes a user's group plan; `true` when anything was written.
    pub(super) async fn apply_plan(
        &self,
        user_id: &str,
        plan: &GroupPlan,
    ) -> Result<bool, ScimError> {
        let partial = |e: ScimError, group: &str| {
            ScimError::other(
                e.status(),
                e.scim_type(),
                format_args!(
                    "user {user_id:?} was written, then changing its membership of group \
                     {group:?} failed: {}",
                    e.detail()
                ),
            )
        };
        for group in &plan.add {
            self.ensure_group(group, &[user_id])
                .await
                .map_err(|e| partial(e, group))?;
        }
        for group in &plan.remove {
            self.leave_group(group, &[user_id])
                .await
                .map_err(|e| partial(e, group))?;
        }
        Ok(!plan.add.is_empty() || !plan.remove.is_empty())
    }

    /// The Cloud groups besides `cloud_name` that a membership change of it also goes to:
    /// with manual mapping, the other targets of the IdP groups whose first target it is.
    pub(super) fn siblings(&self, cloud_name: &str) -> Vec<String> {
        let Mapping::Manual(map) = &self.policy.mapping else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for targets in map.values() {
            let Some((first, rest)) = targets.split_first() else {
                continue;
            };
            if first.eq_ignore_ascii_case(cloud_name) {
                for t in rest {
                    if !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
                        out.push(t.clone());
                    }
                }
            }
        }
        out
    }

    /// Repeats a membership change of group `cloud_name` on its [`siblings`](Self::siblings).
    pub(super) async fn fan_out(
        &self,
        cloud_name: &str,
        added: &[&str],
        removed: &[&str],
    ) -> Result<(), ScimError> {
        for sibling in self.siblings(cloud_name) {
            if !added.is_empty() {
                self.ensure_group(&sibling, added).await?;
            }
            if !removed.is_empty() {
                self.leave_group(&sibling, removed).await?;
            }
        }
        Ok(())
    }

    /// A Cloud group as SCIM shows it: under manual mapping, a group that is an IdP group's
    /// first target carries that IdP group's name.
    pub(super) fn shown(&self, mut group: Group) -> Group {
        if let Some((key, _)) = self
            .policy
            .manual_keys
            .iter()
            .find(|(_, primary)| primary.eq_ignore_ascii_case(&group.display_name))
        {
            group.display_name.clone_from(key);
        }
        group
    }

    /// A Cloud user as SCIM shows it: under a group mapping, its `groups` are the IdP groups
    /// the group views name (a manual mapping's IdP group for its first Cloud group; on the
    /// fly, the Cloud groups that map onto themselves), as for Data Center, not every Cloud
    /// group (default groups, the administrator's own) the user is in.
    pub(super) fn shown_user(&self, mut user: User) -> User {
        // A store that cannot be read shows Cloud's values: reads must not fail for it.
        if let Some(entry) = user
            .id
            .as_deref()
            .and_then(|id| self.deprovisioned.get(id).ok().flatten())
        {
            unmask(&mut user, entry.original.as_ref());
            if entry.idp_inactive {
                user.active = Some(false);
            }
        }
        if self.policy.groups_are_identity() {
            return user;
        }
        user.groups = std::mem::take(&mut user.groups)
            .into_iter()
            .flat_map(|g| {
                let cloud = g.display.clone().unwrap_or_default();
                self.policy
                    .idp_groups_of(std::slice::from_ref(&cloud))
                    .into_iter()
                    .map(move |idp| MultiValue {
                        display: Some(idp),
                        ..g.clone()
                    })
            })
            .collect();
        user
    }

    /// The Cloud group name IdP group `name` is written to: `Ok(None)` when the policy
    /// ignores it, 400 when the group-name transformation leaves nothing of it.
    pub(super) fn cloud_group_name(&self, name: &str) -> Result<Option<String>, ScimError> {
        if let Some(first) = self
            .policy
            .jira_groups(name)
            .and_then(|t| t.into_iter().next())
        {
            return Ok(Some(first));
        }
        if self.policy.group_name.apply(name).is_none() {
            return Err(ScimError::invalid_value(
                "displayName",
                format_args!(
                    "the policy's {} transformation leaves nothing of {name:?}",
                    self.policy.group_name.setting()
                ),
            ));
        }
        Ok(None)
    }

    /// Deprovisions user `id` (`current`, as Cloud has it) per the policy's action, then
    /// takes it out of the groups the policy says; `delete` tells a SCIM `DELETE`, after which
    /// SCIM answers 404 for the user (it is remembered as hidden). Each step is told to the
    /// sync history. Answers the user as SCIM shows it, `active: false`.
    ///
    /// - `delete`: Cloud's `DELETE /Users/{id}` (deactivates the account and removes its SCIM
    ///   record, memberships included).
    /// - `deactivate`: a PATCH of `active`.
    /// - `anonymize`: the user's own `userName`, `emails`, `displayName` and `name` are
    ///   remembered first (see [`DeprovisionedUsers`](super::DeprovisionedUsers)), then one PATCH
    ///   replaces them with opaque values (see [`anonymize_ops`]) and sets `active: false`.
    /// - `keep`: nothing is written to the account.
    pub(super) async fn deprovision_user(
        &self,
        id: &str,
        current: User,
        delete: bool,
    ) -> Result<User, ScimError> {
        let mut entry = self.deprovisioned.get(id)?.unwrap_or_default();
        let mut user = current.clone();
        match self.policy.action {
            DeprovisionAction::Delete => {
                self.delete(Kind::Users, id, None).await?;
                self.deprovisioned.set(id, None)?;
                note_action(format!(
                    "deleted user {id} from Atlassian Cloud (its DELETE deactivates the \
                     account and removes the SCIM record with its memberships)"
                ));
                user.active = Some(false);
                return Ok(user);
            }
            DeprovisionAction::Deactivate => {
                if current.active == Some(false) {
                    note_action(format!("user {id} was already inactive in Atlassian Cloud"));
                } else {
                    user = self.set_inactive(id).await?;
                    note_action(format!("deactivated user {id} in Atlassian Cloud"));
                }
            }
            DeprovisionAction::Anonymize => {
                if entry.original.is_some() {
                    note_action(format!(
                        "user {id} was already anonymized in Atlassian Cloud"
                    ));
                } else {
                    entry.original = Some(original_of(&current)?);
                    // The originals are safe before anything is overwritten.
                    self.deprovisioned.set(id, Some(entry.clone()))?;
                    let body = patch_body(&anonymize_ops(&current));
                    match self
                        .write(Method::PATCH, Kind::Users, Some(id), &body)
                        .await
                    {
                        Ok(v) => user = user_from(v)?,
                        Err(e) => {
                            // Nothing changed in Cloud: forget the originals again.
                            entry.original = None;
                            self.deprovisioned.set(id, Some(entry))?;
                            return Err(anonymize_error(id, &current, &e));
                        }
                    }
                    note_action(format!(
                        "anonymized and deactivated user {id} in Atlassian Cloud (now {:?}; the \
                         original user name, email and display name are kept for \
                         re-provisioning)",
                        user.user_name
                    ));
                }
            }
            // `Keep`, and any action added later: the account stays as it is, and SCIM shows
            // it inactive as the identity provider set it.
            _ => {
                if !entry.idp_inactive {
                    entry.idp_inactive = true;
                    self.deprovisioned.set(id, Some(entry.clone()))?;
                }
                note_action(format!(
                    "kept user {id} as it is in Atlassian Cloud (the account stays active; \
                     SCIM shows it inactive, as the identity provider set it)"
                ));
            }
        }
        let names = cloud_group_names(&current);
        let leave = self.policy.groups_to_remove(&names, &[], delete);
        if !leave.is_empty() {
            for g in &current.groups {
                let (Some(group_id), Some(name)) = (g.value.as_deref(), g.display.as_deref())
                else {
                    continue;
                };
                if leave.iter().any(|l| l == name) {
                    let body = patch_body(&remove_ops(&[id])?);
                    self.write(Method::PATCH, Kind::Groups, Some(group_id), &body)
                        .await
                        .map_err(|e| {
                            ScimError::other(
                                e.status(),
                                e.scim_type(),
                                format_args!(
                                    "user {id} was deprovisioned, then removing it from group \
                                     {name:?} failed: {}",
                                    e.detail()
                                ),
                            )
                        })?;
                }
            }
            user.groups
                .retain(|g| !g.display.as_ref().is_some_and(|d| leave.contains(d)));
            note_action(format!(
                "removed user {id} from {} group(s): {}",
                leave.len(),
                leave.join(", ")
            ));
        }
        if delete {
            entry.hidden = true;
            self.deprovisioned.set(id, Some(entry.clone()))?;
        }
        unmask(&mut user, entry.original.as_ref());
        user.active = Some(false);
        Ok(user)
    }

    /// A PATCH of `active: false`, answering the user as Cloud has it after.
    async fn set_inactive(&self, id: &str) -> Result<User, ScimError> {
        let body = patch_body(&[json!({"op": "replace", "path": "active", "value": false})]);
        user_from(
            self.write(Method::PATCH, Kind::Users, Some(id), &body)
                .await?,
        )
    }

    /// After `removed` left Cloud group `cloud_name`: when it is a scope group's target and
    /// the policy deprovisions users out of scope, deprovisions each who is in no scope
    /// group's target anymore (one read each).
    pub(super) async fn deprovision_left(
        &self,
        cloud_name: &str,
        removed: &[&str],
    ) -> Result<(), ScimError> {
        if !self.policy.deprovision_out_of_scope
            || !self
                .policy
                .in_scope_groups(std::slice::from_ref(&cloud_name.to_owned()))
        {
            return Ok(());
        }
        for id in removed {
            let user = match self.get(Kind::Users, id).await {
                Ok(v) => user_from(v)?,
                Err(e) if e.status().as_u16() == 404 => continue,
                Err(e) => return Err(e),
            };
            let groups = cloud_group_names(&user);
            if !self.policy.in_scope_groups(&groups) {
                self.deprovision_user(id, user, false).await?;
            }
        }
        Ok(())
    }
}

/// The attributes anonymization replaces, as they are on `user`: its own values, to keep.
pub(super) fn original_of(user: &User) -> Result<Value, ScimError> {
    let json = serde_json::to_value(user)?;
    let mut original = serde_json::Map::new();
    for attr in ANONYMIZED {
        if let Some(v) = json.get(*attr) {
            original.insert((*attr).to_owned(), v.clone());
        }
    }
    Ok(Value::Object(original))
}

/// The attributes anonymization replaces in Cloud.
const ANONYMIZED: &[&str] = &["userName", "emails", "displayName", "name"];

/// `user` with its own values (`original`, from [`original_of`]) in place of the anonymous
/// ones Cloud keeps; unchanged without them.
pub(super) fn unmask(user: &mut User, original: Option<&Value>) {
    let Some(Value::Object(original)) = original else {
        return;
    };
    let Ok(Value::Object(mut json)) = serde_json::to_value(&*user) else {
        return;
    };
    for attr in ANONYMIZED {
        match original.get(*attr) {
            Some(v) => json.insert((*attr).to_owned(), v.clone()),
            None => json.remove(*attr),
        };
    }
    if let Ok(shown) = serde_json::from_value(Value::Object(json)) {
        *user = shown;
    }
}

/// The opaque user name and email `anonymize` gives `user` on Cloud: `anon-` and 16 hex
/// digits derived from its user name (as on Data Center, so creating the user again finds the
/// anonymized account with one lookup), in the domain of its user name when that is an email
/// address. The email stays in the domain of the user's own email: Cloud takes only addresses
/// of the organization's verified domains for managed accounts, and that one was verified.
pub(super) fn anonymous_identity(user_name: &str, email: Option<&str>) -> (String, String) {
    let anon = crate::provisioner::anonymous_name(user_name);
    let domain_of = |s: &str| s.rsplit_once('@').map(|(_, d)| d.trim().to_owned());
    let name = match domain_of(user_name).filter(|d| !d.is_empty()) {
        Some(d) => format!("{anon}@{d}"),
        None => anon.clone(),
    };
    let email_domain = email
        .and_then(domain_of)
        .filter(|d| !d.is_empty())
        .or_else(|| domain_of(user_name).filter(|d| !d.is_empty()))
        .unwrap_or_else(|| "anonymized.invalid".to_owned());
    (name, format!("{anon}@{email_domain}"))
}

/// The PATCH operations that anonymize `user` on Cloud and deactivate it: `userName` and the
/// email as [`anonymous_identity`] says, display name `Anonymized user`, the name parts to
/// match.
pub(super) fn anonymize_ops(user: &User) -> Vec<Value> {
    let email = user
        .primary_email()
        .or_else(|| user.emails.first().and_then(|e| e.value.as_deref()));
    let (name, email) = anonymous_identity(&user.user_name, email);
    vec![
        json!({"op": "replace", "path": "userName", "value": name}),
        json!({"op": "replace", "path": "emails",
               "value": [{"value": email, "type": "work", "primary": true}]}),
        json!({"op": "replace", "path": "displayName", "value": "Anonymized user"}),
        json!({"op": "replace", "path": "name",
               "value": {"givenName": "Anonymized", "familyName": "user",
                         "formatted": "Anonymized user"}}),
        json!({"op": "replace", "path": "active", "value": false}),
    ]
}

/// Cloud refusing the anonymizing PATCH, in words an administrator can act on: nothing
/// changed in Cloud, and what to check.
fn anonymize_error(id: &str, user: &User, e: &ScimError) -> ScimError {
    let hint = match e.status().as_u16() {
        409 => "Cloud already has a user with the anonymous name",
        400 => {
            "Cloud takes only emails of the organization's verified domains, and the \
             anonymous email keeps the domain of the user's own"
        }
        _ => "the user is unchanged",
    };
    ScimError::other(
        e.status(),
        e.scim_type(),
        format_args!(
            "user {id} ({:?}) cannot be anonymized: {} ({hint}); nothing changed",
            user.user_name,
            e.detail()
        ),
    )
}

/// The names of the Cloud groups a user from Cloud is in.
pub(super) fn cloud_group_names(user: &User) -> Vec<String> {
    user.groups
        .iter()
        .filter_map(|g| g.display.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_group_ids_round_trip_and_are_path_safe() {
        let id = unsynced_id("Ops / Ünïcode");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(unsynced_name(&id).as_deref(), Some("Ops / Ünïcode"));
        assert_eq!(unsynced_name("2d3f0e7a-uuid"), None);
        assert_eq!(unsynced_name("unsynced-zz"), None);
    }
}
