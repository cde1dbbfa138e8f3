//! scim-core resource serialisation against `serde_json::Value` on the same bytes.
//!
//! Targets (scim-core issue): deserialising the RFC 7643 §8.2 full user into `User` takes at most
//! 2x the time `serde_json` takes to parse the same bytes into a `Value`, and serialising a `User`
//! is faster than that parse. The input is `scim_benches::USER` (§8.2 plus the §8.3 enterprise
//! extension), so the typed path also decodes an extension.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use scim_benches::USER;
use scim_core::{Group, User};

/// The RFC 7643 §8.4 group, with a second member.
const GROUP: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
  "displayName": "Tour Guides",
  "members": [
    {"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
    {"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
  ],
  "meta": {
    "resourceType": "Group",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "version": "W/\"3694e05e9dff592\"",
    "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
  }
}"#;

fn user(c: &mut Criterion) {
    let mut g = c.benchmark_group("resource_user");
    g.bench_function("parse_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(USER)));
    });
    g.bench_function("deserialize_user", |b| {
        b.iter(|| scim_core::from_str::<User>(black_box(USER)));
    });
    let typed: User = scim_core::from_str(USER).unwrap_or_default();
    g.bench_function("serialize_user", |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)));
    });
    let value: serde_json::Value = serde_json::from_str(USER).unwrap_or_default();
    g.bench_function("serialize_value", |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)));
    });
    g.finish();
}

fn group(c: &mut Criterion) {
    let mut g = c.benchmark_group("resource_group");
    g.bench_function("parse_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(GROUP)));
    });
    g.bench_function("deserialize_group", |b| {
        b.iter(|| scim_core::from_str::<Group>(black_box(GROUP)));
    });
    g.finish();
}

/// `criterion_group!` generates an undocumented `pub fn`; the module scopes the allowance to it.
#[allow(missing_docs)]
mod groups {
    criterion::criterion_group!(benches, super::user, super::group);
}
criterion_main!(groups::benches);
