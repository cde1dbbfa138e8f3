//! Deprovisioning choices on Atlassian Cloud (anonymize, keep, membership removal with kept
//! groups), what Cloud refuses, and last logins from the organizations API, against the
//! Cloud simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The conformance macro is not used here.
#[allow(unused_macros, unused_imports)]
mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{active, ctx};
use scim_atlassian::cloud::{CloudProvisioner, DeprovisionedUsers, InMemoryDeprovisioned};
use scim_atlassian::history::{HistoryQuery, InMemoryHistory, RecordingProvisioner, SyncHistory};
use scim_atlassian::policy::{DeprovisionAction, RemoveGroups, SyncPolicy};
use scim_atlassian::simulator::CloudSimulator;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{ListQuery, Provisioner};
use scim_core::{Group, Member, MultiValue, Name, User};

const KEY: &str = "directory-api-key-secret";
const ORG_KEY: &str = "organization-admin-key";

struct Setup {
    sim: Arc<CloudSimulator>,
    store: Arc<InMemoryDeprovisioned>,
    history: Arc<InMemoryHistory>,
    p: RecordingProvisioner<CloudProvisioner>,
}

/// The Cloud simulator with `example.com` verified, and a provisioner with `policy`.
fn cloud_with(policy: SyncPolicy) -> Setup {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    sim.verify_domain("example.com");
    let store = Arc::new(InMemoryDeprovisioned::new());
    let cloud = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .policy(policy)
        .deprovisioned_users(store.clone())
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(100));
    let p = RecordingProvisioner::new(cloud, history.clone());
    Setup {
        sim,
        store,
        history,
        p,
    }
}

/// A provisioner without policy over the same simulator: the user as Cloud has it.
fn raw(sim: &Arc<CloudSimulator>) -> CloudProvisioner {
    CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .build()
        .unwrap()
}

fn in_cloud(sim: &Arc<CloudSimulator>, id: &str) -> User {
    block_on(raw(sim).get_user(&ctx(), id)).unwrap()
}

fn policy(action: DeprovisionAction) -> SyncPolicy {
    SyncPolicy::builder().deprovision(action).build().unwrap()
}

/// `keep`, memberships kept too: deprovisioning writes nothing at all.
fn keep_and_never_remove() -> SyncPolicy {
    SyncPolicy::builder()
        .deprovision(DeprovisionAction::Keep)
        .remove_groups(RemoveGroups::Never)
        .build()
        .unwrap()
}

fn alice() -> User {
    let mut u = User::new("alice@example.com");
    u.display_name = Some("Alice Liddell".to_owned());
    u.name = Some(Name {
        given_name: Some("Alice".to_owned()),
        family_name: Some("Liddell".to_owned()),
        ..Name::default()
    });
    u.emails = vec![MultiValue::new("alice@example.com").primary()];
    u.external_id = Some("okta-00u1".to_owned());
    u
}

/// Creates [`alice`] through the policy; her id.
fn create_alice(s: &Setup) -> String {
    block_on(s.p.create_user(&ctx(), alice()))
        .unwrap()
        .id
        .unwrap()
}

fn latest_changes(h: &InMemoryHistory) -> String {
    block_on(h.list(&HistoryQuery::new().limit(1)))
        .unwrap()
        .remove(0)
        .changes
}

fn user_writes(sim: &CloudSimulator) -> usize {
    ["PUT", "PATCH", "DELETE", "POST"]
        .iter()
        .map(|m| sim.calls(m, "/Users/{id}") + sim.calls(m, "/Users"))
        .sum()
}

fn assert_anonymous(user: &User) {
    assert!(
        user.user_name.starts_with("anon-") && user.user_name.ends_with("@example.com"),
        "{}",
        user.user_name
    );
    assert_ne!(user.user_name, "alice@example.com");
    let email = user.emails[0].value.as_deref().unwrap();
    assert!(
        email.starts_with("anon-") && email.ends_with("@example.com"),
        "the anonymous email stays in the verified domain: {email}"
    );
    assert_eq!(user.display_name.as_deref(), Some("Anonymized user"));
    assert_eq!(
        user.name.as_ref().and_then(|n| n.given_name.as_deref()),
        Some("Anonymized")
    );
    assert_eq!(user.active, Some(false));
}

