//! scim-sync's inactive-user cleanup against the Crowd, Jira, Bitbucket and Atlassian Cloud
//! simulators (here so that scim-sync depends on no vendor crate): last logins from the
//! product, the exclude list, the safety rail, the dry run, and the policy's deprovisioning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::history::{HistoryQuery, InMemoryHistory, RecordingProvisioner, SyncHistory};
use scim_atlassian::policy::{DeprovisionAction, SyncPolicy};
use scim_atlassian::simulator::{
    BitbucketSimulator, CloudSimulator, CrowdSimulator, JiraSimulator,
};
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{MultiValue, User};
use scim_sync::{InactiveCleanup, Step, SyncError, SyncOptions};

fn ctx() -> RequestContext {
    RequestContext::new("acme")
}

fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.display_name = Some(format!("{name} display"));
    u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
    u
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

struct Crowd {
    sim: Arc<CrowdSimulator>,
    history: Arc<InMemoryHistory>,
    p: RecordingProvisioner<AtlassianProvisioner>,
}

/// A Crowd with alice (idle 200 days), bob (10 days), svc-backup (300 days, excluded below)
/// and carol (never logged in, created now).
fn crowd(action: DeprovisionAction) -> Crowd {
    let app = Credentials::basic("app", "pw");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com", app)
        .client(sim.clone())
        .policy(SyncPolicy::builder().deprovision(action).build().unwrap())
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::new());
    let p = RecordingProvisioner::new(p, history.clone());
    for name in ["alice", "bob", "svc-backup", "carol"] {
        block_on(p.create_user(&ctx(), user(name))).unwrap();
    }
    sim.set_last_login("alice", Some(now() - Duration::days(200)));
    sim.set_last_login("bob", Some(now() - Duration::days(10)));
    sim.set_last_login("svc-backup", Some(now() - Duration::days(300)));
    Crowd { sim, history, p }
}

fn lenient() -> SyncOptions {
    SyncOptions::default().max_deactivate_fraction(1.0)
}

/// 90 days, service accounts excluded, no safety rail in the way.
fn idle_90_days_but_services() -> InactiveCleanup {
    InactiveCleanup::new(90)
        .unwrap()
        .exclude("^svc-")
        .unwrap()
        .with_options(lenient())
}

fn planned(plan: &scim_sync::Plan) -> Vec<String> {
    plan.steps()
        .iter()
        .map(|s| match s {
            Step::DeprovisionInactive { user, .. } => user.user_name.clone(),
            other => panic!("unexpected step {other}"),
        })
        .collect()
}

#[test]
fn idle_users_are_planned_and_the_excluded_and_recent_are_not() {
    let c = crowd(DeprovisionAction::Deactivate);
    let cleanup = idle_90_days_but_services();
    let plan = block_on(cleanup.plan(&c.p, &ctx())).unwrap();
    assert_eq!(planned(&plan), ["alice"]);
    let text = plan.to_string();
    assert!(
        text.contains("- deprovision inactive user alice (") && text.contains("last login 20"),
        "{text}"
    );
    // A year on, carol (never logged in) and bob are idle too.
    let later = cleanup.at(now() + Duration::days(365));
    let mut names = planned(&block_on(later.plan(&c.p, &ctx())).unwrap());
    names.sort();
    assert_eq!(names, ["alice", "bob", "carol"]);
}

#[test]
fn applying_deprovisions_per_the_policy_and_the_history_says_how() {
    let c = crowd(DeprovisionAction::Anonymize);
    let cleanup = idle_90_days_but_services();
    let plan = block_on(cleanup.plan(&c.p, &ctx())).unwrap();
    let report = block_on(plan.apply(&c.p, &ctx())).unwrap();
    assert_eq!((report.done, report.failed), (1, 0), "{report}");
    assert!(c.sim.user("alice").is_none(), "renamed away");
    assert!(c.sim.user("bob").unwrap().active);
    assert!(c.sim.user("svc-backup").unwrap().active);
    let entries = block_on(c.history.list(&HistoryQuery::new().limit(1))).unwrap();
    assert!(
        entries[0]
            .changes
            .contains("anonymized and deactivated user"),
        "{}",
        entries[0].changes
    );
    // Deprovisioned users are inactive: a second run plans nothing.
    assert!(block_on(cleanup.plan(&c.p, &ctx())).unwrap().is_empty());
}

