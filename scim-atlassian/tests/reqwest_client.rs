//! `ReqwestClient` against a tiny local HTTP/1.1 server: requests go out as built, responses
//! come back whatever their status, failures map to `HttpError` kinds.
#![cfg(feature = "reqwest")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use scim_atlassian::ReqwestClient;
use scim_core::{HttpClient, HttpError};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Serves one connection: records the request head and body, answers `response`.
fn serve_once(response: &'static str) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream.write_all(response.as_bytes()).unwrap();
        tx.send((head, body)).unwrap();
    });
    (format!("http://{addr}"), rx)
}

#[test]
fn sends_the_request_and_returns_any_status() {
    let (base, seen) = serve_once(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\nContent-Length: 38\r\nConnection: close\r\n\r\n{\"errorMessages\":[\"slow\"],\"errors\":{}}",
    );
    let client = ReqwestClient::new(Duration::from_secs(5)).unwrap();
    let request = http::Request::put(format!("{base}/rest/api/2/user?key=JIRAUSER1"))
        .header("authorization", "Bearer pat")
        .header("content-type", "application/json")
        .body(br#"{"active":false}"#.to_vec())
        .unwrap();
    let response = runtime().block_on(client.send(request)).unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(
        response.body(),
        br#"{"errorMessages":["slow"],"errors":{}}"#
    );
    let (head, body) = seen.recv().unwrap();
    assert!(
        head.starts_with("PUT /rest/api/2/user?key=JIRAUSER1 HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer pat"),
        "{head}"
    );
    assert_eq!(body, br#"{"active":false}"#);
}

#[test]
fn failures_map_to_http_error_kinds() {
    // Nothing listens on a port just freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ReqwestClient::new(Duration::from_millis(300)).unwrap();
    let request = http::Request::get(format!(
        "http://127.0.0.1:{port}/rest/api/2/user?username=secret-name"
    ))
    .header("authorization", "Bearer pat")
    .body(Vec::new())
    .unwrap();
    let err = runtime().block_on(client.send(request)).unwrap_err();
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
    assert!(
        !err.to_string().contains("secret-name") && !err.to_string().contains("pat"),
        "{err}"
    );

    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(2));
        drop(conn);
    });
    let request = http::Request::get(format!("http://{addr}/rest/api/2/user"))
        .body(Vec::new())
        .unwrap();
    let err = runtime().block_on(client.send(request)).unwrap_err();
    assert!(matches!(err, HttpError::Timeout(_)), "{err:?}");
}
