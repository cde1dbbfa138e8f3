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
//! A built-in load generator, on a runtime of its own with one thread (like `wrk -t1`), then keeps
//! N keep-alive HTTP/1.1 connections busy against each in turn for a bounded time: one request at a time per connection, `GET /scim/v2/Users/{id}`
//! (cycling through the seeded users) with the bearer token, `GET /trivial`, then
//! `GET /static-user`, each response read whole by its `Content-Length`. It prints requests per
//! second, p50 and p99 latency, the process's CPU time per request (servers and load generator
//! together; on a shared machine this is steadier than requests per second), the servers' part
//! of it (the process's minus the load generator's thread: what a load generator in another
//! process would leave to measure) and the ratios of SCIM to the others. Every response must be a 200; any other answer is counted and makes the
//! exit status non-zero.
//!
//! `--rounds N` runs the three phases N times, interleaved, and ends with the median (and range)
//! of each ratio: on a shared machine a single round's ratio moves by tens of percent with the
//! load of other processes; interleaving spreads a slow spell over all three phases.
//!
//! Request logs are off unless `RUST_LOG` asks for them (the default level here is `warn`):
//! writing a line per request to standard error would measure the terminal, not the server.
//!
//! `--db URL` serves the SCIM phase from scim-sql instead (`sqlite://FILE`, created if missing;
//! `postgres://...`), seeded with `--users N` users in bulk, as `scim-server --db` does.
//!
//! `--scale 1000,10000,100000` measures the durable store as the directory grows: for each size,
//! a fresh SQLite file (in the system temp dir, removed afterwards) loaded with that many users
//! (enterprise extension, a title among 40, an email each), then over HTTP: GET by id throughput,
//! the same once every user is in one of 40 groups, POST creates per second (8 connections), and single-client latencies (median of 15) of
//! `userName eq`, `title eq`, the enterprise `employeeNumber eq`, `emails co`, `emails.value eq`
//! and a page sorted by `name.familyName` (no index), with the process's resident memory after
//! each size. The in-memory store's and the trivial handler's GET throughput are measured in
//! the same run, and a table of everything is printed at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use scim_core::provision::{InMemoryProvisioner, Provisioner};
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
usage: http-bench [--seconds S] [--connections N] [--rounds N] [--db URL] [--users N] [--scale N,N,...]
                  [--mmap BYTES]

  --seconds S       how long to load each server (default 5; fractions allowed)
  --connections N   keep-alive connections kept busy at once (default 32)
  --rounds N        interleaved rounds of the three phases, with the median ratios (default 1)
  --db URL          serve SCIM from scim-sql (sqlite://FILE or postgres://...), not memory
  --users N         users to seed (default 1000)
  --scale N,N,...   the SQLite scaling table: GETs, POSTs, filters and memory per size
  --mmap BYTES      SQLite's mmap_size for the read connections (default scim-sql's)
  -h, --help        this text

Serves the SCIM service (1,000 users in memory) and a trivial handler on loopback, loads each
in turn with GET requests and prints requests/second, p50/p99 latency and their ratio.";

/// The command line.
struct Options {
    duration: Duration,
    connections: usize,
    db: Option<String>,
    users: usize,
    scale: Vec<usize>,
    rounds: usize,
    /// `SqlOptions::mmap_size`, when given.
    mmap: Option<u64>,
}

