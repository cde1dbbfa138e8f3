//! Scans of a Data Center target where some users were deprovisioned by a SCIM `DELETE`:
//! those users are not shown, yet every page but the last is full and offsets count the
//! users shown, so scim-core's default paging and scim-sync's reconciler (which take a short
//! page for the end and page on by what they got) read every other user, exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::Arc;

use scim_atlassian::policy::{DeprovisionAction, SyncPolicy};
use scim_atlassian::simulator::JiraSimulator;
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_sync::{FileSource, Reconciler};

const USERS: usize = 250;
/// Users deleted through SCIM, all on the first product page and the first scan page.
const DELETED: [usize; 6] = [0, 1, 7, 20, 49, 120];

fn name(i: usize) -> String {
    format!("user{i:04}")
}

/// `userName,email` for users `0..USERS` except `skip`.
fn directory(skip: &[usize]) -> FileSource {
    let mut csv = String::from("userName,email\n");
    for i in (0..USERS).filter(|i| !skip.contains(i)) {
        writeln!(csv, "{},{}@example.com", name(i), name(i)).unwrap();
    }
    FileSource::from_csv_str(&csv).unwrap()
}

fn jira(sim: &Arc<JiraSimulator>, action: DeprovisionAction) -> AtlassianProvisioner {
    AtlassianProvisioner::jira("https://jira.test", Credentials::bearer("pat"))
        .client(sim.clone())
        .policy(SyncPolicy::builder().deprovision(action).build().unwrap())
        .build()
        .unwrap()
}

/// Provisions `USERS` users through a sync, then SCIM-deletes `DELETED`.
fn populated(action: DeprovisionAction) -> (Arc<JiraSimulator>, AtlassianProvisioner) {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let p = jira(&sim, action);
    let ctx = RequestContext::new("acme");
    let plan = block_on(Reconciler::new().plan(&directory(&[]), &p, &ctx)).unwrap();
    assert_eq!(plan.summary().create_users, USERS);
    let report = block_on(plan.apply(&p, &ctx)).unwrap();
    assert_eq!(report.failed, 0, "{report}");
    for i in DELETED {
        let q =
            ListQuery::new().with_filter(format!("userName eq \"{}\"", name(i)).parse().unwrap());
        let found = block_on(p.search_users(&ctx, &q)).unwrap();
        let id = found.resources[0].id.clone().unwrap();
        block_on(p.delete_user(&ctx, &id, None)).unwrap();
    }
    (sim, p)
}

/// The names of the users that are still visible.
fn visible() -> BTreeSet<String> {
    (0..USERS)
        .filter(|i| !DELETED.contains(i))
        .map(name)
        .collect()
}

/// Names in `users`, failing on a duplicate.
fn names_once(users: &[scim_core::User]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for u in users {
        assert!(seen.insert(u.user_name.clone()), "{} twice", u.user_name);
    }
    seen
}

const ACTIONS: [DeprovisionAction; 3] = [
    DeprovisionAction::Deactivate,
    DeprovisionAction::Keep,
    DeprovisionAction::Anonymize,
];

#[test]
fn scan_pages_are_full_until_the_end_and_offsets_count_visible_users() {
    let ctx = RequestContext::new("acme");
    for action in ACTIONS {
        let (sim, p) = populated(action);
        let first = block_on(p.scan_users(&ctx, 0, 200)).unwrap();
        assert_eq!(first.len(), 200, "{action:?}: the first page is short");
        let second = block_on(p.scan_users(&ctx, 200, 200)).unwrap();
        assert_eq!(second.len(), USERS - DELETED.len() - 200, "{action:?}");
        let mut all = first.clone();
        all.extend(second.iter().cloned());
        assert_eq!(names_once(&all), visible(), "{action:?}");
        assert!(block_on(p.scan_users(&ctx, 250, 200)).unwrap().is_empty());

        // Without a remembered position (a fresh provisioner on the same product) the offset
        // is counted from the start: the same pages.
        let fresh = jira(&sim, action);
        let again = block_on(fresh.scan_users(&ctx, 200, 200)).unwrap();
        assert_eq!(names_once(&again), names_once(&second), "{action:?}");
        // Pages smaller than a product page, out of order.
        let fresh = jira(&sim, action);
        let mut pieces = Vec::new();
        for offset in [30, 0, 10, 20, 40] {
            pieces.extend(block_on(fresh.scan_users(&ctx, offset, 10)).unwrap());
        }
        let expected: Vec<String> = first[..50].iter().map(|u| u.user_name.clone()).collect();
        let mut got: Vec<String> = pieces.iter().map(|u| u.user_name.clone()).collect();
        got.sort();
        assert_eq!(got, expected, "{action:?}");
    }
}

#[test]
fn a_filter_matching_everyone_finds_every_visible_user_once() {
    let ctx = RequestContext::new("acme");
    for action in ACTIONS {
        let (_sim, p) = populated(action);
        // One evaluated on Jira's fields, one that needs full reads.
        for filter in ["userName pr", "emails pr or not (emails pr)"] {
            let q = ListQuery::new().with_filter(filter.parse().unwrap());
            let page = block_on(p.search_users(&ctx, &q)).unwrap();
            assert_eq!(
                page.total_results,
                (USERS - DELETED.len()) as u64,
                "{action:?} {filter}"
            );
            assert_eq!(
                names_once(&page.resources),
                visible(),
                "{action:?} {filter}"
            );
            // The same in pages of 100.
            let mut all = Vec::new();
            for start in [1, 101, 201] {
                let q = ListQuery {
                    start_index: start,
                    count: Some(100),
                    ..ListQuery::new().with_filter(filter.parse().unwrap())
                };
                let page = block_on(p.search_users(&ctx, &q)).unwrap();
                assert_eq!(page.total_results, (USERS - DELETED.len()) as u64);
                all.extend(page.resources);
            }
            assert_eq!(names_once(&all), visible(), "{action:?} {filter} paged");
        }
    }
}

#[test]
fn a_resync_after_scim_deletes_plans_nothing() {
    let ctx = RequestContext::new("acme");
    for action in ACTIONS {
        let (_sim, p) = populated(action);
        let plan = block_on(Reconciler::new().plan(&directory(&DELETED), &p, &ctx)).unwrap();
        assert!(plan.is_empty(), "{action:?}: the resync planned\n{plan}");
    }
}
