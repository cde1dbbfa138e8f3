//! Licence seats: `seats()` on every target, read from each product's simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The conformance macro is not used here.
#[allow(unused_macros, unused_imports)]
mod common;

use std::sync::Arc;

use common::{ctx, user};
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::simulator::{
    BitbucketSimulator, CloudSimulator, ConfluenceSimulator, CrowdSimulator, JiraSimulator,
};
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::Provisioner;
use scim_core::provision::conformance::block_on;

fn jira(sim: &Arc<JiraSimulator>) -> AtlassianProvisioner {
    AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .build()
        .unwrap()
}

#[test]
fn jira_seats_are_its_application_roles_and_the_tightest_one_heads_the_usage() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.set_application_role(
        "jira-software",
        "Jira Software",
        &["jira-software-users"],
        Some(10),
        true,
    );
    sim.set_application_role(
        "jira-servicedesk",
        "Jira Service Management",
        &["jira-servicedesk-agents"],
        Some(3),
        false,
    );
    let p = jira(&sim);
    for name in ["alice", "bob"] {
        let mut u = user(name);
        u.groups = Vec::new();
        let created = block_on(p.create_user(&ctx(), u)).unwrap();
        assert!(created.id.is_some());
    }
    let jira_api = p.jira_client().unwrap();
    block_on(jira_api.create_group("jira-software-users")).unwrap();
    block_on(jira_api.create_group("jira-servicedesk-agents")).unwrap();
    block_on(jira_api.add_member("jira-software-users", "alice")).unwrap();
    block_on(jira_api.add_member("jira-software-users", "bob")).unwrap();
    block_on(jira_api.add_member("jira-servicedesk-agents", "bob")).unwrap();

    let seats = block_on(p.seats()).unwrap();
    assert_eq!(seats.product, "Jira");
    assert_eq!(seats.pools.len(), 2);
    let software = &seats.pools[0];
    assert_eq!(
        (software.key.as_str(), software.licensed, software.used),
        ("jira-software", Some(10), 2)
    );
    assert!(software.default_for_new_users);
    assert_eq!(software.groups, vec!["jira-software-users".to_owned()]);
    let desk = &seats.pools[1];
    assert_eq!((desk.licensed, desk.used), (Some(3), 1));
    // Service Management has 2 left, Software 8: the headline is the tighter one.
    assert_eq!((seats.licensed, seats.used), (Some(3), Some(1)));
    assert_eq!(seats.free(), Some(2));
    assert_eq!(
        seats.to_string(),
        "Jira: 1 of 3 seats used (Jira Software 2/10, Jira Service Management 1/3)"
    );
    assert_eq!(sim.calls("GET", "/applicationrole"), 1);
}

#[test]
fn jira_unlimited_roles_have_no_limit() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.set_application_role("jira-core", "Jira Core", &["jira-core-users"], None, true);
    let seats = block_on(jira(&sim).seats()).unwrap();
    assert_eq!(seats.pools[0].licensed, None);
    assert_eq!(seats.licensed, None);
    assert_eq!(seats.free(), None);
    assert!(seats.is_known());
    assert_eq!(seats.to_string(), "Jira: 0 seats used, unlimited licence");
}

#[test]
fn confluence_seats_come_from_its_licence_api() {
    let admin = Credentials::bearer("confluence-pat");
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
    sim.set_max_users(Some(5));
    let p = AtlassianProvisioner::confluence("https://wiki.example.com/confluence", admin)
        .client(sim.clone())
        .embedded_crowd(app)
        .build()
        .unwrap();
    block_on(p.create_user(&ctx(), user("alice"))).unwrap();
    block_on(p.create_user(&ctx(), user("bob"))).unwrap();
    let seats = block_on(p.seats()).unwrap();
    assert_eq!(seats.product, "Confluence");
    assert_eq!((seats.licensed, seats.used), (Some(5), Some(2)));
    assert_eq!(seats.to_string(), "Confluence: 2 of 5 seats used");
}

#[test]
fn bitbucket_seats_come_from_admin_license() {
    let sim = Arc::new(BitbucketSimulator::new(Credentials::basic("admin", "pw")));
    sim.add_group("stash-users");
    sim.grant_group("stash-users", "LICENSED_USER");
    sim.set_license_limit(Some(25));
    let p = AtlassianProvisioner::bitbucket(
        "https://bitbucket.example.com/bb",
        Credentials::basic("admin", "pw"),
    )
    .client(sim.clone())
    .login_groups(["stash-users"])
    .build()
    .unwrap();
    block_on(p.create_user(&ctx(), user("alice"))).unwrap();
    let seats = block_on(p.seats()).unwrap();
    assert_eq!((seats.licensed, seats.used), (Some(25), Some(1)));
    sim.set_license_limit(None);
    let seats = block_on(p.seats()).unwrap();
    assert_eq!((seats.licensed, seats.used), (None, Some(1)));
}

#[test]
fn crowd_and_cloud_say_they_do_not_expose_seats() {
    let app = Credentials::basic("scim-app", "app-secret");
    let crowd = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app.clone())
        .client(Arc::new(CrowdSimulator::new(app)))
        .build()
        .unwrap();
    let seats = block_on(crowd.seats()).unwrap();
    assert!(!seats.is_known());
    assert_eq!((seats.licensed, seats.used), (None, None));
    assert!(seats.to_string().starts_with("Crowd: "), "{seats}");
    assert!(seats.note.unwrap().contains("does not expose"));

    let cloud = CloudProvisioner::builder("https://api.atlassian.com/scim/directory/d1", "key")
        .client(Arc::new(CloudSimulator::new("d1", "key")))
        .build()
        .unwrap();
    let seats = block_on(cloud.seats()).unwrap();
    assert!(!seats.is_known());
    assert!(seats.to_string().contains("admin.atlassian.com"), "{seats}");
}

#[test]
fn seat_usage_serializes_for_admin_pages() {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    sim.set_application_role("jira-software", "Jira Software", &["g"], Some(4), true);
    let seats = block_on(jira(&sim).seats()).unwrap();
    let json = serde_json::to_value(&seats).unwrap();
    assert_eq!(json["licensed"], 4);
    assert_eq!(json["used"], 0);
    assert_eq!(json["pools"][0]["defaultForNewUsers"], true);
}
