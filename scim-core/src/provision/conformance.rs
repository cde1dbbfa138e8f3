//! The conformance suite every [`Provisioner`] runs in its own tests (feature `conformance`).
//!
//! Each check is a function taking the backend and a tenant name; it panics with a message
//! naming what went wrong, like an `assert!` in a test. Give every check its own tenant (or a
//! fresh backend): the checks count what they find.
//!
//! ```no_run
//! # // Compiled, not run here: the crate's own tests run the suite on InMemoryProvisioner.
//! use scim_core::provision::{conformance, InMemoryProvisioner};
//!
//! # async fn run() {
//! let backend = InMemoryProvisioner::new();
//! conformance::run_all(&backend, "conformance").await;
//! conformance::concurrent_writers(&InMemoryProvisioner::new(), "conformance");
//! # }
//! ```
//!
//! [`concurrent_writers`] drives each writer on its own thread with a minimal executor of its
//! own, so it suits backends that need no particular async runtime (a backend tied to one can
//! reproduce it with its runtime's `spawn`).
// A failed check panics, as a test assertion does; the panic is the report.
#![allow(
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::many_single_char_names
)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use scim_filter::Filter;

use super::{ListQuery, Provisioner, RequestContext};
use crate::error::{ScimError, ScimType};
use crate::etag::ETag;
use crate::messages::SortOrder;
use crate::patch::PatchOp;
use crate::resource::{Group, Member, MultiValue, Name, User};

/// Runs every check except [`concurrent_writers`], each in a tenant of its own named after
/// `tenant_prefix`.
pub async fn run_all(p: &dyn Provisioner, tenant_prefix: &str) {
    let t = |name: &str| format!("{tenant_prefix}-{name}");
    user_crud(p, &t("user-crud")).await;
    user_name_uniqueness(p, &t("uniqueness")).await;
    preconditions(p, &t("preconditions")).await;
    filters(p, &t("filters")).await;
    paging_and_sorting(p, &t("paging")).await;
    patch_users(p, &t("patch")).await;
    group_membership(p, &t("membership")).await;
    tenant_isolation(p, &t("isolation-a"), &t("isolation-b")).await;
}

fn ctx(tenant: &str) -> RequestContext {
    RequestContext::new(tenant)
}

fn version(user: &User) -> ETag {
    let tag = user.meta.as_ref().and_then(|m| m.version.as_deref());
    ETag::parse(tag.expect("a stored resource has meta.version")).expect("meta.version parses")
}

fn group_version(group: &Group) -> ETag {
    let tag = group.meta.as_ref().and_then(|m| m.version.as_deref());
    ETag::parse(tag.expect("a stored group has meta.version")).expect("meta.version parses")
}

fn id(user: &User) -> String {
    user.id.clone().expect("a stored resource has an id")
}

fn status(err: &ScimError) -> u16 {
    err.status().as_u16()
}

fn user(name: &str, display: &str) -> User {
    User {
        display_name: Some(display.to_owned()),
        name: Some(Name {
            family_name: Some(display.to_owned()),
            ..Name::default()
        }),
        ..User::new(name)
    }
}

fn filter(text: &str) -> ListQuery {
    ListQuery::new().with_filter(text.parse::<Filter>().expect("suite filters parse"))
}

