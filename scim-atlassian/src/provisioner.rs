//! [`AtlassianProvisioner`]: the SCIM [`Provisioner`] for Atlassian Data Center products,
//! through a [`Directory`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, RequestContext};
use scim_core::schema::SchemaRegistry;
use scim_core::{Group, Member, Meta, MultiValue, ScimError, User};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::directory::{Directory, DirectoryUser, NewUser, UserChanges};
use crate::error::AtlassianError;
use crate::history::note_action;
use crate::jira::JiraClient;
use crate::membership::MemberChanges;
use crate::seats::SeatUsage;
use scim_provisioning::bounded::{self, Task};
use scim_provisioning::policy::{
    CompiledPolicy, DeprovisionAction, GroupPlan, idp_groups, split_group_ops,
};

/// Provisions SCIM users and groups into one Atlassian Data Center product through its
/// [`Directory`] (Jira: [`AtlassianProvisioner::jira`]; Crowd: [`AtlassianProvisioner::crowd`]).
/// Every SCIM decision and every [`SyncPolicy`](crate::policy::SyncPolicy) rule is made
/// here, the same for every product; what follows is written for Jira, and each product's
/// constructor says where it differs (Crowd: the id is the user name, SCIM data lives in a
/// user attribute, users are created through Crowd's whole-record API).
///
/// Mapping for Jira (ATLASSIAN.md):
/// - User `id` = the Jira user `key`, which survives renames. `userName` <-> `name` through
///   the policy's `user_name` transformation (a changed `userName` renames the Jira user; the
///   name as sent is kept in the property and shown back, and `userName eq` looks up the
///   transformed name), `displayName` <-> `displayName` (Jira requires one: when
///   the SCIM user has none, `name.formatted`, then given and family name, then `userName`
///   stand in), the primary (else first) email <-> `emailAddress`, `active` <-> `active`
///   (deactivation is `PUT {"active": false}`, Jira 8.3+).
/// - `externalId`, `meta.created`/`lastModified` and every attribute Jira has no field for
///   (`name`, `title`, further emails, extensions...) live in a Jira user property
///   ([`DEFAULT_PROPERTY_KEY`](crate::DEFAULT_PROPERTY_KEY)), so nothing lives only in this process's memory and the SCIM
///   resource round-trips. Jira's own fields win over the property when both say something.
///   Users created in Jira directly have no property: no `externalId`, no `meta.created`.
/// - Jira requires an email address: a user without one is refused (400 naming `emails`,
///   which `/Schemas` marks required), and a replace that removes every email leaves Jira's
///   address as it is (Crowd, Confluence: clears it).
/// - A password is sent when a user is created, and set with `PUT /user/password` \[K\] when a
///   replace or PATCH carries one (passwords are never read back, so one that is sent is
///   always written).
/// - Group `id` = the identity provider's group name, which the [`SyncPolicy`](crate::policy::SyncPolicy)'s group mapping
///   turns into Jira groups: with the default (on-the-fly, no rename) it is the Jira group
///   name, Jira DC groups having no other identifier. A group mapped to several Jira groups
///   (manual mapping) shows the members of the first and writes membership changes to all;
///   a group the policy ignores is accepted, reads as empty, and nothing of it reaches Jira.
///   Jira cannot rename groups, so a `displayName` change is refused with 400 `mutability`
///   naming the group, or, with [`GroupRename::CreateMoveDelete`], done as create the new
///   group, add the members, delete the old one.
///   Members are users only (members' `value` = user keys); membership changes are
///   `/group/user` calls. Groups have nowhere to keep an `externalId` or timestamps: those
///   are not stored.
/// - `groups` on a user comes from `expand=groups`: Jira's group names, which are the SCIM
///   group ids under same-named mapping; under another mapping, the SCIM groups whose Jira
///   group (the first, for manual mapping) holds the user, and with an on-the-fly rename
///   only groups named alike in both (Jira cannot say which IdP name a renamed group came
///   from). When a user write
///   carries `groups` (a create, a replace, or a PATCH of `groups`, which the schema would
///   otherwise refuse as read-only), they are the user's IdP groups: mapped by the policy,
///   they replace the Jira groups the mapping manages (manual mapping: its targets;
///   on-the-fly: the groups earlier user writes put the user in), plus the default groups;
///   other Jira groups stay unless `remove_unmanaged_groups` is on.
/// - Policy ([`AtlassianBuilder::policy`](crate::AtlassianBuilder::policy), see [`crate::policy`]): default groups are added on
///   create (new and all users) and on every write (all users). Scope: a create whose
///   `groups` name no scope group is refused with 403 and nothing is written (an identity
///   provider that sends a user before its groups needs no scope, or sends `groups`); a
///   write showing the user left every scope group is ignored (answered with the user as
///   Jira has it) or deprovisions it (`deprovision_out_of_scope`, which also deprovisions a
///   user removed from a scope group who is in none of the scope groups' Jira groups; one
///   more read per user removed).
/// - Deprovisioning (`DELETE /Users/{id}`, and PATCH or replace to `active: false`):
///   `deactivate` (default) sets `active: false`; a `DELETE` also removes the user from
///   every group (SCIM deletes memberships with the user) and marks it in the property, so
///   SCIM answers 404 for it as for a deleted user while Jira keeps the account and its
///   history; creating the same user again reactivates that account (same id). `delete`
///   first hands the projects and components the user leads to the configured default
///   leads, then `DELETE /user`; without them Jira refuses to delete a lead (400), and the
///   error names the settings to configure. `anonymize` deactivates and replaces the name,
///   email and display name with opaque ones, keeping the originals in the property (SCIM
///   keeps showing them; reactivating or re-creating the user writes them back, same id).
///   `keep` leaves the account as it is; an `active: false` from the identity provider is
///   remembered in the property, so SCIM answers the user inactive, as the identity
///   provider set it (RFC 7643 leaves `active`'s meaning to the service provider, and
///   identity providers compare what they set with what they read back: answering it active
///   would have them send the deactivation again at every cycle), until `active: true`
///   (which clears that flag in the property; the account itself is not touched either
///   way). `remove_groups` and `keep_groups` say which
///   memberships go on each deprovisioning. Every step is told to the sync history
///   ([`note_action`]): the entry says `deactivated`, `anonymized`, `removed ... from 2
///   group(s)`, not the SCIM verb.
/// - Licence seats ([`AtlassianProvisioner::seats`]); with the policy's `seats.enforce`, a
///   create or reactivation that would leave fewer free seats than `seats.reserve` is
///   refused with 403 before anything is written (one read of the seats more).
/// - Versions: Jira has no version counter, so `meta.version` is
///   [`ETag::from_content`] of the resource. An `expected` version is checked by reading the
///   resource just before writing: a write made by someone else between that read and our
///   write goes undetected (Jira offers no conditional update). Membership changes are applied
///   as adds and removes relative to what was read, so concurrent membership PATCH requests commute
///   and none is lost. User writes send only the Jira fields that changed, but the property
///   is written whole: two concurrent writes to attributes kept there can lose one (the last
///   property `PUT` wins).
/// - Jira before 8.3 cannot deactivate through REST v2 (400
///   `error.no.value.found.to.be.changed`): with
///   [`embedded_crowd`](crate::AtlassianBuilder::embedded_crowd) configured, `active` then
///   goes through the Crowd API embedded in Jira (read the record, `PUT` it whole: two calls
///   more the first time, one REST v2 call fewer afterwards); without it, 501 saying so.
/// - New users go to Jira's default directory, or the one
///   [`directory_id`](crate::AtlassianBuilder::directory_id) names.
/// - Listing: `userName eq` is a direct lookup; other filters page `/user/search?username=.`
///   (1,000 a page asked for; a page is taken as the last only when empty, since the server's
///   cap may be lower \[K\]) and are evaluated here, one page at a time. Filters and `sortBy`
///   reading only Jira's fields are evaluated on the search results, and only the users
///   returned are read in full (their groups and property: two calls a user); others read
///   every user in full. Groups are listed through `/groups/picker`, whose
///   results a Jira setting caps: on instances with more groups than that, listings are
///   incomplete \[K\].
/// - Retries: GET, PUT and DELETE are retried on 429 (honouring `Retry-After`), 503 and
///   timeouts with jittered backoff; POST (create user, create group, add member) never is.
///
/// Calls per operation (reads, writes), checked by the `calls_per_operation` test; a group's
/// member listing is one read per 50 members:
///
/// | operation | reads | writes |
/// |---|---|---|
/// | create user | 0 | 2 (`POST /user`, property `PUT`; +1 when created inactive) + 1 per group the policy puts it in |
/// | get user, `userName eq` search | 2 (user with groups, property) | 0 |
/// | PATCH/replace user | 2 | 1 per kind of change: Jira fields `PUT /user`, the property (always, for `lastModified`), a password; 0 when nothing changes |
/// | delete user, `deactivate` | 2 | 1 per group left, the deactivating `PUT /user` (unless inactive), the property |
/// | delete user, `delete` | 0 (2 with a version expected; 1 + lead hand-over reads with leads configured) | 1 (+1 per project or component handed over) |
/// | get group, group `displayName eq` search | 1 (+1 for the search's `/groups/picker`) | 0 |
/// | create group with n members | n (check the members) | 1 + n per Jira group it maps to |
/// | add k members | 1 + k | k |
/// | remove k members | 1 | k |
///
/// Tenancy: one `AtlassianProvisioner` serves one Jira. The [`RequestContext`]'s tenant is not
/// used to isolate anything (Jira has one user directory); an application serving several
/// tenants gives each its own provisioner (and Jira).
///
/// ```
/// use std::sync::Arc;
/// use scim_atlassian::{AtlassianProvisioner, Credentials};
/// use scim_atlassian::simulator::JiraSimulator;
///
/// let jira = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
/// let provisioner = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
///     .client(jira)
///     .build()?;
/// # Ok::<(), scim_atlassian::AtlassianError>(())
/// ```
#[derive(Debug)]
pub struct AtlassianProvisioner {
    pub(crate) dir: Arc<dyn Directory>,
    /// The Jira client, when the target is Jira.
    pub(crate) jira: Option<JiraClient>,
    // Boxed: the compiled policy is large, and applications keep provisioners in enums.
    pub(crate) policy: Box<CompiledPolicy>,
    pub(crate) group_rename: GroupRename,
    /// The time each SCIM operation may spend on product calls and retries.
    pub(crate) budget: std::time::Duration,
    /// Where the last `scan_users` page ended: (users shown so far, product position), so
    /// the next sequential page starts there without counting hidden users again.
    pub(crate) scan_cursor: std::sync::Mutex<Option<(usize, usize)>>,
}

