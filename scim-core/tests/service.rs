//! `ScimService::handle` over the in-memory backend: routes, methods, headers, queries, bodies,
//! preconditions and errors (RFC 7644).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Harness, TOKEN_A, TOKEN_B, harness, harness_with, request};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn with_auth(method: Method, uri: &str, auth: Option<&str>) -> Request<Vec<u8>> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "scim.test");
    if let Some(a) = auth {
        b = b.header("Authorization", a);
    }
    b.body(Vec::new()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Authentication and tenants
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_wrong_scheme_and_wrong_token_are_401_with_a_challenge() {
    let h = harness();
    for auth in [
        None,
        Some("Basic dXNlcjpwYXNz".to_owned()),
        Some("Bearer not-a-token".to_owned()),
        Some("Bearer".to_owned()),
        Some(format!("Bearer {TOKEN_A}x")),
        Some(format!("Token {TOKEN_A}")),
    ] {
        let r = h.send(with_auth(Method::GET, "/scim/v2/Users", auth.as_deref()));
        r.assert_error(401, None);
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="scim""#));
        let text = String::from_utf8_lossy(&r.raw);
        assert!(!text.contains(TOKEN_A), "the token is never echoed: {text}");
    }
    // The scheme is case-insensitive.
    let r = h.send(with_auth(
        Method::GET,
        "/scim/v2/Users",
        Some(&format!("bearer {TOKEN_A}")),
    ));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn without_an_authenticator_every_request_is_401() {
    let backend = std::sync::Arc::new(scim_core::provision::InMemoryProvisioner::new());
    let service = scim_core::ScimService::builder(backend).build();
    let h = Harness {
        service,
        backend: std::sync::Arc::new(scim_core::provision::InMemoryProvisioner::new()),
    };
    for uri in [
        "/scim/v2/Users",
        "/scim/v2/ServiceProviderConfig",
        "/nowhere",
    ] {
        let r = h.get(uri);
        r.assert_error(401, None);
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="scim""#));
    }
}

#[test]
fn discovery_needs_authentication_too() {
    let h = harness();
    for uri in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/ResourceTypes",
        "/scim/v2/Schemas",
    ] {
        h.send(with_auth(Method::GET, uri, None))
            .assert_error(401, None);
    }
}

#[test]
fn a_token_never_reaches_another_tenant() {
    let h = harness();
    let id = h.user("alice");
    let gid = h.group("admins", &[&id]);
    let as_b = |method: Method, uri: &str, body: Option<Value>| {
        let mut req = request(method, uri, body.as_ref());
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {TOKEN_B}").parse().unwrap(),
        );
        h.send(req)
    };
    // Reads.
    as_b(Method::GET, &format!("/scim/v2/Users/{id}"), None).assert_error(404, None);
    as_b(Method::GET, &format!("/scim/v2/Groups/{gid}"), None).assert_error(404, None);
    let list = as_b(Method::GET, "/scim/v2/Users", None);
    assert_eq!(list.body["totalResults"], 0);
    let search = as_b(
        Method::POST,
        "/scim/v2/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
    );
    assert_eq!(search.body["totalResults"], 0);
    // Writes.
    as_b(
        Method::PUT,
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "mallory"})),
    )
    .assert_error(404, None);
    as_b(
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .assert_error(404, None);
    as_b(Method::DELETE, &format!("/scim/v2/Users/{id}"), None).assert_error(404, None);
    // Tenant B's own user of the same name is fine: the namespaces are separate.
    let r = as_b(
        Method::POST,
        "/scim/v2/Users",
        Some(json!({"userName": "alice"})),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(h.backend.user_count("tenant-a"), 1);
    assert_eq!(h.backend.user_count("tenant-b"), 1);
    // Tenant A's user is untouched.
    let r = h.get(&format!("/scim/v2/Users/{id}"));
    assert_eq!(r.body["userName"], "alice");
    assert_eq!(r.body["active"], Value::Null);
}

#[test]
fn the_handle_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let h = harness();
    let future = h
        .service
        .handle(request(Method::GET, "/scim/v2/Users", None));
    assert_send(&future);
    let future = h
        .service
        .handle(Request::get("/scim/v2/Users").body(&b""[..]).unwrap());
    assert_send(&future);
}

#[test]
fn bearer_tokens_debug_redacts_the_tokens() {
    let tokens = scim_core::BearerTokens::new().with_token("very-secret", "t");
    let debug = format!("{tokens:?}");
    assert!(!debug.contains("very-secret"), "{debug}");
    let backend = std::sync::Arc::new(scim_core::provision::InMemoryProvisioner::new());
    let builder =
        scim_core::ScimService::builder(backend).authenticator(std::sync::Arc::new(tokens));
    let debug = format!("{builder:?}");
    assert!(!debug.contains("very-secret"), "{debug}");
    let debug = format!("{:?}", builder.build());
    assert!(!debug.contains("very-secret"), "{debug}");
    assert!(debug.contains("/scim/v2"), "{debug}");
}

