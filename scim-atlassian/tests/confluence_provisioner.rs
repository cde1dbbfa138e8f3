//! `AtlassianProvisioner::confluence` against the Confluence simulator: the conformance
//! suite, user keys as ids, disable/enable, SCIM data in the embedded directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{ctx, user};
use scim_atlassian::simulator::ConfluenceSimulator;
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{Group, Member, PatchOp};

struct Setup {
    sim: Arc<ConfluenceSimulator>,
    p: AtlassianProvisioner,
}

fn setup() -> Setup {
    let admin = Credentials::bearer("confluence-pat");
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
    let p = AtlassianProvisioner::confluence("https://wiki.example.com/confluence", admin)
        .client(sim.clone())
        .embedded_crowd(app)
        .build()
        .unwrap();
    Setup { sim, p }
}

common::conformance_suite!(setup().p);

#[test]
fn the_id_is_the_user_key_and_survives_a_rename() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-7".to_owned());
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let key = created.id.clone().unwrap();
    assert_eq!(s.sim.key_of("bjensen").as_deref(), Some(key.as_str()));
    let mut renamed = created.clone();
    renamed.user_name = "barbara".to_owned();
    let got = block_on(s.p.replace_user(&ctx(), &key, renamed, None)).unwrap();
    assert_eq!(got.id.as_deref(), Some(key.as_str()), "the key survives");
    assert_eq!(got.user_name, "barbara");
    let again = block_on(s.p.get_user(&ctx(), &key)).unwrap();
    assert_eq!(again.external_id.as_deref(), Some("ext-7"));
    assert!(s.sim.directory().user("barbara").is_some());
}

#[test]
fn deactivation_is_confluence_disable() {
    let s = setup();
    let key = block_on(s.p.create_user(&ctx(), user("bjensen")))
        .unwrap()
        .id
        .unwrap();
    s.sim.reset_calls();
    let off =
        PatchOp::from_slice(br#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#)
            .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), &key, &off, None)).unwrap();
    assert_eq!(got.active, Some(false));
    assert!(!s.sim.directory().user("bjensen").unwrap().active);
    assert_eq!(
        s.sim.calls("PUT", "/admin/user/bjensen/disable"),
        1,
        "{:?}",
        s.sim.call_counts()
    );
}

#[test]
fn names_confluence_refuses_are_a_clear_400() {
    let s = setup();
    let err = block_on(s.p.create_user(&ctx(), user("Has Space"))).unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
    assert!(err.detail().contains("lower-case"), "{err}");
    assert_eq!(s.sim.directory().user_count(), 0);
}

#[test]
fn groups_and_lookups() {
    let s = setup();
    let key = block_on(s.p.create_user(&ctx(), user("bjensen")))
        .unwrap()
        .id
        .unwrap();
    let mut g = Group::new("confluence-users");
    g.members = vec![Member::new(&key)];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    assert_eq!(
        s.sim.directory().group_members("confluence-users").unwrap(),
        ["bjensen"]
    );
    s.sim.reset_calls();
    let q = ListQuery::new().with_filter(r#"displayName eq "confluence-users""#.parse().unwrap());
    let page = block_on(s.p.search_groups(&ctx(), &q)).unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(
        page.resources[0].members[0].value.as_deref(),
        Some(key.as_str())
    );
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());
}

#[test]
fn confluence_needs_the_embedded_crowd_application() {
    let err =
        AtlassianProvisioner::confluence("https://wiki.example.com", Credentials::bearer("pat"))
            .client(Arc::new(ConfluenceSimulator::new(
                Credentials::bearer("pat"),
                Credentials::basic("a", "b"),
            )))
            .build()
            .unwrap_err();
    assert!(err.to_string().contains("embedded_crowd"), "{err}");
}

#[test]
fn calls_per_operation() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    // POST /admin/user, then the key-to-name lookup and the SCIM data attribute.
    assert_eq!(s.sim.total_calls(), 3, "create: {:?}", s.sim.call_counts());
    let key = s.sim.key_of("bjensen").unwrap();

    s.sim.reset_calls();
    block_on(s.p.get_user(&ctx(), &key)).unwrap();
    // The user (key lookup, embedded record, groups), then its data (key lookup, attribute).
    assert_eq!(s.sim.total_calls(), 5, "get: {:?}", s.sim.call_counts());

    s.sim.reset_calls();
    let by_name = ListQuery::new().with_filter(r#"userName eq "BJensen""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &by_name))
            .unwrap()
            .total_results,
        1
    );
    assert_eq!(
        s.sim.total_calls(),
        5,
        "userName eq: {:?}",
        s.sim.call_counts()
    );
}
