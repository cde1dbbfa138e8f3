//! What the end-to-end tests of the example binaries share: starting a binary on a free port,
//! plain HTTP/1.1 requests, stopping it with SIGTERM.

// Test helpers panic on purpose: a panic is the failure report. Each test file uses a part.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes,
    dead_code
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout_lines: Vec<String>,
    /// Databases removed once the server is stopped (fields drop after `Drop::drop` ran).
    databases: Vec<TempDb>,
}

impl Server {
    /// Keeps `db` until this server is dropped, after the process is gone.
    pub fn keep(mut self, db: TempDb) -> Server {
        self.databases.push(db);
        self
    }

    /// Runs `cmd` (with `--bind 127.0.0.1:0` added) and waits for its `listening on` line.
    pub fn start(mut cmd: Command) -> Server {
        cmd.args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info");
        let mut child = cmd.spawn().expect("start the server");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut stdout_lines = Vec::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("server exited early: {stdout_lines:?}\n{err}");
            }
            let line = line.trim_end().to_owned();
            if let Some(rest) = line.strip_prefix("listening on http://") {
                let addr = rest.split_whitespace().next().unwrap().to_owned();
                stdout_lines.push(line);
                return Server {
                    child,
                    addr,
                    stdout_lines,
                    databases: Vec::new(),
                };
            }
            stdout_lines.push(line);
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        self.request_with(method, path, token, body, &[])
    }

    /// [`Server::request`] with extra headers.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
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
        let mut extra = String::new();
        for (k, v) in headers {
            for part in [k, ": ", v, "\r\n"] {
                extra.push_str(part);
            }
        }
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}{content}{extra}",
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

    /// SIGTERM, then whether it exited with 0 and its standard error.
    pub fn stop(mut self) -> (bool, String) {
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

/// A test that ends without [`Server::stop`] (or panics first) must not leave its server
/// running: on a shared machine those pile up across runs.
impl Drop for Server {
    fn drop(&mut self) {
        // After `stop` the child is reaped: std knows it and signals nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
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

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
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

/// A database file no other test or run uses, in a directory of its own under the system temp
/// dir; the directory is removed when this is dropped.
pub struct TempDb {
    dir: std::path::PathBuf,
    url: String,
}

impl TempDb {
    /// The `sqlite://` URL of the file.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh [`TempDb`].
pub fn temp_db() -> TempDb {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "scim-server-test-{}-{nanos}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("scim.db").display());
    TempDb { dir, url }
}
