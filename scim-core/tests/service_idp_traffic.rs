//! Recorded Entra ID (Azure AD) and Okta traffic (`tests/data/idp-traffic`, from
//! elimity-com/scim's identity provider tests) replayed through the service: each request is
//! sent as the identity provider sent it, after seeding the resources it refers to, and the
//! status and the key fields of the recorded response are asserted (not generated ids or
//! timestamps).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Harness, harness};
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn recording(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/idp-traffic/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// The recorded resource without what the server generates, as a body to seed with.
fn seed_body(resource: &Value) -> Value {
    let mut v = resource.clone();
    let obj = v.as_object_mut().unwrap();
    obj.remove("id");
    obj.remove("meta");
    // Recorded as `null` by servers that wrote empty attributes that way.
    obj.retain(|_, v| !v.is_null());
    v
}

fn seed(h: &Harness, endpoint: &str, resource: &Value) -> String {
    let r = h.post(&format!("/scim/v2/{endpoint}"), &seed_body(resource));
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.id()
}

/// Replays `rec` with the recorded ids replaced (`ids`: recorded -> seeded), asserting the
/// recorded status; returns the response.
fn replay(h: &Harness, rec: &Value, ids: &[(&str, &str)]) -> common::Reply {
    let mut path = rec["path"].as_str().unwrap().to_owned();
    let mut body = rec.get("request").map(ToString::to_string);
    for (from, to) in ids {
        path = path.replace(from, to);
        body = body.map(|b| b.replace(from, to));
    }
    let method: Method = rec["method"].as_str().unwrap().parse().unwrap();
    let body: Option<Value> = body.map(|b| serde_json::from_str(&b).unwrap());
    let r = h.send(common::request(
        method,
        &format!("/scim/v2{path}"),
        body.as_ref(),
    ));
    assert_eq!(
        u64::from(r.status.as_u16()),
        rec["statusCode"].as_u64().unwrap(),
        "{}: {}",
        rec["path"],
        r.body
    );
    r
}

/// The recorded response's values for `fields` equal the actual ones.
#[track_caller]
fn same(actual: &Value, recorded: &Value, fields: &[&str]) {
    for f in fields {
        let pointer = format!("/{}", f.replace('.', "/"));
        assert_eq!(
            actual.pointer(&pointer),
            recorded.pointer(&pointer),
            "{f}: {actual}"
        );
    }
}

fn check_location(r: &common::Reply, endpoint: &str) {
    let id = r.body["id"].as_str().unwrap();
    let want = format!("http://scim.test/scim/v2/{endpoint}/{id}");
    assert_eq!(r.body["meta"]["location"], want);
}

#[test]
fn entra_create_user_and_group() {
    let h = harness();
    let rec = recording("azuread__create_user");
    let r = replay(&h, &rec, &[]);
    let want = &rec["response"];
    same(
        &r.body,
        want,
        &[
            "schemas",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            "meta.resourceType",
        ],
    );
    check_location(&r, "Users");
    assert!(r.header("location").is_some() && r.header("etag").is_some());

    let rec = recording("azuread__create_group");
    let r = replay(&h, &rec, &[]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "externalId", "displayName", "meta.resourceType"],
    );
    check_location(&r, "Groups");
}

#[test]
fn entra_get_user_and_group() {
    let h = harness();
    let rec = recording("azuread__get_user_resp");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let id = seed(&h, "Users", &rec["response"]);
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
        ],
    );

    let rec = recording("azuread__get_group");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let id = seed(&h, "Groups", &rec["response"]);
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "externalId", "displayName"],
    );
}

