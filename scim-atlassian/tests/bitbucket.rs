//! `BitbucketClient` and `BitbucketTarget` against the Bitbucket simulator: every call,
//! paging, error bodies, retries, login-group deprovisioning and call counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::{Method, Request};
use scim_atlassian::bitbucket::{
    BitbucketClient, BitbucketTarget, GlobalPermission, NewUser, UserChanges,
};
use scim_atlassian::simulator::{BitbucketSimulator, Fault};
use scim_atlassian::{AtlassianError, CallCounter, Credentials, Sleeper};
use scim_core::provision::conformance::block_on;
use scim_core::{HttpClient, ScimError};
use serde_json::Value;

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
    sim: Arc<BitbucketSimulator>,
    waits: Arc<Instant>,
    counter: Arc<CallCounter>,
    client: BitbucketClient,
}

fn setup() -> Setup {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    let waits = Arc::new(Instant::default());
    let counter = Arc::new(CallCounter::new());
    let client = BitbucketClient::builder(
        "https://bitbucket.example.com/bb/",
        Credentials::basic("admin", "pw"),
    )
    .client(sim.clone())
    .sleeper(waits.clone())
    .observer(counter.clone())
    .build()
    .unwrap();
    Setup {
        sim,
        waits,
        counter,
        client,
    }
}

fn target(s: &Setup) -> BitbucketTarget {
    BitbucketTarget::new(s.client.clone(), vec!["stash-users".to_owned()])
}

fn new_user(name: &str) -> NewUser {
    NewUser::new(
        name,
        format!("{name} display"),
        format!("{name}@example.com"),
    )
    .password("pw1234")
}

fn status_of(err: &AtlassianError) -> u16 {
    err.status().unwrap_or_else(|| panic!("no status in {err}"))
}

// ---- the client, call by call ----

#[test]
fn create_find_update_rename_and_delete_a_user() {
    let s = setup();
    block_on(s.client.create_user(&new_user("bjensen"))).unwrap();
    assert!(s.sim.password_is("bjensen", "pw1234"));
    assert!(
        s.sim.groups_of("bjensen").is_empty(),
        "not added to the default group unless asked"
    );
    let u = block_on(s.client.user_by_name("BJensen"))
        .unwrap()
        .expect("names match ignoring case");
    assert_eq!(
        (u.name.as_str(), u.email_address.as_str(), u.slug.as_str()),
        ("bjensen", "bjensen@example.com", "bjensen")
    );
    let id = u.id;

    let updated = block_on(s.client.update_user("bjensen", Some("Barbara"), None)).unwrap();
    assert_eq!(updated.display_name, "Barbara");
    assert_eq!(
        updated.email_address, "bjensen@example.com",
        "fields not sent stay"
    );

    let renamed = block_on(s.client.rename_user("bjensen", "barbara")).unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (id, "barbara"));
    assert!(
        block_on(s.client.user_by_name("bjensen"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        block_on(s.client.user_by_id(id)).unwrap().unwrap().name,
        "barbara"
    );

    block_on(s.client.set_password("barbara", "n3w-pass")).unwrap();
    assert!(s.sim.password_is("barbara", "n3w-pass"));

    block_on(s.client.delete_user("barbara")).unwrap();
    assert_eq!(s.sim.user_count(), 0);
    let err = block_on(s.client.delete_user("barbara")).unwrap_err();
    assert_eq!(status_of(&err), 404);
}

#[test]
fn user_by_name_keeps_only_the_exact_match_among_filter_hits() {
    let s = setup();
    for n in ["al", "alan", "sally", "Alice"] {
        s.sim.add_user(n, n, &format!("{n}@example.com"));
    }
    let u = block_on(s.client.user_by_name("al")).unwrap().unwrap();
    assert_eq!(u.name, "al");
    assert!(block_on(s.client.user_by_name("a")).unwrap().is_none());
    assert!(block_on(s.client.user_by_name("")).unwrap().is_none());
}

#[test]
fn add_to_default_group_grants_login() {
    let s = setup();
    block_on(
        s.client
            .create_user(&new_user("dflt").add_to_default_group(true)),
    )
    .unwrap();
    assert_eq!(s.sim.groups_of("dflt"), ["stash-users"]);
    assert!(s.sim.can_log_in("dflt"));
}

#[test]
fn listings_follow_every_page() {
    let s = setup();
    s.sim.set_page_cap(2);
    for i in 0..5 {
        let n = format!("user{i}");
        s.sim.add_user(&n, &n, &format!("{n}@example.com"));
        assert!(s.sim.add_member("stash-users", &n));
    }
    for g in ["g1", "g2", "g3"] {
        assert!(s.sim.add_group(g));
        assert!(s.sim.add_member(g, "user0"));
    }
    s.counter.reset();

    let all = block_on(s.client.users(None)).unwrap();
    let names: Vec<&str> = all.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["user0", "user1", "user2", "user3", "user4"]);
    assert_eq!(
        s.counter.count("GET /admin/users"),
        3,
        "pages of 2, 2 and 1: the cap below the asked 1,000 is followed"
    );

    let page = block_on(s.client.users_page(Some("USER"), 2, 2)).unwrap();
    assert_eq!((page.start, page.values.len()), (2, 2));
    assert!(!page.is_last_page);
    assert_eq!(page.next_page_start, Some(4));

    let members = block_on(s.client.group_members("stash-users"))
        .unwrap()
        .unwrap();
    assert_eq!(members.len(), 5);
    assert_eq!(s.counter.count("GET /admin/groups/more-members"), 3);

    let groups = block_on(s.client.user_groups("user0")).unwrap().unwrap();
    assert_eq!(groups, ["g1", "g2", "g3", "stash-users"]);
    assert_eq!(s.counter.count("GET /admin/users/more-members"), 2);

    let all_groups = block_on(s.client.groups(None)).unwrap();
    assert_eq!(all_groups.len(), 4);
    let p = block_on(s.client.groups_page(Some("g"), 0, 25)).unwrap();
    assert_eq!(p.values.len(), 2, "the simulator's cap of 2 applies");
}

