//! `AtlassianProvisioner::crowd` against the Crowd simulator: the conformance suite, stable
//! ids kept in a Crowd attribute (surviving renames), SCIM data in a user attribute,
//! whole-record updates, call counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{ctx, user};
use scim_atlassian::simulator::{CrowdSimulator, Fault};
use scim_atlassian::{AtlassianProvisioner, Credentials, GroupRename};
use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{Group, Member, Name, PatchOp, ScimType, User};

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

/// Creates `name` through SCIM and answers its id.
fn create(s: &Setup, name: &str) -> String {
    block_on(s.p.create_user(&ctx(), user(name)))
        .unwrap()
        .id
        .unwrap()
}

/// Whether `id` looks like the stable ids the Crowd target makes.
fn is_stable(id: &str) -> bool {
    id.strip_prefix("crowd-").is_some_and(|h| {
        h.len() == 32
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

common::conformance_suite!(setup().p);

#[test]
fn the_id_is_stable_and_scim_data_lives_in_an_attribute() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    u.name = Some(Name {
        given_name: Some("Barbara".to_owned()),
        family_name: Some("Jensen".to_owned()),
        ..Name::default()
    });
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let id = created.id.clone().unwrap();
    assert!(is_stable(&id), "{id}");
    assert_eq!(created.external_id.as_deref(), Some("ext-42"));
    let crowd = s.sim.user("bjensen").unwrap();
    // The id lives in Crowd, not in our memory.
    assert_eq!(
        crowd.attributes["scim-rs.id"].iter().collect::<Vec<_>>(),
        vec![&id]
    );
    assert_ne!(create(&s, "other"), id, "every user gets its own id");
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
    // search, then the candidate is read (user by its id's attribute search, groups, data by
    // the same search).
    block_on(s.p.create_user(&ctx(), user("jsmith"))).unwrap();
    s.sim.reset_calls();
    let query = ListQuery::new().with_filter(r#"externalId eq "ext-42""#.parse().unwrap());
    let found = block_on(s.p.search_users(&ctx(), &query)).unwrap();
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id.as_deref(), Some(id.as_str()));
    assert_eq!(s.sim.calls("GET", "/search"), 3);
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
fn a_rename_keeps_the_id_data_and_groups() {
    let s = setup();
    let mut u = user("bjensen");
    u.external_id = Some("ext-42".to_owned());
    let created = block_on(s.p.create_user(&ctx(), u)).unwrap();
    let id = created.id.clone().unwrap();
    let mut g = Group::new("staff");
    g.members = vec![Member::new(&id)];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    let mut renamed = created.clone();
    renamed.user_name = "barbara".to_owned();
    let got = block_on(s.p.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(
        got.id.as_deref(),
        Some(id.as_str()),
        "RFC 7643 §3.1: id never changes"
    );
    assert_eq!(got.user_name, "barbara");
    assert_eq!(got.external_id.as_deref(), Some("ext-42"));
    assert!(s.sim.user("bjensen").is_none());
    assert_eq!(s.sim.group_members("staff").unwrap(), vec!["barbara"]);
    let again = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(again.user_name, "barbara");
    assert_eq!(again.external_id.as_deref(), Some("ext-42"));
    let group = block_on(s.p.get_group(&ctx(), "staff")).unwrap();
    assert_eq!(group.members[0].value.as_deref(), Some(id.as_str()));
}

#[test]
fn lookups_by_id_name_and_listing_agree_after_a_rename() {
    let s = setup();
    let id = create(&s, "bjensen");
    let patch: PatchOp = serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "barbara"}]
    }))
    .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), &id, &patch, None)).unwrap();
    assert_eq!(got.id.as_deref(), Some(id.as_str()));
    let by_name = ListQuery::new().with_filter(r#"userName eq "barbara""#.parse().unwrap());
    let found = block_on(s.p.search_users(&ctx(), &by_name)).unwrap();
    assert_eq!(found.resources[0].id.as_deref(), Some(id.as_str()));
    let all = block_on(s.p.search_users(&ctx(), &ListQuery::new())).unwrap();
    let ids: Vec<_> = all
        .resources
        .iter()
        .map(|u| u.id.clone().unwrap())
        .collect();
    assert_eq!(ids, vec![id.clone()]);
    // Neither name is an id: the old one is gone, the new one belongs to a stable id.
    for name in ["bjensen", "barbara"] {
        let err = block_on(s.p.get_user(&ctx(), name)).unwrap_err();
        assert_eq!(err.status(), 404, "{name}: {err}");
    }
    // Writes by id reach the renamed user.
    let mut changed: User = got.clone();
    changed.display_name = Some("Barbara J".to_owned());
    changed.password = Some(scim_core::Password::new("n3w-secret"));
    block_on(s.p.replace_user(&ctx(), &id, changed, None)).unwrap();
    assert_eq!(s.sim.user("barbara").unwrap().display_name, "Barbara J");
    assert!(s.sim.password_is("barbara", "n3w-secret"));
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id)).unwrap_err().status(),
        404
    );
}