#[test]
fn the_request_context_carries_tenant_principal_version_and_request_id() {
    use std::sync::Arc;

    let spy = Arc::new(common::stub::Stub::default());
    let service = scim_core::ScimService::builder(spy.clone())
        .authenticator(Arc::new(
            scim_core::BearerTokens::new()
                .with_token("t1", "acme")
                .with_token("t2", "acme"),
        ))
        .build();
    let mut req = with_auth(Method::GET, "/scim/v2/Users/x", Some("Bearer t2"));
    req.headers_mut()
        .insert("X-Request-Id", "abc-123".parse().unwrap());
    let _ = scim_core::provision::conformance::block_on(service.handle(req));
    let mut req = with_auth(Method::GET, "/scim/v1/Users/x", Some("Bearer t1"));
    // Too long to be an id worth logging: a fresh one is used instead.
    req.headers_mut()
        .insert("X-Request-Id", "x".repeat(300).parse().unwrap());
    let _ = scim_core::provision::conformance::block_on(service.handle(req));
    // A panicking backend (`create_user` panics) becomes a 500, not a crash.
    let mut req = with_auth(Method::POST, "/scim/v2/Users", Some("Bearer t1"));
    *req.body_mut() = br#"{"userName": "x"}"#.to_vec();
    let response = scim_core::provision::conformance::block_on(service.handle(req));
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["status"], "500");

    let seen = spy.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].tenant(), "acme");
    assert_eq!(seen[0].principal(), Some("bearer-token-2"));
    assert_eq!(seen[0].request_id(), "abc-123");
    assert_eq!(seen[0].version(), scim_core::provision::ScimVersion::V2);
    assert_eq!(seen[1].principal(), Some("bearer-token-1"));
    assert_eq!(seen[1].version(), scim_core::provision::ScimVersion::V1_1);
    assert!(!seen[1].request_id().is_empty());
    assert!(seen[1].request_id().len() < 300);
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_paths_are_404() {
    let h = harness();
    for uri in [
        "/",
        "/scim",
        "/scim/v2/Nope",
        "/scim/v2/Users/a/b",
        "/scim/v3/Users",
        "/scim/v2Users",
        "/scim/v2/Users/%zz",
    ] {
        h.get(uri).assert_error(404, None);
    }
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let h = harness();
    let id = h.user("bjensen");
    let item = format!("/scim/v2/Users/{id}");
    for (method, uri, allow) in [
        (Method::PUT, "/scim/v2/Users", "GET, POST"),
        (Method::DELETE, "/scim/v2/Groups", "GET, POST"),
        (Method::PATCH, "/scim/v2/Users", "GET, POST"),
        (Method::POST, item.as_str(), "GET, PUT, PATCH, DELETE"),
        (Method::GET, "/scim/v2/.search", "POST"),
        (Method::GET, "/scim/v2/Users/.search", "POST"),
        (Method::GET, "/scim/v2/Bulk", "POST"),
        (Method::POST, "/scim/v2/ServiceProviderConfig", "GET"),
        (Method::DELETE, "/scim/v2/Schemas", "GET"),
        (Method::PUT, "/scim/v2/ResourceTypes/User", "GET"),
        (Method::HEAD, "/scim/v2/Users", "GET, POST"),
        (
            Method::OPTIONS,
            "/scim/v2/Me",
            "GET, POST, PUT, PATCH, DELETE",
        ),
    ] {
        let r = h.send(request(method.clone(), uri, None));
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {uri}");
        if method != Method::HEAD {
            r.assert_error(405, None);
        }
    }
}

#[test]
fn trailing_slashes_and_endpoint_case_are_tolerated() {
    let h = harness();
    let id = h.user("bjensen");
    assert_eq!(h.get("/scim/v2/Users/").status, StatusCode::OK);
    assert_eq!(
        h.get(&format!("/scim/v2/Users/{id}/")).status,
        StatusCode::OK
    );
    assert_eq!(h.get("/scim/v2/users").status, StatusCode::OK);
    assert_eq!(
        h.get("/scim/v2/ServiceProviderConfig/").status,
        StatusCode::OK
    );
}

#[test]
fn me_is_501() {
    let h = harness();
    for m in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        h.send(request(m, "/scim/v2/Me", None))
            .assert_error(501, None);
    }
}

#[test]
fn custom_base_paths() {
    let h = harness_with(|b| b.base_path_v2("/api/scim/").base_path_v1("legacy"));
    let r = h.post("/api/scim/Users", &json!({"userName": "x"}));
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("http://scim.test/api/scim/Users/")
    );
    assert_eq!(h.get("/legacy/Users").status, StatusCode::OK);
    h.get("/scim/v2/Users").assert_error(404, None);
}

// ---------------------------------------------------------------------------------------------
// Users: create, read, replace, patch, delete
// ---------------------------------------------------------------------------------------------

#[test]
fn a_plain_get_serves_what_the_projected_path_serves() {
    let h = harness();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let admins = h.group("admins", &[&alice]);
    let all = h.group("all", &[&alice, &bob, &admins]);
    let check = |uri: &str| {
        // `excludedAttributes` of an attribute none has takes the general (JSON) path.
        let plain = h.get(uri);
        let projected = h.get(&format!("{uri}?excludedAttributes=nickName"));
        assert_eq!(plain.status, StatusCode::OK);
        assert_eq!(plain.body, projected.body);
        assert_eq!(plain.header("etag"), projected.header("etag"));
        assert!(plain.header("etag").is_some());
        plain.body
    };
    let user = check(&format!("/scim/v2/Users/{alice}"));
    assert_eq!(
        user["meta"]["location"],
        format!("http://scim.test/scim/v2/Users/{alice}")
    );
    let mut groups: Vec<(String, String)> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["display"].as_str().unwrap().to_owned(),
                g["$ref"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            (
                "admins".to_owned(),
                format!("http://scim.test/scim/v2/Groups/{admins}")
            ),
            (
                "all".to_owned(),
                format!("http://scim.test/scim/v2/Groups/{all}")
            ),
        ]
    );
    let group = check(&format!("/scim/v2/Groups/{all}"));
    let refs: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["$ref"].as_str().unwrap())
        .collect();
    assert!(refs.contains(&format!("http://scim.test/scim/v2/Groups/{admins}").as_str()));
    assert!(refs.contains(&format!("http://scim.test/scim/v2/Users/{bob}").as_str()));

    // The shared copy the in-memory store serves follows renames and removals.
    let renamed = h.patch(
        &format!("/scim/v2/Groups/{admins}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "root"}]}),
    );
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(
        h.delete(&format!("/scim/v2/Groups/{all}")).status,
        StatusCode::NO_CONTENT
    );
    let user = check(&format!("/scim/v2/Users/{alice}"));
    assert_eq!(user["groups"].as_array().unwrap().len(), 1, "{user}");
    assert_eq!(user["groups"][0]["display"], "root");
    assert_eq!(user["meta"]["version"], "W/\"1\"", "{user}");
}

#[test]
fn a_kept_get_body_follows_every_change_and_each_host() {
    for budget in [
        scim_core::service::DEFAULT_RESPONSE_CACHE_BYTES,
        64 * 1024,
        0,
    ] {
        let h = harness_with(|b| b.response_cache_bytes(budget));
        let alice = h.user("alice");
        let uri = format!("/scim/v2/Users/{alice}");
        let first = h.get(&uri);
        let again = h.get(&uri);
        assert_eq!(first.raw, again.raw);
        assert_eq!(first.header("etag"), again.header("etag"));

        // Another Host: its own location.
        let mut req = request(Method::GET, &uri, None);
        req.headers_mut()
            .insert("Host", "other.test".parse().unwrap());
        let other = h.send(req);
        assert_eq!(
            other.body["meta"]["location"],
            format!("http://other.test{uri}")
        );
        assert_eq!(h.get(&uri).raw, first.raw);

        // A PATCH, a group joined, the group renamed: each shows at once.
        let patched = h.patch(
            &uri,
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}),
        );
        assert_eq!(patched.status, StatusCode::OK);
        let now = h.get(&uri);
        assert_eq!(now.body["title"], "Boss", "budget {budget}");
        assert_ne!(now.header("etag"), first.header("etag"));
        let gid = h.group("admins", &[&alice]);
        assert_eq!(h.get(&uri).body["groups"][0]["display"], "admins");
        let renamed = h.put(
            &format!("/scim/v2/Groups/{gid}"),
            &json!({"displayName": "root", "members": [{"value": alice}]}),
        );
        assert_eq!(renamed.status, StatusCode::OK);
        assert_eq!(h.get(&uri).body["groups"][0]["display"], "root");
        let group = h.get(&format!("/scim/v2/Groups/{gid}"));
        assert_eq!(h.get(&format!("/scim/v2/Groups/{gid}")).raw, group.raw);
        assert_eq!(group.body["displayName"], "root");
        assert_eq!(h.delete(&uri).status, StatusCode::NO_CONTENT);
        h.get(&uri).assert_error(404, None);
    }
}

