//! The in-memory fallback is visible in tracing: a search SQL cannot fully express logs one
//! `debug` event on target `scim_sql::search` naming the residual filter; one it can logs none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::capture::Capture;
use scim_core::User;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_sql::SqlProvisioner;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

// A current-thread runtime: the search runs on this thread, where the subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn a_filter_sql_cannot_express_logs_the_fallback() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let p = SqlProvisioner::connect("sqlite::memory:").await.unwrap();
    let ctx = RequestContext::new("t");
    p.create_users_bulk(&ctx, ["alice", "bob"].into_iter().map(User::new))
        .await
        .unwrap();
    capture.take("scim_sql::search");

    // Pushed down entirely: no fallback, no event.
    let q = ListQuery::new().with_filter(r#"userName eq "alice""#.parse().unwrap());
    assert_eq!(p.search_users(&ctx, &q).await.unwrap().total_results, 1);
    let events = capture.take("scim_sql::search");
    assert!(events.is_empty(), "{events:?}");

    // A user's `groups` come from the memberships table, not its stored JSON: the userName
    // part runs in SQL, the rest in memory.
    let q = ListQuery::new()
        .with_filter(r#"userName sw "a" and groups.value eq "g1""#.parse().unwrap());
    assert_eq!(p.search_users(&ctx, &q).await.unwrap().total_results, 0);
    let events = capture.take("scim_sql::search");
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.level, Level::DEBUG);
    assert!(
        e.fields["message"].contains("evaluating in memory"),
        "{e:?}"
    );
    assert_eq!(e.fields["table"], "\"scim_users\"");
    assert_eq!(e.fields["pushed_down"], "true");
    assert!(e.fields["residual"].contains("groups.value eq"), "{e:?}");
    assert_eq!(e.fields["sort_in_memory"], "false");
}