/// What a group `displayName` change does on a product that cannot rename groups (Jira,
/// Crowd and Confluence Data Center name groups by their name alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GroupRename {
    /// Refused with 400 `mutability`, naming the group (the default): nothing changes.
    #[default]
    Refuse,
    /// A group with the new name is created, the members are added to it, and the old group
    /// is deleted; the group's id (its name) changes with it. Only with same-named group
    /// mapping (no manual mapping, no on-the-fly rename), where the id is the product's name.
    CreateMoveDelete,
}

impl AtlassianProvisioner {
    /// Checks that the product answers, accepts the credentials and grants them what
    /// provisioning needs (Jira: the global `ADMINISTER` permission), and returns who the
    /// credentials belong to. The error says which of these failed.
    pub async fn test_connection(&self) -> Result<String, AtlassianError> {
        self.dir.test_connection().await
    }

    /// The product's licence seats as it counts them, with the policy's reserve (see
    /// [`crate::seats`] for what each product tells; Crowd tells nothing, and
    /// [`SeatUsage::note`] says so).
    pub async fn seats(&self) -> Result<SeatUsage, AtlassianError> {
        let pools = self.dir.seats().await?;
        let note = pools
            .is_empty()
            .then(|| self.dir.seats_note().map(str::to_owned))
            .flatten();
        Ok(SeatUsage::from_pools(
            self.dir.product(),
            pools,
            self.policy.seats.reserve,
            note,
        ))
    }

    /// When user `id` last logged in to the product (`Ok(None)`: never), for the inactive-user
    /// cleanup: Crowd's `lastAuthenticated` attribute; Jira and Confluence through their
    /// embedded Crowd API; Bitbucket's `lastAuthenticationTimestamp` from its admin user
    /// listing. 404 for a user SCIM does not show; 501 with a message naming the product and
    /// what to configure where the product does not tell (Jira without `embedded_crowd`:
    /// its REST API v2 has no login data).
    pub async fn last_login(
        &self,
        id: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, ScimError> {
        let (user, _) = self.read_user(id).await?;
        self.dir.last_login(&user).await.map_err(|e| match e {
            AtlassianError::InvalidConfig(why) => {
                ScimError::other(StatusCode::NOT_IMPLEMENTED, None, why)
            }
            other => other.into(),
        })
    }

    /// The typed Jira client underneath, when the target is Jira.
    pub fn jira_client(&self) -> Option<&JiraClient> {
        self.jira.as_ref()
    }
}

/// For the inactive-user cleanup (`scim_sync::InactiveCleanup`):
/// [`AtlassianProvisioner::last_login`].
#[async_trait::async_trait]
impl scim_provisioning::LastLogins for AtlassianProvisioner {
    async fn last_login(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> Result<Option<DateTime<Utc>>, ScimError> {
        AtlassianProvisioner::last_login(self, id).await
    }
}

/// The user property's content from the product's SCIM data: none, or data someone else wrote
/// badly, reads as empty.
fn stored_from(value: Option<Value>) -> Stored {
    value
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Reads a scan of the whole directory makes at once (the properties of a page's users, the
/// members of a page's groups): one at a time, a sync of 10,000 users would wait for 10,000
/// round trips in a row. Calls beyond a deployment's own bound on calls in flight (the
/// bridge's `[target] concurrency`) wait there.
pub(crate) const READS_IN_FLIGHT: usize = 8;

/// The user property's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
    /// The SCIM user's attributes minus those Jira holds and those the provider owns.
    #[serde(default)]
    attributes: Map<String, Value>,
    /// The `userName` the identity provider sent, when the `user_name` transformation made
    /// it into another Jira name...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idp_user_name: Option<String>,
    /// ...namely this one: shown only while the Jira name is still this (a rename made in
    /// Jira itself wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jira_user_name: Option<String>,
    /// Deprovisioned by a SCIM `DELETE` under the `deactivate` policy: the Jira account is
    /// kept (inactive) but SCIM answers 404 for it, as for a deleted user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deprovisioned: bool,
    /// The identity provider set `active: false` while the policy keeps accounts as they are
    /// (`keep`): the product's account stays active, and SCIM shows the user inactive, as
    /// the identity provider set it, until it sets `active: true` again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    idp_inactive: bool,
    /// Jira groups the user was put in through the group mapping by a user write: on-the-fly
    /// mapping counts these as managed when the user's groups are next replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    managed_groups: Vec<String>,
    /// The user's own name, email and display name while the `anonymize` deprovisioning
    /// replaced them in the product: SCIM shows these, and reactivation writes them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    anonymized: Option<Original>,
}

/// What anonymization replaced (see [`Stored::anonymized`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Original {
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
}

impl Original {
    fn of(user: &DirectoryUser) -> Self {
        Original {
            name: user.name.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
        }
    }
}

/// The opaque user name `anonymize` gives the user named `name`: `anon-` and 16 hex digits
/// of a 64-bit FNV-1a hash of the lower-cased name. Derived from the name (not random) so
/// that creating the user again finds the anonymized account with one lookup; opaque to
/// people browsing the product, though not secret (the original is kept in the user's SCIM
/// data anyway, which is what makes anonymization reversible).
pub(crate) fn anonymous_name(name: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = name
        .to_lowercase()
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("anon-{hash:016x}")
}

/// The changes that anonymize a user named `name` (and deactivate it).
fn anonymize(name: &str) -> UserChanges {
    let anon = anonymous_name(name);
    UserChanges {
        email: Some(format!("{anon}@anonymized.invalid")),
        display_name: Some("Anonymized user".to_owned()),
        name: Some(anon),
        active: Some(false),
    }
}

/// `jira` as SCIM shows it: with its own name, email and display name while anonymized.
fn unmasked(jira: &DirectoryUser, stored: &Stored) -> DirectoryUser {
    let mut user = jira.clone();
    if let Some(o) = &stored.anonymized {
        user.name.clone_from(&o.name);
        user.email.clone_from(&o.email);
        user.display_name.clone_from(&o.display_name);
    }
    user
}

/// Attributes never kept in the property: Jira's fields, and what the provider computes.
const NOT_STORED: &[&str] = &[
    "id",
    "meta",
    "groups",
    "userName",
    "displayName",
    "active",
    "externalId",
    "schemas",
    "password",
];

/// The SCIM data's JSON, refused (before anything is written) when `dir` could not keep it.
fn property_value(dir: &dyn Directory, stored: &Stored) -> Result<Value, ScimError> {
    let value = serde_json::to_value(stored)?;
    let len = serde_json::to_string(&value)?.chars().count();
    let max = dir.scim_data_limit();
    if len > max {
        return Err(ScimError::payload_too_large(format_args!(
            "the user's attributes that {} has no field for take {len} characters; {} keeps \
             at most {max} characters",
            dir.product(),
            dir.scim_data_home()
        )));
    }
    Ok(value)
}

/// What a SCIM user asks of Jira's own fields.
struct JiraFields {
    name: String,
    display_name: String,
    email: Option<String>,
    active: Option<bool>,
}

fn now() -> String {
    DateTime::<Utc>::from(SystemTime::now()).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn desired(
    user: &User,
    policy: &CompiledPolicy,
) -> Result<(JiraFields, Map<String, Value>), ScimError> {
    if user.user_name.trim().is_empty() {
        return Err(ScimError::invalid_value(
            "userName",
            "is required and must not be empty",
        ));
    }
    let transformed = policy.user_name.apply(&user.user_name).ok_or_else(|| {
        ScimError::invalid_value(
            "userName",
            format_args!(
                "the policy's {} transformation leaves nothing of {:?}",
                policy.user_name.setting(),
                user.user_name
            ),
        )
    })?;
    let name = transformed.as_str();
    let non_empty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let display_name = non_empty(user.display_name.as_deref())
        .or_else(|| non_empty(user.name.as_ref().and_then(|n| n.formatted.as_deref())))
        .or_else(|| {
            let n = user.name.as_ref()?;
            let parts: Vec<&str> = [n.given_name.as_deref(), n.family_name.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| name.to_owned());
    let email = non_empty(user.primary_email())
        .or_else(|| non_empty(user.emails.first().and_then(|e| e.value.as_deref())));
    let mut attributes = match serde_json::to_value(user)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    attributes.retain(|k, _| !NOT_STORED.contains(&k.as_str()));
    Ok((
        JiraFields {
            name: name.to_owned(),
            display_name,
            email,
            active: user.active,
        },
        attributes,
    ))
}

/// Index of the email Jira's `emailAddress` stands for: the primary one, else the first.
fn primary_index(emails: &[Value]) -> usize {
    emails
        .iter()
        .position(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .unwrap_or(0)
}

fn user_view(jira: &DirectoryUser, stored: &Stored) -> User {
    let shown;
    let jira = if stored.anonymized.is_some() {
        shown = unmasked(jira, stored);
        &shown
    } else {
        jira
    };
    let mut obj = stored.attributes.clone();
    if !jira.email.is_empty() {
        match obj.get_mut("emails") {
            Some(Value::Array(emails)) if !emails.is_empty() => {
                let at = primary_index(emails);
                if let Some(Value::Object(e)) = emails.get_mut(at) {
                    e.insert("value".to_owned(), Value::from(jira.email.as_str()));
                }
            }
            _ => {
                obj.insert(
                    "emails".to_owned(),
                    json!([{"value": jira.email, "primary": true}]),
                );
            }
        }
    }
    let mut shown = jira.name.as_str();
    if let (Some(idp), Some(became)) = (&stored.idp_user_name, &stored.jira_user_name) {
        if became.eq_ignore_ascii_case(&jira.name) {
            shown = idp;
        }
    }
    obj.insert("userName".to_owned(), Value::from(shown));
    obj.insert(
        "displayName".to_owned(),
        Value::from(jira.display_name.as_str()),
    );
    // A user the identity provider deactivated under `keep` is inactive to SCIM, whatever
    // the product (which was rightly left alone) says.
    let active = jira.active && !stored.idp_inactive;
    obj.insert("active".to_owned(), Value::from(active));
    if let Some(ext) = &stored.external_id {
        obj.insert("externalId".to_owned(), Value::from(ext.as_str()));
    }
    // A property someone else wrote badly must not make the user unreadable: fall back to
    // Jira's fields alone.
    let mut user: User = serde_json::from_value(Value::Object(obj)).unwrap_or_else(|_| {
        let mut u = User::new(jira.name.clone());
        u.display_name = Some(jira.display_name.clone());
        u.active = Some(active);
        u.external_id.clone_from(&stored.external_id);
        if !jira.email.is_empty() {
            u.emails = vec![MultiValue::new(jira.email.clone()).primary()];
        }
        u
    });
    user.id = Some(jira.id.clone());
    user.meta = Some(Meta {
        resource_type: Some("User".to_owned()),
        created: stored.created.clone(),
        last_modified: stored.last_modified.clone(),
        ..Meta::default()
    });
    // `groups` is computed and read-only: it does not take part in the user's version.
    let version = serde_json::to_value(&user)
        .map(|v| ETag::from_content(&v).to_string())
        .ok();
    if let Some(meta) = user.meta.as_mut() {
        meta.version = version;
    }
    user.groups = jira
        .groups
        .iter()
        .map(|g| MultiValue {
            value: Some(g.clone()),
            display: Some(g.clone()),
            kind: Some("direct".to_owned()),
            ..MultiValue::default()
        })
        .collect();
    user
}

pub(crate) fn group_view(name: &str, members: &[DirectoryUser]) -> Group {
    let mut sorted: Vec<&DirectoryUser> = members.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    let mut group = Group::new(name);
    group.id = Some(name.to_owned());
    group.members = sorted
        .into_iter()
        .map(|u| Member {
            value: Some(u.id.clone()),
            display: Some(u.display_name.clone()),
            kind: Some("User".to_owned()),
            ..Member::default()
        })
        .collect();
    group.meta = Some(Meta {
        resource_type: Some("Group".to_owned()),
        ..Meta::default()
    });
    let version = serde_json::to_value(&group)
        .map(|v| ETag::from_content(&v).to_string())
        .ok();
    if let Some(meta) = group.meta.as_mut() {
        meta.version = version;
    }
    group
}

fn check_expected(
    current: Option<&str>,
    expected: Option<&ETag>,
    what: &str,
    id: &str,
) -> Result<(), ScimError> {
    let Some(want) = expected else {
        return Ok(());
    };
    let now = current.and_then(|v| ETag::parse(v).ok());
    if now.as_ref().is_some_and(|v| v.weak_eq(want)) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format_args!(
            "{what} {id} is at version {}, not {want}",
            current.unwrap_or("(none)")
        )))
    }
}

fn version_of_user(user: &User) -> Option<&str> {
    user.meta.as_ref().and_then(|m| m.version.as_deref())
}

fn version_of_group(group: &Group) -> Option<&str> {
    group.meta.as_ref().and_then(|m| m.version.as_deref())
}

/// A refusal of a user write: a taken name is SCIM's 409 `uniqueness`, a missing email the
/// attribute's fault; anything else keeps Jira's wording.
fn user_write_error(err: AtlassianError, name: &str, product: &str) -> ScimError {
    // [K] Jira reports a taken name as 400 with `errors.username` "...already exists".
    if err.status() == Some(400) && err.has_field("username") && err.mentions("already exists") {
        return ScimError::uniqueness("userName", name);
    }
    if err.status() == Some(400) && err.has_field("email") {
        return ScimError::invalid_value(
            "emails",
            format_args!("{product} requires an email address ({err})"),
        );
    }
    if err.status() == Some(400) && err.has_field("displayName") {
        return ScimError::invalid_value("displayName", err);
    }
    err.into()
}

/// An error after some writes succeeded: the SCIM client must learn what was done.
pub(crate) fn partial(err: AtlassianError, done: &str) -> ScimError {
    let scim: ScimError = err.into();
    let status = scim.status();
    ScimError::other(
        if status.is_success() {
            StatusCode::BAD_GATEWAY
        } else {
            status
        },
        None,
        format_args!("{done}, then: {}", scim.detail()),
    )
}

fn refuse_rename(product: &str, id: &str, wanted: &str, why: &str) -> ScimError {
    ScimError::Mutability {
        attribute: "displayName".to_owned(),
        detail: format!(
            "group {id:?} cannot become {wanted:?}: {product} Data Center cannot rename groups (a group's id is its name){why}"
        ),
    }
}

/// The change that deactivates a user.
fn deactivate() -> UserChanges {
    UserChanges {
        active: Some(false),
        ..UserChanges::default()
    }
}

/// Why a user is written, which decides how its groups are planned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// A replace: `groups`, when sent, are IdP group names.
    Replace,
    /// A PATCH: it starts from the user as SCIM showed it, whose `groups` are Jira's names.
    Patch,
    /// A re-create of a user a SCIM `DELETE` deactivated: new-user default groups apply.
    Revive,
}

/// A user listed by `/user/search`, or read in full.
enum Kept {
    Listed(DirectoryUser),
    Full(Box<User>),
}

impl AtlassianProvisioner {
    async fn stored(&self, key: &str) -> Result<Stored, ScimError> {
        Ok(stored_from(self.dir.scim_data(key).await?))
    }

