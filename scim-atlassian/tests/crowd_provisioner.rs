//! `AtlassianProvisioner::crowd` against the Crowd simulator: the conformance suite, Crowd's
//! identity (the name), SCIM data in a user attribute, whole-record updates, call counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{ctx, user};
use scim_atlassian::simulator::{CrowdSimulator, Fault};
use scim_atlassian::{AtlassianProvisioner, Credentials, GroupRename};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{Group, Member, Name, PatchOp, ScimType};

struct Setup {
    sim: Arc<CrowdSimulator>,
    p: AtlassianProvisioner,
}

fn setup_with(rename: GroupRename) -> Setup {
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app)
        .client(sim.clone())
        .group_rename(rename)
        .build()
        .unwrap();
    Setup { sim, p }
}

fn setup() -> Setup {
    setup_with(GroupRename::Refuse)
}

common::conformance_suite!(setup().p);

#[test]
fn the_id_is_the_name_and_scim_data_lives_in_an_attribute() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    u.name = Some(Name {
        given_name: Some("Barbara".to_owned()),
        family_name: Some("Jensen".to_owned()),
        ..Name::default()
    });
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    assert_eq!(created.id.as_deref(), Some("bjensen"));
    assert_eq!(created.external_id.as_deref(), Some("ext-42"));
    let crowd = s.sim.user("bjensen").unwrap();
    assert_eq!(crowd.first_name, "Barbara");
    assert_eq!(crowd.last_name, "Jensen");
    assert_eq!(crowd.email, "bjensen@example.com");
    let data = crowd
        .attributes
        .get("scim-rs")
        .expect("the SCIM data attribute");
    assert!(data.iter().all(|v| v.chars().count() <= 255));
    assert!(data.iter().any(|v| v.contains("ext-42")), "{data:?}");
    // Created without a password, the user still got one (Crowd requires it).
    assert!(!s.sim.password_is("bjensen", ""));

    let indexed = &crowd.attributes["scim-rs.externalId"];
    assert!(indexed.contains("ext-42"), "{indexed:?}");

    // Found again through Crowd alone: `externalId eq` is pushed down to Crowd's attribute
    // search, then the candidate is read (user, groups, data).
    block_on(s.p.create_user(&ctx(), user("jsmith"))).unwrap();
    s.sim.reset_calls();
    let query = ListQuery::new().with_filter(r#"externalId eq "ext-42""#.parse().unwrap());
    let found = block_on(s.p.search_users(&ctx(), &query)).unwrap();
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id.as_deref(), Some("bjensen"));
    assert_eq!(s.sim.calls("GET", "/search"), 1);
    assert_eq!(s.sim.total_calls(), 4, "{:?}", s.sim.call_counts());
    // A quote in the value is escaped, not a way out of the restriction.
    let odd = ListQuery::new().with_filter(r#"externalId eq "x\" or name = \"y""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &odd))
            .unwrap()
            .total_results,
        0
    );
}

#[test]
fn large_scim_data_is_split_across_attribute_values_and_read_back() {
    let s = setup();
    let mut u = user("bjensen");
    u.title = Some("t".repeat(1200));
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let values = &s.sim.user("bjensen").unwrap().attributes["scim-rs"];
    assert!(values.len() >= 5, "{} values", values.len());
    let got = block_on(s.p.get_user(&ctx(), created.id.as_deref().unwrap())).unwrap();
    assert_eq!(got.title.as_deref().map(str::len), Some(1200));
}

#[test]
fn a_rename_changes_the_id_and_keeps_data_and_groups() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let mut g = Group::new("staff");
    g.members = vec![Member::new("bjensen")];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    let mut renamed = created.clone();
    renamed.user_name = "barbara".to_owned();
    let got = block_on(s.p.replace_user(&ctx(), "bjensen", renamed, None)).unwrap();
    assert_eq!(got.id.as_deref(), Some("barbara"), "Crowd's id is its name");
    assert_eq!(got.external_id.as_deref(), Some("ext-42"));
    assert!(s.sim.user("bjensen").is_none());
    assert_eq!(s.sim.group_members("staff").unwrap(), vec!["barbara"]);
    let again = block_on(s.p.get_user(&ctx(), "barbara")).unwrap();
    assert_eq!(again.external_id.as_deref(), Some("ext-42"));
}

#[test]
fn deactivation_sends_the_whole_record() {
    let s = setup();
    let mut u = user("bjensen");
    u.name = Some(Name {
        given_name: Some("Barbara".to_owned()),
        family_name: Some("Jensen".to_owned()),
        ..Name::default()
    });
    block_on(s.p.create_user(&ctx(), u)).unwrap();
    let patch: PatchOp = serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    }))
    .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), "bjensen", &patch, None)).unwrap();
    assert_eq!(got.active, Some(false));
    let crowd = s.sim.user("bjensen").unwrap();
    assert!(!crowd.active);
    // Crowd's PUT empties what it is not sent: the names and email survived.
    assert_eq!(crowd.first_name, "Barbara");
    assert_eq!(crowd.email, "bjensen@example.com");
}

/// Crowd takes users without an email, so removing every email clears Crowd's address
/// rather than leaving it to reappear on the next read (scim2-tester's remove check).
#[test]
fn removing_every_email_clears_crowds_address() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let patch: PatchOp = serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "emails"}]
    }))
    .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), "bjensen", &patch, None)).unwrap();
    assert!(got.emails.is_empty(), "{:?}", got.emails);
    assert_eq!(s.sim.user("bjensen").unwrap().email, "");
    let read = block_on(s.p.get_user(&ctx(), "bjensen")).unwrap();
    assert!(read.emails.is_empty(), "{:?}", read.emails);
    assert_eq!(read.display_name.as_deref(), Some("bjensen display"));
}

