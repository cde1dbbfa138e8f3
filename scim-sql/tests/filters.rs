//! SQL search results equal the reference evaluator's: for generated users and filters, the users
//! a search returns are exactly those `Filter::matches_with` (built-in schemas) accepts, in the
//! order `scim_core::sort` gives; and index-friendly filters run entirely in SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use scim_core::messages::SortOrder;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::resource::{EnterpriseUser, Manager, MultiValue, Name};
use scim_core::schema::SchemaRegistry;
use scim_core::{User, urn};
use scim_filter::{AttrPath, CompValue, CompareOp, Filter};
use scim_sql::SqlProvisioner;

/// Strings chosen to hit case folding (ASCII and not), prefixes, suffixes, booleans and empties.
const WORDS: &[&str] = &[
    "alice",
    "ALICE",
    "Alice Smith",
    "bob",
    "Bo",
    "ob",
    "",
    "true",
    "True",
    "ÉCOLE",
    "école",
    "straße",
    "STRASSE",
    "Ünïcode",
    "x%_y",
    "a'b",
    "2011-05-13T04:42:34Z",
];

fn word() -> impl Strategy<Value = String> {
    proptest::sample::select(WORDS).prop_map(str::to_owned)
}

/// A registered extension schema (beside the built-in ones) whose attributes filters push down
/// too: a case-exact string, a boolean and a multi-valued string.
const BADGE_URN: &str = "urn:example:params:scim:schemas:extension:badge:2.0:User";

fn schemas() -> SchemaRegistry {
    let mut registry = SchemaRegistry::builtin().clone();
    registry.add(
        serde_json::from_value(serde_json::json!({
            "id": BADGE_URN,
            "name": "Badge",
            "attributes": [
                {"name": "badge", "type": "string", "multiValued": false, "caseExact": true},
                {"name": "vip", "type": "boolean", "multiValued": false},
                {"name": "tags", "type": "string", "multiValued": true}
            ]
        }))
        .unwrap(),
    );
    registry
}

#[derive(Clone, Debug)]
struct Spec {
    user_name: String,
    display: Option<String>,
    external: Option<String>,
    active: Option<bool>,
    title: Option<String>,
    /// Type, value, primary.
    email: Option<(String, String, Option<bool>)>,
    given: Option<String>,
    phone: Option<(String, Option<bool>)>,
    /// employeeNumber, department, manager.value (case-exact).
    enterprise: Option<(Option<String>, Option<String>, Option<String>)>,
    /// badge (case-exact), vip, tags.
    badge: Option<(Option<String>, Option<bool>, Vec<String>)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let core = (
        word(),
        proptest::option::of(word()),
        proptest::option::of(word()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(word()),
        proptest::option::of((
            proptest::sample::select(&["work", "home"][..]),
            word(),
            proptest::option::of(any::<bool>()),
        )),
    );
    let more = (
        proptest::option::of(word()),
        proptest::option::of((word(), proptest::option::of(any::<bool>()))),
        proptest::option::of((
            proptest::option::of(word()),
            proptest::option::of(word()),
            proptest::option::of(word()),
        )),
        proptest::option::of((
            proptest::option::of(word()),
            proptest::option::of(any::<bool>()),
            proptest::collection::vec(word(), 0..3),
        )),
    );
    (core, more).prop_map(
        |((u, d, e, a, t, m), (given, phone, enterprise, badge))| Spec {
            user_name: u,
            display: d,
            external: e,
            active: a,
            title: t,
            email: m.map(|(k, v, p)| (k.to_owned(), v, p)),
            given,
            phone,
            enterprise,
            badge,
        },
    )
}

fn path(s: &str) -> AttrPath {
    s.parse().unwrap()
}

fn leaf() -> impl Strategy<Value = Filter> {
    let attrs = proptest::sample::select(
        &[
            "userName",
            "displayName",
            "externalId",
            "active",
            "title",
            "emails.value",
            "emails.type",
            "emails",
            "emails.primary",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "meta.created",
            "name.givenName",
            "name",
            "phoneNumbers",
            "phoneNumbers.primary",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:example:params:scim:schemas:extension:badge:2.0:User:badge",
            "urn:example:params:scim:schemas:extension:badge:2.0:User:vip",
            "urn:example:params:scim:schemas:extension:badge:2.0:User:tags",
        ][..],
    );
    let ops = proptest::sample::select(
        &[
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ][..],
    );
    let value = prop_oneof![
        6 => word().prop_map(|w| CompValue::String(w.as_str().into())),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => Just(CompValue::Null),
        1 => Just(CompValue::Number(3.into())),
        1 => proptest::sample::select(&["2000-01-01T00:00:00Z", "2100-01-01T00:00:00+02:00"][..])
            .prop_map(|d| CompValue::String(d.into())),
    ];
    prop_oneof![
        8 => (attrs.clone(), ops, value).prop_map(|(a, o, v)| Filter::compare(path(a), o, v)),
        1 => attrs.prop_map(|a| Filter::present(path(a))),
        1 => (proptest::sample::select(&["work", "home"][..]), word()).prop_map(|(k, w)| {
            Filter::value_path(
                path("emails"),
                Filter::and(
                    Filter::eq_str(path("type"), k),
                    Filter::compare(path("value"), CompareOp::Co, CompValue::String(w.as_str().into())),
                ),
            )
        }),
        1 => (any::<bool>(), word()).prop_map(|(p, w)| {
            Filter::value_path(
                path("phoneNumbers"),
                Filter::or(
                    Filter::compare(path("primary"), CompareOp::Eq, CompValue::Bool(p)),
                    Filter::not(Filter::compare(path("value"), CompareOp::Sw, CompValue::String(w.as_str().into()))),
                ),
            )
        }),
        1 => word().prop_map(|w| {
            Filter::value_path(
                path("name"),
                Filter::compare(path("givenName"), CompareOp::Ew, CompValue::String(w.as_str().into())),
            )
        }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
            inner.prop_map(Filter::not),
        ]
    })
}

