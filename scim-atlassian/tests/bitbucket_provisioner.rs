//! `AtlassianProvisioner::bitbucket` against the Bitbucket simulator: the conformance suite,
//! the numeric id, SCIM data in a user setting, login groups in place of deactivation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{ctx, user};

use scim_atlassian::policy::{DeprovisionAction, SyncPolicy, SyncPolicyBuilder};
use scim_atlassian::simulator::BitbucketSimulator;
use scim_atlassian::{AtlassianError, AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{PatchOp, User};

struct Setup {
    sim: Arc<BitbucketSimulator>,
    p: AtlassianProvisioner,
}

fn setup() -> Setup {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    let p = setup_on(sim.clone());
    Setup { sim, p }
}

/// A provisioner (a fresh one: it remembers nothing) on `sim`.
fn setup_on(sim: Arc<BitbucketSimulator>) -> AtlassianProvisioner {
    setup_with(sim, SyncPolicy::builder())
}

/// [`setup_on`] with the rules of `policy`.
fn setup_with(sim: Arc<BitbucketSimulator>, policy: SyncPolicyBuilder) -> AtlassianProvisioner {
    AtlassianProvisioner::bitbucket(
        "https://bitbucket.example.com/bb",
        Credentials::basic("admin", "pw"),
    )
    .client(sim)
    .login_groups(["stash-users"])
    // The login group expresses `active`: kept out of SCIM group management, so it
    // neither shows as a SCIM group nor is written through one.
    .policy(policy.exclude("stash-users").build().unwrap())
    .build()
    .unwrap()
}

/// The suite's users have no email, which Bitbucket requires: its checks run with the
/// simulator accepting users without one (`bitbucket_requires_an_email` covers the real
/// behaviour).
fn lenient() -> Setup {
    let s = setup();
    s.sim.require_email(false);
    s
}

/// Creates `user(name)`; its id.
fn created_id(p: &AtlassianProvisioner, name: &str) -> String {
    block_on(p.create_user(&ctx(), user(name)))
        .unwrap()
        .id
        .unwrap()
}

// One Bitbucket has one set of users: every conformance check but tenant isolation runs,
// each against a fresh Bitbucket.

common::conformance_suite!(lenient().p);

#[test]
fn the_id_is_numeric_survives_renames_and_scim_data_lives_in_a_user_setting() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    u.title = Some("Tour Guide".to_owned());
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let id = created.id.clone().unwrap();
    assert!(id.parse::<u64>().is_ok(), "numeric id, got {id}");
    assert_eq!(created.external_id.as_deref(), Some("ext-42"));
    assert!(
        s.sim.can_log_in("bjensen"),
        "created active: in the login group"
    );
    let setting = s
        .sim
        .user_setting("bjensen", "scim-rs")
        .expect("SCIM data setting");
    assert!(setting.contains("ext-42"), "{setting}");

    // Renamed in Bitbucket itself: same id, data still found (settings follow the user).
    assert!(s.sim.rename("bjensen", "barbara"));
    let got = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(got.user_name, "barbara");
    assert_eq!(got.external_id.as_deref(), Some("ext-42"));
    assert_eq!(got.title.as_deref(), Some("Tour Guide"));

    // externalId eq reads the settings: found through Bitbucket alone.
    let fresh = setup_on(s.sim.clone());
    let query = ListQuery::new().with_filter(r#"externalId eq "ext-42""#.parse().unwrap());
    let found = block_on(fresh.search_users(&ctx(), &query)).unwrap();
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id.as_deref(), Some(id.as_str()));
}

#[test]
fn active_false_removes_the_login_groups_and_true_adds_them_back() {
    let s = setup();
    let created = block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let id = created.id.clone().unwrap();
    let off =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            .unwrap();
    let patched = block_on(s.p.patch_user(&ctx(), &id, &off, None)).unwrap();
    assert_eq!(patched.active, Some(false));
    assert!(!s.sim.can_log_in("bjensen"));
    assert!(
        !s.sim
            .groups_of("bjensen")
            .iter()
            .any(|g| g == "stash-users")
    );
    let on =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":true}]}"#)
            .unwrap();
    let patched = block_on(s.p.patch_user(&ctx(), &id, &on, None)).unwrap();
    assert_eq!(patched.active, Some(true));
    assert!(s.sim.can_log_in("bjensen"));
    // The login group expresses `active`, not a SCIM group.
    assert!(patched.groups.is_empty(), "{:?}", patched.groups);
}

