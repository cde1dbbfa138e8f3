//! `AtlassianProvisioner` against the Jira simulator: the conformance suite, call counts,
//! errors and retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{ctx, user};
use scim_atlassian::simulator::{Fault, JiraSimulator};
use scim_atlassian::{AtlassianProvisioner, Credentials, Sleeper};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{Group, Member, PatchOp, ScimType, User};

/// Records the waits instead of waiting.
#[derive(Default)]
struct Instant(Mutex<Vec<Duration>>);

#[async_trait]
impl Sleeper for Instant {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

struct Setup {
    sim: Arc<JiraSimulator>,
    waits: Arc<Instant>,
    p: AtlassianProvisioner,
}

/// A builder for the test Jira at `sim`, with the credentials it accepts.
fn jira(sim: Arc<JiraSimulator>) -> scim_atlassian::AtlassianBuilder {
    AtlassianProvisioner::jira(
        "https://jira.example.com/jira/",
        Credentials::basic("admin", "s3cret"),
    )
    .client(sim)
}

fn setup() -> Setup {
    let sim = Arc::new(JiraSimulator::new(Credentials::basic("admin", "s3cret")));
    let waits = Arc::new(Instant::default());
    let p = jira(sim.clone()).sleeper(waits.clone()).build().unwrap();
    Setup { sim, waits, p }
}

/// The suite's users have no email, which Jira requires: its checks run with the simulator
/// accepting users without one (`jira_requires_an_email` covers the real behaviour).
fn lenient() -> Setup {
    let s = setup();
    s.sim.require_email(false);
    s
}

/// A Jira before 8.3 whose embedded Crowd API lets the `scim-app` application in (the
/// provisioner does not know of it).
fn old_jira() -> Setup {
    let s = lenient();
    s.sim.set_before_8_3(true);
    s.sim
        .set_embedded_crowd(Credentials::basic("scim-app", "app-secret"));
    s
}

/// A provisioner for the test Jira sending `Bearer {token}` (which it refuses).
fn with_token(sim: &Arc<JiraSimulator>, token: &str) -> AtlassianProvisioner {
    AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer(token))
        .client(sim.clone())
        .build()
        .unwrap()
}

/// Creates user `name` (with an email) through `p`; its id.
fn create(p: &AtlassianProvisioner, name: &str) -> String {
    block_on(p.create_user(&ctx(), user(name)))
        .unwrap()
        .id
        .unwrap()
}

/// Group `name` with the users `ids` as members.
fn group(name: &str, ids: &[&str]) -> Group {
    let mut g = Group::new(name);
    g.members = ids.iter().copied().map(Member::new).collect();
    g
}

/// A PATCH replacing `path` with `value`.
fn replace(path: &str, value: impl Into<serde_json::Value>) -> PatchOp {
    let body = serde_json::json!({
        "Operations": [{"op": "replace", "path": path, "value": value.into()}]
    });
    PatchOp::from_slice(body.to_string().as_bytes()).unwrap()
}

common::conformance_suite!(lenient().p);

#[test]
fn tenants_share_the_one_jira() {
    let s = lenient();
    let a = block_on(s.p.create_user(&RequestContext::new("a"), user("bjensen"))).unwrap();
    let got = block_on(s.p.get_user(&RequestContext::new("b"), a.id.as_deref().unwrap()));
    assert!(
        got.is_ok(),
        "the tenant is recorded, not used for isolation"
    );
}

#[test]
fn create_is_one_create_and_one_property_put() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    u.title = Some("Tour Guide".to_owned());
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 1);
    assert_eq!(s.sim.calls("PUT", "/user/properties/scim-rs"), 1);
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());

    let key = created.id.clone().unwrap();
    assert!(key.starts_with("JIRAUSER"), "the id is the Jira key");
    let jira = s.sim.user("bjensen").unwrap();
    assert_eq!(jira.email, "bjensen@example.com");
    assert_eq!(jira.display_name, "bjensen display");
    let prop = s.sim.property(&key, "scim-rs").unwrap();
    assert_eq!(prop["externalId"], "ext-42");
    assert_eq!(prop["attributes"]["title"], "Tour Guide");

    let read = block_on(s.p.get_user(&ctx(), &key)).unwrap();
    assert_eq!(read, created, "a read returns what the create did");
}

