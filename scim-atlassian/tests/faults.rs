//! Every target under a storm of faults: with 20% of calls answered 429 (`Retry-After: 1`)
//! and 10% answered 503 (no `Retry-After`), 100 creates, 100 `PATCH`es and 100 membership
//! changes all succeed, nothing is duplicated, and the products end exactly as in a fault-free
//! run. Also: faults at a given position, after the call was applied, and what the IdP gets
//! when the retry budget runs out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::simulator::{
    BitbucketSimulator, CloudSimulator, ConfluenceSimulator, CrowdSimulator, Fault, JiraSimulator,
};
use scim_atlassian::{
    AtlassianProvisioner, CallObserver, CallRecord, Credentials, RetryPolicy, Sleeper,
};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::{Group, Member, MultiValue, PatchOp, User};

fn ctx() -> RequestContext {
    RequestContext::new("acme")
}

/// A user with a display name and a primary email (Jira and Bitbucket require one).
fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.display_name = Some(format!("{name} display"));
    u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
    u
}

/// Records the waits asked for, without waiting.
#[derive(Default)]
struct Waits(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for Waits {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

impl Waits {
    fn total(&self) -> Duration {
        self.0.lock().unwrap().iter().sum()
    }
}

/// Counts attempts, and retries (attempts after the first) apart.
#[derive(Default)]
struct Attempts(Mutex<(usize, usize)>);

impl CallObserver for Attempts {
    fn on_call(&self, record: &CallRecord) {
        let mut a = self.0.lock().unwrap();
        a.0 += 1;
        if record.attempt > 0 {
            a.1 += 1;
        }
    }
}

/// A fault and the share of calls it hits.
type FaultRate = (Fault, f64);

/// Sets a simulator's fault rates.
type SetRates = Box<dyn Fn(&[FaultRate])>;

/// A product and how to make a fresh target of it.
type Product = (&'static str, fn() -> Target);

/// One target: its provisioner and a way to set its simulator's fault rates.
struct Target {
    p: Box<dyn Provisioner>,
    set_rates: SetRates,
    fail_nth: Box<dyn Fn(usize, Fault)>,
    waits: Arc<Waits>,
    attempts: Arc<Attempts>,
}

const SEED: u64 = 0x5C1A_2026;

fn storm() -> Vec<FaultRate> {
    vec![
        (Fault::RateLimited { retry_after: 1 }, 0.2),
        (Fault::Unavailable, 0.1),
    ]
}

/// A [`Target`] of provisioner `$p` on simulator `$sim` (the simulators share these method
/// names but no trait).
macro_rules! target {
    ($sim:ident, $p:ident, $waits:ident, $attempts:ident) => {
        Target {
            p: Box::new($p),
            set_rates: Box::new({
                let sim = $sim.clone();
                move |r| sim.set_fault_rates(r, SEED)
            }),
            fail_nth: Box::new(move |n, f| $sim.fail_nth(n, f)),
            waits: $waits,
            attempts: $attempts,
        }
    };
}

fn jira() -> Target {
    let sim = Arc::new(JiraSimulator::new(Credentials::basic("admin", "s3cret")));
    let (waits, attempts) = (Arc::new(Waits::default()), Arc::new(Attempts::default()));
    let p = AtlassianProvisioner::jira(
        "https://jira.example.com",
        Credentials::basic("admin", "s3cret"),
    )
    .client(sim.clone())
    .sleeper(waits.clone())
    .observer(attempts.clone())
    .build()
    .unwrap();
    target!(sim, p, waits, attempts)
}

fn crowd() -> Target {
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let (waits, attempts) = (Arc::new(Waits::default()), Arc::new(Attempts::default()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app)
        .client(sim.clone())
        .sleeper(waits.clone())
        .observer(attempts.clone())
        .build()
        .unwrap();
    target!(sim, p, waits, attempts)
}

fn confluence() -> Target {
    let admin = Credentials::bearer("confluence-pat");
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
    let (waits, attempts) = (Arc::new(Waits::default()), Arc::new(Attempts::default()));
    let p = AtlassianProvisioner::confluence("https://wiki.example.com/confluence", admin)
        .client(sim.clone())
        .embedded_crowd(app)
        .sleeper(waits.clone())
        .observer(attempts.clone())
        .build()
        .unwrap();
    target!(sim, p, waits, attempts)
}

fn bitbucket() -> Target {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    let (waits, attempts) = (Arc::new(Waits::default()), Arc::new(Attempts::default()));
    let p = AtlassianProvisioner::bitbucket(
        "https://bitbucket.example.com/bb",
        Credentials::basic("admin", "pw"),
    )
    .client(sim.clone())
    .login_groups(["stash-users"])
    .sleeper(waits.clone())
    .observer(attempts.clone())
    .build()
    .unwrap();
    target!(sim, p, waits, attempts)
}

fn cloud() -> Target {
    let sim = Arc::new(CloudSimulator::new("dir-1", "cloud-key"));
    let (waits, attempts) = (Arc::new(Waits::default()), Arc::new(Attempts::default()));
    let p = CloudProvisioner::builder(sim.directory_url(), "cloud-key")
        .client(sim.clone())
        .sleeper(waits.clone())
        .observer(attempts.clone())
        .build()
        .unwrap();
    target!(sim, p, waits, attempts)
}

/// What a run leaves in the product, read through SCIM without faults: every user
/// (name, display name, active, emails) and the group's members by user name.
type State = (
    Vec<(String, Option<String>, Option<bool>, Vec<String>)>,
    Vec<String>,
);

/// What a run cost: product calls, retries, and the waits asked for.
struct Cost {
    calls: usize,
    retries: usize,
    waited: Duration,
}

/// 100 creates, 100 `PATCH`es of `displayName`, 100 member adds, each of which must succeed,
/// under `rates`; then the state the product is left in.
fn run(t: &Target, rates: &[FaultRate]) -> (State, Cost) {
    let group = block_on(t.p.create_group(&ctx(), Group::new("team"))).unwrap();
    let gid = group.id.unwrap();
    (t.set_rates)(rates);
    let mut ids = Vec::new();
    for i in 0..100 {
        let name = format!("user{i:03}");
        let made = block_on(t.p.create_user(&ctx(), user(&name)))
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        ids.push(made.id.unwrap());
    }
    for (i, id) in ids.iter().enumerate() {
        let patch = PatchOp::from_value(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("Renamed {i}")}]
        }))
        .unwrap();
        block_on(t.p.patch_user(&ctx(), id, &patch, None))
            .unwrap_or_else(|e| panic!("patch {id}: {e}"));
    }
    for id in &ids {
        block_on(t.p.add_members(&ctx(), &gid, &[Member::new(id.clone())]))
            .unwrap_or_else(|e| panic!("add {id}: {e}"));
    }
    (t.set_rates)(&[]);
    let (calls, retries) = *t.attempts.0.lock().unwrap();
    let cost = Cost {
        calls,
        retries,
        waited: t.waits.total(),
    };
    let page =
        block_on(t.p.search_users(&ctx(), &ListQuery::new().with_page(1, Some(1000)))).unwrap();
    let mut users: Vec<_> = page
        .resources
        .into_iter()
        .map(|u| {
            let emails = u.emails.iter().filter_map(|e| e.value.clone()).collect();
            (u.user_name, u.display_name, u.active, emails)
        })
        .collect();
    users.sort();
    let group = block_on(t.p.get_group(&ctx(), &gid)).unwrap();
    let by_id: BTreeMap<String, String> = ids
        .iter()
        .filter_map(|id| {
            let u = block_on(t.p.get_user(&ctx(), id)).ok()?;
            Some((id.clone(), u.user_name))
        })
        .collect();
    let mut members: Vec<String> = group
        .members
        .iter()
        .filter_map(|m| by_id.get(m.value.as_deref()?).cloned())
        .collect();
    members.sort();
    ((users, members), cost)
}

