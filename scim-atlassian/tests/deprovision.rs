//! Deprovisioning choices (deactivate, delete, anonymize, keep; membership removal), licence
//! seat checks, and history entries naming what the product really did (Atlassian Cloud's:
//! `cloud_deprovision.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

// The conformance macro is not used here.
#[allow(unused_macros, unused_imports)]
mod common;

use std::sync::Arc;

use common::{active, ctx, user, user_in};

use scim_atlassian::history::{
    HistoryEntry, HistoryObserver, HistoryQuery, InMemoryHistory, Outcome, RecordingProvisioner,
    SyncHistory,
};
use scim_atlassian::policy::{DeprovisionAction, PolicyError, RemoveGroups, SyncPolicy};
use scim_atlassian::simulator::{CrowdSimulator, JiraSimulator};
use scim_atlassian::{AtlassianError, AtlassianProvisioner, Credentials};
use scim_core::ScimError;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{ListQuery, Provisioner};

struct Setup {
    sim: Arc<JiraSimulator>,
    history: Arc<InMemoryHistory>,
    p: RecordingProvisioner<AtlassianProvisioner>,
}

fn jira_with(policy: SyncPolicy) -> Setup {
    let sim = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    let jira = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
        .client(sim.clone())
        .observer(Arc::new(HistoryObserver::new()))
        .policy(policy)
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(100));
    let p = RecordingProvisioner::new(jira, history.clone());
    Setup { sim, history, p }
}

fn latest(h: &InMemoryHistory) -> HistoryEntry {
    block_on(h.list(&HistoryQuery::new().limit(1)))
        .unwrap()
        .remove(0)
}

fn policy(action: DeprovisionAction) -> SyncPolicy {
    SyncPolicy::builder().deprovision(action).build().unwrap()
}

#[test]
fn a_delete_under_deactivate_is_recorded_as_the_deactivation_it_was() {
    let s = jira_with(SyncPolicy::default());
    let id = block_on(s.p.create_user(&ctx(), user_in("alice", &["devs"])))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    let e = latest(&s.history);
    assert!(
        e.changes
            .contains(&format!("deactivated user {id} in Jira")),
        "{}",
        e.changes
    );
    assert!(
        e.changes
            .contains(&format!("removed user {id} from 1 group(s): devs")),
        "{}",
        e.changes
    );
    assert!(!e.changes.contains("deleted"), "{}", e.changes);
    assert!(!s.sim.user("alice").unwrap().active);
}

#[test]
fn a_delete_under_delete_is_recorded_as_a_deletion() {
    let s = jira_with(policy(DeprovisionAction::Delete));
    let id = block_on(s.p.create_user(&ctx(), user("alice")))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert_eq!(
        latest(&s.history).changes,
        format!("deleted user {id} from Jira")
    );
    assert!(s.sim.user("alice").is_none());
}

