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

/// Searches on the reference backend's cached JSON give what the default scan (which serialises
/// every resource as it is read) gives, after every kind of write that changes a resource's JSON:
/// PATCH, PUT with a rename, membership changes, a group rename, deletes.
#[test]
fn cached_json_searches_agree_with_the_scan() {
    use scim_core::provision::{search_groups_by_scan, search_users_by_scan};
    use scim_core::{MultiValue, OpKind, PatchOp, PatchOperation, SortOrder};

    let p = InMemoryProvisioner::new();
    let c = RequestContext::new("t");
    let user_filters = [
        None,
        Some(r#"userName sw "u""#),
        Some(r#"displayName eq "Patched""#),
        Some("active eq true"),
        Some(r#"emails[type eq "work" and value ew "example.com"]"#),
        Some(r#"groups[display eq "admins"]"#),
        Some(r#"groups[display eq "Admins Renamed"]"#),
        Some("groups pr"),
        Some("not (groups pr)"),
        Some(r#"meta.version eq "W/\"2\"""#),
        Some(r#"userName eq "renamed""#),
    ];
    let group_filters = [
        None,
        Some(r#"displayName sw "a""#),
        Some("members pr"),
        Some(r#"members[type eq "User"]"#),
        Some(r#"meta.version ne "W/\"1\"""#),
    ];
    let check = |step: &str| {
        block_on(async {
            for text in user_filters {
                for sort in [None, Some("userName"), Some("groups.display")] {
                    for (start, count) in [(1, None), (2, Some(2)), (1, Some(0))] {
                        let mut q = ListQuery::new().with_page(start, count);
                        if let Some(t) = text {
                            q = q.with_filter(t.parse().unwrap());
                        }
                        if let Some(s) = sort {
                            q = q.with_sort(s.parse().unwrap(), SortOrder::Descending);
                        }
                        let cached = p.search_users(&c, &q).await.unwrap();
                        let scanned = search_users_by_scan(&p, &c, &q).await.unwrap();
                        assert_eq!(cached, scanned, "{step}: users {text:?} by {sort:?}");
                    }
                }
            }
            for text in group_filters {
                for sort in [None, Some("displayName")] {
                    let mut q = ListQuery::new();
                    if let Some(t) = text {
                        q = q.with_filter(t.parse().unwrap());
                    }
                    if let Some(s) = sort {
                        q = q.with_sort(s.parse().unwrap(), SortOrder::Ascending);
                    }
                    let cached = p.search_groups(&c, &q).await.unwrap();
                    let scanned = search_groups_by_scan(&p, &c, &q).await.unwrap();
                    assert_eq!(cached, scanned, "{step}: groups {text:?} by {sort:?}");
                }
            }
        });
    };

    let mut ids = Vec::new();
    block_on(async {
        for i in 0..6 {
            let mut u = User::new(format!("u{i}"));
            u.active = Some(i % 2 == 0);
            u.emails = vec![MultiValue::new(format!("u{i}@example.com")).with_type("work")];
            ids.push(p.create_user(&c, u).await.unwrap().id.unwrap());
        }
    });
    check("created users");

    let admins = block_on(async {
        let mut g = Group::new("admins");
        g.members = ids.iter().take(3).map(Member::new).collect();
        p.create_group(&c, g).await.unwrap().id.unwrap()
    });
    check("group created");

    block_on(async {
        let patch = PatchOp::new(vec![
            PatchOperation::with_path(OpKind::Replace, "displayName", Some("Patched".into()))
                .unwrap(),
        ]);
        p.patch_user(&c, &ids[1], &patch, None).await.unwrap();
    });
    check("user patched");

    block_on(async {
        let mut u = p.get_user(&c, &ids[2]).await.unwrap();
        u.user_name = "renamed".to_owned();
        p.replace_user(&c, &ids[2], u, None).await.unwrap();
    });
    check("user renamed");

    block_on(async {
        p.add_members(&c, &admins, &[Member::new(&ids[4])])
            .await
            .unwrap();
        p.remove_members(&c, &admins, &[ids[0].clone()])
            .await
            .unwrap();
    });
    check("members changed");

    block_on(async {
        let mut g = p.get_group(&c, &admins).await.unwrap();
        g.display_name = "Admins Renamed".to_owned();
        p.replace_group(&c, &admins, g, None).await.unwrap();
    });
    check("group renamed");

    let nested = block_on(async {
        let mut g = Group::new("all");
        g.members = vec![Member::new(&admins), Member::new(&ids[5])];
        p.create_group(&c, g).await.unwrap().id.unwrap()
    });
    check("nested group");

    block_on(async {
        p.delete_user(&c, &ids[4], None).await.unwrap();
    });
    check("member deleted");

    block_on(async {
        p.delete_group(&c, &admins, None).await.unwrap();
    });
    check("group deleted");

    block_on(async {
        p.delete_group(&c, &nested, None).await.unwrap();
    });
    check("last group deleted");
}

/// The reference backend's own `patch_user` (one lock, from the cached JSON) keeps what the
/// default read-apply-replace does: the password survives a PATCH that does not name it and is
/// replaced by one that does, a stale version is 412, and the version moves on every PATCH.
#[test]
fn patch_user_keeps_the_password_and_checks_the_version() {
    use scim_core::etag::ETag;
    use scim_core::{OpKind, Password, PatchOp, PatchOperation, ScimError};

    let p = InMemoryProvisioner::new();
    let c = RequestContext::new("t");
    block_on(async {
        let mut u = User::new("pat");
        u.password = Some(Password::new("first"));
        let id = p.create_user(&c, u).await.unwrap().id.unwrap();
        let op = |path: &str, value: &str| {
            PatchOp::new(vec![
                PatchOperation::with_path(OpKind::Replace, path, Some(value.into())).unwrap(),
            ])
        };

        let patched = p
            .patch_user(&c, &id, &op("displayName", "Pat"), None)
            .await
            .unwrap();
        assert_eq!(patched.display_name.as_deref(), Some("Pat"));
        let stored = p.get_user(&c, &id).await.unwrap();
        assert_eq!(
            stored.password.as_ref().map(Password::expose),
            Some("first")
        );
        assert_eq!(
            stored.meta.as_ref().and_then(|m| m.version.as_deref()),
            Some(r#"W/"2""#)
        );

        p.patch_user(&c, &id, &op("password", "second"), None)
            .await
            .unwrap();
        let stored = p.get_user(&c, &id).await.unwrap();
        assert_eq!(
            stored.password.as_ref().map(Password::expose),
            Some("second")
        );

        let stale = ETag::from_version(1);
        let err = p
            .patch_user(&c, &id, &op("displayName", "Late"), Some(&stale))
            .await
            .unwrap_err();
        assert!(matches!(err, ScimError::PreconditionFailed { .. }), "{err}");
        let current = ETag::from_version(3);
        p.patch_user(&c, &id, &op("displayName", "OnTime"), Some(&current))
            .await
            .unwrap();
    });
}
