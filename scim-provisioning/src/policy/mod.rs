//! [`SyncPolicy`]: the administrator's rules for what the identity provider's users and groups
//! become in Jira: group mapping, default groups, scope, name transformations and
//! deprovisioning. The same policy applies to Atlassian Cloud
//! (`scim_atlassian::cloud::CloudBuilder::policy`, which says what differs
//! there); the docs below say "Jira" for the target product.
//!
//! `policy.example.toml`, beside this crate's `Cargo.toml`, shows every setting with its
//! default.
//!
//! A policy is built in code with [`SyncPolicy::builder`] or read from a file (TOML or JSON:
//! every setting has a default, unknown settings are refused). Either way it is checked before
//! use: a bad regex, an empty mapping target or a transformation mapping two configured names
//! onto one is a [`PolicyError`] naming the setting.
//!
//! ```
//! use scim_provisioning::policy::{DeprovisionAction, NameTransform, SyncPolicy};
//!
//! let policy = SyncPolicy::builder()
//!     .on_the_fly()
//!     .include("^okta-")
//!     .group_name(NameTransform::default().rule("^okta-(.*)$", "jira-$1"))
//!     .user_name(NameTransform::default().strip_domain().lowercase())
//!     .default_group_for_all("jira-software-users")
//!     .deprovision(DeprovisionAction::Delete)
//!     .project_lead("jira-admin")
//!     .build()?;
//! assert_eq!(policy.deprovision.action, DeprovisionAction::Delete);
//! # Ok::<(), scim_provisioning::policy::PolicyError>(())
//! ```
//!
//! The same policy in TOML (feature `toml` for `SyncPolicy::from_toml_str`; any serde
//! format works with [`SyncPolicy::validate`] after parsing):
//!
//! ```
//! # #[cfg(feature = "toml")] {
//! use scim_provisioning::policy::{GroupMapping, SyncPolicy};
//!
//! let policy = SyncPolicy::from_toml_str(r#"
//!     [groups]
//!     mode = "on_the_fly"
//!     include = ["^okta-"]
//!
//!     [group_name]
//!     rules = [{ pattern = "^okta-(.*)$", replacement = "jira-$1" }]
//!
//!     [user_name]
//!     strip_domain = true
//!     lowercase = true
//!
//!     [default_groups]
//!     all_users = ["jira-software-users"]
//!
//!     [deprovision]
//!     action = "delete"
//!     project_lead = "jira-admin"
//! "#)?;
//! assert!(matches!(policy.groups, GroupMapping::OnTheFly { .. }));
//! # }
//! # Ok::<(), scim_provisioning::policy::PolicyError>(())
//! ```

mod plan;
mod rules;
pub mod transform;

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub use plan::{GroupPlan, idp_groups, split_group_ops, touches_groups};
pub use rules::PolicyRules;
pub use transform::CompiledTransform;
pub use transform::{NameTransform, RegexRule};

/// A policy setting that cannot work, named by its path in the configuration file
/// (`groups.include[0]`, `user_name.rules[1].pattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A pattern the `regex` crate cannot compile.
    #[error("policy setting {setting}: invalid regex {pattern:?}: {reason}")]
    Regex {
        /// Where the pattern is configured.
        setting: String,
        /// The pattern.
        pattern: String,
        /// The regex crate's explanation.
        reason: String,
    },
    /// A setting whose value cannot work.
    #[error("policy setting {setting}: {reason}")]
    Invalid {
        /// The setting.
        setting: String,
        /// Why.
        reason: String,
    },
    /// The file could not be read as a policy (syntax, an unknown setting, a wrong type).
    #[error("policy file: {0}")]
    Parse(String),
    /// The file could not be read at all, or its format is not known.
    #[error("policy file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        setting: setting.into(),
        reason: reason.into(),
    }
}