/// Create, read, replace and delete a user; `id` and `meta` are the backend's.
pub async fn user_crud(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let mut input = user("bjensen", "Babs Jensen");
    input.id = Some("client-chosen".to_owned());
    input.external_id = Some("ext-1".to_owned());
    let created = p.create_user(&c, input).await.expect("create_user");
    let uid = id(&created);
    assert_ne!(uid, "client-chosen", "the backend assigns the id");
    assert_eq!(created.user_name, "bjensen");
    assert_eq!(created.external_id.as_deref(), Some("ext-1"));
    let meta = created.meta.clone().expect("meta");
    assert_eq!(meta.resource_type.as_deref(), Some("User"));
    assert!(meta.created.is_some() && meta.last_modified.is_some());

    let got = p.get_user(&c, &uid).await.expect("get_user");
    assert_eq!(got.user_name, "bjensen");
    assert_eq!(version(&got), version(&created));

    let mut changed = got.clone();
    changed.display_name = Some("Barbara Jensen".to_owned());
    let replaced = p
        .replace_user(&c, &uid, changed, None)
        .await
        .expect("replace_user");
    assert_eq!(replaced.display_name.as_deref(), Some("Barbara Jensen"));
    assert_eq!(id(&replaced), uid, "replace keeps the id");
    assert_ne!(
        version(&replaced),
        version(&created),
        "a write changes the version"
    );
    assert_eq!(
        p.get_user(&c, &uid).await.unwrap().display_name.as_deref(),
        Some("Barbara Jensen")
    );

    p.delete_user(&c, &uid, None).await.expect("delete_user");
    let err = p
        .get_user(&c, &uid)
        .await
        .expect_err("deleted user is gone");
    assert_eq!(status(&err), 404, "{err}");
    let err = p
        .delete_user(&c, &uid, None)
        .await
        .expect_err("second delete");
    assert_eq!(status(&err), 404, "{err}");
    let err = p
        .replace_user(&c, &uid, user("bjensen", "x"), None)
        .await
        .expect_err("replace of a deleted user");
    assert_eq!(status(&err), 404, "{err}");
}

/// `userName` is unique per tenant, ignoring case; a renamed user frees its old name.
pub async fn user_name_uniqueness(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let a = p.create_user(&c, user("bjensen", "A")).await.unwrap();
    for clash in ["bjensen", "BJensen", "BJENSEN"] {
        let err = p
            .create_user(&c, user(clash, "B"))
            .await
            .expect_err("duplicate userName must be refused");
        assert_eq!(status(&err), 409, "{err}");
        assert_eq!(err.scim_type(), Some(ScimType::Uniqueness), "{err}");
    }
    let b = p.create_user(&c, user("jsmith", "B")).await.unwrap();
    let err = p
        .replace_user(&c, &id(&b), user("BJENSEN", "B"), None)
        .await
        .expect_err("renaming onto a taken userName");
    assert_eq!(status(&err), 409, "{err}");
    // Changing only the case of one's own name is fine.
    p.replace_user(&c, &id(&a), user("BJensen", "A"), None)
        .await
        .expect("own name in another case");
    p.replace_user(&c, &id(&a), user("barbara", "A"), None)
        .await
        .expect("rename");
    p.create_user(&c, user("bjensen", "C"))
        .await
        .expect("the old name is free after a rename");
    let err = p
        .create_user(&c, User::new(""))
        .await
        .expect_err("empty userName");
    assert_eq!(status(&err), 400, "{err}");
}

/// Writes with a stale version get 412 and change nothing.
pub async fn preconditions(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let u = p.create_user(&c, user("bjensen", "A")).await.unwrap();
    let uid = id(&u);
    let v1 = version(&u);
    let u2 = p
        .replace_user(&c, &uid, user("bjensen", "B"), Some(&v1))
        .await
        .expect("matching version");
    let err = p
        .replace_user(&c, &uid, user("bjensen", "C"), Some(&v1))
        .await
        .expect_err("stale version");
    assert_eq!(status(&err), 412, "{err}");
    let patch = PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"displayName","value":"D"}]}"#,
    )
    .unwrap();
    let err = p
        .patch_user(&c, &uid, &patch, Some(&v1))
        .await
        .expect_err("stale PATCH");
    assert_eq!(status(&err), 412, "{err}");
    let err = p
        .delete_user(&c, &uid, Some(&v1))
        .await
        .expect_err("stale delete");
    assert_eq!(status(&err), 412, "{err}");
    let now = p.get_user(&c, &uid).await.unwrap();
    assert_eq!(now.display_name.as_deref(), Some("B"), "nothing changed");
    assert_eq!(version(&now), version(&u2));
    p.delete_user(&c, &uid, Some(&version(&u2)))
        .await
        .expect("delete with the current version");
}

