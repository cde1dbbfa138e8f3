//! The Atlassian Cloud provisioner against the Cloud simulator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::simulator::{CloudSimulator, Fault};
use scim_atlassian::{CallCounter, RetryPolicy, Sleeper};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::{Group, HttpClient, Member, ScimType, SortOrder, User};

const KEY: &str = "directory-api-key-secret";

struct Instant;

#[async_trait]
impl Sleeper for Instant {
    async fn sleep(&self, _duration: Duration) {}
}

fn setup() -> (Arc<CloudSimulator>, CloudProvisioner, Arc<CallCounter>) {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    let counter = Arc::new(CallCounter::new());
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .sleeper(Arc::new(Instant))
        .observer(counter.clone())
        .build()
        .unwrap();
    (sim, cloud, counter)
}

fn ctx() -> RequestContext {
    RequestContext::new("acme")
}

fn query(filter: &str) -> ListQuery {
    ListQuery::new().with_filter(filter.parse().unwrap())
}

fn create(cloud: &CloudProvisioner, name: &str) -> String {
    block_on(cloud.create_user(&ctx(), User::new(name)))
        .unwrap()
        .id
        .unwrap()
}

// The conformance suite, check by check. `tenant_isolation` cannot hold: a CloudProvisioner
// serves one Cloud directory whatever the request's tenant (one provisioner per directory is
// how tenants are kept apart), so it is not run.

#[test]
fn conformance_user_crud() {
    block_on(conformance::user_crud(&setup().1, "t"));
}

#[test]
fn conformance_user_name_uniqueness() {
    block_on(conformance::user_name_uniqueness(&setup().1, "t"));
}

#[test]
fn conformance_preconditions() {
    block_on(conformance::preconditions(&setup().1, "t"));
}

#[test]
fn conformance_filters() {
    block_on(conformance::filters(&setup().1, "t"));
}

#[test]
fn conformance_paging_and_sorting() {
    block_on(conformance::paging_and_sorting(&setup().1, "t"));
}

#[test]
fn conformance_patch_users() {
    block_on(conformance::patch_users(&setup().1, "t"));
}

#[test]
fn conformance_group_membership() {
    block_on(conformance::group_membership(&setup().1, "t"));
}

#[test]
fn conformance_concurrent_writers() {
    conformance::concurrent_writers(&setup().1, "t");
}