#[test]
fn groups_and_memberships() {
    let s = setup();
    for n in ["ann", "bob"] {
        s.sim.add_user(n, n, &format!("{n}@example.com"));
    }
    let g = block_on(s.client.create_group("Developers")).unwrap();
    assert_eq!(g.name, "Developers");
    assert_eq!(
        block_on(s.client.group("developers"))
            .unwrap()
            .unwrap()
            .name,
        "Developers",
        "found ignoring case, spelled as created"
    );
    assert!(block_on(s.client.group("devs")).unwrap().is_none());

    block_on(s.client.add_users_to_group("developers", &["ann", "bob"])).unwrap();
    block_on(
        s.client
            .add_user_to_groups("ann", &["stash-users", "developers"]),
    )
    .unwrap();
    assert_eq!(s.sim.group_members("Developers").unwrap(), ["ann", "bob"]);
    assert_eq!(s.sim.groups_of("ann"), ["Developers", "stash-users"]);

    block_on(s.client.remove_user_from_group("bob", "Developers")).unwrap();
    assert_eq!(s.sim.group_members("Developers").unwrap(), ["ann"]);

    // All or nothing: an unknown user stops the whole call.
    let err = block_on(
        s.client
            .add_users_to_group("developers", &["bob", "nobody"]),
    )
    .unwrap_err();
    assert_eq!(status_of(&err), 404);
    assert!(err.to_string().contains("nobody"), "{err}");
    assert_eq!(s.sim.group_members("Developers").unwrap(), ["ann"]);

    assert!(block_on(s.client.group_members("nope")).unwrap().is_none());
    assert!(block_on(s.client.user_groups("nobody")).unwrap().is_none());

    block_on(s.client.delete_group("developers")).unwrap();
    assert!(s.sim.group_members("Developers").is_none());
    let err = block_on(s.client.delete_group("developers")).unwrap_err();
    assert_eq!(status_of(&err), 404);
}

