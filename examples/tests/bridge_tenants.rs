//! `atlassian-bridge` serving two identity providers over the in-process Atlassian Cloud
//! simulator: each has its own token, policy, dry-run setting and history stream, and one's
//! token never reaches the other's settings or history.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;
use serde_json::Value;

const OKTA: &str = "okta-scim-token";
const ENTRA: &str = "entra-scim-token";
const ADMIN: &str = "admin-token-for-tenant-tests";

fn config(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bridge-tenants-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bridge.toml");
    std::fs::write(
        &path,
        format!(
            r#"
admin_token = "{ADMIN}"

[target]
type = "cloud"

[policy.default_groups]
all_users = ["shared-default"]

[[idp]]
name = "okta"
token = "{OKTA}"
policy = {{ default_groups = {{ all_users = ["okta-users"] }}, user_name = {{ lowercase = true }} }}

[[idp]]
name = "entra"
token = "{ENTRA}"
dry_run = true
"#
        ),
    )
    .unwrap();
    path
}

fn start(config: &std::path::Path) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.arg("--simulate").arg("--config").arg(config);
    Server::start(cmd)
}

fn create_user(server: &Server, token: &str, name: &str) -> common::Reply {
    let body = format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}","emails":[{{"value":"{name}","primary":true}}]}}"#
    );
    server.request("POST", "/scim/v2/Users", Some(token), Some(&body))
}

fn get(server: &Server, token: &str, path: &str) -> Value {
    let r = server.request("GET", path, Some(token), None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

fn group_names(user: &Value) -> Vec<String> {
    let mut names: Vec<String> = user["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|g| g["display"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn two_identity_providers_each_with_their_own_policy_history_and_settings() {
    let server = start(&config("two"));

    // okta: its own policy (lowercased names, its default group), written to Cloud.
    let r = create_user(&server, OKTA, "Alice@Example.com");
    assert_eq!(r.status, 201, "{}", r.body);
    let alice = r.json();
    assert_eq!(alice["userName"], "alice@example.com");
    assert_eq!(group_names(&alice), ["okta-users"]);
    let id = alice["id"].as_str().unwrap().to_owned();

    // entra: the top-level policy, as a dry run: answered, but nothing reaches Cloud.
    let r = create_user(&server, ENTRA, "Bob@Example.com");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("x-dry-run"), Some("true"), "{:?}", r.headers);
    let seen_by_okta = server.request("GET", &format!("/scim/v2/Users/{id}"), Some(OKTA), None);
    assert_eq!(
        seen_by_okta.header("x-dry-run"),
        None,
        "okta writes for real"
    );
    assert!(r.json()["id"].as_str().unwrap().starts_with("dry-run-"));
    let found = get(
        &server,
        OKTA,
        "/scim/v2/Users?filter=userName%20eq%20%22Bob%40Example.com%22",
    );
    assert_eq!(
        found["totalResults"], 0,
        "the dry run wrote nothing: {found}"
    );
    // Both tenants see the one Cloud directory (there is one target): entra finds alice.
    let seen = get(&server, ENTRA, &format!("/scim/v2/Users/{id}"));
    assert_eq!(seen["userName"], "alice@example.com");

    // Each history stream holds only its tenant's entries; the admin sees both.
    let okta_history = get(&server, OKTA, "/admin/history");
    assert_eq!(okta_history.as_array().unwrap().len(), 1, "{okta_history}");
    assert_eq!(okta_history[0]["tenant"], "okta");
    assert_eq!(okta_history[0]["outcome"]["result"], "success");
    let entra_history = get(&server, ENTRA, "/admin/history");
    assert_eq!(
        entra_history.as_array().unwrap().len(),
        1,
        "{entra_history}"
    );
    assert_eq!(entra_history[0]["tenant"], "entra");
    assert_eq!(entra_history[0]["outcome"]["result"], "dryRun");
    let would = entra_history[0]["outcome"]["wouldWrite"].to_string();
    assert!(would.contains("POST /scim/directory/"), "{would}");
    assert!(
        would.contains("shared-default"),
        "the top-level policy applies: {would}"
    );
    assert_eq!(
        get(&server, ADMIN, "/admin/history")
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Token A cannot read tenant B's history or settings.
    for path in [
        "/admin/history?tenant=entra",
        "/admin/settings?tenant=entra",
    ] {
        let r = server.request("GET", path, Some(OKTA), None);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    let settings = get(&server, OKTA, "/admin/settings");
    assert_eq!(settings.as_array().unwrap().len(), 1, "{settings}");
    assert_eq!(settings[0]["tenant"], "okta");
    assert_eq!(settings[0]["dry_run"], false);
    assert_eq!(
        settings[0]["policy"]["default_groups"]["all_users"][0],
        "okta-users"
    );
    let all = get(&server, ADMIN, "/admin/settings");
    assert_eq!(all.as_array().unwrap().len(), 2);

    let (clean, log) = server.stop();
    assert!(clean, "{log}");
    for secret in [OKTA, ENTRA, ADMIN] {
        assert!(!log.contains(secret), "a token was logged:\n{log}");
    }
}

#[test]
fn the_single_token_form_still_works_with_the_cloud_simulator() {
    let dir = std::env::temp_dir().join(format!("bridge-tenants-{}-single", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bridge.toml");
    std::fs::write(&path, "[target]\ntype = \"cloud\"\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.args([
        "--simulate",
        "--token",
        "single-token",
        "--admin-token",
        "adm",
    ])
    .arg("--config")
    .arg(&path);
    let server = Server::start(cmd);
    assert!(
        server
            .stdout_lines
            .iter()
            .any(|l| l.contains("Atlassian Cloud simulator")),
        "{:?}",
        server.stdout_lines
    );
    let r = create_user(&server, "single-token", "carol@example.com");
    assert_eq!(r.status, 201, "{}", r.body);
    let history = get(&server, "adm", "/admin/history");
    assert_eq!(history[0]["tenant"], "default");
    // Discovery answers for Cloud: its user schema, no password changes.
    let config = get(&server, "single-token", "/scim/v2/ServiceProviderConfig");
    assert_eq!(config["changePassword"]["supported"], false);
    let schema = get(
        &server,
        "single-token",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    );
    let names: Vec<&str> = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"userName") && names.contains(&"emails"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"addresses") && !names.contains(&"x509Certificates"),
        "{names:?}"
    );
    server.stop();
}
