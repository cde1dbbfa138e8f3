//! atlassian-bridge's admin page at `/admin`, end to end: the bridge on the Jira simulator with
//! two identity providers and a directory sync, SCIM pushes, a sync run started from the page,
//! then the page over HTTP (sign-in, CSRF, search, paging, escaping, no secrets) and in a real
//! headless Chromium (what it shows, and a screenshot kept as a test artifact).
//!
//! Chromium is the Debian package `chromium` (or `$CHROMIUM`). Without it the browser test is
//! skipped with a message, except under CI (`CI` set), where it fails: .ci/run installs it.

// A panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Reply, Server};
use scim_examples::target::SIMULATOR_SEATS;

const ADMIN: &str = "admin-token-5b9e0c1d7a";
const OKTA: &str = "okta-scim-token-0f3a9d";
const ENTRA: &str = "entra-scim-token-77c1e2";
const TARGET_SECRET: &str = "target-pat-never-shown-4d2";
const SOURCE_PASSWORD: &str = "source-password-never-shown-8e1";
const EVIL: &str = "<script>alert(1)</script>";

/// Every secret the bridge was given: none may appear on any page.
const SECRETS: [&str; 5] = [ADMIN, OKTA, ENTRA, TARGET_SECRET, SOURCE_PASSWORD];

fn directory(users: &[&str]) -> String {
    let users: Vec<serde_json::Value> = users
        .iter()
        .map(|u| {
            serde_json::json!({
                "userName": u,
                "displayName": format!("{u} Example"),
                "password": SOURCE_PASSWORD,
                "emails": [{"value": format!("{u}@example.com"), "primary": true}],
                "active": true
            })
        })
        .collect();
    let members: Vec<serde_json::Value> = ["alice", "bob"]
        .iter()
        .map(|u| serde_json::json!({ "value": u }))
        .collect();
    serde_json::json!({
        "users": users,
        "groups": [{"displayName": "engineering", "members": members}]
    })
    .to_string()
}

/// The bridge on the Jira simulator; `dir` holds its configuration and the directory export.
fn start(dir: &Path) -> Server {
    std::fs::write(dir.join("directory.json"), directory(&["alice", "bob"])).unwrap();
    let config = format!(
        r#"
admin_token = "{ADMIN}"

[target]
type = "jira-dc"
url = "https://jira.example.com"
token = "{TARGET_SECRET}"

[[tenants]]
name = "okta"
token = "{OKTA}"

[[tenants]]
name = "entra"
token = "{ENTRA}"
dry_run = true

[sync]
source = "file"
file = "{}"
tenant = "hr-directory"

[cleanup]
inactive_days = 90
exclude = ["^svc-"]
"#,
        dir.join("directory.json").display()
    );
    std::fs::write(dir.join("bridge.toml"), config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlassian-bridge"));
    cmd.arg("--simulate")
        .arg("--config")
        .arg(dir.join("bridge.toml"));
    Server::start(cmd)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scim-admin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What identity providers push: okta (live) creates two users, one named like a script;
/// entra (a dry run) creates one.
fn push(server: &Server) {
    for (token, user) in [(OKTA, EVIL), (OKTA, "carol"), (ENTRA, "dave")] {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user,
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"value": "someone@example.com", "primary": true}],
            "active": true
        })
        .to_string();
        let reply = server.request("POST", "/scim/v2/Users", Some(token), Some(&body));
        // The simulator may refuse a name like a script; either way the history records it.
        assert!(
            reply.status == 201 || reply.status == 400,
            "{user}: {} {}",
            reply.status,
            reply.body
        );
    }
}

fn form_post(server: &Server, path: &str, cookie: Option<&str>, body: &str) -> Reply {
    form_post_with(server, path, cookie, body, &[])
}

fn form_post_with(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    body: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    headers.extend_from_slice(extra);
    server.request_with("POST", path, None, Some(body), &headers)
}

fn get(server: &Server, path: &str, cookie: &str) -> Reply {
    server.request_with("GET", path, None, None, &[("Cookie", cookie)])
}

