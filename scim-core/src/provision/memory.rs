//! [`InMemoryProvisioner`]: the reference backend.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Provisioner;
use super::collect::PageCollector;
use super::context::RequestContext;
use super::fetched::FetchedUser;
use super::query::{ListQuery, Page};
use crate::error::ScimError;
use crate::etag::ETag;
use crate::patch::PatchOp;
use crate::resource::{Group, Member, Meta, MultiValue, Resource, User};
use crate::schema::SchemaRegistry;

/// A complete [`Provisioner`] kept in memory, one directory per tenant.
///
/// It is the model the conformance suite is written against: every filter (evaluated with the
/// built-in schemas), `userName` unique per tenant ignoring case (409 `uniqueness`), `groups` on
/// users computed from group memberships, a version counter per resource (`meta.version` is
/// `W/"<n>"`), and every write checked and applied under one lock, so concurrent requests never
/// lose an update and a stale `expected` version always gets 412.
///
/// Ids look like UUIDs and sort in creation order, which is also the scan order.
///
/// Each resource is kept as served (`id`, `meta` and `groups` filled in), shared behind an
/// [`Arc`] so that [`Provisioner::get_user_shared`] copies nothing, and as JSON, so that searches
/// evaluate filters and sort without serialising every resource. Both are rebuilt on every write
/// that changes what is served, memberships included.
#[derive(Debug)]
pub struct InMemoryProvisioner {
    state: RwLock<HashMap<String, Directory>>,
    ids: IdSource,
}

impl Default for InMemoryProvisioner {
    fn default() -> Self {
        InMemoryProvisioner::new()
    }
}

impl InMemoryProvisioner {
    /// An empty store.
    pub fn new() -> Self {
        InMemoryProvisioner {
            state: RwLock::new(HashMap::new()),
            ids: IdSource::new(),
        }
    }

    /// How many users `tenant` has.
    pub fn user_count(&self, tenant: &str) -> usize {
        self.read().get(tenant).map_or(0, |d| d.users.len())
    }