fn assert_alice(user: &User) {
    assert_eq!(user.user_name, "alice@example.com");
    assert_eq!(user.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(
        user.emails[0].value.as_deref(),
        Some("alice@example.com"),
        "{user:?}"
    );
    assert_eq!(
        user.name.as_ref().and_then(|n| n.family_name.as_deref()),
        Some("Liddell")
    );
}

#[test]
fn anonymize_on_delete_hides_the_user_and_recreating_restores_the_originals() {
    let s = cloud_with(policy(DeprovisionAction::Anonymize));
    let id = create_alice(&s);
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();

    // Cloud keeps the account (no Cloud DELETE), under opaque values, inactive.
    assert_eq!(s.sim.calls("DELETE", "/Users/{id}"), 0);
    assert_anonymous(&in_cloud(&s.sim, &id));
    let changes = latest_changes(&s.history);
    assert!(
        changes.contains(&format!(
            "anonymized and deactivated user {id} in Atlassian Cloud"
        )),
        "{changes}"
    );
    // SCIM answers 404, as for a deleted user, and lists it no more.
    let err = block_on(s.p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    let query = scim_core::provision::ListQuery::new()
        .with_filter(r#"userName sw "anon-""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &query))
            .unwrap()
            .total_results,
        0
    );
    let by_name =
        ListQuery::new().with_filter(r#"userName eq "alice@example.com""#.parse().unwrap());
    assert_eq!(
        block_on(s.p.search_users(&ctx(), &by_name))
            .unwrap()
            .total_results,
        0,
        "a deleted user is not found by its own name either"
    );
    assert!(s.store.get(&id).unwrap().unwrap().original.is_some());
    // A scan (what a sync reads) keeps it in place, inactive, with its own values.
    let scanned = block_on(s.p.scan_users(&ctx(), 0, 10)).unwrap();
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0].user_name, "alice@example.com");
    assert_eq!(scanned[0].active, Some(false));

    // The identity provider creates the user again: the same Cloud user, its own values.
    let back = block_on(s.p.create_user(&ctx(), alice())).unwrap();
    assert_eq!(back.id.as_deref(), Some(id.as_str()));
    assert_alice(&back);
    let cloud = in_cloud(&s.sim, &id);
    assert_alice(&cloud);
    assert_eq!(cloud.active, Some(true));
    assert_eq!(s.sim.user_count(), 1);
    assert_eq!(s.store.get(&id).unwrap(), None, "nothing left to remember");
    assert!(
        latest_changes(&s.history).contains("restored user"),
        "{}",
        latest_changes(&s.history)
    );
}

#[test]
fn anonymize_on_deactivation_shows_the_originals_and_reactivation_restores_them() {
    let s = cloud_with(policy(DeprovisionAction::Anonymize));
    let id = create_alice(&s);
    let answered = block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_alice(&answered);
    assert_eq!(answered.active, Some(false));
    assert_anonymous(&in_cloud(&s.sim, &id));
    let shown = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_alice(&shown);
    assert_eq!(shown.active, Some(false));
    // The identity provider's lookup by name (before a create) finds the user it deactivated,
    // though Cloud knows it only by its anonymous name.
    let search = |filter: &str, count: Option<u64>| {
        let mut query = ListQuery::new().with_filter(filter.parse().unwrap());
        query.count = count;
        block_on(s.p.search_users(&ctx(), &query)).unwrap()
    };
    let found = search(r#"userName eq "Alice@Example.com""#, None);
    assert_eq!(found.total_results, 1);
    assert_eq!(found.resources[0].id.as_deref(), Some(id.as_str()));
    assert_alice(&found.resources[0]);
    assert_eq!(found.resources[0].active, Some(false));
    let counted = search(r#"userName eq "alice@example.com""#, Some(0));
    assert_eq!((counted.total_results, counted.resources.len()), (1, 0));
    assert_eq!(
        search(r#"userName eq "bob@example.com""#, None).total_results,
        0
    );

    // A write while inactive goes to the kept values: Cloud keeps the opaque ones.
    let writes = user_writes(&s.sim);
    let mut renamed = alice();
    renamed.display_name = Some("Alice Hargreaves".to_owned());
    renamed.active = Some(false);
    let answered = block_on(s.p.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(answered.display_name.as_deref(), Some("Alice Hargreaves"));
    assert_eq!(user_writes(&s.sim), writes, "nothing written to Cloud");
    assert_anonymous(&in_cloud(&s.sim, &id));

    // Reactivation writes the user's own (latest) values back.
    let back = block_on(s.p.patch_user(&ctx(), &id, &active(true), None)).unwrap();
    assert_eq!(back.display_name.as_deref(), Some("Alice Hargreaves"));
    let cloud = in_cloud(&s.sim, &id);
    assert_eq!(cloud.user_name, "alice@example.com");
    assert_eq!(cloud.display_name.as_deref(), Some("Alice Hargreaves"));
    assert_eq!(cloud.active, Some(true));
    assert_eq!(s.store.get(&id).unwrap(), None);
}

#[test]
fn anonymize_refused_by_cloud_changes_nothing_and_says_why() {
    let s = cloud_with(policy(DeprovisionAction::Anonymize));
    let id = create_alice(&s);
    // Learn the anonymous name, then let another user take it.
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    let taken = in_cloud(&s.sim, &id).user_name;
    block_on(s.p.patch_user(&ctx(), &id, &active(true), None)).unwrap();
    let mut squatter = User::new(taken);
    squatter.emails = vec![MultiValue::new("placeholder@example.com").primary()];
    block_on(raw(&s.sim).create_user(&ctx(), squatter)).unwrap();

    let err = block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap_err();
    assert_eq!(err.status().as_u16(), 409, "{}", err.detail());
    assert!(
        err.detail().contains("cannot be anonymized") && err.detail().contains("nothing changed"),
        "{}",
        err.detail()
    );
    let cloud = in_cloud(&s.sim, &id);
    assert_eq!(cloud.user_name, "alice@example.com");
    assert_eq!(cloud.active, Some(true));
    assert_eq!(s.store.get(&id).unwrap(), None);
}

#[test]
fn keep_leaves_the_user_untouched() {
    let s = cloud_with(keep_and_never_remove());
    let id = create_alice(&s);
    let before = in_cloud(&s.sim, &id);
    let writes = user_writes(&s.sim);

    // Deactivation: answered inactive, nothing written.
    let answered = block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(answered.active, Some(false));
    assert_eq!(user_writes(&s.sim), writes);
    assert_eq!(in_cloud(&s.sim, &id), before);
    // A GET answers what the IdP set, as the PATCH did (else the IdP sends it again each cycle).
    let read = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(read.active, Some(false), "GET shows what the IdP set");
    assert_eq!(
        read.meta.as_ref().and_then(|m| m.version.clone()),
        answered.meta.as_ref().and_then(|m| m.version.clone())
    );
    assert!(
        latest_changes(&s.history).contains(&format!("kept user {id} as it is")),
        "{}",
        latest_changes(&s.history)
    );

    // DELETE: nothing written either, and SCIM answers 404 from then on.
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(user_writes(&s.sim), writes);
    assert_eq!(in_cloud(&s.sim, &id), before);
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id))
            .unwrap_err()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        block_on(s.p.delete_user(&ctx(), &id, None))
            .unwrap_err()
            .status()
            .as_u16(),
        404
    );

    // Created again: the same account (Cloud's 409 on the name leads to it).
    let back = block_on(s.p.create_user(&ctx(), alice())).unwrap();
    assert_eq!(back.id.as_deref(), Some(id.as_str()));
    assert_eq!(s.sim.user_count(), 1);
    assert!(block_on(s.p.get_user(&ctx(), &id)).is_ok());
}

/// Under `keep`, the identity provider's `active: false` stays what SCIM shows (GET, scans,
/// later writes) while the Cloud account stays active, until it sets `active: true`.
#[test]
fn keep_answers_the_idps_active_false_until_it_sets_active_true() {
    let s = cloud_with(keep_and_never_remove());
    let id = create_alice(&s);
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_ne!(
        in_cloud(&s.sim, &id).active,
        Some(false),
        "the account stays active"
    );
    let scanned = block_on(s.p.scan_users(&ctx(), 0, 10)).unwrap();
    assert_eq!(scanned.len(), 1);
    assert_eq!(
        scanned[0].active,
        Some(false),
        "a scan shows what the IdP set"
    );
    // Searches filter what SCIM shows, not the Cloud account: the IdP finds its inactive user.
    let search = |filter: &str| {
        let query = ListQuery::new().with_filter(filter.parse().unwrap());
        block_on(s.p.search_users(&ctx(), &query)).unwrap()
    };
    let inactive = search("active eq false");
    assert_eq!(inactive.total_results, 1);
    assert_eq!(inactive.resources[0].id.as_deref(), Some(id.as_str()));
    assert_eq!(inactive.resources[0].active, Some(false));
    assert_eq!(search("active eq true").total_results, 0);
    assert_eq!(
        search(r#"active eq false and userName eq "alice@example.com""#).total_results,
        1
    );

    // The same `active: false` again writes nothing; a rename while inactive reaches Cloud,
    // the account still active and SCIM still showing it inactive.
    let writes = user_writes(&s.sim);
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(user_writes(&s.sim), writes);
    let mut renamed = alice();
    renamed.display_name = Some("Alice Renamed".to_owned());
    renamed.active = Some(false);
    let r = block_on(s.p.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(
        (r.active, r.display_name.as_deref()),
        (Some(false), Some("Alice Renamed"))
    );
    let cloud = in_cloud(&s.sim, &id);
    assert_ne!(cloud.active, Some(false));
    assert_eq!(cloud.display_name.as_deref(), Some("Alice Renamed"));
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id)).unwrap().active,
        Some(false)
    );

    // A PUT that leaves `active` out does not end it either (as on Data Center): only the
    // identity provider's `active: true` does.
    let mut unsaid = alice();
    unsaid.active = None;
    let r = block_on(s.p.replace_user(&ctx(), &id, unsaid, None)).unwrap();
    assert_eq!(
        r.active,
        Some(false),
        "a PUT without active keeps it inactive"
    );
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id)).unwrap().active,
        Some(false)
    );
    assert!(
        !latest_changes(&s.history).contains("reactivated user"),
        "nothing was reactivated"
    );

    // `active: true` ends it.
    let back = block_on(s.p.patch_user(&ctx(), &id, &active(true), None)).unwrap();
    assert_eq!(back.active, Some(true));
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id)).unwrap().active,
        Some(true)
    );
    assert!(
        s.store.get(&id).unwrap().is_none(),
        "nothing left to remember"
    );
    let changes = latest_changes(&s.history);
    assert!(changes.contains("reactivated user"), "{changes}");
}

