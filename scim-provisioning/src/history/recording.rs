//! [`RecordingProvisioner`]: one sync history entry per SCIM operation, with the product calls
//! it made ([`HistoryObserver`]).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::patch::PatchOp;
use scim_core::provision::{Capabilities, ListQuery, Page, Provisioner, RequestContext};
use scim_core::{Group, Member, ScimError, User};

use super::{HistoryEntry, HistoryError, Operation, Outcome, ProductCall, SyncHistory};
use crate::observe::{CallObserver, CallRecord};

/// The calls of the operation being polled on this thread, if a [`RecordingProvisioner`] is
/// polling one.
///
/// Why a thread-local: a [`CallObserver`] is installed once per client and shared by every
/// request, and a [`CallRecord`] does not say which request it belongs to. The product client
/// calls its observer inline, on the task (and so inside the `poll`) of the operation that made
/// the call; a [`RecordingProvisioner`] marks this thread as serving its operation for the
/// duration of each `poll`, the way `tracing` attributes events to spans. This needs no async
/// runtime, and concurrent operations on a multi-threaded executor never see each other's
/// calls. Calls made on another task (spawned by the provisioner) are not attributed.
type Current = RefCell<Option<Arc<Collected>>>;

thread_local! {
    static CURRENT: Current = const { RefCell::new(None) };
}

/// What one recorded operation collects: the product calls observed, the writes an HTTP
/// client wrapper such as `scim_atlassian::dry_run::DryRunClient` held back, and the actions
/// the provisioner said the product took ([`note_action`]).
#[derive(Default)]
struct Collected(Mutex<Gathered>);

/// [`Collected`]'s content.
#[derive(Default)]
struct Gathered {
    calls: Vec<ProductCall>,
    held_back: Vec<String>,
    actions: Vec<String>,
}

impl Collected {
    fn lock(&self) -> std::sync::MutexGuard<'_, Gathered> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, call: ProductCall) {
        self.lock().calls.push(call);
    }

    fn take(&self) -> Gathered {
        std::mem::take(&mut *self.lock())
    }
}

/// The collection of the operation being polled on this thread, if any.
fn current() -> Option<Arc<Collected>> {
    CURRENT.with(|current| current.try_borrow().ok().and_then(|c| c.clone()))
}

/// Tells the recorded operation being polled on this thread (if any) that a dry run held
/// `call` back: for HTTP client wrappers that hold writes back (such as
/// `scim_atlassian::dry_run::DryRunClient`), so the operation's history entry lists what it would
/// have written.
pub fn note_held_back(call: &dyn std::fmt::Display) {
    if let Some(collected) = current() {
        collected.lock().held_back.push(call.to_string());
    }
}

/// Tells the recorded operation being polled on this thread (if any) what the product really
/// did, in a few words naming the user or group (`deactivated user JIRAUSER10000`,
/// `removed user JIRAUSER10000 from 2 group(s)`). The entry's `changes` then says these
/// instead of the SCIM verb: a SCIM `DELETE` under the `deactivate` policy is recorded as the
/// deactivation it was. Provisioners call it; outside a recorded operation it does nothing.
pub fn note_action(action: impl Into<String>) {
    if let Some(collected) = current() {
        collected.lock().actions.push(action.into());
    }
}

/// A [`CallObserver`] that adds each product call to the history entry of the
/// [`RecordingProvisioner`] operation that made it. Install it in the product client's builder
/// (for Atlassian, `scim_atlassian::JiraBuilder::observer`); calls made outside a recorded
/// operation are only passed on.
///
/// ```
/// use std::sync::Arc;
/// use scim_core::provision::InMemoryProvisioner;
/// use scim_provisioning::CallCounter;
/// use scim_provisioning::history::{HistoryObserver, InMemoryHistory, RecordingProvisioner};
///
/// let counter = Arc::new(CallCounter::new());
/// // Hand `observer` to the product client's builder; it feeds the entries `recorded` writes.
/// let observer = Arc::new(HistoryObserver::new().then(counter));
/// let recorded = RecordingProvisioner::new(InMemoryProvisioner::new(), Arc::new(InMemoryHistory::new()));
/// # let _ = (observer, recorded);
/// ```
#[derive(Clone, Default)]
pub struct HistoryObserver {
    next: Option<Arc<dyn CallObserver>>,
}