    /// How many groups `tenant` has.
    pub fn group_count(&self, tenant: &str) -> usize {
        self.read().get(tenant).map_or(0, |d| d.groups.len())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Directory>> {
        // A panic while holding the lock cannot leave a half-applied write: every write is
        // checked first and then applied with operations that do not panic.
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads share the lock: concurrent `GET`s and searches do not wait for one another.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Directory>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// `f` on `ctx`'s tenant's directory, for reading (an empty one if the tenant has none).
    fn read_dir<R>(&self, ctx: &RequestContext, f: impl FnOnce(&Directory) -> R) -> R {
        let state = self.read();
        match state.get(ctx.tenant()) {
            Some(dir) => f(dir),
            None => f(&Directory::default()),
        }
    }

    fn with_dir<R>(&self, ctx: &RequestContext, f: impl FnOnce(&mut Directory) -> R) -> R {
        let mut state = self.write();
        // The tenant's key is allocated once, on its first request.
        if !state.contains_key(ctx.tenant()) {
            state.insert(ctx.tenant().to_owned(), Directory::default());
        }
        match state.get_mut(ctx.tenant()) {
            Some(dir) => f(dir),
            None => f(&mut Directory::default()),
        }
    }
}

#[derive(Debug, Default)]
struct Directory {
    users: BTreeMap<String, Entry<User>>,
    groups: BTreeMap<String, Entry<Group>>,
    /// Lower-cased `userName` -> id.
    user_names: HashMap<String, String>,
    /// Member id -> the groups it is a direct member of.
    member_of: HashMap<String, BTreeSet<String>>,
}

#[derive(Debug)]
struct Entry<T> {
    /// The resource as served: `id`, `meta` and (for users) `groups` filled in.
    view: Arc<T>,
    version: u64,
    created: String,
    last_modified: String,
    /// The resource as served (`serde_json::to_value` of its view), kept for searches.
    /// `Value::Null` when serialising failed; searches then serialise the view afresh.
    json: Value,
}

impl<T> Entry<T> {
    fn etag(&self) -> ETag {
        ETag::from_version(self.version)
    }

    fn meta(&self, resource_type: &str) -> Meta {
        Meta::stamped(
            resource_type,
            self.version,
            &self.created,
            &self.last_modified,
        )
    }
}

impl<T: Serialize> Entry<T> {
    /// An entry serving `view` (complete: `id` and `meta` already set) at `version`.
    fn new(view: T, version: u64, created: String, last_modified: String) -> Self {
        Entry {
            json: json_of(&view),
            view: Arc::new(view),
            version,
            created,
            last_modified,
        }
    }

    /// Makes `view` (complete, its `meta` matching this entry's stamp) what this entry serves,
    /// and caches its JSON.
    fn seal(&mut self, view: T) {
        self.json = json_of(&view);
        self.view = Arc::new(view);
    }
}

/// `value` as JSON, or `Value::Null` (see [`Entry::json`]) if it cannot be serialised.
fn json_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The ids of the members whose `groups` change when a group's members go from `old` to `new`:
/// those added or removed, or all of them when the group's `displayName` (shown in `groups`)
/// changed.
fn affected_members(old: &[Member], new: &[Member], renamed: bool) -> BTreeSet<String> {
    let ids = |members: &[Member]| -> BTreeSet<String> {
        members.iter().filter_map(|m| m.value.clone()).collect()
    };
    let (old, new) = (ids(old), ids(new));
    if renamed {
        old.union(&new).cloned().collect()
    } else {
        old.symmetric_difference(&new).cloned().collect()
    }
}

fn now() -> String {
    DateTime::<Utc>::from(SystemTime::now()).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn check_version<T>(
    entry: &Entry<T>,
    expected: Option<&ETag>,
    what: &str,
    id: &str,
) -> Result<(), ScimError> {
    match expected {
        Some(want) if !entry.etag().weak_eq(want) => Err(ScimError::precondition_failed(
            format_args!("{what} {id} is at version {}, not {want}", entry.etag()),
        )),
        _ => Ok(()),
    }
}

/// A PATCH's precondition, worded as the default `patch_*` words it.
fn check_if_match<T>(entry: &Entry<T>, expected: Option<&ETag>) -> Result<(), ScimError> {
    match expected {
        Some(want) if !entry.etag().weak_eq(want) => {
            Err(ScimError::precondition_failed(format_args!(
                "If-Match {want} does not match the current version {}",
                entry.etag()
            )))
        }
        _ => Ok(()),
    }
}

/// UUID-shaped ids: a creation counter (so they sort in creation order) and per-store random bits.
#[derive(Debug)]
struct IdSource {
    next: AtomicU64,
    salt: RandomState,
}

impl IdSource {
    fn new() -> Self {
        IdSource {
            next: AtomicU64::new(1),
            salt: RandomState::new(),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let r = self.salt.hash_one(n);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            n >> 16,
            n & 0xffff,
            (r >> 52) & 0xfff,
            (r >> 40) & 0xfff,
            r & 0xffff_ffff_ffff
        )
    }
}

impl Directory {
    /// A new user entry for `user` (already stripped) at `version`: `id`, `meta` and `groups`
    /// (from the memberships) set.
    fn user_entry(
        &self,
        id: &str,
        mut user: User,
        version: u64,
        created: String,
        last_modified: String,
    ) -> Entry<User> {
        user.id = Some(id.to_owned());
        user.meta = Some(Meta::stamped("User", version, &created, &last_modified));
        user.groups = self.groups_of(id);
        Entry::new(user, version, created, last_modified)
    }

    /// The `groups` user `id` is served with, from the memberships.
    fn groups_of(&self, id: &str) -> Vec<MultiValue> {
        self.member_of
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|gid| {
                self.groups.get(gid).map(|g| MultiValue {
                    value: Some(gid.clone()),
                    display: Some(g.view.display_name.clone()),
                    kind: Some("direct".to_owned()),
                    ..MultiValue::default()
                })
            })
            .collect()
    }

    /// Rebuilds the views of the users among `ids` (ids of groups are skipped), after their
    /// group memberships changed.
    fn refresh_users<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) {
        for id in ids {
            let groups = self.groups_of(id);
            if let Some(entry) = self.users.get_mut(id) {
                let mut view = (*entry.view).clone();
                view.groups = groups;
                entry.seal(view);
            }
        }
    }

    /// Replaces the existing user `id` (its version already checked) with `user`.
    fn replace_user(&mut self, id: &str, mut user: User) -> Result<User, ScimError> {
        let entry = self.user(id)?;
        let key = self.check_user_name(&user, Some(id))?;
        let old_key = entry.view.user_name.trim().to_lowercase();
        // A PUT without a password keeps the current one: clients never read it back, so
        // they cannot send it again.
        if user.password.is_none() {
            user.password.clone_from(&entry.view.password);
        }
        let updated = self.user_entry(
            id,
            strip_user(user, id),
            entry.version + 1,
            entry.created.clone(),
            now(),
        );
        let view = (*updated.view).clone();
        self.user_names.remove(&old_key);
        self.user_names.insert(key, id.to_owned());
        self.users.insert(id.to_owned(), updated);
        Ok(view)
    }

    /// Replaces the existing group `id` (its version already checked) with `group`.
    fn replace_group(&mut self, id: &str, group: Group) -> Result<Group, ScimError> {
        let entry = self.group(id)?;
        let members = self.checked_members(&group, Some(id))?;
        let renamed = entry.view.display_name != group.display_name;
        let updated = group_entry(
            id,
            strip_group(group, id, members),
            entry.version + 1,
            entry.created.clone(),
            now(),
        );
        let view = (*updated.view).clone();
        let old = self.groups.insert(id.to_owned(), updated);
        let old_members = old
            .map(|e| Arc::unwrap_or_clone(e.view).members)
            .unwrap_or_default();
        let new_members = &view.members;
        self.index_members(id, &old_members, new_members);
        self.refresh_users(&affected_members(&old_members, new_members, renamed));
        Ok(view)
    }

    fn user(&self, id: &str) -> Result<&Entry<User>, ScimError> {
        self.users
            .get(id)
            .ok_or_else(|| ScimError::not_found("User", id))
    }

    fn group(&self, id: &str) -> Result<&Entry<Group>, ScimError> {
        self.groups
            .get(id)
            .ok_or_else(|| ScimError::not_found("Group", id))
    }

    fn check_user_name(&self, user: &User, own_id: Option<&str>) -> Result<String, ScimError> {
        let name = user.user_name.trim();
        if name.is_empty() {
            return Err(ScimError::invalid_value(
                "userName",
                "is required and must not be empty",
            ));
        }
        let key = name.to_lowercase();
        match self.user_names.get(&key) {
            Some(holder) if Some(holder.as_str()) != own_id => {
                Err(ScimError::uniqueness("userName", name))
            }
            _ => Ok(key),
        }
    }

    /// Members with their `type` filled in; every member must exist in this directory.
    fn checked_members(
        &self,
        group: &Group,
        own_id: Option<&str>,
    ) -> Result<Vec<Member>, ScimError> {
        if group.display_name.trim().is_empty() {
            return Err(ScimError::invalid_value(
                "displayName",
                "is required and must not be empty",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut members = Vec::with_capacity(group.members.len());
        for (i, m) in group.members.iter().enumerate() {
            let Some(value) = m.value.as_deref().filter(|v| !v.is_empty()) else {
                return Err(ScimError::invalid_value(
                    format!("members[{i}].value"),
                    "is required",
                ));
            };
            let kind = if self.users.contains_key(value) {
                "User"
            } else if self.groups.contains_key(value) {
                if Some(value) == own_id {
                    return Err(ScimError::invalid_value(
                        "members",
                        format_args!("group {value} cannot be a member of itself"),
                    ));
                }
                "Group"
            } else {
                return Err(ScimError::invalid_value(
                    "members",
                    format_args!("no user or group has the id {value:?}"),
                ));
            };
            if !seen.insert(value.to_owned()) {
                continue;
            }
            let mut member = m.clone();
            member.kind = Some(kind.to_owned());
            members.push(member);
        }
        Ok(members)
    }

    fn index_members(&mut self, group_id: &str, old: &[Member], new: &[Member]) {
        for m in old {
            if let Some(set) = m.value.as_deref().and_then(|v| self.member_of.get_mut(v)) {
                set.remove(group_id);
            }
        }
        for m in new {
            if let Some(v) = m.value.as_deref() {
                self.member_of
                    .entry(v.to_owned())
                    .or_default()
                    .insert(group_id.to_owned());
            }
        }
        self.member_of.retain(|_, set| !set.is_empty());
    }

    /// Removes `member_id` from every group holding it, bumping those groups' versions.
    fn drop_member_everywhere(&mut self, member_id: &str, stamp: &str) {
        let Some(groups) = self.member_of.remove(member_id) else {
            return;
        };
        for gid in groups {
            if let Some(entry) = self.groups.get_mut(&gid) {
                let mut group = (*entry.view).clone();
                group
                    .members
                    .retain(|m| m.value.as_deref() != Some(member_id));
                entry.version += 1;
                stamp.clone_into(&mut entry.last_modified);
                group.meta = Some(entry.meta("Group"));
                entry.seal(group);
            }
        }
    }
}

/// Clears what the service provider owns before a resource is stored.
fn strip_user(mut user: User, id: &str) -> User {
    user.id = Some(id.to_owned());
    user.meta = None;
    user.groups = Vec::new();
    user
}

fn strip_group(mut group: Group, id: &str, members: Vec<Member>) -> Group {
    group.id = Some(id.to_owned());
    group.meta = None;
    group.members = members;
    group
}

/// A new group entry for `group` (already stripped) at `version`, `id` and `meta` set.
fn group_entry(
    id: &str,
    mut group: Group,
    version: u64,
    created: String,
    last_modified: String,
) -> Entry<Group> {
    group.id = Some(id.to_owned());
    group.meta = Some(Meta::stamped("Group", version, &created, &last_modified));
    Entry::new(group, version, created, last_modified)
}

#[async_trait]
impl Provisioner for InMemoryProvisioner {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        let id = self.ids.next();
        self.with_dir(ctx, |dir| {
            let key = dir.check_user_name(&user, None)?;
            let stamp = now();
            let entry = dir.user_entry(&id, strip_user(user, &id), 1, stamp.clone(), stamp);
            let view = (*entry.view).clone();
            dir.user_names.insert(key, id.clone());
            dir.users.insert(id, entry);
            Ok(view)
        })
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.read_dir(ctx, |dir| Ok((*dir.user(id)?.view).clone()))
    }

    async fn get_user_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<User>, ScimError> {
        self.read_dir(ctx, |dir| Ok(Arc::clone(&dir.user(id)?.view)))
    }

    /// The shared user, read here rather than through `get_user_shared` (one boxed future
    /// less on every `GET`).
    async fn fetch_user(&self, ctx: &RequestContext, id: &str) -> Result<FetchedUser, ScimError> {
        self.read_dir(ctx, |dir| {
            Ok(FetchedUser::Shared(Arc::clone(&dir.user(id)?.view)))
        })
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.with_dir(ctx, |dir| {
            check_version(dir.user(id)?, expected, "User", id)?;
            dir.replace_user(id, user)
        })
    }

    /// The default's read, apply, write back, done under one lock (so no other writer comes in
    /// between and no retry is needed), starting from the cached JSON: the same resource the
    /// default builds by serialising the user it reads.
    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.with_dir(ctx, |dir| {
            let entry = dir.user(id)?;
            check_if_match(entry, expected)?;
            let mut resource = if entry.json.is_object() {
                let mut json = entry.json.clone();
                // As `Resource::from(User)` does: the password is never serialised but a PATCH
                // may still see (and replace) it.
                if let (Some(p), Value::Object(m)) = (&entry.view.password, &mut json) {
                    m.insert("password".to_owned(), Value::String(p.expose().to_owned()));
                }
                Resource::from_value(json)
            } else {
                Resource::from((*entry.view).clone())
            };
            crate::patch::apply(&mut resource, patch, SchemaRegistry::builtin())?;
            let updated = User::try_from(resource)?;
            dir.replace_user(id, updated)
        })
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.with_dir(ctx, |dir| {
            let entry = dir.user(id)?;
            check_version(entry, expected, "User", id)?;
            let key = entry.view.user_name.trim().to_lowercase();
            dir.users.remove(id);
            dir.user_names.remove(&key);
            dir.drop_member_everywhere(id, &now());
            Ok(())
        })
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.read_dir(ctx, |dir| {
            Ok(dir
                .users
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(_, e)| (*e.view).clone())
                .collect())
        })
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        let id = self.ids.next();
        self.with_dir(ctx, |dir| {
            let members = dir.checked_members(&group, None)?;
            let stamp = now();
            let entry = group_entry(
                &id,
                strip_group(group, &id, members),
                1,
                stamp.clone(),
                stamp,
            );
            dir.index_members(&id, &[], &entry.view.members);
            let view = (*entry.view).clone();
            let affected = affected_members(&[], &entry.view.members, false);
            dir.groups.insert(id, entry);
            // After the insert: the users' `groups` name this group.
            dir.refresh_users(&affected);
            Ok(view)
        })
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.read_dir(ctx, |dir| Ok((*dir.group(id)?.view).clone()))
    }

    async fn get_group_shared(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Arc<Group>, ScimError> {
        self.read_dir(ctx, |dir| Ok(Arc::clone(&dir.group(id)?.view)))
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.with_dir(ctx, |dir| {
            check_version(dir.group(id)?, expected, "Group", id)?;
            dir.replace_group(id, group)
        })
    }

    /// As [`InMemoryProvisioner::patch_user`] does for users: under one lock, from the cached
    /// JSON. `add_members` and `remove_members` go through here.
    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.with_dir(ctx, |dir| {
            let entry = dir.group(id)?;
            check_if_match(entry, expected)?;
            let mut resource = if entry.json.is_object() {
                Resource::from_value(entry.json.clone())
            } else {
                Resource::from((*entry.view).clone())
            };
            crate::patch::apply(&mut resource, patch, SchemaRegistry::builtin())?;
            let updated = Group::try_from(resource)?;
            dir.replace_group(id, updated)
        })
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.with_dir(ctx, |dir| {
            let entry = dir.group(id)?;
            check_version(entry, expected, "Group", id)?;
            let members = entry.view.members.clone();
            dir.index_members(id, &members, &[]);
            dir.groups.remove(id);
            dir.drop_member_everywhere(id, &now());
            dir.refresh_users(&affected_members(&members, &[], false));
            Ok(())
        })
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.read_dir(ctx, |dir| {
            Ok(dir
                .groups
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(_, e)| (*e.view).clone())
                .collect())
        })
    }

