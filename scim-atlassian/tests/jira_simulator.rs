//! The Jira simulator itself answers as Jira DC does.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use http::{Method, Request};
use scim_atlassian::Credentials;
use scim_atlassian::simulator::{Fault, JiraSimulator};
use scim_core::provision::conformance::block_on;
use scim_core::{HttpClient, HttpError};
use serde_json::{Value, json};

const BASE: &str = "https://jira.example.com/rest/api/2";

fn sim() -> JiraSimulator {
    JiraSimulator::new(Credentials::bearer("pat"))
}

fn send(sim: &JiraSimulator, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{BASE}{path}"))
        .header("authorization", "Bearer pat");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(
            body.map(|b| serde_json::to_vec(&b).unwrap())
                .unwrap_or_default(),
        )
        .unwrap();
    let resp = block_on(sim.send(req)).unwrap();
    let json = if resp.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(resp.body()).unwrap()
    };
    (resp.status().as_u16(), json)
}

fn new_user(name: &str) -> Value {
    json!({"name": name, "emailAddress": format!("{name}@example.com"), "displayName": name})
}

#[test]
fn users_keep_their_key_across_renames() {
    let s = sim();
    let (status, u) = send(&s, Method::POST, "/user", Some(new_user("bjensen")));
    assert_eq!(status, 201);
    let key = u["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("JIRAUSER"));
    let (status, _) = send(&s, Method::POST, "/user", Some(new_user("BJENSEN")));
    assert_eq!(status, 400, "names are unique ignoring case");
    let (status, u) = send(
        &s,
        Method::PUT,
        &format!("/user?key={key}"),
        Some(json!({"name": "barbara"})),
    );
    assert_eq!(status, 200);
    assert_eq!(u["key"], key.as_str());
    assert_eq!(u["emailAddress"], "bjensen@example.com", "partial update");
    let (status, body) = send(&s, Method::GET, "/user?username=bjensen", None);
    assert_eq!(status, 404);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("bjensen")
    );
    let (status, _) = send(
        &s,
        Method::PUT,
        "/user?username=barbara",
        Some(json!({"active": false})),
    );
    assert_eq!(status, 200);
    assert!(!s.user("barbara").unwrap().active);
    let (status, body) = send(&s, Method::POST, "/user", Some(json!({"name": "x"})));
    assert_eq!(status, 400);
    assert!(body["errors"]["email"].is_string() && body["errors"]["displayName"].is_string());
    assert_eq!(s.calls("POST", "/user"), 3);
    assert_eq!(s.calls("PUT", "/user"), 2);
}

#[test]
fn search_is_a_bare_array_paged_without_total() {
    let s = sim();
    for i in 0..7 {
        s.add_user(&format!("user{i}"), "u@example.com", "U");
    }
    send(
        &s,
        Method::PUT,
        "/user?username=user3",
        Some(json!({"active": false})),
    );
    let (_, page) = send(
        &s,
        Method::GET,
        "/user/search?username=.&maxResults=5",
        None,
    );
    assert_eq!(page.as_array().unwrap().len(), 5);
    let (_, rest) = send(
        &s,
        Method::GET,
        "/user/search?username=.&startAt=5&maxResults=5",
        None,
    );
    assert_eq!(
        rest.as_array().unwrap().len(),
        1,
        "inactive users are left out by default"
    );
    let (_, all) = send(
        &s,
        Method::GET,
        "/user/search?username=.&maxResults=5000&includeInactive=true",
        None,
    );
    assert_eq!(all.as_array().unwrap().len(), 7);
    let (_, prefix) = send(&s, Method::GET, "/user/search?username=USER6", None);
    assert_eq!(prefix[0]["name"], "user6");
}

#[test]
fn properties_groups_and_members() {
    let s = sim();
    let key = s.add_user("alice", "a@example.com", "Alice");
    s.add_user("bob", "b@example.com", "Bob");
    let path = format!("/user/properties/scim?userKey={key}");
    assert_eq!(send(&s, Method::GET, &path, None).0, 404);
    assert_eq!(
        send(&s, Method::PUT, &path, Some(json!({"externalId": "e1"}))).0,
        201
    );
    assert_eq!(
        send(&s, Method::GET, &path, None).1["value"]["externalId"],
        "e1"
    );

    assert_eq!(
        send(&s, Method::POST, "/group", Some(json!({"name": "devs"}))).0,
        201
    );
    assert_eq!(
        send(&s, Method::POST, "/group", Some(json!({"name": "DEVS"}))).0,
        400
    );
    for name in ["alice", "bob"] {
        let (status, _) = send(
            &s,
            Method::POST,
            "/group/user?groupname=devs",
            Some(json!({"name": name})),
        );
        assert_eq!(status, 201);
    }
    let (_, page) = send(
        &s,
        Method::GET,
        "/group/member?groupname=devs&maxResults=1",
        None,
    );
    assert_eq!(page["total"], 2);
    assert_eq!(page["isLast"], false);
    assert_eq!(page["values"][0]["name"], "alice");
    let (_, alice) = send(&s, Method::GET, "/user?username=alice&expand=groups", None);
    assert_eq!(alice["groups"]["items"][0]["name"], "devs");
    assert_eq!(
        send(
            &s,
            Method::DELETE,
            "/group/user?groupname=devs&username=bob",
            None
        )
        .0,
        200
    );
    assert_eq!(s.group_members("devs").unwrap(), ["alice"]);
    assert_eq!(
        send(&s, Method::DELETE, "/user?username=alice", None).0,
        204
    );
    assert_eq!(s.group_members("devs").unwrap(), Vec::<String>::new());
    assert!(s.property(&key, "scim").is_none());
    assert_eq!(
        send(&s, Method::DELETE, "/group?groupname=devs", None).0,
        200
    );
    assert_eq!(
        send(&s, Method::GET, "/group/member?groupname=devs", None).0,
        404
    );
}

