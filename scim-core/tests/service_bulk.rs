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

fn statuses(body: &Value) -> Vec<&str> {
    ops(body)
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect()
}

#[test]
fn references_run_in_dependency_order_and_are_substituted() {
    let h = harness();
    // The group comes first in the request but needs the user's id; the PATCH needs it too.
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
                    "method": "PATCH", "path": "/Users/bulkId:u1",
                    "data": {"Operations": [{"op": "replace", "path": "title", "value": "Guide"}]}
                },
                {
                    "method": "POST", "path": "/Users", "bulkId": "u1",
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}
                },
                {
                    "method": "patch", "path": "/Groups/bulkId:g1",
                    "data": [{"op": "replace", "path": "displayName", "value": "Guides"}]
                }
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["schemas"], json!([BULK_RESPONSE]));
    let list = ops(&r.body);
    assert_eq!(list.len(), 4, "{}", r.body);
    // In the order run: the user first.
    assert_eq!(list[0]["bulkId"], "u1");
    assert_eq!(list[0]["method"], "POST");
    assert_eq!(list[0]["status"], "201");
    assert_eq!(list[1]["bulkId"], "g1");
    assert_eq!(list[1]["status"], "201");
    assert_eq!(list[2]["method"], "PATCH");
    assert_eq!(list[2]["status"], "200");
    assert_eq!(list[3]["status"], "200", "{}", r.body);
    let user_location = list[0]["location"].as_str().unwrap();
    assert!(user_location.starts_with("http://scim.test/scim/v2/Users/"));
    assert!(list[0]["version"].as_str().unwrap().starts_with("W/"));
    assert_eq!(list[2]["location"], user_location);
    let user_id = user_location.rsplit('/').next().unwrap();

    let group_path = list[1]["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://scim.test");
    let group = h.get(group_path);
    assert_eq!(group.body["members"][0]["value"], user_id);
    assert_eq!(group.body["displayName"], "Guides");
    let user = h.get(&format!("/scim/v2/Users/{user_id}"));
    assert_eq!(user.body["title"], "Guide");
    assert_eq!(user.body["groups"][0]["display"], "Guides");
}

#[test]
fn circular_references_are_409_and_run_nothing() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "independent"}},
                {"method": "POST", "path": "/Groups", "bulkId": "a",
                 "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "b",
                 "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["status"], "409");
    assert!(
        r.detail().contains("circular") || r.detail().contains("cycle"),
        "{}",
        r.detail()
    );
    assert_eq!(h.backend.group_count("tenant-a"), 0);
    assert_eq!(h.backend.user_count("tenant-a"), 0);
}

#[test]
fn unknown_and_failed_references_are_409() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "G", "members": [{"value": "bulkId:nobody"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}},
                {"method": "PATCH", "path": "/Users/bulkId:bad", "data": {"Operations": []}}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = ops(&r.body);
    assert_eq!(list[0]["status"], "409");
    assert_eq!(list[0]["bulkId"], "g");
    assert!(
        list[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("nobody")
    );
    assert_eq!(list[1]["status"], "400");
    assert_eq!(list[1]["response"]["scimType"], "invalidValue");
    assert!(
        list[1]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("userName")
    );
    assert_eq!(list[2]["status"], "409");
    assert_eq!(h.backend.group_count("tenant-a"), 0);
    assert_eq!(h.backend.user_count("tenant-a"), 0);
}

#[test]
fn fail_on_errors_stops_processing() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "OK"}},
                {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"userName": "never"}}
            ]
        }),
    );
    let list = ops(&r.body);
    assert_eq!(list.len(), 2, "{}", r.body);
    assert_eq!(list[0]["status"], "201");
    assert_eq!(list[1]["status"], "409");
    assert_eq!(list[1]["response"]["scimType"], "uniqueness");
    assert_eq!(h.backend.user_count("tenant-a"), 1);

    // Two errors allowed: the operation after the first error still runs.
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "failOnErrors": 2,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "fresh"}},
                {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "bulkId": "4", "data": {"userName": "never"}}
            ]
        }),
    );
    assert_eq!(statuses(&r.body), ["409", "201", "409"]);
    assert_eq!(h.backend.user_count("tenant-a"), 2);

    // Without failOnErrors every operation runs.
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "ok"}},
                {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"userName": "last"}}
            ]
        }),
    );
    assert_eq!(statuses(&r.body), ["409", "409", "201"]);

    for bad in [json!(0), json!(-1), json!("many")] {
        h.post(
            "/scim/v2/Bulk",
            &json!({"failOnErrors": bad, "Operations": []}),
        )
        .assert_error(400, Some("invalidValue"));
    }
}