/// How the identity provider's groups become Jira groups.
///
/// In a file: `mode = "on_the_fly"` (the default when `mode` is left out) with `include` and
/// `exclude`, or `mode = "manual"` with `map`; a setting of the other mode is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawGroupMapping", into = "RawGroupMapping")]
pub enum GroupMapping {
    /// Each IdP group is the Jira group of the same name (after [`SyncPolicy::group_name`],
    /// which is how groups are renamed), created when missing. `include` and `exclude` are
    /// regexes on the IdP group name as sent: a group is synced when it matches one of
    /// `include` (or `include` is empty) and none of `exclude`; other groups are ignored.
    OnTheFly {
        /// Regexes; when any are given, only matching groups are synced.
        include: Vec<String>,
        /// Regexes; matching groups are never synced.
        exclude: Vec<String>,
    },
    /// Each IdP group listed in `map` (keyed by its name after [`SyncPolicy::group_name`],
    /// compared ignoring case) stands for one or more Jira groups; unlisted IdP groups are
    /// ignored.
    Manual {
        /// IdP group name -> Jira group names. The first Jira group is the one whose members
        /// the SCIM group shows.
        map: BTreeMap<String, Vec<String>>,
    },
}

/// The file form of [`GroupMapping`]: one table whose `mode` may be left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
struct RawGroupMapping {
    mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    include: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclude: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    OnTheFly,
    Manual,
}

impl TryFrom<RawGroupMapping> for GroupMapping {
    type Error = String;

    fn try_from(raw: RawGroupMapping) -> Result<Self, String> {
        match raw.mode {
            Mode::OnTheFly => {
                if raw.map.is_some() {
                    return Err("groups.map is a setting of mode = \"manual\"".to_owned());
                }
                Ok(GroupMapping::OnTheFly {
                    include: raw.include.unwrap_or_default(),
                    exclude: raw.exclude.unwrap_or_default(),
                })
            }
            Mode::Manual => {
                if raw.include.is_some() || raw.exclude.is_some() {
                    return Err(
                        "groups.include and groups.exclude are settings of mode = \"on_the_fly\""
                            .to_owned(),
                    );
                }
                Ok(GroupMapping::Manual {
                    map: raw.map.unwrap_or_default(),
                })
            }
        }
    }
}

impl From<GroupMapping> for RawGroupMapping {
    fn from(mapping: GroupMapping) -> Self {
        match mapping {
            GroupMapping::OnTheFly { include, exclude } => RawGroupMapping {
                mode: Mode::OnTheFly,
                include: Some(include),
                exclude: Some(exclude),
                map: None,
            },
            GroupMapping::Manual { map } => RawGroupMapping {
                mode: Mode::Manual,
                include: None,
                exclude: None,
                map: Some(map),
            },
        }
    }
}

impl Default for GroupMapping {
    fn default() -> Self {
        GroupMapping::OnTheFly {
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// Groups every user is put in, whatever the identity provider says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct DefaultGroups {
    /// Jira groups a user joins when created (e.g. `jira-software-users`).
    pub new_users: Vec<String>,
    /// Jira groups a user is put back in on every write of the user.
    pub all_users: Vec<String>,
}

/// Which users are synced at all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct Scope {
    /// IdP group names (as sent, compared ignoring case). When not empty, only users whose
    /// SCIM `groups` name one of them are synced; empty syncs everyone.
    ///
    /// A create outside the scope is refused with 403 and nothing is written: this crate
    /// keeps nothing outside Jira, so it could neither answer an accepted-but-ignored user
    /// later nor notice it joining the scope. Identity providers that create users before
    /// pushing their groups (Okta's default) need the users' `groups` sent with them, or no
    /// scope here (scope them in the identity provider's assignment instead). A write to an
    /// existing user that shows it left the scope is ignored (the user is answered as Jira
    /// has it), or deprovisions it with `deprovision_out_of_scope`.
    pub groups: Vec<String>,
    /// Deprovision (per [`Deprovision`]) a user who left every scope group, instead of
    /// ignoring it: when a user write's `groups` name no scope group, and when the user is
    /// removed from a scope group and is in none of the Jira groups the scope groups map to.
    pub deprovision_out_of_scope: bool,
}

/// What deprovisioning a user does in Jira.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeprovisionAction {
    /// `PUT /user {"active": false}` (Jira 8.3+): the account, its history and its licence
    /// seat are kept, login is not.
    #[default]
    Deactivate,
    /// `DELETE /user`, after handing what the user leads to the configured leads.
    Delete,
    /// Deactivates the user and replaces its user name, email and display name with opaque
    /// ones (`anon-` and 16 hex digits, `@anonymized.invalid`, `Anonymized user`), so the
    /// person no longer shows in the product. Reversible: the original values are kept in
    /// the user's SCIM data (the user property or attribute) and creating or reactivating
    /// the user again restores them. Not on Bitbucket (which cannot rename a user that holds
    /// no login group): refused at build. On Atlassian Cloud the opaque email keeps the
    /// user's own (verified) domain, and the originals are kept by the provisioner, Cloud
    /// having no field people would not see (`scim_atlassian::cloud::DeprovisionedUsers`).
    Anonymize,
    /// Leaves the account as it is (active): a SCIM `DELETE` only hides it from SCIM, and
    /// `active: false` changes nothing in the product but is remembered, so SCIM shows the
    /// user inactive (as the identity provider set it) until `active: true`; group removal
    /// still applies.
    Keep,
}

