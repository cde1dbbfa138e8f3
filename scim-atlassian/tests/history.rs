//! Sync history around the Jira provisioner: one entry per operation, with its Jira calls and
//! outcome, over the Jira simulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use scim_atlassian::history::{
    HistoryObserver, HistoryQuery, InMemoryHistory, JsonLinesHistory, Outcome,
    RecordingProvisioner, SyncHistory,
};
use scim_atlassian::simulator::{Fault, JiraSimulator};
use scim_atlassian::{AtlassianProvisioner, CallCounter, Credentials};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{Group, Member, MultiValue, PatchOp, User};

struct Setup {
    sim: Arc<JiraSimulator>,
    history: Arc<InMemoryHistory>,
    counter: Arc<CallCounter>,
    p: RecordingProvisioner<AtlassianProvisioner>,
}

fn setup() -> Setup {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let counter = Arc::new(CallCounter::new());
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .observer(Arc::new(HistoryObserver::new().then(counter.clone())))
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(100));
    let p = RecordingProvisioner::new(jira, history.clone());
    Setup {
        sim,
        history,
        counter,
        p,
    }
}

fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.display_name = Some(format!("{name} display"));
    u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
    u
}

fn list(h: &dyn SyncHistory, query: &HistoryQuery) -> Vec<scim_atlassian::history::HistoryEntry> {
    block_on(h.list(query)).unwrap()
}

#[test]
fn a_successful_create_is_recorded_with_its_jira_calls() {
    let s = setup();
    let ctx = RequestContext::new("okta").with_request_id("req-create");
    let created = block_on(s.p.create_user(&ctx, user("bjensen"))).unwrap();
    let entries = list(&*s.history, &HistoryQuery::new());
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.tenant, "okta");
    assert_eq!(e.request_id, "req-create");
    assert_eq!(e.operation.method, "POST");
    assert_eq!(e.operation.resource_type, "User");
    assert_eq!(e.operation.id, created.id);
    assert_eq!(e.operation.name.as_deref(), Some("bjensen"));
    assert!(e.outcome.is_success());
    assert!(e.changes.contains("created user bjensen"), "{}", e.changes);
    let calls: Vec<&str> = e.calls.iter().map(|c| c.call.as_str()).collect();
    assert!(calls.contains(&"POST /user"), "{calls:?}");
    assert_eq!(
        e.calls.len(),
        s.counter.total(),
        "the chained observer saw the same calls"
    );
    assert!(e.calls.iter().all(|c| !c.call.contains('?')));
    // Reads are not recorded by default.
    block_on(s.p.get_user(&ctx, created.id.as_deref().unwrap())).unwrap();
    assert_eq!(s.history.len(), 1);
}

