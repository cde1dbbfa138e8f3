//! `KeycloakSource` against a simulator of Keycloak's admin REST API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::keycloak_sim::{sim, source, with_subgroups};
use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_sync::{DirectorySource, Reconciler};

#[test]
fn keycloak_realm_syncs_and_converges() {
    let sim = sim(7);
    let kc = source(&sim, "s3cret&=");
    assert!(!format!("{kc:?}").contains("s3cret"));
    let target = InMemoryProvisioner::new();
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new();

    let plan = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    assert_eq!(plan.summary().create_users, 7, "{plan}");
    assert_eq!(plan.summary().create_groups, 3, "{plan}");
    block_on(plan.apply(&target, &ctx)).unwrap();
    assert_eq!(
        sim.0.lock().unwrap().token_requests,
        1,
        "the token is reused"
    );

    let users = block_on(target.scan_users(&ctx, 0, 100)).unwrap();
    let w3 = users.iter().find(|u| u.user_name == "worker3").unwrap();
    assert_eq!(w3.active, Some(false));
    assert_eq!(w3.external_id.as_deref(), Some("kc-3"));
    assert_eq!(w3.primary_email(), Some("worker3@example.com"));
    let groups = block_on(target.scan_groups(&ctx, 0, 100)).unwrap();
    let everyone = groups
        .iter()
        .find(|g| g.display_name == "everyone")
        .unwrap();
    assert_eq!(everyone.members.len(), 7);
    assert_eq!(everyone.external_id.as_deref(), Some("g2"));

    let again = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    assert!(again.is_empty(), "{again}");

    // The token expires: one new token, and the sync goes on.
    sim.0.lock().unwrap().tokens.clear();
    let (users, _) = block_on(kc.users_page(None)).unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(sim.0.lock().unwrap().token_requests, 2);

    // Drift at Keycloak: worker1 leaves devs, worker5 is deleted.
    {
        let mut s = sim.0.lock().unwrap();
        s.groups[0].2.retain(|id| id != "kc-1");
        s.users.retain(|u| u.0 != "kc-5");
        s.groups[1].2.retain(|id| id != "kc-5");
    }
    let fix = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    let s = fix.summary();
    assert_eq!((s.remove_members, s.deactivate_users), (2, 1), "{fix}");
    // 1 of 7 is above 10%: this run needs the administrator's word.
    assert!(block_on(fix.apply(&target, &ctx)).is_err());
    let report = block_on(fix.apply_forced(&target, &ctx));
    assert_eq!(report.failed, 0, "{report}");
    assert!(
        block_on(reconciler.plan(&kc, &target, &ctx))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn wrong_client_secret_is_a_clear_error() {
    let sim = sim(1);
    let err = block_on(source(&sim, "wrong").users_page(None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token request refused with status 401"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "{err}");
}

fn member_names(target: &InMemoryProvisioner, ctx: &RequestContext, group: &str) -> Vec<String> {
    let users = block_on(target.scan_users(ctx, 0, 100)).unwrap();
    let groups = block_on(target.scan_groups(ctx, 0, 100)).unwrap();
    let g = groups
        .iter()
        .find(|g| g.display_name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    let mut names: Vec<String> = g
        .members
        .iter()
        .map(|m| {
            users
                .iter()
                .find(|u| u.id == m.value)
                .unwrap()
                .user_name
                .clone()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn subgroups_nested_or_served_as_children_sync_with_their_members_counted_upwards() {
    for inline in [true, false] {
        let sim = with_subgroups(inline);
        let kc = source(&sim, "s3cret&=");
        let target = InMemoryProvisioner::new();
        let ctx = RequestContext::new("acme");
        let reconciler = Reconciler::new();
        let plan = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        assert_eq!(plan.summary().create_groups, 7, "inline {inline}: {plan}");
        block_on(plan.apply(&target, &ctx)).unwrap();
        assert_eq!(
            member_names(&target, &ctx, "devs/web/api"),
            ["worker0", "worker6"]
        );
        assert_eq!(
            member_names(&target, &ctx, "devs/web"),
            ["worker0", "worker4", "worker5", "worker6"]
        );
        assert_eq!(member_names(&target, &ctx, "devs/ops"), ["worker6"]);
        assert_eq!(member_names(&target, &ctx, "everyone/ops"), ["worker1"]);
        // devs: its own four and those of every subgroup below it.
        assert_eq!(
            member_names(&target, &ctx, "devs"),
            [
                "worker0", "worker1", "worker2", "worker3", "worker4", "worker5", "worker6"
            ]
        );
        let again = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        assert!(again.is_empty(), "inline {inline}: {again}");

        // A member leaves a deep subgroup: the subgroup and its ancestors lose it where it
        // was there only through that subgroup.
        sim.0.lock().unwrap().subgroups[2]
            .2
            .retain(|id| id != "kc-6");
        let fix = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        // api and web lose worker6 (web had it only through api); devs keeps it through ops.
        assert_eq!(fix.summary().remove_members, 2, "inline {inline}: {fix}");
        block_on(fix.apply(&target, &ctx)).unwrap();
        assert_eq!(member_names(&target, &ctx, "devs/web/api"), ["worker0"]);
        assert_eq!(
            member_names(&target, &ctx, "devs/web"),
            ["worker0", "worker4", "worker5"]
        );
        assert!(member_names(&target, &ctx, "devs").contains(&"worker6".to_owned()));
    }
}
