//! The Provisioner conformance suite on both backends, and what is specific to SQL storage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use scim_core::etag::ETag;
use scim_core::provision::{Provisioner, RequestContext, conformance};
use scim_core::{PatchOp, ScimError, User};
use scim_sql::SqlProvisioner;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let p = common::sqlite().await;
    conformance::run_all(&p, "suite").await;
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(p) = common::postgres("postgres_passes_the_conformance_suite").await else {
        return;
    };
    conformance::run_all(&p, &common::unique("suite")).await;
}

/// Concurrent PATCH requests without If-Match lose no update: the conditional UPDATE makes the
/// loser start over.
async fn concurrent_patches(p: Arc<SqlProvisioner>, tenant: String) {
    let ctx = RequestContext::new(&tenant);
    let user = p.create_user(&ctx, User::new("counter")).await.unwrap();
    let id = user.id.clone().unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (p, ctx, id) = (Arc::clone(&p), ctx.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let patch: PatchOp = serde_json::from_value(serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "emails",
                                "value": [{"value": format!("u{i}@example.com")}]}]
            }))
            .unwrap();
            p.patch_user(&ctx, &id, &patch, None).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let user = p.get_user(&ctx, &id).await.unwrap();
    assert_eq!(user.emails.len(), 8, "every concurrent PATCH is kept");
    assert_eq!(
        user.meta.unwrap().version.as_deref(),
        Some(r#"W/"9""#),
        "one version per write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_patches_lose_nothing() {
    concurrent_patches(Arc::new(common::sqlite().await), "c".to_owned()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_patches_lose_nothing() {
    let Some(p) = common::postgres("postgres_concurrent_patches_lose_nothing").await else {
        return;
    };
    concurrent_patches(Arc::new(p), common::unique("concurrent")).await;
}

/// A failed write leaves nothing behind, and the database (not the code) enforces uniqueness.
async fn no_partial_writes(p: &SqlProvisioner, tenant: &str) {
    let ctx = RequestContext::new(tenant);
    let a = p.create_user(&ctx, User::new("alice")).await.unwrap();
    // A bulk import with a duplicate (ignoring case) in the middle writes none of it.
    let err = p
        .create_users_bulk(
            &ctx,
            vec![User::new("bob"), User::new("ALICE"), User::new("carol")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ScimError::Uniqueness { .. }), "{err:?}");
    let all = p
        .search_users(&ctx, &scim_core::provision::ListQuery::new())
        .await
        .unwrap();
    assert_eq!(all.total_results, 1, "the failed import wrote nothing");
    // A stale If-Match changes nothing.
    let stale = ETag::from_version(7);
    let mut renamed = a.clone();
    "alice2".clone_into(&mut renamed.user_name);
    let err = p
        .replace_user(&ctx, a.id.as_deref().unwrap(), renamed, Some(&stale))
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 412);
    let again = p.get_user(&ctx, a.id.as_deref().unwrap()).await.unwrap();
    assert_eq!(again.user_name, "alice");
    // A group with one unknown member is not created, not even partly.
    let mut g = scim_core::Group::new("team");
    g.members = vec![
        scim_core::resource::Member::new(a.id.clone().unwrap()),
        scim_core::resource::Member::new("nobody"),
    ];
    let err = p.create_group(&ctx, g).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 400);
    let groups = p
        .search_groups(&ctx, &scim_core::provision::ListQuery::new())
        .await
        .unwrap();
    assert_eq!(groups.total_results, 0);
    let user = p.get_user(&ctx, a.id.as_deref().unwrap()).await.unwrap();
    assert!(user.groups.is_empty());
}

#[tokio::test]
async fn sqlite_failed_writes_leave_nothing() {
    no_partial_writes(&common::sqlite().await, "t").await;
}

#[tokio::test]
async fn postgres_failed_writes_leave_nothing() {
    let Some(p) = common::postgres("postgres_failed_writes_leave_nothing").await else {
        return;
    };
    no_partial_writes(&p, &common::unique("partial")).await;
}

#[tokio::test]
async fn a_sqlite_file_keeps_data_across_restarts() {
    let dir = std::env::temp_dir().join(common::unique("scim-sql-file"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("scim.db").display());
    let ctx = RequestContext::new("acme");
    let id = {
        let p = SqlProvisioner::connect(&url).await.unwrap();
        let u = p.create_user(&ctx, User::new("bjensen")).await.unwrap();
        p.pool().close().await;
        u.id.unwrap()
    };
    let p = SqlProvisioner::connect(&url).await.unwrap();
    assert_eq!(p.get_user(&ctx, &id).await.unwrap().user_name, "bjensen");
    p.pool().close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// On a file, `GET` by id reads on the calling thread (read-only connections beside sqlx's):
/// the suite passes that way too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_passes_the_conformance_suite() {
    let url = common::temp_sqlite_url("suite");
    let p = SqlProvisioner::connect(&url).await.unwrap();
    conformance::run_all(&p, "suite").await;
}

/// Each `GET` on a file sees every write committed before it, from the writer connection: new
/// versions, memberships, and a deletion, with no stale read in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_get_sees_each_committed_write() {
    let p = SqlProvisioner::connect(&common::temp_sqlite_url("fresh"))
        .await
        .unwrap();
    let ctx = RequestContext::new("acme");
    let user = p.create_user(&ctx, User::new("bjensen")).await.unwrap();
    let id = user.id.clone().unwrap();
    for n in 2..=20_u64 {
        let mut next = p.get_user(&ctx, &id).await.unwrap();
        next.display_name = Some(format!("round {n}"));
        p.replace_user(&ctx, &id, next, None).await.unwrap();
        let read = p.get_user(&ctx, &id).await.unwrap();
        assert_eq!(
            read.display_name.as_deref(),
            Some(format!("round {n}").as_str())
        );
        assert_eq!(
            read.meta.unwrap().version.as_deref(),
            Some(ETag::from_version(n).to_string().as_str())
        );
    }
    let mut group = scim_core::Group::new("team");
    group.members = vec![scim_core::resource::Member::new(id.clone())];
    let group = p.create_group(&ctx, group).await.unwrap();
    let gid = group.id.clone().unwrap();
    let read = p.get_user(&ctx, &id).await.unwrap();
    assert_eq!(read.groups.len(), 1);
    assert_eq!(read.groups[0].value.as_deref(), Some(gid.as_str()));
    assert_eq!(p.get_group(&ctx, &gid).await.unwrap().members.len(), 1);
    // Another tenant sees none of it.
    let other = RequestContext::new("other");
    assert_eq!(
        p.get_user(&other, &id).await.unwrap_err().status().as_u16(),
        404
    );
    assert_eq!(
        p.get_group(&other, &gid)
            .await
            .unwrap_err()
            .status()
            .as_u16(),
        404
    );
    p.delete_user(&ctx, &id, None).await.unwrap();
    assert_eq!(
        p.get_user(&ctx, &id).await.unwrap_err().status().as_u16(),
        404
    );
    assert!(p.get_group(&ctx, &gid).await.unwrap().members.is_empty());
}

/// Under a steady stream of creates from 8 tasks, the write-ahead log of a SQLite file stays
/// bounded: the checkpoint thread copies it back, and the writer's own checkpoint at 16,384
/// pages (64 MiB) copies the tail and starts the log over. The thread's passive checkpoints
/// alone never start it over: they never catch up with the last commit, and only a write that
/// begins with every frame copied does. The test checks that the log did start over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_wal_stays_small_under_creates() {
    const CREATES_PER_TASK: usize = 1_000;
    let url = common::temp_sqlite_url("wal");
    let p = Arc::new(SqlProvisioner::connect(&url).await.unwrap());
    let wal = format!("{}-wal", url.trim_start_matches("sqlite://"));
    // A quiet spell first, so the checkpoint thread holds its read transaction when the writes
    // start: it must let go of it for the log to start over.
    p.create_user(&RequestContext::new("acme"), User::new("first"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let restarts_before = wal_restarts(&wal);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (p, wal) = (Arc::clone(&p), wal.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = RequestContext::new("acme");
            let mut largest = 0;
            for i in 0..CREATES_PER_TASK {
                p.create_user(&ctx, User::new(format!("u{t}-{i}")))
                    .await
                    .unwrap();
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            }
            largest
        }));
    }
    let mut largest = 0;
    for task in tasks {
        largest = largest.max(task.await.unwrap());
    }
    let restarts = wal_restarts(&wal) - restarts_before;
    eprintln!("largest WAL: {largest} bytes; the log started over {restarts} times");
    assert!(largest > 0, "the log was written");
    assert!(
        restarts >= 1,
        "the log never started over: the bound was not tested"
    );
    assert!(
        largest < 80 * 1024 * 1024,
        "the log grew to {largest} bytes, well past the writer's checkpoint at 64 MiB"
    );
}