/// A user made in Crowd's console has no stable id: its name is its id, until a SCIM rename
/// gives it one (the id changes that once).
#[test]
fn a_user_made_in_crowd_keeps_its_name_as_id_until_renamed() {
    let s = setup();
    s.sim
        .add_user("legacy", "legacy@example.com", "Legacy User");
    let read = block_on(s.p.get_user(&ctx(), "legacy")).unwrap();
    assert_eq!(read.id.as_deref(), Some("legacy"));
    let all = block_on(s.p.search_users(&ctx(), &ListQuery::new())).unwrap();
    assert_eq!(all.resources[0].id.as_deref(), Some("legacy"));
    let mut g = Group::new("staff");
    g.members = vec![Member::new("legacy")];
    block_on(s.p.create_group(&ctx(), g)).unwrap();

    let mut renamed = read.clone();
    renamed.user_name = "modern".to_owned();
    let got = block_on(s.p.replace_user(&ctx(), "legacy", renamed, None)).unwrap();
    let id = got.id.clone().unwrap();
    assert!(is_stable(&id), "{id}");
    assert!(s.sim.user("modern").unwrap().attributes["scim-rs.id"].contains(&id));
    assert_eq!(
        block_on(s.p.get_user(&ctx(), "legacy"))
            .unwrap_err()
            .status(),
        404
    );
    let again = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(again.user_name, "modern");
    assert_eq!(s.sim.group_members("staff").unwrap(), vec!["modern"]);
    // A second rename keeps the id it got.
    let mut twice = again.clone();
    twice.user_name = "modern2".to_owned();
    let got = block_on(s.p.replace_user(&ctx(), &id, twice, None)).unwrap();
    assert_eq!(got.id.as_deref(), Some(id.as_str()));
}

#[test]
fn unknown_and_hostile_ids_answer_404() {
    let s = setup();
    let id = create(&s, "bjensen");
    let unknown = format!("crowd-{}", "0".repeat(32));
    let hostile = [
        unknown.as_str(),
        "crowd-",
        "crowd-XYZ",
        "",
        "\"",
        "\\",
        "x\" or name = \"bjensen",
        "scim-rs.id = \"crowd-",
        "../user?username=bjensen",
        "%00",
        "\u{0}",
        "nobody",
        // A SCIM-made user's name is not its id.
        "bjensen",
    ];
    let long = "é".repeat(5000);
    for bad in hostile.iter().copied().chain([long.as_str()]) {
        let err = block_on(s.p.get_user(&ctx(), bad)).unwrap_err();
        assert_eq!(err.status(), 404, "{bad:?}: {err}");
        let err = block_on(s.p.replace_user(&ctx(), bad, user("bjensen"), None)).unwrap_err();
        assert_eq!(err.status(), 404, "{bad:?}: {err}");
        let err = block_on(s.p.delete_user(&ctx(), bad, None)).unwrap_err();
        assert_eq!(err.status(), 404, "{bad:?}: {err}");
    }
    // Nothing was touched.
    assert_eq!(s.sim.user_count(), 1);
    assert!(block_on(s.p.get_user(&ctx(), &id)).is_ok());
}

