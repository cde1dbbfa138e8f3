//! The run lock and the sync history in the database, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use scim_provisioning::history::{HistoryEntry, HistoryQuery, Operation, SyncHistory};
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