impl DeprovisionAction {
    /// The setting's value in a policy file (`deactivate`, `delete`, `anonymize`, `keep`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeprovisionAction::Deactivate => "deactivate",
            DeprovisionAction::Delete => "delete",
            DeprovisionAction::Anonymize => "anonymize",
            DeprovisionAction::Keep => "keep",
        }
    }
}

/// Which group memberships a deprovisioned user loses (besides the groups
/// [`Deprovision::keep_groups`] keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RemoveGroups {
    /// A SCIM `DELETE` removes every membership (SCIM deletes memberships with the user);
    /// `active: false` and the inactive-user cleanup remove none.
    #[default]
    OnDelete,
    /// No deprovisioning removes memberships.
    Never,
    /// Every deprovisioning removes the groups the identity provider manages (what the
    /// group mapping put the user in; with manual mapping, every target of the map).
    Managed,
    /// Every deprovisioning removes every membership.
    All,
}

/// How users are deprovisioned (SCIM `DELETE /Users/{id}` and PATCH `active: false`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct Deprovision {
    /// Deactivate (default), delete, anonymize or keep.
    pub action: DeprovisionAction,
    /// The Jira user name that takes over projects a deleted user leads. Without it, Jira
    /// refuses to delete a project lead (the SCIM error says so).
    pub project_lead: Option<String>,
    /// The Jira user name that takes over components a deleted user leads.
    pub component_lead: Option<String>,
    /// Which memberships a deprovisioned user loses (default: all of them on a SCIM
    /// `DELETE`, none otherwise).
    pub remove_groups: RemoveGroups,
    /// Regexes on Jira group names: matching groups are never removed on deprovisioning
    /// (e.g. `^jira-administrators$`).
    pub keep_groups: Vec<String>,
}

/// Licence seats: refuse creates and reactivations that would take more seats than the
/// licence has (see `scim_atlassian::seats`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SeatPolicy {
    /// Read the product's seats before each create and reactivation (one or two reads more)
    /// and refuse with 403 when none would be left. Off by default: the products then
    /// decide (Confluence refuses with 402, Jira creates a user without application access).
    pub enforce: bool,
    /// Seats kept free: with `enforce`, a create is refused once only this many are left.
    /// Must be below the licence's seats (checked when seats are read: a reserve as large as
    /// the licence refuses every create with an error saying so).
    pub reserve: u64,
}

/// The administrator's rules for syncing users and groups into Jira.
///
/// The default syncs every user and group as they are: same-named groups (created when
/// missing), names unchanged, no default groups, deactivation on deprovisioning, Jira groups
/// the identity provider does not manage left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SyncPolicy {
    /// On-the-fly or manual group mapping.
    pub groups: GroupMapping,
    /// When a user's groups are replaced (a user write carrying `groups`), also remove the
    /// user from Jira groups the mapping does not manage (default groups excepted). Off by
    /// default: groups an administrator granted in Jira stay. Managed are the groups earlier
    /// user writes gave the user through the mapping (recorded in its user property) and,
    /// with manual mapping, every target of the map.
    pub remove_unmanaged_groups: bool,
    /// Groups for new users and for all users.
    pub default_groups: DefaultGroups,
    /// Which users are synced.
    pub scope: Scope,
    /// IdP `userName` -> Jira user name.
    pub user_name: NameTransform,
    /// IdP group name -> Jira group name (on-the-fly) or mapping key (manual).
    pub group_name: NameTransform,
    /// Deactivate, delete, anonymize or keep, and which memberships go.
    pub deprovision: Deprovision,
    /// Licence seat checks.
    pub seats: SeatPolicy,
}

