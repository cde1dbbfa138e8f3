//! `http-bench`: how fast the SCIM service answers over HTTP, next to a trivial handler on the
//! same stack, so the cost of SCIM itself shows apart from axum, hyper, tokio and TCP.
//!
//! ```text
//! cargo run --release -p scim-examples --bin http-bench -- --seconds 5 --connections 32
//! ```
//!
//! In one process it serves, on two loopback ports chosen by the system:
//! - the SCIM service as `scim-server` serves it (the same axum fallback to
//!   `ScimService::into_service()`, the in-memory provisioner, bearer-token authentication), seeded with
//!   1,000 users;
//! - a trivial handler on the same `Router`/`axum::serve` set-up, answering `GET /trivial` with a
//!   fixed small JSON body, and `GET /static-user` with one user's SCIM GET response (headers and
//!   body as the service rendered them once) as fixed bytes: the control that costs the same
//!   exchange as a SCIM GET without the SCIM work.
//!
//! A built-in load generator then keeps N keep-alive HTTP/1.1 connections busy against each in
//! turn for a bounded time: one request at a time per connection, `GET /scim/v2/Users/{id}`
//! (cycling through the seeded users) with the bearer token, `GET /trivial`, then
//! `GET /static-user`, each response read whole by its `Content-Length`. It prints requests per
//! second, p50 and p99 latency, the process's CPU time per request (servers and load generator
//! together; on a shared machine this is steadier than requests per second) and the ratios of
//! SCIM to the others. Every response must be a 200; any other answer is counted and makes the
//! exit status non-zero.
//!
//! Request logs are off unless `RUST_LOG` asks for them (the default level here is `warn`):
//! writing a line per request to standard error would measure the terminal, not the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use scim_core::provision::InMemoryProvisioner;
use scim_core::{BearerTokens, ScimService};
use scim_examples::Flags;
use scim_examples::glue::MAX_PAYLOAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "http-bench-token";
const TENANT: &str = "default";
const USERS: usize = 1_000;
const TRIVIAL_BODY: &str = r#"{"status":"ok"}"#;

const USAGE: &str = "\
usage: http-bench [--seconds S] [--connections N]

  --seconds S       how long to load each server (default 5; fractions allowed)
  --connections N   keep-alive connections kept busy at once (default 32)
  -h, --help        this text

Serves the SCIM service (1,000 users in memory) and a trivial handler on loopback, loads each
in turn with GET requests and prints requests/second, p50/p99 latency and their ratio.";

/// The command line.
struct Options {
    duration: Duration,
    connections: usize,
}

fn parse_options(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        duration: Duration::from_secs(5),
        connections: 32,
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seconds" => {
                let v = flags.value("--seconds")?;
                options.duration = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("--seconds {v:?} is not a number in (0, 3600]"))?;
            }
            "--connections" => {
                let v = flags.value("--connections")?;
                options.connections = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| format!("--connections {v:?} is not a number in 1..=4096"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

/// The baseline: a fixed small JSON body, no work.
async fn trivial() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], TRIVIAL_BODY)
}

/// Binds a loopback port chosen by the system and serves `router` on it in the background.
async fn spawn_server(router: Router) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("http-bench: server on {addr} failed: {e}");
        }
    });
    Ok(addr)
}

/// Creates `USERS` users through the service itself; returns their ids.
async fn seed_users(scim: &ScimService) -> Result<Vec<String>, String> {
    let mut ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i:04}@example.com"),
            "externalId": format!("ext-{i:04}"),
            "name": {"givenName": "Bench", "familyName": format!("User {i}")},
            "displayName": format!("Bench User {i}"),
            "emails": [{"value": format!("user{i:04}@example.com"), "type": "work", "primary": true}],
            "active": true,
        });
        let request = axum::http::Request::post("/scim/v2/Users")
            .header(header::HOST, "bench.local")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/scim+json")
            .body(Bytes::from(body.to_string()))
            .map_err(|e| format!("seed request: {e}"))?;
        let response = scim.handle(request).await;
        let created: serde_json::Value = serde_json::from_slice(response.body())
            .map_err(|e| format!("seed response is not JSON: {e}"))?;
        let id = created
            .get("id")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("seeding user {i} failed: {created}"))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// What one load run measured.
struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    /// CPU time the whole process (servers and load generator) used during the run, when the
    /// system tells (Linux).
    cpu: Option<Duration>,
    /// Per-request latency in microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl Outcome {
    // Request counts stay far below 2^52, where f64 would start to round them.
    #[allow(clippy::cast_precision_loss)]
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Process CPU time per request, in microseconds. Unlike requests per second, this does not
    /// depend on how much of the machine other processes take.
    // Request counts stay far below 2^52, where f64 would start to round them.
    #[allow(clippy::cast_precision_loss)]
    fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    /// The latency below which `per_mille`/1000 of the requests finished, in milliseconds.
    fn quantile_ms(&self, per_mille: usize) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let last = self.latencies_us.len() - 1;
        // Nearest rank.
        let rank = (last * per_mille + 500) / 1000;
        f64::from(self.latencies_us.get(rank.min(last)).copied().unwrap_or(0)) / 1000.0
    }
}

/// Keeps `connections` keep-alive connections to `addr` busy for `duration`, each sending the
/// requests `make_request(connection, n)` builds one after another.
async fn load(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make_request: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync>,
) -> Result<Outcome, String> {
    // Connect everything first so that connection set-up is not timed.
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        streams.push(stream);
    }
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for (c, stream) in streams.into_iter().enumerate() {
        let make_request = Arc::clone(&make_request);
        tasks.push(tokio::spawn(async move {
            drive(stream, deadline, |n| make_request(c, n)).await
        }));
    }
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        cpu: None,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (latencies, errors) = task.await.map_err(|e| format!("load task failed: {e}"))??;
        outcome.requests += latencies.len();
        outcome.errors += errors;
        outcome.latencies_us.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    outcome.cpu = process_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

/// One connection: request, read the whole response, again, until `deadline`. Returns the
/// latencies in microseconds and how many responses were not 200.
async fn drive(
    mut stream: TcpStream,
    deadline: Instant,
    make_request: impl Fn(usize) -> Vec<u8>,
) -> Result<(Vec<u32>, usize), String> {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut buf = Vec::with_capacity(8192);
    let mut n = 0;
    while Instant::now() < deadline {
        let request = make_request(n);
        n += 1;
        let sent = Instant::now();
        stream
            .write_all(&request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let status = read_response(&mut stream, &mut buf).await?;
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != 200 {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

/// Reads one HTTP/1.1 response from `stream` (head, then `Content-Length` bytes of body) and
/// returns its status. `buf` is scratch space; responses are never pipelined, so nothing of
/// the next one is in it.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16, String> {
    buf.clear();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
        .map_err(|_| "response head is not UTF-8".to_owned())?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    while buf.len() < head_end + length {
        read_more(stream, buf).await?;
    }
    Ok(status)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), String> {
    let mut chunk = [0u8; 8192];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("the server closed the connection".to_owned());
    }
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(())
}

/// The CPU time all threads of this process have run so far: the first field of each
/// `/proc/self/task/*/schedstat` (nanoseconds on the CPU). `None` where there is no such file.
/// The tokio worker threads live for the whole run, so differences between two readings count
/// every thread that served or sent requests in between.
fn process_cpu_time() -> Option<Duration> {
    let mut total: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread that ended between the listing and the read no longer runs: skip it.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
        total = total.saturating_add(ns);
    }
    Some(Duration::from_nanos(total))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The service's response to `GET /scim/v2/Users/{first id}`, as fixed headers and bytes.
async fn scim_handle_get(
    ids: &[String],
    scim: &ScimService,
) -> Result<(axum::http::HeaderMap, Bytes), String> {
    let id = ids.first().ok_or("no users were seeded")?;
    let request = axum::http::Request::get(format!("/scim/v2/Users/{id}"))
        .header(header::HOST, "bench.local")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Bytes::new())
        .map_err(|e| format!("sample request: {e}"))?;
    let (parts, body) = scim.handle(request).await.into_parts();
    if !parts.status.is_success() {
        return Err(format!("sample GET answered {}", parts.status));
    }
    Ok((parts.headers, Bytes::from(body)))
}

fn report(name: &str, o: &Outcome) {
    let cpu = o
        .cpu_us_per_request()
        .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.1} µs"));
    println!(
        "{name:<8} {:>10.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   CPU/request {cpu}   ({} requests, {} errors, {:.2} s)",
        o.per_second(),
        o.quantile_ms(500),
        o.quantile_ms(990),
        o.requests,
        o.errors,
        o.elapsed.as_secs_f64()
    );
}