#[test]
fn global_permissions_of_groups_and_users() {
    let s = setup();
    s.sim.add_group("admins");
    s.sim.add_group("plain");
    assert!(s.sim.grant_group("admins", "ADMIN"));
    s.sim.add_user("svc", "svc", "svc@example.com");
    assert!(s.sim.grant_user("svc", "PROJECT_CREATE"));

    let mut permitted: Vec<(String, GlobalPermission)> = block_on(s.client.permitted_groups())
        .unwrap()
        .into_iter()
        .map(|p| (p.group.name, p.permission))
        .collect();
    permitted.sort();
    assert_eq!(
        permitted,
        [
            ("admins".to_owned(), GlobalPermission::Admin),
            ("stash-users".to_owned(), GlobalPermission::LicensedUser),
        ]
    );
    assert_eq!(
        block_on(s.client.direct_permission("SVC")).unwrap(),
        Some(GlobalPermission::ProjectCreate)
    );
    block_on(s.client.revoke_direct_permissions("svc")).unwrap();
    assert_eq!(block_on(s.client.direct_permission("svc")).unwrap(), None);
    assert!(!s.sim.can_log_in("svc"));
}

// ---- errors ----

#[test]
fn error_bodies_become_clear_errors() {
    let s = setup();
    // 404: unknown user.
    let err = block_on(s.client.update_user("ghost", Some("G"), None)).unwrap_err();
    assert_eq!(status_of(&err), 404);
    let text = err.to_string();
    assert!(
        text.contains("PUT /admin/users") && text.contains("User ghost does not exist"),
        "{text}"
    );
    assert_eq!(ScimError::from(err).status().as_u16(), 404);

    // 409: duplicate name, ignoring case.
    block_on(s.client.create_user(&new_user("dup"))).unwrap();
    let err = block_on(s.client.create_user(&new_user("DUP"))).unwrap_err();
    assert_eq!(status_of(&err), 409);
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(ScimError::from(err).status().as_u16(), 409);
    let err = block_on(s.client.create_group("STASH-USERS")).unwrap_err();
    assert_eq!(status_of(&err), 409);

    // 400: validation, naming the field.
    let bad = NewUser::new("x", "X", "not-an-email").password("pw");
    let err = block_on(s.client.create_user(&bad)).unwrap_err();
    assert_eq!(status_of(&err), 400);
    assert!(err.has_field("emailAddress"), "{err:?}");
    assert!(err.to_string().contains("not-an-email"), "{err}");
    let no_password = NewUser::new("y", "Y", "y@example.com");
    let err = block_on(s.client.create_user(&no_password)).unwrap_err();
    assert!(err.has_field("password"), "{err:?}");
    let err = block_on(s.client.create_user(&no_password.clone().notify(true))).unwrap_err();
    assert!(err.has_field("notify"), "no mail server: {err:?}");
    s.sim.set_mail_server(true);
    block_on(s.client.create_user(&no_password.notify(true))).unwrap();

    // A rename onto a taken name.
    let err = block_on(s.client.rename_user("y", "Dup")).unwrap_err();
    assert_eq!(status_of(&err), 400);
    assert!(err.has_field("newName"), "{err:?}");
    assert_eq!(s.sim.user("y").unwrap().name, "y");
}

#[test]
fn wrong_credentials_and_license_limits() {
    let s = setup();
    let other = BitbucketClient::builder("https://bitbucket.example.com", Credentials::bearer("x"))
        .client(s.sim.clone())
        .build()
        .unwrap();
    let err = block_on(other.users(None)).unwrap_err();
    assert_eq!(status_of(&err), 401);
    assert!(err.to_string().contains("Authentication failed"), "{err}");
    assert_eq!(
        ScimError::from(err).status().as_u16(),
        502,
        "our credentials being refused is a bad gateway for the SCIM client"
    );

    s.sim.set_license_limit(Some(1));
    block_on(
        s.client
            .create_user(&new_user("one").add_to_default_group(true)),
    )
    .unwrap();
    let err = block_on(
        s.client
            .create_user(&new_user("two").add_to_default_group(true)),
    )
    .unwrap_err();
    assert_eq!(status_of(&err), 403);
    assert!(s.sim.user("two").is_none(), "nothing created");
    block_on(s.client.create_user(&new_user("two"))).unwrap();
    let err = block_on(s.client.add_user_to_groups("two", &["stash-users"])).unwrap_err();
    assert_eq!(status_of(&err), 403);
    assert!(!s.sim.can_log_in("two"));
}

