//! A service over an in-memory backend with two tenants, and helpers to drive it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod stub;

use std::sync::Arc;

use http::{HeaderMap, Method, Request, StatusCode};
use scim_core::provision::InMemoryProvisioner;
use scim_core::provision::conformance::block_on;
use scim_core::{BearerTokens, ScimService, ServiceBuilder};
use serde_json::Value;

pub const TOKEN_A: &str = "token-for-tenant-a";
pub const TOKEN_B: &str = "token-for-tenant-b";

pub struct Harness {
    pub service: ScimService,
    pub backend: Arc<InMemoryProvisioner>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a SCIM 2.0 error body with this status (and `scimType`, if given).
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        match scim_type {
            Some(t) => assert_eq!(self.body["scimType"], t, "{}", self.body),
            None => assert!(self.body.get("scimType").is_none(), "{}", self.body),
        }
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/scim+json; charset=utf-8")
        );
    }

    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

pub fn harness() -> Harness {
    harness_with(|b| b)
}

pub fn harness_with(configure: impl FnOnce(ServiceBuilder) -> ServiceBuilder) -> Harness {
    let backend = Arc::new(InMemoryProvisioner::new());
    let tokens = BearerTokens::new()
        .with_token(TOKEN_A, "tenant-a")
        .with_token(TOKEN_B, "tenant-b");
    let builder = ScimService::builder(backend.clone()).authenticator(Arc::new(tokens));
    Harness {
        service: configure(builder).build(),
        backend,
    }
}

pub fn request(method: Method, uri: &str, body: Option<&Value>) -> Request<Vec<u8>> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("Host", "scim.test")
        .header("Authorization", format!("Bearer {TOKEN_A}"));
    if body.is_some() {
        b = b.header("Content-Type", "application/scim+json");
    }
    b.body(
        body.map(|v| serde_json::to_vec(v).unwrap())
            .unwrap_or_default(),
    )
    .unwrap()
}

impl Harness {
    pub fn send<B: AsRef<[u8]>>(&self, request: Request<B>) -> Reply {
        let response = block_on(self.service.handle(request));
        let (parts, raw) = response.into_parts();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            assert_eq!(
                parts.headers.get("content-type").unwrap(),
                "application/scim+json; charset=utf-8"
            );
            serde_json::from_slice(&raw).expect("the response body is JSON")
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            raw,
            body,
        }
    }

    pub fn get(&self, uri: &str) -> Reply {
        self.send(request(Method::GET, uri, None))
    }

    pub fn delete(&self, uri: &str) -> Reply {
        self.send(request(Method::DELETE, uri, None))
    }

    pub fn post(&self, uri: &str, body: &Value) -> Reply {
        self.send(request(Method::POST, uri, Some(body)))
    }

    pub fn put(&self, uri: &str, body: &Value) -> Reply {
        self.send(request(Method::PUT, uri, Some(body)))
    }

    pub fn patch(&self, uri: &str, body: &Value) -> Reply {
        self.send(request(Method::PATCH, uri, Some(body)))
    }

    /// Creates a user (201 asserted) and returns its id.
    pub fn user(&self, user_name: &str) -> String {
        let r = self.post(
            "/scim/v2/Users",
            &serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
            }),
        );
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// Creates a group (201 asserted) and returns its id.
    pub fn group(&self, display_name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self.post(
            "/scim/v2/Groups",
            &serde_json::json!({"displayName": display_name, "members": members}),
        );
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }
}