#[test]
fn create_is_201_with_location_etag_and_meta() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Users",
        &json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "bjensen",
            "password": "t1meMa$heen",
            ENTERPRISE: {"employeeNumber": "701984"},
        }),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.id();
    let location = format!("http://scim.test/scim/v2/Users/{id}");
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    let etag = r.header("etag").unwrap();
    assert_eq!(r.body["meta"]["version"], etag);
    assert!(
        r.body.get("password").is_none(),
        "password is returned never"
    );
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "701984");
}

#[test]
fn public_url_makes_locations() {
    let h = harness_with(|b| b.public_url("https://scim.example.com/"));
    let r = h.post("/scim/v2/Users", &json!({"userName": "x"}));
    let id = r.id();
    let want = format!("https://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(r.header("location"), Some(want.as_str()));
    assert_eq!(
        h.get(&format!("/scim/v2/Users/{id}")).body["meta"]["location"],
        want
    );
}

#[test]
fn without_a_usable_host_locations_are_relative() {
    let h = harness();
    let mut req = request(
        Method::POST,
        "/scim/v2/Users",
        Some(&json!({"userName": "x"})),
    );
    req.headers_mut().remove("Host");
    let r = h.send(req);
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.header("location").unwrap().starts_with("/scim/v2/Users/"));
    let mut req = request(
        Method::POST,
        "/scim/v2/Users",
        Some(&json!({"userName": "y"})),
    );
    req.headers_mut()
        .insert("Host", "evil@attacker.example".parse().unwrap());
    let r = h.send(req);
    assert!(r.header("location").unwrap().starts_with("/scim/v2/Users/"));
}

#[test]
fn get_put_patch_delete_a_user() {
    let h = harness();
    let id = h.user("bjensen");
    let uri = format!("/scim/v2/Users/{id}");

    let r = h.get(&uri);
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userName"], "bjensen");
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());
    assert!(r.header("location").is_none());

    let r = h.put(
        &uri,
        &json!({"schemas": [USER], "id": id, "userName": "bjensen", "displayName": "Babs"}),
    );
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["displayName"], "Babs");
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());

    let r = h.patch(
        &uri,
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["displayName"], "Babs");
    assert_eq!(r.body["meta"]["location"], format!("http://scim.test{uri}"));

    let r = h.delete(&uri);
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty());
    h.get(&uri).assert_error(404, None);
    h.delete(&uri).assert_error(404, None);
    h.put(&uri, &json!({"userName": "x"}))
        .assert_error(404, None);
    h.patch(&uri, &json!({"Operations": []}))
        .assert_error(404, None);
}

#[test]
fn duplicate_user_name_is_409_uniqueness() {
    let h = harness();
    h.user("bjensen");
    h.post("/scim/v2/Users", &json!({"userName": "BJensen"}))
        .assert_error(409, Some("uniqueness"));
    assert_eq!(h.backend.user_count("tenant-a"), 1);
}

#[test]
fn groups_crud_and_membership() {
    let h = harness();
    let alice = h.user("alice");
    let bob = h.user("bob");
    let gid = h.group("admins", &[&alice]);
    let uri = format!("/scim/v2/Groups/{gid}");
    let r = h.get(&uri);
    assert_eq!(r.body["displayName"], "admins");
    assert_eq!(r.body["members"][0]["value"], alice);
    assert_eq!(r.body["meta"]["location"], format!("http://scim.test{uri}"));

    let r = h.patch(
        &uri,
        &json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": bob}]},
            {"op": "remove", "path": format!("members[value eq \"{alice}\"]")}
        ]}),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], bob);

    assert_eq!(
        r.body["members"][0]["$ref"],
        format!("http://scim.test/scim/v2/Users/{bob}")
    );

    let r = h.get(&format!("/scim/v2/Users/{bob}"));
    assert_eq!(r.body["groups"][0]["value"], gid);
    assert_eq!(
        r.body["groups"][0]["$ref"],
        format!("http://scim.test/scim/v2/Groups/{gid}")
    );

    let r = h.put(
        &uri,
        &json!({"schemas": [GROUP], "displayName": "root", "members": []}),
    );
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["displayName"], "root");
    assert!(r.body.get("members").is_none());

    // A member that does not exist is rejected and nothing changes.
    h.patch(
        &uri,
        &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]}),
    )
    .assert_error(400, Some("invalidValue"));
    assert_eq!(h.delete(&uri).status, StatusCode::NO_CONTENT);
    assert_eq!(h.backend.group_count("tenant-a"), 0);
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

fn raw(
    h: &Harness,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> common::Reply {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "scim.test")
        .header("Authorization", format!("Bearer {TOKEN_A}"));
    if let Some(ct) = content_type {
        b = b.header("Content-Type", ct);
    }
    h.send(b.body(body.to_vec()).unwrap())
}

#[test]
fn malformed_json_is_400_invalid_syntax_with_the_position() {
    let h = harness();
    let id = h.user("bjensen");
    for (method, uri) in [
        (Method::POST, "/scim/v2/Users".to_owned()),
        (Method::PUT, format!("/scim/v2/Users/{id}")),
        (Method::PATCH, format!("/scim/v2/Users/{id}")),
        (Method::POST, "/scim/v2/Groups".to_owned()),
        (Method::POST, "/scim/v2/.search".to_owned()),
        (Method::POST, "/scim/v2/Users/.search".to_owned()),
        (Method::POST, "/scim/v2/Bulk".to_owned()),
    ] {
        let r = raw(
            &h,
            method.clone(),
            &uri,
            Some("application/scim+json"),
            b"{\"userName\": \"x\",\n  oops}",
        );
        r.assert_error(400, Some("invalidSyntax"));
        assert!(
            r.detail().contains("line 2 column 3"),
            "{method} {uri}: {}",
            r.detail()
        );
    }
    let r = raw(
        &h,
        Method::POST,
        "/scim/v2/Users",
        Some("application/json"),
        b"",
    );
    r.assert_error(400, Some("invalidSyntax"));
    let r = raw(&h, Method::POST, "/scim/v2/Users", None, b"[1, 2]");
    r.assert_error(400, Some("invalidSyntax"));
    assert_eq!(h.backend.user_count("tenant-a"), 1);
}