#[test]
fn invalid_configuration_is_refused() {
    let err = BitbucketClient::builder("ftp://bitbucket", Credentials::bearer("x"))
        .client(Arc::new(BitbucketSimulator::new(Credentials::bearer("x"))))
        .build()
        .unwrap_err();
    assert!(matches!(err, AtlassianError::InvalidBaseUrl(_)), "{err:?}");
    let err = BitbucketClient::builder("https://bitbucket", Credentials::bearer("x"))
        .build()
        .unwrap_err();
    assert!(matches!(err, AtlassianError::MissingClient), "{err:?}");
}

// ---- retries ----

#[test]
fn rate_limits_are_retried_for_idempotent_calls_only() {
    let s = setup();
    s.sim.add_user("ann", "Ann", "ann@example.com");
    s.sim.fail_next(2, &Fault::RateLimited { retry_after: 3 });
    let users = block_on(s.client.users(None)).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        s.sim.calls("GET", "/admin/users"),
        3,
        "two 429s, then the answer"
    );
    let waits = s.waits.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(
        waits
            .iter()
            .all(|w| *w >= Duration::from_secs(3) && *w <= Duration::from_millis(3300)),
        "Retry-After honoured, with jitter: {waits:?}"
    );

    // Membership calls are set-like, so they are retried too.
    s.sim.fail_next(1, &Fault::Unavailable);
    block_on(s.client.add_user_to_groups("ann", &["stash-users"])).unwrap();
    assert_eq!(s.sim.calls("POST", "/admin/users/add-groups"), 2);

    // A 429 means the create was not processed: it goes again, and creates once.
    s.sim.fail_next(1, &Fault::RateLimited { retry_after: 1 });
    block_on(s.client.create_user(&new_user("bob"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/admin/users"), 2);
    assert!(s.sim.user("bob").is_some());
    // A timeout may have renamed: the caller must read back, so it is passed on at once.
    s.sim.fail_next(1, &Fault::Timeout);
    let err = block_on(s.client.rename_user("ann", "anne")).unwrap_err();
    assert!(matches!(err, AtlassianError::Transport { .. }), "{err:?}");
    assert!(err.may_have_applied());
    assert_eq!(s.sim.calls("POST", "/admin/users/rename"), 1);
    assert_eq!(
        s.waits.0.lock().unwrap().len(),
        4,
        "the add-groups and create retries waited, the rename did not"
    );

    // A Retry-After longer than the policy's ceiling is not waited for: the IdP is told to
    // come back after it.
    s.sim.fail_next(1, &Fault::RateLimited { retry_after: 600 });
    let err = block_on(s.client.users(None)).unwrap_err();
    let AtlassianError::Exhausted {
        retry_after, last, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Duration::from_secs(600));
    assert_eq!(status_of(last), 429);
    let scim = scim_core::ScimError::from(err);
    assert_eq!(scim.status().as_u16(), 503);
    assert_eq!(scim.retry_after_secs(), Some(600));
    assert!(
        scim.detail().contains("GET /admin/users"),
        "{}",
        scim.detail()
    );
}

// ---- the adapter ----

/// ann in stash-users (login), admins (ADMIN, a login group the server knows) and developers
/// (no permission).
fn deprovision_setup() -> (Setup, String) {
    let s = setup();
    s.sim.add_group("admins");
    s.sim.grant_group("admins", "ADMIN");
    s.sim.add_group("developers");
    let id = s.sim.add_user("ann", "Ann", "ann@example.com");
    for g in ["stash-users", "admins", "developers"] {
        assert!(s.sim.add_member(g, "ann"));
    }
    (s, id.to_string())
}

#[test]
fn deprovision_removes_only_configured_login_groups() {
    let (s, id) = deprovision_setup();
    let t = target(&s);
    let before = block_on(t.get_user(&id)).unwrap().unwrap();
    assert!(before.active);
    let after = block_on(t.deprovision_user(&id)).unwrap().unwrap();
    assert!(!after.active);
    assert_eq!(after.groups, ["admins", "developers"]);
    assert_eq!(s.sim.groups_of("ann"), ["admins", "developers"]);
    assert!(
        s.sim.can_log_in("ann"),
        "admins was not configured as a login group"
    );
}

#[test]
fn deprovision_with_discovery_removes_every_permission_group() {
    let (s, id) = deprovision_setup();
    s.sim.grant_user("ann", "LICENSED_USER");
    let t = target(&s)
        .discover_login_groups(true)
        .direct_permissions(true);
    s.sim.reset_calls();
    let after = block_on(t.deprovision_user(&id)).unwrap().unwrap();
    assert!(!after.active);
    assert_eq!(after.groups, ["developers"]);
    assert_eq!(s.sim.groups_of("ann"), ["developers"]);
    assert_eq!(s.sim.direct_permission("ann"), None);
    assert!(!s.sim.can_log_in("ann"));
    assert_eq!(s.sim.calls("POST", "/admin/users/remove-group"), 2);
    assert_eq!(s.sim.calls("DELETE", "/admin/permissions/users"), 1);

    let again = block_on(t.get_user(&id)).unwrap().unwrap();
    assert!(!again.active);
    // Deprovisioning twice changes nothing more.
    s.sim.reset_calls();
    block_on(t.deprovision_user(&id)).unwrap().unwrap();
    assert_eq!(s.sim.write_calls(), 0);

    let back = block_on(t.activate_user(&id)).unwrap().unwrap();
    assert!(back.active);
    assert_eq!(
        s.sim.groups_of("ann"),
        ["developers", "stash-users"],
        "activation adds the configured login groups only, never discovered admin groups"
    );
}

#[test]
fn active_counts_direct_permissions_when_asked() {
    let s = setup();
    let id = s
        .sim
        .add_user("svc", "Service", "svc@example.com")
        .to_string();
    s.sim.grant_user("svc", "LICENSED_USER");
    assert!(!block_on(target(&s).get_user(&id)).unwrap().unwrap().active);
    let t = target(&s).direct_permissions(true);
    assert!(block_on(t.get_user(&id)).unwrap().unwrap().active);
}

#[test]
fn create_user_then_find_it_by_id_and_name() {
    let s = setup();
    let t = target(&s);
    s.sim.reset_calls();
    let created = block_on(t.create_user(
        NewUser::new("bjensen", "Barbara Jensen", "bjensen@example.com"),
        true,
    ))
    .unwrap();
    assert!(created.active);
    assert_eq!(created.groups, ["stash-users"]);
    assert_eq!(
        s.sim.call_counts().into_iter().collect::<Vec<_>>(),
        [
            ("GET /admin/users".to_owned(), 1),
            ("POST /admin/users".to_owned(), 1),
            ("POST /admin/users/add-groups".to_owned(), 1),
        ],
        "create, learn the id, grant login"
    );
    assert!(s.sim.can_log_in("bjensen"));
    assert!(
        !s.sim.password_is("bjensen", ""),
        "a random password was set"
    );

    s.sim.reset_calls();
    let got = block_on(t.get_user(&created.id)).unwrap().unwrap();
    assert_eq!(got, created);
    assert_eq!(s.sim.total_calls(), 2, "remembered name + groups");

    let by_name = block_on(t.find_user_by_name("BJENSEN")).unwrap().unwrap();
    assert_eq!(by_name.id, created.id);
    assert!(block_on(t.find_user_by_name("nobody")).unwrap().is_none());
    assert!(block_on(t.get_user("not-a-number")).unwrap().is_none());
    assert!(block_on(t.get_user("999")).unwrap().is_none());

    let inactive = block_on(t.create_user(new_user("later"), false)).unwrap();
    assert!(!inactive.active);
    assert!(!s.sim.can_log_in("later"));
    assert!(s.sim.password_is("later", "pw1234"));
}

#[test]
fn failed_create_leaves_nothing_behind() {
    let s = setup();
    let t = target(&s);
    s.sim
        .fail_call("POST", "/admin/users/add-groups", 1, Fault::Status(403));
    let err = block_on(t.create_user(new_user("half"), true)).unwrap_err();
    assert_eq!(status_of(&err), 403);
    assert!(s.sim.user("half").is_none(), "the created user was deleted");
    assert_eq!(s.sim.calls("DELETE", "/admin/users"), 1);

    let none = BitbucketTarget::new(s.client.clone(), Vec::new());
    let err = block_on(none.create_user(new_user("x"), true)).unwrap_err();
    assert!(matches!(err, AtlassianError::InvalidConfig(_)), "{err:?}");
    assert!(s.sim.user("x").is_none());
}

#[test]
fn ids_survive_renames_made_elsewhere() {
    let s = setup();
    let t = target(&s);
    let u = block_on(t.create_user(new_user("carol"), true)).unwrap();
    assert!(s.sim.rename("carol", "caroline"));
    s.sim.reset_calls();
    let got = block_on(t.get_user(&u.id)).unwrap().unwrap();
    assert_eq!(
        (got.id.as_str(), got.name.as_str()),
        (u.id.as_str(), "caroline")
    );
    assert!(got.active);
    assert_eq!(
        s.sim.calls("GET", "/admin/users"),
        2,
        "the stale name missed, the listing walk found the id"
    );
}

#[test]
fn update_renames_and_changes_details_or_nothing() {
    let s = setup();
    let t = target(&s);
    let u = block_on(t.create_user(new_user("dave"), true)).unwrap();
    let changes = UserChanges {
        name: Some("david".to_owned()),
        display_name: Some("David".to_owned()),
        email: Some("david@example.com".to_owned()),
    };
    let got = block_on(t.update_user(&u.id, &changes)).unwrap().unwrap();
    assert_eq!(
        (
            got.id.as_str(),
            got.name.as_str(),
            got.display_name.as_str(),
            got.email.as_str()
        ),
        (u.id.as_str(), "david", "David", "david@example.com")
    );
    assert!(got.active);

    // The details fail after the rename: the rename is undone.
    let bad = UserChanges {
        name: Some("dave".to_owned()),
        email: Some("broken".to_owned()),
        ..UserChanges::default()
    };
    let err = block_on(t.update_user(&u.id, &bad)).unwrap_err();
    assert!(err.has_field("email"), "{err:?}");
    assert_eq!(s.sim.user("david").unwrap().email, "david@example.com");
    assert!(s.sim.user("dave").is_none());
    assert!(
        block_on(t.update_user("424242", &changes))
            .unwrap()
            .is_none()
    );
}

#[test]
fn groups_and_members_through_the_adapter() {
    let s = setup();
    let t = target(&s);
    let ann = block_on(t.create_user(new_user("ann"), false)).unwrap();
    let bob = block_on(t.create_user(new_user("bob"), false)).unwrap();
    let team = block_on(t.create_group("Team")).unwrap();
    assert_eq!(team.name, "Team");
    assert_eq!(
        block_on(t.find_group("team")).unwrap().unwrap().name,
        "Team"
    );
    assert!(block_on(t.add_member("team", &ann.id)).unwrap());
    assert!(block_on(t.add_member("team", &bob.id)).unwrap());
    assert!(!block_on(t.add_member("team", "999")).unwrap());
    let members = block_on(t.list_members("Team")).unwrap().unwrap();
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [ann.id.as_str(), bob.id.as_str()]);
    assert!(block_on(t.remove_member("team", &ann.id)).unwrap());
    assert_eq!(s.sim.group_members("Team").unwrap(), ["bob"]);
    let names: Vec<String> = block_on(t.list_groups())
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["stash-users", "Team"]);
    assert!(block_on(t.delete_group("team")).unwrap());
    assert!(!block_on(t.delete_group("team")).unwrap());
    assert!(block_on(t.list_members("team")).unwrap().is_none());
    assert!(block_on(t.delete_user(&ann.id)).unwrap());
    assert!(!block_on(t.delete_user(&ann.id)).unwrap());
}