fn parse_options(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        duration: Duration::from_secs(5),
        connections: 32,
        db: None,
        users: USERS,
        scale: Vec::new(),
        rounds: 1,
        mmap: None,
    };
    let count = |flag: &str, v: &str| {
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| format!("{flag} {v:?} is not a number in 1..=1000000"))
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
            "--rounds" => {
                let v = flags.value("--rounds")?;
                options.rounds = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=50).contains(n))
                    .ok_or_else(|| format!("--rounds {v:?} is not a number in 1..=50"))?;
            }
            "--db" => options.db = Some(flags.value("--db")?),
            "--users" => options.users = count("--users", &flags.value("--users")?)?,
            "--scale" => {
                let v = flags.value("--scale")?;
                options.scale = v
                    .split(',')
                    .map(|n| count("--scale", n.trim()))
                    .collect::<Result<_, _>>()?;
            }
            "--mmap" => {
                let v = flags.value("--mmap")?;
                options.mmap = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--mmap {v:?} is not a number of bytes"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

/// scim-sql's options for `url`, with `--mmap` if given.
fn sql_options(options: &Options, url: &str) -> scim_sql::SqlOptions {
    let sql = scim_sql::SqlOptions::new(url);
    match options.mmap {
        Some(bytes) => sql.mmap_size(bytes),
        None => sql,
    }
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

/// Creates `users` users through the service itself; returns their ids.
async fn seed_users(scim: &ScimService, users: usize) -> Result<Vec<String>, String> {
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
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
    /// The part of `cpu` the load generator's own thread used: the rest is the server's, what a
    /// load generator in another process (wrk) would leave to be measured.
    load_cpu: Option<Duration>,
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

    /// The server's CPU time per request (the process's minus the load generator's thread), in
    /// microseconds: the figure a load generator in its own process would let one measure.
    // Request counts stay far below 2^52, where f64 would start to round them.
    #[allow(clippy::cast_precision_loss)]
    fn server_us_per_request(&self) -> Option<f64> {
        let server = self.cpu?.saturating_sub(self.load_cpu?);
        (self.requests > 0).then(|| server.as_secs_f64() * 1e6 / self.requests as f64)
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

/// The name of the load generator's one thread, by which its CPU time is told apart.
const LOAD_THREAD: &str = "http-bench-load";

/// The load generator's runtime: one thread, like `wrk -t1`, apart from the servers' workers,
/// so that its CPU time can be subtracted from the process's.
fn load_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(LOAD_THREAD)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the load generator's runtime: {e}"))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Keeps `connections` keep-alive connections to `addr` busy for `duration`, each sending the
/// requests `make_request(connection, n)` builds one after another, from the load generator's
/// own thread.
async fn load(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make_request: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync>,
) -> Result<Outcome, String> {
    load_runtime()?
        .spawn(load_here(addr, connections, duration, make_request))
        .await
        .map_err(|e| format!("the load generator failed: {e}"))?
}

async fn load_here(
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
    let load_before = thread_cpu_time(LOAD_THREAD);
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
        load_cpu: None,
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
    outcome.load_cpu = thread_cpu_time(LOAD_THREAD)
        .zip(load_before)
        .map(|(after, before)| after.saturating_sub(before));
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

/// One connection: request, read the whole response, again, until `deadline`. Returns the
/// latencies in microseconds and how many responses were not 2xx.
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
        if !(200..300).contains(&status) {
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
    cpu_time_of(|_| true)
}

/// The CPU time the threads called `name` have run so far (`/proc/self/task/*/comm`).
fn thread_cpu_time(name: &str) -> Option<Duration> {
    cpu_time_of(|task| {
        std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.trim_end() == name)
    })
}

fn cpu_time_of(include: impl Fn(&std::path::Path) -> bool) -> Option<Duration> {
    let mut total: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if !include(&task.path()) {
            continue;
        }
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

/// `GET /scim/v2/Users/{id}` requests, each connection walking the users from its own start.
fn get_by_id(
    addr: SocketAddr,
    ids: Arc<Vec<String>>,
) -> Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync> {
    // The text around the id is written once: each request then costs the load generator one
    // buffer and a copy, as the fixed requests of the controls do, so the ratios compare
    // servers, not clients. (Written out for every id, 100k users would add ~20 MB to the RSS
    // the scaling table reports.)
    let head = b"GET /scim/v2/Users/";
    let tail = format!(
        " HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: application/scim+json\r\n\r\n"
    )
    .into_bytes();
    Arc::new(move |connection, n| {
        let id = ids
            .get((connection * 31 + n) % ids.len().max(1))
            .map_or("", String::as_str);
        let mut request = Vec::with_capacity(head.len() + id.len() + tail.len());
        request.extend_from_slice(head);
        request.extend_from_slice(id.as_bytes());
        request.extend_from_slice(&tail);
        request
    })
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
    let us = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |us| format!("{us:.1} µs"));
    let cpu = us(o.cpu_us_per_request());
    let server = us(o.server_us_per_request());
    println!(
        "{name:<8} {:>10.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   CPU/request {cpu} (server {server})   ({} requests, {} errors, {:.2} s)",
        o.per_second(),
        o.quantile_ms(500),
        o.quantile_ms(990),
        o.requests,
        o.errors,
        o.elapsed.as_secs_f64()
    );
}

/// `name`'s throughput and server CPU per request against the trivial handler and the static
/// user (the issue's "trivial handler returning a static SCIM User").
fn print_server_ratios(name: &str, o: &Outcome, trivial: &Outcome, fixed: &Outcome) {
    for (control, c) in [("static-user", fixed), ("trivial", trivial)] {
        let by_cpu = o
            .server_us_per_request()
            .zip(c.server_us_per_request())
            .map_or_else(
                || "n/a".to_owned(),
                |(s, t)| format!("{:.1}% ({t:.1} / {s:.1} µs)", t / s * 100.0),
            );
        println!(
            "ratio    {name}/{control}: throughput {:.1}%, by server CPU per request {by_cpu}",
            o.per_second() / c.per_second() * 100.0
        );
    }
}

/// The SCIM service over `backend`, as `scim-server` builds it.
fn service(backend: Arc<dyn Provisioner>) -> ScimService {
    ScimService::builder(backend)
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, TENANT)))
        .max_payload_size(MAX_PAYLOAD)
        .build()
}

async fn run(options: Options) -> Result<bool, String> {
    if !options.scale.is_empty() {
        return scale::run(&options).await;
    }
    let (scim, ids) = match &options.db {
        None => {
            let scim = service(Arc::new(InMemoryProvisioner::new()));
            let ids = seed_users(&scim, options.users).await?;
            (scim, ids)
        }
        Some(url) => {
            let p = scim_sql::SqlProvisioner::connect_with(sql_options(&options, url))
                .await
                .map_err(|e| format!("cannot open {}: {e}", scim_examples::redact_url(url)))?;
            let ids = scale::load_users(&p, options.users, 0).await?;
            (service(Arc::new(p)), ids)
        }
    };
    let ids = Arc::new(ids);
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
        "http-bench: {} connections, {:.1} s each; SCIM on {scim_addr} ({} users, {}), trivial on {trivial_addr}",
        options.connections,
        options.duration.as_secs_f64(),
        ids.len(),
        options
            .db
            .as_deref()
            .map_or_else(|| "in memory".to_owned(), scim_examples::redact_url)
    );
    let scim_request = get_by_id(scim_addr, Arc::clone(&ids));
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

    // Rounds interleave the phases, so that a slow spell of the machine (other tenants of the
    // host) lands on all three rather than on one; the ratios' medians are printed at the end.
    let mut ratios = Vec::with_capacity(options.rounds);
    let mut all_ok = true;
    for round in 1..=options.rounds {
        if options.rounds > 1 {
            println!("round {round} of {}", options.rounds);
        }
        let scim = load(
            scim_addr,
            options.connections,
            options.duration,
            Arc::clone(&scim_request),
        )
        .await?;
        report("scim", &scim);
        let trivial = load(
            trivial_addr,
            options.connections,
            options.duration,
            Arc::clone(&trivial_request),
        )
        .await?;
        report("trivial", &trivial);
        let fixed = load(
            trivial_addr,
            options.connections,
            options.duration,
            Arc::clone(&static_request),
        )
        .await?;
        report("static", &fixed);
        print_server_ratios("scim", &scim, &trivial, &fixed);
        ratios.push(RoundRatios::of(&scim, &trivial, &fixed));
        all_ok &= [&scim, &trivial, &fixed]
            .iter()
            .all(|o| o.errors == 0 && o.requests > 0);
    }
    if options.rounds > 1 {
        RoundRatios::print_medians(&ratios);
    }
    Ok(all_ok)
}

