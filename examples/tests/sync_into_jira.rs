//! scim-sync into scim-atlassian (these tests live here so that scim-sync depends on no vendor
//! crate): a SCIM source (the in-memory example server) synced into the Jira simulator: drift made by
//! hand in Jira and at the source converges in one run, and a run right after writes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../../scim-sync/tests/common/mod.rs"]
mod sync_common;
use sync_common as common;

use std::sync::Arc;

use scim_atlassian::simulator::JiraSimulator;
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{Group, Member, MultiValue, OpKind, PatchOp, PatchOperation, User};
use scim_sync::{Reconciler, ScimSource, target_policy};
use serde_json::json;

struct Setup {
    idp: Arc<scim_core::provision::InMemoryProvisioner>,
    source: ScimSource,
    sim: Arc<JiraSimulator>,
    jira: AtlassianProvisioner,
    user_ids: Vec<String>,
}

fn setup(users: usize) -> Setup {
    let (idp, client) = common::idp();
    let ctx = RequestContext::new(common::TENANT);
    let mut user_ids = Vec::new();
    block_on(async {
        for i in 0..users {
            let mut u = User::new(format!("person{i}"));
            u.external_id = Some(format!("p{i}"));
            u.display_name = Some(format!("Person {i}"));
            u.emails = vec![MultiValue::new(format!("person{i}@example.com")).primary()];
            user_ids.push(idp.create_user(&ctx, u).await.unwrap().id.unwrap());
        }
        for (name, take) in [("eng", 5), ("ops", 3)] {
            let mut g = Group::new(name);
            // Jira has nowhere to keep it: the sync must converge all the same.
            g.external_id = Some(format!("ext-{name}"));
            g.members = user_ids
                .iter()
                .take(take)
                .map(|id| Member::new(id.clone()))
                .collect();
            idp.create_group(&ctx, g).await.unwrap();
        }
    });
    let source = ScimSource::new(client, "http://idp.test/scim/v2")
        .with_bearer_token(common::TOKEN)
        .with_page_size(4);
    let credentials = Credentials::bearer("pat");
    let sim = Arc::new(JiraSimulator::new(credentials.clone()));
    let jira = AtlassianProvisioner::jira("https://jira.test", credentials)
        .client(sim.clone())
        .policy(target_policy(&scim_atlassian::policy::SyncPolicy::default()))
        .build()
        .unwrap();
    Setup {
        idp,
        source,
        sim,
        jira,
        user_ids,
    }
}

/// Plans and applies one run; returns the plan's text.
fn run(s: &Setup, reconciler: &Reconciler) -> String {
    let ctx = RequestContext::new("acme");
    let plan = block_on(reconciler.plan(&s.source, &s.jira, &ctx)).unwrap();
    let report = block_on(plan.apply(&s.jira, &ctx)).unwrap();
    assert_eq!(report.failed, 0, "{report}\n{plan}");
    plan.to_string()
}

/// A run right after: plans nothing and makes no write call to Jira.
fn assert_converged(s: &Setup, reconciler: &Reconciler) {
    s.sim.reset_calls();
    let ctx = RequestContext::new("acme");
    let plan = block_on(reconciler.plan(&s.source, &s.jira, &ctx)).unwrap();
    assert!(plan.is_empty(), "{plan}");
    block_on(plan.apply(&s.jira, &ctx)).unwrap();
    assert_eq!(s.sim.write_calls(), 0, "{:?}", s.sim.call_counts());
}

#[test]
fn a_scim_source_syncs_into_jira_and_drift_converges_in_one_run() {
    let s = setup(10);
    let reconciler = Reconciler::new();
    run(&s, &reconciler);
    assert_eq!(s.sim.user_count(), 10);
    assert_eq!(
        s.sim.group_members("eng").unwrap(),
        ["person0", "person1", "person2", "person3", "person4"]
    );
    assert_eq!(
        s.sim.group_members("ops").unwrap(),
        ["person0", "person1", "person2"]
    );
    assert_converged(&s, &reconciler);

    // Drift: in Jira by hand, person1's display name changed and the ops group removed; at
    // the source, person9 deleted and person7 joins eng.
    let jira_ctx = RequestContext::new("acme");
    let idp_ctx = RequestContext::new(common::TENANT);
    block_on(async {
        let p1 = s
            .jira
            .scan_users(&jira_ctx, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.user_name == "person1")
            .unwrap();
        let patch = PatchOp::new(vec![
            PatchOperation::with_path(OpKind::Replace, "displayName", Some(json!("By Hand")))
                .unwrap(),
        ]);
        s.jira
            .patch_user(&jira_ctx, p1.id.as_deref().unwrap(), &patch, None)
            .await
            .unwrap();
        s.jira.delete_group(&jira_ctx, "ops", None).await.unwrap();
        s.idp
            .delete_user(&idp_ctx, &s.user_ids[9], None)
            .await
            .unwrap();
        let eng = s
            .idp
            .scan_groups(&idp_ctx, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.display_name == "eng")
            .unwrap();
        s.idp
            .add_members(
                &idp_ctx,
                eng.id.as_deref().unwrap(),
                &[Member::new(s.user_ids[7].clone())],
            )
            .await
            .unwrap();
    });
    assert!(s.sim.group_members("ops").is_none());

    let fixed = run(&s, &reconciler);
    assert!(fixed.contains("~ update user person1"), "{fixed}");
    assert!(
        fixed.contains("+ create group ops with 3 members"),
        "{fixed}"
    );
    assert!(fixed.contains("- deactivate user person9"), "{fixed}");
    assert!(fixed.contains("+ add to group eng: person7"), "{fixed}");
    assert_eq!(
        s.sim.user("person1").unwrap().display_name,
        "Person 1",
        "the source wins over a change made by hand"
    );
    assert!(!s.sim.user("person9").unwrap().active);
    assert_eq!(
        s.sim.group_members("ops").unwrap(),
        ["person0", "person1", "person2"]
    );
    assert_converged(&s, &reconciler);
}

