//! Push provisioning's `SyncPolicy` applied by the reconciler, in target terms.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{Group, Member, User};
use scim_provisioning::policy::{DeprovisionAction, NameTransform, SyncPolicy};
use scim_sync::{FileSource, Plan, Reconciler, Step, SyncOptions};

const TENANT: &str = "acme";

fn ctx() -> RequestContext {
    RequestContext::new(TENANT)
}

fn reconciler(policy: &SyncPolicy) -> Reconciler {
    Reconciler::new().with_sync_policy(policy).unwrap()
}

fn sync(r: &Reconciler, source: &FileSource, target: &InMemoryProvisioner) -> Plan {
    let plan = block_on(r.plan(source, target, &ctx())).unwrap();
    let report = block_on(plan.apply(target, &ctx())).unwrap();
    assert_eq!(report.failed, 0, "{report}\n{plan}");
    plan
}

fn users(target: &InMemoryProvisioner) -> Vec<User> {
    block_on(target.scan_users(&ctx(), 0, 1000)).unwrap()
}

/// Target group `name`'s members as user names, sorted; `None` when there is no such group.
fn members(target: &InMemoryProvisioner, name: &str) -> Option<Vec<String>> {
    let all = users(target);
    let groups = block_on(target.scan_groups(&ctx(), 0, 1000)).unwrap();
    let group = groups.into_iter().find(|g| g.display_name == name)?;
    let mut names: Vec<String> = group
        .members
        .iter()
        .filter_map(|m| {
            all.iter()
                .find(|u| u.id == m.value)
                .map(|u| u.user_name.clone())
        })
        .collect();
    names.sort();
    Some(names)
}

fn group_names(target: &InMemoryProvisioner) -> Vec<String> {
    common::group_names(target, TENANT)
}

fn add_user(target: &InMemoryProvisioner, name: &str) -> String {
    block_on(target.create_user(&ctx(), User::new(name)))
        .unwrap()
        .id
        .unwrap()
}

fn add_group(target: &InMemoryProvisioner, name: &str, member_ids: &[&str]) {
    let mut g = Group::new(name);
    g.members = member_ids.iter().map(|id| Member::new(*id)).collect();
    block_on(target.create_group(&ctx(), g)).unwrap();
}

#[test]
fn names_filters_renames_and_default_groups_are_applied_in_target_terms() {
    let policy = SyncPolicy::builder()
        .include("^okta-")
        .group_name(NameTransform::default().rule("^okta-(.*)$", "jira-$1"))
        .user_name(NameTransform::default().strip_domain().lowercase())
        .default_group_for_all("jira-software-users")
        .default_group_for_new("new-hires")
        .build()
        .unwrap();
    let target = InMemoryProvisioner::new();
    // Administrators' groups in the target: never the sync's business under this policy.
    let root = add_user(&target, "root");
    add_group(&target, "jira-administrators", &[&root]);
    let source = FileSource::from_csv_str(
        "userName,email,groups\n\
         Alice@Example.com,alice@example.com,okta-eng\n\
         bob@example.com,bob@example.com,okta-eng;sales\n",
    )
    .unwrap();
    let r =
        reconciler(&policy).with_options(SyncOptions::default().deactivate_missing_users(false));
    let plan = sync(&r, &source, &target);
    assert_eq!(plan.summary().create_users, 2, "{plan}");
    let mut names: Vec<String> = users(&target).into_iter().map(|u| u.user_name).collect();
    names.sort();
    assert_eq!(names, ["alice", "bob", "root"]);
    assert_eq!(
        group_names(&target),
        [
            "jira-administrators",
            "jira-eng",
            "jira-software-users",
            "new-hires"
        ],
        "sales is filtered out, okta-eng renamed"
    );
    assert_eq!(members(&target, "jira-eng").unwrap(), ["alice", "bob"]);
    assert_eq!(
        members(&target, "jira-software-users").unwrap(),
        ["alice", "bob"]
    );
    assert_eq!(members(&target, "new-hires").unwrap(), ["alice", "bob"]);
    assert_eq!(members(&target, "jira-administrators").unwrap(), ["root"]);

    // Converged under the policy.
    let again = block_on(r.plan(&source, &target, &ctx())).unwrap();
    assert!(again.is_empty(), "{again}");

    // bob leaves okta-eng; carol arrives. Default groups keep bob; only carol is new.
    let source = FileSource::from_csv_str(
        "userName,email,groups\n\
         Alice@Example.com,alice@example.com,okta-eng\n\
         bob@example.com,bob@example.com,sales\n\
         carol@example.com,carol@example.com,okta-eng\n",
    )
    .unwrap();
    sync(&r, &source, &target);
    assert_eq!(members(&target, "jira-eng").unwrap(), ["alice", "carol"]);
    assert_eq!(
        members(&target, "jira-software-users").unwrap(),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        members(&target, "new-hires").unwrap(),
        ["alice", "bob", "carol"]
    );
    assert!(
        block_on(r.plan(&source, &target, &ctx()))
            .unwrap()
            .is_empty()
    );

    // The IdP group goes: the renamed group is the administrator's to remove (its IdP name
    // cannot be traced back), and nothing else is deleted.
    let source =
        FileSource::from_csv_str("userName,email,groups\nAlice@Example.com,alice@example.com,\n")
            .unwrap();
    let plan = block_on(r.plan(&source, &target, &ctx())).unwrap();
    assert_eq!(plan.summary().delete_groups, 0, "{plan}");
}