/// Filters select exactly the matching users, with SCIM semantics (case-insensitive `userName`,
/// value paths on multi-valued attributes, `pr`, `not`, extensions).
pub async fn filters(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let mut babs = user("bjensen", "Babs Jensen");
    babs.external_id = Some("701984".to_owned());
    babs.title = Some("Tour Guide".to_owned());
    babs.emails = vec![
        MultiValue::new("bjensen@example.com")
            .with_type("work")
            .primary(),
        MultiValue::new("babs@jensen.org").with_type("home"),
    ];
    babs.active = Some(true);
    let mut jim = user("jsmith", "Jim Smith");
    jim.emails = vec![MultiValue::new("jim@example.org").with_type("home")];
    jim.active = Some(false);
    let mut ann = user("ann.lee", "Ann Lee");
    ann.title = Some("Engineer".to_owned());
    ann.active = Some(true);
    for u in [babs, jim, ann] {
        p.create_user(&c, u).await.unwrap();
    }
    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "BJENSEN""#, &["bjensen"]),
        (r#"externalId eq "701984""#, &["bjensen"]),
        (r#"userName sw "j""#, &["jsmith"]),
        (r#"displayName co "lee""#, &["ann.lee"]),
        ("title pr", &["bjensen", "ann.lee"]),
        ("not (title pr)", &["jsmith"]),
        ("active eq true", &["bjensen", "ann.lee"]),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            &["bjensen"],
        ),
        (r#"emails.type eq "home""#, &["bjensen", "jsmith"]),
        (
            r#"userName eq "jsmith" or title eq "engineer""#,
            &["jsmith", "ann.lee"],
        ),
        (r#"userName eq "nobody""#, &[]),
        (
            r#"meta.resourceType eq "User""#,
            &["bjensen", "jsmith", "ann.lee"],
        ),
    ];
    for (text, expected) in cases {
        let page = p
            .search_users(&c, &filter(text))
            .await
            .unwrap_or_else(|e| panic!("search `{text}`: {e}"));
        let mut got: Vec<&str> = page
            .resources
            .iter()
            .map(|u| u.user_name.as_str())
            .collect();
        got.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "filter `{text}`");
        assert_eq!(
            page.total_results,
            want.len() as u64,
            "totalResults of `{text}`"
        );
    }
}

/// `startIndex`/`count` cut pages of the sorted matches; `totalResults` counts all of them.
pub async fn paging_and_sorting(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let names = [
        "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot",
    ];
    for n in names {
        p.create_user(&c, user(n, n)).await.unwrap();
    }
    let sorted = |order| ListQuery::new().with_sort("userName".parse().unwrap(), order);
    let all = p
        .search_users(&c, &sorted(SortOrder::Ascending))
        .await
        .unwrap();
    let got: Vec<&str> = all.resources.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(
        got,
        [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"
        ]
    );
    let page = p
        .search_users(&c, &sorted(SortOrder::Descending).with_page(3, Some(2)))
        .await
        .unwrap();
    let got: Vec<&str> = page
        .resources
        .iter()
        .map(|u| u.user_name.as_str())
        .collect();
    assert_eq!(got, ["echo", "delta"], "descending, startIndex 3, count 2");
    assert_eq!(page.total_results, 7);
    assert_eq!(page.start_index, 3);
    let counted = p
        .search_users(&c, &ListQuery::new().with_page(1, Some(0)))
        .await
        .unwrap();
    assert!(counted.resources.is_empty(), "count=0 returns no resources");
    assert_eq!(counted.total_results, 7);
    let beyond = p
        .search_users(&c, &ListQuery::new().with_page(50, Some(10)))
        .await
        .unwrap();
    assert!(beyond.resources.is_empty());
    assert_eq!(beyond.total_results, 7);
    // Unsorted paging visits every user exactly once.
    let mut seen = Vec::new();
    for start in (1..=7).step_by(3) {
        let page = p
            .search_users(&c, &ListQuery::new().with_page(start, Some(3)))
            .await
            .unwrap();
        seen.extend(page.resources.into_iter().map(|u| u.user_name));
    }
    seen.sort_unstable();
    let mut want: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    want.sort_unstable();
    assert_eq!(seen, want);
    // A filtered, paged query counts only the matches.
    let q = filter(r#"userName lt "d""#).with_page(2, Some(1));
    let page = p.search_users(&c, &q).await.unwrap();
    assert_eq!(page.total_results, 3);
    assert_eq!(page.resources.len(), 1);
}

/// PATCH applies atomically: all operations or none.
pub async fn patch_users(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let u = p.create_user(&c, user("bjensen", "Babs")).await.unwrap();
    let uid = id(&u);
    let patch = PatchOp::from_slice(
        br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
        {"op":"Replace","path":"displayName","value":"Barbara"},
        {"op":"add","path":"emails","value":[{"value":"b@example.com","type":"work","primary":true}]},
        {"op":"add","value":{"title":"Tour Guide","active":"False"}}]}"#,
    )
    .unwrap();
    let patched = p
        .patch_user(&c, &uid, &patch, Some(&version(&u)))
        .await
        .expect("patch_user");
    assert_eq!(patched.display_name.as_deref(), Some("Barbara"));
    assert_eq!(patched.primary_email(), Some("b@example.com"));
    assert_eq!(patched.title.as_deref(), Some("Tour Guide"));
    assert_eq!(patched.active, Some(false));
    assert_ne!(version(&patched), version(&u));

    let failing = PatchOp::from_slice(
        br#"{"Operations":[
        {"op":"replace","path":"displayName","value":"Changed"},
        {"op":"remove","path":"emails[type eq \"home\"]"}]}"#,
    )
    .unwrap();
    let err = p
        .patch_user(&c, &uid, &failing, None)
        .await
        .expect_err("second operation has no target");
    assert_eq!(err.scim_type(), Some(ScimType::NoTarget), "{err}");
    let after = p.get_user(&c, &uid).await.unwrap();
    assert_eq!(
        after.display_name.as_deref(),
        Some("Barbara"),
        "no partial write"
    );
    assert_eq!(version(&after), version(&patched));

    let clash = p.create_user(&c, user("other", "O")).await.unwrap();
    let rename = PatchOp::from_slice(
        br#"{"Operations":[{"op":"replace","path":"userName","value":"BJENSEN"}]}"#,
    )
    .unwrap();
    let err = p
        .patch_user(&c, &id(&clash), &rename, None)
        .await
        .expect_err("PATCH onto a taken userName");
    assert_eq!(status(&err), 409, "{err}");
    let err = p
        .patch_user(&c, "no-such-id", &rename, None)
        .await
        .expect_err("PATCH of a missing user");
    assert_eq!(status(&err), 404, "{err}");
}

