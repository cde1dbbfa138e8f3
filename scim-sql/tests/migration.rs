//! A database written by an earlier version (schema 1: `search` with keys as written, no
//! `scim_user_values`, no JSON indexes, no sync history search columns) opens, migrates to the
//! current schema, and answers the newly pushed-down filters from its existing rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use scim_core::User;
use scim_core::provision::{ListQuery, Provisioner, RequestContext};
use scim_core::resource::{EnterpriseUser, MultiValue};
use scim_sql::SqlProvisioner;
use sqlx::Row;

fn user(name: &str, email: &str, title: &str, number: &str) -> User {
    let mut u = User::new(name);
    u.title = Some(title.to_owned());
    u.emails = vec![MultiValue {
        value: Some(email.to_owned()),
        kind: Some("work".to_owned()),
        ..MultiValue::default()
    }];
    u.set_enterprise(&EnterpriseUser {
        employee_number: Some(number.to_owned()),
        ..EnterpriseUser::default()
    })
    .unwrap();
    u
}

/// Turns the database back into what schema `version` (1 or 2) wrote.
async fn downgrade_to(p: &SqlProvisioner, version: i64) {
    let sqlite = p.dialect() == scim_sql::Dialect::Sqlite;
    let statements: &[&str] = if version == 1 {
        &[
            "DROP INDEX scim_users_employee_number",
            "DROP TABLE scim_user_values",
            "DELETE FROM scim_schema_version WHERE version > 1",
            // Schema 1's copy kept the keys as written (`Title`, the URN in its own case).
            "UPDATE scim_users SET search = resource",
        ]
    } else {
        &[
            // Schema 2 kept the `value`s of multi-valued attributes only (its `title` index on
            // the JSON path is not needed for the filters to answer).
            "DELETE FROM scim_user_values WHERE attr = 'title'",
            "DELETE FROM scim_schema_version WHERE version > 2",
        ]
    };
    // Schema 6's and 5's changes and schema 4's sync history search columns go first,
    // whichever version is wanted.
    for statement in common::UNDO_SCHEMA_6
        .iter()
        .chain(&common::undo_schema_5(sqlite))
        .chain(&common::UNDO_SCHEMA_4)
        .chain(statements)
    {
        sqlx::query(statement).execute(p.pool()).await.unwrap();
    }
}

async fn count(p: &SqlProvisioner, ctx: &RequestContext, filter: &str) -> u64 {
    let q = ListQuery::new().with_filter(filter.parse().unwrap());
    assert!(scim_sql::runs_in_sql(p, &q, false), "{filter} runs in SQL");
    p.search_users(ctx, &q).await.unwrap().total_results
}