/// One round's ratios of SCIM to the two controls, in percent.
struct RoundRatios {
    static_throughput: f64,
    static_cpu: Option<f64>,
    trivial_throughput: f64,
    trivial_cpu: Option<f64>,
}

impl RoundRatios {
    fn of(scim: &Outcome, trivial: &Outcome, fixed: &Outcome) -> Self {
        let by_cpu = |c: &Outcome| {
            scim.server_us_per_request()
                .zip(c.server_us_per_request())
                .map(|(s, c)| c / s * 100.0)
        };
        RoundRatios {
            static_throughput: scim.per_second() / fixed.per_second() * 100.0,
            static_cpu: by_cpu(fixed),
            trivial_throughput: scim.per_second() / trivial.per_second() * 100.0,
            trivial_cpu: by_cpu(trivial),
        }
    }

    fn print_medians(rounds: &[RoundRatios]) {
        let line = |name: &str, values: Vec<f64>| {
            let mut v = values;
            v.sort_by(f64::total_cmp);
            match (v.first(), v.get(v.len() / 2), v.last()) {
                (Some(lo), Some(mid), Some(hi)) => {
                    println!("median   {name}: {mid:.1}% (from {lo:.1}% to {hi:.1}%)");
                }
                _ => println!("median   {name}: n/a"),
            }
        };
        println!("{} rounds:", rounds.len());
        line(
            "scim/static-user throughput",
            rounds.iter().map(|r| r.static_throughput).collect(),
        );
        line(
            "scim/static-user by server CPU",
            rounds.iter().filter_map(|r| r.static_cpu).collect(),
        );
        line(
            "scim/trivial throughput",
            rounds.iter().map(|r| r.trivial_throughput).collect(),
        );
        line(
            "scim/trivial by server CPU",
            rounds.iter().filter_map(|r| r.trivial_cpu).collect(),
        );
    }
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

/// `--scale`: the durable store as the directory grows.
mod scale {
    use std::fmt::Write as _;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Instant;

