//! The `scim-server` binary end to end: started on a free port, spoken to over plain HTTP/1.1,
//! stopped with SIGTERM.

// Test helpers panic on purpose: a panic is the failure report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

struct Server {
    child: Child,
    addr: String,
    stdout_lines: Vec<String>,
}

impl Server {
    fn start(args: &[&str], env_token: Option<&str>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-server"));
        cmd.args(["--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info");
        match env_token {
            Some(t) => cmd.env("SCIM_TOKEN", t),
            None => cmd.env_remove("SCIM_TOKEN"),
        };
        let mut child = cmd.spawn().expect("start scim-server");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut stdout_lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "server exited early");
            let line = line.trim_end().to_owned();
            if let Some(rest) = line.strip_prefix("listening on http://") {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                stdout_lines.push(line);
                return Server {
                    child,
                    addr,
                    stdout_lines,
                };
            }
            stdout_lines.push(line);
        }
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let content = body.map_or(String::new(), |b| {
            format!(
                "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
                b.len()
            )
        });
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}{content}",
            self.addr
        );
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        stream.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        Reply::parse(&raw)
    }

    fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.success(), err)
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: body.to_owned(),
        };
        if reply.header("transfer-encoding") == Some("chunked") {
            reply.body = dechunk(&reply.body);
        }
        reply
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

#[test]
fn serves_scim_2_and_1_1_with_a_bearer_token_and_stops_gracefully() {
    let server = Server::start(&["--token", "t0ken-for-tests"], None);
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
    let server = Server::start(&[], None);
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
    let server = Server::start(&[], Some("env-token"));
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