/// Writes two users into the database at `url`, turns it back into schema `from`, opens it
/// again (which migrates it) and checks the result. `indexes` lists the names of the indexes on
/// `scim_user%` tables (a query with one column, `name`).
async fn upgrades_from(from: i64, url: &str, indexes: &str) {
    let ctx = RequestContext::new("acme");
    {
        let p = SqlProvisioner::connect(url).await.unwrap();
        p.create_user(
            &ctx,
            user("bjensen", "BJensen@Example.com", "Tour Guide", "701984"),
        )
        .await
        .unwrap();
        p.create_user(&ctx, user("jsmith", "js@example.org", "Engineer", "42"))
            .await
            .unwrap();
        downgrade_to(&p, from).await;
        p.pool().close().await;
    }
    let p = SqlProvisioner::connect(url).await.unwrap();
    let version: i64 = sqlx::query("SELECT MAX(version) AS v FROM scim_schema_version")
        .fetch_one(p.pool())
        .await
        .unwrap()
        .try_get("v")
        .unwrap();
    assert_eq!(version, 6);
    let indexes: Vec<String> = sqlx::query(indexes)
        .fetch_all(p.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("name").unwrap())
        .collect();
    for want in [
        "scim_users_employee_number",
        "scim_user_values_value",
        "scim_sync_history_user_name",
        "scim_sync_history_user_id",
    ] {
        assert!(indexes.iter().any(|i| i == want), "{want} in {indexes:?}");
    }
    // Schema 5's narrow table of the `search` copies exists on SQLite only, filled from the
    // rows written before it (the sort below reads it).
    if url.starts_with("sqlite:") {
        let copies: i64 = sqlx::query("SELECT COUNT(*) AS n FROM scim_user_search")
            .fetch_one(p.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(copies, 2, "{url}");
    }
    // `title` is answered from `scim_user_values` since schema 3.
    assert!(
        !indexes.iter().any(|i| i == "scim_users_title"),
        "{indexes:?}"
    );
    // The old rows answer the filters the new schema pushes down.
    assert_eq!(
        count(&p, &ctx, r#"emails.value eq "bjensen@example.com""#).await,
        1
    );
    assert_eq!(count(&p, &ctx, r#"emails co "@EXAMPLE""#).await, 2);
    assert_eq!(count(&p, &ctx, r#"title eq "tour guide""#).await, 1);
    assert_eq!(
        count(
            &p,
            &ctx,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#
        )
        .await,
        1
    );
    // And a user written after the migration is found the same way.
    p.create_user(&ctx, user("ann", "ann@example.com", "Tour Guide", "7"))
        .await
        .unwrap();
    assert_eq!(count(&p, &ctx, r#"title eq "TOUR GUIDE""#).await, 2);
    assert_eq!(count(&p, &ctx, r#"emails.value ew ".com""#).await, 2);
    p.pool().close().await;
}

const SQLITE_INDEXES: &str =
    "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'scim_%' ORDER BY name";

#[tokio::test]
async fn a_schema_1_sqlite_file_gains_the_new_indexes_and_values() {
    upgrades_from(1, &common::temp_sqlite_url("migrate"), SQLITE_INDEXES).await;
}

#[tokio::test]
async fn a_schema_2_sqlite_file_gains_the_title_values() {
    upgrades_from(2, &common::temp_sqlite_url("migrate2"), SQLITE_INDEXES).await;
}

/// The same upgrades on PostgreSQL, each in a schema of its own: the test database is shared
/// with other tests (and other runs), whose tables a downgrade must not touch.
async fn postgres_upgrades_from(from: i64, test: &str) {
    let Some(shared) = common::postgres(test).await else {
        return;
    };
    let Ok(base) = std::env::var("SCIM_SQL_POSTGRES_URL") else {
        return;
    };
    let schema = common::unique("migrate").replace('-', "_");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(shared.pool())
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    upgrades_from(
        from,
        &url,
        "SELECT CAST(indexname AS TEXT) AS name FROM pg_indexes \
         WHERE schemaname = current_schema() AND indexname LIKE 'scim_%' ORDER BY indexname",
    )
    .await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(shared.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_schema_1_postgres_database_gains_the_new_indexes_and_values() {
    postgres_upgrades_from(
        1,
        "a_schema_1_postgres_database_gains_the_new_indexes_and_values",
    )
    .await;
}

#[tokio::test]
async fn a_schema_2_postgres_database_gains_the_title_values() {
    postgres_upgrades_from(2, "a_schema_2_postgres_database_gains_the_title_values").await;
}

/// The indexes are used: SQLite's plan for the filters IdPs send searches an index rather than
/// scanning the table.
#[tokio::test]
async fn idp_filters_use_an_index() {
    let url = common::temp_sqlite_url("plan");
    let p = SqlProvisioner::connect(&url).await.unwrap();
    for (sql, index) in [
        // `title eq` as a search counts it: ids from the covering index of the values, each
        // checked against the users' primary key, no user row read.
        (
            "SELECT COUNT(*) FROM scim_users WHERE tenant = 't' AND (scim_users.id IN \
             (SELECT user_id FROM scim_user_values WHERE tenant = 't' AND attr = 'title' \
             AND value = 'x'))",
            "COVERING INDEX scim_user_values_value",
        ),
        (
            r#"SELECT id FROM scim_users WHERE tenant = 't' AND json_extract(search, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"."employeenumber"') = '1'"#,
            "scim_users_employee_number",
        ),
        (
            "SELECT user_id FROM scim_user_values WHERE tenant = 't' AND attr = 'emails' AND value = 'x'",
            "scim_user_values_value",
        ),
        // A sort by an attribute without a column of its own reads each user's key from the
        // index of the `search` copies, not from the rows with their JSON.
        (
            "SELECT id FROM (SELECT id, json_extract(search, '$.name.familyname') AS sort_key \
             FROM scim_user_search WHERE tenant = 't' LIMIT -1 OFFSET 0) ORDER BY sort_key, id \
             LIMIT 50 OFFSET 500",
            "scim_user_search",
        ),
    ] {
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(p.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        assert!(
            plan.iter().any(|d| d.contains(index)),
            "{sql}: {plan:?} uses {index}"
        );
        assert!(
            !plan.iter().any(|d| d.starts_with("SCAN scim_users")),
            "{sql}: {plan:?} scans no table"
        );
    }
}
