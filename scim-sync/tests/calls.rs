//! How many calls a sync makes: a converged target gets reads only, drift gets only its writes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{Group, Member, PatchOp, ScimError, User};
use scim_sync::{FileSource, Reconciler, SyncOptions};
use serde_json::json;

/// Counts the calls made to an `InMemoryProvisioner`.
#[derive(Default)]
struct Counting {
    inner: InMemoryProvisioner,
    reads: AtomicUsize,
    writes: AtomicUsize,
    /// Creating the user of this name fails (an outage in the middle of a run).
    fail_create: std::sync::Mutex<Option<String>>,
}

impl Counting {
    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
    fn take(&self) -> (usize, usize) {
        (
            self.reads.swap(0, Ordering::SeqCst),
            self.writes.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl Provisioner for Counting {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        self.write();
        if self.fail_create.lock().unwrap().as_deref() == Some(user.user_name.as_str()) {
            return Err(ScimError::invalid_value("userName", "the target is down"));
        }
        self.inner.create_user(ctx, user).await
    }
    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.read();
        self.inner.get_user(ctx, id).await
    }
    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.write();
        self.inner.replace_user(ctx, id, user, expected).await
    }
    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.write();
        self.inner.delete_user(ctx, id, expected).await
    }
    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        self.read();
        self.inner.scan_users(ctx, offset, limit).await
    }
    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        self.write();
        self.inner.create_group(ctx, group).await
    }
    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        self.read();
        self.inner.get_group(ctx, id).await
    }
    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.replace_group(ctx, id, group, expected).await
    }
    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        self.write();
        self.inner.delete_group(ctx, id, expected).await
    }
    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        self.read();
        self.inner.scan_groups(ctx, offset, limit).await
    }
    async fn patch_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        self.write();
        self.inner.patch_user(ctx, id, patch, expected).await
    }
    async fn patch_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        patch: &PatchOp,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.patch_group(ctx, id, patch, expected).await
    }
    async fn add_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        members: &[Member],
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.add_members(ctx, group_id, members).await
    }
    async fn remove_members(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        member_ids: &[String],
    ) -> Result<Group, ScimError> {
        self.write();
        self.inner.remove_members(ctx, group_id, member_ids).await
    }
}

/// `users` users in `groups` groups of `users / groups` members each.
fn export(users: usize, groups: usize, family: impl Fn(usize) -> String) -> FileSource {
    let list: Vec<_> = (0..users)
        .map(|i| {
            json!({
                "userName": format!("user{i}"),
                "externalId": format!("ext{i}"),
                "name": {"familyName": family(i)},
                "emails": [{"value": format!("user{i}@example.com"), "primary": true}],
            })
        })
        .collect();
    let groups: Vec<_> = (0..groups)
        .map(|g| {
            let members: Vec<_> = (0..users)
                .filter(|i| i % groups == g)
                .map(|i| json!({"value": format!("ext{i}")}))
                .collect();
            json!({"displayName": format!("group{g}"), "members": members})
        })
        .collect();
    FileSource::from_json_str(&json!({"users": list, "groups": groups}).to_string()).unwrap()
}

fn reconcile_calls(users: usize, groups: usize) {
    let target = Counting::default();
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new().with_options(SyncOptions::default().concurrency(8));
    let source = export(users, groups, |_| "Same".into());
    let plan = block_on(reconciler.plan(&source, &target, &ctx)).unwrap();
    block_on(plan.apply(&target, &ctx)).unwrap();
    let (_, writes) = target.take();
    assert_eq!(writes, users + groups, "one create per resource");

    // Converged: planning reads pages only, and the plan is empty.
    let start = std::time::Instant::now();
    let plan = block_on(reconciler.plan(&source, &target, &ctx)).unwrap();
    let elapsed = start.elapsed();
    assert!(plan.is_empty(), "{plan}");
    let (reads, writes) = target.take();
    let pages = users.div_ceil(200) + groups.div_ceil(200) + 2;
    assert!(reads <= pages, "{reads} reads for {pages} pages");
    assert_eq!(writes, 0);
    eprintln!("{users} users, {groups} groups, no change: plan in {elapsed:?}, {reads} reads");

    // 1% drift at the source: only the drifted users are written.
    let drifted = export(users, groups, |i| {
        if i % 100 == 0 {
            "New".into()
        } else {
            "Same".into()
        }
    });
    let start = std::time::Instant::now();
    let plan = block_on(reconciler.plan(&drifted, &target, &ctx)).unwrap();
    let report = block_on(plan.apply(&target, &ctx)).unwrap();
    let elapsed = start.elapsed();
    let (_, writes) = target.take();
    assert_eq!(report.done, users / 100);
    assert_eq!(writes, users / 100);
    eprintln!("{users} users, 1% drift: plan and apply in {elapsed:?}, {writes} writes");
}

#[test]
fn converged_target_gets_reads_only_and_drift_only_its_writes() {
    reconcile_calls(1_000, 50);
}

/// The figure for BENCHMARKS.md: `cargo test --release -p scim-sync --test calls -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement; run in release"]
fn ten_thousand_users() {
    reconcile_calls(10_000, 500);
}

#[test]
fn a_failed_step_is_reported_and_the_next_run_finishes_the_job() {
    let target = Counting::default();
    *target.fail_create.lock().unwrap() = Some("user7".into());
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new();
    let source = export(20, 2, |_| "Same".into());
    let plan = block_on(reconciler.plan(&source, &target, &ctx)).unwrap();
    let report = block_on(plan.apply(&target, &ctx)).unwrap();
    // user7's create failed, and so did the create of its group, which names it as a member.
    assert_eq!((report.done, report.failed), (20, 2), "{report}");
    let text = report.to_string();
    assert!(text.contains("+ create user user7: "), "{text}");
    assert!(text.contains("user user7 was not created"), "{text}");

    *target.fail_create.lock().unwrap() = None;
    let rest = block_on(reconciler.plan(&source, &target, &ctx)).unwrap();
    assert_eq!(rest.summary().create_users, 1, "{rest}");
    assert_eq!(rest.summary().create_groups, 1, "{rest}");
    let report = block_on(rest.apply(&target, &ctx)).unwrap();
    assert_eq!(report.failed, 0, "{report}");
    assert!(
        block_on(reconciler.plan(&source, &target, &ctx))
            .unwrap()
            .is_empty()
    );
    assert_eq!(target.inner.user_count("acme"), 20, "nothing duplicated");
}
