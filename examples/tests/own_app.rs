//! The "add SCIM to your own app" example: its `Provisioner` over the app's own tables passes
//! scim-core's conformance suite, and SCIM requests through the app's router land in the
//! app's tables, where its own route sees them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use scim_core::provision::{DocumentProvisioner, Provisioner, RequestContext, conformance};
use scim_examples::own_app::{self, scim::AppDirectory};
use serde_json::{Value, json};
use tower::ServiceExt as _;

#[tokio::test]
async fn the_apps_tables_pass_the_conformance_suite() {
    let pool = own_app::open("sqlite::memory:").await.unwrap();
    conformance::run_all(&DocumentProvisioner::new(AppDirectory(pool)), "own-app").await;
}

#[tokio::test]
async fn a_user_the_app_made_itself_is_served_over_scim() {
    let pool = own_app::open("sqlite::memory:").await.unwrap();
    sqlx::query("INSERT INTO users (org, login, display_name, email, active) VALUES ('acme', 'old.timer', 'Old Timer', 'old@acme.test', 0)")
        .execute(&pool)
        .await
        .unwrap();
    let users = DocumentProvisioner::new(AppDirectory(pool))
        .scan_users(&RequestContext::new("acme"), 0, 10)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user_name, "old.timer");
    assert_eq!(users[0].display_name.as_deref(), Some("Old Timer"));
    assert_eq!(users[0].primary_email(), Some("old@acme.test"));
    assert_eq!(users[0].active, Some(false));
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "app.test")
        .header("Authorization", "Bearer idp-token");
    if body.is_some() {
        request = request.header("Content-Type", "application/scim+json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn scim_writes_land_in_the_apps_own_columns() {
    let pool = own_app::open("sqlite::memory:").await.unwrap();
    let app = own_app::with_scim(pool, "idp-token", "acme");
    let (status, user) = call(&app, "POST", "/scim/v2/Users", Some(json!({
        "userName": "bjensen@acme.test",
        "displayName": "Babs Jensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "home@jensen.org", "type": "home"}, {"value": "bjensen@acme.test", "type": "work", "primary": true}],
        "externalId": "okta-00u1"
    }))).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        user["name"]["givenName"], "Barbara",
        "kept in the JSON column"
    );
    let id = user["id"].as_str().unwrap().to_owned();

    let (status, group) = call(
        &app,
        "POST",
        "/scim/v2/Groups",
        Some(json!({
            "displayName": "Tour Guides", "members": [{"value": id}]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");

    let (status, patched) = call(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["groups"][0]["display"], "Tour Guides");

    // The app's own route reads its own columns.
    let response = app
        .clone()
        .oneshot(
            Request::get("/api/users?org=acme")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let listed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        listed,
        json!([{
            "login": "bjensen@acme.test",
            "displayName": "Babs Jensen",
            "email": "bjensen@acme.test",
            "active": false
        }])
    );

    // SCIM reads what it wrote; a token for no organisation gets nothing.
    let filter = "/scim/v2/Users?filter=userName%20eq%20%22BJENSEN@acme.test%22";
    let (status, found) = call(&app, "GET", filter, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["externalId"], "okta-00u1");
    let request = Request::get("/scim/v2/Users")
        .header("Authorization", "Bearer another-token")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