#[test]
fn user_name_eq_is_one_get_with_the_filter() {
    let (sim, cloud, counter) = setup();
    create(&cloud, "bjensen@example.com");
    create(&cloud, "other@example.com");
    sim.reset_calls();
    counter.reset();
    let page = block_on(cloud.search_users(&ctx(), &query(r#"userName eq "BJENSEN@example.com""#)))
        .unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(sim.total_calls(), 1, "{:?}", sim.requests());
    assert_eq!(counter.count("GET /Users"), 1);
    let sent = &sim.requests()[0];
    assert!(
        sent.contains(r#"filter=userName eq "BJENSEN@example.com""#),
        "{sent}"
    );

    sim.reset_calls();
    let page = block_on(cloud.search_groups(&ctx(), &query(r#"displayName eq "none""#))).unwrap();
    assert_eq!(page.total_results, 0);
    assert_eq!(sim.calls("GET", "/Groups"), 1);
    assert!(sim.requests()[0].contains("filter=displayName eq"));
}

#[test]
fn other_filters_page_through_and_match_locally() {
    let (sim, cloud, _) = setup();
    for i in 0..250 {
        let mut u = User::new(format!("user{i:03}"));
        if i % 10 == 0 {
            u.title = Some("Boss".to_owned());
        }
        block_on(cloud.create_user(&ctx(), u)).unwrap();
    }
    sim.reset_calls();
    let page = block_on(cloud.search_users(&ctx(), &query("title pr"))).unwrap();
    assert_eq!(page.total_results, 25);
    assert_eq!(page.resources.len(), 25);
    let requests = sim.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for r in &requests {
        assert!(!r.contains("filter="), "{r}");
        assert!(r.contains("count=100"), "{r}");
    }

    // Sorted locally, descending, with a window.
    let q = query("title pr").with_sort("userName".parse().unwrap(), SortOrder::Descending);
    let q = ListQuery {
        start_index: 2,
        count: Some(3),
        ..q
    };
    let page = block_on(cloud.search_users(&ctx(), &q)).unwrap();
    let names: Vec<&str> = page
        .resources
        .iter()
        .map(|u| u.user_name.as_str())
        .collect();
    assert_eq!(names, ["user230", "user220", "user210"]);
    assert_eq!(page.total_results, 25);

    // An `eq` combined with anything else is not something Cloud serves: local again.
    sim.reset_calls();
    let page =
        block_on(cloud.search_users(&ctx(), &query(r#"userName eq "user010" and title pr"#)))
            .unwrap();
    assert_eq!(page.total_results, 1);
    assert!(sim.requests().iter().all(|r| !r.contains("filter=")));
}

#[test]
fn pages_never_exceed_100() {
    let (sim, cloud, _) = setup();
    for i in 0..150 {
        create(&cloud, &format!("u{i}"));
    }
    sim.reset_calls();
    let q = ListQuery {
        count: Some(500),
        ..ListQuery::new()
    };
    let page = block_on(cloud.search_users(&ctx(), &q)).unwrap();
    assert_eq!(page.resources.len(), 150);
    let all = block_on(cloud.scan_users(&ctx(), 0, 1000)).unwrap();
    assert_eq!(all.len(), 150);
    for r in sim.requests() {
        let count: u64 = r
            .split("count=")
            .nth(1)
            .and_then(|c| c.split('&').next())
            .and_then(|c| c.parse().ok())
            .unwrap();
        assert!(count <= 100, "{r}");
    }
}

#[test]
fn idempotent_calls_are_retried_on_429_and_503() {
    let (sim, cloud, counter) = setup();
    let id = create(&cloud, "retry");
    let limited = Fault::RateLimited { retry_after: 1 };

    sim.fail_next(2, &limited);
    block_on(cloud.get_user(&ctx(), &id)).unwrap();
    assert_eq!(sim.calls("GET", "/Users/{id}"), 3);

    sim.fail_next(1, &Fault::Unavailable);
    block_on(cloud.replace_user(&ctx(), &id, User::new("retry2"), None)).unwrap();
    assert_eq!(sim.calls("PUT", "/Users/{id}"), 2);

    sim.fail_next(1, &limited);
    block_on(cloud.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(sim.calls("DELETE", "/Users/{id}"), 2);
    assert_eq!(counter.count("DELETE /Users/{id}"), 2);

    // A 429 means the create was not processed: it goes again, and creates once.
    sim.fail_next(1, &limited);
    block_on(cloud.create_user(&ctx(), User::new("once"))).unwrap();
    assert_eq!(
        sim.calls("POST", "/Users"),
        3,
        "one earlier create plus two"
    );
    assert_eq!(
        sim.user_count(),
        1,
        "created once (the first user was deleted)"
    );

    // Retries stop after the policy's limit.
    let sim2 = Arc::new(CloudSimulator::new("d", KEY));
    let cloud2 = CloudProvisioner::builder(sim2.directory_url(), KEY)
        .client(sim2.clone())
        .sleeper(Arc::new(Instant))
        .retry(RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    sim2.fail_next(5, &Fault::Unavailable);
    let err = block_on(cloud2.get_user(&ctx(), "x")).unwrap_err();
    assert_eq!(err.status().as_u16(), 503);
    assert_eq!(sim2.total_calls(), 2);
}

#[test]
fn delete_deactivates_and_the_id_answers_404() {
    let (sim, cloud, _) = setup();
    let id = create(&cloud, "leaver@example.com");
    block_on(cloud.delete_user(&ctx(), &id, None)).unwrap();
    let gone = sim.deactivated(&id).expect("deactivated, not erased");
    assert_eq!(gone["active"], false);
    assert_eq!(gone["userName"], "leaver@example.com");
    let err = block_on(cloud.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    assert_eq!(sim.user_count(), 0);
}

#[test]
fn errors_keep_status_and_scim_type_and_name_the_call() {
    let (sim, cloud, _) = setup();
    create(&cloud, "dup@example.com");
    let err = block_on(cloud.create_user(&ctx(), User::new("dup@example.com"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 409);
    assert_eq!(err.scim_type(), Some(ScimType::Uniqueness));
    assert!(err.detail().contains("POST /Users"), "{err}");

    let err = block_on(cloud.get_user(&ctx(), "nope")).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    assert!(err.detail().contains("GET /Users/{id}"), "{err}");

    // No nested groups in Cloud.
    let inner = block_on(cloud.create_group(&ctx(), Group::new("inner"))).unwrap();
    let outer = block_on(cloud.create_group(&ctx(), Group::new("outer"))).unwrap();
    let err = block_on(cloud.add_members(
        &ctx(),
        outer.id.as_deref().unwrap(),
        &[Member::new(inner.id.as_deref().unwrap())],
    ))
    .unwrap_err();
    assert_eq!(err.status().as_u16(), 400);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));

    // Duplicate group names.
    let err = block_on(cloud.create_group(&ctx(), Group::new("inner"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 409, "{err}");

    // A refused API key is our configuration's fault, not the SCIM client's: 502, no key.
    let wrong = CloudProvisioner::builder(sim.directory_url(), "wrong-key")
        .client(sim.clone())
        .build()
        .unwrap();
    let err = block_on(wrong.get_user(&ctx(), "x")).unwrap_err();
    assert_eq!(err.status().as_u16(), 502);
    assert!(err.detail().contains("401"), "{err}");
    assert!(!err.detail().contains("wrong-key") && !err.detail().contains(KEY));
    assert!(!format!("{wrong:?}").contains("wrong-key"));
}

#[test]
fn simulator_refuses_what_cloud_refuses() {
    let sim = CloudSimulator::new("d", KEY);
    let get = |uri: &str, key: &str| {
        let req = http::Request::get(format!("https://api.atlassian.com/scim/directory/d{uri}"))
            .header("authorization", format!("Bearer {key}"))
            .body(Vec::new())
            .unwrap();
        block_on(sim.send(req)).unwrap()
    };
    assert_eq!(get("/Users", "bad").status(), 401);
    let r = get("/Users?filter=title%20pr", KEY);
    assert_eq!(r.status(), 400);
    assert!(String::from_utf8_lossy(r.body()).contains("invalidFilter"));
    let r = get("/Groups?filter=userName%20eq%20%22a%22", KEY);
    assert_eq!(r.status(), 400);
    assert_eq!(
        get(
            "/Users?filter=externalId%20eq%20%22a%22&sortBy=userName",
            KEY
        )
        .status(),
        200
    );
}

#[test]
fn replace_group_is_one_patch_of_the_difference() {
    let (sim, cloud, _) = setup();
    let a = create(&cloud, "a");
    let b = create(&cloud, "b");
    let mut g = Group::new("team");
    g.members = vec![Member::new(&a)];
    let g = block_on(cloud.create_group(&ctx(), g)).unwrap();
    let gid = g.id.clone().unwrap();
    sim.reset_calls();
    let mut want = Group::new("team-renamed");
    want.members = vec![Member::new(&b)];
    let got = block_on(cloud.replace_group(&ctx(), &gid, want, None)).unwrap();
    assert_eq!(got.display_name, "team-renamed");
    let ids: Vec<_> = got.members.iter().filter_map(|m| m.value.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&b));
    assert_eq!(sim.calls("PATCH", "/Groups/{id}"), 1);
    assert_eq!(sim.calls("PUT", "/Groups/{id}"), 0);

    // Nothing to change: no write.
    sim.reset_calls();
    let mut same = Group::new("team-renamed");
    same.members = vec![Member::new(&b)];
    block_on(cloud.replace_group(&ctx(), &gid, same, None)).unwrap();
    assert_eq!(sim.calls("PATCH", "/Groups/{id}"), 0);
}

#[test]
fn policy_name_transformations_apply_to_writes_lookups_and_patches() {
    use scim_atlassian::policy::{NameTransform, SyncPolicy};
    let sim = Arc::new(CloudSimulator::new("d", KEY));
    let policy = SyncPolicy::builder()
        .user_name(NameTransform::default().lowercase())
        .group_name(NameTransform::default().rule("^idp-(.*)$", "$1"))
        .build()
        .unwrap();
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .sleeper(Arc::new(Instant))
        .policy(policy)
        .build()
        .unwrap();
    let user = block_on(cloud.create_user(&ctx(), User::new("BJensen@Example.com"))).unwrap();
    assert_eq!(user.user_name, "bjensen@example.com");
    let id = user.id.unwrap();

    // The IdP looks the user up by the name it sent, and finds it.
    sim.reset_calls();
    let page = block_on(cloud.search_users(&ctx(), &query(r#"userName eq "BJensen@Example.com""#)))
        .unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(sim.calls("GET", "/Users"), 1);

    // A PATCH of the name is transformed as well.
    let patch = scim_core::PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"userName","value":"NEW@Example.com"}]}"#,
    )
    .unwrap();
    let patched = block_on(cloud.patch_user(&ctx(), &id, &patch, None)).unwrap();
    assert_eq!(patched.user_name, "new@example.com");

    let group = block_on(cloud.create_group(&ctx(), Group::new("idp-admins"))).unwrap();
    assert_eq!(group.display_name, "admins");
    let page =
        block_on(cloud.search_groups(&ctx(), &query(r#"displayName eq "idp-admins""#))).unwrap();
    assert_eq!(page.total_results, 1);

    // A name the transformation empties is refused before any call.
    sim.reset_calls();
    let err = block_on(cloud.create_group(&ctx(), Group::new("idp-"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 400);
    assert_eq!(sim.total_calls(), 0);
}

#[test]
fn timeouts_retry_reads_and_read_back_creates() {
    let (sim, cloud, _) = setup();
    let id = create(&cloud, "slow");
    sim.reset_calls();
    sim.fail_next(1, &Fault::Timeout);
    block_on(cloud.get_user(&ctx(), &id)).unwrap();
    assert_eq!(sim.calls("GET", "/Users/{id}"), 2);

    // Not applied: the read-back finds nothing, and the create goes again.
    sim.fail_next(1, &Fault::Timeout);
    block_on(cloud.create_user(&ctx(), User::new("late"))).unwrap();
    assert_eq!(sim.calls("POST", "/Users"), 2);
    // Applied, answer lost: the read-back finds it; one POST, one user.
    sim.reset_calls();
    sim.fail_nth(1, Fault::after_applying(Fault::Timeout));
    let made = block_on(cloud.create_user(&ctx(), User::new("later"))).unwrap();
    assert_eq!(made.user_name, "later");
    assert_eq!(sim.calls("POST", "/Users"), 1);
    assert_eq!(sim.user_count(), 3);
}

#[test]
fn short_pages_do_not_end_the_listing_early() {
    let (sim, cloud, _) = setup();
    for i in 0..75 {
        create(&cloud, &format!("u{i:02}"));
    }
    sim.set_page_cap(30);
    sim.reset_calls();
    let page = block_on(cloud.search_users(&ctx(), &query("userName sw \"u\""))).unwrap();
    assert_eq!(page.total_results, 75);
    assert_eq!(sim.calls("GET", "/Users"), 3);
    assert_eq!(
        block_on(cloud.scan_users(&ctx(), 10, 1000)).unwrap().len(),
        65
    );
    let all = block_on(cloud.search_users(&ctx(), &ListQuery::new())).unwrap();
    assert_eq!(all.resources.len(), 75);
    let one = block_on(cloud.search_users(&ctx(), &query(r#"userName eq "u07""#))).unwrap();
    assert_eq!(one.resources.len(), 1);
}

#[test]
fn calls_per_operation_are_minimal() {
    let (sim, cloud, _) = setup();
    let c = ctx();
    let calls = |f: &mut dyn FnMut()| {
        sim.reset_calls();
        f();
        sim.call_counts()
    };
    let mut id = String::new();
    let mut gid = String::new();
    let n = calls(&mut || id = create(&cloud, "counted"));
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
    let n = calls(&mut || {
        block_on(cloud.replace_user(&c, &id, User::new("counted"), None)).unwrap();
    });
    assert_eq!(n.get("PUT /Users/{id}"), Some(&1));
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
    let n = calls(&mut || {
        let u = block_on(cloud.get_user(&c, &id)).unwrap();
        let tag =
            scim_core::etag::ETag::parse(u.meta.unwrap().version.as_deref().unwrap()).unwrap();
        block_on(cloud.replace_user(&c, &id, User::new("counted"), Some(&tag))).unwrap();
    });
    assert_eq!(
        n.get("GET /Users/{id}"),
        Some(&2),
        "one read by the test, one check"
    );
    let n = calls(&mut || {
        gid = block_on(cloud.create_group(&c, Group::new("g")))
            .unwrap()
            .id
            .unwrap();
    });
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
    let n = calls(&mut || {
        block_on(cloud.add_members(&c, &gid, &[Member::new(&id)])).unwrap();
    });
    assert_eq!(n.get("PATCH /Groups/{id}"), Some(&1));
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
    let n = calls(&mut || {
        let patch = scim_core::PatchOp::from_slice(
            br#"{"Operations":[{"op":"replace","path":"title","value":"Boss"}]}"#,
        )
        .unwrap();
        block_on(cloud.patch_user(&c, &id, &patch, None)).unwrap();
    });
    assert_eq!(n.get("PATCH /Users/{id}"), Some(&1));
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
    let n = calls(&mut || {
        block_on(cloud.delete_user(&c, &id, None)).unwrap();
    });
    assert_eq!(n.get("DELETE /Users/{id}"), Some(&1));
    assert_eq!(n.values().sum::<usize>(), 1, "{n:?}");
}

#[test]
fn sync_history_records_cloud_calls() {
    use scim_atlassian::history::{
        HistoryObserver, HistoryQuery, InMemoryHistory, RecordingProvisioner, SyncHistory,
    };
    let sim = Arc::new(CloudSimulator::new("d", KEY));
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .sleeper(Arc::new(Instant))
        .observer(Arc::new(HistoryObserver::new()))
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(10));
    let p = RecordingProvisioner::new(cloud, history.clone());
    let created = block_on(p.create_user(&ctx(), User::new("hist@example.com"))).unwrap();
    block_on(p.delete_user(&ctx(), created.id.as_deref().unwrap(), None)).unwrap();
    let entries = block_on(history.list(&HistoryQuery::new())).unwrap();
    assert_eq!(entries.len(), 2);
    let calls: Vec<String> = entries
        .iter()
        .flat_map(|e| e.calls.iter().map(|c| c.call.clone()))
        .collect();
    assert!(calls.contains(&"POST /Users".to_owned()), "{calls:?}");
    assert!(
        calls.contains(&"DELETE /Users/{id}".to_owned()),
        "{calls:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| !format!("{e:?}").contains(KEY) && e.outcome.is_success())
    );
}

#[test]
fn pushed_down_filters_are_sent_in_plain_form() {
    let (sim, cloud, _) = setup();
    create(&cloud, "plain@example.com");
    for filter in [
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "plain@example.com""#,
        r#"USERNAME eq "plain@example.com""#,
    ] {
        sim.reset_calls();
        let page = block_on(cloud.search_users(&ctx(), &query(filter))).unwrap();
        assert_eq!(page.total_results, 1, "{filter}");
        assert_eq!(
            sim.requests(),
            [r#"GET /Users?startIndex=1&count=100&filter=userName eq "plain@example.com""#],
            "{filter}"
        );
    }
    // A number, a sub-attribute or another operator is not Cloud's: paged locally.
    for filter in [
        "externalId eq 5",
        r#"name.givenName eq "x""#,
        r#"userName co "plain""#,
    ] {
        sim.reset_calls();
        block_on(cloud.search_users(&ctx(), &query(filter))).unwrap();
        assert!(
            sim.requests().iter().all(|r| !r.contains("filter=")),
            "{filter}: {:?}",
            sim.requests()
        );
    }
}

/// Answers every request with its own body plus an id, as a create would: enough to see what
/// the provisioner sends. (The simulator's service knows only the RFC schemas, so it refuses
/// Atlassian's extension, which Cloud itself accepts.)
struct Echo(std::sync::Mutex<Vec<serde_json::Value>>);

#[async_trait]
impl HttpClient for Echo {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, scim_core::HttpError> {
        let mut body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        self.0.lock().unwrap().push(body.clone());
        body["id"] = "echo-1".into();
        let mut resp = http::Response::new(serde_json::to_vec(&body).unwrap());
        *resp.status_mut() = http::StatusCode::CREATED;
        Ok(resp)
    }
}

#[test]
fn atlassian_extension_passes_through() {
    const EXT: &str = "urn:scim:schemas:extension:atlassian-external:1.1";
    let echo = Arc::new(Echo(std::sync::Mutex::new(Vec::new())));
    let cloud = CloudProvisioner::builder("https://api.atlassian.com/scim/directory/d", KEY)
        .client(echo.clone())
        .build()
        .unwrap();
    let user: User = scim_core::from_str(&format!(
        r#"{{
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "{EXT}"],
            "userName": "ext@example.com",
            "{EXT}": {{"atlassianAccountId": "abc-123"}}
        }}"#
    ))
    .unwrap();
    let created = block_on(cloud.create_user(&ctx(), user)).unwrap();
    let sent = echo.0.lock().unwrap()[0].clone();
    assert_eq!(sent[EXT]["atlassianAccountId"], "abc-123", "{sent}");
    assert!(sent["schemas"].as_array().unwrap().iter().any(|s| s == EXT));
    let back = serde_json::to_value(&created).unwrap();
    assert_eq!(back[EXT]["atlassianAccountId"], "abc-123", "{back}");
    assert_eq!(created.id.as_deref(), Some("echo-1"));
}

#[test]
fn the_simulator_accepts_the_atlassian_extension_and_refuses_unknown_ones() {
    const EXT: &str = "urn:scim:schemas:extension:atlassian-external:1.1";
    let (sim, cloud, _) = setup();
    let user: User = scim_core::from_str(&format!(
        r#"{{
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "{EXT}"],
            "userName": "ext@example.com",
            "{EXT}": {{"atlassianAccountId": "abc-123"}}
        }}"#
    ))
    .unwrap();
    let created = block_on(cloud.create_user(&ctx(), user)).unwrap();
    // The account id is Atlassian's (read-only): the one the directory gave, not the one sent.
    let account = sim.account_id(created.id.as_deref().unwrap()).unwrap();
    assert_ne!(account, "abc-123");
    let back = serde_json::to_value(&created).unwrap();
    assert_eq!(back[EXT]["atlassianAccountId"], account.as_str(), "{back}");
    let got = block_on(cloud.get_user(&ctx(), created.id.as_deref().unwrap())).unwrap();
    assert_eq!(
        serde_json::to_value(&got).unwrap()[EXT]["atlassianAccountId"],
        account.as_str()
    );

    let other: User = scim_core::from_str(
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:nope"],
            "userName": "nope@example.com", "urn:example:nope": {"x": 1}}"#,
    )
    .unwrap();
    let err = block_on(cloud.create_user(&ctx(), other)).unwrap_err();
    assert_eq!(err.status().as_u16(), 400, "{err}");
}
