//! The README's two quick starts joined: `atlassian-bridge --simulate` running, and `sync`
//! writing the sample CSV (`examples/users.sample.csv`) into it over SCIM with `--scim-url`
//! and `--token`; the bridge then serves the users and groups, and a second run has nothing
//! to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;

use common::Server;
use serde_json::Value;

const TOKEN: &str = "bridge-token-for-sync";

fn sync(server: &Server) -> (bool, String, String) {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/users.sample.csv");
    let done = Command::new(env!("CARGO_BIN_EXE_sync"))
        .args(["--source", "file", "--file", sample, "--scim-url"])
        .arg(format!("http://{}/scim/v2", server.addr))
        .args(["--token", TOKEN])
        .output()
        .unwrap();
    (
        done.status.success(),
        String::from_utf8_lossy(&done.stdout).into_owned(),
        String::from_utf8_lossy(&done.stderr).into_owned(),
    )
}

fn names(list: &Value, attribute: &str) -> Vec<String> {
    let mut names: Vec<String> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[attribute].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sync_writes_the_sample_csv_into_a_running_bridge() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.args(["--simulate", "--token", TOKEN, "--admin-token", "admin"]);
    let server = Server::start(cmd);
    let token = Some(TOKEN);

    // The simulator starts empty.
    let r = server.request("GET", "/scim/v2/Users", token, None);
    assert_eq!(r.json()["totalResults"], 0, "{}", r.body);

    let (ok, out, err) = sync(&server);
    assert!(ok, "sync failed:\n{out}\n{err}");
    assert!(out.contains("the SCIM service at http://"), "{out}");
    assert!(
        out.contains("applied:") && out.contains("0 failed"),
        "{out}"
    );

    let users = server.request("GET", "/scim/v2/Users", token, None).json();
    assert_eq!(
        names(&users, "userName"),
        [
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ],
        "{users}"
    );
    let carol = server.request(
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22carol@example.com%22",
        token,
        None,
    );
    let carol = &carol.json()["Resources"][0];
    assert_eq!(carol["name"]["familyName"], "Chen, PhD", "{carol}");
    let dave = server.request(
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22dave@example.com%22",
        token,
        None,
    );
    assert_eq!(dave.json()["Resources"][0]["active"], false);

    let groups = server.request("GET", "/scim/v2/Groups", token, None).json();
    let group_names = names(&groups, "displayName");
    for expected in ["engineering", "jira-users", "sales"] {
        assert!(
            group_names.iter().any(|g| g == expected),
            "{expected} in {group_names:?}"
        );
    }
    let engineering = groups["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["displayName"] == "engineering")
        .unwrap();
    assert_eq!(
        engineering["members"].as_array().map(Vec::len),
        Some(2),
        "{engineering}"
    );

    // Nothing left to do the second time.
    let (ok, out, err) = sync(&server);
    assert!(ok, "second sync failed:\n{out}\n{err}");
    assert!(!out.contains("+ create"), "{out}");
    let (clean, _) = server.stop();
    assert!(clean);
}