impl std::fmt::Debug for HistoryObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryObserver")
            .field("next", &self.next.is_some())
            .finish()
    }
}

impl HistoryObserver {
    /// An observer feeding history entries only.
    pub fn new() -> Self {
        HistoryObserver::default()
    }

    /// Also tells `next` of every call (a counter, a tracing observer), since a client has
    /// room for one observer.
    #[must_use]
    pub fn then(mut self, next: Arc<dyn CallObserver>) -> Self {
        self.next = Some(next);
        self
    }
}

impl CallObserver for HistoryObserver {
    fn on_call(&self, record: &CallRecord) {
        if let Some(collected) = current() {
            collected.push(ProductCall::from(record));
        }
        if let Some(next) = &self.next {
            next.on_call(record);
        }
    }
}

/// Marks this thread as serving `calls` until dropped, then restores what was there (so
/// nested recorders each get their own calls).
struct Enter {
    previous: Option<Arc<Collected>>,
}

impl Enter {
    fn new(calls: Arc<Collected>) -> Self {
        Enter {
            previous: CURRENT.with(|current| current.replace(Some(calls))),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| current.replace(previous));
    }
}

/// `inner`, with this thread marked as serving `calls` during each poll.
struct Scoped<F> {
    // Boxed so `Scoped` is `Unpin` and needs no pin projection (and no `unsafe`).
    inner: Pin<Box<F>>,
    calls: Arc<Collected>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _serving = Enter::new(Arc::clone(&this.calls));
        this.inner.as_mut().poll(cx)
    }
}

/// Runs `work` and returns its output with the product calls a [`HistoryObserver`] saw while
/// it ran (each retry its own call), for recorders other than [`RecordingProvisioner`]: a sync
/// run records the calls of the whole run in its history entry, as a push operation does.
pub async fn collect_calls<F: Future>(work: F) -> (F::Output, Vec<ProductCall>) {
    let collected = Arc::new(Collected::default());
    let output = Scoped {
        inner: Box::pin(work),
        calls: Arc::clone(&collected),
    }
    .await;
    (output, collected.take().calls)
}

/// Called when an entry cannot be recorded.
type ErrorSink = Arc<dyn Fn(&HistoryError) + Send + Sync>;

/// A [`Provisioner`] that delegates every operation to `inner` and records one
/// [`HistoryEntry`] per operation in a [`SyncHistory`].
///
/// - Writes (create, replace, PATCH, delete, member changes) are always recorded; reads (get,
///   search, scan) only with [`record_reads`](Self::record_reads), since identity providers
///   read before nearly every write and the history is about changes.
/// - Entries carry the product calls when a [`HistoryObserver`] is installed in `inner`'s
///   client; otherwise `calls` is empty and the entry holds the SCIM operation and outcome.
/// - `changes` summarises the result: what was created or changed, `no change` when the
///   calls were observed and none wrote anything, and on failure whether some writes were
///   accepted before it (a partially applied operation, which the next sync converges) or
///   nothing was written.
/// - A failure to record never fails the SCIM operation (it already happened in the
///   product); it goes to [`on_record_error`](Self::on_record_error).
pub struct RecordingProvisioner<P> {
    inner: P,
    history: Arc<dyn SyncHistory>,
    record_reads: bool,
    on_error: Option<ErrorSink>,
}

impl<P> std::fmt::Debug for RecordingProvisioner<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProvisioner")
            .field("record_reads", &self.record_reads)
            .finish_non_exhaustive()
    }
}