/// Signs in with the admin token: the session cookie (`name=value`).
fn sign_in(server: &Server) -> String {
    let reply = form_post(
        server,
        "/admin/login",
        None,
        &format!("token={ADMIN}&next=%2Fadmin"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = reply.header("set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(
        reply.body.contains("http-equiv=\"refresh\""),
        "{}",
        reply.body
    );
    set.split(';').next().unwrap().to_owned()
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

/// Waits (bounded) until the sync run the page started has finished; its progress.
fn wait_for_sync(server: &Server, cookie: &str) -> serde_json::Value {
    for _ in 0..400 {
        let reply = get(server, "/admin/progress", cookie);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let progress = reply.json();
        if progress["running"] == false {
            return progress;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the sync run did not finish within 20 s");
}

/// Waits (bounded) until the page, read with `read`, shows the last cleanup run; that
/// section.
fn wait_for_cleanup(read: &dyn Fn() -> String) -> String {
    for _ in 0..400 {
        let page = read();
        let section = page
            .split("id=\"cleanup\"")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap_or_else(|| panic!("no cleanup section in {page}"))
            .to_owned();
        if section.contains("Last run of this bridge") {
            return section;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the cleanup run did not finish within 20 s");
}

/// The table with id `id` in `page`.
fn table<'a>(page: &'a str, id: &str) -> &'a str {
    page.split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .unwrap_or_else(|| panic!("no table {id} in {page}"))
}

fn assert_no_secret(text: &str, session: &str) {
    for secret in SECRETS.iter().chain([&session]) {
        assert!(!text.contains(secret), "the page shows a secret: {secret}");
    }
}

#[test]
fn admin_page_signs_in_guards_its_forms_and_shows_runs_plans_and_history() {
    let dir = temp_dir("http");
    let server = start(&dir);

    // Nothing without signing in; a wrong token is refused and opens no session.
    let reply = server.request("GET", "/admin", None, None);
    assert_eq!(reply.status, 303);
    assert!(
        reply
            .header("location")
            .unwrap()
            .starts_with("/admin/login")
    );
    assert_eq!(
        server.request("GET", "/admin/progress", None, None).status,
        401
    );
    let reply = server.request("GET", "/admin", Some(OKTA), None);
    assert_eq!(
        reply.status, 303,
        "an identity provider's token is not the admin's"
    );
    let reply = form_post(&server, "/admin/login", None, "token=wrong");
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("not the admin token"));
    assert!(reply.header("set-cookie").is_none());
    let login = server.request("GET", "/admin/login", None, None);
    assert_eq!(login.status, 200);
    assert!(login.body.contains("type=\"password\""));

    let cookie = sign_in(&server);
    let session = cookie.split('=').nth(1).unwrap().to_owned();
    let page = get(&server, "/admin", &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.body.contains("the in-process Jira simulator"));
    assert!(page.body.contains("connected"), "{}", page.body);
    assert!(page.body.contains("<td>okta</td>") && page.body.contains("<td>entra</td>"));
    // The simulated Jira's Jira Software licence.
    let seats = table(&page.body, "seats");
    let licensed = format!("<td>{SIMULATOR_SEATS}</td>");
    assert!(seats.contains("<td>Jira Software</td>") && seats.contains(&licensed));
    let csrf = csrf_of(&page.body);

    // Starting a sync needs the form's CSRF token, from this site.
    let reply = form_post(&server, "/admin/sync", Some(&cookie), "");
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("CSRF"));
    let reply = form_post(&server, "/admin/sync", Some(&cookie), "csrf=forged");
    assert_eq!(reply.status, 403);
    let reply = form_post_with(
        &server,
        "/admin/sync",
        Some(&cookie),
        &format!("csrf={csrf}"),
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("another site"));
    let reply = form_post(&server, "/admin/sync", None, &format!("csrf={csrf}"));
    assert_eq!(
        reply.status, 401,
        "a CSRF token without the session is nothing"
    );
    let reply = form_post(
        &server,
        "/admin/sync",
        Some(&cookie),
        &format!("csrf={csrf}"),
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    let progress = wait_for_sync(&server, &cookie);
    let total = progress["total"].as_u64().unwrap();
    assert!(total >= 3, "alice, bob and their group: {progress}");
    assert_eq!(progress["done"].as_u64(), Some(total));
    assert_eq!(progress["failed"].as_u64(), Some(0));
    // Then the identity providers push (users the directory lacks: the next plan deactivates
    // them, which the safety rail refuses).
    push(&server);

    // The directory gains a user: the next sync's dry-run plan creates her.
    std::fs::write(
        dir.join("directory.json"),
        directory(&["alice", "bob", "erin"]),
    )
    .unwrap();
    let page = get(&server, "/admin", &cookie).body;
    assert!(page.contains(">hr-directory</td>"), "{page}");
    assert!(
        page.contains("users 2 to create"),
        "the run's counts: {page}"
    );
    let plan = table(&page, "plan-steps");
    assert!(
        plan.contains("<td>erin</td>") && plan.contains(">create<"),
        "{plan}"
    );
    assert!(
        !plan.contains("<td>alice</td>"),
        "alice is synced already: {plan}"
    );
    assert!(
        plan.contains("<td>carol</td>") && plan.contains(">deactivate<"),
        "{plan}"
    );
    assert!(
        page.contains("The safety rail would refuse this plan"),
        "{page}"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains(EVIL));
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert_no_secret(&page, &session);

    // The inactive-user cleanup, started from the page: nobody has been idle for 90 days.
    let cleanup = page.split("id=\"cleanup\"").nth(1).unwrap();
    assert!(
        cleanup.contains("not logged in for 90 days") && cleanup.contains("^svc-"),
        "{cleanup}"
    );
    assert!(cleanup.contains("No run of this bridge yet."), "{cleanup}");
    let reply = form_post(&server, "/admin/cleanup", Some(&cookie), "csrf=forged");
    assert_eq!(reply.status, 403);
    let reply = form_post(
        &server,
        "/admin/cleanup",
        Some(&cookie),
        &format!("csrf={csrf}"),
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    let section = wait_for_cleanup(&|| get(&server, "/admin", &cookie).body);
    assert!(
        section.contains("users inactive for 90 days: 0 deprovisioned, 0 failed")
            && section.contains("badge ok"),
        "{section}"
    );
    let page = get(&server, "/admin", &cookie).body;
    let runs = page.split("id=\"runs\"").nth(1).unwrap();
    assert!(runs.contains(">inactive-cleanup</td>"), "{runs}");

    // The history, searched by user and by identity provider, over the whole history.
    let found = get(&server, "/admin?user=ALICE", &cookie).body;
    let rows = table(&found, "history-entries");
    assert!(rows.contains("<td>alice</td>"), "{rows}");
    assert!(!rows.contains("<td>carol</td>") && !rows.contains("<td>bob</td>"));
    let found = get(&server, "/admin?user=ALIC&match=exact", &cookie).body;
    assert!(
        found.contains("No entries match."),
        "exact is the whole name"
    );
    let found = get(&server, "/admin?user=Alice&match=exact", &cookie).body;
    assert!(table(&found, "history-entries").contains("<td>alice</td>"));
    assert!(found.contains("<option value=\"exact\" selected>"));
    // The JSON history takes the same search, and pages with offset.
    let json = server
        .request(
            "GET",
            "/admin/history?user=ALICE&match=exact",
            Some(ADMIN),
            None,
        )
        .json();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"]["name"].as_str().unwrap_or_default())
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| *n == "alice"),
        "{json}"
    );
    let all = server
        .request("GET", "/admin/history?limit=3", Some(ADMIN), None)
        .json();
    let second = server
        .request("GET", "/admin/history?offset=1&limit=1", Some(ADMIN), None)
        .json();
    assert_eq!(second[0], all[1], "offset skips the newest");
    let bad = server.request("GET", "/admin/history?offset=-1", Some(ADMIN), None);
    assert_eq!(bad.status, 400);
    let bad = get(&server, "/admin?user=x&match=fuzzy", &cookie);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("match=&quot;fuzzy&quot;"), "{}", bad.body);
    let found = get(&server, "/admin?tenant=entra", &cookie).body;
    let rows = table(&found, "history-entries");
    assert!(
        rows.contains("<td>dave</td>") && rows.contains("dry run"),
        "{rows}"
    );
    assert!(!rows.contains("<td>carol</td>"));
    let found = get(&server, "/admin?user=nobody-at-all", &cookie).body;
    assert!(found.contains("No entries match."));
    let found = get(&server, "/admin?user=%3Cscript%3E", &cookie).body;
    assert!(
        found.contains("value=\"&lt;script&gt;\""),
        "the search box keeps the text"
    );
    let bad = get(&server, "/admin?page=0", &cookie);
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("page=&quot;0&quot; is not a page number"),
        "{}",
        bad.body
    );

    // Scripts may use the admin token instead of a session.
    let reply = server.request("GET", "/admin", Some(ADMIN), None);
    assert_eq!(reply.status, 200);
    assert_no_secret(&reply.body, &session);
    let assets = server.request("GET", "/admin/assets/admin.js", None, None);
    assert_eq!(assets.status, 200);
    assert!(
        assets
            .header("content-type")
            .unwrap()
            .contains("javascript")
    );

    // Signing out ends the session.
    let reply = form_post(
        &server,
        "/admin/logout",
        Some(&cookie),
        &format!("csrf={csrf}"),
    );
    assert_eq!(reply.status, 303);
    assert!(reply.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(&server, "/admin", &cookie).status, 303);

    let (ok, err) = server.stop();
    assert!(ok, "{err}");
    for secret in SECRETS {
        assert!(!err.contains(secret), "the log shows a secret");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium, or `None` (with a message) when it is missing outside CI.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .into_iter()
                .map(PathBuf::from),
        );
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is required under CI (Debian package `chromium`; .ci/run installs it)"
    );
    eprintln!(
        "SKIPPED admin_page_in_headless_chromium: chromium not found (install the Debian \
         package `chromium`, or set CHROMIUM); it is required under CI"
    );
    None
}