/// The storm against `make`'s target, compared with a fault-free run on a fresh one.
fn storm_against(product: &str, make: fn() -> Target) {
    let (clean, clean_cost) = run(&make(), &[]);
    let (stormy, cost) = run(&make(), &storm());
    assert_eq!(clean.0.len(), 100, "{product}: {:?}", clean.0.first());
    assert_eq!(clean.1.len(), 100, "{product}: every add made");
    assert_eq!(stormy.0.len(), 100, "{product}: no duplicate, none missing");
    assert_eq!(
        stormy, clean,
        "{product}: the same end state as without faults"
    );
    assert!(cost.retries > 0, "{product}: the storm hit");
    eprintln!(
        "{product}: 300 operations, {} calls without faults, {} with ({} retries, {} extra \
         calls incl. read-backs: {:.2} per operation); waits asked: {:.1} s in all, {:.0} ms \
         per operation",
        clean_cost.calls,
        cost.calls,
        cost.retries,
        cost.calls - clean_cost.calls,
        f64::from(u32::try_from(cost.calls - clean_cost.calls).unwrap()) / 300.0,
        cost.waited.as_secs_f64(),
        cost.waited.as_secs_f64() * 1000.0 / 300.0,
    );
}

#[test]
fn jira_survives_the_storm() {
    storm_against("Jira", jira);
}