#[test]
fn the_safety_rail_refuses_too_many_and_a_dry_run_writes_nothing() {
    let c = crowd(DeprovisionAction::Deactivate);
    // Everyone idle a year on: 3 of 4 users, above the default 10%.
    let cleanup = InactiveCleanup::new(90)
        .unwrap()
        .at(now() + Duration::days(365));
    let plan = block_on(cleanup.plan(&c.p, &ctx())).unwrap();
    assert_eq!(plan.summary().deactivate_users, 4);
    let err = block_on(plan.apply(&c.p, &ctx())).unwrap_err();
    assert!(
        matches!(err, SyncError::SafetyLimit { affected: 4, .. }),
        "{err}"
    );
    assert!(c.sim.user("alice").unwrap().active, "nothing written");
}

#[test]
fn bad_settings_and_products_without_login_data_say_so() {
    let err = InactiveCleanup::new(30)
        .unwrap()
        .exclude("svc-(")
        .unwrap_err();
    assert!(err.to_string().contains("inactive.exclude[0]"), "{err}");
    let err = InactiveCleanup::new(0).unwrap_err();
    assert!(err.to_string().contains("inactive.days"), "{err}");

    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .build()
        .unwrap();
    block_on(jira.create_user(&ctx(), user("alice"))).unwrap();
    let err = block_on(InactiveCleanup::new(30).unwrap().plan(&jira, &ctx())).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("embedded_crowd"), "{text}");
}

#[test]
fn jira_logins_come_through_its_embedded_crowd_api() {
    let app = Credentials::basic("jira-app", "pw");
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.set_embedded_crowd(app.clone());
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .embedded_crowd(app)
        .build()
        .unwrap();
    block_on(jira.create_user(&ctx(), user("alice"))).unwrap();
    block_on(jira.create_user(&ctx(), user("bob"))).unwrap();
    sim.set_last_login("alice", Some(now() - Duration::days(100)));
    sim.set_last_login("bob", Some(now() - Duration::days(1)));
    let cleanup = InactiveCleanup::new(90).unwrap().with_options(lenient());
    let plan = block_on(cleanup.plan(&jira, &ctx())).unwrap();
    assert_eq!(planned(&plan), ["alice"]);
    block_on(plan.apply(&jira, &ctx())).unwrap();
    assert!(!sim.user("alice").unwrap().active);
    assert!(sim.user("bob").unwrap().active);
}

// The bridge's scheduled cleanup (`[cleanup]`, `scim_examples::bridge_cleanup`) over the same
// simulators, whose last-login data the test sets.

use scim_atlassian::history::{CLEANUP_METHOD, Outcome};
use scim_examples::bridge::Config;
use scim_examples::bridge_cleanup::{BridgeCleanup, CleanupParts};
use scim_examples::target::{SIMULATOR_URL, TargetClient};

/// The cleanup `toml` (a whole bridge configuration) configures over `target`, and the
/// history it records in.
fn cleanup_over(target: &TargetClient, toml: &str) -> (Arc<InMemoryHistory>, Arc<BridgeCleanup>) {
    let config = Config::from_toml(toml).unwrap();
    let history = Arc::new(InMemoryHistory::new());
    let cleanup = BridgeCleanup::new(CleanupParts {
        config: config.cleanup.as_ref().unwrap(),
        policy: &config.policy,
        target,
        history: history.clone(),
        lock: None,
    })
    .unwrap();
    (history, cleanup)
}

/// A bridge cleanup configured by `toml` (a whole bridge configuration) over a Crowd
/// simulator holding alice (idle 200 days), bob (10 days), svc-backup (300 days) and carol
/// (never logged in, created now); the history it records in.
fn bridge_cleanup(
    toml: &str,
) -> (
    Arc<CrowdSimulator>,
    Arc<InMemoryHistory>,
    Arc<BridgeCleanup>,
) {
    let app = Credentials::basic("app", "pw");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let target = TargetClient::data_center(sim.clone(), "a Crowd simulator", move || {
        AtlassianProvisioner::crowd(SIMULATOR_URL, app.clone())
    });
    let (history, cleanup) = cleanup_over(&target, toml);
    let seed = AtlassianProvisioner::crowd(SIMULATOR_URL, Credentials::basic("app", "pw"))
        .client(sim.clone())
        .build()
        .unwrap();
    for name in ["alice", "bob", "svc-backup", "carol"] {
        block_on(seed.create_user(&ctx(), user(name))).unwrap();
    }
    sim.set_last_login("alice", Some(now() - Duration::days(200)));
    sim.set_last_login("bob", Some(now() - Duration::days(10)));
    sim.set_last_login("svc-backup", Some(now() - Duration::days(300)));
    (sim, history, cleanup)
}

