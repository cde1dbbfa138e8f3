//! The `atlassian-bridge` binary end to end, against its in-process Jira simulator: the recorded
//! Entra ID and Okta flows of `scim-core/tests/data/idp-traffic` driven through it, the resulting users,
//! groups and memberships read back through its SCIM endpoints, and the sync history read
//! through its admin endpoint.

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
use serde_json::{Value, json};

const ENTRA: &str = "entra-scim-token";
const OKTA: &str = "okta-scim-token";
const ADMIN: &str = "admin-token-for-tests";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atlassian-bridge-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration with the two identity providers and a history file in `dir`.
fn config(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("bridge.toml");
    let text = format!(
        r#"
admin_token = "{ADMIN}"

[[tenants]]
name = "entra"
token = "{ENTRA}"

[[tenants]]
name = "okta"
token_env = "BRIDGE_TEST_OKTA_TOKEN"

[history]
path = "{}"

[policy.default_groups]
all_users = ["jira-software-users"]
"#,
        dir.join("history.jsonl").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn bridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.env("BRIDGE_TEST_OKTA_TOKEN", OKTA);
    cmd
}

fn start(config: &std::path::Path) -> Server {
    let mut cmd = bridge();
    cmd.arg("--simulate").arg("--config").arg(config);
    Server::start(cmd)
}

/// A recorded exchange: `(method, path, request body, recorded status)`.
fn recorded(name: &str) -> (String, String, Value, u16) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scim-core/tests/data/idp-traffic")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the recorded IdP traffic)", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    (
        v["method"].as_str().unwrap().to_owned(),
        v["path"].as_str().unwrap().to_owned(),
        v["request"].clone(),
        u16::try_from(v["statusCode"].as_u64().unwrap()).unwrap(),
    )
}

/// A path segment for an id (Jira group ids are group names, which may hold spaces).
fn seg(id: &str) -> String {
    id.replace('%', "%25").replace(' ', "%20")
}

fn send(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> common::Reply {
    let text = body.map(Value::to_string);
    server.request(
        method,
        &format!("/scim/v2{path}"),
        Some(token),
        text.as_deref(),
    )
}

fn history(server: &Server, query: &str) -> Vec<Value> {
    let r = server.request("GET", &format!("/admin/history?{query}"), Some(ADMIN), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn entra_flow(server: &Server) {
    // Entra ID first looks for a user that does not exist.
    let (method, path, _, status) = recorded("azuread__get_user_query_0");
    let r = send(server, ENTRA, &method, &path, None);
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["totalResults"], 0);

    // Create the user.
    let (method, path, body, status) = recorded("azuread__create_user");
    let r = send(server, ENTRA, &method, &path, Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    let user = r.json();
    let uid = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["externalId"], body["externalId"]);
    let user_name = body["userName"].as_str().unwrap();
    let r = send(
        server,
        ENTRA,
        "GET",
        &format!("/Users?filter=userName+eq+%22{user_name}%22"),
        None,
    );
    assert_eq!(r.json()["totalResults"], 1, "{}", r.body);
    assert_eq!(r.json()["Resources"][0]["id"], uid.as_str());

    // Create the group, then find it by name as Entra ID does.
    let (method, path, body, status) = recorded("azuread__create_group");
    let r = send(server, ENTRA, &method, &path, Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    let (method, path, _, status) = recorded("azuread__get_group_dn");
    let r = send(server, ENTRA, &method, &path, None);
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["totalResults"], 1);
    assert_eq!(r.json()["Resources"][0]["id"], gid.as_str());

    // The recorded group update renames the group, which Jira Data Center cannot do: the
    // bridge refuses the whole PATCH (and changes nothing) rather than apply part of it.
    let (method, _, body, _) = recorded("azuread__update_group");
    let recorded_member = "f648f8d5ea4e4cd38e9c";
    let patch: Value =
        serde_json::from_str(&body.to_string().replace(recorded_member, &uid)).unwrap();
    let r = send(
        server,
        ENTRA,
        &method,
        &format!("/Groups/{}", seg(&gid)),
        Some(&patch),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["scimType"], "mutability");
    // Its membership part on its own: add the member.
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [patch["Operations"][1].clone()],
    });
    let r = send(
        server,
        ENTRA,
        "PATCH",
        &format!("/Groups/{}", seg(&gid)),
        Some(&add),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        server,
        ENTRA,
        "GET",
        &format!("/Groups/{}", seg(&gid)),
        None,
    );
    assert_eq!(member_ids(&r.json()), vec![uid.clone()]);

    // Update the user: email, family name, rename, deactivate.
    let (method, _, body, status) = recorded("azuread__update_user");
    let r = send(
        server,
        ENTRA,
        &method,
        &format!("/Users/{uid}"),
        Some(&body),
    );
    assert_eq!(r.status, status, "{}", r.body);
    let r = send(server, ENTRA, "GET", &format!("/Users/{uid}"), None);
    assert_eq!(r.status, 200);
    let u = r.json();
    assert_eq!(u["id"], uid.as_str(), "the id survives the rename");
    assert_eq!(u["userName"], body["Operations"][2]["value"]);
    assert_eq!(u["active"], false);
    assert_eq!(u["name"]["familyName"], "updatedFamilyName");
    assert_eq!(u["emails"][0]["value"], "updatedEmail@microsoft.com");

    // The history tells the same story.
    let entries = history(server, "tenant=entra");
    assert!(entries.iter().all(|e| e["tenant"] == "entra"));
    let ops: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["operation"]["method"].as_str().unwrap(),
                e["operation"]["resourceType"].as_str().unwrap(),
                e["outcome"]["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            "PATCH User success",
            "PATCH Group success",
            "PATCH Group failure",
            "POST Group success",
            "POST User success",
        ],
        "newest first; reads are not recorded"
    );
    let refused = &entries[2];
    assert_eq!(refused["outcome"]["status"], 400);
    assert_eq!(refused["outcome"]["scimType"], "mutability");
    assert_eq!(refused["changes"], "nothing changed");
    assert!(entries[0]["changes"].as_str().unwrap().contains("inactive"));
    let create = &entries[4];
    assert_eq!(create["operation"]["id"], uid.as_str());
    let calls: Vec<&str> = create["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call"].as_str().unwrap())
        .collect();
    assert!(calls.contains(&"POST /user"), "{calls:?}");
    assert!(calls.iter().all(|c| !c.contains('?')), "{calls:?}");
}