    /// The SCIM user: [`user_view`] with `groups` naming SCIM groups (the IdP's names) when
    /// the group mapping is not same-named groups.
    fn view(&self, jira: &DirectoryUser, stored: &Stored) -> User {
        let mut user = user_view(jira, stored);
        if !self.policy.groups_are_identity() {
            user.groups = self
                .policy
                .idp_groups_of(&jira.groups)
                .into_iter()
                .map(|g| MultiValue {
                    value: Some(g.clone()),
                    display: Some(g),
                    kind: Some("direct".to_owned()),
                    ..MultiValue::default()
                })
                .collect();
        }
        user
    }

    /// The user and its property; 404 for users deprovisioned by a SCIM `DELETE`.
    async fn read_user(&self, id: &str) -> Result<(DirectoryUser, Stored), ScimError> {
        let jira = self
            .dir
            .user_by_id(id, true)
            .await?
            .ok_or_else(|| ScimError::not_found("User", id))?;
        let stored = self.stored(id).await?;
        if stored.deprovisioned {
            return Err(ScimError::not_found("User", id));
        }
        Ok((jira, stored))
    }

    /// The Jira groups behind SCIM group `id` (an IdP group name), or `None` when the policy
    /// ignores that group.
    pub(crate) fn targets(&self, id: &str) -> Option<Vec<String>> {
        self.policy.jira_groups(id)
    }

    /// The SCIM group `id`: the members of its first Jira group, under the IdP's name. A group
    /// the policy ignores reads as empty: it was accepted and nothing of it is in Jira.
    pub(crate) async fn read_group(
        &self,
        id: &str,
    ) -> Result<(Vec<DirectoryUser>, Group), ScimError> {
        let Some(targets) = self.targets(id) else {
            return Ok((Vec::new(), group_view(id, &[])));
        };
        let primary = targets.first().map_or(id, String::as_str);
        let members = self
            .dir
            .group_members(primary)
            .await?
            .ok_or_else(|| ScimError::not_found("Group", id))?;
        let view = group_view(id, &members);
        Ok((members, view))
    }

    /// Users whose stored `externalId` is exactly `external_id` (`caseExact`, RFC 7643). A
    /// product that searches by it (Crowd's attribute search) names the candidates, each then
    /// read and checked; otherwise (Jira cannot search by property) this pages the users and
    /// reads one property per user, reading in full only the matches (half the calls of a
    /// general scan).
    async fn by_external_id(&self, external_id: &str) -> Result<Vec<User>, ScimError> {
        let mut hits = Vec::new();
        if let Some(ids) = self.dir.ids_by_external_id(external_id).await? {
            for id in ids {
                let Some(user) = self.dir.user_by_id(&id, true).await? else {
                    continue;
                };
                let stored = self.stored(&user.id).await?;
                if !stored.deprovisioned && stored.external_id.as_deref() == Some(external_id) {
                    hits.push(self.view(&user, &stored));
                }
            }
            return Ok(hits);
        }
        let mut start = 0;
        let mut previous = None;
        loop {
            let page = self.dir.users_page(start, self.dir.page_size()).await?;
            let got = page.len();
            if got == 0 {
                return Ok(hits);
            }
            check_progress(page.first(), &mut previous)?;
            for listed in page {
                let stored = self.stored(&listed.id).await?;
                if stored.deprovisioned || stored.external_id.as_deref() != Some(external_id) {
                    continue;
                }
                let jira = self
                    .dir
                    .user_by_id(&listed.id, true)
                    .await?
                    .unwrap_or(listed);
                hits.push(self.view(&jira, &stored));
            }
            start += got;
        }
    }

    /// Whether a userName filter can be answered from Jira's names: not when the policy
    /// transforms names, since the IdP's names then live in the property.
    fn names_are_jira_names(&self) -> bool {
        self.policy.user_name.is_identity()
    }

    /// Filters, sorts and pages the `/user/search` listing. With `full`, every user is read
    /// in full (user with groups, property) before the filter sees it; without, the caller
    /// checked that the filter and `sortBy` read only Jira's fields, and only the users of the
    /// page are read in full. Users deprovisioned by a SCIM `DELETE` are left out (only
    /// inactive users can be, unless under `keep`: their property is read to tell). Memory:
    /// without `sortBy` only the page is kept; with it, every match, since any of them may
    /// sort first.
    async fn search_listing(&self, query: &ListQuery, full: bool) -> Result<Page<User>, ScimError> {
        let registry = SchemaRegistry::builtin();
        let schema = registry.resource(scim_core::urn::USER);
        let (offset, count) = query.window();
        let keep_all = query.sort_by.is_some();
        let deprovision_deactivates = matches!(
            self.policy.action,
            DeprovisionAction::Deactivate
                | DeprovisionAction::Anonymize
                | DeprovisionAction::Delete
        );
        let mut kept: Vec<(Value, Kept)> = Vec::new();
        let mut matched: usize = 0;
        let mut start = 0;
        let mut previous = None;
        loop {
            let page = self.dir.users_page(start, self.dir.page_size()).await?;
            let got = page.len();
            if got == 0 {
                break;
            }
            check_progress(page.first(), &mut previous)?;
            for listed in page {
                let (json, item) = if full {
                    let jira = self
                        .dir
                        .user_by_id(&listed.id, true)
                        .await?
                        .unwrap_or(listed);
                    let stored = self.stored(&jira.id).await?;
                    if stored.deprovisioned {
                        continue;
                    }
                    let view = self.view(&jira, &stored);
                    (serde_json::to_value(&view)?, Kept::Full(Box::new(view)))
                } else {
                    let json = serde_json::to_value(user_view(&listed, &Stored::default()))?;
                    (json, Kept::Listed(listed))
                };
                if query
                    .filter
                    .as_ref()
                    .is_some_and(|f| !f.matches_with(&json, &schema))
                {
                    continue;
                }
                // Under `deactivate` and `anonymize` only an inactive user can be one a SCIM
                // DELETE deprovisioned (`delete` leaves no user): only those cost a property
                // read here. Under `keep` the account stays active, so every match does.
                if let Kept::Listed(listed) = &item {
                    if (!listed.active || !deprovision_deactivates)
                        && self.stored(&listed.id).await?.deprovisioned
                    {
                        continue;
                    }
                }
                if keep_all || (matched >= offset && matched - offset < count) {
                    kept.push((json, item));
                }
                matched += 1;
            }
            start += got;
        }
        if let Some(path) = &query.sort_by {
            scim_core::sort::sort_items_by_path(
                &mut kept,
                |(v, _)| v,
                path,
                query.sort_order,
                &schema,
            );
            kept = kept.into_iter().skip(offset).take(count).collect();
        }
        let mut resources = Vec::with_capacity(kept.len());
        for (_, item) in kept {
            match item {
                Kept::Full(view) => resources.push(*view),
                Kept::Listed(listed) => {
                    let jira = self
                        .dir
                        .user_by_id(&listed.id, true)
                        .await?
                        .unwrap_or(listed);
                    let stored = self.stored(&jira.id).await?;
                    resources.push(self.view(&jira, &stored));
                }
            }
        }
        Ok(Page {
            resources,
            total_results: matched as u64,
            start_index: query.start_index,
        })
    }