#[test]
fn a_patch_that_changes_nothing_writes_nothing() {
    let s = setup();
    let created = block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let id = created.id.clone().unwrap();
    s.sim.reset_calls();
    let same = PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"displayName","value":"bjensen display"},
            {"op":"replace","path":"active","value":true}]}"#,
    )
    .unwrap();
    let patched = block_on(s.p.patch_user(&ctx(), &id, &same, None)).unwrap();
    assert_eq!(s.sim.write_calls(), 0, "{:?}", s.sim.call_counts());
    assert_eq!(patched.meta, created.meta, "same version");

    let rename = replace("userName", "barbara");
    s.sim.reset_calls();
    let renamed = block_on(s.p.patch_user(&ctx(), &id, &rename, None)).unwrap();
    assert_eq!(renamed.id.as_deref(), Some(id.as_str()), "the key survives");
    assert_eq!(s.sim.calls("PUT", "/user"), 1);
    assert_eq!(s.sim.user("barbara").unwrap().key, id);

    let deactivate = replace("active", false);
    block_on(s.p.patch_user(&ctx(), &id, &deactivate, None)).unwrap();
    assert!(!s.sim.user("barbara").unwrap().active);
}

#[test]
fn jira_requires_an_email() {
    let s = setup();
    let err = block_on(s.p.create_user(&ctx(), User::new("noemail"))).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.detail().contains("email"), "{err}");
    assert_eq!(s.sim.user_count(), 0);
    // Discovery says so (`/Schemas` marks `emails` required), and that group names are
    // fixed under the default GroupRename::Refuse.
    let caps = s.p.capabilities();
    assert!(caps.requires_user_attribute("emails"), "{caps:?}");
    assert!(caps.fixed_group_names, "{caps:?}");
}

#[test]
fn jira_errors_become_scim_errors() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let err = block_on(s.p.create_user(&ctx(), user("BJensen"))).unwrap_err();
    assert_eq!(err.status(), 409);
    assert_eq!(err.scim_type(), Some(ScimType::Uniqueness));

    let err = block_on(s.p.get_user(&ctx(), "JIRAUSER999")).unwrap_err();
    assert_eq!(err.status(), 404);

    s.sim.fail_next(1, &Fault::Status(403));
    let err = block_on(s.p.get_user(&ctx(), "JIRAUSER10000")).unwrap_err();
    assert_eq!(err.status(), 403);
    assert!(err.detail().contains("GET /user"), "{err}");
    assert!(err.detail().contains("Injected failure"), "{err}");

    s.sim.fail_next(1, &Fault::Status(501));
    let err = block_on(s.p.get_user(&ctx(), "JIRAUSER10000")).unwrap_err();
    assert_eq!(err.status(), 502, "Jira failing is a bad gateway");
    // A transient 500 on a read is retried.
    s.sim.fail_next(1, &Fault::Status(500));
    block_on(s.p.get_user(&ctx(), "JIRAUSER10000")).unwrap();

    let wrong = with_token(&s.sim, "leaked?");
    let err = block_on(wrong.get_user(&ctx(), "JIRAUSER10000")).unwrap_err();
    assert_eq!(
        err.status(),
        502,
        "our credentials refused: not the SCIM client's fault"
    );
    assert!(!err.detail().contains("leaked?") && !err.detail().contains("s3cret"));
    assert!(!format!("{wrong:?}").contains("leaked?"));
}

#[test]
fn rate_limits_are_retried_after_retry_after() {
    let s = setup();
    let id = create(&s.p, "bjensen");
    s.sim.reset_calls();
    s.sim.fail_next(1, &Fault::RateLimited { retry_after: 2 });
    s.sim
        .fail_call("GET", "/user/properties/scim-rs", 1, Fault::Unavailable);
    let got = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(got.user_name, "bjensen");
    assert_eq!(s.sim.calls("GET", "/user"), 2);
    assert_eq!(s.sim.calls("GET", "/user/properties/scim-rs"), 2);
    let waits = s.waits.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] >= Duration::from_secs(2) && waits[0] <= Duration::from_millis(2200));
    assert!(
        waits[1] <= Duration::from_millis(250),
        "backoff without Retry-After"
    );

    s.sim.fail_next(10, &Fault::Unavailable);
    let err = block_on(s.p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status(), 503, "retries are bounded");
}