#[test]
fn wrong_types_are_400_invalid_value_naming_the_attribute() {
    let h = harness();
    let id = h.user("bjensen");
    for (body, attr) in [
        (json!({"userName": "x", "active": "maybe"}), "active"),
        (json!({"userName": "x", "emails": "not-a-list"}), "emails"),
        (json!({"userName": ["x"]}), "userName"),
        (
            json!({"userName": "x", "name": {"givenName": 7}}),
            "name.givenName",
        ),
    ] {
        let r = h.post("/scim/v2/Users", &body);
        r.assert_error(400, Some("invalidValue"));
        assert!(r.detail().contains(attr), "{attr}: {}", r.detail());
        let r = h.put(&format!("/scim/v2/Users/{id}"), &body);
        r.assert_error(400, Some("invalidValue"));
    }
    let r = h.post(
        "/scim/v2/Groups",
        &json!({"displayName": "g", "members": [{"value": 5}]}),
    );
    r.assert_error(400, Some("invalidValue"));
    assert!(r.detail().contains("members"), "{}", r.detail());
    assert_eq!(h.backend.user_count("tenant-a"), 1);
    assert_eq!(h.backend.group_count("tenant-a"), 0);
}

#[test]
fn unknown_schemas_are_400_invalid_value() {
    let h = harness();
    for body in [
        json!({"schemas": ["urn:example:nope"], "userName": "x"}),
        json!({"schemas": [USER, "urn:example:nope"], "userName": "x"}),
        json!({"schemas": [GROUP], "userName": "x"}),
        json!({"schemas": "urn:example:nope", "userName": "x"}),
        json!({"schemas": [1], "userName": "x"}),
    ] {
        let r = h.post("/scim/v2/Users", &body);
        r.assert_error(400, Some("invalidValue"));
        assert!(r.detail().contains("schemas"), "{}", r.detail());
    }
    let r = h.post(
        "/scim/v2/Groups",
        &json!({"schemas": [ENTERPRISE], "displayName": "g"}),
    );
    r.assert_error(400, Some("invalidValue"));
    assert!(r.detail().contains(ENTERPRISE));
    // Case does not matter, and `schemas` may be left out.
    let r = h.post(
        "/scim/v2/Users",
        &json!({"schemas": [USER.to_uppercase()], "userName": "ok"}),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        h.post("/scim/v2/Users", &json!({"userName": "ok2"})).status,
        StatusCode::CREATED
    );
    assert_eq!(h.backend.user_count("tenant-a"), 2);
}

#[test]
fn missing_required_attributes_are_400_invalid_value() {
    let h = harness();
    let id = h.user("bjensen");
    for body in [
        json!({}),
        json!({"userName": ""}),
        json!({"userName": "  "}),
        json!({"displayName": "x"}),
    ] {
        let r = h.post("/scim/v2/Users", &body);
        r.assert_error(400, Some("invalidValue"));
        assert!(r.detail().contains("userName"));
        h.put(&format!("/scim/v2/Users/{id}"), &body)
            .assert_error(400, Some("invalidValue"));
    }
    let r = h.post("/scim/v2/Groups", &json!({"members": []}));
    r.assert_error(400, Some("invalidValue"));
    assert!(r.detail().contains("displayName"));
    assert_eq!(
        h.get(&format!("/scim/v2/Users/{id}")).body["userName"],
        "bjensen"
    );
}

#[test]
fn content_types() {
    let h = harness();
    let body = br#"{"userName": "a"}"#;
    for (i, ct) in [
        Some("application/scim+json"),
        Some("application/json"),
        Some("application/scim+json; charset=utf-8"),
        Some("Application/JSON;charset=UTF-8"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"userName": "user{i}"}}"#);
        let r = raw(&h, Method::POST, "/scim/v2/Users", ct, body.as_bytes());
        assert_eq!(r.status, StatusCode::CREATED, "{ct:?}: {}", r.body);
    }
    for ct in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "json",
    ] {
        let r = raw(&h, Method::POST, "/scim/v2/Users", Some(ct), body);
        r.assert_error(415, None);
        assert!(r.detail().contains(ct), "{}", r.detail());
    }
    assert_eq!(h.backend.user_count("tenant-a"), 5);
}

#[test]
fn oversize_bodies_are_413() {
    let h = harness_with(|b| b.max_payload_size(64));
    let big = json!({"userName": "x".repeat(100)});
    h.post("/scim/v2/Users", &big).assert_error(413, None);
    assert_eq!(h.backend.user_count("tenant-a"), 0);
    assert_eq!(h.service.max_payload_size(), 64);
    assert_eq!(
        h.post("/scim/v2/Users", &json!({"userName": "x"})).status,
        StatusCode::CREATED
    );
}

#[test]
fn a_failed_patch_writes_nothing() {
    let h = harness();
    let id = h.user("bjensen");
    let uri = format!("/scim/v2/Users/{id}");
    let before = h.get(&uri).body;
    for (body, scim_type) in [
        (
            json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "changed"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@example.com"},
                {"op": "remove", "path": "nickName["}
            ]}),
            "invalidPath",
        ),
        (
            json!({"Operations": [{"op": "frobnicate", "path": "x"}]}),
            "invalidSyntax",
        ),
        (json!({"nothing": true}), "invalidSyntax"),
        (
            json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "changed"},
                {"op": "replace", "path": "active", "value": "perhaps"}
            ]}),
            "invalidValue",
        ),
    ] {
        h.patch(&uri, &body).assert_error(400, Some(scim_type));
    }
    assert_eq!(h.get(&uri).body, before);
}

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