/// Whether an operation only reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl<P: Provisioner> RecordingProvisioner<P> {
    /// Records `inner`'s operations in `history`.
    pub fn new(inner: P, history: Arc<dyn SyncHistory>) -> Self {
        RecordingProvisioner {
            inner,
            history,
            record_reads: false,
            on_error: None,
        }
    }

    /// Whether reads (get, search, scan) are recorded too (default: no).
    #[must_use]
    pub fn record_reads(mut self, record: bool) -> Self {
        self.record_reads = record;
        self
    }

    /// Called with the error when an entry cannot be recorded (to log it).
    #[must_use]
    pub fn on_record_error(mut self, sink: impl Fn(&HistoryError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(sink));
        self
    }

    /// The provisioner underneath.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Where entries go.
    pub fn history(&self) -> &Arc<dyn SyncHistory> {
        &self.history
    }

    /// Runs `work`, collecting its product calls, and records the entry. `describe` names
    /// what a success changed (and may complete the operation with what the result says).
    async fn run<T, F, D>(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        mut operation: Operation,
        work: F,
        describe: D,
    ) -> Result<T, ScimError>
    where
        F: Future<Output = Result<T, ScimError>> + Send,
        D: FnOnce(&T, &mut Operation) -> String + Send,
        T: Send,
    {
        if kind == Kind::Read && !self.record_reads {
            return work.await;
        }
        let collected = Arc::new(Collected::default());
        let result = Scoped {
            inner: Box::pin(work),
            calls: Arc::clone(&collected),
        }
        .await;
        let Gathered {
            mut calls,
            held_back,
            actions,
        } = collected.take();
        if !held_back.is_empty() {
            // Their answers were the dry run's, not the product's.
            for call in calls.iter_mut().filter(|c| !c.call.starts_with("GET ")) {
                call.held_back = true;
            }
        }
        let writes: Vec<&str> = calls
            .iter()
            .filter(|c| c.is_successful_write())
            .map(|c| c.call.as_str())
            .collect();
        let observed = !calls.is_empty();
        let (outcome, changes) = match &result {
            Ok(value) => {
                let described = describe(value, &mut operation);
                // What the product did, when the provisioner said, beats the SCIM verb.
                let summary = if actions.is_empty() {
                    described
                } else {
                    actions.join("; ")
                };
                if !held_back.is_empty() {
                    let changes = format!(
                        "dry run: would have {summary} with {} write(s), none sent",
                        held_back.len()
                    );
                    (
                        Outcome::DryRun {
                            would_write: held_back,
                        },
                        changes,
                    )
                } else if kind == Kind::Write && observed && writes.is_empty() {
                    (
                        Outcome::Success,
                        format!("no change ({summary}: nothing to write)"),
                    )
                } else {
                    (Outcome::Success, summary)
                }
            }
            Err(err) => {
                let changes = if !writes.is_empty() {
                    format!(
                        "partially applied: {} write(s) accepted before the failure ({})",
                        writes.len(),
                        writes.join(", ")
                    )
                } else if observed {
                    "nothing changed".to_owned()
                } else {
                    "failed".to_owned()
                };
                let changes = if actions.is_empty() {
                    changes
                } else {
                    format!("{}; {changes}", actions.join("; "))
                };
                (Outcome::from_error(err), changes)
            }
        };
        let entry = HistoryEntry::new(ctx.tenant(), ctx.request_id(), operation)
            .with_calls(calls)
            .with_outcome(outcome)
            .with_changes(changes);
        if let (Err(e), Some(sink)) = (self.history.record(entry).await, &self.on_error) {
            sink(&e);
        }
        result
    }
}

fn inactive(active: Option<bool>) -> &'static str {
    if active == Some(false) {
        " (inactive)"
    } else {
        ""
    }
}

/// The operations of a PATCH as `op attribute`, without values or value filters (which can
/// hold personal data).
fn patch_summary(patch: &PatchOp) -> String {
    let ops: Vec<String> = patch
        .operations
        .iter()
        .map(|o| match (&o.path, &o.value) {
            (Some(path), _) => format!("{} {}", o.op, path.attr().as_str()),
            (None, Some(serde_json::Value::Object(map))) => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                format!("{} {}", o.op, keys.join(" "))
            }
            (None, _) => o.op.to_string(),
        })
        .collect();
    ops.join(", ")
}

