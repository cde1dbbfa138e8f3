//! User creates on SQLite are written in batches (`src/batch.rs`): the creates that queue while
//! the writer is busy share one transaction, yet each is answered on its own, a failure of one
//! never fails another, and nothing is half written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::resource::MultiValue;
use scim_core::{ScimError, User};
use scim_filter::Filter;
use scim_sql::SqlProvisioner;
use tokio::task::JoinHandle;

use common::capture::Capture;
use tracing_subscriber::layer::SubscriberExt;

fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.emails = vec![MultiValue {
        value: Some(format!("{name}@example.com")),
        ..MultiValue::default()
    }];
    u
}

/// Starts creating `names` (each in a task of its own) while the test holds the writer, waits
/// until every create is queued, then lets the writer go.
async fn create_while_the_writer_is_held(
    p: &Arc<SqlProvisioner>,
    tenant: &str,
    names: &[&str],
) -> Vec<(String, Result<User, ScimError>)> {
    let held = p.pool().begin().await.unwrap();
    let tasks: Vec<(String, JoinHandle<_>)> = names
        .iter()
        .map(|name| {
            let (p, ctx, u) = (Arc::clone(p), RequestContext::new(tenant), user(name));
            let task = tokio::spawn(async move { p.create_user(&ctx, u).await });
            ((*name).to_owned(), task)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tasks.iter().all(|(_, t)| !t.is_finished()),
        "no create is answered while the writer is held"
    );
    held.rollback().await.unwrap();
    let mut outcomes = Vec::new();
    for (name, task) in tasks {
        outcomes.push((name, task.await.unwrap()));
    }
    outcomes
}

async fn count(p: &SqlProvisioner, tenant: &str, filter: &str) -> u64 {
    let query = ListQuery {
        filter: Some(filter.parse::<Filter>().unwrap()),
        ..ListQuery::default()
    };
    p.search_users(&RequestContext::new(tenant), &query)
        .await
        .unwrap()
        .total_results
}

/// Rows of `scim_user_values` whose user does not exist: a half-written create.
async fn orphan_values(p: &SqlProvisioner) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM scim_user_values v WHERE NOT EXISTS \
         (SELECT 1 FROM scim_users u WHERE u.tenant = v.tenant AND u.id = v.user_id)",
    )
    .fetch_one(p.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_creates_are_each_answered_and_a_taken_user_name_fails_alone() {
    let p = Arc::new(
        SqlProvisioner::connect(&common::temp_sqlite_url("batch"))
            .await
            .unwrap(),
    );
    let ctx = RequestContext::new("acme");
    p.create_user(&ctx, user("taken")).await.unwrap();

    let mut names: Vec<String> = (0..20).map(|i| format!("user{i}")).collect();
    names.extend(["dup", "DUP", "taken", "dup"].map(str::to_owned));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let outcomes = create_while_the_writer_is_held(&p, "acme", &names).await;

    let mut ids = std::collections::HashSet::new();
    let mut dups_created = 0;
    for (name, outcome) in &outcomes {
        match (name.as_str(), outcome) {
            ("taken", Err(e)) => {
                assert_eq!(e.status(), StatusCode::CONFLICT, "{e}");
                assert!(e.detail().contains("taken"), "{e}");
            }
            ("dup" | "DUP", Ok(_)) => dups_created += 1,
            ("dup" | "DUP", Err(e)) => assert_eq!(e.status(), StatusCode::CONFLICT, "{e}"),
            (_, Ok(created)) => {
                assert_eq!(&created.user_name, name);
                let id = created.id.clone().unwrap();
                assert!(ids.insert(id.clone()), "ids are distinct");
                let read = p.get_user(&ctx, &id).await.unwrap();
                assert_eq!(&read.user_name, name);
                assert_eq!(read.meta, created.meta, "the answer is what a GET shows");
            }
            (_, Err(e)) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(ids.len(), 20);
    assert_eq!(
        dups_created, 1,
        "one of dup, DUP, dup is created: {outcomes:?}"
    );
    assert_eq!(count(&p, "acme", r#"userName eq "dup""#).await, 1);
    assert_eq!(count(&p, "acme", r#"userName eq "taken""#).await, 1);
    assert_eq!(
        count(&p, "acme", r#"emails.value co "@example.com""#).await,
        22,
        "every created user's values are written, and only theirs"
    );
    assert_eq!(orphan_values(&p).await, 0);
}

/// A create that fails for another reason than its `userName` (here a trigger refusing one
/// email) rolls its whole batch back; every create of it is then written alone, so only that
/// one fails, with a 500 and nothing of it written.
#[tokio::test]
async fn a_batch_that_fails_is_written_again_one_create_at_a_time() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let p = Arc::new(
        SqlProvisioner::connect(&common::temp_sqlite_url("batch-fails"))
            .await
            .unwrap(),
    );
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON scim_user_values \
         WHEN NEW.value = 'boom@example.com' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(p.pool())
    .await
    .unwrap();

    let names = ["a", "b", "boom", "c", "d", "e", "f", "g", "h", "i"];
    let outcomes = create_while_the_writer_is_held(&p, "acme", &names).await;
    for (name, outcome) in &outcomes {
        if name == "boom" {
            let e = outcome.as_ref().unwrap_err();
            assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR, "{e}");
            assert!(e.detail().contains("refused"), "{e}");
        } else {
            assert_eq!(outcome.as_ref().unwrap().user_name, *name);
        }
    }
    assert_eq!(count(&p, "acme", r#"userName eq "boom""#).await, 0);
    assert_eq!(count(&p, "acme", "userName pr").await, 9);
    assert_eq!(orphan_values(&p).await, 0, "nothing of boom is written");

    // The queued creates were one batch (the first may have been one of its own, depending on
    // when the writing task first ran), which failed once as a whole.
    let events: Vec<_> = capture
        .take("scim_sql::batch")
        .into_iter()
        .map(|e| e.fields)
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    let creates: usize = events[0]["creates"].parse().unwrap();
    assert!(creates >= names.len() - 1, "{events:?}");
    assert!(events[0]["error"].contains("refused"), "{events:?}");
}

/// A request that goes away while its create is queued cancels neither its own create nor the
/// others': the batch is written by a task of its own.
#[tokio::test]
async fn a_create_whose_request_goes_away_is_still_written_and_blocks_nothing() {
    let p = Arc::new(
        SqlProvisioner::connect(&common::temp_sqlite_url("batch-cancel"))
            .await
            .unwrap(),
    );
    let ctx = RequestContext::new("acme");
    let held = p.pool().begin().await.unwrap();
    let first = {
        let (p, ctx) = (Arc::clone(&p), ctx.clone());
        tokio::spawn(async move { p.create_user(&ctx, user("kept")).await })
    };
    let gone = tokio::time::timeout(
        Duration::from_millis(100),
        p.create_user(&ctx, user("abandoned")),
    )
    .await;
    assert!(gone.is_err(), "the create waits for the writer");
    held.rollback().await.unwrap();
    first.await.unwrap().unwrap();
    // The abandoned create was queued, so it is written all the same, and later creates go on.
    p.create_user(&ctx, user("after")).await.unwrap();
    assert_eq!(count(&p, "acme", r#"userName eq "abandoned""#).await, 1);
    assert_eq!(count(&p, "acme", "userName pr").await, 3);
}