#[test]
fn if_match_and_if_none_match() {
    let h = harness();
    let id = h.user("bjensen");
    let uri = format!("/scim/v2/Users/{id}");
    let etag = h.get(&uri).header("etag").unwrap().to_owned();

    // If-None-Match on GET: 304 with the ETag and no body; a different tag: 200.
    let mut req = request(Method::GET, &uri, None);
    req.headers_mut()
        .insert("If-None-Match", etag.parse().unwrap());
    let r = h.send(req);
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.raw.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let mut req = request(Method::GET, &uri, None);
    req.headers_mut()
        .insert("If-None-Match", r#"W/"999""#.parse().unwrap());
    assert_eq!(h.send(req).status, StatusCode::OK);

    // If-Match on GET with a stale tag: 412.
    let mut req = request(Method::GET, &uri, None);
    req.headers_mut()
        .insert("If-Match", r#"W/"999""#.parse().unwrap());
    h.send(req).assert_error(412, None);

    // A stale If-Match fails every write and changes nothing.
    for (method, body) in [
        (Method::PUT, Some(json!({"userName": "changed"}))),
        (
            Method::PATCH,
            Some(
                json!({"Operations": [{"op": "replace", "path": "userName", "value": "changed"}]}),
            ),
        ),
        (Method::DELETE, None),
    ] {
        let mut req = request(method.clone(), &uri, body.as_ref());
        req.headers_mut()
            .insert("If-Match", r#"W/"999""#.parse().unwrap());
        h.send(req).assert_error(412, None);
    }
    assert_eq!(h.get(&uri).body["userName"], "bjensen");

    // The current tag (in a list, or `*`) lets them through.
    let mut req = request(Method::PUT, &uri, Some(&json!({"userName": "v2"})));
    req.headers_mut()
        .insert("If-Match", format!(r#"W/"999", {etag}"#).parse().unwrap());
    let r = h.send(req);
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let etag2 = r.header("etag").unwrap().to_owned();
    assert_ne!(etag2, etag);

    let mut req = request(
        Method::PATCH,
        &uri,
        Some(&json!({"Operations": [{"op": "replace", "path": "nickName", "value": "B"}]})),
    );
    req.headers_mut().insert("If-Match", etag2.parse().unwrap());
    let r = h.send(req);
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["nickName"], "B");

    // The tag from before the PATCH is now stale.
    let mut req = request(Method::DELETE, &uri, None);
    req.headers_mut().insert("If-Match", etag2.parse().unwrap());
    h.send(req).assert_error(412, None);

    let mut req = request(Method::DELETE, &uri, None);
    req.headers_mut().insert("If-Match", "*".parse().unwrap());
    assert_eq!(h.send(req).status, StatusCode::NO_CONTENT);

    // A malformed header is 400 naming it.
    let id = h.user("other");
    let mut req = request(Method::GET, &format!("/scim/v2/Users/{id}"), None);
    req.headers_mut()
        .insert("If-Match", "unquoted".parse().unwrap());
    let r = h.send(req);
    r.assert_error(400, Some("invalidValue"));
    assert!(r.detail().contains("If-Match"));
}

#[test]
fn if_none_match_star_on_put_is_412() {
    let h = harness();
    let id = h.user("bjensen");
    let mut req = request(
        Method::PUT,
        &format!("/scim/v2/Users/{id}"),
        Some(&json!({"userName": "x"})),
    );
    req.headers_mut()
        .insert("If-None-Match", "*".parse().unwrap());
    h.send(req).assert_error(412, None);
}

// ---------------------------------------------------------------------------------------------
// Queries through the URL
// ---------------------------------------------------------------------------------------------

fn names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["userName"]
                .as_str()
                .or_else(|| r["displayName"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

fn people(h: &Harness) {
    for (name, title) in [
        ("carol", "Engineer"),
        ("alice", "Manager"),
        ("erin", "Engineer"),
        ("bob", "Engineer"),
        ("dave", "Intern"),
    ] {
        let r = h.post("/scim/v2/Users", &json!({"userName": name, "title": title}));
        assert_eq!(r.status, StatusCode::CREATED);
    }
}

#[test]
fn filter_sort_and_paging_through_the_url() {
    let h = harness();
    people(&h);
    let r = h.get("/scim/v2/Users?filter=title+eq+%22engineer%22&sortBy=userName");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["schemas"][0], LIST);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], 3);
    assert_eq!(names(&r.body), ["bob", "carol", "erin"]);

    let r = h.get("/scim/v2/Users?filter=title%20eq%20%22Engineer%22&sortBy=userName&sortOrder=descending&startIndex=2&count=1");
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["startIndex"], 2);
    assert_eq!(r.body["itemsPerPage"], 1);
    assert_eq!(names(&r.body), ["carol"]);

    // count=0: only the total. Negative count means 0; startIndex below 1 means 1.
    for q in ["count=0", "count=-5"] {
        let r = h.get(&format!("/scim/v2/Users?{q}"));
        assert_eq!(r.body["totalResults"], 5);
        assert_eq!(r.body["Resources"], json!([]));
    }
    let r = h.get("/scim/v2/Users?startIndex=-3&count=2&sortBy=userName");
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(names(&r.body), ["alice", "bob"]);
    let r = h.get("/scim/v2/Users?startIndex=0&sortBy=userName&sortOrder=DESCENDING");
    assert_eq!(names(&r.body), ["erin", "dave", "carol", "bob", "alice"]);
    // Past the end: an empty page, the right total.
    let r = h.get("/scim/v2/Users?startIndex=99999999999999999999999");
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["Resources"], json!([]));
    // Parameter names in other case.
    let r = h.get("/scim/v2/Users?FILTER=userName%20eq%20%22ALICE%22");
    assert_eq!(names(&r.body), ["alice"]);
    // An empty list.
    let r = h.get("/scim/v2/Groups");
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
}

#[test]
fn count_above_max_results_is_clamped() {
    let h = harness_with(|b| b.max_results(2));
    people(&h);
    let r = h.get("/scim/v2/Users?count=100");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 5);
    assert_eq!(r.body["itemsPerPage"], 2);
    let r = h.get("/scim/v2/Users");
    assert_eq!(r.body["itemsPerPage"], 2);
}

#[test]
fn bad_query_parameters_are_400() {
    let h = harness();
    people(&h);
    let r = h.get("/scim/v2/Users?filter=userName+eq");
    r.assert_error(400, Some("invalidFilter"));
    assert!(
        r.detail().contains("11") || r.detail().contains("position"),
        "{}",
        r.detail()
    );
    let r = h.get("/scim/v2/Users?filter=title+gt+true");
    r.assert_error(400, Some("invalidFilter"));
    for (query, name) in [
        ("startIndex=abc", "startIndex"),
        ("startIndex=1.5", "startIndex"),
        ("count=ten", "count"),
        ("count=", "count"),
        ("sortOrder=sideways", "sortOrder"),
        ("sortBy=name..givenName", "sortBy"),
        ("attributes=name..givenName", "attributes"),
        ("excludedAttributes=%5B", "excludedAttributes"),
        ("count=1&count=2", "count"),
    ] {
        let r = h.get(&format!("/scim/v2/Users?{query}"));
        r.assert_error(400, Some("invalidValue"));
        assert!(r.detail().contains(name), "{query}: {}", r.detail());
    }
}