#[async_trait]
impl<P: Provisioner> Provisioner for RecordingProvisioner<P> {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        let op = Operation::new("POST", "User").name(user.user_name.clone());
        let work = self.inner.create_user(ctx, user);
        self.run(ctx, Kind::Write, op, work, |u: &User, op| {
            op.id.clone_from(&u.id);
            format!("created user {}{}", u.user_name, inactive(u.active))
        })
        .await
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        let op = Operation::new("GET", "User").id(id);
        let work = self.inner.get_user(ctx, id);
        self.run(ctx, Kind::Read, op, work, |u: &User, op| {
            op.name = Some(u.user_name.clone());
            "read user".to_owned()
        })
        .await
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let op = Operation::new("PUT", "User")
            .id(id)
            .name(user.user_name.clone());
        let work = self.inner.replace_user(ctx, id, user, expected);
        self.run(ctx, Kind::Write, op, work, |u: &User, _| {
            format!("replaced user {}{}", u.user_name, inactive(u.active))
        })
        .await
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let op = Operation::new("DELETE", "User").id(id);
        let work = self.inner.delete_user(ctx, id, expected);
        self.run(ctx, Kind::Write, op, work, |(), _| {
            format!("deleted user {id}")
        })
        .await
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        let op = Operation::new("GET", "User");
        let work = self.inner.scan_users(ctx, offset, limit);
        self.run(ctx, Kind::Read, op, work, |users: &Vec<User>, _| {
            format!("listed {} user(s)", users.len())
        })
        .await
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        let op = Operation::new("POST", "Group").name(group.display_name.clone());
        let work = self.inner.create_group(ctx, group);
        self.run(ctx, Kind::Write, op, work, |g: &Group, op| {
            op.id.clone_from(&g.id);
            format!(
                "created group {} with {} member(s)",
                g.display_name,
                g.members.len()
            )
        })
        .await
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        let op = Operation::new("GET", "Group").id(id);
        let work = self.inner.get_group(ctx, id);
        self.run(ctx, Kind::Read, op, work, |g: &Group, op| {
            op.name = Some(g.display_name.clone());
            "read group".to_owned()
        })
        .await
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        let op = Operation::new("PUT", "Group")
            .id(id)
            .name(group.display_name.clone());
        let work = self.inner.replace_group(ctx, id, group, expected);
        self.run(ctx, Kind::Write, op, work, |g: &Group, _| {
            format!(
                "replaced group {} ({} member(s))",
                g.display_name,
                g.members.len()
            )
        })
        .await
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let op = Operation::new("DELETE", "Group").id(id);
        let work = self.inner.delete_group(ctx, id, expected);
        self.run(ctx, Kind::Write, op, work, |(), _| {
            format!("deleted group {id}")
        })
        .await
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        let op = Operation::new("GET", "Group");
        let work = self.inner.scan_groups(ctx, offset, limit);
        self.run(ctx, Kind::Read, op, work, |groups: &Vec<Group>, _| {
            format!("listed {} group(s)", groups.len())
        })
        .await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        let op = Operation::new("GET", "User");
        let work = self.inner.search_users(ctx, query);
        self.run(ctx, Kind::Read, op, work, |page: &Page<User>, _| {
            format!("found {} user(s)", page.total_results)
        })
        .await
    }

    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        let op = Operation::new("GET", "Group");
        let work = self.inner.search_groups(ctx, query);
        self.run(ctx, Kind::Read, op, work, |page: &Page<Group>, _| {
            format!("found {} group(s)", page.total_results)
        })
        .await
    }

    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let op = Operation::new("PATCH", "User").id(id);
        let work = self.inner.patch_user(ctx, id, patch, expected);
        self.run(ctx, Kind::Write, op, work, |u: &User, op| {
            op.name = Some(u.user_name.clone());
            format!(
                "patched user {}: {}{}",
                u.user_name,
                patch_summary(patch),
                inactive(u.active)
            )
        })
        .await
    }

    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        let op = Operation::new("PATCH", "Group").id(id);
        let work = self.inner.patch_group(ctx, id, patch, expected);
        self.run(ctx, Kind::Write, op, work, |g: &Group, op| {
            op.name = Some(g.display_name.clone());
            format!(
                "patched group {}: {} ({} member(s))",
                g.display_name,
                patch_summary(patch),
                g.members.len()
            )
        })
        .await
    }

    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        let op = Operation::new("PATCH", "Group").id(group_id);
        let work = self.inner.add_members(ctx, group_id, members);
        self.run(ctx, Kind::Write, op, work, |g: &Group, op| {
            op.name = Some(g.display_name.clone());
            format!(
                "added {} member(s) to group {} ({} member(s))",
                members.len(),
                g.display_name,
                g.members.len()
            )
        })
        .await
    }

    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        let op = Operation::new("PATCH", "Group").id(group_id);
        let work = self.inner.remove_members(ctx, group_id, member_ids);
        self.run(ctx, Kind::Write, op, work, |g: &Group, op| {
            op.name = Some(g.display_name.clone());
            format!(
                "removed {} member(s) from group {} ({} member(s))",
                member_ids.len(),
                g.display_name,
                g.members.len()
            )
        })
        .await
    }
}