#[test]
fn on_the_fly_groups_the_mapping_owns_are_deleted_and_others_kept() {
    let policy = SyncPolicy::builder().include("^eng").build().unwrap();
    let target = InMemoryProvisioner::new();
    let root = add_user(&target, "root");
    add_group(&target, "admins", &[&root]);
    add_group(&target, "eng-old", &[]);
    let source = FileSource::from_csv_str("userName,groups\nroot,eng-web\n").unwrap();
    let plan = block_on(reconciler(&policy).plan(&source, &target, &ctx())).unwrap();
    let deleted: Vec<&str> = plan
        .steps()
        .iter()
        .filter_map(|s| match s {
            Step::DeleteGroup { display_name, .. } => Some(display_name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["eng-old"], "{plan}");
    assert_eq!(plan.summary().create_groups, 1, "{plan}");
}

#[test]
fn manual_mapping_fans_out_and_empties_rather_than_deletes() {
    let policy = SyncPolicy::builder()
        .map_group("okta-eng", ["jira-developers", "jira-users"])
        .map_group("okta-ops", ["jira-users"])
        .build()
        .unwrap();
    let target = InMemoryProvisioner::new();
    let r = reconciler(&policy);
    let source = FileSource::from_csv_str(
        "userName,groups\nalice,okta-eng\nbob,okta-ops\ncarol,okta-unmapped\n",
    )
    .unwrap();
    sync(&r, &source, &target);
    assert_eq!(group_names(&target), ["jira-developers", "jira-users"]);
    assert_eq!(members(&target, "jira-developers").unwrap(), ["alice"]);
    assert_eq!(
        members(&target, "jira-users").unwrap(),
        ["alice", "bob"],
        "two IdP groups mapped onto one target group give it both memberships"
    );
    assert!(
        block_on(r.plan(&source, &target, &ctx()))
            .unwrap()
            .is_empty()
    );

    // okta-eng goes: its groups are the administrator's, emptied of what it gave, not deleted.
    let source =
        FileSource::from_csv_str("userName,groups\nalice,\nbob,okta-ops\ncarol,\n").unwrap();
    let plan = sync(&r, &source, &target);
    assert_eq!(plan.summary().delete_groups, 0, "{plan}");
    assert_eq!(
        members(&target, "jira-developers").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(members(&target, "jira-users").unwrap(), ["bob"]);
    assert!(
        block_on(r.plan(&source, &target, &ctx()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn scope_leaves_outsiders_alone_or_deprovisions_them() {
    let source = FileSource::from_csv_str(
        "userName,groups\nalice,jira-users;eng\nbob,eng\ncarol,jira-users\n",
    )
    .unwrap();
    let target = InMemoryProvisioner::new();
    // bob exists at the target already, in eng.
    let bob = add_user(&target, "bob");
    add_group(&target, "eng", &[&bob]);

    let scoped = SyncPolicy::builder()
        .scope_group("JIRA-USERS")
        .build()
        .unwrap();
    let r = reconciler(&scoped);
    let plan = sync(&r, &source, &target);
    assert_eq!(plan.summary().create_users, 2, "alice and carol: {plan}");
    assert_eq!(
        plan.summary().deactivate_users,
        0,
        "bob is left alone: {plan}"
    );
    assert_eq!(members(&target, "eng").unwrap(), ["alice", "bob"]);
    assert!(
        plan.warnings().is_empty(),
        "out of scope is not a warning: {plan}"
    );
    assert!(
        block_on(r.plan(&source, &target, &ctx()))
            .unwrap()
            .is_empty()
    );

    let strict = SyncPolicy::builder()
        .scope_group("jira-users")
        .deprovision_out_of_scope(true)
        .build()
        .unwrap();
    let r = reconciler(&strict).with_options(SyncOptions::default().max_deactivate_fraction(0.5));
    let plan = sync(&r, &source, &target);
    assert_eq!(plan.summary().deactivate_users, 1, "{plan}");
    let bob = users(&target)
        .into_iter()
        .find(|u| u.user_name == "bob")
        .unwrap();
    assert_eq!(bob.active, Some(false));
    assert_eq!(members(&target, "eng").unwrap(), ["alice"]);
}

#[test]
fn delete_deprovisioning_deletes_under_the_safety_rail() {
    let policy = SyncPolicy::builder()
        .deprovision(DeprovisionAction::Delete)
        .build()
        .unwrap();
    let target = InMemoryProvisioner::new();
    let r = reconciler(&policy);
    let everyone = FileSource::from_csv_str("userName\na\nb\nc\nd\ne\n").unwrap();
    sync(&r, &everyone, &target);
    // Two of five gone: more than the default 10%.
    let fewer = FileSource::from_csv_str("userName\na\nb\nc\n").unwrap();
    let plan = block_on(r.plan(&fewer, &target, &ctx())).unwrap();
    assert_eq!(plan.summary().delete_users, 2, "{plan}");
    assert!(plan.to_string().contains("- delete user d"), "{plan}");
    let err = block_on(plan.apply(&target, &ctx())).unwrap_err();
    assert!(
        err.to_string().contains("deactivates or deletes 2"),
        "{err}"
    );
    block_on(plan.apply_forced(&target, &ctx()));
    assert_eq!(target.user_count(TENANT), 3);
}

#[test]
fn the_target_policy_keeps_only_deprovisioning() {
    let policy = SyncPolicy::builder()
        .include("^okta-")
        .user_name(NameTransform::default().lowercase())
        .deprovision(DeprovisionAction::Delete)
        .project_lead("admin")
        .build()
        .unwrap();
    let target = scim_sync::target_policy(&policy);
    assert_eq!(target.deprovision, policy.deprovision);
    assert_eq!(
        SyncPolicy {
            deprovision: scim_provisioning::policy::Deprovision::default(),
            ..target
        },
        SyncPolicy::default()
    );
}

#[test]
fn unfiltered_on_the_fly_mapping_deletes_only_groups_an_earlier_sync_recorded() {
    let target = InMemoryProvisioner::new();
    let root = add_user(&target, "root");
    add_group(&target, "jira-administrators", &[&root]);
    add_group(&target, "helpdesk", &[&root]);
    let r = reconciler(&SyncPolicy::default())
        .with_options(SyncOptions::default().max_delete_group_fraction(1.0));

    // A first run against a Jira with groups of its own: none of them is the IdP's.
    let first = sync(
        &r,
        &FileSource::from_csv_str(
            "userName,groups
root,eng;ops
",
        )
        .unwrap(),
        &target,
    );
    assert_eq!(first.summary().delete_groups, 0, "{first}");
    assert!(
        first
            .warnings()
            .iter()
            .any(|w| w.contains("jira-administrators")),
        "{first}"
    );

    // ops leaves the IdP: the sync made it, so it goes; with deletes off it would stay.
    let source = FileSource::from_csv_str(
        "userName,groups
root,eng
",
    )
    .unwrap();
    let keeping = r
        .clone()
        .with_options(SyncOptions::default().delete_missing_groups(false));
    let kept = block_on(keeping.plan(&source, &target, &ctx())).unwrap();
    assert_eq!(kept.summary().delete_groups, 0, "{kept}");
    let plan = sync(&r, &source, &target);
    assert_eq!(plan.summary().delete_groups, 1, "{plan}");
    assert!(plan.to_string().contains("- delete group ops ("), "{plan}");
    assert_eq!(
        group_names(&target),
        ["eng", "helpdesk", "jira-administrators"]
    );
    assert_eq!(members(&target, "jira-administrators").unwrap(), ["root"]);
}