#[test]
fn the_sync_policy_renames_into_jira_without_being_applied_twice() {
    use scim_atlassian::policy::{NameTransform, SyncPolicy};
    let s = setup(6);
    let policy = SyncPolicy::builder()
        .group_name(NameTransform::default().rule("^(.*)$", "jira-$1"))
        .user_name(NameTransform::default().rule("^person(.*)$", "p$1"))
        .default_group_for_all("jira-software-users")
        .build()
        .unwrap();
    let reconciler = Reconciler::new().with_sync_policy(&policy).unwrap();
    run(&s, &reconciler);
    // Mapped once: `jira-eng`, not `jira-jira-eng` through a policy inside the target too.
    assert!(s.sim.user("p0").is_some());
    assert_eq!(
        s.sim.group_members("jira-eng").unwrap(),
        ["p0", "p1", "p2", "p3", "p4"]
    );
    assert_eq!(s.sim.group_members("jira-software-users").unwrap().len(), 6);
    assert!(s.sim.group_members("eng").is_none());
    assert_converged(&s, &reconciler);
}

#[test]
fn a_run_interrupted_by_jira_failures_is_finished_by_the_next_without_duplicates() {
    use scim_atlassian::history::{HistoryQuery, InMemoryHistory, SyncHistory};
    use scim_atlassian::simulator::Fault;
    use scim_sync::{RunOutcome, Runner};

    struct Quiet;
    impl scim_sync::Progress for Quiet {
        fn step_finished(&self, _: &scim_sync::Step, _: bool, _: usize, _: usize) {}
    }
    let s = setup(10);
    let history = Arc::new(InMemoryHistory::new());
    let runner = Runner::builder().history(history.clone()).build();
    let run = || {
        let RunOutcome::Ran(summary) =
            block_on(runner.run_once("acme", &s.source, &s.jira, &Quiet)).unwrap()
        else {
            panic!("skipped")
        };
        summary
    };
    // Jira fails the fourth user create: the groups naming that user wait for the next run.
    s.sim.fail_call("POST", "/user", 4, Fault::Status(500));
    let first = run();
    assert_eq!(first.report.as_ref().unwrap().failed, 3, "{}", first.plan);
    assert_eq!(s.sim.user_count(), 9);

    // The next run creates the missing user and the groups, but Jira fails a membership add
    // half way through creating eng.
    s.sim
        .fail_call("POST", "/group/user", 2, Fault::Status(500));
    let second = run();
    assert_eq!(second.plan.summary().create_users, 1, "{}", second.plan);
    assert_eq!(second.report.as_ref().unwrap().failed, 1);
    assert_eq!(s.sim.user_count(), 10, "nothing created twice");

    // The third finds eng with its first member only (the provisioner stops at the failure)
    // and adds only the four missing.
    let third = run();
    let report = third.report.as_ref().unwrap();
    assert_eq!(report.failed, 0, "{report}");
    let summary = third.plan.summary();
    assert_eq!(
        (
            summary.create_users,
            summary.create_groups,
            summary.add_members
        ),
        (0, 0, 4),
        "{}",
        third.plan
    );
    assert_eq!(
        s.sim.group_members("eng").unwrap(),
        ["person0", "person1", "person2", "person3", "person4"]
    );
    assert_converged(&s, &Reconciler::new());
    let runs = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs[0].outcome.is_success());
    assert!(!runs[1].outcome.is_success() && !runs[2].outcome.is_success());
}

#[test]
fn a_keycloak_realm_with_subgroups_syncs_into_jira_and_a_second_run_writes_nothing() {
    use scim_atlassian::simulator::JiraSimulator;
    use scim_atlassian::{AtlassianProvisioner, Credentials};

    let sim = common::keycloak_sim::with_subgroups(false);
    let kc = common::keycloak_sim::source(&sim, "s3cret&=");
    let credentials = Credentials::bearer("pat");
    let jira_sim = Arc::new(JiraSimulator::new(credentials.clone()));
    let jira = AtlassianProvisioner::jira("https://jira.test", credentials)
        .client(jira_sim.clone())
        .build()
        .unwrap();
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new();
    let plan = block_on(reconciler.plan(&kc, &jira, &ctx)).unwrap();
    let report = block_on(plan.apply(&jira, &ctx)).unwrap();
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(jira_sim.user_count(), 7);
    assert!(!jira_sim.user("worker3").unwrap().active);
    assert_eq!(
        jira_sim.group_members("devs/web/api").unwrap(),
        ["worker0", "worker6"]
    );
    assert_eq!(jira_sim.group_members("everyone/ops").unwrap(), ["worker1"]);

    jira_sim.reset_calls();
    let again = block_on(reconciler.plan(&kc, &jira, &ctx)).unwrap();
    assert!(again.is_empty(), "{again}");
    assert_eq!(jira_sim.write_calls(), 0, "{:?}", jira_sim.call_counts());
}