#[test]
fn crowd_survives_the_storm() {
    storm_against("Crowd", crowd);
}

#[test]
fn confluence_survives_the_storm() {
    storm_against("Confluence", confluence);
}

#[test]
fn bitbucket_survives_the_storm() {
    storm_against("Bitbucket", bitbucket);
}

#[test]
fn cloud_survives_the_storm() {
    storm_against("Cloud", cloud);
}

/// A user as SCIM shows it, without what differs from run to run (ids, timestamps).
fn essence(
    u: &User,
) -> (
    String,
    Option<String>,
    Option<bool>,
    Vec<String>,
    Vec<String>,
) {
    (
        u.user_name.clone(),
        u.display_name.clone(),
        u.active,
        u.emails.iter().filter_map(|e| e.value.clone()).collect(),
        u.groups.iter().filter_map(|g| g.display.clone()).collect(),
    )
}

#[test]
fn a_call_failing_after_it_was_applied_at_any_position_leaves_the_same_user() {
    let targets: [Product; 5] = [
        ("Jira", jira),
        ("Crowd", crowd),
        ("Confluence", confluence),
        ("Bitbucket", bitbucket),
        ("Cloud", cloud),
    ];
    let faults = [
        Fault::Timeout,
        Fault::Dropped,
        Fault::Status(500),
        Fault::Unavailable,
    ];
    for (product, make) in targets {
        let clean = make();
        block_on(clean.p.create_group(&ctx(), Group::new("team"))).unwrap();
        let want = block_on(clean.p.create_user(&ctx(), user("pat"))).unwrap();
        let gid = "team";
        let (calls, _) = *clean.attempts.0.lock().unwrap();
        // Every call of the create, each failing after it was applied.
        for nth in 1..calls {
            for fault in &faults {
                let t = make();
                let group = block_on(t.p.create_group(&ctx(), Group::new("team"))).unwrap();
                (t.fail_nth)(nth, Fault::after_applying(fault.clone()));
                let got = block_on(t.p.create_user(&ctx(), user("pat")))
                    .unwrap_or_else(|e| panic!("{product}, call {nth}, {fault:?}: {e}"));
                assert_eq!(
                    essence(&got),
                    essence(&want),
                    "{product}, call {nth}, {fault:?}"
                );
                let all = block_on(t.p.search_users(&ctx(), &ListQuery::new())).unwrap();
                assert_eq!(
                    all.total_results, 1,
                    "{product}, call {nth}, {fault:?}: no duplicate"
                );
                // The membership add, failing after it was applied.
                (t.fail_nth)(1, Fault::after_applying(fault.clone()));
                let gid = group.id.clone().unwrap_or_else(|| gid.to_owned());
                let member = [Member::new(got.id.clone().unwrap())];
                block_on(t.p.add_members(&ctx(), &gid, &member))
                    .unwrap_or_else(|e| panic!("{product}, add, {fault:?}: {e}"));
                let group = block_on(t.p.get_group(&ctx(), &gid)).unwrap();
                assert_eq!(group.members.len(), 1, "{product}, add, {fault:?}");
            }
        }
    }
}