    use axum::Router;
    use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
    use scim_core::{EnterpriseUser, Group, Member, User};
    use scim_sql::SqlProvisioner;
    use tokio::net::TcpStream;

    use super::{
        Options, Outcome, TENANT, TOKEN, get_by_id, load, read_response, service, spawn_server,
    };

    /// Titles users are spread over (`title eq` selects one in 40).
    const TITLES: usize = 40;
    /// Users per transaction while loading.
    const LOAD_BATCH: usize = 5_000;
    /// Requests per filter; the median is reported.
    const FILTER_RUNS: u32 = 15;
    /// Connections creating users at once.
    const POST_CONNECTIONS: usize = 8;

    /// The `i`th benchmark user: enterprise extension, one of [`TITLES`] titles, an email, a
    /// family name that does not follow the id order.
    pub(super) fn user(i: usize) -> Result<User, String> {
        let mut u = User::new(format!("user{i:07}@example.com"));
        u.external_id = Some(format!("ext-{i:07}"));
        u.display_name = Some(format!("Bench User {i}"));
        u.title = Some(format!("Title {}", i % TITLES));
        u.active = Some(true);
        u.emails = vec![scim_core::resource::MultiValue {
            value: Some(format!("user{i:07}@example.com")),
            kind: Some("work".to_owned()),
            primary: Some(true),
            ..Default::default()
        }];
        // A family name that does not follow creation order, so sorting by it sorts.
        let family = (i.wrapping_mul(2_654_435_761)) % 1_000_003;
        u.name = Some(scim_core::resource::Name {
            given_name: Some("Bench".to_owned()),
            family_name: Some(format!("Family {family:07}")),
            ..Default::default()
        });
        let ext = EnterpriseUser {
            employee_number: Some(format!("{i}")),
            department: Some(format!("Department {}", i % 25)),
            ..Default::default()
        };
        u.set_enterprise(&ext).map_err(|e| e.to_string())?;
        Ok(u)
    }

