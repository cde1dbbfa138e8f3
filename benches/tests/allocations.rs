//! How many heap allocations a plain `GET /Users/{id}` makes through the tower service: from
//! the in-memory store, once its body is kept for reuse, and from scim-sql's SQLite file, read
//! by a direct reader on the calling thread. An IdP reads users far more than it writes them,
//! and on a fast server each allocation is a visible share of the request: these budgets keep
//! one from creeping back in unnoticed.
//!
//! A counting global allocator needs `unsafe` (the `GlobalAlloc` trait is unsafe to
//! implement); it only forwards to the system allocator and counts on the calling thread, so
//! the other tests of this binary and sqlx's connection threads cannot disturb the count.

#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use http::{Request, StatusCode};
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{BearerTokens, Group, Member, ScimService, User};
use scim_sql::SqlProvisioner;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract; the
// counting touches only `const`-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as `GlobalAlloc::alloc`'s caller promised.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as `GlobalAlloc::alloc_zeroed`'s caller promised.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as `GlobalAlloc::realloc`'s caller promised.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as `GlobalAlloc::dealloc`'s caller promised.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn count() {
    // `try_with`: a thread being torn down has no locals left; its allocations are not ours.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

/// What `f` allocates on this thread.
fn allocations_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (out, ALLOCATIONS.with(Cell::get))
}

/// Polls `f` to completion on this thread, which must take one poll: neither the in-memory
/// store nor a direct read waits. (Had the GET gone to sqlx's pool instead, the count would
/// have missed the pool thread's work.)
fn block_on<F: Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    let mut polls = 0usize;
    loop {
        polls += 1;
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            assert_eq!(polls, 1, "the GET waited: it did not take the direct path");
            return v;
        }
    }
}

fn get(id: &str, request_id: Option<&'static str>) -> Request<String> {
    let mut request = Request::get(format!("/scim/v2/Users/{id}"))
        .header("Host", "scim.example.com")
        .header("Authorization", "Bearer s3cr3t")
        .header("Accept", "application/scim+json");
    if let Some(r) = request_id {
        // Bytes shared as hyper shares a header's with its read buffer (here static): echoing
        // the value copies nothing.
        request = request.header("X-Request-Id", http::HeaderValue::from_static(r));
    }
    request.body(String::new()).unwrap()
}

const REQUEST_ID: &str = "3f1c4b52-8c1e-4d0a-9a57-0c6de1f2a9b3";

#[test]
fn a_repeated_get_by_id_stays_within_its_allocation_budget() {
    let scim = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
        .authenticator(Arc::new(BearerTokens::new().with_token("s3cr3t", "acme")))
        .build()
        .into_service();
    let create = Request::post("/scim/v2/Users")
        .header("Host", "scim.example.com")
        .header("Authorization", "Bearer s3cr3t")
        .header("Content-Type", "application/scim+json")
        .body(
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com",
                "name":{"givenName":"Barbara","familyName":"Jensen"},
                "emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}"#
                .to_owned(),
        )
        .unwrap();
    let created = block_on(scim.serve(create));
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: serde_json::Value = serde_json::from_slice(created.body().as_bytes()).unwrap();
    let id = body["id"].as_str().unwrap().to_owned();

    // The first GET writes the body and keeps it.
    let first = block_on(scim.serve(get(&id, None)));
    assert_eq!(first.status(), StatusCode::OK);

    // Each allocation that remains, and why it is needed:
    // - the response's header map: its index table and its entries (2);
    // - the futures of the authenticator and of the provisioner, boxed by `async_trait` (2);
    // - the base URL, made from the request's `Host` (1);
    // - a request id's header value, when the request brought none (1).
    let request = get(&id, None);
    let (again, made) = allocations_of(|| block_on(scim.serve(request)));
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.body().as_bytes(), first.body().as_bytes());
    assert_eq!(again.headers()["ETag"], first.headers()["ETag"]);
    assert!(
        made <= 6,
        "a repeated GET allocated {made} times; the budget is 6"
    );

    // An id sent by the client is echoed as it came, with no copy.
    let request = get(&id, Some(REQUEST_ID));
    let (echoed, made) = allocations_of(|| block_on(scim.serve(request)));
    assert_eq!(
        echoed.headers()["X-Request-Id"],
        "3f1c4b52-8c1e-4d0a-9a57-0c6de1f2a9b3"
    );
    assert_eq!(echoed.body().as_bytes(), first.body().as_bytes());
    assert!(
        made <= 5,
        "a GET with an X-Request-Id allocated {made} times; the budget is 5"
    );
}

#[tokio::test]
async fn a_get_by_id_on_a_file_stays_within_its_allocation_budget() {
    let url = temp_sqlite_url();
    let store = Arc::new(SqlProvisioner::connect(&url).await.unwrap());
    let ctx = RequestContext::new("acme");
    let user: User = serde_json::from_str(
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com",
            "name":{"givenName":"Barbara","familyName":"Jensen"},
            "emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}"#,
    )
    .unwrap();
    let id = store.create_user(&ctx, user).await.unwrap().id.unwrap();
    let mut group = Group::new("Tour Guides");
    group.members = vec![Member::new(id.clone())];
    store.create_group(&ctx, group).await.unwrap();
    let loner = store
        .create_user(&ctx, User::new("loner"))
        .await
        .unwrap()
        .id
        .unwrap();
    let scim = ScimService::builder(store)
        .authenticator(Arc::new(BearerTokens::new().with_token("s3cr3t", "acme")))
        .build()
        .into_service();

    // The first GET opens the reader and prepares its statement.
    let first = block_on(scim.serve(get(&id, Some(REQUEST_ID))));
    assert_eq!(first.status(), StatusCode::OK);

    let request = get(&id, Some(REQUEST_ID));
    let (again, made) = allocations_of(|| block_on(scim.serve(request)));
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.body().as_bytes(), first.body().as_bytes());
    assert!(
        made <= 24,
        "a GET in a group allocated {made} times; the budget is 24"
    );

    let request = get(&loner, Some(REQUEST_ID));
    let (alone, made) = allocations_of(|| block_on(scim.serve(request)));
    assert_eq!(alone.status(), StatusCode::OK);
    assert!(
        made <= 17,
        "a GET in no group allocated {made} times; the budget is 17"
    );
}

/// A SQLite URL for a new file in the system's temporary directory.
fn temp_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("scim-allocations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let _ = std::fs::remove_file(&path);
    format!("sqlite://{}", path.display())
}