#[test]
fn when_the_budget_runs_out_the_idp_gets_503_with_retry_after_and_the_history_every_attempt() {
    use scim_atlassian::history::{
        HistoryObserver, HistoryQuery, InMemoryHistory, RecordingProvisioner, SyncHistory,
    };
    let sim = Arc::new(JiraSimulator::new(Credentials::basic("admin", "s3cret")));
    let waits = Arc::new(Waits::default());
    let jira = AtlassianProvisioner::jira(
        "https://jira.example.com",
        Credentials::basic("admin", "s3cret"),
    )
    .client(sim.clone())
    .sleeper(waits.clone())
    .retry(RetryPolicy::default().with_budget(Duration::from_secs(10)))
    .observer(Arc::new(HistoryObserver::new()))
    .build()
    .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(10));
    let recorded = Arc::new(RecordingProvisioner::new(jira, history.clone()));
    let tokens = scim_core::BearerTokens::new().with_token("idp-token", "acme");
    let service = scim_core::ScimService::builder(recorded)
        .authenticator(Arc::new(tokens))
        .build();
    // Jira throttles every call, asking for 3 s each time: three waits fit in 10 s.
    sim.set_fault_rates(&[(Fault::RateLimited { retry_after: 3 }, 1.0)], SEED);
    let body = serde_json::to_vec(&user("pat")).unwrap();
    let request = http::Request::post("/scim/v2/Users")
        .header("content-type", "application/scim+json")
        .header("authorization", "Bearer idp-token")
        .body(body)
        .unwrap();
    let response = block_on(service.handle(request));
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    let error: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("Jira POST /user"), "{detail}");
    assert!(detail.contains("gave up after 3 retries"), "{detail}");
    assert_eq!(waits.0.lock().unwrap().len(), 3);
    assert!(waits.total() <= Duration::from_secs(10));
    assert_eq!(sim.user_count(), 0, "nothing half-written");
    let entries = block_on(history.list(&HistoryQuery::new())).unwrap();
    let attempts: Vec<(String, Option<u16>, u32)> = entries[0]
        .calls
        .iter()
        .map(|c| (c.call.clone(), c.status, c.attempt))
        .collect();
    assert_eq!(
        attempts,
        (0..4)
            .map(|a| ("POST /user".to_owned(), Some(429), a))
            .collect::<Vec<_>>()
    );
    assert!(!entries[0].outcome.is_success());
}