/// How many times the log at `wal` has started over: the checkpoint sequence number of its
/// header (bytes 12 to 16, big-endian), which SQLite increments at each restart.
fn wal_restarts(wal: &str) -> u32 {
    use std::io::Read;
    let mut header = [0u8; 16];
    match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
        Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
        Err(_) => 0,
    }
}

/// The checkpoint thread runs for every SQLite file, also without read connections: the
/// writer's own checkpoint waits for 64 MiB of log, so rows reach the database file itself
/// (not only the `-wal` file) within moments only through that thread.
#[tokio::test]
async fn sqlite_files_are_checkpointed_with_and_without_read_connections() {
    for readers in [4, 0] {
        let url = common::temp_sqlite_url("checkpointed");
        let p = SqlProvisioner::connect_with(
            scim_sql::SqlOptions::new(url.clone()).read_connections(readers),
        )
        .await
        .unwrap();
        let file = url.trim_start_matches("sqlite://").to_owned();
        let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
        let before = size();
        let ctx = RequestContext::new("acme");
        for i in 0..200 {
            p.create_user(&ctx, User::new(format!("user{i}")))
                .await
                .unwrap();
        }
        let mut waited = 0;
        while size() <= before && waited < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            waited += 1;
        }
        assert!(
            size() > before,
            "{readers} read connections: the database file stayed at {before} bytes"
        );
        p.pool().close().await;
    }
}
