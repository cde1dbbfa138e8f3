//! The conformance suite on the reference backend, and what is specific to it.

use scim_core::provision::conformance::{self, block_on};
use scim_core::provision::{InMemoryProvisioner, ListQuery, Provisioner, RequestContext};
use scim_core::{Group, Member, User};

#[test]
fn in_memory_passes_the_conformance_suite() {
    let backend = InMemoryProvisioner::new();
    block_on(conformance::run_all(&backend, "suite"));
}

#[test]
fn in_memory_loses_no_concurrent_write() {
    conformance::concurrent_writers(&InMemoryProvisioner::new(), "concurrent");
}

#[test]
fn user_name_lookup_fast_path_agrees_with_the_scan() {
    let p = InMemoryProvisioner::new();
    let c = RequestContext::new("t");
    block_on(async {
        p.create_user(&c, User::new("Bjensen")).await.unwrap();
        p.create_user(&c, User::new("other")).await.unwrap();
        for (text, total) in [
            (r#"userName eq "BJENSEN""#, 1),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#,
                1,
            ),
            (r#"userName eq "nobody""#, 0),
        ] {
            let q = ListQuery::new().with_filter(text.parse().unwrap());
            let page = p.search_users(&c, &q).await.unwrap();
            assert_eq!(page.total_results, total, "{text}");
            // The same filter in a form the fast path does not take goes through the scan.
            let slow =
                ListQuery::new().with_filter(format!("({text}) and userName pr").parse().unwrap());
            assert_eq!(
                p.search_users(&c, &slow).await.unwrap().total_results,
                total,
                "{text}"
            );
        }
        let q = ListQuery::new()
            .with_filter(r#"userName eq "bjensen""#.parse().unwrap())
            .with_page(1, Some(0));
        let page = p.search_users(&c, &q).await.unwrap();
        assert_eq!(page.total_results, 1);
        assert!(page.resources.is_empty());
    });
}

#[test]
fn counts_and_nested_groups() {
    let p = InMemoryProvisioner::new();
    let c = RequestContext::new("t");
    block_on(async {
        let inner = p.create_group(&c, Group::new("inner")).await.unwrap();
        let inner_id = inner.id.clone().unwrap();
        let mut outer = Group::new("outer");
        outer.members = vec![Member::new(&inner_id)];
        let outer = p.create_group(&c, outer).await.unwrap();
        assert_eq!(outer.members[0].kind.as_deref(), Some("Group"));
        // A group cannot contain itself.
        let mut own = outer.clone();
        own.members.push(Member::new(outer.id.clone().unwrap()));
        let err = p
            .replace_group(&c, outer.id.as_deref().unwrap(), own, None)
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        // Deleting the inner group removes it from the outer one.
        p.delete_group(&c, &inner_id, None).await.unwrap();
        let outer = p.get_group(&c, outer.id.as_deref().unwrap()).await.unwrap();
        assert!(outer.members.is_empty());
        assert_eq!(p.group_count("t"), 1);
        assert_eq!(p.user_count("t"), 0);
        assert_eq!(p.group_count("elsewhere"), 0);
    });
}

#[test]
fn ids_are_unique_and_in_creation_order() {
    let p = InMemoryProvisioner::new();
    let c = RequestContext::new("t");
    block_on(async {
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(
                p.create_user(&c, User::new(format!("u{i}")))
                    .await
                    .unwrap()
                    .id
                    .unwrap(),
            );
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
        assert!(ids.iter().all(|id| id.len() == 36));
    });
}