/// Group members, `groups` on users, membership helpers, and cleanup on delete.
pub async fn group_membership(p: &dyn Provisioner, tenant: &str) {
    let c = ctx(tenant);
    let a = id(&p.create_user(&c, user("alice", "Alice")).await.unwrap());
    let b = id(&p.create_user(&c, user("bob", "Bob")).await.unwrap());
    let z = id(&p.create_user(&c, user("zed", "Zed")).await.unwrap());
    let mut g = Group::new("Tour Guides");
    g.members = vec![Member::new(&a)];
    let g = p.create_group(&c, g).await.expect("create_group");
    let gid = g.id.clone().expect("group id");
    assert_eq!(g.members.len(), 1);
    assert_eq!(
        g.meta.as_ref().and_then(|m| m.resource_type.as_deref()),
        Some("Group")
    );

    let alice = p.get_user(&c, &a).await.unwrap();
    assert_eq!(
        alice
            .groups
            .iter()
            .filter_map(|m| m.value.as_deref())
            .collect::<Vec<_>>(),
        [gid.as_str()],
        "groups on a user come from memberships"
    );
    assert_eq!(alice.groups[0].display.as_deref(), Some("Tour Guides"));

    let g = p
        .add_members(
            &c,
            &gid,
            &[Member::new(&b), Member::new(&a), Member::new(&z)],
        )
        .await
        .expect("add_members");
    let mut ids: Vec<&str> = g
        .members
        .iter()
        .filter_map(|m| m.value.as_deref())
        .collect();
    ids.sort_unstable();
    let mut want = vec![a.as_str(), b.as_str(), z.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "adding an existing member does not duplicate it");

    let g = p
        .remove_members(&c, &gid, &[b.clone(), "not-a-member".to_owned()])
        .await
        .expect("remove_members");
    assert!(
        g.members
            .iter()
            .all(|m| m.value.as_deref() != Some(b.as_str()))
    );
    assert!(p.get_user(&c, &b).await.unwrap().groups.is_empty());

    let err = p
        .add_members(&c, &gid, &[Member::new("no-such-user")])
        .await
        .expect_err("unknown member");
    assert_eq!(status(&err), 400, "{err}");
    assert_eq!(p.get_group(&c, &gid).await.unwrap().members.len(), 2);

    let filtered = p
        .search_groups(&c, &filter(&format!(r#"members[value eq "{a}"]"#)))
        .await
        .unwrap();
    assert_eq!(filtered.total_results, 1);
    let by_name = p
        .search_groups(&c, &filter(r#"displayName eq "tour guides""#))
        .await
        .unwrap();
    assert_eq!(by_name.total_results, 1);

    let before = group_version(&p.get_group(&c, &gid).await.unwrap());
    p.delete_user(&c, &z, None).await.unwrap();
    let g = p.get_group(&c, &gid).await.unwrap();
    assert!(
        g.members
            .iter()
            .all(|m| m.value.as_deref() != Some(z.as_str())),
        "a deleted user leaves its groups"
    );
    assert_ne!(
        group_version(&g),
        before,
        "that changes the group's version"
    );

    p.delete_group(&c, &gid, None).await.expect("delete_group");
    assert!(p.get_user(&c, &a).await.unwrap().groups.is_empty());
    assert_eq!(status(&p.get_group(&c, &gid).await.unwrap_err()), 404);
}

/// Two tenants never see each other's resources; each has its own `userName` space.
pub async fn tenant_isolation(p: &dyn Provisioner, tenant_a: &str, tenant_b: &str) {
    let (ca, cb) = (ctx(tenant_a), ctx(tenant_b));
    let ua = p.create_user(&ca, user("bjensen", "A")).await.unwrap();
    let ub = p
        .create_user(&cb, user("bjensen", "B"))
        .await
        .expect("same userName in another tenant");
    assert_eq!(status(&p.get_user(&cb, &id(&ua)).await.unwrap_err()), 404);
    assert_eq!(
        status(&p.delete_user(&cb, &id(&ua), None).await.unwrap_err()),
        404
    );
    let page = p.search_users(&cb, &ListQuery::new()).await.unwrap();
    assert_eq!(page.total_results, 1);
    assert_eq!(page.resources[0].id, ub.id);
    assert_eq!(
        p.get_user(&ca, &id(&ua))
            .await
            .unwrap()
            .display_name
            .as_deref(),
        Some("A")
    );
}

/// 100 writers add a different member each to one group at once, through PATCH, and none is
/// lost; 20 writers create the same `userName` at once, and exactly one succeeds.
pub fn concurrent_writers(p: &dyn Provisioner, tenant: &str) {
    const WRITERS: usize = 100;
    let c = ctx(tenant);
    let ids: Vec<String> = (0..WRITERS)
        .map(|i| id(&block_on(p.create_user(&c, user(&format!("writer{i}"), "W"))).unwrap()))
        .collect();
    let group = block_on(p.create_group(&c, Group::new("crowd"))).unwrap();
    let gid = group.id.clone().unwrap();
    thread::scope(|s| {
        for uid in &ids {
            let (c, gid) = (&c, &gid);
            s.spawn(move || {
                let body = format!(
                    r#"{{"Operations":[{{"op":"add","path":"members","value":[{{"value":"{uid}"}}]}}]}}"#
                );
                let patch = PatchOp::from_slice(body.as_bytes()).unwrap();
                block_on(p.patch_group(c, gid, &patch, None))
                    .unwrap_or_else(|e| panic!("concurrent PATCH for {uid}: {e}"));
            });
        }
    });
    let group = block_on(p.get_group(&c, &gid)).unwrap();
    assert_eq!(group.members.len(), WRITERS, "no concurrent PATCH is lost");

    let created = thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let c = &c;
                s.spawn(move || block_on(p.create_user(c, user("same-name", "S"))).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(
        created, 1,
        "exactly one concurrent create of a userName wins"
    );
}

/// Runs a future to completion on this thread, parking between polls.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}