fn cleanup_runs(history: &InMemoryHistory) -> Vec<scim_atlassian::history::HistoryEntry> {
    block_on(history.list(&HistoryQuery::new().method(CLEANUP_METHOD))).unwrap()
}

#[tokio::test]
async fn the_bridge_cleanup_deprovisions_idle_users_per_the_policy_and_records_the_run() {
    let (sim, history, cleanup) = bridge_cleanup(
        "[policy.deprovision]\naction = \"anonymize\"\n\
         [cleanup]\ninactive_days = 90\nexclude = [\"^svc-\"]\nmax_fraction = 0.5\n\
         tenant = \"idle\"\n",
    );
    let last = cleanup.run_now().await.unwrap();
    assert!(last.ok, "{}", last.outcome);
    assert_eq!(
        last.outcome,
        "1 of 4 users inactive for 90 days (alice): 1 deprovisioned, 0 failed"
    );
    assert!(sim.user("alice").is_none(), "anonymized: renamed away");
    for kept in ["bob", "svc-backup", "carol"] {
        assert!(sim.user(kept).unwrap().active, "{kept}");
    }
    let runs = cleanup_runs(&history);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].tenant, "idle");
    assert_eq!(runs[0].changes, last.outcome);
    assert!(runs[0].outcome.is_success());
    assert!(
        runs[0].calls.iter().any(|c| c.call.starts_with("GET ")),
        "the run's reads are in its entry: {:?}",
        runs[0].calls
    );
    // The deprovisioning has its own entry, saying what the product did.
    let all = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert!(
        all.iter().any(|e| e.operation.method == "PATCH"
            && e.changes.contains("anonymized and deactivated user")),
        "{all:?}"
    );
    // Nothing idle is left: the next run deprovisions nobody.
    let again = cleanup.run_now().await.unwrap();
    assert!(
        again.outcome.starts_with("0 of 4 users"),
        "{}",
        again.outcome
    );
}

#[tokio::test]
async fn the_bridge_cleanup_dry_run_and_safety_rail_write_nothing() {
    let (sim, history, cleanup) =
        bridge_cleanup("[cleanup]\ninactive_days = 90\nexclude = [\"^svc-\"]\ndry_run = true\n");
    let last = cleanup.run_now().await.unwrap();
    assert!(last.ok);
    assert!(
        last.outcome
            .starts_with("dry run: 1 of 4 users inactive for 90 days (alice)"),
        "{}",
        last.outcome
    );
    assert!(
        sim.user("alice").unwrap().active,
        "a dry run writes nothing"
    );
    let runs = cleanup_runs(&history);
    match &runs[0].outcome {
        Outcome::DryRun { would_write } => {
            assert_eq!(would_write.len(), 1);
            assert!(would_write[0].contains("alice"), "{would_write:?}");
        }
        other => panic!("{other:?}"),
    }

    // Without the exclude list and at the default 10%, two idle users of four are too many.
    let (sim, history, cleanup) = bridge_cleanup("[cleanup]\ninactive_days = 90\n");
    let last = cleanup.run_now().await.unwrap();
    assert!(!last.ok);
    assert!(last.outcome.contains("failed"), "{}", last.outcome);
    assert!(sim.user("alice").unwrap().active);
    assert!(sim.user("svc-backup").unwrap().active);
    let runs = cleanup_runs(&history);
    assert!(
        matches!(&runs[0].outcome, Outcome::Failure { status: 409, .. }),
        "{:?}",
        runs[0].outcome
    );
}

