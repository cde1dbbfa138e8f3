//! Dry runs: the provisioners read the product, write nothing, and the sync history says
//! which writes would have been made.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::dry_run::DryRunClient;
use scim_atlassian::history::{
    HistoryEntry, HistoryObserver, HistoryQuery, InMemoryHistory, Outcome, RecordingProvisioner,
    SyncHistory,
};
use scim_atlassian::policy::SyncPolicy;
use scim_atlassian::simulator::{CloudSimulator, JiraSimulator};
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{MultiValue, PatchOp, User};

fn user(name: &str, groups: &[&str]) -> User {
    let mut u = User::new(name);
    u.display_name = Some(format!("{name} display"));
    u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
    u.password = Some(scim_core::Password::new("s3cret-Passw0rd"));
    u.groups = groups
        .iter()
        .map(|g| MultiValue {
            display: Some((*g).to_owned()),
            ..MultiValue::default()
        })
        .collect();
    u
}

fn entries(history: &InMemoryHistory) -> Vec<HistoryEntry> {
    block_on(history.list(&HistoryQuery::new())).unwrap()
}

/// The newest entry (listings are newest first).
fn latest(history: &InMemoryHistory) -> HistoryEntry {
    entries(history).into_iter().next().unwrap()
}

fn would_write(entry: &HistoryEntry) -> Vec<String> {
    match &entry.outcome {
        Outcome::DryRun { would_write } => would_write.clone(),
        other => panic!("not a dry run: {other:?}"),
    }
}

fn policy() -> SyncPolicy {
    SyncPolicy::builder()
        .default_group_for_all("jira-software-users")
        .build()
        .unwrap()
}

#[test]
fn jira_dry_run_reads_writes_nothing_and_reports_the_writes() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.add_user("existing", "existing@example.com", "Existing");
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .observer(Arc::new(HistoryObserver::new()))
        .policy(policy())
        .dry_run(true)
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::new());
    let p = RecordingProvisioner::new(jira, history.clone());
    let ctx = RequestContext::new("okta");

    let created = block_on(p.create_user(&ctx, user("bjensen", &["developers"]))).unwrap();
    assert_eq!(created.user_name, "bjensen");
    assert_eq!(sim.write_calls(), 0, "{:?}", sim.call_counts());
    assert!(sim.user("bjensen").is_none());
    assert!(sim.group_members("developers").is_none());

    let entry = latest(&history);
    assert!(!entry.outcome.is_success());
    assert!(
        entry.changes.starts_with("dry run: would have"),
        "{}",
        entry.changes
    );
    let writes = would_write(&entry);
    assert!(
        writes[0].starts_with("POST /rest/api/2/user "),
        "{writes:?}"
    );
    assert!(writes[0].contains(r#""name":"bjensen""#), "{writes:?}");
    assert!(
        !writes.join(" ").contains("s3cret"),
        "passwords are masked: {writes:?}"
    );
    assert!(
        writes
            .iter()
            .any(|w| w.starts_with("POST /rest/api/2/group/user?groupname=developers")),
        "{writes:?}"
    );
    assert!(
        writes
            .iter()
            .any(|w| w.contains("groupname=jira-software-users")),
        "{writes:?}"
    );
    // The held-back calls are marked in the entry's calls.
    assert!(entry.calls.iter().any(|c| c.held_back));
    assert!(
        entry
            .calls
            .iter()
            .filter(|c| c.call.starts_with("GET "))
            .all(|c| !c.held_back)
    );

    // A deactivation of a real user is read from Jira and held back.
    let key = sim.user("existing").unwrap().key;
    sim.reset_calls();
    let patch =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            .unwrap();
    let answer = block_on(p.patch_user(&ctx, &key, &patch, None)).unwrap();
    assert_eq!(answer.active, Some(false));
    assert!(sim.total_calls() > 0);
    assert_eq!(sim.write_calls(), 0);
    assert!(sim.user("existing").unwrap().active);
    let entry = latest(&history);
    assert!(
        would_write(&entry)
            .iter()
            .any(|w| w.starts_with("PUT /rest/api/2/user?key=") && w.contains(r#""active":false"#)),
        "{entry:?}"
    );
}

#[test]
fn cloud_dry_run_reads_writes_nothing_and_reports_the_writes() {
    let sim = Arc::new(CloudSimulator::new("dir-1", "key"));
    let dry = Arc::new(DryRunClient::new(sim.clone()));
    let cloud = CloudProvisioner::builder(sim.directory_url(), "key")
        .client(dry.clone())
        .observer(Arc::new(HistoryObserver::new()))
        .policy(policy())
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::new());
    let p = RecordingProvisioner::new(cloud, history.clone());
    let ctx = RequestContext::new("okta");

    let created = block_on(p.create_user(&ctx, user("bjensen", &["developers"]))).unwrap();
    assert!(created.id.unwrap().starts_with("dry-run-"));
    assert_eq!(sim.user_count(), 0);
    assert_eq!(sim.group_count(), 0);
    let sent = sim.requests();
    assert!(sent.iter().all(|r| r.starts_with("GET ")), "{sent:?}");
    assert!(!sent.is_empty(), "the groups were looked up in Cloud");

    let writes = would_write(&latest(&history));
    assert_eq!(
        writes,
        dry.held_back()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert!(
        writes[0].starts_with("POST /scim/directory/dir-1/Users "),
        "{writes:?}"
    );
    let groups: Vec<&String> = writes.iter().filter(|w| w.contains("/Groups")).collect();
    assert_eq!(
        groups.len(),
        2,
        "developers and the default group: {writes:?}"
    );
    assert!(
        groups
            .iter()
            .any(|w| w.contains(r#""displayName":"jira-software-users""#))
    );
}

#[test]
fn without_a_dry_run_the_outcome_is_success() {
    let sim = Arc::new(CloudSimulator::new("dir-1", "key"));
    let cloud = CloudProvisioner::builder(sim.directory_url(), "key")
        .client(sim.clone())
        .observer(Arc::new(HistoryObserver::new()))
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::new());
    let p = RecordingProvisioner::new(cloud, history.clone());
    block_on(p.create_user(&RequestContext::new("okta"), user("bjensen", &[]))).unwrap();
    assert_eq!(latest(&history).outcome, Outcome::Success);
    assert_eq!(sim.user_count(), 1);
}