#[test]
fn bitbucket_requires_an_email_and_errors_name_bitbucket() {
    let s = setup();
    let err = block_on(s.p.create_user(&ctx(), User::new("nomail"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 400, "{err}");
    let text = err.to_string();
    assert!(text.contains("Bitbucket"), "{text}");
    assert!(!text.contains("Jira"), "{text}");
    assert!(s.sim.user("nomail").is_none(), "nothing written");
    assert!(s.p.capabilities().requires_user_attribute("emails"));
}

#[test]
fn the_build_requires_login_groups() {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::bearer("pat")));
    let err = AtlassianProvisioner::bitbucket("https://bb.example.com", Credentials::bearer("pat"))
        .client(sim)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, AtlassianError::InvalidConfig(ref m) if m.contains("login_groups")),
        "{err}"
    );
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(Arc::new(BitbucketSimulator::new(Credentials::bearer(
            "pat",
        ))))
        .login_groups(["stash-users"])
        .build()
        .unwrap_err();
    assert!(matches!(jira, AtlassianError::InvalidConfig(_)), "{jira}");
}

/// Calls per SCIM operation (BENCHMARKS.md), as `(reads, writes)`.
#[test]
fn calls_per_operation() {
    let s = setup();
    let count = |f: &dyn Fn()| {
        s.sim.reset_calls();
        f();
        let writes = s.sim.write_calls();
        (s.sim.total_calls() - writes, writes, s.sim.call_counts())
    };
    let mut u = user("bjensen");
    u.external_id = Some("ext-1".to_owned());
    let id = std::cell::RefCell::new(String::new());
    let create = count(&|| {
        let c = block_on(s.p.create_user(&ctx(), u.clone())).unwrap();
        *id.borrow_mut() = c.id.unwrap();
    });
    let id = id.into_inner();
    let get = count(&|| {
        block_on(s.p.get_user(&ctx(), &id)).unwrap();
    });
    let by_name = count(&|| {
        let q = ListQuery::new().with_filter(r#"userName eq "bjensen""#.parse().unwrap());
        block_on(s.p.search_users(&ctx(), &q)).unwrap();
    });
    let patch = PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"displayName","value":"B"}]}"#,
    )
    .unwrap();
    let rename = count(&|| {
        block_on(s.p.patch_user(&ctx(), &id, &patch, None)).unwrap();
    });
    let off =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            .unwrap();
    let deactivate = count(&|| {
        block_on(s.p.patch_user(&ctx(), &id, &off, None)).unwrap();
    });
    let delete = count(&|| {
        block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    });
    // Finding a user by id is a filtered listing by its remembered name; the SCIM data needs
    // the user's slug, so reading or writing it looks the user up once more.
    let got = |c: &(usize, usize, _)| (c.0, c.1);
    assert_eq!(got(&create), (2, 3), "create: {:?}", create.2);
    assert_eq!(got(&get), (4, 0), "get: {:?}", get.2);
    assert_eq!(got(&by_name), (4, 0), "userName eq: {:?}", by_name.2);
    assert_eq!(got(&rename), (7, 2), "PATCH displayName: {:?}", rename.2);
    assert_eq!(got(&deactivate), (7, 2), "PATCH active: {:?}", deactivate.2);
    assert_eq!(got(&delete), (5, 1), "delete: {:?}", delete.2);
}

#[test]
fn delete_deactivates_by_default_and_deletes_under_the_delete_policy() {
    // Default (`deactivate`): the account stays, without its groups, and SCIM answers 404.
    let s = setup();
    let id = created_id(&s.p, "bjensen");
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(s.sim.user("bjensen").is_some());
    assert!(!s.sim.can_log_in("bjensen"));
    let err = block_on(s.p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404, "{err}");
    // Created again: the same account (same id) comes back, able to log in.
    let again = block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    assert_eq!(again.id.as_deref(), Some(id.as_str()));
    assert!(s.sim.can_log_in("bjensen"));

    // `delete`: the account is gone.
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    let p = setup_with(
        sim.clone(),
        SyncPolicy::builder().deprovision(DeprovisionAction::Delete),
    );
    let id = created_id(&p, "bjensen");
    block_on(p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(sim.user("bjensen").is_none());
}

#[test]
fn policy_refusals_name_bitbucket() {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    let p = setup_with(
        sim.clone(),
        SyncPolicy::builder().scope_group("engineering"),
    );
    let err = block_on(p.create_user(&ctx(), user("bjensen"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 403, "{err}");
    let text = err.to_string();
    assert!(text.contains("nothing was written to Bitbucket"), "{text}");
    assert!(sim.user("bjensen").is_none());
}

#[test]
fn last_login_is_the_admin_listings_last_authentication() {
    let s = setup();
    let id = created_id(&s.p, "alice");
    // Never authenticated: Bitbucket leaves the field out.
    assert_eq!(block_on(s.p.last_login(&id)).unwrap(), None);
    let when = chrono::DateTime::from_timestamp_millis(1_767_225_600_123).unwrap();
    assert!(s.sim.set_last_login("alice", Some(when)));
    s.sim.reset_calls();
    assert_eq!(block_on(s.p.last_login(&id)).unwrap(), Some(when));
    assert!(
        s.sim.calls("GET", "/admin/users") >= 1,
        "{:?}",
        s.sim.call_counts()
    );
    // A user SCIM does not know is 404.
    let err = block_on(s.p.last_login("999")).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
}