/// The simulator's attribute search: `restriction=<attribute> = "<value>"` finds users by a
/// custom attribute's value, and `expand=user,attributes` answers their attributes.
#[test]
fn the_simulator_searches_user_attributes() {
    use scim_core::HttpClient;
    let s = setup();
    let id = create(&s, "bjensen");
    create(&s, "jsmith");
    let app = Credentials::basic("scim-app", "app-secret");
    let search = |restriction: &str, expand: &str| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("entity-type", "user")
            .append_pair("restriction", restriction)
            .append_pair("expand", expand)
            .finish();
        let request = http::Request::get(format!(
            "https://crowd.example.com/crowd/rest/usermanagement/1/search?{query}"
        ))
        .header(http::header::AUTHORIZATION, app.header_value().unwrap())
        .body(Vec::new())
        .unwrap();
        let response = block_on(s.sim.send(request)).unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        (status, body)
    };
    let (status, body) = search(&format!("scim-rs.id = \"{id}\""), "user,attributes");
    assert_eq!(status, 200);
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{body}");
    assert_eq!(users[0]["name"], "bjensen");
    let attributes = users[0]["attributes"]["attributes"].as_array().unwrap();
    assert!(
        attributes
            .iter()
            .any(|a| a["name"] == "scim-rs.id" && a["values"][0] == id.as_str()),
        "{body}"
    );
    // Only asked-for expansions: without `attributes`, none.
    let (_, plain) = search(&format!("scim-rs.id = \"{id}\""), "user");
    assert!(plain["users"][0].get("attributes").is_none(), "{plain}");
    // A value nobody has finds nobody; an unparsable restriction is 400.
    let (status, none) = search("scim-rs.id = \"crowd-nobody\"", "user");
    assert_eq!(status, 200);
    assert_eq!(none["users"].as_array().unwrap().len(), 0);
    let (status, _) = search("scim-rs.id = unquoted", "user");
    assert_eq!(status, 400);
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
    let id = block_on(s.p.create_user(&ctx(), u)).unwrap().id.unwrap();
    let patch: PatchOp = serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    }))
    .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), &id, &patch, None)).unwrap();
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
    let id = create(&s, "bjensen");
    let patch: PatchOp = serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "emails"}]
    }))
    .unwrap();
    let got = block_on(s.p.patch_user(&ctx(), &id, &patch, None)).unwrap();
    assert!(got.emails.is_empty(), "{:?}", got.emails);
    assert_eq!(s.sim.user("bjensen").unwrap().email, "");
    let read = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert!(read.emails.is_empty(), "{:?}", read.emails);
    assert_eq!(read.display_name.as_deref(), Some("bjensen display"));
}

#[test]
fn delete_deactivates_hides_and_leaves_groups() {
    let s = setup();
    let id = create(&s, "bjensen");
    let mut g = Group::new("staff");
    g.members = vec![Member::new(&id)];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(!s.sim.user("bjensen").unwrap().active, "kept, inactive");
    assert_eq!(s.sim.group_members("staff").unwrap(), Vec::<String>::new());
    let err = block_on(s.p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status(), 404);
}

#[test]
fn group_rename_refused_by_default_and_moved_when_asked() {
    let s = setup();
    let id = create(&s, "bjensen");
    let mut g = Group::new("staff");
    g.members = vec![Member::new(&id)];
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
    let id2 = create(&s2, "bjensen");
    g.members = vec![Member::new(&id2)];
    renamed.members = g.members.clone();
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
    let id = create(&s, "bjensen");
    // The user, its stable id, its SCIM data.
    assert_eq!(s.sim.calls("POST", "/user"), 1);
    assert_eq!(s.sim.calls("POST", "/user/attribute"), 2);
    assert_eq!(s.sim.total_calls(), 3, "{:?}", s.sim.call_counts());

    s.sim.reset_calls();
    block_on(s.p.get_user(&ctx(), &id)).unwrap();
    // The user by its id's attribute search, its groups, its data (the same search).
    assert_eq!(s.sim.calls("GET", "/search"), 2);
    assert_eq!(s.sim.total_calls(), 3, "{:?}", s.sim.call_counts());

    s.sim.reset_calls();
    let mut changed = user("bjensen");
    changed.display_name = Some("Barbara J".to_owned());
    block_on(s.p.replace_user(&ctx(), &id, changed, None)).unwrap();
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
    g.members = vec![Member::new(&id)];
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

    // A listing: one search per page (ids come with it, `expand=user,attributes`) and the
    // empty page that ends it, then each user of the page read in full (3 calls).
    create(&s, "jsmith");
    s.sim.reset_calls();
    let all = block_on(s.p.search_users(&ctx(), &ListQuery::new())).unwrap();
    assert_eq!(all.total_results, 2);
    assert_eq!(
        s.sim.total_calls(),
        2 + 2 * 3,
        "list: {:?}",
        s.sim.call_counts()
    );

    s.sim.reset_calls();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    // Read (3), the record re-read and PUT inactive, one membership removed, the data.
    assert_eq!(s.sim.total_calls(), 7, "delete: {:?}", s.sim.call_counts());
}