impl SyncPolicy {
    /// A builder starting from the default policy.
    pub fn builder() -> SyncPolicyBuilder {
        SyncPolicyBuilder {
            policy: SyncPolicy::default(),
        }
    }

    /// Checks every setting; the error names the first that cannot work.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.compile().map(drop)
    }

    /// Parses and checks a policy in JSON.
    pub fn from_json_str(text: &str) -> Result<Self, PolicyError> {
        let policy: SyncPolicy =
            serde_json::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Parses and checks a policy in TOML (feature `toml`).
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let policy: SyncPolicy =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads, parses and checks the policy file at `path`: `.json`, or `.toml` with the
    /// `toml` feature.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let file_error = |reason: String| PolicyError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let parsed = match extension.as_deref() {
            Some("json") => Self::from_json_str(&text),
            #[cfg(feature = "toml")]
            Some("toml") => Self::from_toml_str(&text),
            _ => {
                return Err(file_error(
                    "unknown format: name it .json, or .toml with the `toml` feature".to_owned(),
                ));
            }
        };
        // Parse errors name the file; setting errors already name the setting.
        parsed.map_err(|e| match e {
            PolicyError::Parse(reason) => file_error(reason),
            other => other,
        })
    }

    /// The policy checked and compiled (regexes built), in the form a provisioner applies to
    /// every write; or the first setting that cannot work.
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyError> {
        let user_name = self.user_name.compile("user_name")?;
        let group_name = self.group_name.compile("group_name")?;
        let mapping = match &self.groups {
            GroupMapping::OnTheFly { include, exclude } => {
                let compile_all = |name: &str, list: &[String]| {
                    list.iter()
                        .enumerate()
                        .map(|(i, p)| transform::compile_regex(&format!("groups.{name}[{i}]"), p))
                        .collect::<Result<Vec<Regex>, _>>()
                };
                Mapping::OnTheFly {
                    include: compile_all("include", include)?,
                    exclude: compile_all("exclude", exclude)?,
                }
            }
            GroupMapping::Manual { map } => {
                let mut by_key: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
                for (idp, targets) in map {
                    let setting = format!("groups.map.{idp:?}");
                    let key = group_name.apply(idp).ok_or_else(|| {
                        invalid(
                            &setting,
                            "the group_name transformation leaves nothing of it",
                        )
                    })?;
                    if targets.is_empty() {
                        return Err(invalid(&setting, "maps to no Jira group"));
                    }
                    let mut cleaned = Vec::with_capacity(targets.len());
                    for (i, t) in targets.iter().enumerate() {
                        let t = t.trim();
                        if t.is_empty() {
                            return Err(invalid(
                                format!("{setting}[{i}]"),
                                "is an empty Jira group name",
                            ));
                        }
                        if !cleaned.iter().any(|c: &String| c.eq_ignore_ascii_case(t)) {
                            cleaned.push(t.to_owned());
                        }
                    }
                    let folded = key.to_lowercase();
                    if let Some((other, _)) = by_key.get(&folded) {
                        return Err(invalid(
                            "groups.map",
                            format!(
                                "IdP groups {other:?} and {idp:?} both become {key:?} (after the \
                                 group_name transformation, ignoring case): say which Jira \
                                 groups that name stands for once"
                            ),
                        ));
                    }
                    by_key.insert(folded, (idp.clone(), cleaned));
                }
                Mapping::Manual(
                    by_key
                        .into_iter()
                        .map(|(k, (_, targets))| (k, targets))
                        .collect(),
                )
            }
        };
        let names = |setting: &str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(i, g)| {
                    let g = g.trim();
                    if g.is_empty() {
                        Err(invalid(format!("{setting}[{i}]"), "is an empty group name"))
                    } else {
                        Ok(g.to_owned())
                    }
                })
                .collect::<Result<Vec<String>, _>>()
        };
        let new_users = names("default_groups.new_users", &self.default_groups.new_users)?;
        let all_users = names("default_groups.all_users", &self.default_groups.all_users)?;
        let scope = names("scope.groups", &self.scope.groups)?;
        if self.scope.deprovision_out_of_scope && scope.is_empty() {
            return Err(invalid(
                "scope.deprovision_out_of_scope",
                "is on but scope.groups names no group",
            ));
        }
        let lead = |setting: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
            Some("") => Err(invalid(
                setting,
                "is empty: leave it out or name a Jira user",
            )),
            other => Ok(other.map(str::to_owned)),
        };
        let manual_keys = match &self.groups {
            GroupMapping::Manual { map } => map
                .iter()
                .filter_map(|(k, t)| Some((k.clone(), t.first()?.trim().to_owned())))
                .collect(),
            GroupMapping::OnTheFly { .. } => Vec::new(),
        };
        if self.seats.reserve > 0 && !self.seats.enforce {
            return Err(invalid(
                "seats.reserve",
                "keeps seats free only when seats.enforce is on: turn it on or leave the reserve out",
            ));
        }
        let keep_groups = self
            .deprovision
            .keep_groups
            .iter()
            .enumerate()
            .map(|(i, p)| transform::compile_regex(&format!("deprovision.keep_groups[{i}]"), p))
            .collect::<Result<Vec<Regex>, _>>()?;
        if !keep_groups.is_empty() && self.deprovision.remove_groups == RemoveGroups::Never {
            return Err(invalid(
                "deprovision.keep_groups",
                "has no effect with remove_groups = \"never\": leave it out",
            ));
        }
        Ok(CompiledPolicy {
            manual_keys,
            mapping,
            user_name,
            group_name,
            remove_unmanaged: self.remove_unmanaged_groups,
            new_users,
            all_users,
            scope,
            deprovision_out_of_scope: self.scope.deprovision_out_of_scope,
            action: self.deprovision.action,
            project_lead: lead("deprovision.project_lead", &self.deprovision.project_lead)?,
            component_lead: lead(
                "deprovision.component_lead",
                &self.deprovision.component_lead,
            )?,
            remove_groups: self.deprovision.remove_groups,
            keep_groups,
            seats: self.seats.clone(),
        })
    }
}

