//! Bulk messages (RFC 7644 §3.7): the RFC examples, `bulkId` references, execution order and
//! malformed requests.

// Helpers outside #[test] fns are test code too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;
use serde_json::{Value, json};

use scim_core::bulk::{self, BulkMethod, BulkOperation, BulkOperationResponse};
use scim_core::patch::OpKind;
use scim_core::{BulkRequest, BulkResponse, ScimError, ScimType, urn};

fn corpus(name: &str) -> String {
    let path = format!(
        "{}/tests/data/rfc-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(name: &str) -> BulkRequest {
    BulkRequest::from_slice(corpus(name).as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn request_json(v: &Value) -> Result<BulkRequest, ScimError> {
    BulkRequest::from_slice(v.to_string().as_bytes())
}

fn ids(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const REQUESTS: [&str; 4] = [
    "rfc7644-3.7.1-bulk_request-circular_conflict.json",
    "rfc7644-3.7.2-bulk_request-enterprise_user.json",
    "rfc7644-3.7.2-bulk_request-temporary_identifier.json",
    "rfc7644-3.7.3-bulk_request-multiple_operations.json",
];

const RESPONSES: [&str; 4] = [
    "rfc7644-3.7.2-bulk_response-temporary_identifier.json",
    "rfc7644-3.7.3-bulk_response-error_invalid_syntax.json",
    "rfc7644-3.7.3-bulk_response-multiple_errors.json",
    "rfc7644-3.7.3-bulk_response-multiple_operations.json",
];

#[test]
fn rfc_requests_round_trip() {
    for name in REQUESTS {
        let text = corpus(name);
        let typed: BulkRequest = scim_core::from_str(&text).unwrap();
        let input: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), input, "{name}");
        // Every RFC request is structurally valid (the circular one fails only on ordering).
        typed.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn rfc_responses_round_trip() {
    for name in RESPONSES {
        let text = corpus(name);
        let typed: BulkResponse = scim_core::from_str(&text).unwrap();
        let input: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), input, "{name}");
    }
}

#[test]
fn rfc_multiple_operations_fields() {
    let req = request("rfc7644-3.7.3-bulk_request-multiple_operations.json");
    assert_eq!(req.fail_on_errors, Some(1));
    let methods: Vec<BulkMethod> = req.operations.iter().map(|o| o.method).collect();
    assert_eq!(
        methods,
        [
            BulkMethod::Post,
            BulkMethod::Put,
            BulkMethod::Patch,
            BulkMethod::Delete
        ]
    );
    assert_eq!(req.operations[0].bulk_id.as_deref(), Some("qwerty"));
    assert_eq!(
        req.operations[2].version.as_deref(),
        Some("W/\"edac3253e2c0ef2\"")
    );
    assert_eq!(req.operations[3].data, None);
    assert_eq!(
        http::Method::from(req.operations[2].method),
        http::Method::PATCH
    );
    // The RFC's PATCH sends a bare array of operations as `data`.
    let patch = req.operations[2].patch_op().unwrap();
    assert_eq!(patch.operations.len(), 2);
    assert_eq!(patch.operations[0].op, OpKind::Remove);
    assert_eq!(patch.operations[1].op, OpKind::Add);
    assert_eq!(req.execution_order().unwrap(), vec![0, 1, 2, 3]);

    let resp: BulkResponse =
        scim_core::from_str(&corpus("rfc7644-3.7.3-bulk_response-multiple_errors.json")).unwrap();
    let statuses: Vec<u16> = resp.operations.iter().map(|o| o.status).collect();
    assert_eq!(statuses, [400, 412, 412, 404]);
    assert_eq!(
        resp.operations[3].status_code(),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(!resp.operations[0].is_success());
    let body: scim_core::ErrorBody =
        serde_json::from_value(resp.operations[0].response.clone().unwrap()).unwrap();
    assert_eq!(body.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn rfc_temporary_identifier_references_and_order() {
    let mut req = request("rfc7644-3.7.2-bulk_request-temporary_identifier.json");
    assert!(req.operations[0].references().is_empty());
    assert_eq!(req.operations[1].references(), vec!["qwerty"]);
    assert_eq!(req.execution_order().unwrap(), vec![0, 1]);

    // Reversed, the group must still wait for the user.
    req.operations.reverse();
    assert_eq!(req.execution_order().unwrap(), vec![1, 0]);

    let created = ids(&[("qwerty", "92b725cd-9465-4e7d-8c16-01f8e146b87a")]);
    req.operations[0].resolve(&created).unwrap();
    assert_eq!(
        req.operations[0].data.as_ref().unwrap()["members"],
        json!([{"type": "User", "value": "92b725cd-9465-4e7d-8c16-01f8e146b87a"}])
    );
    assert!(req.operations[0].references().is_empty());
}

#[test]
fn rfc_enterprise_manager_reference() {
    let req = request("rfc7644-3.7.2-bulk_request-enterprise_user.json");
    let data = req.operations[1].data.as_ref().unwrap();
    assert_eq!(bulk::references_in_value(data), vec!["qwerty"]);
    assert_eq!(req.execution_order().unwrap(), vec![0, 1]);
}

#[test]
fn rfc_circular_reference_is_rejected() {
    let req = request("rfc7644-3.7.1-bulk_request-circular_conflict.json");
    let err = req.execution_order().unwrap_err();
    assert_eq!(err.status(), StatusCode::CONFLICT);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    let detail = err.detail();
    assert!(detail.contains("circular"), "{detail}");
    assert!(
        detail.contains("\"qwerty\"") && detail.contains("\"ytrewq\""),
        "{detail}"
    );
    let body = serde_json::to_value(err.to_body()).unwrap();
    assert_eq!(body["status"], "409");
    assert_eq!(body["scimType"], "invalidValue");
}

fn post(bulk_id: &str, path: &str, data: Value) -> BulkOperation {
    BulkOperation::new(BulkMethod::Post, path, Some(data)).with_bulk_id(bulk_id)
}

fn member_of(ids: &[&str]) -> Value {
    let members: Vec<Value> = ids
        .iter()
        .map(|id| json!({"value": format!("bulkId:{id}")}))
        .collect();
    json!({"displayName": "g", "members": members})
}

#[test]
fn ordering_keeps_request_order_where_free() {
    // c needs a, d needs c and b; b and e are free.
    let req = BulkRequest::new(vec![
        post("d", "/Groups", member_of(&["c", "b"])),
        post("a", "/Users", json!({"userName": "a"})),
        post("c", "/Groups", member_of(&["a"])),
        post("b", "/Users", json!({"userName": "b"})),
        post("e", "/Users", json!({"userName": "e"})),
    ]);
    req.validate().unwrap();
    assert_eq!(req.execution_order().unwrap(), vec![1, 2, 3, 0, 4]);
}

#[test]
fn path_references_order_too() {
    let mut patch = BulkOperation::new(
        BulkMethod::Patch,
        "/Groups/bulkId:grp",
        Some(
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:usr"}]}]}),
        ),
    );
    patch.version = Some("W/\"1\"".into());
    let req = BulkRequest::new(vec![
        patch,
        post("grp", "/Groups", json!({"displayName": "g"})),
        post("usr", "/Users", json!({"userName": "u"})),
    ]);
    req.validate().unwrap();
    assert_eq!(req.operations[0].references(), vec!["grp", "usr"]);
    assert_eq!(req.execution_order().unwrap(), vec![1, 2, 0]);
}

#[test]
fn self_and_longer_cycles_are_rejected() {
    let req = BulkRequest::new(vec![post("me", "/Groups", member_of(&["me"]))]);
    let err = req.execution_order().unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(
        err.detail().contains("\"me\" -> \"me\""),
        "{}",
        err.detail()
    );

    let req = BulkRequest::new(vec![
        post("free", "/Users", json!({"userName": "f"})),
        post("x", "/Groups", member_of(&["y"])),
        post("y", "/Groups", member_of(&["z"])),
        post("z", "/Groups", member_of(&["x", "free"])),
    ]);
    let detail = req.execution_order().unwrap_err().detail();
    assert!(
        detail.contains("\"x\" -> \"y\" -> \"z\" -> \"x\""),
        "{detail}"
    );
}

#[test]
fn unknown_references_do_not_constrain_order_but_fail_resolution() {
    let req = BulkRequest::new(vec![
        post("a", "/Groups", member_of(&["nowhere"])),
        post("b", "/Users", json!({"userName": "b"})),
    ]);
    assert_eq!(req.execution_order().unwrap(), vec![0, 1]);
    let mut op = req.operations[0].clone();
    let before = op.clone();
    let err = op.resolve(&ids(&[("b", "1")])).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(err.detail().contains("bulkId:nowhere"), "{}", err.detail());
    assert_eq!(op, before, "a failed resolution changes nothing");
}

#[test]
fn duplicate_bulk_ids_are_rejected() {
    let req = BulkRequest::new(vec![
        post("dup", "/Users", json!({"userName": "a"})),
        post("dup", "/Users", json!({"userName": "b"})),
    ]);
    for err in [
        req.validate().unwrap_err(),
        req.execution_order().unwrap_err(),
    ] {
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
        let detail = err.detail();
        assert!(
            detail.contains("Operations[1].bulkId") && detail.contains("\"dup\""),
            "{detail}"
        );
    }
}

#[test]
fn references_are_found_at_any_depth_and_in_urls_and_filters() {
    let data = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "bulkId:whole",
        "note": "mentions bulkId:inline in passing",
        "members": [
            {"value": "bulkId:a", "$ref": "https://example.com/v2/Users/bulkId:b"},
            {"value": "BULKID:c"},
            {"nested": {"deeper": [["bulkId:a", "bulkId:d"]]}}
        ],
        "Operations": [{"op": "remove", "path": "members[value eq \"bulkId:e\"]"}],
        "empty": "bulkId:",
        "n": 1, "b": true, "z": null
    });
    // Document order depends on serde_json's map order; the set does not.
    let mut found = bulk::references_in_value(&data);
    found.sort_unstable();
    assert_eq!(found, vec!["a", "b", "c", "d", "e", "whole"]);
    assert_eq!(
        bulk::references_in_path("/Groups/bulkId:qwerty"),
        vec!["qwerty"]
    );
    assert!(bulk::references_in_path("/Groups/2819c223").is_empty());

    let resolved = ids(&[
        ("whole", "0"),
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
        ("d", "4"),
        ("e", "5"),
    ]);
    let mut out = data.clone();
    bulk::resolve_value(&mut out, &resolved).unwrap();
    assert_eq!(
        out["members"][0],
        json!({"value": "1", "$ref": "https://example.com/v2/Users/2"})
    );
    assert_eq!(out["members"][1]["value"], "3");
    assert_eq!(out["members"][2]["nested"]["deeper"], json!([["1", "4"]]));
    assert_eq!(out["Operations"][0]["path"], "members[value eq \"5\"]");
    assert_eq!(out["note"], "mentions bulkId:inline in passing");
    assert_eq!(out["empty"], "bulkId:");

    let tree: BTreeMap<String, String> = resolved.into_iter().collect();
    assert_eq!(
        bulk::resolve_path("/Groups/bulkId:a", &tree).unwrap(),
        "/Groups/1"
    );
    let err = bulk::resolve_path("/Groups/bulkId:zz", &tree).unwrap_err();
    assert!(err.detail().contains("bulkId:zz"), "{}", err.detail());

    // Unresolvable: nothing changes.
    let mut partial = data.clone();
    let err = bulk::resolve_value(&mut partial, &ids(&[("a", "1")])).unwrap_err();
    assert_eq!(partial, data);
    assert_eq!(err.status(), StatusCode::CONFLICT);
}

#[test]
fn read_leniently_write_strictly() {
    let req = request_json(&json!({
        "OPERATIONS": [
            {"METHOD": "post", "Path": "/Users", "BULKID": "q", "Data": {"userName": "a"}, "x-extra": 1},
            {"method": " Delete ", "path": "/Users/1", "data": null}
        ],
        "FailOnErrors": 2,
        "custom": true
    }))
    .unwrap();
    assert!(req.schemas.is_empty());
    assert_eq!(req.fail_on_errors, Some(2));
    assert_eq!(req.operations[1].method, BulkMethod::Delete);
    assert_eq!(req.operations[1].data, None);
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({
            "schemas": [urn::BULK_REQUEST],
            "failOnErrors": 2,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "q", "data": {"userName": "a"}, "x-extra": 1},
                {"method": "DELETE", "path": "/Users/1"}
            ],
            "custom": true
        })
    );

    let resp: BulkResponse = scim_core::from_str(
        r#"{"operations": [{"Method": "post", "BulkId": "q", "Status": 201, "Location": "https://x/Users/1"}]}"#,
    )
    .unwrap();
    assert_eq!(resp.operations[0].status, 201);
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "schemas": [urn::BULK_RESPONSE],
            "Operations": [{"location": "https://x/Users/1", "method": "POST", "bulkId": "q", "status": "201"}]
        })
    );
}