async fn run(options: Options) -> Result<bool, String> {
    let scim = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, TENANT)))
        .max_payload_size(MAX_PAYLOAD)
        .build();
    let ids = Arc::new(seed_users(&scim).await?);
    let scim_for_sample = scim.clone();
    // Every request goes to the SCIM service, exactly as `scim-server` routes it.
    let scim_addr = spawn_server(Router::new().fallback_service(scim.into_service())).await?;
    // The control: one user's GET response as the service renders it (body, content type,
    // ETag), served as fixed bytes by the trivial server. Against it SCIM pays for its work only,
    // not for a bigger exchange than `/trivial`'s.
    let sample = scim_handle_get(&ids, &scim_for_sample).await?;
    let static_user = move || {
        let sample = sample.clone();
        async move { sample }
    };
    let trivial_addr = spawn_server(
        Router::new()
            .route("/trivial", get(trivial))
            .route("/static-user", get(static_user)),
    )
    .await?;

    println!(
        "http-bench: {} connections, {:.1} s each; SCIM on {scim_addr} ({} users), trivial on {trivial_addr}",
        options.connections,
        options.duration.as_secs_f64(),
        ids.len()
    );
    let scim_request: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync> = {
        let ids = Arc::clone(&ids);
        Arc::new(move |connection, n| {
            // Each connection walks the users from its own starting point.
            let id = ids
                .get((connection * 31 + n) % ids.len())
                .map_or("", String::as_str);
            format!(
                "GET /scim/v2/Users/{id} HTTP/1.1\r\nHost: {scim_addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: application/scim+json\r\n\r\n"
            )
            .into_bytes()
        })
    };
    let trivial_request: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync> = {
        let request = format!(
            "GET /trivial HTTP/1.1\r\nHost: {trivial_addr}\r\nAccept: application/json\r\n\r\n"
        )
        .into_bytes();
        Arc::new(move |_, _| request.clone())
    };
    let static_request: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync> = {
        let request = format!(
            "GET /static-user HTTP/1.1\r\nHost: {trivial_addr}\r\nAccept: application/scim+json\r\n\r\n"
        )
        .into_bytes();
        Arc::new(move |_, _| request.clone())
    };

    let scim = load(
        scim_addr,
        options.connections,
        options.duration,
        scim_request,
    )
    .await?;
    report("scim", &scim);
    let trivial = load(
        trivial_addr,
        options.connections,
        options.duration,
        trivial_request,
    )
    .await?;
    report("trivial", &trivial);
    let fixed = load(
        trivial_addr,
        options.connections,
        options.duration,
        static_request,
    )
    .await?;
    report("static", &fixed);
    let ratio = scim.per_second() / trivial.per_second();
    println!(
        "ratio    scim/trivial throughput {:.1}% (target >= 70%)",
        ratio * 100.0
    );
    // The same ratio from CPU time per request: what the throughput ratio would be if both
    // phases had had the same CPU, whatever else runs on the machine.
    if let Some((s, t)) = scim.cpu_us_per_request().zip(trivial.cpu_us_per_request()) {
        println!(
            "ratio    scim/trivial by CPU per request {:.1}% (trivial {t:.1} µs / scim {s:.1} µs)",
            t / s * 100.0
        );
    }
    if let Some((s, f)) = scim.cpu_us_per_request().zip(fixed.cpu_us_per_request()) {
        println!(
            "ratio    scim/static (same response as fixed bytes) by CPU per request {:.1}% (static {f:.1} µs / scim {s:.1} µs)",
            f / s * 100.0
        );
    }
    Ok([&scim, &trivial, &fixed]
        .iter()
        .all(|o| o.errors == 0 && o.requests > 0))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("http-bench: {why}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(options).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("http-bench: some requests failed or none completed");
            std::process::ExitCode::FAILURE
        }
        Err(why) => {
            eprintln!("http-bench: {why}");
            std::process::ExitCode::FAILURE
        }
    }
}
