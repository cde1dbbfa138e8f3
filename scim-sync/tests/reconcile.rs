#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{Group, Member, OpKind, PatchOp, PatchOperation, User};
use scim_sync::{
    DirectorySource, FileSource, Plan, Reconciler, ScimSource, Step, SyncError, SyncOptions,
};
use serde_json::json;

const TENANT: &str = "acme";

/// An export of `n` users (`u0`..) and groups `even` and `all`, members named by userName
/// (`even`) and by externalId (`all`).
fn export(n: usize, skip: &[usize]) -> FileSource {
    let keep: Vec<usize> = (0..n).filter(|i| !skip.contains(i)).collect();
    let users: Vec<_> = keep
        .iter()
        .map(|i| {
            json!({
                "userName": format!("u{i}"),
                "externalId": format!("e{i}"),
                "name": {"givenName": "User", "familyName": format!("Number {i}")},
                "emails": [{"value": format!("u{i}@example.com"), "primary": true}],
            })
        })
        .collect();
    let even: Vec<_> = keep
        .iter()
        .filter(|i| *i % 2 == 0)
        .map(|i| json!({"value": format!("U{i}")}))
        .collect();
    let all: Vec<_> = keep
        .iter()
        .map(|i| json!({"value": format!("e{i}")}))
        .collect();
    let doc = json!({
        "users": users,
        "groups": [
            {"displayName": "even", "members": even},
            {"displayName": "all", "externalId": "g-all", "members": all},
        ],
    });
    FileSource::from_json_str(&doc.to_string())
        .unwrap()
        .with_page_size(7)
}

/// A target with the reconciler that syncs into it, whose ledger remembers the groups earlier
/// syncs of the test made.
#[derive(Default)]
struct Target {
    inner: InMemoryProvisioner,
    reconciler: Reconciler,
}

impl std::ops::Deref for Target {
    type Target = InMemoryProvisioner;
    fn deref(&self) -> &InMemoryProvisioner {
        &self.inner
    }
}

fn plan(source: &dyn DirectorySource, target: &Target) -> Plan {
    block_on(
        target
            .reconciler
            .plan(source, &target.inner, &RequestContext::new(TENANT)),
    )
    .unwrap()
}

fn sync(source: &dyn DirectorySource, target: &Target) -> Plan {
    let plan = plan(source, target);
    let report = block_on(plan.apply(&target.inner, &RequestContext::new(TENANT))).unwrap();
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.done, plan.steps().len());
    plan
}

fn user(target: &InMemoryProvisioner, name: &str) -> User {
    let ctx = RequestContext::new(TENANT);
    let users = block_on(target.scan_users(&ctx, 0, 10_000)).unwrap();
    users
        .into_iter()
        .find(|u| u.user_name == name)
        .unwrap_or_else(|| panic!("no user {name}"))
}