#[test]
fn crowd_errors_become_scim_errors() {
    let s = setup();
    // 501 is not transient: passed on at once, as a bad gateway.
    s.sim.fail_next(1, &Fault::Status(501));
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

/// Fails every `POST /user/attribute` with 500 while armed, passing the rest to the simulator.
#[derive(Debug)]
struct AttributesFail {
    sim: Arc<CrowdSimulator>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl scim_core::HttpClient for AttributesFail {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, scim_core::HttpError> {
        let armed = self.armed.load(std::sync::atomic::Ordering::SeqCst);
        if armed
            && request.method() == http::Method::POST
            && request.uri().path().ends_with("/user/attribute")
        {
            let body = br#"{"reason": "OPERATION_FAILED", "message": "disk full"}"#.to_vec();
            let mut r = http::Response::new(body);
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(r);
        }
        self.sim.send(request).await
    }
}

/// A user whose stable id could not be stored would exist under an id nobody was told: the
/// create fails and the user is deleted again.
#[test]
fn a_create_whose_id_cannot_be_stored_leaves_no_user() {
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let client = Arc::new(AttributesFail {
        sim: sim.clone(),
        armed: std::sync::atomic::AtomicBool::new(true),
    });
    let p = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app)
        .client(client.clone())
        .retry(scim_atlassian::RetryPolicy {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap();
    let err = block_on(p.create_user(&ctx(), user("bjensen"))).unwrap_err();
    assert!(err.status().is_server_error(), "{err}");
    assert!(err.detail().contains("/user/attribute"), "{err}");
    assert_eq!(sim.user_count(), 0, "rolled back");
    assert_eq!(sim.calls("DELETE", "/user"), 1);
    // Once Crowd takes attributes again, the same create succeeds.
    client
        .armed
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let created = block_on(p.create_user(&ctx(), user("bjensen"))).unwrap();
    assert!(is_stable(created.id.as_deref().unwrap()));
}

/// Under the `delete` policy a SCIM DELETE without `If-Match` finds the user by its id (one
/// search) and deletes it by name.
#[test]
fn delete_policy_deletes_by_id_in_two_calls() {
    use scim_atlassian::policy::{DeprovisionAction, SyncPolicy};
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app)
        .client(sim.clone())
        .policy(
            SyncPolicy::builder()
                .deprovision(DeprovisionAction::Delete)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let s = Setup { sim, p };
    let id = create(&s, "bjensen");
    s.sim.reset_calls();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(s.sim.calls("GET", "/search"), 1);
    assert_eq!(s.sim.calls("DELETE", "/user"), 1);
    assert_eq!(s.sim.total_calls(), 2, "{:?}", s.sim.call_counts());
    assert!(s.sim.user("bjensen").is_none());
    let err = block_on(s.p.delete_user(&ctx(), &id, None)).unwrap_err();
    assert_eq!(err.status(), 404, "{err}");
}

/// Answers `/group/user/direct` without the members' attributes, as a Crowd that ignores
/// `expand=attributes` there would.
#[derive(Debug)]
struct MembersWithoutAttributes(Arc<CrowdSimulator>);

#[async_trait::async_trait]
impl scim_core::HttpClient for MembersWithoutAttributes {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, scim_core::HttpError> {
        let members = request.uri().path().ends_with("/group/user/direct");
        let mut response = self.0.send(request).await?;
        if members {
            if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(response.body()) {
                for u in body["users"].as_array_mut().into_iter().flatten() {
                    u.as_object_mut().unwrap().remove("attributes");
                }
                *response.body_mut() = serde_json::to_vec(&body).unwrap();
            }
        }
        Ok(response)
    }
}

/// Group members carry their stable ids even from a Crowd that answers members without
/// their attributes: each such member is read again with them.
#[test]
fn members_answered_without_attributes_still_show_stable_ids() {
    let app = Credentials::basic("scim-app", "app-secret");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com/crowd", app)
        .client(Arc::new(MembersWithoutAttributes(sim.clone())))
        .build()
        .unwrap();
    let s = Setup { sim, p };
    let id = create(&s, "bjensen");
    let mut g = Group::new("staff");
    g.members = vec![Member::new(&id)];
    block_on(s.p.create_group(&ctx(), g)).unwrap();
    s.sim.reset_calls();
    let got = block_on(s.p.get_group(&ctx(), "staff")).unwrap();
    assert_eq!(got.members[0].value.as_deref(), Some(id.as_str()));
    assert_eq!(s.sim.calls("GET", "/user"), 1, "{:?}", s.sim.call_counts());
}