fn okta_flow(server: &Server) {
    // Okta checks whether the user exists.
    let (method, path, _, status) = recorded("okta__user_exists");
    let r = send(server, OKTA, &method, &path, None);
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["totalResults"], 0);

    let (method, path, body, status) = recorded("okta__create_user");
    let r = send(server, OKTA, &method, &path, Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    let uid = r.json()["id"].as_str().unwrap().to_owned();
    assert!(
        r.json().get("password").is_none(),
        "passwords are never returned"
    );

    let (method, _, _, status) = recorded("okta__retrieve_user");
    let r = send(server, OKTA, &method, &format!("/Users/{uid}"), None);
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["userName"], "test.user@okta.local");
    assert_eq!(r.json()["externalId"], "00ujl29u0le5T6Aj10h7");

    let (method, path, body, status) = recorded("okta__create_group");
    let r = send(server, OKTA, &method, &path, Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["displayName"], "Test SCIMv2");
    let (method, _, _, status) = recorded("okta__retrieve_group");
    let r = send(
        server,
        OKTA,
        &method,
        &format!("/Groups/{}", seg(&gid)),
        None,
    );
    assert_eq!(r.status, status, "{}", r.body);

    // Okta re-sends the name it already has: nothing to change.
    let (method, _, body, status) = recorded("okta__update_group_name");
    let body: Value = serde_json::from_str(
        &body
            .to_string()
            .replace("abf4dd94-a4c0-4f67-89c9-76b03340cb9b", &gid),
    )
    .unwrap();
    let r = send(
        server,
        OKTA,
        &method,
        &format!("/Groups/{}", seg(&gid)),
        Some(&body),
    );
    assert_eq!(r.status, status, "{}", r.body);

    // The membership update removes a second user the recording presumes is a member (a
    // remove that matches no member is 400 noTarget, RFC 7644 §3.5.2.2): create one to stand
    // in for it, and make it a member first.
    let second = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "second.user@okta.local",
        "displayName": "Second User",
        "emails": [{"primary": true, "value": "second.user@okta.local", "type": "work"}],
        "active": true
    });
    let r = send(server, OKTA, "POST", "/Users", Some(&second));
    assert_eq!(r.status, 201, "{}", r.body);
    let uid2 = r.json()["id"].as_str().unwrap().to_owned();
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": uid2}]}],
    });
    let r = send(
        server,
        OKTA,
        "PATCH",
        &format!("/Groups/{}", seg(&gid)),
        Some(&add),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (method, _, body, status) = recorded("okta__update_group_membership");
    let body: Value = serde_json::from_str(
        &body
            .to_string()
            .replace("23a35c27-23d3-4c03-b4c5-6443c09e7173", &uid)
            .replace("89bb1940-b905-4575-9e7f-6f887cfb368e", &uid2),
    )
    .unwrap();
    let r = send(
        server,
        OKTA,
        &method,
        &format!("/Groups/{}", seg(&gid)),
        Some(&body),
    );
    assert_eq!(r.status, status, "{}", r.body);
    let r = send(server, OKTA, "GET", &format!("/Groups/{}", seg(&gid)), None);
    let mut want = vec![uid.clone(), uid2.clone()];
    want.sort();
    assert_eq!(member_ids(&r.json()), want);
    let r = send(server, OKTA, "GET", &format!("/Users/{uid}"), None);
    let user = r.json();
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&gid.as_str()), "{groups:?}");

    // Update (PUT), then deactivate (PATCH).
    let (method, _, body, status) = recorded("okta__update_user");
    let body: Value = serde_json::from_str(
        &body
            .to_string()
            .replace("23a35c27-23d3-4c03-b4c5-6443c09e7173", &uid),
    )
    .unwrap();
    let r = send(server, OKTA, &method, &format!("/Users/{uid}"), Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["name"]["givenName"], "Another");
    let (method, _, body, status) = recorded("okta__update_user_patch");
    let r = send(server, OKTA, &method, &format!("/Users/{uid}"), Some(&body));
    assert_eq!(r.status, status, "{}", r.body);
    let r = send(server, OKTA, "GET", &format!("/Users/{uid}"), None);
    assert_eq!(r.json()["active"], false);
    assert_eq!(r.json()["name"]["middleName"], "Excited");

    let entries = history(server, "tenant=okta&limit=100");
    assert_eq!(entries.len(), 8, "{entries:#?}");
    assert!(entries.iter().all(|e| e["tenant"] == "okta"));
    assert!(entries.iter().all(|e| e["outcome"]["result"] == "success"));
    assert_eq!(entries[0]["operation"]["method"], "PATCH");
    assert_eq!(entries[0]["operation"]["name"], "test.user@okta.local");
    assert!(
        entries[0]["changes"].as_str().unwrap().contains("inactive"),
        "{}",
        entries[0]
    );
    let rename = &entries[5];
    assert_eq!(rename["operation"]["resourceType"], "Group");
    assert!(
        rename["changes"].as_str().unwrap().starts_with("no change"),
        "{rename}"
    );
    assert_eq!(history(server, "tenant=okta&limit=2").len(), 2);
}