#[test]
fn list_users_pages_and_marks_active_without_a_call_per_user() {
    let s = setup();
    let t = target(&s);
    for (i, active) in [true, false, true, false, true].into_iter().enumerate() {
        block_on(t.create_user(new_user(&format!("u{i}")), active)).unwrap();
    }
    s.sim.reset_calls();
    let first = block_on(t.list_users(None, 0, 3)).unwrap();
    let flags: Vec<(String, bool)> = first
        .users
        .iter()
        .map(|u| (u.name.clone(), u.active))
        .collect();
    assert_eq!(
        flags,
        [
            ("u0".to_owned(), true),
            ("u1".to_owned(), false),
            ("u2".to_owned(), true)
        ]
    );
    assert_eq!(first.next_start, Some(3));
    assert_eq!(
        s.sim.total_calls(),
        2,
        "one user page, one login-group listing"
    );
    let second = block_on(t.list_users(None, 3, 3)).unwrap();
    assert_eq!(second.users.len(), 2);
    assert_eq!(second.next_start, None);
    let searched = block_on(t.list_users(Some("U3@EXAMPLE"), 0, 10)).unwrap();
    let names: Vec<&str> = searched.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["u3"],
        "the filter also matches emails, ignoring case"
    );
}

#[test]
fn adapter_call_counts_per_operation() {
    let s = setup();
    let t = target(&s);
    s.sim.add_group("team");
    let ann = block_on(t.create_user(new_user("ann"), true)).unwrap();
    // Each operation on a remembered id, with the calls it makes.
    let calls = || {
        let counts: Vec<(String, usize)> = s.sim.call_counts().into_iter().collect();
        s.sim.reset_calls();
        counts
    };
    calls();
    let c = |k: &str, n: usize| (k.to_owned(), n);

    block_on(t.get_user(&ann.id)).unwrap().unwrap();
    assert_eq!(
        calls(),
        [
            c("GET /admin/users", 1),
            c("GET /admin/users/more-members", 1)
        ]
    );
    let changes = UserChanges {
        display_name: Some("Ann B".to_owned()),
        ..UserChanges::default()
    };
    block_on(t.update_user(&ann.id, &changes)).unwrap().unwrap();
    assert_eq!(
        calls(),
        [
            c("GET /admin/users", 1),
            c("GET /admin/users/more-members", 1),
            c("PUT /admin/users", 1)
        ]
    );
    block_on(t.deprovision_user(&ann.id)).unwrap().unwrap();
    assert_eq!(
        calls(),
        [
            c("GET /admin/users", 1),
            c("GET /admin/users/more-members", 1),
            c("POST /admin/users/remove-group", 1)
        ]
    );
    block_on(t.activate_user(&ann.id)).unwrap().unwrap();
    assert_eq!(
        calls(),
        [
            c("GET /admin/users", 1),
            c("GET /admin/users/more-members", 1),
            c("POST /admin/users/add-groups", 1)
        ]
    );
    assert!(block_on(t.add_member("team", &ann.id)).unwrap());
    assert_eq!(
        calls(),
        [
            c("GET /admin/users", 1),
            c("POST /admin/groups/add-users", 1)
        ]
    );
    block_on(t.list_members("team")).unwrap().unwrap();
    assert_eq!(calls(), [c("GET /admin/groups/more-members", 1)]);
    assert!(block_on(t.delete_user(&ann.id)).unwrap());
    assert_eq!(
        calls(),
        [c("DELETE /admin/users", 1), c("GET /admin/users", 1)]
    );
}