    /// The groups a user write leads to ([`CompiledPolicy::plan_groups`]), with the groups
    /// earlier writes gave the user as recorded in its property.
    fn plan_groups(
        &self,
        idp: Option<&[String]>,
        current: &[String],
        stored: &Stored,
        new_user: bool,
        current_names_stay: bool,
    ) -> GroupPlan {
        self.policy.plan_groups(
            idp,
            current,
            &stored.managed_groups,
            new_user,
            current_names_stay,
        )
    }

    /// Adds the user `user_name` to `add` (creating a group Jira does not have: the mapping
    /// and the default groups name groups that should exist) and removes it from `remove`.
    /// `done` says what was written before, for the error when a call fails.
    async fn apply_groups(
        &self,
        user_name: &str,
        add: &[String],
        remove: &[String],
        done: &str,
    ) -> Result<(), ScimError> {
        let failed = |e: AtlassianError, group: &str| {
            partial(
                e,
                &format!("{done}, and its membership of group {group:?} was being changed"),
            )
        };
        for group in add {
            match self.dir.add_member(group, user_name).await {
                Ok(()) => {}
                Err(e) if e.status() == Some(404) && e.mentions("group") => {
                    self.dir
                        .create_group(group)
                        .await
                        .map_err(|e| failed(e, group))?;
                    self.dir
                        .add_member(group, user_name)
                        .await
                        .map_err(|e| failed(e, group))?;
                }
                Err(e) => return Err(failed(e, group)),
            }
        }
        for group in remove {
            match self.dir.remove_member(group, user_name).await {
                // A group deleted meanwhile holds nobody: the state we want.
                Err(e) if e.status() != Some(404) => return Err(failed(e, group)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Hands what user `key` (`name`) leads to the policy's default leads (Jira projects and
    /// components). Nothing when no lead is configured: Jira then refuses the delete of a
    /// lead, and the error says so.
    async fn hand_over_leads(&self, key: &str, name: &str) -> Result<(), ScimError> {
        self.dir
            .hand_over_leads(
                key,
                name,
                self.policy.project_lead.as_deref(),
                self.policy.component_lead.as_deref(),
            )
            .await
    }

    /// Deletes user `key` in Jira, after handing over what it leads.
    async fn delete_in_jira(&self, key: &str, user: &DirectoryUser) -> Result<(), ScimError> {
        let name = user.name.as_str();
        self.hand_over_leads(key, name).await?;
        self.dir
            .delete_found_user(user)
            .await
            .map_err(|e| match e.status() {
                Some(404) => ScimError::not_found("User", key),
                Some(400) if e.mentions("lead") => ScimError::other(
                    StatusCode::BAD_REQUEST,
                    None,
                    format_args!(
                        "Jira refused to delete user {name:?} because it leads a project or \
                     component; set the policy's deprovision.project_lead and \
                     deprovision.component_lead to hand them over first ({e})"
                    ),
                ),
                _ => e.into(),
            })
    }

    /// Deprovisions user `id` (`jira` with its groups, `stored` its SCIM data) per the
    /// policy's action, then removes the memberships the policy says; a SCIM `DELETE`
    /// (`delete`) also marks the kept account so SCIM answers 404 for it from then on. Each
    /// step is told to the history ([`note_action`]). Returns the user and SCIM data as left.
    ///
    /// Order, so a failure leaves the most coherent state: the account change first (what
    /// fails on Jira before 8.3, and then nothing changed), except for `anonymize`, whose
    /// original values are stored before they are overwritten; memberships next; the SCIM
    /// data last.
    async fn deprovision_user(
        &self,
        id: &str,
        jira: &DirectoryUser,
        stored: Stored,
        delete: bool,
    ) -> Result<Option<(DirectoryUser, Stored)>, ScimError> {
        let product = self.dir.product();
        let mut user = jira.clone();
        let mut stored = stored;
        // Whether the SCIM data must be written last to remember the identity provider's
        // `active: false` (`keep`).
        let mut remember = false;
        match self.policy.action {
            DeprovisionAction::Delete => {
                self.delete_in_jira(id, jira).await?;
                note_action(format!("deleted user {id} from {product}"));
                return Ok(None);
            }
            DeprovisionAction::Deactivate => {
                if jira.active {
                    user = self
                        .dir
                        .update_user(jira, &deactivate())
                        .await
                        .map_err(|e| deactivation_error(e, id))?;
                    user.groups.clone_from(&jira.groups);
                    note_action(format!("deactivated user {id} in {product}"));
                } else {
                    note_action(format!("user {id} was already inactive in {product}"));
                }
            }
            DeprovisionAction::Anonymize => {
                if stored.anonymized.is_none() {
                    stored.anonymized = Some(Original::of(jira));
                    stored.last_modified = Some(now());
                    // The originals are safe before anything is overwritten.
                    self.dir
                        .set_user_scim_data(jira, &property_value(self.dir.as_ref(), &stored)?)
                        .await?;
                    let changes = anonymize(&jira.name);
                    user = self.dir.update_user(jira, &changes).await.map_err(|e| {
                        match e.status() {
                            Some(400) if e.mentions("already exists") => ScimError::other(
                                StatusCode::CONFLICT,
                                None,
                                format_args!(
                                    "user {id} cannot be anonymized: {product} already has a \
                                     user named {:?} ({e}); its original values are kept in \
                                     its SCIM data, nothing else changed",
                                    changes.name.as_deref().unwrap_or_default()
                                ),
                            ),
                            _ => deactivation_error(e, id),
                        }
                    })?;
                    user.groups.clone_from(&jira.groups);
                    note_action(format!(
                        "anonymized and deactivated user {id} in {product} (now {:?}; the \
                         original name, email and display name are kept for re-provisioning)",
                        user.name
                    ));
                } else {
                    note_action(format!("user {id} was already anonymized in {product}"));
                }
            }
            // `Keep`, and any action added later: the account stays as it is. Unless the user
            // goes (a SCIM `DELETE`), SCIM remembers that the identity provider deactivated
            // it, and shows it so.
            _ => {
                if delete {
                    note_action(format!("kept user {id} as it is in {product}"));
                } else if stored.idp_inactive {
                    note_action(format!(
                        "kept user {id} as it is in {product} (already inactive to SCIM)"
                    ));
                } else {
                    stored.idp_inactive = true;
                    remember = true;
                    note_action(format!(
                        "kept user {id} as it is in {product} (deprovision.action = keep; \
                         SCIM shows it inactive, as the identity provider set it)"
                    ));
                }
            }
        }

        let leave = self
            .policy
            .groups_to_remove(&jira.groups, &stored.managed_groups, delete);
        if !leave.is_empty() {
            self.apply_groups(
                &user.name,
                &[],
                &leave,
                &format!("user {id} was deprovisioned"),
            )
            .await?;
            user.groups
                .retain(|g| !leave.iter().any(|l| l.eq_ignore_ascii_case(g)));
            note_action(format!(
                "removed user {id} from {} group(s): {}",
                leave.len(),
                leave.join(", ")
            ));
        }
        if delete || remember {
            stored = Stored {
                deprovisioned: delete,
                last_modified: Some(now()),
                ..stored
            };
            let unmarked = if delete {
                format!("user {id} was deprovisioned, but not marked deleted")
            } else {
                format!(
                    "user {id} was kept as it is in {product}, but SCIM could not record that \
                     the identity provider deactivated it"
                )
            };
            self.dir
                .set_user_scim_data(&user, &property_value(self.dir.as_ref(), &stored)?)
                .await
                .map_err(|e| partial(e, &unmarked))?;
        }
        Ok(Some((user, stored)))
    }

    /// Deprovisions a user the IdP keeps (out of scope, `active: false`): per the policy,
    /// answering the user as it was with `active: false`.
    async fn deprovision(
        &self,
        id: &str,
        current: &DirectoryUser,
        stored: Stored,
        view: User,
    ) -> Result<User, ScimError> {
        let mut gone = view;
        if let Some((user, stored)) = self.deprovision_user(id, current, stored, false).await? {
            gone = self.view(&user, &stored);
        }
        gone.active = Some(false);
        Ok(gone)
    }

    /// Refuses a create or reactivation of `name` (joining `groups`) that would take a seat
    /// the licence does not have, minus the policy's reserve (with `seats.enforce`). The
    /// error is 403 without a `scimType`: RFC 7644 has none for a quota, 403 is what SCIM
    /// answers for what the server will not do however often asked (identity providers do
    /// not retry it, unlike 429 or 5xx), and 409 would tell them the user exists. Nothing has
    /// been written when it is returned.
    async fn check_seats(
        &self,
        name: &str,
        groups: &[String],
        new_user: bool,
    ) -> Result<(), ScimError> {
        if !self.policy.seats.enforce {
            return Ok(());
        }
        let product = self.dir.product();
        let usage = self.seats().await.map_err(|e| {
            ScimError::other(
                StatusCode::BAD_GATEWAY,
                None,
                format_args!(
                    "{product}'s licence seats could not be read, so user {name:?} was not \
                     written (seats.enforce): {e}"
                ),
            )
        })?;
        let reserve = usage.reserve;
        for pool in usage
            .pools
            .iter()
            .filter(|p| p.applies_to(groups, new_user))
        {
            let Some(licensed) = pool.licensed else {
                continue;
            };
            if reserve >= licensed {
                let refusal = format!(
                    "refused user {name:?} for licence seats: seats.reserve ({reserve}) is not \
                     below the {licensed} seats of {product}'s {} licence, so no user could \
                     ever be added; lower the reserve",
                    pool.name
                );
                note_action(refusal.clone());
                return Err(ScimError::other(StatusCode::FORBIDDEN, None, refusal));
            }
            if pool.free(reserve) == Some(0) {
                let refusal = format!(
                    "refused user {name:?} for licence seats: {product}'s {} licence has \
                     {} of {licensed} seats taken and {reserve} kept free (seats.reserve); \
                     nothing was written. Free a seat (deactivate someone) or extend the \
                     licence",
                    pool.name, pool.used
                );
                note_action(refusal.clone());
                return Err(ScimError::other(StatusCode::FORBIDDEN, None, refusal));
            }
        }
        Ok(())
    }

    /// Writes what differs between `user` and the `current` state read from Jira: the password
    /// when one is given, a `PUT /user` with the changed Jira fields, a `PUT` of the property
    /// when anything changed, then the group memberships the policy asks for (`idp_groups`:
    /// the IdP groups the write carried). Nothing when nothing changed (`view` is then the
    /// answer).
    #[allow(clippy::too_many_arguments)]
    async fn write_user(
        &self,
        id: &str,
        user: &User,
        current: DirectoryUser,
        stored: Stored,
        view: User,
        idp_groups: Option<&[String]>,
        why: Write,
    ) -> Result<User, ScimError> {
        if let Some(groups) = idp_groups {
            if !self.policy.in_scope(groups.iter().map(String::as_str)) {
                // Out of scope: the IdP still holds the user, Jira should not (or not
                // anymore). Without the option, the write is ignored and the user is answered
                // as Jira has it.
                return if self.policy.deprovision_out_of_scope {
                    self.deprovision(id, &current, stored, view).await
                } else {
                    Ok(view)
                };
            }
        }
        let (mut fields, attributes) = desired(user, &self.policy)?;
        fields.name = self.dir.normalize_name(&fields.name);
        // Deactivation is deprovisioning: under an action other than `deactivate` (or with
        // memberships to remove) it goes through the policy. A user already inactive (or
        // anonymized) was deprovisioned before.
        let deprovisions = self.policy.action != DeprovisionAction::Deactivate
            || !self
                .policy
                .groups_to_remove(&current.groups, &stored.managed_groups, false)
                .is_empty();
        // Under `keep`, a user the identity provider deactivated before is inactive to SCIM
        // already: nothing more to deprovision.
        let keeping = self.policy.action == DeprovisionAction::Keep;
        if fields.active == Some(false)
            && current.active
            && !(keeping && stored.idp_inactive)
            && stored.anonymized.is_none()
            && deprovisions
        {
            return self.deprovision(id, &current, stored, view).await;
        }
        // What SCIM remembers of the identity provider's `active` while the product's account
        // stays active (`keep`); `active: true` ends it.
        let idp_inactive = match fields.active {
            Some(true) => false,
            Some(false) => keeping && current.active,
            None => stored.idp_inactive,
        };
        // While anonymized and staying inactive, the product keeps the opaque values: the
        // write goes to the kept originals. Reactivation writes the user's own values back.
        let restoring = stored.anonymized.is_some() && fields.active == Some(true);
        let current = if stored.anonymized.is_some() && !restoring {
            unmasked(&current, &stored)
        } else {
            current
        };
        let masked = stored.anonymized.is_some() && !restoring;
        let plan = self.plan_groups(
            idp_groups,
            &current.groups,
            &stored,
            why == Write::Revive,
            why == Write::Patch,
        );
        let mut changes = UserChanges {
            name: (fields.name != current.name).then(|| fields.name.clone()),
            display_name: (fields.display_name != current.display_name)
                .then(|| fields.display_name.clone()),
            email: match &fields.email {
                Some(e) => Some(e.clone()).filter(|e| *e != current.email),
                // No email left: cleared where the product takes users without one; where it
                // requires one (Jira, Bitbucket), its address stays.
                None => (!current.email.is_empty() && !self.dir.requires_email()).then(String::new),
            },
            // A kept account stays active in the product.
            active: fields
                .active
                .filter(|a| *a != current.active && !idp_inactive),
        };
        let anonymized = if masked {
            // Nothing reaches the product's name, email or display name: they stay opaque.
            let original = Original {
                name: changes.name.take().unwrap_or_else(|| current.name.clone()),
                email: changes
                    .email
                    .take()
                    .unwrap_or_else(|| current.email.clone()),
                display_name: changes
                    .display_name
                    .take()
                    .unwrap_or_else(|| current.display_name.clone()),
            };
            Some(original)
        } else {
            None
        };
        if changes.active == Some(true) {
            let mut joining = current.groups.clone();
            joining.extend(plan.add.iter().cloned());
            self.check_seats(&fields.name, &joining, false).await?;
        }
        let (idp_user_name, jira_user_name) = name_memo(user, &fields.name);
        let managed = plan
            .managed
            .clone()
            .unwrap_or_else(|| stored.managed_groups.clone());
        let property_changed = attributes != stored.attributes
            || user.external_id != stored.external_id
            || idp_user_name != stored.idp_user_name
            || jira_user_name != stored.jira_user_name
            || managed != stored.managed_groups
            || stored.deprovisioned
            || idp_inactive != stored.idp_inactive
            || anonymized != stored.anonymized;
        let groups_change = !plan.add.is_empty() || !plan.remove.is_empty();
        if changes.is_empty() && !property_changed && user.password.is_none() && !groups_change {
            return Ok(view);
        }
        let new_stored = Stored {
            external_id: user.external_id.clone(),
            created: stored.created.clone().or_else(|| Some(now())),
            last_modified: Some(now()),
            attributes,
            idp_user_name,
            jira_user_name,
            deprovisioned: false,
            idp_inactive,
            managed_groups: managed,
            anonymized,
        };
        let property = property_value(self.dir.as_ref(), &new_stored)?;
        // The password first: a password policy refusing it is the likeliest failure, and
        // then nothing has been written.
        if let Some(password) = &user.password {
            self.dir
                .set_user_password(&current, password.expose())
                .await
                .map_err(|e| match e.status() {
                    Some(404) => ScimError::not_found("User", id),
                    Some(400) => ScimError::invalid_value("password", e),
                    _ => e.into(),
                })?;
        }
        let deactivating = changes.active.is_some();
        let mut updated = current.clone();
        if !changes.is_empty() {
            updated = self
                .dir
                .update_user(&current, &changes)
                .await
                .map_err(|e| match e.status() {
                    Some(400) if deactivating && e.mentions("no.value.found.to.be.changed") => {
                        deactivation_error(e, id)
                    }
                    Some(404) => ScimError::not_found("User", id),
                    _ => user_write_error(e, &fields.name, self.dir.product()),
                })?;
            updated.groups.clone_from(&current.groups);
        }
        // Addressed as updated: where the id is the name, a rename changed it.
        self.dir
            .set_user_scim_data(&updated, &property)
            .await
            .map_err(|e| {
                partial(
                    e,
                    &format!(
                        "user {id}: {}'s fields were updated but not its SCIM attributes",
                        self.dir.product()
                    ),
                )
            })?;
        self.apply_groups(
            &updated.name,
            &plan.add,
            &plan.remove,
            &format!("user {id} was updated"),
        )
        .await?;
        if restoring {
            note_action(format!(
                "restored user {id}'s own name, email and display name in {} (it had been \
                 anonymized) and reactivated it",
                self.dir.product()
            ));
        } else if changes.active == Some(true) {
            note_action(format!("reactivated user {id} in {}", self.dir.product()));
        } else if stored.idp_inactive && !idp_inactive && fields.active == Some(true) {
            note_action(format!(
                "reactivated user {id} to SCIM ({} had kept its account active)",
                self.dir.product()
            ));
        }
        updated
            .groups
            .retain(|g| !plan.remove.iter().any(|r| r.eq_ignore_ascii_case(g)));
        updated.groups.extend(plan.add);
        Ok(self.view(&updated, &new_stored))
    }

    pub(crate) async fn resolve_members(
        &self,
        keys: &[String],
    ) -> Result<Vec<DirectoryUser>, ScimError> {
        let mut users = Vec::with_capacity(keys.len());
        for key in keys {
            match self.dir.user_by_id(key, false).await? {
                Some(u) => users.push(u),
                None => {
                    return Err(ScimError::invalid_value(
                        "members",
                        format_args!(
                            "no user has the id {key:?} ({} groups hold users only)",
                            self.dir.product()
                        ),
                    ));
                }
            }
        }
        Ok(users)
    }

    /// Brings the members of group `name` from `current` to `desired` with add and remove
    /// calls, returning the new member list.
    async fn set_members(
        &self,
        name: &str,
        current: &[DirectoryUser],
        desired: &[Member],
    ) -> Result<Vec<DirectoryUser>, ScimError> {
        let mut want = BTreeSet::new();
        for (i, m) in desired.iter().enumerate() {
            match m.value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => {
                    want.insert(v.to_owned());
                }
                None => {
                    return Err(ScimError::invalid_value(
                        format!("members[{i}].value"),
                        "is required",
                    ));
                }
            }
        }
        let have: BTreeMap<&str, &DirectoryUser> =
            current.iter().map(|u| (u.id.as_str(), u)).collect();
        let to_add: Vec<String> = want
            .iter()
            .filter(|k| !have.contains_key(k.as_str()))
            .cloned()
            .collect();
        let to_remove: Vec<&DirectoryUser> =
            current.iter().filter(|u| !want.contains(&u.id)).collect();
        let added = self.resolve_members(&to_add).await?;
        let total = added.len() + to_remove.len();
        let mut done = 0;
        for user in &added {
            // Someone else adding it meanwhile is no error (the directory's contract).
            match self.dir.add_member(name, &user.name).await {
                Ok(()) => {}
                Err(e) => {
                    return Err(partial(
                        e,
                        &format!("group {name:?}: {done} of {total} membership changes made"),
                    ));
                }
            }
            done += 1;
        }
        for user in &to_remove {
            // Removed by someone else meanwhile, or the user deleted, is no error (the
            // directory's contract).
            match self.dir.remove_member(name, &user.name).await {
                Ok(()) => {}
                Err(e) => {
                    return Err(partial(
                        e,
                        &format!("group {name:?}: {done} of {total} membership changes made"),
                    ));
                }
            }
            done += 1;
        }
        let mut members: Vec<DirectoryUser> = current
            .iter()
            .filter(|u| want.contains(&u.id))
            .cloned()
            .collect();
        members.extend(added);
        Ok(members)
    }
}

/// The `userName` as sent and the Jira name it became, when they differ (kept in the
/// property so SCIM shows the IdP its own name back).
fn name_memo(user: &User, jira_name: &str) -> (Option<String>, Option<String>) {
    let sent = user.user_name.trim();
    if sent == jira_name {
        (None, None)
    } else {
        (Some(sent.to_owned()), Some(jira_name.to_owned()))
    }
}

/// A refused deactivation: Jira before 8.3 cannot deactivate through REST v2, and no
/// embedded Crowd API was configured to do it instead.
fn deactivation_error(e: AtlassianError, id: &str) -> ScimError {
    match e.status() {
        Some(404) => ScimError::not_found("User", id),
        Some(400) if e.mentions("no.value.found.to.be.changed") => ScimError::other(
            StatusCode::NOT_IMPLEMENTED,
            None,
            format_args!(
                "this Jira (before 8.3) cannot change `active` through REST v2; configure the \
                 Crowd API embedded in Jira (AtlassianBuilder::embedded_crowd, an application \
                 allowed in Jira's User Server settings) to do it there; the user's Jira \
                 fields were not changed ({e})"
            ),
        ),
        _ => e.into(),
    }
}

/// The name in `displayName eq "<name>"` on the core Group schema (or none).
fn group_name_lookup(filter: &scim_filter::Filter) -> Option<&str> {
    let scim_filter::Filter::Compare(path, scim_filter::CompareOp::Eq, value) = filter else {
        return None;
    };
    let scim_filter::CompValue::String(text) = value else {
        return None;
    };
    let core_or_none = path
        .schema()
        .is_none_or(|s| s.eq_ignore_ascii_case(scim_core::urn::GROUP));
    (core_or_none && path.name().eq_ignore_ascii_case("displayName") && path.sub_attr().is_none())
        .then_some(text.as_str())
}

/// Whether `path` names an attribute a `/user/search` result alone answers (`names`: whether
/// Jira's names are the SCIM `userName`s; `active`: whether the product's `active` is the
/// SCIM one, which it is not under `keep`, where SCIM remembers the identity provider's).
fn is_jira_field(path: &scim_filter::AttrPath, names: bool, active: bool) -> bool {
    let core_or_none = path
        .schema()
        .is_none_or(|s| s.eq_ignore_ascii_case(scim_core::urn::USER));
    let name = path.name();
    core_or_none
        && match path.sub_attr() {
            None => {
                ["id", "displayName"]
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name))
                    || (names && name.eq_ignore_ascii_case("userName"))
                    || (active && name.eq_ignore_ascii_case("active"))
            }
            Some(sub) => {
                name.eq_ignore_ascii_case("meta") && sub.eq_ignore_ascii_case("resourceType")
            }
        }
}

/// Whether every attribute `filter` reads is one of Jira's own fields (`names`, `active`: as
/// [`is_jira_field`] takes them).
fn on_jira_fields(filter: &scim_filter::Filter, names: bool, active: bool) -> bool {
    use scim_filter::Filter;
    match filter {
        Filter::Present(path) | Filter::Compare(path, _, _) => is_jira_field(path, names, active),
        Filter::ValuePath(..) => false,
        Filter::Not(inner) => on_jira_fields(inner, names, active),
        Filter::And(ops) | Filter::Or(ops) => ops
            .as_slice()
            .iter()
            .all(|f| on_jira_fields(f, names, active)),
    }
}

/// Fails when a page starts with the same user as the previous one: a server ignoring
/// `startAt` would otherwise be paged forever.
fn check_progress(
    first: Option<&DirectoryUser>,
    previous: &mut Option<String>,
) -> Result<(), ScimError> {
    let first = first.map(|u| u.id.clone());
    if first.is_some() && first == *previous {
        return Err(AtlassianError::Decode {
            call: "GET /user/search".to_owned(),
            detail: "the same page came back for the next startAt".to_owned(),
        }
        .into());
    }
    *previous = first;
    Ok(())
}

/// The string in `<attribute> eq "<value>"` on a top-level core User attribute.
fn eq_lookup<'f>(filter: &'f scim_filter::Filter, attribute: &str) -> Option<&'f str> {
    let scim_filter::Filter::Compare(path, scim_filter::CompareOp::Eq, value) = filter else {
        return None;
    };
    let scim_filter::CompValue::String(text) = value else {
        return None;
    };
    let core_or_none = path
        .schema()
        .is_none_or(|s| s.eq_ignore_ascii_case(scim_core::urn::USER));
    (core_or_none && path.name().eq_ignore_ascii_case(attribute) && path.sub_attr().is_none())
        .then_some(text.as_str())
}

fn page_of(hits: Vec<User>, query: &ListQuery) -> Page<User> {
    let total = hits.len() as u64;
    let (offset, count) = query.window();
    Page {
        resources: hits.into_iter().skip(offset).take(count).collect(),
        total_results: total,
        start_index: query.start_index,
    }
}

// The SCIM operations. `Provisioner` (in `scoped.rs`) runs each inside the request's retry
// budget and calls these.
impl AtlassianProvisioner {
    /// Every User attribute is kept (what the product has no field for lives in the SCIM
    /// data it stores), passwords are set on every Data Center product, `emails` is
    /// required where the product refuses a user without one, and group names are fixed
    /// unless [`GroupRename::CreateMoveDelete`] is configured.
    pub(crate) fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::default()
            .change_password(true)
            .fixed_group_names(self.group_rename == GroupRename::Refuse);
        if self.dir.requires_email() {
            caps.require_user_attributes(["emails"])
        } else {
            caps
        }
    }

