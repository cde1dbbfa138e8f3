//! A plain `GET` of a user on a SQLite file serves the stored text as it is (no decoding), and
//! the answer is the one the typed path gives: same JSON, same `ETag`, no password; a stored
//! text this store would not write is decoded instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use scim_core::provision::{FetchedUser, Provisioner, RequestContext};
use scim_core::{BearerTokens, Group, Member, ScimService, User};
use scim_sql::SqlProvisioner;
use serde_json::{Value, json};

const TOKEN: &str = "t0ken";

fn get(uri: &str, if_none_match: Option<&str>) -> http::Request<Vec<u8>> {
    let mut req = http::Request::get(uri)
        .header("Host", "scim.example.com")
        .header("Authorization", format!("Bearer {TOKEN}"));
    if let Some(tag) = if_none_match {
        req = req.header("If-None-Match", tag);
    }
    req.body(Vec::new()).unwrap()
}

/// A file-backed store (direct readers only exist for files) holding a user in one group.
async fn seeded() -> (Arc<SqlProvisioner>, String, std::path::PathBuf) {
    let url = common::temp_sqlite_url("served-text");
    let path = std::path::PathBuf::from(url.trim_start_matches("sqlite://"));
    let p = Arc::new(SqlProvisioner::connect(&url).await.unwrap());
    let id = seed(&p, "acme").await;
    (p, id, path)
}

/// A user in one group, in `tenant`; the user's id.
async fn seed(p: &SqlProvisioner, tenant: &str) -> String {
    let ctx = RequestContext::new(tenant);
    let user: User = serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "bjensen@example.com",
        "name": {"givenName": "Bar\"bara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "password": "s3cret!",
        "title": "Tour Guide ✈",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
    }))
    .unwrap();
    let id = p.create_user(&ctx, user).await.unwrap().id.unwrap();
    let mut group = Group::new("Tour Guides");
    group.members = vec![Member::new(id.clone())];
    p.create_group(&ctx, group).await.unwrap();
    id
}

fn service(p: Arc<SqlProvisioner>, tenant: &str) -> ScimService {
    ScimService::builder(p)
        .authenticator(Arc::new(BearerTokens::new().with_token(TOKEN, tenant)))
        .build()
}