#[test]
fn delete_deactivates_hides_and_leaves_groups() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let mut g = Group::new("staff");
    g.members = vec![Member::new("bjensen")];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    block_on(s.p.delete_user(&ctx(), "bjensen", None)).unwrap();
    assert!(!s.sim.user("bjensen").unwrap().active, "kept, inactive");
    assert_eq!(s.sim.group_members("staff").unwrap(), Vec::<String>::new());
    let err = block_on(s.p.get_user(&ctx(), "bjensen")).unwrap_err();
    assert_eq!(err.status(), 404);
}

#[test]
fn group_rename_refused_by_default_and_moved_when_asked() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    let mut g = Group::new("staff");
    g.members = vec![Member::new("bjensen")];
    block_on(s.p.create_group(&ctx(), g.clone())).unwrap();
    let mut renamed = g.clone();
    renamed.display_name = "employees".to_owned();
    let err = block_on(s.p.replace_group(&ctx(), "staff", renamed.clone(), None)).unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(err.scim_type(), Some(ScimType::Mutability));
    assert!(err.detail().contains("\"staff\""), "{err}");

    // Discovery says so: displayName is immutable unless renames are configured; Crowd
    // takes users without an email, so `emails` is not required.
    assert!(s.p.capabilities().fixed_group_names);
    assert!(!s.p.capabilities().requires_user_attribute("emails"));

    let s2 = setup_with(GroupRename::CreateMoveDelete);
    assert!(!s2.p.capabilities().fixed_group_names);
    block_on(s2.p.create_user(&ctx(), user("bjensen"))).unwrap();
    block_on(s2.p.create_group(&ctx(), g)).unwrap();
    let moved = block_on(s2.p.replace_group(&ctx(), "staff", renamed, None)).unwrap();
    assert_eq!(moved.id.as_deref(), Some("employees"));
    assert_eq!(s2.sim.group_members("employees").unwrap(), vec!["bjensen"]);
    assert!(
        s2.sim.group_members("staff").is_none(),
        "the old group is gone"
    );
}

#[test]
fn calls_per_operation() {
    let s = setup();
    block_on(s.p.create_user(&ctx(), user("bjensen"))).unwrap();
    assert_eq!(s.sim.calls("POST", "/user"), 1);
    assert_eq!(s.sim.calls("POST", "/user/attribute"), 1);
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());

    s.sim.reset_calls();
    block_on(s.p.get_user(&ctx(), "bjensen")).unwrap();
    // The user, its groups, its attributes.
    assert_eq!(s.sim.total_calls(), 3, "{:?}", s.sim.call_counts());

    s.sim.reset_calls();
    let mut changed = user("bjensen");
    changed.display_name = Some("Barbara J".to_owned());
    block_on(s.p.replace_user(&ctx(), "bjensen", changed, None)).unwrap();
    // Read (3), then the record re-read and PUT whole, then the attribute.
    assert_eq!(s.sim.calls("PUT", "/user"), 1);
    assert_eq!(s.sim.total_calls(), 6, "{:?}", s.sim.call_counts());

    s.sim.reset_calls();
    let by_name = ListQuery::new().with_filter(r#"userName eq "bjensen""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &by_name))
            .unwrap()
            .total_results,
        1
    );
    assert_eq!(
        s.sim.total_calls(),
        3,
        "userName eq: {:?}",
        s.sim.call_counts()
    );

    let mut g = Group::new("staff");
    g.members = vec![Member::new("bjensen")];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    s.sim.reset_calls();
    let by_group = ListQuery::new().with_filter(r#"displayName eq "STAFF""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_groups(&ctx(), &by_group))
            .unwrap()
            .total_results,
        1
    );
    assert_eq!(
        s.sim.total_calls(),
        2,
        "group displayName eq: {:?}",
        s.sim.call_counts()
    );

    s.sim.reset_calls();
    block_on(s.p.delete_user(&ctx(), "bjensen", None)).unwrap();
    // Read (3), the record re-read and PUT inactive, one membership removed, the data.
    assert_eq!(s.sim.total_calls(), 7, "delete: {:?}", s.sim.call_counts());
}

#[test]
fn crowd_errors_become_scim_errors() {
    let s = setup();
    s.sim.fail_next(1, &Fault::Status(500));
    let err = block_on(s.p.get_user(&ctx(), "nobody")).unwrap_err();
    assert_eq!(err.status(), 502, "{err}");
    assert!(err.detail().contains("Crowd GET /user"), "{err}");

    let wrong = AtlassianProvisioner::crowd(
        "https://crowd.example.com/crowd",
        Credentials::basic("scim-app", "wrong"),
    )
    .client(s.sim.clone())
    .build()
    .unwrap();
    let err = block_on(wrong.test_connection()).unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("application"), "{err}");
    assert!(block_on(s.p.test_connection()).is_ok());
}

#[test]
fn directory_id_is_refused_for_crowd() {
    let err =
        AtlassianProvisioner::crowd("https://crowd.example.com", Credentials::basic("a", "b"))
            .client(Arc::new(CrowdSimulator::new(Credentials::basic("a", "b"))))
            .directory_id(10000)
            .build()
            .unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}
