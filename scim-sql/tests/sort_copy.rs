//! A sort by an attribute without a column of its own reads its keys from SQLite's narrow copy
//! of the users' `search` (schema 5), which triggers keep in step with every write: after
//! creates, replaces, PATCH requests and deletes, the sorted pages are exactly what scim-core's
//! in-memory provisioner, the reference, answers for the same writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use scim_core::PatchOp;
use scim_core::User;
use scim_core::messages::SortOrder;
use scim_core::provision::{InMemoryProvisioner, ListQuery, Provisioner, RequestContext};
use scim_core::resource::Name;
use scim_sql::SqlProvisioner;

fn user(name: &str, family: Option<&str>) -> User {
    let mut u = User::new(name);
    u.name = family.map(|f| Name {
        family_name: Some(f.to_owned()),
        ..Name::default()
    });
    u
}

/// The userNames of a whole sorted listing, page by page (pages of 2, so paging is checked too).
async fn sorted(p: &dyn Provisioner, ctx: &RequestContext, order: SortOrder) -> (u64, Vec<String>) {
    let mut names = Vec::new();
    let mut total = 0;
    for start in (1..=11).step_by(2) {
        let q = ListQuery::new()
            .with_sort("name.familyName".parse().unwrap(), order)
            .with_page(start, Some(2));
        let page = p.search_users(ctx, &q).await.unwrap();
        total = page.total_results;
        names.extend(page.resources.into_iter().map(|u| u.user_name));
    }
    (total, names)
}

/// Both orders, every page: SQLite's answer is the reference's.
async fn compare(
    sql: &SqlProvisioner,
    memory: &InMemoryProvisioner,
    ctx: &RequestContext,
    when: &str,
) {
    for order in [SortOrder::Ascending, SortOrder::Descending] {
        let want = sorted(memory, ctx, order).await;
        let got = sorted(sql, ctx, order).await;
        assert_eq!(got, want, "{when}, {order:?}");
    }
}

#[tokio::test]
async fn sorted_pages_follow_every_write_like_the_in_memory_reference() {
    let url = common::temp_sqlite_url("sort-copy");
    let sql = SqlProvisioner::connect(&url).await.unwrap();
    let q = ListQuery::new().with_sort("name.familyName".parse().unwrap(), SortOrder::Ascending);
    assert!(
        scim_sql::runs_in_sql(&sql, &q, false),
        "the sort runs in SQL"
    );
    let memory = InMemoryProvisioner::new();
    let ctx = RequestContext::new("acme");
    let backends: [&dyn Provisioner; 2] = [&sql, &memory];
    let mut ids: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for (b, p) in backends.iter().enumerate() {
        for (name, family) in [
            ("ann", Some("Moss")),
            ("bob", Some("Adams")),
            ("cat", None),
            ("dan", Some("Zorn")),
            ("eve", Some("adams")),
            ("fay", Some("")),
            ("gus", Some("Kent")),
        ] {
            let created = p.create_user(&ctx, user(name, family)).await.unwrap();
            ids[b].push(created.id.unwrap());
        }
    }
    compare(&sql, &memory, &ctx, "after the creates").await;

    // dan (Zorn) becomes Aaron: first, not last.
    for (b, p) in backends.iter().enumerate() {
        p.replace_user(&ctx, &ids[b][3], user("dan", Some("Aaron")), None)
            .await
            .unwrap();
    }
    compare(&sql, &memory, &ctx, "after a replace").await;
    let (_, names) = sorted(&sql, &ctx, SortOrder::Ascending).await;
    assert_eq!(names.first().map(String::as_str), Some("dan"), "{names:?}");

    // cat gains a family name by PATCH; ann loses hers.
    let patch = |op: serde_json::Value| -> PatchOp {
        serde_json::from_value(serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [op],
        }))
        .unwrap()
    };
    for (b, p) in backends.iter().enumerate() {
        p.patch_user(
            &ctx,
            &ids[b][2],
            &patch(serde_json::json!({"op": "add", "path": "name.familyName", "value": "Baker"})),
            None,
        )
        .await
        .unwrap();
        p.patch_user(
            &ctx,
            &ids[b][0],
            &patch(serde_json::json!({"op": "remove", "path": "name.familyName"})),
            None,
        )
        .await
        .unwrap();
    }
    compare(&sql, &memory, &ctx, "after PATCHes").await;

    // bob is deleted: gone from every page and from the total.
    for (b, p) in backends.iter().enumerate() {
        p.delete_user(&ctx, &ids[b][1], None).await.unwrap();
    }
    compare(&sql, &memory, &ctx, "after a delete").await;
    let (total, names) = sorted(&sql, &ctx, SortOrder::Ascending).await;
    assert_eq!(total, 6);
    assert!(!names.iter().any(|n| n == "bob"), "{names:?}");

    // Another tenant's users never show.
    sql.create_user(&RequestContext::new("other"), user("zed", Some("A")))
        .await
        .unwrap();
    compare(&sql, &memory, &ctx, "beside another tenant").await;
}
