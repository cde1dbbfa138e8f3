//! The SCIM 1.1 base path: 1.1 bodies in, 1.1 bodies out, over the same backend as 2.0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{harness, request};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const CORE1: &str = "urn:scim:schemas:core:1.0";
const ENTERPRISE1: &str = "urn:scim:schemas:extension:enterprise:1.0";
const ENTERPRISE2: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn assert_v1_error(body: &Value, code: u16) {
    assert_eq!(body["Errors"][0]["code"], code.to_string(), "{body}");
    assert!(
        body["Errors"][0]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(body.get("schemas").is_none(), "{body}");
    assert!(body.get("scimType").is_none(), "{body}");
}

#[test]
fn create_get_list_patch_round_trip() {
    let h = harness();
    let r = h.post(
        "/scim/v1/Users",
        &json!({
            "schemas": [CORE1, ENTERPRISE1],
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            ENTERPRISE1: {"employeeNumber": "701984", "manager": {"managerId": "boss-1", "displayName": "Boss"}},
        }),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.id();
    let location = format!("http://scim.test/scim/v1/Users/{id}");
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.body["schemas"], json!([CORE1, ENTERPRISE1]));
    assert_eq!(r.body[ENTERPRISE1]["manager"]["managerId"], "boss-1");
    assert!(r.body.get(ENTERPRISE2).is_none());
    assert_eq!(r.body["meta"]["location"], location);
    assert!(r.body["meta"].get("resourceType").is_none());
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());

    // The same user through 2.0: stored in 2.0 form.
    let v2 = h.get(&format!("/scim/v2/Users/{id}"));
    assert_eq!(v2.body[ENTERPRISE2]["manager"]["value"], "boss-1");
    assert_eq!(v2.body["userName"], "bjensen");

    let r = h.get(&format!("/scim/v1/Users/{id}"));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["schemas"][0], CORE1);
    assert_eq!(r.body["name"]["givenName"], "Barbara");

    let r = h.get("/scim/v1/Users?filter=userName%20eq%20%22BJENSEN%22");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["schemas"], json!([CORE1]));
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["schemas"][0], CORE1);
    assert_eq!(r.body["Resources"][0]["meta"]["location"], location);

    // `attributes` with 1.1 URN prefixes.
    let r = h.get(&format!(
        "/scim/v1/Users/{id}?attributes=urn:scim:schemas:core:1.0:userName,{ENTERPRISE1}:employeeNumber"
    ));
    assert_eq!(r.body["userName"], "bjensen", "{}", r.body);
    assert_eq!(r.body[ENTERPRISE1], json!({"employeeNumber": "701984"}));
    assert!(r.body.get("name").is_none());
    let r = h.post(
        "/scim/v1/Users/.search",
        &json!({"excludedAttributes": ["urn:scim:schemas:core:1.0:name"], "sortBy": "urn:scim:schemas:core:1.0:userName"}),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["Resources"][0].get("name").is_none());
    assert_eq!(r.body["Resources"][0]["userName"], "bjensen");

    // 1.1 PATCH: a partial resource; `meta.attributes` removes.
    let r = h.patch(
        &format!("/scim/v1/Users/{id}"),
        &json!({
            "schemas": [CORE1],
            "displayName": "Babs",
            "emails": [{"value": "babs@example.com", "type": "home"}],
            "meta": {"attributes": ["name.familyName"]},
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Babs");
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 2);
    assert!(r.body["name"].get("familyName").is_none());
    assert_eq!(r.body["schemas"][0], CORE1);

    // PUT in 1.1.
    let r = h.put(
        &format!("/scim/v1/Users/{id}"),
        &json!({"schemas": [CORE1], "userName": "bjensen", "title": "CEO"}),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "CEO");
    assert!(r.body.get("displayName").is_none());

    assert_eq!(
        h.delete(&format!("/scim/v1/Users/{id}")).status,
        StatusCode::NO_CONTENT
    );
}

#[test]
fn groups_in_1_1_with_operation_delete() {
    let h = harness();
    let a = h.user("a");
    let b = h.user("b");
    let r = h.post(
        "/scim/v1/Groups",
        &json!({"schemas": [CORE1], "displayName": "team", "members": [{"value": a}, {"value": b}]}),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.id();
    assert_eq!(r.body["schemas"], json!([CORE1]));
    let r = h.patch(
        &format!("/scim/v1/Groups/{gid}"),
        &json!({"schemas": [CORE1], "members": [{"value": a, "operation": "delete"}]}),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let members = r.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["value"], b);
    assert!(members[0].get("$ref").is_none());

    let r = h.get("/scim/v1/Groups");
    assert_eq!(r.body["schemas"], json!([CORE1]));
    assert_eq!(r.body["totalResults"], 1);
}

#[test]
fn errors_in_1_1_shape() {
    let h = harness();
    let r = h.get("/scim/v1/Users/nope");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_v1_error(&r.body, 404);

    let r = h.get("/scim/v1/Users?filter=userName%20eq");
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_v1_error(&r.body, 400);

    let r = h.post("/scim/v1/Users", &json!({"schemas": [CORE1]}));
    assert_v1_error(&r.body, 400);
    assert!(
        r.body["Errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("userName")
    );

    let r = h.post(
        "/scim/v1/Users",
        &json!({"schemas": ["urn:example:x"], "userName": "x"}),
    );
    assert_v1_error(&r.body, 400);

    let r = h.send(
        Request::builder()
            .uri("/scim/v1/Users")
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_v1_error(&r.body, 401);
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="scim""#));

    let r = h.send(request(Method::DELETE, "/scim/v1/Users", None));
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_v1_error(&r.body, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));

    let id = h.user("patched");
    let r = h.patch(
        &format!("/scim/v1/Users/{id}"),
        &json!({"emails": [{"value": "x@example.com", "operation": "bogus"}]}),
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_v1_error(&r.body, 400);
    assert!(
        r.body["Errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("operation")
    );
    let r = h.patch(
        &format!("/scim/v1/Users/{id}"),
        &json!(["not", "an", "object"]),
    );
    assert_v1_error(&r.body, 400);

    h.user("dup");
    let r = h.post(
        "/scim/v1/Users",
        &json!({"schemas": [CORE1], "userName": "DUP"}),
    );
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_v1_error(&r.body, 409);
}

#[test]
fn discovery_in_1_1() {
    let h = harness();
    for uri in [
        "/scim/v1/ServiceProviderConfigs",
        "/scim/v1/ServiceProviderConfig",
    ] {
        let r = h.get(uri);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["schemas"], json!([CORE1]));
        assert_eq!(r.body["patch"]["supported"], true);
    }
    let r = h.get("/scim/v1/Schemas");
    assert_eq!(r.body["schemas"], json!([CORE1]));
    assert_eq!(r.body["totalResults"], 3);
}