/// Builds a [`SyncPolicy`] in code; [`SyncPolicyBuilder::build`] checks it.
#[derive(Debug, Clone)]
#[must_use]
pub struct SyncPolicyBuilder {
    policy: SyncPolicy,
}

impl SyncPolicyBuilder {
    /// On-the-fly group mapping (the default), keeping any include/exclude filters set.
    pub fn on_the_fly(mut self) -> Self {
        if !matches!(self.policy.groups, GroupMapping::OnTheFly { .. }) {
            self.policy.groups = GroupMapping::default();
        }
        self
    }

    /// On-the-fly mapping syncs only groups matching `pattern` (or another include).
    pub fn include(mut self, pattern: impl Into<String>) -> Self {
        self = self.on_the_fly();
        if let GroupMapping::OnTheFly { include, .. } = &mut self.policy.groups {
            include.push(pattern.into());
        }
        self
    }

    /// On-the-fly mapping never syncs groups matching `pattern`.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self = self.on_the_fly();
        if let GroupMapping::OnTheFly { exclude, .. } = &mut self.policy.groups {
            exclude.push(pattern.into());
        }
        self
    }

    /// Manual mapping: IdP group `idp` stands for the Jira groups `jira` (switches to manual
    /// mapping; call once per IdP group).
    pub fn map_group<I, S>(mut self, idp: impl Into<String>, jira: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if !matches!(self.policy.groups, GroupMapping::Manual { .. }) {
            self.policy.groups = GroupMapping::Manual {
                map: BTreeMap::new(),
            };
        }
        if let GroupMapping::Manual { map } = &mut self.policy.groups {
            map.insert(idp.into(), jira.into_iter().map(Into::into).collect());
        }
        self
    }

    /// Remove users from Jira groups the mapping does not manage when their groups are
    /// replaced.
    pub fn remove_unmanaged_groups(mut self, remove: bool) -> Self {
        self.policy.remove_unmanaged_groups = remove;
        self
    }

    /// A Jira group every new user joins.
    pub fn default_group_for_new(mut self, group: impl Into<String>) -> Self {
        self.policy.default_groups.new_users.push(group.into());
        self
    }

    /// A Jira group every user is kept in.
    pub fn default_group_for_all(mut self, group: impl Into<String>) -> Self {
        self.policy.default_groups.all_users.push(group.into());
        self
    }

    /// Sync only members of IdP group `group` (or of another scope group).
    pub fn scope_group(mut self, group: impl Into<String>) -> Self {
        self.policy.scope.groups.push(group.into());
        self
    }

    /// Deprovision users who leave every scope group.
    pub fn deprovision_out_of_scope(mut self, on: bool) -> Self {
        self.policy.scope.deprovision_out_of_scope = on;
        self
    }

    /// The `userName` transformation.
    pub fn user_name(mut self, transform: NameTransform) -> Self {
        self.policy.user_name = transform;
        self
    }

    /// The group-name transformation (the on-the-fly rename).
    pub fn group_name(mut self, transform: NameTransform) -> Self {
        self.policy.group_name = transform;
        self
    }

    /// Deactivate, delete, anonymize or keep on deprovisioning.
    pub fn deprovision(mut self, action: DeprovisionAction) -> Self {
        self.policy.deprovision.action = action;
        self
    }

    /// Which memberships a deprovisioned user loses.
    pub fn remove_groups(mut self, remove: RemoveGroups) -> Self {
        self.policy.deprovision.remove_groups = remove;
        self
    }

    /// Groups matching `pattern` are never removed on deprovisioning.
    pub fn keep_group(mut self, pattern: impl Into<String>) -> Self {
        self.policy.deprovision.keep_groups.push(pattern.into());
        self
    }

    /// Refuse creates and reactivations that would exceed the licence's seats, keeping
    /// `reserve` seats free.
    pub fn enforce_seats(mut self, reserve: u64) -> Self {
        self.policy.seats = SeatPolicy {
            enforce: true,
            reserve,
        };
        self
    }

    /// Who takes over projects led by a deleted user.
    pub fn project_lead(mut self, user_name: impl Into<String>) -> Self {
        self.policy.deprovision.project_lead = Some(user_name.into());
        self
    }

    /// Who takes over components led by a deleted user.
    pub fn component_lead(mut self, user_name: impl Into<String>) -> Self {
        self.policy.deprovision.component_lead = Some(user_name.into());
        self
    }

    /// The policy, or the first setting that cannot work.
    pub fn build(self) -> Result<SyncPolicy, PolicyError> {
        self.policy.validate()?;
        Ok(self.policy)
    }
}

