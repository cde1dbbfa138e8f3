//! The in-memory fallback is visible in tracing: a search SQL cannot fully express logs one
//! `debug` event on target `scim_sql::search` naming the residual filter; one it can logs none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use scim_core::User;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_sql::SqlProvisioner;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One captured event: its target, level and fields (as `Debug` text).
#[derive(Debug)]
struct Captured {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }
}

impl Capture {
    /// The events on `scim_sql::search` so far, and forgets them.
    fn take_search_events(&self) -> Vec<Captured> {
        let mut all = self.0.lock().unwrap();
        std::mem::take(&mut *all)
            .into_iter()
            .filter(|e| e.target == "scim_sql::search")
            .collect()
    }
}

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
    capture.take_search_events();

    // Pushed down entirely: no fallback, no event.
    let q = ListQuery::new().with_filter(r#"userName eq "alice""#.parse().unwrap());
    assert_eq!(p.search_users(&ctx, &q).await.unwrap().total_results, 1);
    let events = capture.take_search_events();
    assert!(events.is_empty(), "{events:?}");

    // A user's `groups` come from the memberships table, not its stored JSON: the userName
    // part runs in SQL, the rest in memory.
    let q = ListQuery::new()
        .with_filter(r#"userName sw "a" and groups.value eq "g1""#.parse().unwrap());
    assert_eq!(p.search_users(&ctx, &q).await.unwrap().total_results, 0);
    let events = capture.take_search_events();
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