fn group(target: &InMemoryProvisioner, name: &str) -> Group {
    let ctx = RequestContext::new(TENANT);
    let groups = block_on(target.scan_groups(&ctx, 0, 10_000)).unwrap();
    groups
        .into_iter()
        .find(|g| g.display_name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

#[test]
fn initial_sync_creates_everything_and_converges() {
    let target = Target::default();
    let source = export(20, &[]);
    let first = sync(&source, &target);
    let s = first.summary();
    assert_eq!((s.create_users, s.create_groups), (20, 2));
    assert_eq!(first.steps().len(), 22);
    assert_eq!(target.user_count(TENANT), 20);
    assert_eq!(group(&target, "even").members.len(), 10);
    let all = group(&target, "all");
    assert_eq!(all.members.len(), 20);
    assert_eq!(all.external_id.as_deref(), Some("g-all"));
    assert_eq!(user(&target, "u3").external_id.as_deref(), Some("e3"));

    let again = plan(&source, &target);
    assert!(again.is_empty(), "{again}");
    assert!(again.to_string().starts_with("nothing to do"), "{again}");
}

#[test]
fn drift_converges_in_one_run() {
    let target = Target::default();
    let ctx = RequestContext::new(TENANT);
    sync(&export(20, &[]), &target);

    // By hand at the target: an attribute changed, a membership removed, a user deactivated.
    let u1 = user(&target, "u1");
    let patch = PatchOp::new(vec![
        PatchOperation::with_path(OpKind::Replace, "name.familyName", Some(json!("Changed")))
            .unwrap(),
    ]);
    block_on(target.patch_user(&ctx, u1.id.as_deref().unwrap(), &patch, None)).unwrap();
    let u2 = user(&target, "u2");
    let even = group(&target, "even");
    block_on(target.remove_members(&ctx, even.id.as_deref().unwrap(), &[u2.id.clone().unwrap()]))
        .unwrap();
    let inactive = PatchOp::new(vec![
        PatchOperation::with_path(OpKind::Replace, "active", Some(json!(false))).unwrap(),
    ]);
    block_on(target.patch_user(&ctx, u2.id.as_deref().unwrap(), &inactive, None)).unwrap();
    // At the source: u4 is gone.
    let source = export(20, &[4]);

    let fix = sync(&source, &target);
    let s = fix.summary();
    assert_eq!(s.update_users, 1, "{fix}");
    assert_eq!(s.activate_users, 1, "{fix}");
    assert_eq!(s.deactivate_users, 1, "{fix}");
    assert_eq!(s.add_members, 1, "{fix}");
    assert_eq!(s.remove_members, 2, "{fix}"); // u4 from both groups
    assert_eq!(
        (s.create_users, s.create_groups, s.delete_groups),
        (0, 0, 0)
    );
    // Only the changed attribute is written.
    let update = fix
        .steps()
        .iter()
        .find_map(|st| match st {
            Step::UpdateUser { changes, .. } => Some(changes.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].attribute, "name");

    let u1 = user(&target, "u1");
    assert_eq!(u1.name.unwrap().family_name.as_deref(), Some("Number 1"));
    assert_ne!(user(&target, "u2").active, Some(false));
    let u4 = user(&target, "u4");
    assert_eq!(u4.active, Some(false), "deactivated, not deleted");
    assert_eq!(target.user_count(TENANT), 20);
    let even = group(&target, "even");
    assert!(even.members.iter().any(|m| m.value == u2.id));
    assert!(!even.members.iter().any(|m| m.value == u4.id));

    let again = plan(&source, &target);
    assert!(again.is_empty(), "{again}");

    // u4 comes back at the source: reactivated, and back in its groups.
    let back = sync(&export(20, &[]), &target);
    assert_eq!(back.summary().activate_users, 1, "{back}");
    assert_eq!(back.summary().add_members, 2, "{back}");
    assert!(plan(&export(20, &[]), &target).is_empty());
}

#[test]
fn scim_source_syncs_and_converges() {
    let (idp, client) = common::idp();
    let idp_ctx = RequestContext::new(common::TENANT);
    let mut ids = Vec::new();
    block_on(async {
        for i in 0..12 {
            let mut u = User::new(format!("person{i}"));
            u.external_id = Some(format!("p{i}"));
            u.display_name = Some(format!("Person {i}"));
            ids.push(idp.create_user(&idp_ctx, u).await.unwrap().id.unwrap());
        }
        let mut g = Group::new("Staff");
        g.members = ids
            .iter()
            .take(5)
            .map(|id| Member::new(id.clone()))
            .collect();
        idp.create_group(&idp_ctx, g).await.unwrap();
    });
    let source = ScimSource::new(client, "http://idp.test/scim/v2")
        .with_bearer_token(common::TOKEN)
        .with_page_size(5);
    let target = Target::default();
    let first = sync(&source, &target);
    assert_eq!(first.summary().create_users, 12);
    assert_eq!(group(&target, "Staff").members.len(), 5);
    assert!(plan(&source, &target).is_empty());

    // At the source: one user deactivated, renamed, and moved out of the group.
    block_on(async {
        let patch = PatchOp::new(vec![
            PatchOperation::with_path(OpKind::Replace, "active", Some(json!(false))).unwrap(),
            PatchOperation::with_path(OpKind::Replace, "displayName", Some(json!("Gone"))).unwrap(),
        ]);
        idp.patch_user(&idp_ctx, &ids[0], &patch, None)
            .await
            .unwrap();
        let staff = idp.scan_groups(&idp_ctx, 0, 10).await.unwrap();
        let staff_id = staff[0].id.clone().unwrap();
        idp.remove_members(&idp_ctx, &staff_id, &[ids[0].clone()])
            .await
            .unwrap();
    });
    let fix = sync(&source, &target);
    let s = fix.summary();
    assert_eq!(
        (s.update_users, s.deactivate_users, s.remove_members),
        (1, 1, 1),
        "{fix}"
    );
    let p0 = user(&target, "person0");
    assert_eq!(p0.display_name.as_deref(), Some("Gone"));
    assert_eq!(p0.active, Some(false));
    assert!(plan(&source, &target).is_empty());
}

#[test]
fn safety_rail_stops_an_empty_source_unless_forced() {
    let target = Target::default();
    let ctx = RequestContext::new(TENANT);
    sync(&export(20, &[]), &target);

    let empty = FileSource::from_json_str("{}").unwrap();
    let wipe = plan(&empty, &target);
    assert_eq!(wipe.summary().deactivate_users, 20);
    let err = block_on(wipe.apply(&target.inner, &ctx)).unwrap_err();
    assert!(matches!(
        err,
        SyncError::SafetyLimit {
            affected: 20,
            allowed: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "refusing to apply: the plan deactivates or deletes 20 of the target's 20 users, more \
         than the limit of 2 (10%); check the source, or force the plan"
    );
    // Nothing was written.
    assert!(plan(&export(20, &[]), &target).is_empty());

    // Two missing users are within 10% of 20.
    let two = plan(&export(20, &[0, 1]), &target);
    two.check_limits().unwrap();

    let report = block_on(wipe.apply_forced(&target.inner, &ctx));
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(target.user_count(TENANT), 20, "deactivated, not deleted");
    assert_eq!(target.group_count(TENANT), 0);
    assert!(plan(&empty, &target).is_empty());

    // A looser limit lets it through without forcing.
    let target = Target::default();
    sync(&export(20, &[]), &target);
    let loose = Reconciler::new().with_options(SyncOptions::default().max_deactivate_fraction(1.0));
    let wipe = block_on(loose.plan(&empty, &target.inner, &ctx)).unwrap();
    block_on(wipe.apply(&target.inner, &ctx)).unwrap();
}

#[test]
fn plan_prints_and_serializes() {
    let target = Target::default();
    let source = FileSource::from_csv_str(
        "userName,externalId,email,groups\nalice,a1,alice@example.com,eng\nbob,,,eng;ops\n",
    )
    .unwrap();
    let p = plan(&source, &target);
    let text = p.to_string();
    assert_eq!(
        text,
        "plan for a target of 0 users: users 2 to create, 0 to update, 0 to activate, 0 to \
         deactivate, 0 to delete; groups 2 to create, 0 to update, 0 to delete; memberships 0 to add, 0 to \
         remove\n\
         + create user alice\n\
         + create user bob\n\
         + create group eng with 2 members: alice, bob\n\
         + create group ops with 1 members: bob"
    );
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["summary"]["createUsers"], 2);
    assert_eq!(v["targetUsers"], 0);
    assert_eq!(v["limits"]["maxDeactivateFraction"], 0.1);
    assert_eq!(v["steps"][0]["op"], "createUser");
    assert_eq!(v["steps"][0]["user"]["userName"], "alice");
    assert_eq!(v["steps"][0]["user"]["externalId"], "a1");
    assert_eq!(v["steps"][2]["op"], "createGroup");
    assert_eq!(
        v["steps"][2]["members"],
        json!([{"userName": "alice"}, {"userName": "bob"}])
    );

    // Updates show the attributes they set.
    sync(&source, &target);
    let changed = FileSource::from_csv_str(
        "userName,externalId,email,groups\nalice,a1,alice@corp.example,eng\nbob,,,eng\n",
    )
    .unwrap();
    let p = plan(&changed, &target);
    let text = p.to_string();
    assert!(text.contains("~ update user alice ("), "{text}");
    assert!(text.contains("): emails"), "{text}");
    assert!(text.contains("- delete group ops ("), "{text}");
    let v = serde_json::to_value(&p).unwrap();
    let update = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["op"] == "updateUser")
        .unwrap();
    assert_eq!(update["changes"][0]["attribute"], "emails");
    assert_eq!(
        update["changes"][0]["value"][0]["value"],
        "alice@corp.example"
    );
}

#[test]
fn unknown_members_are_warned_about_not_invented() {
    let target = Target::default();
    let source = FileSource::from_json_str(
        r#"{"users": [{"userName": "alice"}],
            "groups": [{"displayName": "eng", "members": [{"value": "alice"}, {"value": "ghost"}]}]}"#,
    )
    .unwrap();
    let p = sync(&source, &target);
    assert_eq!(p.warnings().len(), 1);
    assert!(
        p.to_string().contains("warning: group eng: member `ghost`"),
        "{p}"
    );
    assert_eq!(group(&target, "eng").members.len(), 1);
}

#[test]
fn apply_with_concurrency_one_and_many() {
    for n in [1, 16] {
        let target = InMemoryProvisioner::new();
        let ctx = RequestContext::new(TENANT);
        let r = Reconciler::new().with_options(SyncOptions::default().concurrency(n));
        let source = export(50, &[]);
        let p = block_on(r.plan(&source, &target, &ctx)).unwrap();
        let report = block_on(p.apply(&target, &ctx)).unwrap();
        assert_eq!((report.done, report.failed), (52, 0), "{report}");
        assert!(block_on(r.plan(&source, &target, &ctx)).unwrap().is_empty());
    }
}

/// Leaves out users whose name starts with `svc-` and groups named `internal`, and prefixes
/// the other groups' names.
struct Scoped;

impl scim_sync::Policy for Scoped {
    fn user(&self, user: User) -> Option<User> {
        (!user.user_name.starts_with("svc-")).then_some(user)
    }

    fn target_groups(&self, group: &Group) -> Option<Vec<String>> {
        (group.display_name != "internal").then(|| vec![format!("idp-{}", group.display_name)])
    }
}

#[test]
fn a_policy_scopes_and_shapes_what_is_synced() {
    let target = InMemoryProvisioner::new();
    let ctx = RequestContext::new(TENANT);
    let source =
        FileSource::from_csv_str("userName,groups\nalice,eng;internal\nsvc-backup,eng\nbob,eng\n")
            .unwrap();
    let reconciler = Reconciler::new().with_policy(std::sync::Arc::new(Scoped));
    let p = block_on(reconciler.plan(&source, &target, &ctx)).unwrap();
    block_on(p.apply(&target, &ctx)).unwrap();
    assert_eq!(target.user_count(TENANT), 2);
    assert_eq!(target.group_count(TENANT), 1);
    assert_eq!(group(&target, "idp-eng").members.len(), 2);
    // The skipped user is a member the policy left out: said, not invented.
    assert!(p.warnings()[0].contains("svc-backup"), "{p}");
    assert!(
        block_on(reconciler.plan(&source, &target, &ctx))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn progress_is_told_step_by_step() {
    struct Seen(std::sync::Mutex<Vec<(usize, usize, bool)>>);
    impl scim_sync::Progress for Seen {
        fn step_finished(&self, _: &Step, ok: bool, done: usize, total: usize) {
            self.0.lock().unwrap().push((done, total, ok));
        }
    }
    let target = Target::default();
    let ctx = RequestContext::new(TENANT);
    let p = plan(&export(10, &[]), &target);
    let seen = Seen(std::sync::Mutex::new(Vec::new()));
    let report = block_on(p.apply_with_progress(&target.inner, &ctx, false, &seen)).unwrap();
    assert_eq!(report.done, 12);
    let seen = seen.0.into_inner().unwrap();
    assert_eq!(seen.len(), 12);
    let done: Vec<usize> = seen.iter().map(|s| s.0).collect();
    assert_eq!(done, (1..=12).collect::<Vec<_>>());
    assert!(seen.iter().all(|s| s.1 == 12 && s.2));

    // Unforced, the rail still holds.
    let empty = FileSource::from_json_str("{}").unwrap();
    let wipe = plan(&empty, &target);
    let none = Seen(std::sync::Mutex::new(Vec::new()));
    assert!(block_on(wipe.apply_with_progress(&target.inner, &ctx, false, &none)).is_err());
    assert!(none.0.into_inner().unwrap().is_empty());
}