#[test]
fn entra_and_okta_flows_through_the_bridge_into_the_jira_simulator() {
    let dir = temp_dir("flows");
    let config = config(&dir);
    let server = start(&config);

    entra_flow(&server);
    okta_flow(&server);

    // Both tenants' entries, newest first.
    let all = history(&server, "limit=1000");
    assert_eq!(all.len(), 13);

    // SCIM 1.1 too, with the request id of the caller in the history; `since` filters.
    let since = all[0]["time"].as_str().unwrap().replace(':', "%3A");
    let v1 = r#"{"schemas":["urn:scim:schemas:core:1.0"],"userName":"v1.user","emails":[{"value":"v1@example.com","primary":true}]}"#;
    let r = server.request_with(
        "POST",
        "/scim/v1/Users",
        Some(ENTRA),
        Some(v1),
        &[("X-Request-Id", "entra-req-42")],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["schemas"][0], "urn:scim:schemas:core:1.0");
    let newer = history(&server, &format!("since={since}"));
    assert!(!newer.is_empty() && newer.len() <= 2, "{newer:#?}");
    assert_eq!(newer[0]["requestId"], "entra-req-42");
    assert_eq!(newer[0]["operation"]["name"], "v1.user");
    let all = history(&server, "limit=1000");
    assert_eq!(all.len(), 14);
    for token in [None, Some("wrong")] {
        let r = server.request("GET", "/admin/history", token, None);
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        assert!(r.header("www-authenticate").is_some());
    }
    // A SCIM token reads its own tenant's history only.
    let r = server.request("GET", "/admin/history?limit=1000", Some(OKTA), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let own = r.json().as_array().unwrap().clone();
    assert!(!own.is_empty() && own.len() < all.len());
    assert!(own.iter().all(|e| e["tenant"] == "okta"), "{own:?}");
    let r = server.request("GET", "/admin/history?tenant=entra", Some(OKTA), None);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = server.request("GET", "/admin/history?limit=many", Some(ADMIN), None);
    assert_eq!(r.status, 400);
    let r = server.request("GET", "/admin/history?since=yesterday", Some(ADMIN), None);
    assert_eq!(r.status, 400);
    // The admin token is not a SCIM token either.
    let r = server.request("GET", "/scim/v2/Users", Some(ADMIN), None);
    assert_eq!(r.status, 401);
    // Jira sets passwords, and discovery says so.
    let r = server.request("GET", "/scim/v2/ServiceProviderConfig", Some(OKTA), None);
    assert_eq!(r.json()["changePassword"]["supported"], true, "{}", r.body);

    let (clean_exit, log) = server.stop();
    assert!(clean_exit, "graceful shutdown exits 0; log:\n{log}");
    // The [policy] table is applied: every created user was added to the default group.
    let created_users: Vec<&Value> = all
        .iter()
        .filter(|e| {
            let op = e.to_string();
            op.contains("\"POST\"") && op.contains("\"User\"") && op.contains("success")
        })
        .collect();
    assert!(!created_users.is_empty(), "{all:?}");
    for entry in created_users {
        let text = entry.to_string();
        assert!(
            text.contains("/group/user"),
            "a created user joins jira-software-users: {text}"
        );
    }
    assert!(
        log.contains("sync operation") && log.contains("okta") && log.contains("entra"),
        "each operation is logged with its tenant:\n{log}"
    );
    assert!(
        !log.contains("test.user@okta.local"),
        "user names stay out of the log:\n{log}"
    );
    for secret in [ENTRA, OKTA, ADMIN] {
        assert!(!log.contains(secret), "a token was logged:\n{log}");
    }

    // The history file survives a restart.
    let server = start(&config);
    let again = history(&server, "limit=1000");
    assert_eq!(again, all);
    server.stop();
}

#[test]
fn test_connection_against_the_simulator_succeeds() {
    let mut cmd = bridge();
    cmd.args(["--simulate", "--test-connection"]);
    let stdout = connects(cmd);
    assert!(
        stdout.contains("seats: Jira: 0 of 25 seats used"),
        "{stdout}"
    );
}

#[test]
fn test_connection_refuses_a_seat_reserve_taking_the_whole_licence() {
    let dir = temp_dir("seat-reserve");
    let path = dir.join("bridge.toml");
    let text = format!(
        "admin_token = \"{ADMIN}\"\n\n[[tenants]]\nname = \"entra\"\ntoken = \"{ENTRA}\"\n\n\
         [policy.seats]\nenforce = true\nreserve = 25\n"
    );
    std::fs::write(&path, text).unwrap();
    let out = bridge()
        .arg("--simulate")
        .arg("--config")
        .arg(&path)
        .arg("--test-connection")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("seats: Jira: 0 of 25 seats used, 25 kept free"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "policy.seats.reserve (25) is not below the 25 seats of the Jira Software licence"
        ),
        "{stderr}"
    );
}