/// Runs headless Chromium on `url` with `extra` flags, in a fresh profile, for at most 90 s;
/// its standard output.
fn run_chromium(chromium: &Path, profile: &Path, extra: &[String], url: &str) -> String {
    let _ = std::fs::remove_dir_all(profile);
    std::fs::create_dir_all(profile).unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Time for the sign-in page's refresh to the admin page.
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A local page that signs the browser in as a person would: the form posted to
/// `/admin/login` with the token (in the body, never the URL).
fn sign_in_page(dir: &Path, server: &Server) -> String {
    let path = dir.join("sign-in.html");
    std::fs::write(
        &path,
        format!(
            "<!DOCTYPE html><html><body><form id=\"f\" method=\"post\" \
             action=\"http://{}/admin/login\"><input name=\"token\" value=\"{ADMIN}\">\
             <input name=\"next\" value=\"/admin\"></form>\
             <script>document.getElementById('f').submit()</script></body></html>",
            server.addr
        ),
    )
    .unwrap();
    format!("file://{}", path.display())
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn admin_page_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = temp_dir("chromium");
    let server = start(&dir);
    // A sync run, started with the admin token (a script's way: no session, no CSRF).
    let reply = server.request_with(
        "POST",
        "/admin/sync",
        Some(ADMIN),
        None,
        &[("Content-Length", "0")],
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    for _ in 0..400 {
        let p = server
            .request("GET", "/admin/progress", Some(ADMIN), None)
            .json();
        if p["running"] == false {
            assert!(p["total"].as_u64().unwrap() >= 3, "{p}");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    push(&server);
    // Before any page view: the page's plan of the next sync is made (and kept a while) then.
    std::fs::write(
        dir.join("directory.json"),
        directory(&["alice", "bob", "erin"]),
    )
    .unwrap();
    // A cleanup run, started with the admin token as well.
    let reply = server.request_with(
        "POST",
        "/admin/cleanup",
        Some(ADMIN),
        None,
        &[("Content-Length", "0")],
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    wait_for_cleanup(&|| server.request("GET", "/admin", Some(ADMIN), None).body);
    let sign_in = sign_in_page(&dir, &server);

    let dom = run_chromium(
        &chromium,
        &dir.join("profile-dom"),
        &["--dump-dom".to_owned()],
        &sign_in,
    );
    assert!(
        dom.contains("<h1>atlassian-bridge admin</h1>"),
        "not signed in: {dom}"
    );
    // What the browser shows: the target and its connection, the identity providers, the
    // run with its counts, the plan of the next run, the history with the pushed users.
    assert!(dom.contains("the in-process Jira simulator") && dom.contains("connected"));
    assert!(dom.contains("<td>okta</td>") && dom.contains("<td>entra</td>"));
    let seats = table(&dom, "seats");
    assert!(
        seats.contains("<td>Jira Software</td>") && seats.contains("<meter"),
        "{seats}"
    );
    let runs = dom
        .split("id=\"runs\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("a runs section");
    assert!(runs.contains(">hr-directory</td>") && runs.contains("users 2 to create"));
    assert!(runs.contains(">inactive-cleanup</td>"), "{runs}");
    let cleanup = dom
        .split("id=\"cleanup\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("a cleanup section");
    assert!(
        cleanup.contains("Last run of this bridge") && cleanup.contains("0 deprovisioned"),
        "{cleanup}"
    );
    let plan = table(&dom, "plan-steps");
    assert!(plan.contains("<td>erin</td>"), "{plan}");
    let history = table(&dom, "history-entries");
    assert!(history.contains("<td>carol</td>") && history.contains("<td>dave</td>"));
    // The script-like name is text in the browser's DOM, not an element.
    assert!(
        history.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{history}"
    );
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(dom.contains("<progress id=\"sync-progress\""));
    for secret in SECRETS {
        assert!(!dom.contains(secret), "the page shows a secret: {secret}");
    }

    let png = artifacts_dir().join("admin.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &chromium,
        &dir.join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_owned(),
        ],
        &sign_in,
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a page, not a blank: {} bytes",
        bytes.len()
    );
    println!("admin page screenshot: {}", png.display());

    let (ok, err) = server.stop();
    assert!(ok, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