    /// `POST /user`, then `PUT` of the user property (and a deactivating `PUT /user` when the
    /// user is created inactive), then one `POST /group/user` per group the policy puts it in
    /// (its mapped `groups`, the default groups). A user outside the policy's scope is refused
    /// with 403 and nothing is written. Re-creating a user that a SCIM `DELETE` deactivated
    /// reactivates that Jira account (same id).
    pub(crate) async fn create_user(
        &self,
        _ctx: &RequestContext,
        user: User,
    ) -> Result<User, ScimError> {
        let groups = idp_groups(&user);
        self.policy
            .check_create_scope(&user.user_name, groups.as_deref(), self.dir.product())?;
        let (mut fields, attributes) = desired(&user, &self.policy)?;
        fields.name = self.dir.normalize_name(&fields.name);
        let (idp_user_name, jira_user_name) = name_memo(&user, &fields.name);
        let plan = self.plan_groups(groups.as_deref(), &[], &Stored::default(), true, false);
        let stamp = now();
        let stored = Stored {
            external_id: user.external_id.clone(),
            created: Some(stamp.clone()),
            last_modified: Some(stamp),
            attributes,
            idp_user_name,
            jira_user_name,
            deprovisioned: false,
            idp_inactive: false,
            managed_groups: plan.managed.clone().unwrap_or_default(),
            anonymized: None,
        };
        let property = property_value(self.dir.as_ref(), &stored)?;
        let name = user.name.as_ref();
        let new_user = NewUser {
            name: fields.name.clone(),
            display_name: fields.display_name.clone(),
            email: fields.email.clone(),
            first_name: name.and_then(|n| n.given_name.clone()),
            last_name: name.and_then(|n| n.family_name.clone()),
            password: user.password.as_ref().map(|p| p.expose().to_owned()),
            active: fields.active != Some(false),
        };
        // An account anonymized earlier comes back with its own values (same id).
        if self.policy.action == DeprovisionAction::Anonymize {
            let anon = anonymous_name(&fields.name);
            if let Some(revived) = self.revive(&anon, &user, groups.clone()).await? {
                return Ok(revived);
            }
        }
        self.check_seats(&fields.name, &plan.add, true).await?;
        let mut created = match self.dir.create_user(&new_user).await {
            Ok(created) => created,
            Err(e) => {
                let err = user_write_error(e, &fields.name, self.dir.product());
                if matches!(err, ScimError::Uniqueness { .. }) {
                    if let Some(revived) = self.revive(&fields.name, &user, groups).await? {
                        return Ok(revived);
                    }
                    if !self.policy.user_name.is_identity() {
                        return Err(ScimError::uniqueness(
                            "userName",
                            format!(
                                "{} (the policy's user_name transformation makes it {:?}, a \
                                 name another {} user has)",
                                user.user_name,
                                fields.name,
                                self.dir.product()
                            ),
                        ));
                    }
                }
                return Err(err);
            }
        };
        let key = created.id.clone();
        // Products that cannot create an inactive user (Jira) deactivate it next.
        if fields.active == Some(false) && created.active {
            created = self
                .dir
                .update_user(&created, &deactivate())
                .await
                .map_err(|e| {
                    partial(e, &format!("user {:?} was created (id {key})", fields.name))
                })?;
        }
        self.dir
            .set_user_scim_data(&created, &property)
            .await
            .map_err(|e| {
                partial(
                    e,
                    &format!(
                        "user {:?} was created (id {key}) but its externalId and other SCIM attributes were not stored; a replace stores them",
                        fields.name
                    ),
                )
            })?;
        self.apply_groups(
            &created.name,
            &plan.add,
            &[],
            &format!(
                "user {:?} was created (id {key}; a replace with its groups converges)",
                fields.name
            ),
        )
        .await?;
        created.groups = plan.add;
        Ok(self.view(&created, &stored))
    }

