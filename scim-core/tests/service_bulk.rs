//! `/Bulk` (RFC 7644 §3.7) through the service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{harness, harness_with};
use http::StatusCode;
use serde_json::{Value, json};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn ops(body: &Value) -> &Vec<Value> {
    body["Operations"].as_array().unwrap()
}

#[test]
fn references_run_in_dependency_order_and_are_substituted() {
    let h = harness();
    // The group comes first in the request but needs the user's id.
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "schemas": [BULK_REQUEST],
            "Operations": [
                {
                    "method": "POST", "path": "/Groups", "bulkId": "g1",
                    "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u1"}]}
                },
                {
                    "method": "POST", "path": "/Users", "bulkId": "u1",
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}
                },
                {
                    "method": "PATCH", "path": "/Users/bulkId:u1",
                    "data": {"Operations": [{"op": "replace", "path": "title", "value": "Guide"}]}
                }
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["schemas"], json!([BULK_RESPONSE]));
    let ops = ops(&r.body);
    assert_eq!(ops.len(), 3, "{}", r.body);
    // Reported in request order.
    assert_eq!(ops[0]["bulkId"], "g1");
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["bulkId"], "u1");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "200");
    assert_eq!(ops[2]["method"], "PATCH");
    let user_location = ops[1]["location"].as_str().unwrap();
    assert!(user_location.starts_with("http://scim.test/scim/v2/Users/"));
    assert!(ops[1]["version"].as_str().unwrap().starts_with("W/"));
    assert_eq!(ops[2]["location"], user_location);
    let user_id = user_location.rsplit('/').next().unwrap();

    let group = h.get(
        ops[0]["location"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://scim.test"),
    );
    assert_eq!(group.body["members"][0]["value"], user_id);
    let user = h.get(&format!("/scim/v2/Users/{user_id}"));
    assert_eq!(user.body["title"], "Guide");
    assert_eq!(user.body["groups"][0]["display"], "Tour Guides");
}

#[test]
fn circular_references_are_409_and_create_nothing() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "a",
                 "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "b",
                 "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "independent"}}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK);
    let ops = ops(&r.body);
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0]["status"], "409");
    assert!(
        ops[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circular")
    );
    assert_eq!(ops[0]["response"]["status"], "409");
    assert_eq!(ops[1]["status"], "409");
    assert_eq!(ops[2]["status"], "201");
    assert_eq!(h.backend.group_count("tenant-a"), 0);
    assert_eq!(h.backend.user_count("tenant-a"), 1);
}

#[test]
fn unknown_and_failed_references_are_409() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "POST", "path": "/Groups", "data": {"displayName": "G", "members": [{"value": "bulkId:nobody"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}},
                {"method": "PATCH", "path": "/Users/bulkId:bad", "data": {"Operations": []}}
            ]
        }),
    );
    let list = ops(&r.body);
    assert_eq!(list[0]["status"], "409");
    assert!(
        list[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    assert_eq!(list[1]["status"], "400");
    assert_eq!(list[1]["response"]["scimType"], "invalidValue");
    assert_eq!(list[2]["status"], "409");
    assert_eq!(h.backend.group_count("tenant-a"), 0);
}

#[test]
fn fail_on_errors_stops_processing() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "OK"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "never"}}
            ]
        }),
    );
    let list = ops(&r.body);
    assert_eq!(list.len(), 2, "{}", r.body);
    assert_eq!(list[0]["status"], "201");
    assert_eq!(list[1]["status"], "409");
    assert_eq!(list[1]["response"]["scimType"], "uniqueness");
    assert_eq!(h.backend.user_count("tenant-a"), 1);

    // Two errors allowed: the third operation still runs.
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "failOnErrors": 2,
            "Operations": [
                {"method": "POST", "path": "/Users", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "fresh"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "data": {"userName": "never"}}
            ]
        }),
    );
    let statuses: Vec<&str> = ops(&r.body)
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["409", "201", "409"]);

    h.post(
        "/scim/v2/Bulk",
        &json!({"failOnErrors": 0, "Operations": []}),
    )
    .assert_error(400, Some("invalidValue"));
}

#[test]
fn limits_are_413_for_the_whole_request() {
    let h = harness_with(|b| b.max_bulk_operations(2));
    let op = json!({"method": "POST", "path": "/Users", "data": {"userName": "x"}});
    let r = h.post("/scim/v2/Bulk", &json!({"Operations": [op, op, op]}));
    r.assert_error(413, None);
    assert!(r.detail().contains("maxOperations"));
    assert_eq!(h.backend.user_count("tenant-a"), 0);

    let h = harness_with(|b| b.max_payload_size(100));
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({"Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "x".repeat(200)}}]}),
    );
    r.assert_error(413, None);
    assert_eq!(h.backend.user_count("tenant-a"), 0);
}

#[test]
fn put_delete_versions_and_bad_operations() {
    let h = harness();
    let id = h.user("bjensen");
    let etag = h
        .get(&format!("/scim/v2/Users/{id}"))
        .header("etag")
        .unwrap()
        .to_owned();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"999\"", "data": {"userName": "x"}},
                {"method": "PUT", "path": format!("/Users/{id}"), "version": etag, "data": {"userName": "bj"}},
                {"method": "GET", "path": format!("/Users/{id}")},
                {"method": "POST", "path": "/Bulk", "data": {"Operations": []}},
                {"method": "POST", "path": "/Nowhere", "data": {}},
                {"method": "PUT", "path": "/Users"},
                "not an object",
                {"method": "DELETE", "path": format!("/Users/{id}")},
                {"method": "DELETE", "path": format!("/Users/{id}")}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK);
    let statuses: Vec<&str> = ops(&r.body)
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "412", "200", "400", "400", "400", "400", "400", "204", "404"
        ]
    );
    let ops = ops(&r.body);
    assert_eq!(
        ops[7]["location"],
        format!("http://scim.test/scim/v2/Users/{id}")
    );
    assert_eq!(h.backend.user_count("tenant-a"), 0);

    // Malformed requests.
    h.post("/scim/v2/Bulk", &json!({"operations": "x"}))
        .assert_error(400, Some("invalidSyntax"));
    h.post("/scim/v2/Bulk", &json!([]))
        .assert_error(400, Some("invalidSyntax"));
    // An empty request is fine.
    let r = h.post("/scim/v2/Bulk", &json!({"Operations": []}));
    assert_eq!(r.body["Operations"], json!([]));
}

#[test]
fn bulk_is_scoped_to_the_tenant() {
    let h = harness();
    let id = h.user("alice");
    let mut req = common::request(
        http::Method::POST,
        "/scim/v2/Bulk",
        Some(&json!({"Operations": [{"method": "DELETE", "path": format!("/Users/{id}")}]})),
    );
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", common::TOKEN_B).parse().unwrap(),
    );
    let r = h.send(req);
    assert_eq!(ops(&r.body)[0]["status"], "404");
    assert_eq!(h.backend.user_count("tenant-a"), 1);
}