#[test]
fn entra_queries() {
    let h = harness();
    let rec = recording("azuread__get_user_query_0");
    let r = replay(&h, &rec, &[]);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    let rec = recording("azuread__get_user_query_resp");
    seed(&h, "Users", &rec["response"]["Resources"][0]);
    let r = replay(&h, &rec, &[]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    same(
        &r.body["Resources"][0],
        &rec["response"]["Resources"][0],
        &["userName", "externalId", "emails"],
    );

    let rec = recording("azuread__get_group_dn");
    seed(&h, "Groups", &rec["response"]["Resources"][0]);
    let r = replay(&h, &rec, &[]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    same(
        &r.body["Resources"][0],
        &rec["response"]["Resources"][0],
        &["displayName", "externalId"],
    );
}

#[test]
fn entra_patch_user() {
    let h = harness();
    let rec = recording("azuread__update_user");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    // The user as it was before the PATCH.
    let id = seed(
        &h,
        "Users",
        &json!({
            "schemas": rec["response"]["schemas"],
            "externalId": rec["response"]["externalId"],
            "userName": "before@testuser.com",
            "name": {"formatted": "givenName updatedFamilyName", "givenName": "givenName", "familyName": "familyName"},
            "active": true,
            "emails": [{"value": "before@testuser.com", "type": "work", "primary": true}],
        }),
    );
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &["userName", "name", "active", "emails", "externalId"],
    );
}

#[test]
fn entra_patch_group_add_and_remove_member() {
    let h = harness();
    let rec = recording("azuread__update_group");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let member = h.user("member");
    let gid = seed(
        &h,
        "Groups",
        &json!({"externalId": rec["response"]["externalId"], "displayName": "displayName"}),
    );
    let r = replay(
        &h,
        &rec,
        &[(recorded_id, &gid), ("f648f8d5ea4e4cd38e9c", &member)],
    );
    same(
        &r.body,
        &rec["response"],
        &["schemas", "externalId", "displayName"],
    );
    assert!(
        r.body.get("members").is_none(),
        "added then removed: {}",
        r.body
    );
}

#[test]
fn okta_create_retrieve_and_exists() {
    let h = harness();
    let rec = recording("okta__user_exists");
    let r = replay(&h, &rec, &[]);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["startIndex"], 1);

    let rec = recording("okta__create_user");
    let r = replay(&h, &rec, &[]);
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "userName",
            "name",
            "emails",
            "displayName",
            "locale",
            "externalId",
            "active",
        ],
    );
    assert!(r.body.get("password").is_none());
    let id = r.id();

    // Okta checks existence right after creating, in other case (IDP-QUIRKS #13).
    let r = h.get(
        "/scim/v2/Users?filter=userName+eq+%22TEST.USER%40okta.local%22&startIndex=1&count=100",
    );
    assert_eq!(r.body["totalResults"], 1);
    // And creating again is a 409 uniqueness (#14).
    let again = replay(
        &h,
        &json!({"method": "POST", "path": "/Users", "request": rec["request"], "statusCode": 409}),
        &[],
    );
    assert_eq!(again.body["scimType"], "uniqueness");

    let rec = recording("okta__retrieve_user");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "userName", "name", "active"],
    );

    let rec = recording("okta__create_group");
    let r = replay(&h, &rec, &[]);
    same(&r.body, &rec["response"], &["schemas", "displayName"]);
    assert!(r.body.get("members").is_none());
}

#[test]
fn okta_retrieve_group_with_a_member() {
    let h = harness();
    let rec = recording("okta__retrieve_group");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let recorded_member = rec["response"]["members"][0]["value"].as_str().unwrap();
    let member = h.group("SCIM 2 Group A", &[]);
    let gid = seed(
        &h,
        "Groups",
        &json!({"displayName": "Test SCIMv2", "members": [{"value": member, "display": "SCIM 2 Group A"}]}),
    );
    let r = replay(&h, &rec, &[(recorded_id, &gid), (recorded_member, &member)]);
    same(&r.body, &rec["response"], &["schemas", "displayName"]);
    assert_eq!(r.body["members"][0]["value"], member);
    assert_eq!(r.body["members"][0]["display"], "SCIM 2 Group A");
}

#[test]
fn okta_put_and_patch_user() {
    let h = harness();
    let rec = recording("okta__update_user");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let id = seed(
        &h,
        "Users",
        &json!({"userName": "test.user@okta.local", "name": {"givenName": "Test", "familyName": "User"}, "active": true}),
    );
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "userName", "name", "emails", "active"],
    );

    let rec = recording("okta__update_user_patch");
    let r = replay(&h, &rec, &[(recorded_id, &id)]);
    same(
        &r.body,
        &rec["response"],
        &["schemas", "userName", "active", "emails"],
    );
    assert_eq!(r.body["active"], false);
}

#[test]
fn okta_patch_group_membership_and_name() {
    let h = harness();
    let rec = recording("okta__update_group_membership");
    let recorded_gid = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b";
    let u1 = h.user("test.user@okta.local");
    let u2 = h.user("other@okta.local");
    let gid = h.group("Test SCIMv2", &[&u2]);
    let r = replay(
        &h,
        &rec,
        &[
            (recorded_gid, &gid),
            ("23a35c27-23d3-4c03-b4c5-6443c09e7173", &u1),
            ("89bb1940-b905-4575-9e7f-6f887cfb368e", &u2),
        ],
    );
    let mut members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut want = vec![u1.as_str(), u2.as_str()];
    want.sort_unstable();
    assert_eq!(members, want);

    let rec = recording("okta__update_group_name");
    let r = replay(&h, &rec, &[(recorded_gid, &gid)]);
    assert_eq!(
        r.body["displayName"],
        rec["request"]["Operations"][0]["value"]["displayName"]
    );
    assert_eq!(r.body["id"], gid);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
}

#[test]
fn recorded_patch_bodies_apply() {
    let h = harness();
    let id = h.user("bjensen");
    for name in [
        "testdata__patch__add__attributes",
        "testdata__patch__add__complex",
    ] {
        let body = recording(name);
        let r = h.patch(&format!("/scim/v2/Users/{id}"), &body);
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
    }
    let r = h.get(&format!("/scim/v2/Users/{id}"));
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(r.body["emails"][0]["value"], "babs@jensen.org");
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"})
    );

    let gid = h.group("g", &[]);
    let body = recording("testdata__patch__add__member")
        .to_string()
        .replace("2819c223-7f76-453a-919d-413861904646", &id);
    let r = h.patch(
        &format!("/scim/v2/Groups/{gid}"),
        &serde_json::from_str(&body).unwrap(),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"][0]["value"], id);
}