#[tokio::test]
async fn the_bridge_cleanup_reads_jira_logins_through_its_embedded_crowd() {
    let app = Credentials::basic("jira-app", "pw");
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.set_embedded_crowd(app.clone());
    let seed = AtlassianProvisioner::jira(SIMULATOR_URL, Credentials::bearer("pat"))
        .client(sim.clone())
        .build()
        .unwrap();
    for name in ["alice", "bob"] {
        block_on(seed.create_user(&ctx(), user(name))).unwrap();
    }
    sim.set_last_login("alice", Some(now() - Duration::days(100)));
    sim.set_last_login("bob", Some(now() - Duration::days(1)));
    let target = TargetClient::data_center(sim.clone(), "a Jira simulator", move || {
        AtlassianProvisioner::jira(SIMULATOR_URL, Credentials::bearer("pat"))
            .embedded_crowd(app.clone())
    });
    let (history, cleanup) = cleanup_over(
        &target,
        "[cleanup]\ninactive_days = 90\nmax_fraction = 0.5\n",
    );
    let last = cleanup.run_now().await.unwrap();
    assert!(last.ok, "{}", last.outcome);
    assert!(
        !sim.user("alice").unwrap().active,
        "deactivated (the default)"
    );
    assert!(sim.user("bob").unwrap().active);
    assert_eq!(cleanup_runs(&history).len(), 1);
}

#[test]
fn bitbucket_logins_come_from_its_admin_user_listing() {
    let admin = Credentials::basic("admin", "pw");
    let sim = Arc::new(BitbucketSimulator::new(admin.clone()));
    let bitbucket = AtlassianProvisioner::bitbucket("https://bitbucket.example.com", admin)
        .client(sim.clone())
        .login_groups(["stash-users"])
        .policy(
            SyncPolicy::builder()
                .exclude("stash-users")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    for name in ["alice", "bob", "svc-ci"] {
        block_on(bitbucket.create_user(&ctx(), user(name))).unwrap();
    }
    sim.set_last_login("alice", Some(now() - Duration::days(120)));
    sim.set_last_login("bob", Some(now() - Duration::days(3)));
    sim.set_last_login("svc-ci", Some(now() - Duration::days(400)));
    let plan = block_on(idle_90_days_but_services().plan(&bitbucket, &ctx())).unwrap();
    assert_eq!(planned(&plan), ["alice"]);
    let report = block_on(plan.apply(&bitbucket, &ctx())).unwrap();
    assert_eq!((report.done, report.failed), (1, 0), "{report}");
    // Bitbucket cannot deactivate: deprovisioning takes alice out of the login group.
    assert!(!sim.can_log_in("alice"));
    assert!(sim.can_log_in("bob"));
    assert!(sim.can_log_in("svc-ci"));
    assert!(
        block_on(idle_90_days_but_services().plan(&bitbucket, &ctx()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn cloud_logins_come_from_the_organizations_api_when_its_key_is_given() {
    let sim = Arc::new(CloudSimulator::new("dir-1", "dir-key"));
    sim.enable_org_api("org-1", "org-key");
    let builder = || {
        CloudProvisioner::builder(sim.directory_url(), "dir-key")
            .client(sim.clone())
            .policy(
                SyncPolicy::builder()
                    .deprovision(DeprovisionAction::Anonymize)
                    .build()
                    .unwrap(),
            )
    };
    let cloud = builder().organization("org-1", "org-key").build().unwrap();
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let mut u = user(name);
        u.user_name = format!("{name}@example.com");
        ids.push(block_on(cloud.create_user(&ctx(), u)).unwrap().id.unwrap());
    }
    sim.set_last_active(&ids[0], Some(now() - Duration::days(200)));
    sim.set_last_active(&ids[1], Some(now() - Duration::days(2)));
    let cleanup = InactiveCleanup::new(90).unwrap().with_options(lenient());
    let plan = block_on(cleanup.plan(&cloud, &ctx())).unwrap();
    assert_eq!(planned(&plan), ["alice@example.com"]);
    block_on(plan.apply(&cloud, &ctx())).unwrap();
    // Anonymized in Cloud, its own values shown to SCIM.
    let shown = block_on(cloud.get_user(&ctx(), &ids[0])).unwrap();
    assert_eq!(
        (shown.user_name.as_str(), shown.active),
        ("alice@example.com", Some(false))
    );
    assert!(block_on(cloud.get_user(&ctx(), &ids[1])).unwrap().active != Some(false));

    // Without the organization's key the cleanup stops, saying what is missing.
    let without = builder().build().unwrap();
    let err = block_on(cleanup.plan(&without, &ctx())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Atlassian Cloud") && text.contains("organization admin API key"),
        "{text}"
    );
}