#[test]
fn a_failure_is_recorded_with_its_status_and_detail() {
    let s = setup();
    let ctx = RequestContext::new("entra");
    block_on(s.p.create_user(&ctx, user("bjensen"))).unwrap();
    let err = block_on(s.p.create_user(&ctx, user("BJensen"))).unwrap_err();
    let entries = list(&*s.history, &HistoryQuery::new().tenant("entra"));
    assert_eq!(entries.len(), 2);
    let e = &entries[0];
    match &e.outcome {
        Outcome::Failure { status, detail, .. } => {
            assert_eq!(*status, err.status().as_u16());
            assert!(!detail.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.changes, "nothing changed");
    assert!(list(&*s.history, &HistoryQuery::new().tenant("okta")).is_empty());
}

#[test]
fn a_partial_failure_says_what_was_written() {
    let s = setup();
    let ctx = RequestContext::new("okta");
    let a = block_on(s.p.create_user(&ctx, user("alice"))).unwrap();
    let b = block_on(s.p.create_user(&ctx, user("bob"))).unwrap();
    let group = block_on(s.p.create_group(&ctx, Group::new("jira-users"))).unwrap();
    // The second membership add fails after the first was accepted.
    s.sim
        .fail_call("POST", "/group/user", 2, Fault::Status(403));
    let members = [
        Member::new(a.id.clone().unwrap()),
        Member::new(b.id.clone().unwrap()),
    ];
    let gid = group.id.clone().unwrap();
    assert!(block_on(s.p.add_members(&ctx, &gid, &members)).is_err());
    let e = &list(&*s.history, &HistoryQuery::new().limit(1))[0];
    assert!(!e.outcome.is_success());
    assert!(
        e.changes.starts_with("partially applied: 1 write(s)"),
        "{}",
        e.changes
    );
    assert!(e.changes.contains("POST /group/user"), "{}", e.changes);
    // The next attempt converges, and says so.
    block_on(s.p.add_members(&ctx, &gid, &members)).unwrap();
    let e = &list(&*s.history, &HistoryQuery::new().limit(1))[0];
    assert!(e.outcome.is_success());
    assert_eq!(s.sim.group_members("jira-users").unwrap().len(), 2);
}

#[test]
fn an_operation_that_changes_nothing_says_so() {
    let s = setup();
    let ctx = RequestContext::new("okta");
    let u = block_on(s.p.create_user(&ctx, user("carol"))).unwrap();
    let id = u.id.clone().unwrap();
    let patch =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            .unwrap();
    block_on(s.p.patch_user(&ctx, &id, &patch, None)).unwrap();
    let e = &list(&*s.history, &HistoryQuery::new().limit(1))[0];
    assert_eq!(e.operation.name.as_deref(), Some("carol"));
    assert!(
        e.changes.contains("replace active") && e.changes.contains("inactive"),
        "{}",
        e.changes
    );
    assert!(!s.sim.user("carol").unwrap().active);
    block_on(s.p.patch_user(&ctx, &id, &patch, None)).unwrap();
    let e = &list(&*s.history, &HistoryQuery::new().limit(1))[0];
    assert!(e.changes.starts_with("no change"), "{}", e.changes);
}

#[test]
fn without_an_observer_the_operation_and_outcome_are_recorded() {
    let history = Arc::new(InMemoryHistory::new());
    let p =
        RecordingProvisioner::new(InMemoryProvisioner::new(), history.clone()).record_reads(true);
    let ctx = RequestContext::new("t");
    let u = block_on(p.create_user(&ctx, User::new("dave"))).unwrap();
    assert!(block_on(p.get_user(&ctx, "missing")).is_err());
    block_on(p.delete_user(&ctx, u.id.as_deref().unwrap(), None)).unwrap();
    let entries = list(&*history, &HistoryQuery::new());
    let methods: Vec<&str> = entries
        .iter()
        .map(|e| e.operation.method.as_str())
        .collect();
    assert_eq!(methods, ["DELETE", "GET", "POST"]);
    assert!(entries.iter().all(|e| e.calls.is_empty()));
    assert_eq!(entries[1].changes, "failed");
    assert!(entries[0].changes.starts_with("deleted user"));
}

#[test]
fn entries_go_to_a_file() {
    let dir = std::env::temp_dir().join(format!("scim-history-wrapper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.jsonl");
    let _ = std::fs::remove_file(&path);
    let history = Arc::new(JsonLinesHistory::open(&path).unwrap());
    let p = RecordingProvisioner::new(InMemoryProvisioner::new(), history);
    block_on(p.create_user(&RequestContext::new("t"), User::new("erin"))).unwrap();
    let reopened = JsonLinesHistory::open(&path).unwrap();
    let entries = list(&reopened, &HistoryQuery::new());
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].operation.name.as_deref(), Some("erin"));
}

/// A history that cannot write.
struct Broken;

#[async_trait::async_trait]
impl SyncHistory for Broken {
    async fn record(
        &self,
        _: scim_atlassian::history::HistoryEntry,
    ) -> Result<(), scim_atlassian::history::HistoryError> {
        let dir = std::env::temp_dir();
        // Opening a directory as the history file fails: a real I/O error to report.
        JsonLinesHistory::open(&dir).map(|_| ())
    }

    async fn list(
        &self,
        _: &HistoryQuery,
    ) -> Result<Vec<scim_atlassian::history::HistoryEntry>, scim_atlassian::history::HistoryError>
    {
        Ok(Vec::new())
    }
}

#[test]
fn record_errors_are_reported_not_raised() {
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = errors.clone();
    let p = RecordingProvisioner::new(InMemoryProvisioner::new(), Arc::new(Broken))
        .on_record_error(move |e| sink.lock().unwrap().push(e.to_string()));
    block_on(p.create_user(&RequestContext::new("t"), User::new("frank"))).unwrap();
    assert_eq!(errors.lock().unwrap().len(), 1);
}

/// The wrapper changes no behaviour: the provisioner conformance checks pass through it.
#[test]
fn conformance_through_the_wrapper() {
    let lenient = || {
        let s = setup();
        s.sim.require_email(false);
        s
    };
    let s = lenient();
    block_on(conformance::user_crud(&s.p, "t"));
    assert!(!s.history.is_empty());
    block_on(conformance::group_membership(&lenient().p, "t"));
    block_on(conformance::patch_users(&lenient().p, "t"));
}

/// Operations running at the same time on several threads each get only their own calls.
#[test]
fn concurrent_operations_keep_their_calls_apart() {
    let s = Arc::new(setup());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let ctx = RequestContext::new("t").with_request_id(format!("r{i}"));
                block_on(s.p.create_user(&ctx, user(&format!("user{i}")))).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let entries = list(&*s.history, &HistoryQuery::new());
    assert_eq!(entries.len(), 8);
    for e in &entries {
        assert_eq!(
            e.calls.iter().filter(|c| c.call == "POST /user").count(),
            1,
            "{e:?}"
        );
    }
}