fn group(name: &str, members: &[&str]) -> Group {
    let mut g = Group::new(name);
    g.members = members.iter().map(|m| Member::new(*m)).collect();
    g
}

#[test]
fn remove_groups_removes_memberships_except_the_kept_groups() {
    let s = cloud_with(
        SyncPolicy::builder()
            .remove_groups(RemoveGroups::All)
            .keep_group("^site-admins$")
            .build()
            .unwrap(),
    );
    let id = create_alice(&s);
    for name in ["devs", "ops", "site-admins"] {
        block_on(s.p.create_group(&ctx(), group(name, &[&id]))).unwrap();
    }
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    let cloud = in_cloud(&s.sim, &id);
    assert_eq!(cloud.active, Some(false));
    let groups: Vec<String> = cloud
        .groups
        .iter()
        .filter_map(|g| g.display.clone())
        .collect();
    assert_eq!(groups, ["site-admins"]);
    let changes = latest_changes(&s.history);
    assert!(
        changes.contains(&format!("deactivated user {id} in Atlassian Cloud"))
            && changes.contains("from 2 group(s): devs, ops"),
        "{changes}"
    );

    // Under `never`, deactivation leaves every membership (and is forwarded as it is).
    let s = cloud_with(
        SyncPolicy::builder()
            .remove_groups(RemoveGroups::Never)
            .build()
            .unwrap(),
    );
    let id = create_alice(&s);
    block_on(s.p.create_group(&ctx(), group("devs", &[&id]))).unwrap();
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(in_cloud(&s.sim, &id).groups.len(), 1);
}