#[test]
fn limits_are_413_for_the_whole_request() {
    let h = harness_with(|b| b.max_bulk_operations(2));
    let op = |id: &str| json!({"method": "POST", "path": "/Users", "bulkId": id, "data": {"userName": id}});
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({"Operations": [op("a"), op("b"), op("c")]}),
    );
    r.assert_error(413, None);
    assert!(r.detail().contains("maxOperations"));
    assert_eq!(h.backend.user_count("tenant-a"), 0);
    let r = h.post("/scim/v2/Bulk", &json!({"Operations": [op("a"), op("b")]}));
    assert_eq!(statuses(&r.body), ["201", "201"]);

    let h = harness_with(|b| b.max_payload_size(100));
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x".repeat(200)}}]}),
    );
    r.assert_error(413, None);
    assert_eq!(h.backend.user_count("tenant-a"), 0);
}

#[test]
fn put_delete_and_versions() {
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
                {"method": "POST", "path": "/Nowhere", "bulkId": "n", "data": {}},
                {"method": "POST", "path": "/Bulk", "bulkId": "b", "data": {"Operations": []}},
                {"method": "DELETE", "path": format!("/Users/{id}")},
                {"method": "DELETE", "path": format!("/Users/{id}")}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        statuses(&r.body),
        ["412", "200", "400", "400", "204", "404"]
    );
    let list = ops(&r.body);
    assert_eq!(list[1]["version"], "W/\"2\"");
    assert_eq!(
        list[4]["location"],
        format!("http://scim.test/scim/v2/Users/{id}")
    );
    assert_eq!(list[5]["response"]["status"], "404");
    assert_eq!(h.backend.user_count("tenant-a"), 0);
}

#[test]
fn undecodable_requests_are_400_and_run_nothing() {
    let h = harness();
    let good =
        json!({"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "ok"}});
    for bad in [
        json!({"method": "GET", "path": "/Users/x"}),
        json!("not an object"),
        json!({"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "dup"}}),
    ] {
        let r = h.post("/scim/v2/Bulk", &json!({"Operations": [good, bad]}));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert!(r.body["scimType"] == "invalidValue" || r.body["scimType"] == "invalidSyntax");
        assert!(r.detail().contains("Operations[1]"), "{}", r.detail());
    }
    assert_eq!(h.backend.user_count("tenant-a"), 0);
    h.post("/scim/v2/Bulk", &json!({"Operations": "x"}))
        .assert_error(400, Some("invalidValue"));
    h.post("/scim/v2/Bulk", &json!([]))
        .assert_error(400, Some("invalidSyntax"));
    // An empty request is fine, and `schemas` may be left out.
    let r = h.post("/scim/v2/Bulk", &json!({"Operations": []}));
    assert_eq!(r.body["Operations"], json!([]));
}

#[test]
fn an_invalid_operation_fails_alone() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Bulk",
        &json!({
            "failOnErrors": 10,
            "Operations": [
                {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}},
                {"method": "PUT", "path": "/Users/x"},
                {"method": "DELETE", "path": "/Users"},
                {"method": "DELETE", "path": "/Users/x", "data": {"userName": "x"}},
                {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "ok"}}
            ]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(statuses(&r.body), ["400", "400", "400", "400", "201"]);
    let list = ops(&r.body);
    for failed in &list[..4] {
        assert_eq!(failed["response"]["scimType"], "invalidValue", "{failed}");
    }
    assert!(
        list[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("bulkId")
    );
    assert!(
        list[1]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("data")
    );
    assert_eq!(h.backend.user_count("tenant-a"), 1);
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

#[test]
fn bulk_in_scim_1_1_reports_1_1_errors() {
    let h = harness();
    let r = h.post(
        "/scim/v1/Bulk",
        &json!({
            "schemas": ["urn:scim:schemas:core:1.0"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u",
                 "data": {"schemas": ["urn:scim:schemas:core:1.0"], "userName": "bjensen"}},
                {"method": "POST", "path": "/Users", "bulkId": "v",
                 "data": {"schemas": ["urn:scim:schemas:core:1.0"], "userName": "BJENSEN"}}
            ]
        }),
    );
    assert_eq!(statuses(&r.body), ["201", "409"]);
    let list = ops(&r.body);
    assert!(
        list[0]["location"]
            .as_str()
            .unwrap()
            .starts_with("http://scim.test/scim/v1/Users/")
    );
    assert_eq!(list[1]["response"]["Errors"][0]["code"], "409");
}