    pub(crate) async fn get_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> Result<User, ScimError> {
        let (jira, stored) = self.read_user(id).await?;
        Ok(self.view(&jira, &stored))
    }

    /// Reads the user, then writes only what differs: the password when one is given
    /// (`PUT /user/password`), a `PUT /user` with the changed Jira fields, a `PUT` of the
    /// property when anything changed, membership changes the policy asks for (the user's
    /// `groups`, when sent, replace its mapped groups). A replace that changes nothing writes
    /// nothing.
    pub(crate) async fn replace_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        // Validated before anything is read.
        desired(&user, &self.policy)?;
        let (current, stored) = self.read_user(id).await?;
        let view = self.view(&current, &stored);
        check_expected(version_of_user(&view), expected, "User", id)?;
        let groups = idp_groups(&user);
        self.write_user(
            id,
            &user,
            current,
            stored,
            view,
            groups.as_deref(),
            Write::Replace,
        )
        .await
    }

    /// Deprovisions per the policy: `deactivate` (default) removes the user from its groups,
    /// deactivates it and marks it so SCIM answers 404 from then on (Jira keeps the account);
    /// `delete` hands over what it leads and `DELETE /user?key=`.
    pub(crate) async fn delete_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let leads = self.policy.project_lead.is_some() || self.policy.component_lead.is_some();
        if self.policy.action == DeprovisionAction::Delete && expected.is_none() && !leads {
            self.dir
                .delete_user(id)
                .await
                .map_err(|e| match e.status() {
                    Some(404) => ScimError::not_found("User", id),
                    Some(400) if e.mentions("lead") => ScimError::other(
                        StatusCode::BAD_REQUEST,
                        None,
                        format_args!(
                            "Jira refused to delete user {id} because it leads a project or \
                         component; set the policy's deprovision.project_lead and \
                         deprovision.component_lead to hand them over first ({e})"
                        ),
                    ),
                    _ => e.into(),
                })?;
            note_action(format!("deleted user {id} from {}", self.dir.product()));
            return Ok(());
        }
        let (jira, stored) = self.read_user(id).await?;
        check_expected(
            version_of_user(&user_view(&jira, &stored)),
            expected,
            "User",
            id,
        )?;
        self.deprovision_user(id, &jira, stored, true)
            .await
            .map(drop)
    }

    /// A page of `/user/search?username=.` (active and inactive users), each with its
    /// property: what a sync reads of the whole directory, so one read per user at most (none
    /// where the listing carries the data, [`Directory::users_page_with_data`]), made
    /// [`READS_IN_FLIGHT`] at a time, and no full read: `groups` is left out (computed and
    /// read-only; reading a user or searching shows it), since reading it would cost another
    /// call per user. Users a SCIM `DELETE` deprovisioned are not part of the scan: offsets
    /// count the users the scan shows, and a page is shorter than `limit` only at the end (the
    /// contract of [`scim_core::Provisioner::scan_users`]). The product position where the last
    /// page ended is remembered, so sequential pages cost no more than their own reads; any
    /// other offset counts from the nearest remembered point before it (or from the start).
    pub(crate) async fn scan_users(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let remembered = self.scan_cursor.lock().ok().and_then(|c| *c);
        let (mut skipped, mut position) = match remembered {
            Some((visible, product)) if visible <= offset => (visible, product),
            _ => (0, 0),
        };
        while skipped < offset {
            let step = (offset - skipped).min(self.dir.page_size().max(1));
            let (seen, end) = self.scan_from(position, step).await?;
            if seen.is_empty() {
                return Ok(Vec::new());
            }
            skipped += seen.len();
            position = end;
        }
        let (out, end) = self.scan_from(position, limit).await?;
        if let Ok(mut cursor) = self.scan_cursor.lock() {
            *cursor = Some((offset + out.len(), end));
        }
        Ok(out)
    }

    /// Up to `limit` users a SCIM `DELETE` did not deprovision, from product position
    /// `start` on, reading further product pages until there are `limit` or the product has
    /// no more; with the product position after the last user read (never past a user that
    /// was not returned, since each product page asks only for the users still missing).
    async fn scan_from(&self, start: usize, limit: usize) -> Result<(Vec<User>, usize), ScimError> {
        let mut out = Vec::with_capacity(limit);
        let mut position = start;
        let mut previous = None;
        while out.len() < limit {
            let want = (limit - out.len()).min(self.dir.page_size().max(1));
            let mut listed: Vec<(DirectoryUser, Option<Stored>)> =
                match self.dir.users_page_with_data(position, want).await? {
                    Some(page) => page
                        .into_iter()
                        .map(|(user, data)| (user, Some(stored_from(data))))
                        .collect(),
                    None => self
                        .dir
                        .users_page(position, want)
                        .await?
                        .into_iter()
                        .map(|user| (user, None))
                        .collect(),
                };
            if listed.is_empty() {
                break;
            }
            check_progress(listed.first().map(|(u, _)| u), &mut previous)?;
            // A server answering more than asked: keep only what was asked, so the position
            // stays that of the next user not returned.
            listed.truncate(want);
            position += listed.len();
            // The properties the listing did not carry, in the listing's order.
            let reads: Vec<Task<'_, Result<Stored, ScimError>>> = listed
                .iter()
                .filter(|(_, stored)| stored.is_none())
                .map(|(user, _)| {
                    Box::pin(async move { Ok(stored_from(self.dir.user_scim_data(user).await?)) })
                        as Task<'_, _>
                })
                .collect();
            let mut read = bounded::run_in_order(reads, READS_IN_FLIGHT)
                .await
                .into_iter();
            for (user, stored) in &listed {
                let stored = match stored {
                    Some(s) => s.clone(),
                    // One answer per user without data, in order.
                    None => read.next().transpose()?.unwrap_or_default(),
                };
                if !stored.deprovisioned {
                    out.push(self.view(user, &stored));
                }
            }
        }
        Ok((out, position))
    }

    /// `userName eq` is a direct `GET /user?username=` of the name the policy's `user_name`
    /// transformation makes of it (Jira compares names ignoring case, as SCIM does for
    /// `userName`); `externalId eq` reads only the property of each user (Jira cannot search
    /// properties); a filter and `sortBy` on Jira's own fields only (`id`, `userName` when
    /// names are not transformed, `displayName`, `active` unless under `keep`,
    /// `meta.resourceType`), or none, is
    /// evaluated on the search results and only the page returned is read in full; anything
    /// else pages the search and reads every user in full.
    pub(crate) async fn search_users(
        &self,
        _ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        let filter = query.filter.as_ref();
        if let Some(name) = filter.and_then(|f| eq_lookup(f, "userName")) {
            let mut hits = Vec::new();
            if let Some(jira_name) = self.policy.user_name.apply(name) {
                if let Some(jira) = self.dir.user_by_name(&jira_name, true).await? {
                    let stored = self.stored(&jira.id).await?;
                    let view = self.view(&jira, &stored);
                    // Two IdP names can become one Jira name: only the one that made this
                    // user finds it.
                    if !stored.deprovisioned
                        && view.user_name.to_lowercase() == name.trim().to_lowercase()
                    {
                        hits.push(view);
                    }
                }
            }
            return Ok(page_of(hits, query));
        }
        if let Some(external_id) = filter.and_then(|f| eq_lookup(f, "externalId")) {
            return Ok(page_of(self.by_external_id(external_id).await?, query));
        }
        let names = self.names_are_jira_names();
        let active = self.policy.action != DeprovisionAction::Keep;
        let cheap = filter.is_none_or(|f| on_jira_fields(f, names, active))
            && query
                .sort_by
                .as_ref()
                .is_none_or(|p| is_jira_field(p, names, active));
        self.search_listing(query, !cheap).await
    }

    /// `displayName eq` (what identity providers ask before creating a group) looks the
    /// group's first Jira group up with `/groups/picker` and reads that group only; a group
    /// the policy ignores is not found; everything else scans.
    pub(crate) async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        let Some(name) = query.filter.as_ref().and_then(group_name_lookup) else {
            return scim_core::provision::search_groups_by_scan(self, ctx, query).await;
        };
        let mut hits = Vec::new();
        if let Some(primary) = self.targets(name).and_then(|t| t.into_iter().next()) {
            let picked = self.dir.find_groups(&primary, self.dir.page_size()).await?;
            // Jira's group names are unique ignoring case, as SCIM compares displayName.
            if let Some(found) = picked
                .iter()
                .find(|g| g.to_lowercase() == primary.to_lowercase())
            {
                if let Some(members) = self.dir.group_members(found).await? {
                    // Unmapped, the IdP's name is Jira's: show Jira's spelling, as before.
                    let shown = if self.policy.groups_are_identity() {
                        found.as_str()
                    } else {
                        name
                    };
                    hits.push(group_view(shown, &members));
                }
            }
        }
        let total = hits.len() as u64;
        let (offset, count) = query.window();
        Ok(Page {
            resources: hits.into_iter().skip(offset).take(count).collect(),
            total_results: total,
            start_index: query.start_index,
        })
    }

    /// Removes `member_ids` from each Jira group the group maps to, one `DELETE /group/user`
    /// each without reading the group first (ids that are not members are ignored: the
    /// product's "not a member" is success); see `membership.rs`.
    pub(crate) async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        let changes = MemberChanges {
            add: Vec::new(),
            remove: member_ids.to_vec(),
        };
        self.change_members(ctx, group_id, &changes).await
    }

    /// Reads the user once (two calls), applies the PATCH and writes only what differs, like a
    /// replace. Re-reading before the write, as the default does, would narrow no race
    /// (Jira offers no conditional write) and cost two more calls per PATCH, the operation
    /// identity providers send most. A PATCH of `groups` replaces the user's mapped groups.
    pub(crate) async fn patch_user(
        &self,
        _ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let (current, stored) = self.read_user(id).await?;
        let view = self.view(&current, &stored);
        check_expected(version_of_user(&view), expected, "User", id)?;
        let mut patched = view.clone();
        // The user's groups as SCIM shows them (the IdP's names under a mapping), which is
        // what `groups` operations name.
        let shown: Vec<String> = view
            .groups
            .iter()
            .filter_map(|g| g.display.clone())
            .collect();
        let (patch, groups) = split_group_ops(patch, &shown);
        if !patch.operations.is_empty() || groups.is_none() {
            scim_core::patch::apply_user(&mut patched, &patch, SchemaRegistry::builtin())?;
        }
        self.write_user(
            id,
            &patched,
            current,
            stored,
            view,
            groups.as_deref(),
            Write::Patch,
        )
        .await
    }

    /// Checks every member, then for each Jira group the policy maps the group to: `POST
    /// /group` (a group that already exists is used as it is, as on-the-fly mapping means)
    /// and one `POST /group/user` per member it lacks. A group the policy ignores is answered
    /// as created, empty, and nothing is written.
    pub(crate) async fn create_group(
        &self,
        _ctx: &RequestContext,
        group: Group,
    ) -> Result<Group, ScimError> {
        let name = group.display_name.trim().to_owned();
        if name.is_empty() {
            return Err(ScimError::invalid_value(
                "displayName",
                "is required and must not be empty",
            ));
        }
        // Members are checked before the group exists, so a bad member id creates nothing.
        let mut keys: Vec<String> = Vec::new();
        for (i, m) in group.members.iter().enumerate() {
            match m.value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) if !keys.iter().any(|k| k == v) => keys.push(v.to_owned()),
                Some(_) => {}
                None => {
                    return Err(ScimError::invalid_value(
                        format!("members[{i}].value"),
                        "is required",
                    ));
                }
            }
        }
        let Some(targets) = self.targets(&name) else {
            return Ok(group_view(&name, &[]));
        };
        let members = self.resolve_members(&keys).await?;
        let mut shown: Option<Vec<DirectoryUser>> = None;
        for (t, target) in targets.iter().enumerate() {
            let existing = match self.dir.create_group(target).await {
                Ok(true) => Vec::new(),
                Ok(false) => self.dir.group_members(target).await?.unwrap_or_default(),
                Err(e) if t == 0 => return Err(e.into()),
                Err(e) => {
                    return Err(partial(
                        e,
                        &format!(
                            "group {name:?}: {t} of its {} {} groups were set up",
                            targets.len(),
                            self.dir.product()
                        ),
                    ));
                }
            };
            let mut added = Vec::with_capacity(members.len());
            for user in &members {
                if existing.iter().any(|u| u.id == user.id) {
                    continue;
                }
                match self.dir.add_member(target, &user.name).await {
                    Ok(()) => {}
                    Err(e) => {
                        return Err(partial(
                            e,
                            &format!(
                                "group {name:?} was created with {} of {} members in {} group {target:?}",
                                added.len(),
                                keys.len(),
                                self.dir.product()
                            ),
                        ));
                    }
                }
                added.push(user.clone());
            }
            if shown.is_none() {
                let mut all = existing;
                all.extend(added);
                shown = Some(all);
            }
        }
        // Unmapped, the IdP's name is Jira's: the id is the name as Jira keeps it.
        Ok(group_view(&name, &shown.unwrap_or_default()))
    }

    pub(crate) async fn get_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> Result<Group, ScimError> {
        Ok(self.read_group(id).await?.1)
    }

    /// Membership changes as add/remove calls on each Jira group the group maps to; a
    /// `displayName` change is refused (400 `mutability`): Jira cannot rename groups.
    pub(crate) async fn replace_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        let (members, view) = self.read_group(id).await?;
        check_expected(version_of_group(&view), expected, "Group", id)?;
        if group.display_name.trim() != id {
            return self
                .rename_group(id, &group.display_name, &group.members)
                .await;
        }
        self.set_group_members(id, members, &group.members).await
    }

    /// On-the-fly mapping deletes the Jira group; manual mapping leaves its Jira groups (an
    /// administrator's, possibly shared by several IdP groups) as they are; a group the policy
    /// ignores has nothing to delete.
    pub(crate) async fn delete_group(
        &self,
        _ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        if expected.is_some() {
            let (_, view) = self.read_group(id).await?;
            check_expected(version_of_group(&view), expected, "Group", id)?;
        }
        let Some(targets) = self.targets(id) else {
            return Ok(());
        };
        if matches!(
            self.policy.mapping,
            scim_provisioning::policy::Mapping::Manual(_)
        ) {
            return Ok(());
        }
        let primary = targets.first().map_or(id, String::as_str);
        self.dir
            .delete_group(primary)
            .await
            .map_err(|e| match e.status() {
                Some(404) => ScimError::not_found("Group", id),
                _ => e.into(),
            })
    }

    /// Group names from `/groups/picker` (capped by a Jira setting \[K\]), each read in full,
    /// [`READS_IN_FLIGHT`] at a time.
    /// With a group mapping other than same-named groups, only Jira groups the mapping maps
    /// onto themselves are listed: the IdP names behind the others cannot be recovered from
    /// Jira (lookups by `displayName` still find them).
    pub(crate) async fn scan_groups(
        &self,
        _ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        let identity = self.policy.groups_are_identity();
        let mut names = self
            .dir
            .group_names(if identity {
                offset.saturating_add(limit).min(u32::MAX as usize)
            } else {
                u32::MAX as usize
            })
            .await?;
        if !identity {
            names.retain(|n| {
                self.policy
                    .jira_groups(n)
                    .is_some_and(|t| t.first().is_some_and(|f| f == n))
            });
        }
        let names: Vec<String> = names.into_iter().skip(offset).take(limit).collect();
        let reads: Vec<Task<'_, Result<Option<Vec<DirectoryUser>>, AtlassianError>>> = names
            .iter()
            .map(|name| Box::pin(self.dir.group_members(name)) as Task<'_, _>)
            .collect();
        let members = bounded::run_in_order(reads, READS_IN_FLIGHT).await;
        names
            .iter()
            .zip(members)
            .map(|(name, members)| {
                // Deleted since the listing: keep the page aligned with an empty group.
                Ok(group_view(name, members?.as_deref().unwrap_or_default()))
            })
            .collect()
    }

    /// A PATCH that only adds or removes members (and expects no version) makes one
    /// membership call per member and mapped group, without reading the group first, and
    /// reads it once for the answer unless the client excluded `members` (see
    /// `membership.rs`). Any other PATCH reads the group, applies the PATCH, and turns the
    /// member difference into add/remove calls on each Jira group it maps to, relative to what
    /// was read (no conditional write, so concurrent member PATCH requests never have to start
    /// over, and none is lost).
    pub(crate) async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        // Member adds and removes need no read of the group (see `membership.rs`).
        if let (None, Some(changes)) = (expected, MemberChanges::of(patch)) {
            return self.change_members(ctx, id, &changes).await;
        }
        let (members, view) = self.read_group(id).await?;
        check_expected(version_of_group(&view), expected, "Group", id)?;
        let mut desired = view.clone();
        scim_core::patch::apply_group(&mut desired, patch, SchemaRegistry::builtin())?;
        if desired.display_name != view.display_name {
            return self
                .rename_group(id, &desired.display_name, &desired.members)
                .await;
        }
        self.set_group_members(id, members, &desired.members).await
    }
}