#[test]
fn keep_with_removal_on_delete_drops_memberships_but_not_the_account() {
    let s = cloud_with(policy(DeprovisionAction::Keep));
    let id = create_alice(&s);
    block_on(s.p.create_group(&ctx(), group("devs", &[&id]))).unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    let cloud = in_cloud(&s.sim, &id);
    assert_ne!(cloud.active, Some(false), "not deactivated");
    assert!(cloud.groups.is_empty(), "{:?}", cloud.groups);
}

#[test]
fn seat_checks_are_refused_and_the_usage_says_why() {
    let sim = Arc::new(CloudSimulator::new("d1", KEY));
    let err = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .policy(SyncPolicy::builder().enforce_seats(0).build().unwrap())
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("seats.enforce") && text.contains("not available on Atlassian Cloud"),
        "{text}"
    );
    let usage = block_on(raw(&sim).seats()).unwrap();
    assert!(!usage.is_known());
    assert!(
        usage
            .note
            .as_deref()
            .is_some_and(|n| n.contains("admin.atlassian.com")),
        "{usage:?}"
    );
    // The other choices are accepted.
    for action in [DeprovisionAction::Anonymize, DeprovisionAction::Keep] {
        CloudProvisioner::builder(sim.directory_url(), KEY)
            .client(sim.clone())
            .policy(
                SyncPolicy::builder()
                    .deprovision(action)
                    .remove_groups(RemoveGroups::Managed)
                    .keep_group("^admins$")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
    }
}

