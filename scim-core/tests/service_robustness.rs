//! Random requests (methods, paths, query strings, headers and bodies, mostly almost right)
//! through the service: every one gets a SCIM answer; none reaches the 500 that a panic in the
//! service becomes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::LazyLock;

use common::{Harness, TOKEN_A, harness};
use http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};

struct Seeded {
    h: Harness,
    user: String,
    group: String,
}

static SEEDED: LazyLock<Seeded> = LazyLock::new(|| {
    let h = harness();
    let user = h.user("seed");
    let group = h.group("seeds", &[&user]);
    Seeded { h, user, group }
});

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ])
}

fn path() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec!["/scim/v2", "/scim/v1", "/scim", ""]);
    let route = prop::sample::select(vec![
        "/Users",
        "/Users/USER",
        "/Users/USER/",
        "/Groups",
        "/Groups/GROUP",
        "/Users/.search",
        "/.search",
        "/Bulk",
        "/Me",
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "/Users/%",
        "/Users/%ff%fe",
        "",
        "/",
    ]);
    let tail = prop::sample::select(vec!["", "/x", "//", "/%2F"]);
    (base, route, tail).prop_map(|(b, r, t)| format!("{b}{r}{t}"))
}

fn query() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "filter",
        "startIndex",
        "count",
        "sortBy",
        "sortOrder",
        "attributes",
        "excludedAttributes",
        "COUNT",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "userName eq \"seed\"",
            "emails[type eq \"work\"",
            "-1",
            "0",
            "99999999999999999999999",
            "name.givenName",
            "descending",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ];
    prop::collection::vec((name, value), 0..4).prop_map(|pairs| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "schemas",
        "userName",
        "displayName",
        "members",
        "value",
        "emails",
        "active",
        "name",
        "givenName",
        "Operations",
        "op",
        "path",
        "method",
        "bulkId",
        "data",
        "failOnErrors",
        "filter",
        "count",
        "startIndex",
        "meta",
        "attributes",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:scim:schemas:core:1.0",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "add",
            "Replace",
            "remove",
            "POST",
            "/Users",
            "/Groups/bulkId:a",
            "bulkId:a",
            "USER",
            "members[value eq \"USER\"]",
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:api:messages:2.0:PatchOp",
            "True",
            "delete",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec(any::<u8>(), 0..64),
        Just(br#"{"userName": "x""#.to_vec()),
        Just(
            serde_json::to_vec(&json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "USER"}]}]}))
                .unwrap()
        ),
    ]
}

fn header() -> impl Strategy<Value = (&'static str, String)> {
    let name = prop::sample::select(vec![
        "If-Match",
        "If-None-Match",
        "Content-Type",
        "Authorization",
        "X-Request-Id",
        "Host",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "*",
            "W/\"1\"",
            "\"1\", W/\"2\"",
            "W/\"",
            "application/scim+json",
            "application/json; charset=utf-8",
            "text/html",
            "Bearer wrong",
            "evil@host",
            "scim.test:8080",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,16}",
    ];
    (name, value)
}

/// What a failed request must leave as it was: the counts, and the seeded resources.
fn snapshot(s: &Seeded) -> (usize, usize, Option<Value>, Option<Value>) {
    use scim_core::provision::{Provisioner, RequestContext};
    let ctx = RequestContext::new("tenant-a");
    let b = &*s.h.backend;
    scim_core::provision::conformance::block_on(async {
        let user = b.get_user(&ctx, &s.user).await.ok();
        let group = b.get_group(&ctx, &s.group).await.ok();
        (
            b.user_count("tenant-a"),
            b.group_count("tenant-a"),
            user.map(|u| serde_json::to_value(u).unwrap()),
            group.map(|g| serde_json::to_value(g).unwrap()),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_request_gets_a_scim_answer(
        method in method(),
        path in path(),
        query in query(),
        headers in prop::collection::vec(header(), 0..3),
        body in body(),
    ) {
        let s = &*SEEDED;
        let path = path.replace("USER", &s.user).replace("GROUP", &s.group);
        let body: Vec<u8> = String::from_utf8(body.clone())
            .map(|b| b.replace("USER", &s.user).into_bytes())
            .unwrap_or(body);
        let uri = if query.is_empty() { path } else { format!("{path}?{query}") };
        let mut builder = Request::builder()
            .method(method)
            .uri(&uri)
            .header("Authorization", format!("Bearer {TOKEN_A}"));
        for (name, value) in &headers {
            builder = builder.header(*name, value.as_str());
        }
        let Ok(request) = builder.body(body) else {
            // Not a request an HTTP server could hand over.
            return Ok(());
        };
        let before = snapshot(s);
        let response = scim_core::provision::conformance::block_on(s.h.service.handle(request));
        if response.status().as_u16() >= 400 {
            prop_assert_eq!(snapshot(s), before, "a failed request wrote something");
        }
        prop_assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let raw = response.body();
        if raw.is_empty() {
            prop_assert!(
                [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED].contains(&response.status()),
                "{}", response.status()
            );
        } else {
            let v: Value = serde_json::from_slice(raw).expect("a JSON body");
            prop_assert!(v.get("schemas").is_some() || v.get("Errors").is_some(), "{v}");
            prop_assert_eq!(
                response.headers()["content-type"].to_str().unwrap(),
                "application/scim+json; charset=utf-8"
            );
            if response.status().as_u16() >= 400 {
                let code = v.get("status").or_else(|| v.pointer("/Errors/0/code"));
                let status = response.status();
                prop_assert_eq!(code.and_then(Value::as_str), Some(status.as_str()));
            }
        }
    }
}