#[test]
fn error_results() {
    let op = post("q", "/Users", json!({"userName": "a"}));
    let err = ScimError::uniqueness("userName", "a");
    let result = BulkOperationResponse::from_error(&op, &err);
    assert_eq!(
        serde_json::to_value(BulkResponse::new(vec![result])).unwrap(),
        json!({
            "schemas": [urn::BULK_RESPONSE],
            "Operations": [{
                "method": "POST",
                "bulkId": "q",
                "status": "409",
                "response": {
                    "schemas": [urn::ERROR],
                    "status": "409",
                    "scimType": "uniqueness",
                    "detail": "attribute `userName`: value \"a\" is already in use"
                }
            }]
        })
    );
}

/// Each malformed request: a 400 with this `scimType` and a detail containing these words.
#[test]
fn malformed_requests_are_400_naming_the_problem() {
    let post_ok =
        json!({"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}});
    let cases: Vec<(Value, ScimType, &[&str])> = vec![
        (json!([]), ScimType::InvalidSyntax, &["BulkRequest"]),
        (
            json!({"schemas": [urn::BULK_REQUEST]}),
            ScimType::InvalidValue,
            &["Operations", "required"],
        ),
        (
            json!({"Operations": {}}),
            ScimType::InvalidValue,
            &["Operations", "array"],
        ),
        (
            json!({"Operations": null}),
            ScimType::InvalidValue,
            &["Operations"],
        ),
        (
            json!({"Operations": [post_ok, 3]}),
            ScimType::InvalidValue,
            &["Operations[1]"],
        ),
        (
            json!({"Operations": [{"path": "/Users", "bulkId": "a", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].method", "required"],
        ),
        (
            json!({"Operations": [{"method": "GET", "path": "/Users/1"}]}),
            ScimType::InvalidValue,
            &["Operations[0].method", "GET"],
        ),
        (
            json!({"Operations": [{"method": 1, "path": "/Users/1"}]}),
            ScimType::InvalidValue,
            &["Operations[0].method"],
        ),
        (
            json!({"Operations": [post_ok, {"method": "DELETE"}]}),
            ScimType::InvalidValue,
            &["Operations[1].path", "required"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].bulkId", "required for POST"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].bulkId", "empty"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a/b", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].bulkId", "a/b"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users/1", "bulkId": "a", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].path", "/Users/1"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "", "bulkId": "a", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].path", "required"],
        ),
        (
            json!({"Operations": [{"method": "PATCH", "path": "/Users", "data": []}]}),
            ScimType::InvalidValue,
            &["Operations[0].path", "PATCH"],
        ),
        (
            json!({"Operations": [{"method": "PUT", "path": "/Users//", "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].path"],
        ),
        (
            json!({"Operations": [{"method": "DELETE", "path": "/Users/1", "data": {"x": 1}}]}),
            ScimType::InvalidValue,
            &["Operations[0].data", "DELETE takes no data"],
        ),
        (
            json!({"Operations": [{"method": "PUT", "path": "/Users/1"}]}),
            ScimType::InvalidValue,
            &["Operations[0].data", "required for PUT"],
        ),
        (
            json!({"Operations": [{"method": "PATCH", "path": "/Users/1"}]}),
            ScimType::InvalidValue,
            &["Operations[0].data", "required for PATCH"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": "x"}]}),
            ScimType::InvalidValue,
            &["Operations[0].data", "a string"],
        ),
        (
            json!({"Operations": [{"method": "PUT", "path": "/Users/1", "data": []}]}),
            ScimType::InvalidValue,
            &["Operations[0].data", "an array"],
        ),
        (
            json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": 5, "data": {}}]}),
            ScimType::InvalidValue,
            &["Operations[0].bulkId"],
        ),
        (
            json!({"failOnErrors": -1, "Operations": []}),
            ScimType::InvalidValue,
            &["failOnErrors"],
        ),
        (
            json!({"failOnErrors": "many", "Operations": []}),
            ScimType::InvalidValue,
            &["failOnErrors"],
        ),
        (
            json!({"schemas": "x", "Operations": []}),
            ScimType::InvalidValue,
            &["schemas"],
        ),
    ];
    for (input, scim_type, words) in cases {
        let err = request_json(&input).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{input}: {err}");
        assert_eq!(err.scim_type(), Some(scim_type), "{input}: {err}");
        let detail = err.detail();
        for w in words {
            assert!(detail.contains(w), "{input}: `{detail}` lacks `{w}`");
        }
    }

    // Not JSON at all.
    for bad in [&b"{"[..], b"", b"\xff", b"{\"Operations\": [}"] {
        let err = BulkRequest::from_slice(bad).unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidSyntax), "{err}");
    }

    // Responses: a status that is not a number, a missing status or method.
    for (input, word) in [
        (
            json!({"Operations": [{"method": "POST", "status": "created"}]}),
            "Operations[0].status",
        ),
        (
            json!({"Operations": [{"method": "POST", "status": 70000}]}),
            "Operations[0].status",
        ),
        (
            json!({"Operations": [{"method": "POST"}]}),
            "Operations[0].status",
        ),
        (
            json!({"Operations": [{"status": "200"}]}),
            "Operations[0].method",
        ),
    ] {
        let err = scim_core::from_str::<BulkResponse>(&input.to_string()).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.detail().contains(word), "{input}: {err}");
    }
}

#[test]
fn bulk_method_names() {
    for m in ["post", "Put", "PATCH", "delete"] {
        let parsed = BulkMethod::from_name(m).unwrap();
        assert!(parsed.as_str().eq_ignore_ascii_case(m));
        assert_eq!(
            BulkMethod::try_from(&http::Method::from(parsed)).unwrap(),
            parsed
        );
    }
    assert_eq!(BulkMethod::from_name("GET"), None);
    let err = BulkMethod::try_from(&http::Method::GET).unwrap_err();
    assert!(err.detail().contains("GET"));
}