#[test]
fn auth_and_faults() {
    let s = sim();
    let req = Request::get(format!("{BASE}/user?username=x"))
        .header("authorization", "Bearer wrong")
        .body(Vec::new())
        .unwrap();
    assert_eq!(block_on(s.send(req)).unwrap().status(), 401);

    s.fail_next(1, &Fault::RateLimited { retry_after: 7 });
    let req = Request::get(format!("{BASE}/user?username=x"))
        .header("authorization", "Bearer pat")
        .body(Vec::new())
        .unwrap();
    let resp = block_on(s.send(req)).unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");

    s.fail_call("POST", "/group/user", 2, Fault::Unavailable);
    send(&s, Method::POST, "/group", Some(json!({"name": "g"})));
    for name in ["a", "b", "c"] {
        s.add_user(name, "x@example.com", name);
    }
    let statuses: Vec<u16> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            send(
                &s,
                Method::POST,
                "/group/user?groupname=g",
                Some(json!({"name": n})),
            )
            .0
        })
        .collect();
    assert_eq!(statuses, [201, 503, 201], "only the second call fails");

    s.fail_next(1, &Fault::Timeout);
    let req = Request::get(format!("{BASE}/user?username=a"))
        .header("authorization", "Bearer pat")
        .body(Vec::new())
        .unwrap();
    assert!(matches!(block_on(s.send(req)), Err(HttpError::Timeout(_))));
    assert_eq!(s.calls("GET", "/user"), 3);
}

#[test]
fn projects_and_components_name_their_leads_and_block_deleting_them() {
    let s = sim();
    let (_, bob) = send(&s, Method::POST, "/user", Some(new_user("bob")));
    let bob_key = bob["key"].as_str().unwrap().to_owned();
    send(&s, Method::POST, "/user", Some(new_user("admin2")));
    assert!(s.add_project("PROJ", "Project", "bob"));
    assert!(!s.add_project("PROJ", "Again", "bob"), "keys are unique");
    assert!(!s.add_project("NOPE", "No lead", "nobody"));
    let component = s.add_component("PROJ", "Backend", Some("bob")).unwrap();

    let (status, projects) = send(&s, Method::GET, "/project?expand=lead", None);
    assert_eq!(status, 200);
    assert_eq!(projects[0]["key"], "PROJ");
    assert_eq!(projects[0]["lead"]["key"], bob_key.as_str());
    assert_eq!(projects[0]["lead"]["name"], "bob");
    let (_, plain) = send(&s, Method::GET, "/project", None);
    assert!(
        plain[0].get("lead").is_none(),
        "the lead only with expand=lead"
    );

    let (status, components) = send(&s, Method::GET, "/project/PROJ/components", None);
    assert_eq!(status, 200);
    assert_eq!(components[0]["id"], component.to_string().as_str());
    assert_eq!(components[0]["leadUserName"], "bob");
    let (status, _) = send(&s, Method::GET, "/project/NOPE/components", None);
    assert_eq!(status, 404);

    let (status, body) = send(&s, Method::DELETE, &format!("/user?key={bob_key}"), None);
    assert_eq!(status, 400);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("project lead")
    );

    let (status, body) = send(
        &s,
        Method::PUT,
        "/project/PROJ",
        Some(json!({"lead": "ghost"})),
    );
    assert_eq!(status, 400);
    assert!(body["errors"]["projectLead"].is_string());
    let (status, p) = send(
        &s,
        Method::PUT,
        "/project/PROJ",
        Some(json!({"lead": "admin2"})),
    );
    assert_eq!(status, 200);
    assert_eq!(p["lead"]["name"], "admin2");
    let (status, _) = send(
        &s,
        Method::PUT,
        "/project/NOPE",
        Some(json!({"lead": "admin2"})),
    );
    assert_eq!(status, 404);

    let (status, body) = send(&s, Method::DELETE, &format!("/user?key={bob_key}"), None);
    assert_eq!(status, 400, "still a component lead");
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("component lead")
    );
    let path = format!("/component/{component}");
    let (status, c) = send(
        &s,
        Method::PUT,
        &path,
        Some(json!({"leadUserName": "admin2"})),
    );
    assert_eq!(status, 200);
    assert_eq!(c["leadUserName"], "admin2");
    let (status, _) = send(
        &s,
        Method::PUT,
        "/component/999",
        Some(json!({"leadUserName": "admin2"})),
    );
    assert_eq!(status, 404);

    let (status, _) = send(&s, Method::DELETE, &format!("/user?key={bob_key}"), None);
    assert_eq!(status, 204);
    assert_eq!(s.project_lead("PROJ").as_deref(), Some("admin2"));
    assert_eq!(s.component_lead(component).as_deref(), Some("admin2"));
}