impl AtlassianProvisioner {
    /// A `displayName` change, per [`GroupRename`]: refused, or the group `id` is created
    /// anew as `wanted` with the `desired` members and the old one deleted (same-named group
    /// mapping only, where the id is the product's group name).
    async fn rename_group(
        &self,
        id: &str,
        wanted: &str,
        desired: &[Member],
    ) -> Result<Group, ScimError> {
        let product = self.dir.product();
        if self.group_rename == GroupRename::Refuse {
            return Err(refuse_rename(product, id, wanted, ""));
        }
        if !self.policy.groups_are_identity() {
            return Err(refuse_rename(
                product,
                id,
                wanted,
                "; create, move and delete needs same-named group mapping",
            ));
        }
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Err(ScimError::invalid_value(
                "displayName",
                "is required and must not be empty",
            ));
        }
        // Only a difference in case would make the product's name unchanged (names are
        // unique ignoring case): nothing to move.
        if wanted.eq_ignore_ascii_case(id) {
            return Err(refuse_rename(
                product,
                id,
                wanted,
                "; the names differ only in case",
            ));
        }
        if !self.dir.create_group(wanted).await? {
            return Err(ScimError::uniqueness("displayName", wanted));
        }
        let members = self.set_members(wanted, &[], desired).await.map_err(|e| {
            ScimError::other(
                e.status(),
                None,
                format_args!(
                    "renaming group {id:?}: {wanted:?} was created, then moving the members \
                     failed ({}); {id:?} is unchanged",
                    e.detail()
                ),
            )
        })?;
        self.dir.delete_group(id).await.map_err(|e| {
            partial(
                e,
                &format!("renaming group {id:?}: {wanted:?} was created with its members"),
            )
        })?;
        Ok(group_view(wanted, &members))
    }

    /// Brings every Jira group behind SCIM group `id` to the `desired` members (`primary`:
    /// the members of its first Jira group, already read). A group the policy ignores
    /// changes nothing and reads as empty.
    async fn set_group_members(
        &self,
        id: &str,
        primary: Vec<DirectoryUser>,
        desired: &[Member],
    ) -> Result<Group, ScimError> {
        let Some(targets) = self.targets(id) else {
            return Ok(group_view(id, &[]));
        };
        let left: Vec<DirectoryUser> = primary
            .iter()
            .filter(|u| {
                !desired
                    .iter()
                    .any(|m| m.value.as_deref().map(str::trim) == Some(u.id.as_str()))
            })
            .cloned()
            .collect();
        let mut shown = None;
        for (i, target) in targets.iter().enumerate() {
            let current = if i == 0 {
                primary.clone()
            } else {
                // A manual target deleted in Jira meanwhile: the mapping names it, so it
                // comes back.
                if let Some(m) = self.dir.group_members(target).await? {
                    m
                } else {
                    self.dir.create_group(target).await?;
                    Vec::new()
                }
            };
            let members = self.set_members(target, &current, desired).await?;
            if shown.is_none() {
                shown = Some(members);
            }
        }
        let scope_group = self.policy.scope.iter().any(|s| s.eq_ignore_ascii_case(id));
        if self.policy.deprovision_out_of_scope && scope_group {
            for user in &left {
                self.deprovision_if_out_of_scope(&user.id)
                    .await
                    .map_err(|e| {
                        ScimError::other(
                            e.status(),
                            None,
                            format_args!(
                                "group {id:?}: the members were changed, then deprovisioning                                  {:?}, who left the sync scope, failed: {}",
                                user.name,
                                e.detail()
                            ),
                        )
                    })?;
            }
        }
        Ok(group_view(id, &shown.unwrap_or_default()))
    }

    /// After user `key` left a scope group: deprovisions it when it is in no Jira group a
    /// scope group maps to anymore (Jira holds the memberships, so it is asked).
    pub(crate) async fn deprovision_if_out_of_scope(&self, key: &str) -> Result<(), ScimError> {
        let Some(jira) = self.dir.user_by_id(key, true).await? else {
            return Ok(());
        };
        let still_in = self.policy.in_scope_groups(&jira.groups);
        if still_in {
            return Ok(());
        }
        let stored = self.stored(key).await?;
        let view = user_view(&jira, &stored);
        self.deprovision(key, &jira, stored, view).await.map(drop)
    }

    /// Re-creating user `jira_name` that a SCIM `DELETE` deactivated and hid: the same Jira
    /// account comes back, active, with the new attributes. `None` when that name belongs to
    /// a user SCIM can see (a genuine conflict).
    async fn revive(
        &self,
        jira_name: &str,
        user: &User,
        groups: Option<Vec<String>>,
    ) -> Result<Option<User>, ScimError> {
        let Some(existing) = self.dir.user_by_name(jira_name, true).await? else {
            return Ok(None);
        };
        let stored = self.stored(&existing.id).await?;
        if !stored.deprovisioned && stored.anonymized.is_none() {
            return Ok(None);
        }
        let mut again = user.clone();
        again.active = Some(user.active.unwrap_or(true));
        let key = existing.id.clone();
        let view = self.view(&existing, &stored);
        let stored = Stored {
            created: Some(now()),
            ..stored
        };
        // New-user default groups apply: the account comes back as a new SCIM user.
        let revived = self
            .write_user(
                &key,
                &again,
                existing,
                stored,
                view,
                groups.as_deref(),
                Write::Revive,
            )
            .await?;
        Ok(Some(revived))
    }
}
