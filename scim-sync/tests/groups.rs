//! Group deletes: held by their own safety rail, and made only of groups the sync can show
//! were the source's (recorded in its ledger), never of a product's built-in groups.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::Arc;

use common::Quiet;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{Group, Member, User};
use scim_sync::{
    FileGroupLedger, FileSource, GroupLedger, InMemoryGroupLedger, Plan, Reconciler, Runner, Step,
    SyncError, SyncOptions, is_built_in_group,
};
use serde_json::json;

const TENANT: &str = "acme";

fn ctx() -> RequestContext {
    RequestContext::new(TENANT)
}

/// A CSV export: `rows` of `userName,groups` (groups separated by `;`).
fn csv(rows: &[&str]) -> FileSource {
    FileSource::from_csv_str(&format!("userName,groups\n{}\n", rows.join("\n"))).unwrap()
}

/// Users u0..u9, each in every one of groups g0..g{groups-1}.
fn export(groups: usize) -> FileSource {
    let names: Vec<String> = (0..groups).map(|i| format!("g{i}")).collect();
    let rows: Vec<String> = (0..10)
        .map(|u| format!("u{u},{}", names.join(";")))
        .collect();
    csv(&rows.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A reconciler whose group rail lets anything through, for tests about which groups go.
fn unlimited() -> Reconciler {
    Reconciler::new().with_options(SyncOptions::default().max_delete_group_fraction(1.0))
}

fn plan(r: &Reconciler, source: &FileSource, target: &InMemoryProvisioner) -> Plan {
    block_on(r.plan(source, target, &ctx())).unwrap()
}

fn sync(r: &Reconciler, source: &FileSource, target: &InMemoryProvisioner) -> Plan {
    let plan = plan(r, source, target);
    let report = block_on(plan.apply(target, &ctx())).unwrap();
    assert_eq!(report.failed, 0, "{report}\n{plan}");
    plan
}

fn deleted(plan: &Plan) -> Vec<&str> {
    plan.steps()
        .iter()
        .filter_map(|s| match s {
            Step::DeleteGroup { display_name, .. } => Some(display_name.as_str()),
            _ => None,
        })
        .collect()
}

fn group_names(target: &InMemoryProvisioner) -> Vec<String> {
    common::group_names(target, TENANT)
}

/// Groups made at the target by hand (not by a sync), each with user `root` in it.
fn made_by_hand(target: &InMemoryProvisioner, groups: &[&str]) {
    let root = block_on(target.create_user(&ctx(), User::new("root")))
        .unwrap()
        .id
        .unwrap();
    for name in groups {
        let mut g = Group::new(*name);
        g.members = vec![Member::new(root.clone())];
        block_on(target.create_group(&ctx(), g)).unwrap();
    }
}

#[test]
fn deleting_more_groups_than_the_limit_is_refused_unless_forced() {
    let target = InMemoryProvisioner::new();
    let r = Reconciler::new();
    sync(&r, &export(40), &target);
    assert_eq!(target.group_count(TENANT), 40);

    // A source that lost most of its groups, its users intact (their rail does not trip).
    let broken = export(3);
    let wipe = plan(&r, &broken, &target);
    assert_eq!(wipe.summary().delete_groups, 37, "{wipe}");
    assert_eq!(wipe.summary().deactivate_users, 0, "{wipe}");
    assert_eq!(wipe.target_groups(), 40);
    let err = block_on(wipe.apply(&target, &ctx())).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::GroupSafetyLimit {
                affected: 37,
                target_groups: 40,
                allowed: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "refusing to apply: the plan would delete 37 of the target's 40 groups (g10, g11, g12, \
         g13, g14 and 32 more), more than the limit of 4 (10%); check the source, or force the plan"
    );
    assert_eq!(target.group_count(TENANT), 40, "nothing was written");

    // Four of forty are within 10%; a looser limit lets the wipe through.
    plan(&r, &export(36), &target).check_limits().unwrap();
    let loose = r
        .clone()
        .with_options(SyncOptions::default().max_delete_group_fraction(1.0));
    plan(&loose, &broken, &target).check_limits().unwrap();

    let report = block_on(wipe.apply_forced(&target, &ctx()));
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(group_names(&target), ["g0", "g1", "g2"]);
    assert!(plan(&r, &broken, &target).is_empty());
}

#[test]
fn groups_the_source_never_had_are_kept_and_those_it_dropped_are_deleted() {
    let target = InMemoryProvisioner::new();
    made_by_hand(&target, &["helpdesk", "jira-administrators"]);
    let r = unlimited();

    // The first run cannot tell the target's groups from ones the source dropped: it keeps
    // them, and says so.
    let first = sync(&r, &csv(&["root,eng;ops"]), &target);
    assert!(deleted(&first).is_empty(), "{first}");
    assert!(
        first
            .warnings()
            .iter()
            .any(|w| w.contains("kept 2 target groups") && w.contains("helpdesk")),
        "{first}"
    );
    assert_eq!(first.managed_groups(), ["eng", "ops"]);

    // ops leaves the source: it was the source's, so it goes; the groups made by hand stay.
    let second = sync(&r, &csv(&["root,eng"]), &target);
    assert_eq!(deleted(&second), ["ops"], "{second}");
    assert_eq!(
        group_names(&target),
        ["eng", "helpdesk", "jira-administrators"]
    );
    let third = plan(&r, &csv(&["root,eng"]), &target);
    assert!(third.is_empty(), "{third}");
    assert_eq!(third.managed_groups(), ["eng"]);

    // A reconciler that never synced this target (another ledger) deletes nothing.
    let stranger = plan(&unlimited(), &csv(&["root,"]), &target);
    assert!(deleted(&stranger).is_empty(), "{stranger}");
    let ours = plan(&r, &csv(&["root,"]), &target);
    assert_eq!(deleted(&ours), ["eng"], "{ours}");
}

#[test]
fn built_in_groups_are_never_deleted_even_when_the_source_filled_them() {
    let target = InMemoryProvisioner::new();
    let r = unlimited();
    sync(
        &r,
        &csv(&["alice,jira-software-users;eng;confluence-users-acme"]),
        &target,
    );
    let dropped = sync(&r, &csv(&["alice,"]), &target);
    assert_eq!(deleted(&dropped), ["eng"], "{dropped}");
    assert!(
        dropped.warnings().iter().any(|w| w.contains("built-in")
            && w.contains("jira-software-users")
            && w.contains("confluence-users-acme")),
        "{dropped}"
    );
    assert_eq!(
        group_names(&target),
        ["confluence-users-acme", "jira-software-users"]
    );
    assert!(is_built_in_group(" Jira-Administrators "));
    assert!(is_built_in_group("jira-software-users-acme"));
    assert!(!is_built_in_group("jira-eng"));
    assert!(!is_built_in_group("jira-administratorsx"));
}

#[test]
fn a_file_ledger_lets_a_later_process_delete_what_an_earlier_one_made() {
    let dir = std::env::temp_dir().join(format!("scim-sync-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("groups.json");
    let _ = std::fs::remove_file(&path);
    let target = InMemoryProvisioner::new();
    let process = || unlimited().with_ledger(Arc::new(FileGroupLedger::new(&path)));

    sync(&process(), &csv(&["alice,eng;ops"]), &target);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved, json!({"acme": ["eng", "ops"]}));

    let later = sync(&process(), &csv(&["alice,eng"]), &target);
    assert_eq!(deleted(&later), ["ops"], "{later}");
    assert_eq!(group_names(&target), ["eng"]);

    // A ledger that cannot be read is an error naming it, not an empty ledger.
    std::fs::write(&path, "{\"acme\": [1").unwrap();
    let err = block_on(process().plan(&csv(&["alice,"]), &target, &ctx())).unwrap_err();
    assert!(matches!(err, SyncError::Ledger { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("groups.json") && text.contains("line 1"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn only_applied_runs_are_recorded() {
    let ledger = Arc::new(InMemoryGroupLedger::new());
    let r = Reconciler::new().with_ledger(ledger.clone());
    let target = InMemoryProvisioner::new();
    let source = csv(&["alice,eng"]);
    let dry = Runner::builder()
        .reconciler(r.clone())
        .dry_run(true)
        .build();
    block_on(dry.run_once(TENANT, &source, &target, &Quiet)).unwrap();
    assert!(block_on(ledger.load(TENANT)).unwrap().is_empty());

    let wet = Runner::builder().reconciler(r).build();
    block_on(wet.run_once(TENANT, &source, &target, &Quiet)).unwrap();
    assert_eq!(block_on(ledger.load(TENANT)).unwrap(), ["eng"]);
    assert!(block_on(ledger.load("other")).unwrap().is_empty());
}