#[test]
fn anonymize_replaces_name_email_and_display_name_and_recreating_restores_them() {
    let s = jira_with(policy(DeprovisionAction::Anonymize));
    let mut u = user_in("alice", &["devs"]);
    u.external_id = Some("ext-alice".to_owned());
    let id = block_on(s.p.create_user(&ctx(), u.clone()))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();

    assert!(s.sim.user("alice").is_none(), "the name is gone from Jira");
    let anon = s.sim.user_by_key(&id).unwrap();
    assert!(
        anon.name.starts_with("anon-") && anon.name.len() == 21,
        "{anon:?}"
    );
    assert_eq!(anon.email, format!("{}@anonymized.invalid", anon.name));
    assert_eq!(anon.display_name, "Anonymized user");
    assert!(!anon.active);
    assert!(!anon.email.contains("alice") && !anon.display_name.contains("alice"));
    let err = block_on(s.p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    let e = latest(&s.history);
    assert!(
        e.changes.contains("anonymized and deactivated user"),
        "{}",
        e.changes
    );

    // Re-provisioned: the same account, its own values back, active.
    let back = block_on(s.p.create_user(&ctx(), u)).unwrap();
    assert_eq!(back.id.as_deref(), Some(id.as_str()));
    assert_eq!(back.user_name, "alice");
    assert_eq!(back.active, Some(true));
    let restored = s.sim.user_by_key(&id).unwrap();
    assert_eq!(
        (
            restored.name.as_str(),
            restored.email.as_str(),
            restored.display_name.as_str(),
            restored.active
        ),
        ("alice", "alice@example.com", "alice display", true)
    );
    assert_eq!(s.sim.user_count(), 1, "no second account");
    assert!(
        latest(&s.history).changes.contains("restored user"),
        "{}",
        latest(&s.history).changes
    );
    let again = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(again.external_id.as_deref(), Some("ext-alice"));
}

#[test]
fn anonymized_users_kept_by_the_idp_show_their_own_values_until_reactivated() {
    let s = jira_with(policy(DeprovisionAction::Anonymize));
    let id = block_on(s.p.create_user(&ctx(), user("bob")))
        .unwrap()
        .id
        .unwrap();
    let answered = block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(answered.active, Some(false));
    assert!(s.sim.user_by_key(&id).unwrap().name.starts_with("anon-"));
    // SCIM still shows the IdP its user as it sent it.
    let shown = block_on(s.p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(shown.user_name, "bob");
    assert_eq!(shown.active, Some(false));
    assert_eq!(shown.emails[0].value.as_deref(), Some("bob@example.com"));

    // A write that keeps the user inactive changes the kept values, not Jira's opaque ones.
    let mut renamed = user("bob");
    renamed.display_name = Some("Bob Renamed".to_owned());
    renamed.active = Some(false);
    let r = block_on(s.p.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(r.display_name.as_deref(), Some("Bob Renamed"));
    assert_eq!(
        s.sim.user_by_key(&id).unwrap().display_name,
        "Anonymized user"
    );

    let back = block_on(s.p.patch_user(&ctx(), &id, &active(true), None)).unwrap();
    assert_eq!(back.active, Some(true));
    let jira = s.sim.user_by_key(&id).unwrap();
    assert_eq!(
        (jira.name.as_str(), jira.display_name.as_str(), jira.active),
        ("bob", "Bob Renamed", true)
    );
}

#[test]
fn keep_leaves_the_account_active_and_only_hides_it_from_scim() {
    let s = jira_with(policy(DeprovisionAction::Keep));
    let id = block_on(s.p.create_user(&ctx(), user_in("carol", &["devs"])))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(s.sim.user("carol").unwrap().active);
    // remove_groups defaults to on_delete: a DELETE still drops the memberships.
    assert_eq!(s.sim.group_members("devs").unwrap(), Vec::<String>::new());
    assert_eq!(
        block_on(s.p.get_user(&ctx(), &id))
            .unwrap_err()
            .status()
            .as_u16(),
        404
    );
    assert!(
        latest(&s.history)
            .changes
            .starts_with(&format!("kept user {id} as it is in Jira")),
        "{}",
        latest(&s.history).changes
    );
}

/// The names of the users `filter` finds.
fn found(p: &dyn Provisioner, filter: &str) -> Vec<String> {
    let q = ListQuery::new().with_filter(filter.parse().unwrap());
    block_on(p.search_users(&ctx(), &q))
        .unwrap()
        .resources
        .into_iter()
        .map(|u| u.user_name)
        .collect()
}

/// Under `keep`, an identity provider's `active: false` leaves the product's account active
/// but SCIM answers what the identity provider set (a GET, a search on `active`), until it
/// sets `active: true` again; `is_active` reads the product's own flag.
fn keep_answers_what_the_idp_set(
    p: &dyn Provisioner,
    history: &InMemoryHistory,
    is_active: &dyn Fn() -> bool,
    product: &str,
) {
    let id = block_on(p.create_user(&ctx(), user("kim")))
        .unwrap()
        .id
        .unwrap();
    let patched = block_on(p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(patched.active, Some(false));
    assert!(is_active(), "the product's account was left alone");
    let read = block_on(p.get_user(&ctx(), &id)).unwrap();
    assert_eq!(read.active, Some(false), "GET shows what the IdP set");
    assert_eq!(
        read.meta.as_ref().and_then(|m| m.version.clone()),
        patched.meta.as_ref().and_then(|m| m.version.clone()),
        "the PATCH answered the resource a GET reads"
    );
    let changes = latest(history).changes;
    assert!(
        changes.starts_with(&format!("kept user {id} as it is in {product}"))
            && changes.contains("SCIM shows it inactive"),
        "{changes}"
    );
    assert_eq!(found(p, "active eq false"), ["kim"]);
    assert!(found(p, "active eq true").is_empty());

    // The same `active: false` again is no change; other attributes change, still inactive.
    block_on(p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert!(latest(history).changes.starts_with("no change"));
    let mut renamed = user("kim");
    renamed.display_name = Some("Kim Renamed".to_owned());
    renamed.active = Some(false);
    let r = block_on(p.replace_user(&ctx(), &id, renamed, None)).unwrap();
    assert_eq!(
        (r.active, r.display_name.as_deref()),
        (Some(false), Some("Kim Renamed"))
    );
    assert!(is_active());

    // `active: true` ends it; nothing to write to the product.
    let back = block_on(p.patch_user(&ctx(), &id, &active(true), None)).unwrap();
    assert_eq!(back.active, Some(true));
    assert_eq!(
        block_on(p.get_user(&ctx(), &id)).unwrap().active,
        Some(true)
    );
    assert!(is_active());
    let changes = latest(history).changes;
    assert!(changes.contains("reactivated user"), "{changes}");
    assert_eq!(found(p, "active eq true"), ["kim"]);
}

#[test]
fn keep_on_jira_answers_the_idps_active_false_without_deactivating() {
    let s = jira_with(policy(DeprovisionAction::Keep));
    let sim = s.sim.clone();
    keep_answers_what_the_idp_set(
        &s.p,
        &s.history,
        &|| sim.user("kim").unwrap().active,
        "Jira",
    );
}

#[test]
fn keep_on_crowd_answers_the_idps_active_false_without_deactivating() {
    let app = Credentials::basic("app", "pw");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let crowd = AtlassianProvisioner::crowd("https://crowd.example.com", app)
        .client(sim.clone())
        .observer(Arc::new(HistoryObserver::new()))
        .policy(policy(DeprovisionAction::Keep))
        .build()
        .unwrap();
    let history = Arc::new(InMemoryHistory::with_capacity(100));
    let p = RecordingProvisioner::new(crowd, history.clone());
    keep_answers_what_the_idp_set(&p, &history, &|| sim.user("kim").unwrap().active, "Crowd");
}

#[test]
fn remove_groups_all_on_deactivation_spares_the_keep_groups() {
    let policy = SyncPolicy::builder()
        .remove_groups(RemoveGroups::All)
        .keep_group("^jira-admin")
        .build()
        .unwrap();
    let s = jira_with(policy);
    let id = block_on(s.p.create_user(
        &ctx(),
        user_in("dave", &["devs", "jira-administrators", "ops"]),
    ))
    .unwrap()
    .id
    .unwrap();
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert!(!s.sim.user("dave").unwrap().active);
    assert_eq!(s.sim.group_members("devs").unwrap(), Vec::<String>::new());
    assert_eq!(s.sim.group_members("ops").unwrap(), Vec::<String>::new());
    assert_eq!(
        s.sim.group_members("jira-administrators").unwrap(),
        vec!["dave".to_owned()]
    );
    let changes = latest(&s.history).changes;
    assert!(
        changes.contains("deactivated user") && changes.contains("from 2 group(s): devs, ops"),
        "{changes}"
    );
}

#[test]
fn remove_groups_managed_drops_only_what_the_idp_gave() {
    let policy = SyncPolicy::builder()
        .remove_groups(RemoveGroups::Managed)
        .build()
        .unwrap();
    let s = jira_with(policy);
    let id = block_on(s.p.create_user(&ctx(), user_in("erin", &["devs"])))
        .unwrap()
        .id
        .unwrap();
    // Granted in Jira by an administrator, not through the IdP.
    block_on(
        s.p.inner()
            .jira_client()
            .unwrap()
            .create_group("local-admins"),
    )
    .unwrap();
    block_on(
        s.p.inner()
            .jira_client()
            .unwrap()
            .add_member("local-admins", "erin"),
    )
    .unwrap();
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    assert_eq!(s.sim.group_members("devs").unwrap(), Vec::<String>::new());
    assert_eq!(
        s.sim.group_members("local-admins").unwrap(),
        vec!["erin".to_owned()]
    );
}

#[test]
fn remove_groups_never_keeps_memberships_even_on_delete() {
    let policy = SyncPolicy::builder()
        .remove_groups(RemoveGroups::Never)
        .build()
        .unwrap();
    let s = jira_with(policy);
    let id = block_on(s.p.create_user(&ctx(), user_in("fay", &["devs"])))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(!s.sim.user("fay").unwrap().active);
    assert_eq!(s.sim.group_members("devs").unwrap(), vec!["fay".to_owned()]);
}

fn seats_setup(seats: u64, reserve: u64) -> Setup {
    let policy = SyncPolicy::builder()
        .enforce_seats(reserve)
        .default_group_for_new("jira-software-users")
        .build()
        .unwrap();
    let s = jira_with(policy);
    s.sim.set_application_role(
        "jira-software",
        "Jira Software",
        &["jira-software-users"],
        Some(seats),
        true,
    );
    s
}

#[test]
fn a_create_past_the_seats_minus_the_reserve_is_refused_and_recorded() {
    let s = seats_setup(3, 1);
    block_on(s.p.create_user(&ctx(), user("u1"))).unwrap();
    block_on(s.p.create_user(&ctx(), user("u2"))).unwrap();
    let err = block_on(s.p.create_user(&ctx(), user("u3"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    assert_eq!(err.scim_type(), None);
    let detail = err.detail();
    assert!(
        detail.contains("Jira Software licence has 2 of 3 seats taken and 1 kept free"),
        "{detail}"
    );
    assert!(s.sim.user("u3").is_none(), "nothing half-provisioned");
    assert_eq!(s.sim.user_count(), 2);
    let e = latest(&s.history);
    assert!(
        matches!(&e.outcome, Outcome::Failure { status: 403, .. }),
        "{:?}",
        e.outcome
    );
    assert!(
        e.changes
            .starts_with("refused user \"u3\" for licence seats"),
        "{}",
        e.changes
    );
}

#[test]
fn a_reactivation_past_the_seats_is_refused() {
    let s = seats_setup(1, 0);
    let id = block_on(s.p.create_user(&ctx(), user("u1")))
        .unwrap()
        .id
        .unwrap();
    block_on(s.p.patch_user(&ctx(), &id, &active(false), None)).unwrap();
    block_on(s.p.create_user(&ctx(), user("u2"))).unwrap();
    let err = block_on(s.p.patch_user(&ctx(), &id, &active(true), None)).unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    assert!(!s.sim.user("u1").unwrap().active);
}

#[test]
fn a_reserve_as_large_as_the_licence_says_so() {
    let s = seats_setup(2, 2);
    let err = block_on(s.p.create_user(&ctx(), user("u1"))).unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    assert!(
        err.detail()
            .contains("seats.reserve (2) is not below the 2 seats"),
        "{}",
        err.detail()
    );
    assert_eq!(s.sim.user_count(), 0);
}

#[test]
fn bad_settings_are_named() {
    let err = SyncPolicy::builder()
        .keep_group("jira-(admins")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, PolicyError::Regex { setting, .. } if setting == "deprovision.keep_groups[0]"),
        "{err}"
    );
    let mut p = SyncPolicy::default();
    p.seats.reserve = 3;
    let err = p.validate().unwrap_err();
    assert!(err.to_string().contains("seats.reserve"), "{err}");
    let err = SyncPolicy::builder()
        .remove_groups(RemoveGroups::Never)
        .keep_group("x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("deprovision.keep_groups"), "{err}");
    let err = SyncPolicy::from_json_str(r#"{"deprovision": {"action": "shred"}}"#).unwrap_err();
    assert!(err.to_string().contains("shred"), "{err}");

    // Crowd cannot tell its seats: enforcing them is refused when built.
    let app = Credentials::basic("app", "pw");
    let err = AtlassianProvisioner::crowd("https://crowd.example.com", app.clone())
        .client(Arc::new(CrowdSimulator::new(app)))
        .policy(SyncPolicy::builder().enforce_seats(0).build().unwrap())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AtlassianError::Policy(PolicyError::Invalid { setting, .. }) if setting == "seats.enforce"),
        "{err}"
    );
}

#[test]
fn crowd_anonymizes_and_restores_too() {
    let app = Credentials::basic("app", "pw");
    let sim = Arc::new(CrowdSimulator::new(app.clone()));
    let p = AtlassianProvisioner::crowd("https://crowd.example.com", app)
        .client(sim.clone())
        .policy(policy(DeprovisionAction::Anonymize))
        .build()
        .unwrap();
    let id = block_on(p.create_user(&ctx(), user("gina")))
        .unwrap()
        .id
        .unwrap();
    block_on(p.delete_user(&ctx(), &id, None)).unwrap();
    assert!(sim.user("gina").is_none());
    let err: ScimError = block_on(p.get_user(&ctx(), &id)).unwrap_err();
    assert_eq!(err.status().as_u16(), 404);
    let back = block_on(p.create_user(&ctx(), user("gina"))).unwrap();
    assert_eq!(back.id.as_deref(), Some(id.as_str()));
    let crowd_user = sim.user("gina").unwrap();
    assert!(crowd_user.active);
    assert_eq!(crowd_user.email, "gina@example.com");
    assert_eq!(sim.user_count(), 1);
}
