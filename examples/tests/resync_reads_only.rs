//! A no-op resync (scim-sync's `Reconciler` run again on a converged target) into each
//! Atlassian simulator plans nothing, writes nothing, and reads a bounded number of times:
//! never more than the per-user reads each product's REST API forces (Jira, Confluence and
//! Bitbucket Data Center cannot list their SCIM data, so one read per user; Crowd lists it with
//! the users, Cloud lists SCIM users whole: none), plus listing pages and group member pages.
//! The counts come from each simulator's call log; no time is measured here (the figures are
//! provision-bench's, in BENCHMARKS.md).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::simulator::{
    BitbucketSimulator, CloudSimulator, ConfluenceSimulator, CrowdSimulator, JiraSimulator,
};
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_sync::{FileSource, Reconciler};

/// More than one scan page of users (scim-core's `SCAN_PAGE`, 200), so paging is exercised.
const USERS: usize = 300;
const GROUPS: usize = 6;
const GROUPS_PER_USER: usize = 2;
/// Members of each group.
const MEMBERS: usize = USERS * GROUPS_PER_USER / GROUPS;

/// `userName,email,groups` for `USERS` users, user `i` in groups `i` and `i + 1` (mod `GROUPS`).
fn directory() -> FileSource {
    let mut csv = String::from("userName,email,groups\n");
    for i in 0..USERS {
        let groups: Vec<String> = (0..GROUPS_PER_USER)
            .map(|k| format!("team-{}", (i + k) % GROUPS))
            .collect();
        writeln!(
            csv,
            "user{i:04},user{i:04}@example.com,{}",
            groups.join(";")
        )
        .unwrap();
    }
    FileSource::from_csv_str(&csv).unwrap()
}

/// One target: its provisioner, and its simulator's call counts (`"METHOD /path"` -> calls)
/// and reset.
struct Target {
    name: &'static str,
    p: Box<dyn Provisioner>,
    counts: Box<dyn Fn() -> BTreeMap<String, usize>>,
    reset: Box<dyn Fn()>,
    /// The reads a no-op resync may make per user, which the product's API forces.
    reads_per_user: usize,
}

macro_rules! target {
    ($name:expr, $sim:ident, $p:expr, $per_user:expr) => {{
        let counts = $sim.clone();
        Target {
            name: $name,
            p: Box::new($p),
            counts: Box::new(move || counts.call_counts()),
            reset: Box::new(move || $sim.reset_calls()),
            reads_per_user: $per_user,
        }
    }};
}

fn targets() -> Vec<Target> {
    let jira_sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let jira = AtlassianProvisioner::jira("https://jira.test", Credentials::bearer("pat"))
        .client(jira_sim.clone())
        .build()
        .unwrap();
    let app = Credentials::basic("scim-app", "app-secret");
    let crowd_sim = Arc::new(CrowdSimulator::new(app.clone()));
    let crowd = AtlassianProvisioner::crowd("https://crowd.test/crowd", app.clone())
        .client(crowd_sim.clone())
        .build()
        .unwrap();
    let admin = Credentials::bearer("confluence-pat");
    let confluence_sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
    let confluence = AtlassianProvisioner::confluence("https://wiki.test/confluence", admin)
        .client(confluence_sim.clone())
        .embedded_crowd(app)
        .build()
        .unwrap();
    let bb_admin = Credentials::basic("admin", "pw");
    let bitbucket_sim = Arc::new(BitbucketSimulator::new(bb_admin.clone()));
    let bitbucket = AtlassianProvisioner::bitbucket("https://bitbucket.test/bb", bb_admin)
        .client(bitbucket_sim.clone())
        .login_groups(["stash-users"])
        .build()
        .unwrap();
    let cloud_sim = Arc::new(CloudSimulator::new("dir-1", "cloud-key"));
    let cloud = CloudProvisioner::builder(cloud_sim.directory_url(), "cloud-key")
        .client(cloud_sim.clone())
        .build()
        .unwrap();
    vec![
        target!("Jira", jira_sim, jira, 1),
        target!("Crowd", crowd_sim, crowd, 0),
        target!("Confluence", confluence_sim, confluence, 2),
        target!("Bitbucket", bitbucket_sim, bitbucket, 2),
        target!("Cloud", cloud_sim, cloud, 0),
    ]
}

/// (reads, writes) in `counts`: a read is a `GET`.
fn reads_and_writes(counts: &BTreeMap<String, usize>) -> (usize, usize) {
    counts.iter().fold((0, 0), |(r, w), (call, n)| {
        if call.starts_with("GET ") {
            (r + n, w)
        } else {
            (r, w + n)
        }
    })
}

#[test]
fn a_converged_resync_reads_only_and_a_bounded_number_of_times_on_every_target() {
    let source = directory();
    let ctx = RequestContext::new("acme");
    let mut table = String::from("target | initial reads | initial writes | resync reads\n");
    for t in targets() {
        let reconciler = Reconciler::new();
        let plan = block_on(reconciler.plan(&source, t.p.as_ref(), &ctx)).unwrap();
        assert_eq!(plan.summary().create_users, USERS, "{}", t.name);
        let report = block_on(plan.apply(t.p.as_ref(), &ctx)).unwrap();
        assert_eq!(report.failed, 0, "{}: {report}", t.name);
        let (initial_reads, initial_writes) = reads_and_writes(&(t.counts)());

        (t.reset)();
        let plan = block_on(reconciler.plan(&source, t.p.as_ref(), &ctx)).unwrap();
        assert!(plan.is_empty(), "{}: the resync planned\n{plan}", t.name);
        let report = block_on(plan.apply(t.p.as_ref(), &ctx)).unwrap();
        assert_eq!(report.failed, 0, "{}: {report}", t.name);
        let counts = (t.counts)();
        let (reads, writes) = reads_and_writes(&counts);
        assert_eq!(writes, 0, "{}: the resync wrote: {counts:?}", t.name);
        // Listing pages (at least 1 for every 50 users or members, the smallest page any
        // product serves), one look at each group, and the per-user reads the product forces.
        let pages = (USERS + GROUPS * MEMBERS) / 50 + GROUPS + 4;
        let bound = t.reads_per_user * USERS + pages;
        assert!(
            reads <= bound,
            "{}: {reads} reads, more than {bound} ({} a user and {pages} pages): {counts:?}",
            t.name,
            t.reads_per_user
        );
        writeln!(
            table,
            "{} | {initial_reads} | {initial_writes} | {reads}",
            t.name
        )
        .unwrap();
    }
    println!("{USERS} users, {GROUPS} groups of {MEMBERS} members\n{table}");
}