#[test]
fn attributes_and_excluded_attributes() {
    let h = harness();
    let r = h.post(
        "/scim/v2/Users?attributes=userName",
        &json!({
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work"}],
            "title": "Boss",
        }),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["userName"], "bjensen");
    assert!(r.body.get("title").is_none());
    assert!(r.body["id"].is_string(), "id is returned always");
    assert!(r.header("location").is_some());
    let id = r.id();

    let r = h.get(&format!(
        "/scim/v2/Users/{id}?attributes=name.givenName,emails.value"
    ));
    assert_eq!(r.body["name"], json!({"givenName": "Barbara"}));
    assert_eq!(r.body["emails"], json!([{"value": "b@example.com"}]));
    assert!(r.body.get("userName").is_none());

    let r = h.get(&format!(
        "/scim/v2/Users/{id}?excludedAttributes=name,emails,id"
    ));
    assert!(r.body.get("name").is_none());
    assert!(r.body.get("emails").is_none());
    assert_eq!(r.body["id"], id, "id cannot be excluded");
    assert_eq!(r.body["title"], "Boss");

    let r = h.get("/scim/v2/Users?attributes=userName");
    assert_eq!(
        r.body["Resources"][0].as_object().unwrap().len(),
        3,
        "{}",
        r.body
    ); // schemas, id, userName

    let r = h.patch(
        &format!("/scim/v2/Users/{id}?attributes=title"),
        &json!({"Operations": [{"op": "replace", "path": "title", "value": "CEO"}]}),
    );
    assert_eq!(r.body["title"], "CEO");
    assert!(r.body.get("userName").is_none());
}

// ---------------------------------------------------------------------------------------------
// POST .search
// ---------------------------------------------------------------------------------------------

