//! `ScimService::handle` over the in-memory reference provisioner: the cost of one request as an
//! identity provider makes it, routing, authentication, decoding, the provisioner call and the
//! response included (no network).
//!
//! The directory holds 10,000 users (`user00000`..`user09999`, each with a work email) and one
//! group of 100 members. Cases:
//! - `get_user`: `GET /Users/{id}`.
//! - `lookup_user_name`: `GET /Users?filter=userName eq "user05000"`, the lookup Entra ID and
//!   Okta make before every create (served by the provisioner's `userName` index).
//! - `filter_scan`: `GET /Users?filter=emails[value ew "05000@example.com"]`, a filter no index
//!   serves: all 10,000 users are evaluated.
//! - `patch_user`: a 2-operation PATCH (`displayName`, `active`) on one user.
//! - `create_user`: `POST /Users` alone, a distinct `userName` each time; the created users are
//!   deleted outside the timed part (in batches), so the directory stays at 10,000 users.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_main};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{BearerTokens, Group, Member, ScimService};

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
        Err(e) => panic!("bad bench request {uri}: {e}"),
    }
}

fn service_benches(c: &mut Criterion) {
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
    let cleanup = Arc::clone(&backend);
    let service = ScimService::builder(backend)
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, "bench")))
        .build();
    let some_id = ids.get(5000).cloned().unwrap_or_default();
    let run = |req: http::Request<Vec<u8>>, want: u16| {
        let response = block_on(service.handle(req));
        assert_eq!(
            response.status().as_u16(),
            want,
            "{:?}",
            String::from_utf8_lossy(response.body())
        );
        black_box(response)
    };

    let mut g = c.benchmark_group("service");
    g.bench_function("get_user", |b| {
        b.iter(|| {
            run(
                request("GET", &format!("/scim/v2/Users/{some_id}"), ""),
                200,
            )
        });
    });
    g.bench_function("lookup_user_name", |b| {
        b.iter(|| {
            run(
                request(
                    "GET",
                    "/scim/v2/Users?filter=userName%20eq%20%22user05000%22",
                    "",
                ),
                200,
            )
        });
    });
    g.bench_function("filter_scan", |b| {
        b.iter(|| {
            run(
                request(
                    "GET",
                    "/scim/v2/Users?filter=emails%5Bvalue%20ew%20%2205000@example.com%22%5D",
                    "",
                ),
                200,
            )
        });
    });
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Bench"},{"op":"Replace","path":"active","value":"True"}]}"#;
    g.bench_function("patch_user", |b| {
        b.iter(|| {
            run(
                request("PATCH", &format!("/scim/v2/Users/{some_id}"), patch),
                200,
            )
        });
    });
    // Each iteration creates `new.userN@example.com`; the setup (untimed) first deletes the user
    // the previous iteration created, so the directory stays at 10,000 (+1) users.
    let mut serial: u64 = 0;
    let remove_created = |serial: u64| {
        let filter = format!(r#"userName eq "new.user{serial}@example.com""#);
        block_on(async {
            let query = scim_core::provision::ListQuery::new().with_filter(match filter.parse() {
                Ok(f) => f,
                Err(e) => panic!("bad filter {filter}: {e}"),
            });
            let page = match cleanup.search_users(&ctx, &query).await {
                Ok(p) => p,
                Err(e) => panic!("looking up a created user: {e}"),
            };
            for user in page.resources {
                let id = user.id.unwrap_or_default();
                if let Err(e) = cleanup.delete_user(&ctx, &id, None).await {
                    panic!("deleting a created user: {e}");
                }
            }
        });
    };
    g.bench_function("create_user", |b| {
        b.iter_batched(
            || {
                remove_created(serial);
                serial += 1;
                let name = format!("new.user{serial}@example.com");
                format!(
                    r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}","active":true,"emails":[{{"value":"{name}","type":"work","primary":true}}]}}"#
                )
            },
            |body| run(request("POST", "/scim/v2/Users", &body), 201),
            BatchSize::PerIteration,
        );
    });
    remove_created(serial);
    g.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    service_benches(&mut c);
}

criterion_main!(benches);
