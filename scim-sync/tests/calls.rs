//! How many calls a sync makes: a converged target gets reads only, drift gets only its writes.
// `unsafe_code`: the counting global allocator below, which only forwards to `System`.
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their peak, for the memory figure of a plan.
struct Peak;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// Runs `f`, returning its result and the most heap it held above what was live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

use common::Counting;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_sync::{FileSource, Reconciler, SyncOptions};
use serde_json::json;

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
    // Pages of 200, as SCIM sources serve them.
    FileSource::from_json_str(&json!({"users": list, "groups": groups}).to_string())
        .unwrap()
        .with_page_size(200)
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
    let (plan, peak) = peak_of(|| block_on(reconciler.plan(&source, &target, &ctx)).unwrap());
    let elapsed = start.elapsed();
    assert!(plan.is_empty(), "{plan}");
    let (reads, writes) = target.take();
    let pages = users.div_ceil(200) + groups.div_ceil(200) + 2;
    assert!(reads <= pages, "{reads} reads for {pages} pages");
    assert_eq!(writes, 0);
    let (directory, _) = peak_of(|| {
        (
            block_on(target.inner.scan_users(&ctx, 0, usize::MAX)).unwrap(),
            block_on(target.inner.scan_groups(&ctx, 0, usize::MAX)).unwrap(),
        )
    });
    let (_, one_copy) = peak_of(|| directory.clone());
    // Planning holds the target's copy (read whole, in a growing Vec: up to twice its size
    // while it grows), a page of the source and an index of its users, never the source
    // whole: measured at 2.1 copies of the directory at 1,000 users, 1.7 at 10,000.
    assert!(
        peak < 3 * one_copy,
        "plan peak {peak} B, one copy {one_copy} B"
    );
    eprintln!(
        "{users} users, {groups} groups, no change: plan in {elapsed:?}, {reads} reads, \
         heap peak {} KiB (one copy of the directory: {} KiB)",
        peak / 1024,
        one_copy / 1024
    );

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

/// The figure for BENCHMARKS.md: `cargo test --release -p scimrs-sync --test calls -- --ignored
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
