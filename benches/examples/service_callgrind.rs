//! Runs one case of `benches/service.rs` a given number of times, for instruction counts under
//! `valgrind --tool=callgrind`, which are stable where wall-clock figures on a shared machine are
//! not. Only `measured` is meant to be counted (seeding 10,000 users would dominate):
//!
//! ```text
//! cargo build --release -p scim-benches --example service_callgrind
//! valgrind --tool=callgrind --toggle-collect='*service_callgrind*measured*' \
//!     target/release/examples/service_callgrind get_user 100
//! ```
//!
//! Cases: `get_user`, `filter_scan`, `patch_user`, `create_user`; the directory is the bench's.
//! `sql_get_user`: the `GET` of `get_user` served by scim-sql from a SQLite file of 2,000 users
//! (in the system's temporary directory, removed afterwards), cycling through 100 ids;
//! `sql_get_member`: the same, those 100 users each a member of one of two groups.

use std::sync::Arc;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::tower::TowerService;
use scim_core::{BearerTokens, Group, Member, ScimService};

const TOKEN: &str = "bench-token";

fn request(method: &str, uri: &str, body: &str) -> http::Request<String> {
    let built = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "scim.example.com")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/scim+json")
        .body(body.to_owned());
    match built {
        Ok(r) => r,
        Err(e) => panic!("bad request {uri}: {e}"),
    }
}

/// The requests of one run, built before counting starts.
fn requests(case: &str, n: usize, some_id: &str) -> Vec<http::Request<String>> {
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Bench"},{"op":"Replace","path":"active","value":"True"}]}"#;
    (0..n)
        .map(|i| match case {
            "get_user" => request("GET", &format!("/scim/v2/Users/{some_id}"), ""),
            "filter_scan" => request(
                "GET",
                "/scim/v2/Users?filter=emails%5Bvalue%20ew%20%2205000@example.com%22%5D",
                "",
            ),
            "patch_user" => request("PATCH", &format!("/scim/v2/Users/{some_id}"), patch),
            "create_user" => {
                let name = format!("new.user{i}@example.com");
                let body = format!(
                    r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}","active":true,"emails":[{{"value":"{name}","type":"work","primary":true}}]}}"#
                );
                request("POST", "/scim/v2/Users", &body)
            }
            other => panic!("unknown case {other}"),
        })
        .collect()
}

#[inline(never)]
fn measured(service: &TowerService, requests: Vec<http::Request<String>>) -> usize {
    let mut ok = 0;
    for req in requests {
        let response = block_on(service.serve(req));
        if response.status().is_success() {
            ok += 1;
        }
    }
    ok
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "get_user".to_owned());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    if case == "sql_get_user" || case == "sql_get_member" {
        sql_get_user(n, case == "sql_get_member");
        return;
    }
    let backend = Arc::new(InMemoryProvisioner::new());
    let ctx = RequestContext::new("bench");
    let mut ids = Vec::new();
    block_on(async {
        ids = scim_benches::seed_users(&*backend, &ctx, 10_000).await;
        let mut group = Group::new("crowd");
        group.members = ids.iter().take(100).map(Member::new).collect();
        if let Err(e) = backend.create_group(&ctx, group).await {
            panic!("seeding: {e}");
        }
    });
    let service = ScimService::builder(backend)
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "bench")))
        .build();
    let some_id = ids.get(5000).cloned().unwrap_or_default();
    let requests = requests(&case, n, &some_id);
    let ok = measured(&service.into_service(), requests);
    println!("{case}: {ok}/{n} succeeded");
}

/// `GET /Users/{id}` on scim-sql's SQLite backend, on a current-thread tokio runtime (sqlx's).
fn sql_get_user(n: usize, members: bool) {
    let dir = std::env::temp_dir().join(format!("service-callgrind-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio: {e}"),
    };
    let url = format!("sqlite://{}", dir.join("users.db").display());
    let ctx = RequestContext::new("bench");
    let (backend, ids) = runtime.block_on(async {
        let backend = match scim_sql::SqlProvisioner::connect(&url).await {
            Ok(p) => Arc::new(p),
            Err(e) => panic!("{url}: {e}"),
        };
        let ids = scim_benches::seed_users(&*backend, &ctx, 2_000).await;
        if members {
            for (name, half) in [("crowd", 0), ("jira", 1)] {
                let mut group = Group::new(name);
                group.members = (0..100)
                    .filter(|i| i % 2 == half)
                    .filter_map(|i| ids.get(i * 20))
                    .map(Member::new)
                    .collect();
                if let Err(e) = backend.create_group(&ctx, group).await {
                    panic!("seeding: {e}");
                }
            }
        }
        (backend, ids)
    });
    let service = ScimService::builder(backend)
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "bench")))
        .build();
    let requests: Vec<_> = (0..n)
        .map(|i| {
            let id = ids.get(i % 100 * 20).cloned().unwrap_or_default();
            request("GET", &format!("/scim/v2/Users/{id}"), "")
        })
        .collect();
    let service = service.into_service();
    // Once through the ids first, so that counting starts with SQLite's cache warm.
    let warm: Vec<_> = requests.iter().take(100).map(clone_request).collect();
    runtime.block_on(async {
        for req in warm {
            service.serve(req).await;
        }
    });
    let ok = measured_on(&runtime, &service, requests);
    let case = if members {
        "sql_get_member"
    } else {
        "sql_get_user"
    };
    println!("{case}: {ok}/{n} succeeded");
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
}

fn clone_request(req: &http::Request<String>) -> http::Request<String> {
    let mut copy = http::Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}

#[inline(never)]
fn measured_on(
    runtime: &tokio::runtime::Runtime,
    service: &TowerService,
    requests: Vec<http::Request<String>>,
) -> usize {
    let mut ok = 0;
    for req in requests {
        if runtime.block_on(service.serve(req)).status().is_success() {
            ok += 1;
        }
    }
    ok
}
