//! The run lock and the sync history in the database, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use scim_provisioning::history::{HistoryEntry, HistoryQuery, Operation, SyncHistory, UserMatch};
use scim_sql::{SqlHistory, SqlProvisioner, SqlRunLock};

async fn lease_semantics(p: &SqlProvisioner, tenant: &str) {
    let lock = SqlRunLock::new(p);
    let other = SqlRunLock::new(p);
    let a = lock
        .try_acquire(tenant, "instance-a", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a free tenant is acquired");
    assert_eq!(a.holder, "instance-a");
    assert!(
        other
            .try_acquire(tenant, "instance-b", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "a live lease cannot be taken"
    );
    // Another tenant is independent.
    let elsewhere = format!("{tenant}-other");
    assert!(
        other
            .try_acquire(&elsewhere, "instance-b", Duration::from_secs(60))
            .await
            .unwrap()
            .is_some()
    );
    // The holder renews its own lease.
    let renewed = lock
        .try_acquire(tenant, "instance-a", Duration::from_secs(120))
        .await
        .unwrap()
        .expect("the holder renews");
    assert!(renewed.expires_at > a.expires_at);
    // Releasing someone else's lease does nothing; the holder's release frees the tenant.
    other.release(tenant, "instance-b").await.unwrap();
    assert!(
        other
            .try_acquire(tenant, "instance-b", Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    lock.release(tenant, "instance-a").await.unwrap();
    assert!(
        other
            .try_acquire(tenant, "instance-b", Duration::from_millis(1))
            .await
            .unwrap()
            .is_some()
    );
    // An expired lease is taken over.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = lock
        .try_acquire(tenant, "instance-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        taken.map(|l| l.holder).as_deref(),
        Some("instance-a"),
        "an expired lease is taken over"
    );
}

#[tokio::test]
async fn sqlite_run_lock_leases() {
    lease_semantics(&common::sqlite().await, "t").await;
}

#[tokio::test]
async fn postgres_run_lock_leases() {
    let Some(p) = common::postgres("postgres_run_lock_leases").await else {
        return;
    };
    lease_semantics(&p, &common::unique("lock")).await;
}

/// Two instances racing for one tenant: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_winner_among_racing_instances() {
    let Some(p) = common::postgres("postgres_one_winner_among_racing_instances").await else {
        return;
    };
    let tenant = common::unique("race");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let lock = SqlRunLock::new(&p);
        let tenant = tenant.clone();
        tasks.push(tokio::spawn(async move {
            lock.try_acquire(&tenant, &format!("i{i}"), Duration::from_secs(60))
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn history_round_trip(p: &SqlProvisioner, tenant: &str) {
    let h = SqlHistory::new(p);
    let other = format!("{tenant}-b");
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    for n in 0..5_i64 {
        let at = t0 + chrono::Duration::seconds(n);
        h.record(
            HistoryEntry::new(tenant, format!("req-{n}"), Operation::new("POST", "User")).at(at),
        )
        .await
        .unwrap();
    }
    h.record(HistoryEntry::new(&other, "req-x", Operation::new("DELETE", "User")).at(t0))
        .await
        .unwrap();
    let listed = h
        .list(&HistoryQuery::new().tenant(tenant).limit(3))
        .await
        .unwrap();
    let ids: Vec<_> = listed.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-4", "req-3", "req-2"], "newest first, limited");
    let since = h
        .list(
            &HistoryQuery::new()
                .tenant(tenant)
                .since(t0 + chrono::Duration::seconds(3)),
        )
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    let b = h.list(&HistoryQuery::new().tenant(&other)).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].operation, Operation::new("DELETE", "User"));
}

#[tokio::test]
async fn sqlite_history_lists_newest_first() {
    history_round_trip(&common::sqlite().await, "t").await;
}

#[tokio::test]
async fn postgres_history_lists_newest_first() {
    let Some(p) = common::postgres("postgres_history_lists_newest_first").await else {
        return;
    };
    history_round_trip(&p, &common::unique("history")).await;
}

/// One entry about `needle` (by name and id), then 5,500 newer ones about other users and a
/// sync run: the user search finds it past the newest 5,000, by exact name, id or part of
/// either, ignoring case, and pages with offset and limit.
async fn history_search(h: &SqlHistory, tenant: &str) {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let op = Operation::new("PATCH", "User")
        .id("JIRAUSER10042")
        .name("Needle_50%@Example.com");
    h.record(HistoryEntry::new(tenant, "req-needle", op).at(t0))
        .await
        .unwrap();
    for n in 1..=5_500_i64 {
        let op = Operation::new("POST", "User")
            .id(format!("JIRAUSER2{n:04}"))
            .name(format!("user{n}@example.com"));
        h.record(
            HistoryEntry::new(tenant, format!("req-{n}"), op)
                .at(t0 + chrono::Duration::milliseconds(n)),
        )
        .await
        .unwrap();
    }
    let run = Operation::new("SYNC", "Directory");
    h.record(HistoryEntry::new(tenant, "req-run", run).at(t0 + chrono::Duration::hours(1)))
        .await
        .unwrap();
    let q = || HistoryQuery::new().tenant(tenant);
    let newest = h.list(&q().limit(5_000)).await.unwrap();
    assert_eq!(newest.len(), 5_000);
    assert!(newest.iter().all(|e| e.request_id != "req-needle"));
    for user in [
        UserMatch::exact("needle_50%@example.com"),
        UserMatch::exact("jirauser10042"),
        UserMatch::contains("NEEDLE_50%"),
        UserMatch::contains("user10042"),
    ] {
        let found = h.list(&q().user(user.clone())).await.unwrap();
        let ids: Vec<_> = found.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["req-needle"], "{user:?}");
    }
    // `%` and `_` are the user's characters, not wildcards.
    let none = h.list(&q().user(UserMatch::contains("needle%50"))).await;
    assert!(none.unwrap().is_empty());
    assert!(
        h.list(&q().user(UserMatch::exact("needle")))
            .await
            .unwrap()
            .is_empty(),
        "exact is the whole name"
    );
    // Pages: user12 matches user12 and user120..user129 and user1200..user1299 (111).
    let page = |offset| q().user(UserMatch::contains("user12@")).offset(offset);
    assert_eq!(h.list(&page(0)).await.unwrap().len(), 1);
    let all = h
        .list(&q().user(UserMatch::contains("user12")).limit(200))
        .await
        .unwrap();
    assert_eq!(all.len(), 111);
    let second = h
        .list(
            &q().user(UserMatch::contains("user12"))
                .offset(100)
                .limit(100),
        )
        .await
        .unwrap();
    let tail: Vec<_> = all.iter().skip(100).map(|e| &e.request_id).collect();
    assert_eq!(
        second.iter().map(|e| &e.request_id).collect::<Vec<_>>(),
        tail
    );
    let runs = h.list(&q().method("SYNC")).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].request_id, "req-run");
}

#[tokio::test]
async fn sqlite_history_finds_old_entries_by_user() {
    let p = common::sqlite().await;
    history_search(&SqlHistory::new(&p), "t").await;
}

#[tokio::test]
async fn postgres_history_finds_old_entries_by_user() {
    let Some(p) = common::postgres("postgres_history_finds_old_entries_by_user").await else {
        return;
    };
    history_search(&SqlHistory::new(&p), &common::unique("search")).await;
}

/// A database of schema version 2 (entries without the search columns) gets them filled by
/// migration 4: its old entries are found by user.
#[tokio::test]
async fn migration_4_fills_the_search_columns_of_old_entries() {
    let url = common::temp_sqlite_url("history-migration");
    {
        let p = SqlProvisioner::connect(&url).await.unwrap();
        let h = SqlHistory::new(&p);
        h.record(HistoryEntry::new(
            "okta",
            "req-old",
            Operation::new("DELETE", "User").id("U-1").name("Old.User"),
        ))
        .await
        .unwrap();
        // Back to version 3, as an older release left it.
        for statement in common::UNDO_SCHEMA_6
            .into_iter()
            .chain(common::undo_schema_5(true))
            .chain(common::UNDO_SCHEMA_4)
            .chain(["DELETE FROM scim_schema_version WHERE version = 4"])
        {
            sqlx::query(statement).execute(p.pool()).await.unwrap();
        }
        p.pool().close().await;
    }
    let p = SqlProvisioner::connect(&url).await.unwrap();
    let h = SqlHistory::new(&p);
    let found = h
        .list(&HistoryQuery::new().user(UserMatch::exact("old.user")))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].request_id, "req-old");
    let by_method = h.list(&HistoryQuery::new().method("DELETE")).await.unwrap();
    assert_eq!(by_method.len(), 1);
}

/// A row the history cannot read back is a storage error naming the table, not an I/O error.
#[tokio::test]
async fn an_unreadable_history_row_is_a_storage_error() {
    let p = common::sqlite().await;
    sqlx::query(
        "INSERT INTO scim_sync_history (seq_key, tenant, at_ns, entry) \
         VALUES ('k', 't', 0, 'not json')",
    )
    .execute(p.pool())
    .await
    .unwrap();
    let err = SqlHistory::new(&p)
        .list(&HistoryQuery::new().tenant("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, scim_provisioning::history::HistoryError::Storage { message }
            if message.starts_with("scim_sync_history: ")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("sync history store: "), "{err}");
}