fn body(response: &http::Response<Vec<u8>>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn the_stored_text_is_served_as_the_typed_user_would_be() {
    // A file: the direct readers.
    let (p, id, _) = seeded().await;
    served_as_typed(p, "acme", &id).await;
    // In memory (no direct readers): the sqlx readers.
    let p = Arc::new(common::sqlite().await);
    let id = seed(&p, "acme").await;
    served_as_typed(p, "acme", &id).await;
}

#[tokio::test]
async fn the_stored_text_is_served_as_the_typed_user_would_be_on_postgres() {
    let Some(p) = common::postgres("served_text").await else {
        return;
    };
    let tenant = common::unique("served-text");
    let p = Arc::new(p);
    let id = seed(&p, &tenant).await;
    served_as_typed(p, &tenant, &id).await;
}

async fn served_as_typed(p: Arc<SqlProvisioner>, tenant: &str, id: &str) {
    let ctx = RequestContext::new(tenant);
    let FetchedUser::Json(fetched) = p.fetch_user(&ctx, id).await.unwrap() else {
        panic!("the store serves its text");
    };
    assert_eq!(fetched.id(), id);
    assert_eq!(fetched.groups().len(), 1);
    assert!(p.fetch_user(&ctx, "no-such-id").await.is_err());

    let scim = service(p.clone(), tenant);
    let plain = scim
        .handle(get(&format!("/scim/v2/Users/{id}"), None))
        .await;
    assert_eq!(plain.status(), 200);
    // `excludedAttributes` of an attribute the user lacks: the typed path, same content.
    let typed = scim
        .handle(get(
            &format!("/scim/v2/Users/{id}?excludedAttributes=nickName"),
            None,
        ))
        .await;
    assert_eq!(typed.status(), 200);
    assert_eq!(body(&plain), body(&typed));
    assert_eq!(plain.headers()["ETag"], typed.headers()["ETag"]);
    assert_eq!(
        plain.headers()["Content-Type"],
        typed.headers()["Content-Type"]
    );

    let served = body(&plain);
    assert!(served.get("password").is_none(), "{served}");
    assert_eq!(served["id"], json!(id));
    assert_eq!(served["name"]["givenName"], json!("Bar\"bara"));
    assert_eq!(served["groups"][0]["display"], json!("Tour Guides"));
    assert!(
        served["groups"][0]["$ref"]
            .as_str()
            .unwrap()
            .starts_with("http://scim.example.com/scim/v2/Groups/"),
        "{served}"
    );
    assert_eq!(
        served["meta"]["location"],
        json!(format!("http://scim.example.com/scim/v2/Users/{id}"))
    );
    assert_eq!(
        plain.headers()["ETag"].to_str().unwrap(),
        served["meta"]["version"].as_str().unwrap()
    );

    // The version as a tag: 304 without a body.
    let tag = plain.headers()["ETag"].to_str().unwrap().to_owned();
    let again = scim
        .handle(get(&format!("/scim/v2/Users/{id}"), Some(&tag)))
        .await;
    assert_eq!(again.status(), 304);
    assert!(again.body().is_empty());

    let missing = scim.handle(get("/scim/v2/Users/no-such-id", None)).await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_text_this_store_would_not_write_is_decoded_instead() {
    let (p, id, path) = seeded().await;
    let ctx = RequestContext::new("acme");
    // Another writer left a password (and a stale meta) in the stored text.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let changed = conn
        .execute(
            "UPDATE scim_users SET resource = json_set(resource, '$.password', 'leaked', \
             '$.meta', json('{\"version\":\"W/\\\"99\\\"\"}')) WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    assert!(
        matches!(
            p.fetch_user(&ctx, &id).await.unwrap(),
            FetchedUser::Shared(_)
        ),
        "the text is refused and the row decoded"
    );
    let scim = service(p.clone(), "acme");
    let plain = scim
        .handle(get(&format!("/scim/v2/Users/{id}"), None))
        .await;
    assert_eq!(plain.status(), 200);
    let served = body(&plain);
    assert!(served.get("password").is_none(), "{served}");
    assert_ne!(served["meta"]["version"], json!("W/\"99\""), "{served}");
    assert_eq!(served["userName"], json!("bjensen@example.com"));
}

/// Text with what JSON must escape or carries as UTF-8.
fn text() -> impl proptest::strategy::Strategy<Value = String> {
    "[a-zA-Z0-9 \"\\\\/\\n\\t\u{e9}\u{2708}\u{1f600}<>&']{1,24}"
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(48))]

    /// Any user: the plain GET (the stored text) answers what the typed path answers.
    #[test]
    fn any_user_is_served_from_its_text_as_typed(
        name in text(),
        given in proptest::option::of(text()),
        title in proptest::option::of(text()),
        emails in proptest::collection::vec(text(), 0..3),
        employee in proptest::option::of(text()),
        extra in proptest::option::of(text()),
        groups in proptest::collection::vec(text(), 0..3),
    ) {
        let mut sent = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("u-{name}"),
            "password": "s3cret!",
            "emails": emails.iter().map(|e| json!({"value": e, "type": "work"})).collect::<Vec<_>>(),
        });
        if let Some(given) = given {
            sent["name"] = json!({"givenName": given});
        }
        if let Some(title) = title {
            sent["title"] = json!(title);
        }
        if let Some(employee) = employee {
            sent["schemas"]
                .as_array_mut()
                .unwrap()
                .push(json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
            sent["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                json!({"employeeNumber": employee});
        }
        if let Some(extra) = extra {
            sent["nonStandard"] = json!({"note": extra});
        }
        let user: User = serde_json::from_value(sent).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (plain, typed) = runtime.block_on(async {
            let p = Arc::new(common::sqlite().await);
            let ctx = RequestContext::new("acme");
            let id = p.create_user(&ctx, user).await.unwrap().id.unwrap();
            for (i, display) in groups.iter().enumerate() {
                let mut group = Group::new(format!("{i}-{display}"));
                group.members = vec![Member::new(id.clone())];
                p.create_group(&ctx, group).await.unwrap();
            }
            assert!(matches!(p.fetch_user(&ctx, &id).await.unwrap(), FetchedUser::Json(_)));
            let scim = service(p, "acme");
            let plain = scim.handle(get(&format!("/scim/v2/Users/{id}"), None)).await;
            let typed = scim
                .handle(get(&format!("/scim/v2/Users/{id}?excludedAttributes=nickName"), None))
                .await;
            (plain, typed)
        });
        proptest::prop_assert_eq!(plain.status(), 200);
        proptest::prop_assert_eq!(body(&plain), body(&typed));
        proptest::prop_assert_eq!(&plain.headers()["ETag"], &typed.headers()["ETag"]);
        let served = body(&plain);
        proptest::prop_assert!(served.get("password").is_none());
        proptest::prop_assert_eq!(served["groups"].as_array().map_or(0, Vec::len), groups.len());
    }
}