    /// Loads `n` users (numbered from `from`) in batches of one transaction; returns their ids.
    pub(super) async fn load_users(
        p: &SqlProvisioner,
        n: usize,
        from: usize,
    ) -> Result<Vec<String>, String> {
        let ctx = RequestContext::new(TENANT);
        let mut start = from;
        while start < from + n {
            let end = (start + LOAD_BATCH).min(from + n);
            let users = (start..end).map(user).collect::<Result<Vec<_>, _>>()?;
            p.create_users_bulk(&ctx, users)
                .await
                .map_err(|e| format!("loading users: {e}"))?;
            start = end;
        }
        // Read the ids back a page at a time (the bulk insert does not return them).
        let mut ids = Vec::with_capacity(n);
        let mut offset = 0;
        loop {
            let page = p
                .scan_users(&ctx, offset, 1_000)
                .await
                .map_err(|e| format!("reading ids: {e}"))?;
            let len = page.len();
            ids.extend(page.into_iter().filter_map(|u| u.id));
            offset += len;
            if len < 1_000 {
                break;
            }
        }
        Ok(ids)
    }

    /// `s` percent-encoded for a query string.
    fn encode(s: &str) -> String {
        let mut out = String::with_capacity(s.len() * 3);
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
        out
    }

    /// The median latency of `FILTER_RUNS` sequential `GET /scim/v2/Users?query`, sent from the
    /// load generator's thread, and the server's CPU time per request (the process's minus that
    /// thread's; unlike the latency it does not depend on how much of the machine other
    /// processes take), both in milliseconds.
    async fn latency(addr: SocketAddr, query: &str) -> Result<(f64, f64), String> {
        let query = query.to_owned();
        super::load_runtime()?
            .spawn(async move { latency_here(addr, &query).await })
            .await
            .map_err(|e| format!("the load generator failed: {e}"))?
    }

    async fn latency_here(addr: SocketAddr, query: &str) -> Result<(f64, f64), String> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let request = format!(
            "GET /scim/v2/Users?{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        );
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut times = Vec::with_capacity(FILTER_RUNS as usize);
        let cpu_before = super::process_cpu_time();
        let load_before = super::thread_cpu_time(super::LOAD_THREAD);
        for _ in 0..FILTER_RUNS {
            let sent = Instant::now();
            tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            let status = read_response(&mut stream, &mut buf).await?;
            times.push(sent.elapsed().as_secs_f64() * 1e3);
            if status != 200 {
                let body = String::from_utf8_lossy(&buf);
                return Err(format!("{query} answered {status}: {body}"));
            }
        }
        let spent = |now: Option<std::time::Duration>, before: Option<std::time::Duration>| {
            now.zip(before)
                .map(|(after, before)| after.saturating_sub(before))
        };
        let server = spent(super::process_cpu_time(), cpu_before)
            .zip(spent(
                super::thread_cpu_time(super::LOAD_THREAD),
                load_before,
            ))
            .map_or(f64::NAN, |(all, load)| {
                all.saturating_sub(load).as_secs_f64() * 1e3 / f64::from(FILTER_RUNS)
            });
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
        Ok((median, server))
    }

    /// This process's resident memory, the part of it that is anonymous (heap and stacks, not
    /// pages of files the readers map) and the peak resident memory, in MiB (Linux).
    fn rss_mib() -> (f64, f64, f64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("RssAnon:"), field("VmHWM:"))
    }

    /// One size's figures.
    struct Row {
        users: usize,
        load_s: f64,
        get: Outcome,
        post: Outcome,
        /// GET by id once every user is in a group.
        get_member: Outcome,
        /// Median latency and CPU time per request, in milliseconds.
        filters: Vec<(f64, f64)>,
        rss: (f64, f64, f64),
    }

    /// The groups the users are spread over before the second GET phase.
    const GROUPS: usize = 40;

    /// Puts each of `ids` in one of [`GROUPS`] groups.
    async fn add_to_groups(p: &SqlProvisioner, ids: &[String]) -> Result<(), String> {
        let ctx = RequestContext::new(TENANT);
        for k in 0..GROUPS {
            let mut group = Group::new(format!("Group {k}"));
            group.members = ids
                .iter()
                .skip(k)
                .step_by(GROUPS)
                .map(Member::new)
                .collect();
            p.create_group(&ctx, group)
                .await
                .map_err(|e| format!("creating group {k}: {e}"))?;
        }
        Ok(())
    }