#[test]
fn a_post_is_retried_when_not_processed_and_read_back_when_it_may_have_been() {
    let s = setup();
    // 429: not processed, so sent again after Retry-After.
    s.sim.fail_next(1, &Fault::RateLimited { retry_after: 1 });
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 2);
    assert_eq!(s.waits.0.lock().unwrap().len(), 1);
    // A timeout before Jira applied it: read back (not there), then created once.
    s.sim.reset_calls();
    s.sim.fail_next(1, &Fault::Timeout);
    block_on(s.p.create_user(&ctx(), user("alice"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 2);
    // Applied, then the answer lost: the read-back finds it, nothing is sent twice.
    s.sim.reset_calls();
    s.sim
        .fail_call("POST", "/user", 1, Fault::after_applying(Fault::Dropped));
    let carol = block_on(s.p.create_user(&ctx(), user("carol"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 1);
    assert_eq!(carol.user_name, "carol");
    assert!(
        s.sim
            .property(carol.id.as_deref().unwrap(), "scim-rs")
            .is_some_and(|p| p["created"].is_string()),
        "the rest of the create went on"
    );
    // A 503 without Retry-After after applying it: the same.
    s.sim.reset_calls();
    s.sim.fail_call(
        "POST",
        "/user",
        1,
        Fault::after_applying(Fault::Unavailable),
    );
    block_on(s.p.create_user(&ctx(), user("dave"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 1);
    assert_eq!(s.sim.user_count(), 4, "no duplicate");
}

#[test]
fn groups_are_named_by_their_jira_name_and_cannot_be_renamed() {
    let s = setup();
    let a = create(&s.p, "alice");
    let g = group("jira-developers", &[&a]);
    let g = block_on(s.p.create_group(&ctx(), g)).unwrap();
    assert_eq!(g.id.as_deref(), Some("jira-developers"));
    assert_eq!(s.sim.group_members("jira-developers").unwrap(), ["alice"]);
    let alice = block_on(s.p.get_user(&ctx(), &a)).unwrap();
    assert_eq!(alice.groups[0].value.as_deref(), Some("jira-developers"));

    let rename = replace("displayName", "devs");
    let err = block_on(s.p.patch_group(&ctx(), "jira-developers", &rename, None)).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.scim_type(), Some(ScimType::Mutability), "{err}");
    assert!(err.detail().contains("cannot rename"), "{err}");

    // On-the-fly mapping (the default policy) uses a Jira group that already exists.
    let adopted = block_on(s.p.create_group(&ctx(), Group::new("JIRA-developers"))).unwrap();
    assert_eq!(adopted.members.len(), 1, "the group keeps its members");
    assert_eq!(s.sim.group_names(), ["jira-developers"]);
}

#[test]
fn a_failure_in_the_middle_of_a_group_create_says_what_was_done() {
    let s = setup();
    let a = create(&s.p, "alice");
    let b = create(&s.p, "bob");
    s.sim
        .fail_call("POST", "/group/user", 2, Fault::Status(403));
    let g = group("devs", &[&a, &b]);
    let err = block_on(s.p.create_group(&ctx(), g)).unwrap_err();
    assert_eq!(err.status(), 403);
    assert!(
        err.detail().contains("created with 1 of 2 members"),
        "{err}"
    );
    assert_eq!(s.sim.group_members("devs").unwrap(), ["alice"]);
    // The next operation converges.
    let fixed = block_on(s.p.add_members(&ctx(), "devs", &[Member::new(&b)])).unwrap();
    assert_eq!(fixed.members.len(), 2);
}

#[test]
fn configuration_errors() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("x")));
    let err = AtlassianProvisioner::jira("not a url", Credentials::bearer("x"))
        .client(sim.clone())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("base URL"), "{err}");
    let err = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("x"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("HttpClient"), "{err}");
    let err = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("x"))
        .client(sim)
        .property_key("bad/key")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("property key"), "{err}");
}