fn sort() -> impl Strategy<Value = Option<(AttrPath, SortOrder)>> {
    proptest::option::of((
        proptest::sample::select(
            &[
                "userName",
                "displayName",
                "externalId",
                "title",
                "meta.created",
                "name.givenName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "urn:ietf:params:scim:schemas:extension:badge:2.0:User:badge",
            ][..],
        ),
        proptest::sample::select(&[SortOrder::Ascending, SortOrder::Descending][..]),
    ))
    .prop_map(|o| o.map(|(p, d)| (path(p), d)))
}

fn user(s: &Spec, n: usize) -> User {
    // userName must be unique (ignoring case): suffix it, keeping the generated text in front.
    let mut u = User::new(format!("{}#{n}", s.user_name));
    u.display_name.clone_from(&s.display);
    u.external_id.clone_from(&s.external);
    u.active = s.active;
    u.title.clone_from(&s.title);
    u.emails = s
        .email
        .iter()
        .map(|(k, v, p)| MultiValue {
            value: Some(v.clone()),
            kind: Some(k.clone()),
            primary: *p,
            ..MultiValue::default()
        })
        .collect();
    u.phone_numbers = s
        .phone
        .iter()
        .map(|(v, p)| MultiValue {
            value: Some(v.clone()),
            primary: *p,
            ..MultiValue::default()
        })
        .collect();
    if let Some(given) = &s.given {
        u.name = Some(Name {
            given_name: Some(given.clone()),
            ..Name::default()
        });
    }
    if let Some((number, department, manager)) = &s.enterprise {
        let ext = EnterpriseUser {
            employee_number: number.clone(),
            department: department.clone(),
            manager: manager.as_ref().map(|m| Manager {
                value: Some(m.clone()),
                ..Manager::default()
            }),
            ..EnterpriseUser::default()
        };
        u.set_enterprise(&ext).unwrap();
    }
    if let Some((badge, vip, tags)) = &s.badge {
        // As a client writes it: the attribute names in another case than the schema's.
        let mut ext = serde_json::Map::new();
        if let Some(b) = badge {
            ext.insert("Badge".to_owned(), b.clone().into());
        }
        if let Some(v) = vip {
            ext.insert("VIP".to_owned(), (*v).into());
        }
        if !tags.is_empty() {
            ext.insert("tags".to_owned(), tags.clone().into());
        }
        u.extensions.insert(BADGE_URN.to_owned(), ext.into());
    }
    u
}

static TENANT: AtomicU64 = AtomicU64::new(0);