    /// Pushes `userName eq "..."` down to the name index (the lookup every identity provider
    /// makes before a create); everything else is the default search's filter, sort and page
    /// evaluated on each user's cached JSON (see [`InMemoryProvisioner`]), with the same results.
    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        if let Some(name) = query.filter.as_ref().and_then(user_name_lookup) {
            return self.read_dir(ctx, |dir| {
                let hit = dir
                    .user_names
                    .get(&name.trim().to_lowercase())
                    .and_then(|id| dir.users.get(id).map(|e| (*e.view).clone()));
                let total = u64::from(hit.is_some());
                let (offset, count) = query.window();
                Ok(Page {
                    resources: hit.into_iter().skip(offset).take(count).collect(),
                    total_results: total,
                    start_index: query.start_index,
                })
            });
        }
        self.read_dir(ctx, |dir| {
            search_cached(&dir.users, query, crate::urn::USER)
        })
    }

    /// Evaluates the filter on each group's cached JSON; see [`InMemoryProvisioner`].
    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        self.read_dir(ctx, |dir| {
            search_cached(&dir.groups, query, crate::urn::GROUP)
        })
    }
}

/// The default search (`super::defaults::search`: filter, sort, page, with the built-in schemas)
/// over the entries' cached JSON, viewing only the resources of the page.
fn search_cached<T: Serialize + Clone>(
    entries: &BTreeMap<String, Entry<T>>,
    query: &ListQuery,
    core_urn: &str,
) -> Result<Page<T>, ScimError> {
    let schema = SchemaRegistry::builtin().resource(core_urn);
    let mut page = PageCollector::new(query, schema);
    for entry in entries.values() {
        let json = if entry.json.is_null() {
            Cow::Owned(serde_json::to_value(&*entry.view)?)
        } else {
            Cow::Borrowed(&entry.json)
        };
        page.offer(json, entry);
    }
    Ok(page.finish().map(|e| (*e.view).clone()))
}

/// The name in `userName eq "<name>"` (without a schema prefix other than the core User's).
fn user_name_lookup(filter: &scim_filter::Filter) -> Option<&str> {
    let scim_filter::Filter::Compare(path, scim_filter::CompareOp::Eq, value) = filter else {
        return None;
    };
    let scim_filter::CompValue::String(name) = value else {
        return None;
    };
    let core_or_none = path
        .schema()
        .is_none_or(|s| s.eq_ignore_ascii_case(crate::urn::USER));
    (core_or_none && path.name().eq_ignore_ascii_case("userName") && path.sub_attr().is_none())
        .then(|| name.as_str())
}