#[test]
fn last_login_comes_from_the_organizations_api() {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    let without = raw(&sim);
    let id = block_on(without.create_user(&ctx(), alice()))
        .unwrap()
        .id
        .unwrap();
    // The directory API key reaches no login data: the error says so and how to fix it.
    let err = block_on(without.last_login(&id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 501);
    assert!(
        err.detail().contains("Atlassian Cloud") && err.detail().contains("organization"),
        "{}",
        err.detail()
    );

    sim.enable_org_api("org-1", ORG_KEY);
    let with = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .organization("org-1", ORG_KEY)
        .build()
        .unwrap();
    assert!(sim.account_id(&id).is_some());
    assert_eq!(block_on(with.last_login(&id)).unwrap(), None, "never");
    let when = chrono::DateTime::<Utc>::from(std::time::SystemTime::now()) - Duration::days(40);
    sim.set_last_active(&id, Some(when));
    let got = block_on(with.last_login(&id)).unwrap().unwrap();
    assert_eq!(got.date_naive(), when.date_naive());
    assert_eq!(
        sim.calls(
            "GET",
            "/admin/v1/orgs/{orgId}/directory/users/{accountId}/last-active-dates"
        ),
        2
    );
    // A wrong organization key: 502 saying what the organizations API wants.
    let wrong = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .organization("org-1", "not-the-key")
        .build()
        .unwrap();
    let err = block_on(wrong.last_login(&id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 502);
    assert!(
        err.detail().contains("organization admin API key"),
        "{}",
        err.detail()
    );
    // Unknown users are 404.
    assert_eq!(
        block_on(with.last_login("no-such-user"))
            .unwrap_err()
            .status()
            .as_u16(),
        404
    );
}

#[test]
fn calls_per_deprovisioning() {
    let calls = |s: &Setup, op: &dyn Fn(&Setup)| {
        s.sim.reset_calls();
        op(s);
        s.sim.call_counts()
    };
    let count = |pairs: &[(&str, usize)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<std::collections::BTreeMap<String, usize>>()
    };
    // anonymize: one read, one PATCH; a create finds the anonymized user with one GET more.
    let s = cloud_with(policy(DeprovisionAction::Anonymize));
    let id = create_alice(&s);
    let delete = |s: &Setup| block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(
        calls(&s, &delete),
        count(&[("GET /Users/{id}", 1), ("PATCH /Users/{id}", 1)])
    );
    let recreate = |s: &Setup| drop(block_on(s.p.create_user(&ctx(), alice())).unwrap());
    assert_eq!(
        calls(&s, &recreate),
        count(&[("GET /Users", 1), ("PUT /Users/{id}", 1)])
    );
    // keep: one read, nothing written.
    let s = cloud_with(keep_and_never_remove());
    let id = create_alice(&s);
    let delete = |s: &Setup| block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(calls(&s, &delete), count(&[("GET /Users/{id}", 1)]));
    // deactivate removing every group but the kept: one read, one PATCH, one per group left.
    let s = cloud_with(
        SyncPolicy::builder()
            .remove_groups(RemoveGroups::All)
            .keep_group("^keep$")
            .build()
            .unwrap(),
    );
    let id = create_alice(&s);
    for name in ["a", "b", "keep"] {
        block_on(s.p.create_group(&ctx(), group(name, &[&id]))).unwrap();
    }
    let deactivate =
        |s: &Setup| drop(block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap());
    assert_eq!(
        calls(&s, &deactivate),
        count(&[
            ("GET /Users/{id}", 1),
            ("PATCH /Groups/{id}", 2),
            ("PATCH /Users/{id}", 1)
        ])
    );
    // The default policy still forwards a deactivation as it is.
    let s = cloud_with(SyncPolicy::default());
    let id = create_alice(&s);
    let deactivate =
        |s: &Setup| drop(block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap());
    assert_eq!(calls(&s, &deactivate), count(&[("PATCH /Users/{id}", 1)]));
}

#[test]
fn a_dry_run_anonymizes_nothing_and_remembers_nothing() {
    let sim = Arc::new(CloudSimulator::new("dir-1", KEY));
    let id = block_on(raw(&sim).create_user(&ctx(), alice()))
        .unwrap()
        .id
        .unwrap();
    let store = Arc::new(InMemoryDeprovisioned::new());
    let dry = CloudProvisioner::builder(sim.directory_url(), KEY)
        .client(sim.clone())
        .policy(policy(DeprovisionAction::Anonymize))
        .deprovisioned_users(store.clone())
        .dry_run(true)
        .build()
        .unwrap();
    block_on(dry.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(store.get(&id).unwrap(), None);
    assert_alice(&block_on(dry.get_user(&ctx(), &id)).unwrap());
    assert_alice(&in_cloud(&sim, &id));
}

/// Searches leave out users a SCIM `DELETE` hid, from the results, the total and the offsets
/// alike, whichever page they fall on; scans show them inactive, so every scan page but the
/// last is full.
#[test]
fn hidden_users_are_left_out_of_search_totals_and_offsets_and_scans_stay_full() {
    const USERS: usize = 150;
    let hide = [0_usize, 3, 42, 99, 130];
    for action in [DeprovisionAction::Keep, DeprovisionAction::Anonymize] {
        let s = cloud_with(policy(action));
        let mut ids = Vec::new();
        for i in 0..USERS {
            let mut u = User::new(format!("user{i:03}@example.com"));
            u.emails = vec![MultiValue::new(format!("user{i:03}@example.com")).primary()];
            ids.push(block_on(s.p.create_user(&ctx(), u)).unwrap().id.unwrap());
        }
        for i in hide {
            block_on(s.p.delete_user(&ctx(), &ids[i], None)).unwrap();
        }
        let shown = USERS - hide.len();
        let expected: std::collections::BTreeSet<String> = (0..USERS)
            .filter(|i| !hide.contains(i))
            .map(|i| ids[i].clone())
            .collect();
        let everyone = || {
            scim_core::provision::ListQuery::new()
                .with_filter(r#"userName ew "@example.com""#.parse().unwrap())
        };
        let page = block_on(s.p.search_users(&ctx(), &everyone())).unwrap();
        assert_eq!(page.total_results, shown as u64, "{action:?}");
        let mut all = Vec::new();
        for start in [1_u64, 51, 101] {
            let q = scim_core::provision::ListQuery {
                start_index: start,
                count: Some(50),
                ..everyone()
            };
            let page = block_on(s.p.search_users(&ctx(), &q)).unwrap();
            assert_eq!(page.total_results, shown as u64, "{action:?} at {start}");
            all.extend(page.resources.into_iter().map(|u| u.id.unwrap()));
        }
        assert_eq!(all.len(), shown, "{action:?}: {all:?}");
        let distinct: std::collections::BTreeSet<String> = all.into_iter().collect();
        assert_eq!(distinct, expected, "{action:?}");
        // A lookup Cloud serves (`userName eq`) does not find a hidden user either.
        let q = scim_core::provision::ListQuery::new()
            .with_filter(r#"userName eq "user042@example.com""#.parse().unwrap());
        let page = block_on(s.p.search_users(&ctx(), &q)).unwrap();
        assert_eq!(page.total_results, 0, "{action:?}");
        assert!(page.resources.is_empty());

        // Scans: full pages, hidden users shown inactive.
        let first = block_on(s.p.scan_users(&ctx(), 0, 100)).unwrap();
        let rest = block_on(s.p.scan_users(&ctx(), 100, 100)).unwrap();
        assert_eq!((first.len(), rest.len()), (100, USERS - 100), "{action:?}");
        let inactive: Vec<&User> = first
            .iter()
            .chain(&rest)
            .filter(|u| u.active == Some(false))
            .collect();
        assert_eq!(inactive.len(), hide.len(), "{action:?}");
    }
}

/// A filter Cloud serves (`externalId eq`) asked for a later page: the users a SCIM `DELETE`
/// hid before that page do not shift it, the total leaves them out, and Cloud is asked once.
#[test]
fn a_forwarded_search_past_the_first_page_skips_hidden_users_in_one_call() {
    for action in [DeprovisionAction::Keep, DeprovisionAction::Anonymize] {
        let s = cloud_with(policy(action));
        let mut ids = Vec::new();
        for i in 0..6 {
            let mut u = User::new(format!("shared{i}@example.com"));
            u.external_id = Some("shared".to_owned());
            u.emails = vec![MultiValue::new(format!("shared{i}@example.com")).primary()];
            ids.push(block_on(s.p.create_user(&ctx(), u)).unwrap().id.unwrap());
        }
        // Hidden: the first (before the page asked for) and the fifth (after it).
        block_on(s.p.delete_user(&ctx(), &ids[0], None)).unwrap();
        block_on(s.p.delete_user(&ctx(), &ids[4], None)).unwrap();
        let query = |start_index: u64, count: u64| ListQuery {
            start_index,
            count: Some(count),
            ..ListQuery::new().with_filter(r#"externalId eq "shared""#.parse().unwrap())
        };
        s.sim.reset_calls();
        let page = block_on(s.p.search_users(&ctx(), &query(2, 2))).unwrap();
        let got: Vec<String> = page.resources.into_iter().map(|u| u.id.unwrap()).collect();
        assert_eq!(got, [ids[2].clone(), ids[3].clone()], "{action:?}");
        assert_eq!(page.total_results, 4, "{action:?}");
        assert_eq!(page.start_index, 2);
        let calls = s.sim.requests();
        assert_eq!(calls.len(), 1, "{action:?}: {calls:?}");

        // The last shown user, and past the end.
        let page = block_on(s.p.search_users(&ctx(), &query(4, 5))).unwrap();
        let got: Vec<String> = page.resources.into_iter().map(|u| u.id.unwrap()).collect();
        assert_eq!(got, [ids[5].clone()], "{action:?}");
        assert_eq!(page.total_results, 4);
        let page = block_on(s.p.search_users(&ctx(), &query(9, 5))).unwrap();
        assert!(page.resources.is_empty());
        assert_eq!(page.total_results, 4);
    }
}