#[test]
fn timeouts_are_retried_for_reads_not_creates() {
    let s = setup();
    s.sim.fail_next(1, &Fault::Timeout);
    assert_eq!(block_on(s.client.groups(None)).unwrap().len(), 1);
    assert_eq!(s.sim.calls("GET", "/admin/groups"), 2);
    s.sim.fail_next(1, &Fault::Timeout);
    let err = block_on(s.client.create_group("g")).unwrap_err();
    assert!(matches!(err, AtlassianError::Transport { .. }), "{err:?}");
    assert_eq!(ScimError::from(err).status().as_u16(), 504);
    assert_eq!(s.sim.calls("POST", "/admin/groups"), 1);
}

#[test]
fn test_connection_names_what_is_wrong() {
    let s = setup();
    block_on(target(&s).test_connection()).unwrap();

    let typo = BitbucketTarget::new(s.client.clone(), vec!["stash-user".to_owned()]);
    let err = block_on(typo.test_connection()).unwrap_err();
    assert!(matches!(err, AtlassianError::InvalidConfig(_)), "{err:?}");
    assert!(err.to_string().contains("stash-user"), "{err}");
    s.sim.add_group("plain");
    let no_permission = BitbucketTarget::new(s.client.clone(), vec!["plain".to_owned()]);
    assert!(block_on(no_permission.test_connection()).is_err());

    s.sim.set_admin(false);
    let err = block_on(target(&s).test_connection()).unwrap_err();
    assert_eq!(status_of(&err), 401);
    assert!(err.to_string().contains("ADMIN"), "{err}");
}