/// Runs a `--test-connection` command that must succeed; its standard output.
fn connects(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test-connection OK"), "{stdout}");
    stdout
}

#[test]
fn test_connection_says_what_is_wrong() {
    let dir = temp_dir("unreachable");
    let path = dir.join("bridge.toml");
    // Port 9 (discard) on localhost: nothing listens, the connection is refused.
    std::fs::write(
        &path,
        "[target]\ntype = \"jira-dc\"\nurl = \"http://127.0.0.1:9\"\ntoken = \"pat\"\n",
    )
    .unwrap();
    let out = bridge()
        .arg("--config")
        .arg(&path)
        .arg("--test-connection")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("test-connection FAILED"), "{stderr}");
    assert!(stderr.contains("target.url"), "{stderr}");
    assert!(!stderr.contains("pat\""), "{stderr}");
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key() {
    let dir = temp_dir("bad-config");
    for (text, key) in [
        (
            "[target]\ntype = \"jira-dc\"\nurll = \"http://jira\"\n",
            "urll",
        ),
        ("[target]\ntype = \"bamboo\"\n", "target.type"),
        (
            "[[tenants]]\nname = \"okta\"\ntoken_env = \"BRIDGE_TEST_UNSET\"\n",
            "tenants[0]",
        ),
        ("[history]\npath = 3\n", "path"),
        (
            "[policy.groups]\ninclude = [\"(unclosed\"]\n",
            "groups.include[0]",
        ),
        ("[policy]\ndefault_groupz = []\n", "default_groupz"),
    ] {
        let path = dir.join("bridge.toml");
        std::fs::write(&path, text).unwrap();
        let mut cmd = bridge();
        if !text.contains("[target]") {
            cmd.arg("--simulate");
        }
        let out = cmd
            .env_remove("BRIDGE_TEST_UNSET")
            .arg("--config")
            .arg(&path)
            .args(["--bind", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
}

#[test]
fn the_admin_token_must_not_be_a_scim_token() {
    let out = bridge()
        .args(["--simulate", "--token", "same", "--admin-token", "same"])
        .args(["--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("admin_token"), "{stderr}");
}

#[test]
fn simulate_alone_generates_and_prints_both_tokens() {
    let mut cmd = bridge();
    cmd.arg("--simulate");
    let server = Server::start(cmd);
    let printed = |prefix: &str| {
        server
            .stdout_lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix:?} in {:?}", server.stdout_lines))
            .to_owned()
    };
    let scim = printed("generated bearer token for tenant \"default\": ");
    let admin = printed("generated admin token for /admin/history: ");
    assert_ne!(scim, admin);
    let user = r#"{"userName":"newcomer","emails":[{"value":"n@example.com","primary":true}]}"#;
    let r = server.request("POST", "/scim/v2/Users", Some(&scim), Some(user));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = server.request("GET", "/admin/history", Some(&admin), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[0]["tenant"], "default");
    let (clean, log) = server.stop();
    assert!(clean);
    assert!(!log.contains(&scim) && !log.contains(&admin), "{log}");
}

#[test]
fn simulate_with_a_bitbucket_target_provisions_into_the_bitbucket_simulator() {
    let dir = temp_dir("bitbucket");
    let path = dir.join("bridge.toml");
    let text = format!(
        "admin_token = \"{ADMIN}\"\n\n[[tenants]]\nname = \"entra\"\ntoken = \"{ENTRA}\"\n\n\
         [target]\ntype = \"bitbucket-dc\"\nlogin_groups = [\"stash-users\"]\n"
    );
    std::fs::write(&path, text).unwrap();

    let mut cmd = bridge();
    cmd.arg("--simulate")
        .arg("--config")
        .arg(&path)
        .arg("--test-connection");
    let stdout = connects(cmd);
    assert!(stdout.contains("Bitbucket simulator"), "{stdout}");

    let server = start(&path);
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen",
        "externalId": "ext-7",
        "emails": [{"value": "bjensen@example.com", "primary": true}],
        "active": true
    });
    let r = send(&server, ENTRA, "POST", "/Users", Some(&user));
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.parse::<u64>().is_ok(), "Bitbucket's numeric id: {id}");
    assert_eq!(created["externalId"], "ext-7");

    let off = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    let r = send(&server, ENTRA, "PATCH", &format!("/Users/{id}"), Some(&off));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&server, ENTRA, "GET", &format!("/Users/{id}"), None);
    assert_eq!(r.json()["active"], false, "{}", r.body);
    assert_eq!(r.json()["externalId"], "ext-7", "{}", r.body);
}
