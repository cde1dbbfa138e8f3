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

use std::sync::Arc;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{BearerTokens, Group, Member, MultiValue, ScimService, User};

const TOKEN: &str = "bench-token";

fn request(method: &str, uri: &str, body: &str) -> http::Request<Vec<u8>> {
    let built = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "scim.example.com")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/scim+json")
        .body(body.as_bytes().to_vec());
    match built {
        Ok(r) => r,
        Err(e) => panic!("bad request {uri}: {e}"),
    }
}

/// The requests of one run, built before counting starts.
fn requests(case: &str, n: usize, some_id: &str) -> Vec<http::Request<Vec<u8>>> {
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
fn measured(service: &ScimService, requests: Vec<http::Request<Vec<u8>>>) -> usize {
    let mut ok = 0;
    for req in requests {
        let response = block_on(service.handle(req));
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
    let backend = Arc::new(InMemoryProvisioner::new());
    let ctx = RequestContext::new("bench");
    let mut ids = Vec::new();
    block_on(async {
        for i in 0..10_000 {
            let mut user = User::new(format!("user{i:05}"));
            user.emails =
                vec![MultiValue::new(format!("user{i:05}@example.com")).with_type("work")];
            match backend.create_user(&ctx, user).await {
                Ok(u) => ids.push(u.id.unwrap_or_default()),
                Err(e) => panic!("seeding: {e}"),
            }
        }
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
    let ok = measured(&service, requests);
    println!("{case}: {ok}/{n} succeeded");
}