/// How IdP group names map, with regexes compiled.
#[derive(Debug, Clone)]
pub enum Mapping {
    /// Every IdP group becomes a target group of the same (transformed) name.
    OnTheFly {
        /// Only groups matching one of these are synced (all when empty).
        include: Vec<Regex>,
        /// Groups matching one of these are never synced.
        exclude: Vec<Regex>,
    },
    /// Lower-cased key -> Jira groups.
    Manual(BTreeMap<String, Vec<String>>),
}

/// A checked [`SyncPolicy`], ready to apply: what a provisioner for any product reads while it
/// writes (the fields mirror the policy's settings of the same names).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompiledPolicy {
    /// How IdP groups map to target groups.
    pub mapping: Mapping,
    /// Manual mapping: (IdP group name as configured, its first Jira group).
    pub manual_keys: Vec<(String, String)>,
    /// The user name transformation.
    pub user_name: CompiledTransform,
    /// The group name transformation.
    pub group_name: CompiledTransform,
    /// Remove memberships of managed groups the IdP no longer lists.
    pub remove_unmanaged: bool,
    /// Default groups for newly created users.
    pub new_users: Vec<String>,
    /// Default groups every synced user keeps.
    pub all_users: Vec<String>,
    /// Only members of these IdP groups are provisioned (everyone when empty).
    pub scope: Vec<String>,
    /// Deprovision users who leave the scope.
    pub deprovision_out_of_scope: bool,
    /// What deprovisioning does.
    pub action: DeprovisionAction,
    /// Who takes over projects a deleted user leads.
    pub project_lead: Option<String>,
    /// Who takes over components a deleted user leads.
    pub component_lead: Option<String>,
    /// Which memberships deprovisioning removes.
    pub remove_groups: RemoveGroups,
    /// Groups no deprovisioning removes.
    pub keep_groups: Vec<Regex>,
    /// Licence seat checks.
    pub seats: SeatPolicy,
}