#[test]
fn a_group_patch_with_members_excluded_does_not_read_the_members_back() {
    let sim = Arc::new(JiraSimulator::new(Credentials::basic("admin", "s3cret")));
    let jira = AtlassianProvisioner::jira(
        "https://jira.example.com",
        Credentials::basic("admin", "s3cret"),
    )
    .client(sim.clone())
    .build()
    .unwrap();
    let id = block_on(jira.create_user(&ctx(), user("pat")))
        .unwrap()
        .id
        .unwrap();
    block_on(jira.create_group(&ctx(), Group::new("team"))).unwrap();
    let tokens = scim_core::BearerTokens::new().with_token("idp-token", "acme");
    let service = scim_core::ScimService::builder(Arc::new(jira))
        .authenticator(Arc::new(tokens))
        .build();
    let add = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]
    });
    for (query, reads_members) in [("?excludedAttributes=members", 0), ("", 1)] {
        sim.reset_calls();
        let request = http::Request::patch(format!("/scim/v2/Groups/team{query}"))
            .header("content-type", "application/scim+json")
            .header("authorization", "Bearer idp-token")
            .body(serde_json::to_vec(&add).unwrap())
            .unwrap();
        let response = block_on(service.handle(request));
        assert_eq!(response.status(), 200, "{query}");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["displayName"], "team");
        assert_eq!(
            body.get("members").is_some(),
            reads_members == 1,
            "{query}: {body}"
        );
        assert_eq!(sim.calls("GET", "/group/member"), reads_members, "{query}");
        assert_eq!(sim.calls("POST", "/group/user"), 1, "{query}");
    }
    assert_eq!(sim.group_members("team").unwrap(), ["pat"]);
}

/// Product calls one SCIM operation makes on `t`, counted by the transport's observer.
fn calls_of(t: &Target, op: impl FnOnce()) -> usize {
    let before = t.attempts.0.lock().unwrap().0;
    op();
    t.attempts.0.lock().unwrap().0 - before
}

#[test]
fn calls_per_operation_on_every_target() {
    let targets: [Product; 5] = [
        ("Jira", jira),
        ("Crowd", crowd),
        ("Confluence", confluence),
        ("Bitbucket", bitbucket),
        ("Cloud", cloud),
    ];
    let lean = ctx().with_members_returned(false);
    let title = PatchOp::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Guide"}]
    }))
    .unwrap();
    let deactivate = PatchOp::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    }))
    .unwrap();
    for (product, make) in targets {
        let t = make();
        let small = block_on(t.p.create_group(&ctx(), Group::new("small"))).unwrap();
        let big = block_on(t.p.create_group(&ctx(), Group::new("big"))).unwrap();
        let (small, big) = (small.id.unwrap(), big.id.unwrap());
        let mut ids = Vec::new();
        for i in 0..1000 {
            ids.push(
                block_on(t.p.create_user(&ctx(), user(&format!("m{i:04}"))))
                    .unwrap()
                    .id
                    .unwrap(),
            );
        }
        let all: Vec<Member> = ids.iter().map(Member::new).collect();
        block_on(t.p.add_members(&lean, &big, &all)).unwrap();
        block_on(t.p.add_members(&lean, &small, &all[..10])).unwrap();
        let mut id = String::new();
        let create = calls_of(&t, || {
            id = block_on(t.p.create_user(&ctx(), user("pat")))
                .unwrap()
                .id
                .unwrap();
        });
        let patch = calls_of(&t, || {
            block_on(t.p.patch_user(&ctx(), &id, &title, None)).unwrap();
        });
        let me = [Member::new(&id)];
        let add_10 = calls_of(&t, || {
            block_on(t.p.add_members(&lean, &small, &me)).unwrap();
        });
        let add_1000 = calls_of(&t, || {
            block_on(t.p.add_members(&lean, &big, &me)).unwrap();
        });
        let shown_1000 = calls_of(&t, || {
            block_on(t.p.remove_members(&ctx(), &big, std::slice::from_ref(&id))).unwrap();
        });
        let off = calls_of(&t, || {
            block_on(t.p.patch_user(&ctx(), &id, &deactivate, None)).unwrap();
        });
        let delete = calls_of(&t, || {
            block_on(t.p.delete_user(&ctx(), &id, None)).unwrap();
        });
        eprintln!(
            "| {product} | {create} | {patch} | {add_10} | {add_1000} | {shown_1000} | {off} | {delete} |"
        );
        assert_eq!(
            add_10, add_1000,
            "{product}: a member add costs the same at any size"
        );
        assert!(add_1000 <= 3, "{product}: O(1) member add: {add_1000}");
    }
}
