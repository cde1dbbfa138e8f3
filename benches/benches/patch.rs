//! Applying an Entra ID-style PATCH with `scim_core::patch::apply`.
//!
//! Target (scim-core issue): a 5-operation PATCH applied to a full user in under 2 µs. The
//! operations are what Entra ID sends on a profile change: replace `displayName`, replace
//! `emails[type eq "work"].value`, replace `name.familyName`, replace `active`, add the enterprise
//! `department`. The user is `scim_benches::USER` (RFC 7643 §8.2 plus the §8.3 enterprise
//! extension) and, under `no-extension`, the §8.2 user alone (the PATCH then creates the
//! extension). Each iteration applies the PATCH to a fresh clone of the user; the clone is made
//! outside the timed section (`iter_batched_ref`). `decode+apply` also decodes the PATCH bytes.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_main};
use scim_benches::USER;
use scim_core::patch::{self, PatchOp};
use scim_core::schema::SchemaRegistry;
use scim_core::{Resource, urn};

const ENTRA_PATCH: &str = r#"{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {"op": "Replace", "path": "displayName", "value": "Barbara Jensen"},
    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
    {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
    {"op": "Replace", "path": "active", "value": false},
    {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour Operations"}
  ]
}"#;

fn patch_benches(c: &mut Criterion) {
    let registry = SchemaRegistry::builtin();
    let user: Resource = match serde_json::from_str(USER) {
        Ok(user) => user,
        Err(error) => panic!("USER does not decode: {error}"),
    };
    let mut plain = user.clone();
    plain.extensions.remove(urn::ENTERPRISE_USER);
    plain.schemas.retain(|s| s != urn::ENTERPRISE_USER);
    let patch = match PatchOp::from_slice(ENTRA_PATCH.as_bytes()) {
        Ok(patch) => patch,
        Err(error) => panic!("ENTRA_PATCH does not decode: {error}"),
    };
    for base in [&user, &plain] {
        let mut check = base.clone();
        if let Err(error) = patch::apply(&mut check, &patch, registry) {
            panic!("the PATCH fails: {error}");
        }
    }

    let mut group = c.benchmark_group("patch");
    group.bench_function("apply/entra-5-ops", |b| {
        b.iter_batched_ref(
            || user.clone(),
            |r| patch::apply(r, black_box(&patch), registry),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("apply/entra-5-ops/no-extension", |b| {
        b.iter_batched_ref(
            || plain.clone(),
            |r| patch::apply(r, black_box(&patch), registry),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("decode+apply/entra-5-ops", |b| {
        b.iter_batched_ref(
            || user.clone(),
            |r| {
                let p = PatchOp::from_slice(black_box(ENTRA_PATCH.as_bytes()))?;
                patch::apply(r, &p, registry)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("decode/entra-5-ops", |b| {
        b.iter(|| PatchOp::from_slice(black_box(ENTRA_PATCH.as_bytes())));
    });
    group.finish();
}

/// `criterion_group!` generates an undocumented `pub fn`; the module scopes the allowance to it.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::patch_benches);
}
criterion_main!(group::benches);