#[test]
fn user_name_and_external_id_lookups_are_pushed_down() {
    let s = setup();
    for (name, ext) in [("alice", "e-1"), ("bob", "e-2"), ("carol", "E-1")] {
        let mut u = user(name);
        u.external_id = Some(ext.to_owned());
        block_on(s.p.create_user(&ctx(), u)).unwrap();
    }
    let query =
        |text: &str| scim_core::provision::ListQuery::new().with_filter(text.parse().unwrap());
    s.sim.reset_calls();
    let page = block_on(s.p.search_users(&ctx(), &query(r#"userName eq "BOB""#))).unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(page.resources[0].external_id.as_deref(), Some("e-2"));
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());
    assert_eq!(s.sim.calls("GET", "/user/search"), 0);

    s.sim.reset_calls();
    let page = block_on(s.p.search_users(&ctx(), &query(r#"externalId eq "e-1""#))).unwrap();
    let names: Vec<&str> = page
        .resources
        .iter()
        .map(|u| u.user_name.as_str())
        .collect();
    assert_eq!(names, ["alice"], "externalId is caseExact");
    // One page of users, and an empty one that ends the listing.
    assert_eq!(s.sim.calls("GET", "/user/search"), 2);
    assert_eq!(s.sim.calls("GET", "/user/properties/scim-rs"), 3);
    assert_eq!(
        s.sim.calls("GET", "/user"),
        1,
        "only the match is read in full"
    );

    let page = block_on(s.p.search_users(&ctx(), &query(r#"userName eq "nobody""#))).unwrap();
    assert_eq!(page.total_results, 0);
}

#[test]
fn a_user_created_without_its_property_says_so_and_a_replace_converges() {
    let s = setup();
    s.sim
        .fail_call("PUT", "/user/properties/scim-rs", 1, Fault::Status(403));
    let mut u = user("bjensen");
    u.external_id = Some("ext-1".to_owned());
    let err = block_on(s.p.create_user(&ctx(), u.clone())).unwrap_err();
    assert_eq!(err.status(), 403);
    assert!(err.detail().contains("was created"), "{err}");
    let key = s.sim.user("bjensen").unwrap().key;
    let before = block_on(s.p.get_user(&ctx(), &key)).unwrap();
    assert_eq!(before.external_id, None);
    let after = block_on(s.p.replace_user(&ctx(), &key, u, None)).unwrap();
    assert_eq!(after.external_id.as_deref(), Some("ext-1"));
    assert_eq!(
        s.sim.property(&key, "scim-rs").unwrap()["externalId"],
        "ext-1"
    );
}

#[test]
fn a_server_capping_search_pages_lower_still_lists_everyone() {
    let s = setup();
    s.sim.set_search_cap(3);
    for i in 0..10 {
        s.sim.add_user(
            &format!("user{i:02}"),
            "u@example.com",
            &format!("User {i}"),
        );
    }
    let query = scim_core::provision::ListQuery::new()
        .with_filter(r#"displayName sw "user""#.parse().unwrap());
    let page = block_on(s.p.search_users(&ctx(), &query)).unwrap();
    assert_eq!(page.total_results, 10);
    // 4 pages of 3, 3, 3, 1 and an empty one that ends the listing.
    assert_eq!(s.sim.calls("GET", "/user/search"), 5);
    let page = block_on(
        s.p.search_users(
            &ctx(),
            &scim_core::provision::ListQuery::new()
                .with_filter(r#"externalId eq "none""#.parse().unwrap()),
        ),
    )
    .unwrap();
    assert_eq!(page.total_results, 0);
}

#[test]
fn an_observer_sees_every_call_and_retry() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let counter = Arc::new(scim_atlassian::CallCounter::new());
    let p = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .sleeper(Arc::new(Instant::default()))
        .observer(counter.clone())
        .build()
        .unwrap();
    let id = create(&p, "bjensen");
    assert_eq!(counter.count("POST /user"), 1);
    assert_eq!(counter.count("PUT /user/properties/scim-rs"), 1);
    sim.fail_next(1, &Fault::Unavailable);
    block_on(p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(
        counter.count("GET /user"),
        2,
        "the retry is a call of its own"
    );
    assert_eq!(counter.total(), sim.total_calls());
    assert_eq!(counter.writes(), 2);
}

#[test]
fn listings_on_jira_fields_read_only_the_page_in_full() {
    use scim_core::SortOrder;
    use scim_core::provision::ListQuery;
    let s = setup();
    for i in 0..10 {
        let mut u = user(&format!("user{i}"));
        u.active = Some(i % 2 == 0);
        u.title = Some("kept in the property".to_owned());
        block_on(s.p.create_user(&ctx(), u)).unwrap();
    }
    s.sim.reset_calls();
    let query = ListQuery::new()
        .with_filter("active eq true".parse().unwrap())
        .with_sort("userName".parse().unwrap(), SortOrder::Descending)
        .with_page(2, Some(2));
    let page = block_on(s.p.search_users(&ctx(), &query)).unwrap();
    let names: Vec<&str> = page
        .resources
        .iter()
        .map(|u| u.user_name.as_str())
        .collect();
    assert_eq!(names, ["user6", "user4"]);
    assert_eq!(page.total_results, 5);
    assert_eq!(
        page.resources[0].title.as_deref(),
        Some("kept in the property"),
        "the page's users are complete"
    );
    assert_eq!(s.sim.calls("GET", "/user/search"), 2);
    assert_eq!(s.sim.calls("GET", "/user"), 2, "{:?}", s.sim.call_counts());
    assert_eq!(s.sim.calls("GET", "/user/properties/scim-rs"), 2);

    s.sim.reset_calls();
    let counted =
        block_on(s.p.search_users(&ctx(), &ListQuery::new().with_page(1, Some(0)))).unwrap();
    assert_eq!(counted.total_results, 10);
    assert_eq!(
        s.sim.total_calls(),
        2 + 5,
        "a count reads no user in full, only the property of inactive users (to leave out \
         those a SCIM DELETE deactivated)"
    );

    // A filter on an attribute in the property reads every user in full.
    s.sim.reset_calls();
    let page = block_on(s.p.search_users(
        &ctx(),
        &ListQuery::new().with_filter(r#"title eq "kept in the property""#.parse().unwrap()),
    ))
    .unwrap();
    assert_eq!(page.total_results, 10);
    assert_eq!(s.sim.calls("GET", "/user/properties/scim-rs"), 10);
}

#[test]
fn test_connection_says_what_is_wrong() {
    let s = setup();
    assert_eq!(block_on(s.p.test_connection()).unwrap(), "admin");
    s.sim.set_admin(false);
    let err = block_on(s.p.test_connection()).unwrap_err();
    assert!(err.to_string().contains("Administer permission"), "{err}");

    let wrong = with_token(&s.sim, "nope");
    let err = block_on(wrong.test_connection()).unwrap_err();
    assert!(err.to_string().contains("refused the credentials"), "{err}");

    s.sim.fail_next(1, &Fault::Timeout);
    let quick = AtlassianProvisioner::jira(
        "https://jira.example.com",
        Credentials::basic("admin", "s3cret"),
    )
    .client(s.sim.clone())
    .retry(scim_atlassian::RetryPolicy {
        max_retries: 0,
        ..Default::default()
    })
    .build()
    .unwrap();
    let err = block_on(quick.test_connection()).unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[test]
fn passwords_are_set_on_create_and_on_patch_and_never_echoed() {
    let s = setup();
    let mut u = user("bjensen");
    u.password = Some(scim_core::Password::new("first-secret"));
    let id = block_on(s.p.create_user(&ctx(), u)).unwrap().id.unwrap();
    assert!(s.sim.password_is("bjensen", "first-secret"));
    let change = replace("password", "second-secret");
    s.sim.reset_calls();
    block_on(s.p.patch_user(&ctx(), &id, &change, None)).unwrap();
    assert!(s.sim.password_is("bjensen", "second-secret"));
    assert_eq!(s.sim.calls("PUT", "/user/password"), 1);
    let weak = PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"password","value":"abc"},
            {"op":"replace","path":"displayName","value":"Changed"}]}"#,
    )
    .unwrap();
    s.sim.reset_calls();
    let err = block_on(s.p.patch_user(&ctx(), &id, &weak, None)).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{err}");
    assert!(!err.detail().contains("abc"), "{err}");
    assert_eq!(
        s.sim.write_calls(),
        1,
        "the refused password is the only write"
    );
    assert_eq!(
        s.sim.user("bjensen").unwrap().display_name,
        "bjensen display"
    );
}

#[test]
fn attributes_too_large_for_a_property_are_refused_before_any_write() {
    let s = setup();
    let mut u = user("bjensen");
    u.title = Some("x".repeat(40_000));
    let err = block_on(s.p.create_user(&ctx(), u)).unwrap_err();
    assert_eq!(err.status(), 413, "{err}");
    assert_eq!(s.sim.total_calls(), 0);
}

/// The figures in `AtlassianProvisioner`'s "Calls per operation" table.
#[test]
fn calls_per_operation() {
    let s = setup();
    let c = ctx();
    let measure = |f: &dyn Fn()| {
        s.sim.reset_calls();
        f();
        (
            s.sim.total_calls() - s.sim.write_calls(),
            s.sim.write_calls(),
        )
    };
    let id = std::cell::RefCell::new(String::new());
    assert_eq!(
        measure(&|| {
            *id.borrow_mut() = create(&s.p, "bjensen");
        }),
        (0, 2),
        "create user"
    );
    let id = id.into_inner();
    assert_eq!(
        measure(&|| drop(block_on(s.p.get_user(&c, &id)).unwrap())),
        (2, 0),
        "get user"
    );
    let title = replace("title", "Guide");
    assert_eq!(
        measure(&|| drop(block_on(s.p.patch_user(&c, &id, &title, None)).unwrap())),
        (2, 1),
        "PATCH of a property-held attribute"
    );
    let deactivate = replace("active", false);
    assert_eq!(
        measure(&|| drop(block_on(s.p.patch_user(&c, &id, &deactivate, None)).unwrap())),
        (2, 2),
        "PATCH of a Jira field (and lastModified)"
    );
    assert_eq!(
        measure(&|| drop(block_on(s.p.patch_user(&c, &id, &deactivate, None)).unwrap())),
        (2, 0),
        "PATCH changing nothing"
    );
    let by_name = scim_core::provision::ListQuery::new()
        .with_filter(r#"userName eq "bjensen""#.parse().unwrap());
    assert_eq!(
        measure(&|| drop(block_on(s.p.search_users(&c, &by_name)).unwrap())),
        (2, 0),
        "userName eq"
    );
    let members: Vec<String> = (0..3)
        .map(|i| create(&s.p, &format!("member{i}")))
        .collect();
    assert_eq!(
        measure(&|| {
            let mut g = Group::new("devs");
            g.members = members.iter().map(Member::new).collect();
            block_on(s.p.create_group(&c, g)).unwrap();
        }),
        (3, 4),
        "create group with 3 members"
    );
    assert_eq!(
        measure(&|| drop(block_on(s.p.add_members(&c, "devs", &[Member::new(&id)])).unwrap())),
        (2, 1),
        "add one member"
    );
    assert_eq!(
        measure(&|| drop(
            block_on(s.p.remove_members(&c, "devs", std::slice::from_ref(&id))).unwrap()
        )),
        (2, 1),
        "remove one member (the user's name, then the group once for the answer)"
    );
    assert_eq!(
        measure(&|| block_on(s.p.delete_user(&c, &id, None)).unwrap()),
        (2, 1),
        "delete user (deactivate policy; already inactive: only the property marks it deleted)"
    );
}

#[test]
fn jira_before_8_3_cannot_deactivate_and_says_so() {
    let s = setup();
    let id = create(&s.p, "bjensen");
    s.sim.set_before_8_3(true);
    let deactivate = replace("active", false);
    let err = block_on(s.p.patch_user(&ctx(), &id, &deactivate, None)).unwrap_err();
    assert_eq!(err.status(), 501, "{err}");
    assert!(err.detail().contains("before 8.3"), "{err}");
    assert!(s.sim.user("bjensen").unwrap().active);
}

#[test]
fn group_display_name_lookups_are_pushed_down() {
    let s = setup();
    for name in ["Tour Guides", "Tour Guides Europe", "devs"] {
        block_on(s.p.create_group(&ctx(), Group::new(name))).unwrap();
    }
    s.sim.reset_calls();
    let query = scim_core::provision::ListQuery::new()
        .with_filter(r#"displayName eq "tour guides""#.parse().unwrap());
    let page = block_on(s.p.search_groups(&ctx(), &query)).unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(
        page.resources[0].id.as_deref(),
        Some("Tour Guides"),
        "Jira's own spelling"
    );
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());
    let none = scim_core::provision::ListQuery::new()
        .with_filter(r#"displayName eq "nobody""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_groups(&ctx(), &none))
            .unwrap()
            .total_results,
        0
    );
}

/// [`old_jira`], and the provisioner given the application's credentials.
fn old_jira_with_embedded_crowd() -> Setup {
    let s = old_jira();
    let p = jira(s.sim.clone())
        .sleeper(s.waits.clone())
        .embedded_crowd(Credentials::basic("scim-app", "app-secret"))
        .build()
        .unwrap();
    Setup { p, ..s }
}

#[test]
fn jira_before_8_3_deactivates_through_the_embedded_crowd_api() {
    let s = old_jira_with_embedded_crowd();
    let id = create(&s.p, "bjensen");
    let deactivate = replace("active", false);
    s.sim.reset_calls();
    let got = block_on(s.p.patch_user(&ctx(), &id, &deactivate, None)).unwrap();
    assert_eq!(got.active, Some(false));
    let jira = s.sim.user("bjensen").unwrap();
    assert!(!jira.active);
    assert_eq!(
        jira.email, "bjensen@example.com",
        "Crowd's whole record kept the email"
    );
    assert_eq!(jira.display_name, "bjensen display");
    assert_eq!(s.sim.calls("PUT", "/user"), 1, "REST v2 refused once");
    assert_eq!(s.sim.calls("GET", "/rest/usermanagement/1/user"), 1);
    assert_eq!(s.sim.calls("PUT", "/rest/usermanagement/1/user"), 1);

    // Known to be old now: the next change of `active` goes straight to Crowd.
    let activate = replace("active", true);
    s.sim.reset_calls();
    let got = block_on(s.p.patch_user(&ctx(), &id, &activate, None)).unwrap();
    assert_eq!(got.active, Some(true));
    assert!(s.sim.user("bjensen").unwrap().active);
    assert_eq!(s.sim.calls("PUT", "/user"), 0, "{:?}", s.sim.call_counts());
    assert_eq!(s.sim.calls("PUT", "/rest/usermanagement/1/user"), 1);
}

#[test]
fn jira_before_8_3_delete_deactivates_through_crowd_and_changes_other_fields_through_v2() {
    let s = old_jira_with_embedded_crowd();
    let id = create(&s.p, "bjensen");
    let g = group("devs", &[&id]);
    block_on(s.p.create_group(&ctx(), g)).unwrap();

    // A replace changing the display name and deactivating: v2 takes the name, Crowd `active`.
    let mut changed = user("bjensen");
    changed.display_name = Some("Barbara".to_owned());
    changed.active = Some(false);
    let got = block_on(s.p.replace_user(&ctx(), &id, changed, None)).unwrap();
    assert_eq!(got.active, Some(false));
    let jira = s.sim.user("bjensen").unwrap();
    assert_eq!(jira.display_name, "Barbara");
    assert!(!jira.active);

    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(s.sim.group_members("devs").unwrap(), Vec::<String>::new());
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id)).unwrap_err().status(),
        404
    );
}

#[test]
fn embedded_crowd_refusing_the_application_is_a_clear_error() {
    let s = old_jira();
    let p = jira(s.sim.clone())
        .embedded_crowd(Credentials::basic("scim-app", "wrong"))
        .build()
        .unwrap();
    let id = create(&p, "bjensen");
    let deactivate = replace("active", false);
    let err = block_on(p.patch_user(&ctx(), &id, &deactivate, None)).unwrap_err();
    assert_eq!(err.status(), 502, "our credentials refused: {err}");
    assert!(err.detail().contains("embedded Crowd"), "{err}");
    assert!(s.sim.user("bjensen").unwrap().active);
}

#[test]
fn users_are_created_in_the_chosen_directory() {
    let s = lenient();
    s.sim.add_directory(10000);
    let p = jira(s.sim.clone()).directory_id(10000).build().unwrap();
    block_on(p.create_user(&ctx(), user("bjensen"))).unwrap();
    assert_eq!(s.sim.user("bjensen").unwrap().directory, 10000);
    block_on(s.p.create_user(&ctx(), user("jsmith"))).unwrap();
    assert_eq!(s.sim.user("jsmith").unwrap().directory, 1, "Jira's default");

    let unknown = jira(s.sim.clone()).directory_id(4242).build().unwrap();
    let err = block_on(unknown.create_user(&ctx(), user("alice"))).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.detail().contains("directory"), "{err}");
    assert!(s.sim.user("alice").is_none());
}

#[test]
fn group_rename_create_move_delete_on_jira() {
    let s = lenient();
    let p = jira(s.sim.clone())
        .group_rename(scim_atlassian::GroupRename::CreateMoveDelete)
        .build()
        .unwrap();
    let a = create(&p, "bjensen");
    let g = group("devs", &[&a]);
    block_on(p.create_group(&ctx(), g)).unwrap();
    let rename = replace("displayName", "engineers");
    let got = block_on(p.patch_group(&ctx(), "devs", &rename, None)).unwrap();
    assert_eq!(got.id.as_deref(), Some("engineers"));
    assert_eq!(got.members.len(), 1);
    assert_eq!(s.sim.group_members("engineers").unwrap(), ["bjensen"]);
    assert!(s.sim.group_members("devs").is_none());

    // Onto a group that exists: 409, nothing moved.
    block_on(p.create_group(&ctx(), Group::new("ops"))).unwrap();
    let onto = replace("displayName", "ops");
    let err = block_on(p.patch_group(&ctx(), "engineers", &onto, None)).unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    assert_eq!(s.sim.group_members("engineers").unwrap(), ["bjensen"]);
    assert_eq!(s.sim.group_members("ops").unwrap(), Vec::<String>::new());
}

#[test]
fn test_connection_reads_the_version_and_asks_old_jira_for_the_embedded_crowd_api() {
    // Without the embedded Crowd API, an old Jira is reported before any deactivation fails.
    let s = setup();
    s.sim.set_before_8_3(true);
    let err = block_on(s.p.test_connection()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("8.2.6") && text.contains("older than 8.3"),
        "{text}"
    );
    assert!(text.contains("crowd_application"), "{text}");
    // A current Jira needs nothing more.
    let s = setup();
    assert_eq!(block_on(s.p.test_connection()).unwrap(), "admin");
    assert_eq!(s.sim.calls("GET", "/serverInfo"), 1);

    // With it, the version is learnt at once: the first deactivation goes straight to Crowd,
    // without REST v2's refusal first.
    let s = old_jira_with_embedded_crowd();
    block_on(s.p.test_connection()).unwrap();
    let id = create(&s.p, "bjensen");
    let deactivate = replace("active", false);
    s.sim.reset_calls();
    let got = block_on(s.p.patch_user(&ctx(), &id, &deactivate, None)).unwrap();
    assert_eq!(got.active, Some(false));
    assert!(!s.sim.user("bjensen").unwrap().active);
    assert_eq!(s.sim.calls("PUT", "/user"), 0, "{:?}", s.sim.call_counts());
    assert_eq!(s.sim.calls("PUT", "/rest/usermanagement/1/user"), 1);
}

#[test]
fn a_member_add_or_remove_costs_the_same_at_10_and_1000_members() {
    let s = setup();
    s.sim.require_email(false);
    block_on(s.p.create_group(&ctx(), Group::new("big"))).unwrap();
    block_on(s.p.create_group(&ctx(), Group::new("small"))).unwrap();
    for i in 0..1000 {
        let name = format!("m{i:04}");
        s.sim.add_user(&name, "", &name);
        let jira = s.p.jira_client().unwrap();
        block_on(jira.add_member("big", &name)).unwrap();
        if i < 10 {
            block_on(jira.add_member("small", &name)).unwrap();
        }
    }
    let id = create(&s.p, "newcomer");
    let lean = ctx().with_members_returned(false);
    let mut costs = Vec::new();
    for group in ["small", "big"] {
        s.sim.reset_calls();
        let group_view = block_on(s.p.add_members(&lean, group, &[Member::new(&id)])).unwrap();
        assert!(
            group_view.members.is_empty(),
            "members excluded: not read back"
        );
        let add = (s.sim.total_calls(), s.sim.write_calls());
        s.sim.reset_calls();
        let remove = PatchOp::from_value(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]
        }))
        .unwrap();
        block_on(s.p.patch_group(&lean, group, &remove, None)).unwrap();
        let removed = (s.sim.total_calls(), s.sim.write_calls());
        costs.push((add, removed));
        assert!(
            !s.sim
                .group_members(group)
                .unwrap()
                .contains(&"newcomer".to_owned())
        );
    }
    assert_eq!(costs[0], costs[1], "independent of the group's size");
    assert_eq!(
        costs[0],
        ((2, 1), (2, 1)),
        "read the user, write the membership"
    );
    // Adding a member twice, or removing a non-member, is no error and no extra call.
    s.sim.reset_calls();
    block_on(s.p.add_members(&lean, "big", &[Member::new(&id)])).unwrap();
    block_on(s.p.add_members(&lean, "big", &[Member::new(&id)])).unwrap();
    assert_eq!(s.sim.total_calls(), 4);
    // Shown members are read once.
    s.sim.reset_calls();
    let shown = block_on(s.p.add_members(&ctx(), "small", &[Member::new(&id)])).unwrap();
    assert_eq!(shown.members.len(), 11);
    assert_eq!(s.sim.calls("GET", "/group/member"), 1);
}

#[test]
fn last_login_without_the_embedded_crowd_api_says_jira_does_not_tell() {
    let s = setup();
    let id = block_on(s.p.create_user(&ctx(), user("alice")))
        .unwrap()
        .id
        .unwrap();
    let err = block_on(s.p.last_login(&id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 501);
    let detail = err.detail();
    assert!(
        detail.contains("not supported by Jira Data Center") && detail.contains("embedded_crowd"),
        "{detail}"
    );
    // 404 comes first for a user SCIM does not know.
    let err = block_on(s.p.last_login("nobody")).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
}