#[test]
fn only_canonical_ids_resolve() {
    let s = setup();
    let t = target(&s);
    let u = block_on(t.create_user(new_user("ids"), false)).unwrap();
    assert!(block_on(t.get_user(&u.id)).unwrap().is_some());
    for other in [format!("+{}", u.id), format!("0{}", u.id), String::new()] {
        assert!(block_on(t.get_user(&other)).unwrap().is_none(), "{other:?}");
    }
}

// ---- the simulator's own shapes ----

fn raw(sim: &BitbucketSimulator, method: Method, path_and_query: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(format!(
            "https://bitbucket.example.com/rest/api/latest{path_and_query}"
        ))
        .header(
            "authorization",
            Credentials::basic("admin", "pw").header_value().unwrap(),
        )
        .body(Vec::new())
        .unwrap();
    let resp = block_on(sim.send(req)).unwrap();
    let json = if resp.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(resp.body()).unwrap()
    };
    (resp.status().as_u16(), json)
}

#[test]
fn simulator_pages_and_errors_like_bitbucket() {
    let sim = BitbucketSimulator::new(Credentials::basic("admin", "pw"));
    for i in 0..30 {
        sim.add_user(&format!("u{i:02}"), "U", &format!("u{i}@example.com"));
    }
    let (status, page) = raw(&sim, Method::GET, "/admin/users");
    assert_eq!(status, 200);
    assert_eq!(page["size"], 25, "default limit");
    assert_eq!(page["limit"], 25);
    assert_eq!(page["isLastPage"], false);
    assert_eq!(page["nextPageStart"], 25);
    let (_, last) = raw(&sim, Method::GET, "/admin/users?start=25&limit=25");
    assert_eq!(last["size"], 5);
    assert_eq!(last["isLastPage"], true);
    assert!(last.get("nextPageStart").is_none());
    assert_eq!(last["values"][0]["name"], "u25");
    assert!(last["values"][0]["id"].is_u64());
    let (status, user) = raw(&sim, Method::GET, "/users/u03");
    assert_eq!((status, user["name"].as_str()), (200, Some("u03")));

    let (status, err) = raw(&sim, Method::DELETE, "/admin/users?name=ghost");
    assert_eq!(status, 404);
    assert_eq!(err["errors"][0]["message"], "User ghost does not exist.");
    assert!(err["errors"][0]["exceptionName"].is_string());
    let (status, _) = raw(&sim, Method::GET, "/admin/nothing");
    assert_eq!(status, 404);
    assert_eq!(sim.calls("GET", "/admin/users"), 2);
}

#[test]
fn errors_name_bitbucket_and_the_call() {
    let s = setup();
    let err = block_on(s.client.delete_group("no-such-group")).unwrap_err();
    assert_eq!(err.status(), Some(404));
    let text = err.to_string();
    assert!(
        text.starts_with("Bitbucket DELETE /admin/groups answered 404"),
        "{text}"
    );
    assert!(!text.contains("Jira"), "{text}");
}

#[test]
fn the_exception_class_tells_a_missing_user_from_a_missing_group() {
    let s = setup();
    let user = block_on(s.client.remove_user_from_group("ghost", "stash-users")).unwrap_err();
    assert!(user.has_field("NoSuchUserException"), "{user:?}");
    s.sim.add_user("bjensen", "Babs", "b@example.com");
    let group = block_on(s.client.remove_user_from_group("bjensen", "no-such")).unwrap_err();
    assert!(group.has_field("NoSuchGroupException"), "{group:?}");
    assert!(!group.has_field("NoSuchUserException"), "{group:?}");
}
