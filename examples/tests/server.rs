//! The `scim-server` binary end to end: started on a free port, spoken to over plain HTTP/1.1,
//! stopped with SIGTERM.

// Test helpers panic on purpose: a panic is the failure report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

mod common;

use std::process::Command;

use common::Server;

fn start(args: &[&str], env_token: Option<&str>) -> Server {
    let db = common::temp_db();
    start_on(db.url(), args, env_token).keep(db)
}

fn start_on(db: &str, args: &[&str], env_token: Option<&str>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-server"));
    cmd.args(["--db", db]).args(args);
    match env_token {
        Some(t) => cmd.env("SCIM_TOKEN", t),
        None => cmd.env_remove("SCIM_TOKEN"),
    };
    Server::start(cmd)
}

#[test]
fn serves_scim_2_and_1_1_with_a_bearer_token_and_stops_gracefully() {
    let server = start(&["--token", "t0ken-for-tests"], None);
    let token = Some("t0ken-for-tests");

    let r = server.request("GET", "/scim/v2/Users", None, None);
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = server.request("GET", "/scim/v2/Users", Some("wrong"), None);
    assert_eq!(r.status, 401);

    let r = server.request(
        "POST",
        "/scim/v2/Users",
        token,
        Some(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com","active":true}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://{}/scim/v2/Users/", server.addr)),
        "{location}"
    );
    assert!(r.header("etag").is_some());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    let r = server.request(
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22BJENSEN@example.com%22",
        token,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["totalResults"], 1);
    assert_eq!(r.json()["Resources"][0]["id"], id.as_str());
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );

    let r = server.request("GET", "/scim/v2/Users?filter=userName%20eq", token, None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["scimType"], "invalidFilter");

    let r = server.request("GET", &format!("/scim/v1/Users/{id}"), token, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["schemas"][0], "urn:scim:schemas:core:1.0");

    let r = server.request("GET", "/scim/v2/ServiceProviderConfig", token, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["patch"]["supported"], true);

    let r = server.request("DELETE", &format!("/scim/v2/Users/{id}"), token, None);
    assert_eq!(r.status, 204);

    let (clean_exit, log) = server.stop();
    assert!(clean_exit, "graceful shutdown exits 0; log:\n{log}");
    assert!(log.contains("request"), "requests are logged:\n{log}");
    assert!(
        !log.contains("t0ken-for-tests"),
        "the token is never logged:\n{log}"
    );
}

#[test]
fn generates_and_prints_a_token_when_none_is_given() {
    let server = start(&[], None);
    let line = server
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("generated bearer token: "))
        .expect("the generated token is printed")
        .to_owned();
    assert_eq!(line.len(), 32);
    let r = server.request("GET", "/scim/v2/Users", Some(&line), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, log) = server.stop();
    assert!(!log.contains(&line), "the generated token is not logged");
}

#[test]
fn token_from_the_environment() {
    let server = start(&[], Some("env-token"));
    assert!(
        !server.stdout_lines.iter().any(|l| l.contains("generated")),
        "no token is generated when SCIM_TOKEN is set"
    );
    assert_eq!(
        server
            .request("GET", "/scim/v2/Groups", Some("env-token"), None)
            .status,
        200
    );
    server.stop();
}

#[test]
fn a_sqlite_database_keeps_users_across_restarts() {
    let db = common::temp_db();
    let token = Some("t0ken-for-tests");
    let server = start_on(db.url(), &["--token", "t0ken-for-tests"], None);
    let r = server.request(
        "POST",
        "/scim/v2/Users",
        token,
        Some(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kept"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let (ok, err) = server.stop();
    assert!(ok, "{err}");
    let server = start_on(db.url(), &["--token", "t0ken-for-tests"], None);
    let r = server.request("GET", &format!("/scim/v2/Users/{id}"), token, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["userName"], "kept");
    let (ok, err) = server.stop();
    assert!(ok, "{err}");
    // The in-memory backend starts empty every time.
    let server = start_on("memory", &["--token", "t0ken-for-tests"], None);
    let r = server.request("GET", &format!("/scim/v2/Users/{id}"), token, None);
    assert_eq!(r.status, 404, "{}", r.body);
    let (ok, err) = server.stop();
    assert!(ok, "{err}");
}