#[test]
fn post_search_on_a_type_and_at_the_root() {
    let h = harness();
    people(&h);
    let alice = h
        .get("/scim/v2/Users?filter=userName%20eq%20%22alice%22")
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.group("engineers", &[]);
    h.group("managers", &[&alice]);

    let r = h.post(
        "/scim/v2/Users/.search",
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "title eq \"Engineer\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 2,
            "attributes": ["userName"],
        }),
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(names(&r.body), ["erin", "carol"]);
    assert!(r.body["Resources"][0].get("title").is_none());

    let r = h.post(
        "/scim/v2/Groups/.search",
        &json!({"filter": "displayName sw \"man\""}),
    );
    assert_eq!(names(&r.body), ["managers"]);

    // The root searches both types.
    let r = h.post("/scim/v2/.search", &json!({}));
    assert_eq!(r.body["totalResults"], 7);
    let all = names(&r.body);
    assert_eq!(all.len(), 7);
    assert!(all.contains(&"managers".to_owned()) && all.contains(&"dave".to_owned()));
    let types: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types.iter().filter(|t| **t == "Group").count(), 2);

    // Paging across the boundary between users and groups.
    let r = h.post("/scim/v2/.search", &json!({"startIndex": 5, "count": 2}));
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["Resources"][0]["meta"]["resourceType"], "User");
    assert_eq!(r.body["Resources"][1]["meta"]["resourceType"], "Group");
    let r = h.post("/scim/v2/.search", &json!({"startIndex": 7, "count": 5}));
    assert_eq!(names(&r.body), ["managers"]);

    // Sorted across both types.
    let r = h.post(
        "/scim/v2/.search",
        &json!({"filter": "meta.resourceType pr", "sortBy": "meta.created", "sortOrder": "descending", "count": 3}),
    );
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 3);
    let r = h.post(
        "/scim/v2/.search",
        &json!({"filter": "displayName pr or userName pr", "sortBy": "displayName", "startIndex": 1, "count": 2}),
    );
    assert_eq!(names(&r.body), ["engineers", "managers"]);

    // GET on the base path queries both types too (RFC 7644 §3.4.2), from the URL.
    for base in ["/scim/v2", "/scim/v2/"] {
        let r = h.get(&format!(
            "{base}?filter=displayName%20pr&sortBy=displayName&count=2"
        ));
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["totalResults"], 2);
        assert_eq!(names(&r.body), ["engineers", "managers"]);
    }
    let r = h.send(request(Method::POST, "/scim/v2", Some(&json!({}))));
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET"));
    h.get("/scim/v2?count=x")
        .assert_error(400, Some("invalidValue"));

    // A filter only groups can match.
    let r = h.post("/scim/v2/.search", &json!({"filter": "members pr"}));
    assert_eq!(names(&r.body), ["managers"]);

    // Errors.
    h.post("/scim/v2/.search", &json!({"filter": "(("}))
        .assert_error(400, Some("invalidFilter"));
    h.post("/scim/v2/Users/.search", &json!({"count": "many"}))
        .assert_error(400, Some("invalidValue"));
    h.post("/scim/v2/Users/.search", &json!([]))
        .assert_error(400, Some("invalidSyntax"));
    h.post("/scim/v2/Users/.search", &json!({"sortOrder": "up"}))
        .assert_error(400, Some("invalidValue"));
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn service_provider_config_tells_the_truth() {
    let h = harness_with(|b| {
        b.max_results(50)
            .max_payload_size(4096)
            .max_bulk_operations(7)
    });
    let r = h.get("/scim/v2/ServiceProviderConfig");
    assert_eq!(r.status, StatusCode::OK);
    let c = &r.body;
    assert_eq!(
        c["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(c["patch"]["supported"], true);
    assert_eq!(
        c["bulk"],
        json!({"supported": true, "maxOperations": 7, "maxPayloadSize": 4096})
    );
    assert_eq!(c["filter"], json!({"supported": true, "maxResults": 50}));
    assert_eq!(c["changePassword"]["supported"], false);
    assert_eq!(c["sort"]["supported"], true);
    assert_eq!(c["etag"]["supported"], true);
    assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        c["meta"]["location"],
        "http://scim.test/scim/v2/ServiceProviderConfig"
    );
    // RFC 7644 §4: filtering discovery endpoints is refused.
    h.get("/scim/v2/ServiceProviderConfig?filter=x+pr")
        .assert_error(403, None);
    h.get("/scim/v2/Schemas?filter=x+pr")
        .assert_error(403, None);
}

#[test]
fn discovery_says_what_the_backend_keeps() {
    use scim_core::provision::Capabilities;
    let serve = |caps: Capabilities| {
        let service = scim_core::ScimService::builder(std::sync::Arc::new(common::stub::Stub {
            caps,
            ..common::stub::Stub::default()
        }))
        .authenticator(std::sync::Arc::new(
            scim_core::BearerTokens::new().with_token("t", "acme"),
        ))
        .build();
        move |uri: &str| {
            let req = with_auth(Method::GET, uri, Some("Bearer t"));
            let resp = scim_core::provision::conformance::block_on(service.handle(req));
            let status = resp.status();
            let body: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
            (status, body)
        }
    };
    let attribute_names = |schema: &Value| -> Vec<String> {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Everything by default: all of the User schema, the enterprise extension, no passwords.
    let get = serve(Capabilities::default());
    assert_eq!(
        get("/scim/v2/ServiceProviderConfig").1["changePassword"]["supported"],
        false
    );
    let (_, user) = get(&format!("/scim/v2/Schemas/{USER}"));
    assert!(attribute_names(&user).contains(&"addresses".to_owned()));
    assert_eq!(
        get(&format!("/scim/v2/Schemas/{ENTERPRISE}")).0,
        StatusCode::OK
    );

    // A backend keeping a subset (one enterprise attribute) that sets passwords.
    let get = serve(
        Capabilities::default()
            .change_password(true)
            .user_attributes([
                "userName",
                "displayName",
                "EMAILS",
                &format!("{ENTERPRISE}:department"),
            ]),
    );
    assert_eq!(
        get("/scim/v2/ServiceProviderConfig").1["changePassword"]["supported"],
        true
    );
    let (_, user) = get(&format!("/scim/v2/Schemas/{USER}"));
    assert_eq!(
        attribute_names(&user),
        ["userName", "displayName", "emails"]
    );
    let (status, enterprise) = get(&format!("/scim/v2/Schemas/{ENTERPRISE}"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attribute_names(&enterprise), ["department"]);
    let (_, listed) = get("/scim/v2/Schemas");
    assert_eq!(
        listed["totalResults"], 3,
        "User, Group, enterprise: {listed}"
    );

    // The definition named `name` in a list of attribute definitions.
    let def = |list: &Value, name: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap()
    };

    // A backend refusing users without an email: `emails` and its `value` say required,
    // so a client filling the required attributes sends one; nothing else changes.
    let get = serve(Capabilities::default().require_user_attributes(["Emails"]));
    let (_, user) = get(&format!("/scim/v2/Schemas/{USER}"));
    let emails = def(&user["attributes"], "emails");
    assert_eq!(emails["required"], true, "{emails}");
    assert_eq!(def(&emails["subAttributes"], "value")["required"], true);
    assert_eq!(def(&emails["subAttributes"], "type")["required"], false);
    assert_eq!(def(&user["attributes"], "title")["required"], false);
    assert_eq!(def(&user["attributes"], "userName")["required"], true);
    let (_, default_user) = serve(Capabilities::default())(&format!("/scim/v2/Schemas/{USER}"));
    assert_eq!(
        def(&default_user["attributes"], "emails")["required"],
        false
    );

    // A backend that cannot rename groups: the Group's displayName says immutable.
    let group_display_mutability = |caps: Capabilities| {
        let (_, group) = serve(caps)(&format!("/scim/v2/Schemas/{GROUP}"));
        def(&group["attributes"], "displayName")["mutability"].clone()
    };
    assert_eq!(
        group_display_mutability(Capabilities::default().fixed_group_names(true)),
        "immutable"
    );
    assert_eq!(
        group_display_mutability(Capabilities::default()),
        "readWrite"
    );

    // No enterprise attribute kept: the extension is neither a schema nor a resource type's.
    let get = serve(Capabilities::default().user_attributes(["userName"]));
    assert_eq!(
        get(&format!("/scim/v2/Schemas/{ENTERPRISE}")).0,
        StatusCode::NOT_FOUND
    );
    let (_, user_type) = get("/scim/v2/ResourceTypes/User");
    assert_eq!(
        user_type["schemaExtensions"].as_array().map_or(0, Vec::len),
        0,
        "{user_type}"
    );
    let (_, group) = get(&format!("/scim/v2/Schemas/{GROUP}"));
    assert!(
        attribute_names(&group).contains(&"members".to_owned()),
        "Group is not narrowed"
    );
}

#[test]
fn resource_types_and_schemas() {
    let h = harness();
    let r = h.get("/scim/v2/ResourceTypes");
    assert_eq!(r.body["schemas"][0], LIST);
    assert_eq!(r.body["totalResults"], 2);
    let user = &r.body["Resources"][0];
    assert_eq!(
        user["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    );
    assert_eq!(user["name"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER);
    assert_eq!(user["schemaExtensions"][0]["schema"], ENTERPRISE);
    assert_eq!(user["schemaExtensions"][0]["required"], false);
    assert_eq!(
        user["meta"]["location"],
        "http://scim.test/scim/v2/ResourceTypes/User"
    );
    assert_eq!(r.body["Resources"][1]["schema"], GROUP);

    let r = h.get("/scim/v2/ResourceTypes/Group");
    assert_eq!(r.body["endpoint"], "/Groups");
    h.get("/scim/v2/ResourceTypes/Printer")
        .assert_error(404, None);

    let r = h.get("/scim/v2/Schemas");
    assert_eq!(r.body["totalResults"], 3);
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER, GROUP, ENTERPRISE]);
    let r = h.get(&format!("/scim/v2/Schemas/{USER}"));
    assert_eq!(r.body["id"], USER);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:Schema"
    );
    assert!(
        r.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "userName")
    );
    assert_eq!(r.body["meta"]["resourceType"], "Schema");
    h.get("/scim/v2/Schemas/urn:example:nope")
        .assert_error(404, None);
}

/// Between the service reading the version for `If-Match` and its write, another writer
/// changes the resource: the write must fail with 412, because the service hands the matched
/// version to the provisioner, which checks it atomically.
#[test]
fn if_match_is_checked_atomically_with_the_write() {
    use async_trait::async_trait;
    use scim_core::etag::ETag;
    use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
    use scim_core::{Group, ScimError, User};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Racy {
        inner: InMemoryProvisioner,
        race: AtomicBool,
    }
    #[async_trait]
    impl Provisioner for Racy {
        async fn create_user(&self, c: &RequestContext, u: User) -> Result<User, ScimError> {
            self.inner.create_user(c, u).await
        }
        async fn get_user(&self, c: &RequestContext, id: &str) -> Result<User, ScimError> {
            let user = self.inner.get_user(c, id).await?;
            if self.race.swap(false, Ordering::SeqCst) {
                let mut other = user.clone();
                other.title = Some("written by someone else".to_owned());
                self.inner.replace_user(c, id, other, None).await?;
            }
            Ok(user)
        }
        async fn replace_user(
            &self,
            c: &RequestContext,
            id: &str,
            u: User,
            e: Option<&ETag>,
        ) -> Result<User, ScimError> {
            self.inner.replace_user(c, id, u, e).await
        }
        async fn delete_user(
            &self,
            c: &RequestContext,
            id: &str,
            e: Option<&ETag>,
        ) -> Result<(), ScimError> {
            self.inner.delete_user(c, id, e).await
        }
        async fn scan_users(
            &self,
            c: &RequestContext,
            o: usize,
            l: usize,
        ) -> Result<Vec<User>, ScimError> {
            self.inner.scan_users(c, o, l).await
        }
        async fn create_group(&self, c: &RequestContext, g: Group) -> Result<Group, ScimError> {
            self.inner.create_group(c, g).await
        }
        async fn get_group(&self, c: &RequestContext, id: &str) -> Result<Group, ScimError> {
            self.inner.get_group(c, id).await
        }
        async fn replace_group(
            &self,
            c: &RequestContext,
            id: &str,
            g: Group,
            e: Option<&ETag>,
        ) -> Result<Group, ScimError> {
            self.inner.replace_group(c, id, g, e).await
        }
        async fn delete_group(
            &self,
            c: &RequestContext,
            id: &str,
            e: Option<&ETag>,
        ) -> Result<(), ScimError> {
            self.inner.delete_group(c, id, e).await
        }
        async fn scan_groups(
            &self,
            c: &RequestContext,
            o: usize,
            l: usize,
        ) -> Result<Vec<Group>, ScimError> {
            self.inner.scan_groups(c, o, l).await
        }
    }

    let racy = Arc::new(Racy {
        inner: InMemoryProvisioner::new(),
        race: AtomicBool::new(false),
    });
    let service = scim_core::ScimService::builder(racy.clone())
        .authenticator(Arc::new(
            scim_core::BearerTokens::new().with_token(TOKEN_A, "tenant-a"),
        ))
        .build();
    let h = Harness {
        service,
        backend: Arc::new(InMemoryProvisioner::new()),
    };
    let id = h.user("bjensen");
    let uri = format!("/scim/v2/Users/{id}");
    for (method, body) in [
        (Method::PUT, Some(json!({"userName": "mine"}))),
        (
            Method::PATCH,
            Some(json!({"Operations": [{"op": "replace", "path": "userName", "value": "mine"}]})),
        ),
        (Method::DELETE, None),
    ] {
        let etag = h.get(&uri).header("etag").unwrap().to_owned();
        racy.race.store(true, Ordering::SeqCst);
        let mut req = request(method.clone(), &uri, body.as_ref());
        req.headers_mut().insert("If-Match", etag.parse().unwrap());
        h.send(req).assert_error(412, None);
        let now = h.get(&uri);
        assert_eq!(now.body["userName"], "bjensen", "{method}");
        assert_eq!(now.body["title"], "written by someone else", "{method}");
    }
}

#[test]
fn registered_extension_schemas_are_accepted_listed_and_served() {
    const OKTA: &str = "urn:okta:custom:user:1.0";
    const TEAM: &str = "urn:example:team:1.0";
    let schema = |urn: &str, name: &str| -> scim_core::Schema {
        serde_json::from_value(json!({
            "id": urn,
            "name": name,
            "attributes": [{"name": "costCenter", "type": "string", "multiValued": false}]
        }))
        .unwrap()
    };
    // Unregistered, the URN is refused.
    let plain = harness();
    let body = json!({"schemas": [USER, OKTA], "userName": "x", OKTA: {"costCenter": "42"}});
    plain
        .post("/scim/v2/Users", &body)
        .assert_error(400, Some("invalidValue"));

    let h = harness_with(|b| {
        b.user_extension(schema(OKTA, "OktaCustomUser"))
            .group_extension(schema(TEAM, "Team"))
            // A built-in URN is not registered twice.
            .user_extension(schema(ENTERPRISE, "Enterprise again"))
    });
    let r = h.post("/scim/v2/Users", &body);
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let got = h.get(&format!("/scim/v2/Users/{id}")).body;
    assert_eq!(
        got[OKTA]["costCenter"], "42",
        "the extension survives: {got}"
    );
    assert!(got["schemas"].as_array().unwrap().iter().any(|s| s == OKTA));
    // Registered for Users only: a Group naming it is still refused.
    h.post(
        "/scim/v2/Groups",
        &json!({"schemas": [GROUP, OKTA], "displayName": "g"}),
    )
    .assert_error(400, Some("invalidValue"));
    let r = h.post(
        "/scim/v2/Groups",
        &json!({"schemas": [GROUP, TEAM], "displayName": "g", TEAM: {"costCenter": "7"}}),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let user_type = h.get("/scim/v2/ResourceTypes/User").body;
    let urns: Vec<&str> = user_type["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert_eq!(urns, [ENTERPRISE, OKTA]);
    let group_type = h.get("/scim/v2/ResourceTypes/Group").body;
    assert_eq!(group_type["schemaExtensions"][0]["schema"], TEAM);
    let served = h.get(&format!("/scim/v2/Schemas/{OKTA}"));
    assert_eq!(served.status, StatusCode::OK, "{}", served.body);
    assert_eq!(served.body["name"], "OktaCustomUser");
    let all = h.get("/scim/v2/Schemas").body;
    assert_eq!(
        all["totalResults"], 5,
        "3 built-in schemas and the 2 registered ones"
    );
}

/// A plain `GET` is written straight from the typed resource; with a projection it goes through
/// JSON. Excluding an attribute nobody has projects nothing, so both must give the same body.
#[test]
fn the_typed_get_path_renders_what_the_json_path_renders() {
    let h = harness();
    let user = h.post(
        "/scim/v2/Users",
        &json!({
            "schemas": [USER, ENTERPRISE],
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "password": "t1meMa$heen",
            "x-custom": {"kept": true},
            ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
        }),
    );
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
    let uid = user.body["id"].as_str().unwrap().to_owned();
    let inner = h.post("/scim/v2/Groups", &json!({"displayName": "inner"}));
    let gid_inner = inner.body["id"].as_str().unwrap().to_owned();
    let group = h.post(
        "/scim/v2/Groups",
        &json!({"displayName": "Tour Guides", "members": [{"value": uid}, {"value": gid_inner}]}),
    );
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/scim/v2/Users/{uid}"),
        format!("/scim/v2/Groups/{gid}"),
    ] {
        let fast = h.get(&path);
        let slow = h.get(&format!("{path}?excludedAttributes=noSuchAttribute"));
        assert_eq!(fast.status, StatusCode::OK);
        assert_eq!(fast.body, slow.body, "{path}");
        assert_eq!(fast.header("etag"), slow.header("etag"));
        assert!(
            fast.body["meta"]["location"]
                .as_str()
                .unwrap()
                .ends_with(&path[8..])
        );
    }
    let u = h.get(&format!("/scim/v2/Users/{uid}")).body;
    assert!(u.get("password").is_none());
    assert!(u["groups"][0]["$ref"].as_str().unwrap().contains(&gid));
    let g = h.get(&format!("/scim/v2/Groups/{gid}")).body;
    let refs: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["$ref"].as_str().unwrap())
        .collect();
    assert!(
        refs.iter().any(|r| r.contains("/Users/")) && refs.iter().any(|r| r.contains("/Groups/"))
    );
}