    /// The filters timed, by name: built from the size (`n` users).
    fn filters(n: usize) -> Vec<(&'static str, String)> {
        let mid = n / 2;
        vec![
            (
                "userName eq",
                format!(
                    "filter={}",
                    encode(&format!(r#"userName eq "USER{mid:07}@example.com""#))
                ),
            ),
            (
                "title eq",
                format!("filter={}&count=100", encode(r#"title eq "Title 7""#)),
            ),
            (
                "employeeNumber eq",
                format!(
                    "filter={}",
                    encode(&format!(
                        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "{mid}""#
                    ))
                ),
            ),
            (
                "emails co",
                format!(
                    "filter={}&count=100",
                    encode(&format!(r#"emails co "user{:06}""#, mid / 10))
                ),
            ),
            (
                "emails.value eq",
                format!(
                    "filter={}",
                    encode(&format!(r#"emails.value eq "user{mid:07}@example.com""#))
                ),
            ),
            (
                "sort familyName, page 11",
                "sortBy=name.familyName&startIndex=501&count=50".to_owned(),
            ),
        ]
    }

    async fn measure(options: &Options, n: usize) -> Result<Row, String> {
        let dir = std::env::temp_dir().join(format!("http-bench-scale-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
        let file = dir.join("scale.db");
        let url = format!("sqlite://{}", file.display());
        let row = async {
            let p = SqlProvisioner::connect_with(super::sql_options(options, &url))
                .await
                .map_err(|e| format!("cannot open {url}: {e}"))?;
            let started = Instant::now();
            let ids = Arc::new(load_users(&p, n, 0).await?);
            let load_s = started.elapsed().as_secs_f64();
            let p = Arc::new(p);
            let scim = service(Arc::clone(&p) as Arc<dyn Provisioner>);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| format!("cannot listen on loopback: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let router = Router::new().fallback_service(scim.into_service());
            // Stopped at the end of this size, so that the next size's memory figure does not
            // include this one's server (its pools and page caches).
            let server = tokio::spawn(async move { axum::serve(listener, router).await });
            let get = load(
                addr,
                options.connections,
                options.duration,
                get_by_id(addr, Arc::clone(&ids)),
            )
            .await?;
            // Then every user in one of GROUPS groups, as in a directory: a GET also reads the
            // user's groups (a join that the users without groups above skip).
            add_to_groups(&p, &ids).await?;
            let get_member = load(
                addr,
                options.connections,
                options.duration,
                get_by_id(addr, ids),
            )
            .await?;
            let posts: Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync> =
                Arc::new(move |c, i| {
                    let body = format!(
                        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"post-{c}-{i}@example.com","title":"Posted","emails":[{{"value":"post-{c}-{i}@example.com","type":"work"}}],"active":true}}"#
                    );
                    format!(
                        "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes()
                });
            let post = load(addr, POST_CONNECTIONS, options.duration, posts).await?;
            let mut times = Vec::new();
            for (_, query) in filters(n) {
                times.push(latency(addr, &query).await?);
            }
            let rss = rss_mib();
            server.abort();
            Ok::<_, String>(Row {
                users: n,
                load_s,
                get,
                get_member,
                post,
                filters: times,
                rss,
            })
        }
        .await;
        // The server task keeps its pool; the file goes with the directory.
        let _ = std::fs::remove_dir_all(&dir);
        row
    }

    pub(super) async fn run(options: &Options) -> Result<bool, String> {
        let n_first = options.scale.first().copied().unwrap_or(1_000);
        println!(
            "http-bench --scale: SQLite files of {:?} users; {} connections, {:.1} s per phase",
            options.scale,
            options.connections,
            options.duration.as_secs_f64()
        );
        // The references of the same run: the in-memory store and the trivial handler.
        let backend = Arc::new(InMemoryProvisioner::new());
        let ctx = RequestContext::new(TENANT);
        let mut ids = Vec::with_capacity(n_first);
        for i in 0..n_first {
            let created = backend
                .create_user(&ctx, user(i)?)
                .await
                .map_err(|e| e.to_string())?;
            ids.extend(created.id);
        }
        let memory = service(backend);
        // The issue's control: one user's SCIM GET response served as fixed bytes.
        let sample = super::scim_handle_get(&ids, &memory).await?;
        let static_user = move || {
            let sample = sample.clone();
            async move { sample }
        };
        let mem_addr = spawn_server(Router::new().fallback_service(memory.into_service())).await?;
        let trivial_addr = spawn_server(
            Router::new()
                .route("/trivial", axum::routing::get(super::trivial))
                .route("/static-user", axum::routing::get(static_user)),
        )
        .await?;
        let mem = load(
            mem_addr,
            options.connections,
            options.duration,
            get_by_id(mem_addr, Arc::new(ids)),
        )
        .await?;
        super::report("memory", &mem);
        let static_request = format!(
            "GET /static-user HTTP/1.1\r\nHost: {trivial_addr}\r\nAccept: application/scim+json\r\n\r\n"
        )
        .into_bytes();
        let fixed = load(
            trivial_addr,
            options.connections,
            options.duration,
            Arc::new(move |_, _| static_request.clone()),
        )
        .await?;
        super::report("static", &fixed);
        let trivial_request = format!(
            "GET /trivial HTTP/1.1\r\nHost: {trivial_addr}\r\nAccept: application/json\r\n\r\n"
        )
        .into_bytes();
        let trivial = load(
            trivial_addr,
            options.connections,
            options.duration,
            Arc::new(move |_, _| trivial_request.clone()),
        )
        .await?;
        super::report("trivial", &trivial);
        super::print_server_ratios("memory", &mem, &trivial, &fixed);
        let mut rows = Vec::new();
        for &n in &options.scale {
            let row = measure(options, n).await?;
            super::report(&format!("get {n}"), &row.get);
            super::report(&format!("get member {n}"), &row.get_member);
            super::report(&format!("post {n}"), &row.post);
            rows.push(row);
        }
        let names: Vec<&str> = filters(1).into_iter().map(|(name, _)| name).collect();
        println!();
        print!(
            "| users | load s | GET req/s | GET CPU/req | GET member req/s | GET member CPU/req | POST creates/s | POST CPU/req |"
        );
        for name in &names {
            print!(" {name} ms (server CPU ms) |");
        }
        println!(" RSS (anonymous) / peak MiB |");
        print!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for _ in &names {
            print!("---:|");
        }
        println!("---:|");
        // The process's CPU per request, then the server's alone.
        let cpu = |o: &Outcome| {
            let us = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |us| format!("{us:.0}"));
            format!(
                "{} µs ({})",
                us(o.cpu_us_per_request()),
                us(o.server_us_per_request())
            )
        };
        for r in &rows {
            print!(
                "| {} | {:.1} | {:.0} | {} | {:.0} | {} | {:.0} | {} |",
                r.users,
                r.load_s,
                r.get.per_second(),
                cpu(&r.get),
                r.get_member.per_second(),
                cpu(&r.get_member),
                r.post.per_second(),
                cpu(&r.post)
            );
            for (t, cpu) in &r.filters {
                print!(" {t:.2} ({cpu:.2}) |");
            }
            println!(" {:.0} ({:.0}) / {:.0} |", r.rss.0, r.rss.1, r.rss.2);
        }
        println!(
            "| memory, {n_first} users | | {:.0} | {} | | | | | (static user: {:.0} req/s, {}; trivial handler: {:.0} req/s, {}) |",
            mem.per_second(),
            cpu(&mem),
            fixed.per_second(),
            cpu(&fixed),
            trivial.per_second(),
            cpu(&trivial)
        );
        if let Some(last) = rows.last() {
            let by_server_cpu = last
                .get
                .server_us_per_request()
                .zip(mem.server_us_per_request())
                .map_or(f64::NAN, |(sql, mem)| mem / sql * 100.0);
            println!(
                "ratio    SQLite ({} users) / memory GET: throughput {:.1}%, by server CPU {by_server_cpu:.1}% (target >= 60%)",
                last.users,
                last.get.per_second() / mem.per_second() * 100.0,
            );
        }
        super::print_server_ratios("memory", &mem, &trivial, &fixed);
        Ok(rows
            .iter()
            .flat_map(|r| [&r.get, &r.get_member, &r.post])
            .chain([&mem, &trivial, &fixed])
            .all(|o| o.errors == 0 && o.requests > 0))
    }
}
