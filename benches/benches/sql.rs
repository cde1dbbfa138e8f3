//! scim-sql: a filtered list over 100,000 users on SQLite with index-friendly filters (target:
//! under 2 ms), one user by id (decoded, and as the stored text a GET serves), the same list
//! through the in-memory fallback (scan + `Filter::matches_with`), and
//! create / PATCH on SQLite and, when `SCIM_SQL_POSTGRES_URL` is set, on PostgreSQL.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::provision::{
    FetchedUser, ListQuery, Provisioner, RequestContext, search_users_by_scan,
};
use scim_core::{PatchOp, User};
use scim_sql::{SqlOptions, SqlProvisioner};
use tokio::runtime::Runtime;

const USERS: usize = 100_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn user(i: usize) -> User {
    let mut u = User::new(format!("user{i:06}@example.com"));
    u.external_id = Some(format!("ext-{i:06}"));
    u.display_name = Some(format!("User {i}"));
    u.title = Some(if i % 2 == 0 { "Engineer" } else { "Manager" }.to_owned());
    u.active = Some(true);
    u
}

/// A fresh SQLite file holding `USERS` users, inserted in one transaction.
fn sqlite_100k(rt: &Runtime) -> (SqlProvisioner, RequestContext, String) {
    let dir = std::env::temp_dir().join(format!("scim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bench.db");
    let _ = std::fs::remove_file(&file);
    let url = format!("sqlite://{}", file.display());
    let ctx = RequestContext::new("bench");
    let p = rt.block_on(async {
        let p = SqlProvisioner::connect_with(SqlOptions::new(url.clone()))
            .await
            .unwrap();
        p.create_users_bulk(&ctx, (0..USERS).map(user))
            .await
            .unwrap();
        p
    });
    (p, ctx, url)
}

fn list(c: &mut Criterion) {
    let rt = runtime();
    let (p, ctx, url) = sqlite_100k(&rt);
    let mut g = c.benchmark_group("sql/sqlite_100k_users");
    for (name, filter) in [
        ("userName_eq", r#"userName eq "USER054321@example.com""#),
        ("externalId_eq", r#"externalId eq "ext-054321""#),
    ] {
        let query = ListQuery::new().with_filter(filter.parse().unwrap());
        assert!(scim_sql::runs_in_sql(&p, &query, false));
        let page = rt.block_on(p.search_users(&ctx, &query)).unwrap();
        assert_eq!(page.total_results, 1);
        g.bench_function(format!("list_{name}"), |b| {
            b.iter(|| {
                rt.block_on(p.search_users(&ctx, black_box(&query)))
                    .unwrap()
            });
        });
    }
    // One user by id: decoded into a `User` (`get_user`), and as the stored text the service's
    // plain GET serves (`fetch_user`).
    let id = rt
        .block_on(
            p.search_users(
                &ctx,
                &ListQuery::new()
                    .with_filter(r#"userName eq "user054321@example.com""#.parse().unwrap()),
            ),
        )
        .unwrap()
        .resources
        .first()
        .and_then(|u| u.id.clone())
        .unwrap();
    g.bench_function("get_user_decoded", |b| {
        b.iter(|| rt.block_on(p.get_user(&ctx, black_box(&id))).unwrap());
    });
    g.bench_function("fetch_user_stored_text", |b| {
        b.iter(
            || match rt.block_on(p.fetch_user(&ctx, black_box(&id))).unwrap() {
                FetchedUser::Json(user) => user,
                other => panic!("a SQLite file serves its text, not {other:?}"),
            },
        );
    });
    // The same userName lookup through scim-sql's in-memory fallback (pushdown off): every row
    // read a page at a time (keyset paging) and evaluated with `Filter::matches_with`; and
    // through scim-core's default search over `scan_users` (OFFSET paging), what a backend
    // without pushdown gets.
    let query =
        ListQuery::new().with_filter(r#"userName eq "USER054321@example.com""#.parse().unwrap());
    let no_push = rt
        .block_on(SqlProvisioner::connect_with(
            SqlOptions::new(url).push_down(false),
        ))
        .unwrap();
    assert!(!scim_sql::runs_in_sql(&no_push, &query, false));
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("list_userName_eq_in_memory_fallback", |b| {
        b.iter(|| {
            let page = rt
                .block_on(no_push.search_users(&ctx, black_box(&query)))
                .unwrap();
            assert_eq!(page.total_results, 1);
        });
    });
    g.bench_function("list_userName_eq_default_scan_search", |b| {
        b.iter(|| {
            let page = rt
                .block_on(search_users_by_scan(&p, &ctx, black_box(&query)))
                .unwrap();
            assert_eq!(page.total_results, 1);
        });
    });
    g.finish();
}

fn patch_op() -> PatchOp {
    serde_json::from_value(serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]
    }))
    .unwrap()
}

fn writes_on(c: &mut Criterion, name: &str, rt: &Runtime, p: &SqlProvisioner) {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let tenant = format!(
        "bench-writes-{}-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let ctx = RequestContext::new(tenant);
    let mut g = c.benchmark_group(format!("sql/{name}"));
    let next = AtomicU64::new(0);
    g.bench_function("create_user", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            rt.block_on(p.create_user(&ctx, User::new(format!("new{n}"))))
                .unwrap()
        });
    });
    let id = rt
        .block_on(p.create_user(&ctx, User::new("patched")))
        .unwrap()
        .id
        .unwrap();
    let patch = patch_op();
    g.bench_function("patch_user", |b| {
        b.iter(|| {
            rt.block_on(p.patch_user(&ctx, &id, black_box(&patch), None))
                .unwrap()
        });
    });
    g.finish();
}

fn writes(c: &mut Criterion) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("scim-bench-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("writes.db");
    let _ = std::fs::remove_file(&file);
    let sqlite = rt
        .block_on(SqlProvisioner::connect(&format!(
            "sqlite://{}",
            file.display()
        )))
        .unwrap();
    writes_on(c, "sqlite", &rt, &sqlite);
    match std::env::var("SCIM_SQL_POSTGRES_URL") {
        Ok(url) => {
            let pg = rt.block_on(SqlProvisioner::connect(&url)).unwrap();
            writes_on(c, "postgres", &rt, &pg);
        }
        Err(_) => {
            eprintln!("sql/postgres: SKIPPED (set SCIM_SQL_POSTGRES_URL to measure PostgreSQL)");
        }
    }
}

criterion_group!(benches, list, writes);
criterion_main!(benches);