impl CompiledPolicy {
    /// The Jira groups IdP group `idp` stands for, or `None` when the policy ignores it.
    pub fn jira_groups(&self, idp: &str) -> Option<Vec<String>> {
        match &self.mapping {
            Mapping::OnTheFly { include, exclude } => {
                let idp = idp.trim();
                if !include.is_empty() && !include.iter().any(|r| r.is_match(idp)) {
                    return None;
                }
                if exclude.iter().any(|r| r.is_match(idp)) {
                    return None;
                }
                self.group_name.apply(idp).map(|g| vec![g])
            }
            Mapping::Manual(map) => {
                let key = self.group_name.apply(idp)?.to_lowercase();
                map.get(&key).cloned()
            }
        }
    }

    /// Whether IdP groups are Jira groups of the same name, one to one.
    pub fn groups_are_identity(&self) -> bool {
        matches!(&self.mapping, Mapping::OnTheFly { include, exclude } if include.is_empty() && exclude.is_empty())
            && self.group_name.is_identity()
    }

    /// Whether Jira group `jira` is one the mapping manages for a user: a group earlier user
    /// writes put the user in through the mapping (`managed`, kept in the user's property),
    /// and with manual mapping any target of the map. On-the-fly mapping does not count every
    /// group a name could map to: without filters that is every Jira group, and groups an
    /// administrator granted in Jira would go.
    pub fn manages(&self, jira: &str, managed: &[String]) -> bool {
        if managed.iter().any(|m| m.eq_ignore_ascii_case(jira)) {
            return true;
        }
        match &self.mapping {
            Mapping::Manual(map) => map.values().flatten().any(|t| t.eq_ignore_ascii_case(jira)),
            Mapping::OnTheFly { .. } => false,
        }
    }

    /// The SCIM groups (IdP names) a user in Jira groups `jira` belongs to, as the group
    /// views show members: manual mapping, the entries whose first Jira group holds the user;
    /// on-the-fly, the Jira groups that map onto themselves (the IdP names behind renamed
    /// groups cannot be recovered from Jira).
    pub fn idp_groups_of(&self, jira: &[String]) -> Vec<String> {
        match &self.mapping {
            Mapping::Manual(_) => self
                .manual_keys
                .iter()
                .filter(|(_, primary)| jira.iter().any(|g| g.eq_ignore_ascii_case(primary)))
                .map(|(k, _)| k.clone())
                .collect(),
            Mapping::OnTheFly { .. } => jira
                .iter()
                .filter(|g| {
                    self.jira_groups(g)
                        .is_some_and(|t| t.first().is_some_and(|f| f == *g))
                })
                .cloned()
                .collect(),
        }
    }

    /// Whether a user with these IdP groups is in scope.
    pub fn in_scope<'a>(&self, mut idp_groups: impl Iterator<Item = &'a str>) -> bool {
        self.scope.is_empty()
            || idp_groups.any(|g| self.scope.iter().any(|s| s.eq_ignore_ascii_case(g.trim())))
    }

    /// The groups deprovisioning user with Jira groups `groups` removes it from: `delete` is
    /// whether this is a SCIM `DELETE`, `managed` the groups earlier writes gave it.
    pub fn groups_to_remove(
        &self,
        groups: &[String],
        managed: &[String],
        delete: bool,
    ) -> Vec<String> {
        let remove = |g: &String| match self.remove_groups {
            RemoveGroups::OnDelete => delete,
            RemoveGroups::Never => false,
            RemoveGroups::Managed => self.manages(g, managed),
            RemoveGroups::All => true,
        };
        groups
            .iter()
            .filter(|g| remove(g) && !self.keep_groups.iter().any(|r| r.is_match(g)))
            .cloned()
            .collect()
    }

    /// Jira groups no user write removes (the default groups).
    pub fn is_default_group(&self, jira: &str) -> bool {
        self.new_users
            .iter()
            .chain(&self.all_users)
            .any(|d| d.eq_ignore_ascii_case(jira))
    }
}