/// Creates the users in a tenant of their own and checks the search against the evaluator.
async fn check(
    p: &SqlProvisioner,
    in_memory: Option<&SqlProvisioner>,
    specs: &[Spec],
    f: &Filter,
    sort: Option<&(AttrPath, SortOrder)>,
) {
    let tenant = common::unique(&format!("prop{}", TENANT.fetch_add(1, Ordering::Relaxed)));
    let ctx = RequestContext::new(&tenant);
    for (n, s) in specs.iter().enumerate() {
        p.create_user(&ctx, user(s, n)).await.unwrap();
    }
    let all = p.scan_users(&ctx, 0, usize::MAX).await.unwrap();
    let registry = schemas();
    let schema = registry.resource(urn::USER);
    let mut expected: Vec<(serde_json::Value, String)> = all
        .iter()
        .map(|u| (serde_json::to_value(u).unwrap(), u.id.clone().unwrap()))
        .filter(|(json, _)| f.matches_with(json, &schema))
        .collect();
    let mut query = ListQuery::new().with_filter(f.clone());
    if let Some((path, order)) = sort {
        scim_core::sort::sort_items_by_path(&mut expected, |(v, _)| v, path, *order, &schema);
        query = query.with_sort(path.clone(), *order);
    }
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    // The search, and with pushdown off on the same database (the in-memory path), agree.
    for (how, backend) in [("SQL", Some(p)), ("in memory", in_memory)] {
        let Some(backend) = backend else { continue };
        let page = backend.search_users(&ctx, &query).await.unwrap();
        let got: Vec<String> = page
            .resources
            .iter()
            .map(|u| u.id.clone().unwrap())
            .collect();
        assert_eq!(got, expected, "{how}: filter `{f}`, sort {sort:?}");
        assert_eq!(page.total_results, expected.len() as u64);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_search_equals_the_evaluator(
        specs in proptest::collection::vec(spec(), 0..8),
        f in filter(),
        s in sort(),
    ) {
        thread_local! {
            // A file, so that a second provisioner (pushdown off) sees the same rows.
            static DB: (tokio::runtime::Runtime, SqlProvisioner, SqlProvisioner) = {
                let rt = runtime();
                let url = common::temp_sqlite_url("prop");
                let p = rt
                    .block_on(SqlProvisioner::connect_with(
                        scim_sql::SqlOptions::new(url.clone()).schemas(schemas()),
                    ))
                    .unwrap();
                let q = rt
                    .block_on(SqlProvisioner::connect_with(
                        scim_sql::SqlOptions::new(url).push_down(false).schemas(schemas()),
                    ))
                    .unwrap();
                (rt, p, q)
            };
        }
        DB.with(|(rt, p, q)| rt.block_on(check(p, Some(q), &specs, &f, s.as_ref())));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn postgres_search_equals_the_evaluator(
        specs in proptest::collection::vec(spec(), 0..8),
        f in filter(),
        s in sort(),
    ) {
        thread_local! {
            static DB: (tokio::runtime::Runtime, Option<SqlProvisioner>) = {
                let rt = runtime();
                let p = rt.block_on(common::postgres_with(
                    "postgres_search_equals_the_evaluator",
                    |o| o.schemas(schemas()),
                ));
                (rt, p)
            };
        }
        DB.with(|(rt, p)| {
            if let Some(p) = p {
                rt.block_on(check(p, None, &specs, &f, s.as_ref()));
            }
        });
    }
}

#[tokio::test]
async fn index_friendly_filters_and_sorts_run_in_sql() {
    let p = common::sqlite().await;
    for f in [
        r#"userName eq "bjensen""#,
        r#"externalId eq "42""#,
        r#"userName sw "b" and not (active eq false) or displayName co "x""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"id eq "x" and userName pr"#,
        r#"title eq "x" or not (name.familyName pr)"#,
        r#"emails[type eq "work" and value co "@example.com"] or emails.value ne "x""#,
        "not (emails.value pr) or phoneNumbers.value eq null",
        "emails.primary eq true",
        "emails[primary eq true] and emails pr",
        r#"addresses[type eq "work" and locality sw "x"]"#,
        r#"name[givenName eq "Barbara"] and name pr"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "sales""#,
        r#"roles.value eq "admin" or entitlements ew "x" or ims[type eq "aim"]"#,
        r#"x509Certificates.value eq "TUlJ" or photos.value sw "https:""#,
    ] {
        let q = ListQuery::new()
            .with_filter(f.parse().unwrap())
            .with_sort(path("userName"), SortOrder::Descending);
        assert!(scim_sql::runs_in_sql(&p, &q, false), "{f} runs in SQL");
    }
    // A registered extension's attributes, given the schemas.
    let with_badge = SqlProvisioner::connect_with(
        scim_sql::SqlOptions::new("sqlite::memory:").schemas(schemas()),
    )
    .await
    .unwrap();
    for f in [
        r#"urn:example:params:scim:schemas:extension:badge:2.0:User:badge eq "B-1""#,
        "urn:example:params:scim:schemas:extension:badge:2.0:User:vip eq true",
        r#"urn:example:params:scim:schemas:extension:badge:2.0:User:tags co "x""#,
    ] {
        let q = ListQuery::new().with_filter(f.parse().unwrap());
        assert!(
            scim_sql::runs_in_sql(&with_badge, &q, false),
            "{f} runs in SQL"
        );
        assert!(
            !scim_sql::runs_in_sql(&p, &q, false),
            "{f} without its schema"
        );
    }
    for f in [
        // From the memberships table, not the stored JSON.
        r#"groups.value eq "g1""#,
        r#"meta.created co "2011""#,
        // No schema knows it.
        r#"urn:example:params:scim:schemas:extension:custom:2.0:User:badge eq "1""#,
    ] {
        let q = ListQuery::new().with_filter(f.parse().unwrap());
        assert!(
            !scim_sql::runs_in_sql(&p, &q, false),
            "{f} needs the fallback"
        );
    }
    let q = ListQuery::new().with_sort(path("emails.value"), SortOrder::Ascending);
    assert!(
        !scim_sql::runs_in_sql(&p, &q, false),
        "sorting by emails happens in memory"
    );
    let q = ListQuery::new()
        .with_filter(r#"title sw "eng" and name.givenName eq "Barbara""#.parse().unwrap())
        .with_sort(path("title"), SortOrder::Ascending);
    assert!(
        scim_sql::runs_in_sql(&p, &q, false),
        "single-valued strings of the stored JSON are filtered and sorted in SQL"
    );
    let q = ListQuery::new().with_filter(r#"displayName eq "admins""#.parse().unwrap());
    assert!(
        scim_sql::runs_in_sql(&p, &q, true),
        "group displayName runs in SQL"
    );
}

#[tokio::test]
async fn the_fallback_is_bounded() {
    let p = SqlProvisioner::connect_with(
        scim_sql::SqlOptions::new("sqlite::memory:").fallback_limit(300),
    )
    .await
    .unwrap();
    let ctx = RequestContext::new("t");
    p.create_users_bulk(&ctx, (0..450).map(|i| User::new(format!("u{i}"))))
        .await
        .unwrap();
    let q = ListQuery::new().with_filter(r#"groups.value eq "g1""#.parse().unwrap());
    let err = p.search_users(&ctx, &q).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 400, "{err:?}");
    // Narrowed by an indexed column, the same residual filter reads few rows and succeeds.
    let q = ListQuery::new()
        .with_filter(r#"userName sw "u1" and groups.value eq "x""#.parse().unwrap());
    assert_eq!(p.search_users(&ctx, &q).await.unwrap().total_results, 0);
}

/// `null` comparisons on a multi-valued string (of a registered extension) whose elements are
/// strings that are not JSON text on their own (`alice`, `a'b`, the empty string): once a
/// "malformed JSON" 500 on SQLite, where `json_each` hands out a string element unquoted.
#[test]
fn null_comparisons_on_multi_valued_strings() {
    let rt = runtime();
    let url = common::temp_sqlite_url("null-tags");
    let sqlite = rt
        .block_on(SqlProvisioner::connect_with(
            scim_sql::SqlOptions::new(url.clone()).schemas(schemas()),
        ))
        .unwrap();
    let in_memory = rt
        .block_on(SqlProvisioner::connect_with(
            scim_sql::SqlOptions::new(url)
                .push_down(false)
                .schemas(schemas()),
        ))
        .unwrap();
    let postgres = rt.block_on(common::postgres_with(
        "null_comparisons_on_multi_valued_strings",
        |o| o.schemas(schemas()),
    ));
    let mut specs = Vec::new();
    for (i, w) in WORDS.iter().enumerate() {
        for tags in [
            vec![],
            vec![(*w).to_owned()],
            vec![(*w).to_owned(), "a'b".to_owned()],
        ] {
            specs.push(Spec {
                user_name: format!("u{i}-{}", tags.len()),
                display: None,
                external: None,
                active: None,
                title: None,
                email: None,
                given: None,
                phone: None,
                enterprise: None,
                badge: Some((Some((*w).to_owned()), None, tags)),
            });
        }
    }
    for f in [
        "not (urn:example:params:scim:schemas:extension:badge:2.0:User:tags eq null)",
        "urn:example:params:scim:schemas:extension:badge:2.0:User:tags eq null",
        "urn:example:params:scim:schemas:extension:badge:2.0:User:tags ne null",
        "urn:example:params:scim:schemas:extension:badge:2.0:User:tags pr",
        "not (urn:example:params:scim:schemas:extension:badge:2.0:User:badge eq null)",
    ] {
        let f: Filter = f.parse().unwrap();
        assert!(
            scim_sql::runs_in_sql(&sqlite, &ListQuery::new().with_filter(f.clone()), false),
            "{f}"
        );
        for chunk in specs.chunks(8) {
            rt.block_on(check(&sqlite, Some(&in_memory), chunk, &f, None));
            if let Some(p) = &postgres {
                rt.block_on(check(p, None, chunk, &f, None));
            }
        }
    }
}
