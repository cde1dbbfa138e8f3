//! `DocumentProvisioner` over the smallest honest `DocumentStore` (JSON documents in maps) passes
//! the conformance suite, and turns what a store reports into the right SCIM errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::provision::{
    Document, DocumentKind, DocumentProvisioner, DocumentStore, Provisioner, RequestContext,
    Written, conformance,
};
use scim_core::{Group, Member, ScimType, User};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
enum MapError {
    #[error("userName {0:?} is taken")]
    Taken(String),
    #[error("the disk is on fire")]
    Broken,
}

#[derive(Default)]
struct Row {
    attributes: Value,
    version: u64,
    members: Vec<String>,
}

#[derive(Default)]
struct Tenant {
    rows: BTreeMap<(DocumentKind, u64), Row>,
}

#[derive(Default)]
struct MapStore {
    tenants: Mutex<HashMap<String, Tenant>>,
    /// Ids are unique across tenants, as the conformance suite's isolation check needs.
    next_id: std::sync::atomic::AtomicU64,
    broken: Mutex<bool>,
}

impl Tenant {
    fn render(&self, kind: DocumentKind, id: u64, row: &Row) -> String {
        let mut doc = row.attributes.clone();
        let fields = doc.as_object_mut().unwrap();
        fields.insert("id".into(), json!(id.to_string()));
        let resource_type = if kind == DocumentKind::User {
            "User"
        } else {
            "Group"
        };
        fields.insert(
            "meta".into(),
            json!({"resourceType": resource_type, "created": "2026-01-01T00:00:00Z",
                   "lastModified": "2026-01-01T00:00:00Z", "version": format!("W/\"{}\"", row.version)}),
        );
        if kind == DocumentKind::User {
            let groups: Vec<Value> = self
                .rows
                .iter()
                .filter(|((k, _), g)| *k == DocumentKind::Group && g.members.contains(&id.to_string()))
                .map(|((_, gid), g)| json!({"value": gid.to_string(), "display": g.attributes["displayName"]}))
                .collect();
            fields.insert("groups".into(), json!(groups));
        } else {
            let members: Vec<Value> = row.members.iter().map(|m| json!({"value": m})).collect();
            fields.insert("members".into(), json!(members));
        }
        doc.to_string()
    }
}

#[async_trait]
impl DocumentStore for MapStore {
    type Error = MapError;

    async fn read(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, MapError> {
        let tenants = self.tenants.lock().unwrap();
        let Some(tenant) = tenants.get(ctx.tenant()) else {
            return Ok(Vec::new());
        };
        Ok(tenant
            .rows
            .iter()
            .filter(|((k, rid), _)| *k == kind && id.is_none_or(|id| id == rid.to_string()))
            .skip(offset)
            .take(limit)
            .map(|((_, rid), row)| tenant.render(kind, *rid, row))
            .collect())
    }

    async fn write(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        doc: &Document,
        expected: Option<&ETag>,
    ) -> Result<Written, MapError> {
        if *self.broken.lock().unwrap() {
            return Err(MapError::Broken);
        }
        let mut tenants = self.tenants.lock().unwrap();
        let tenant = tenants.entry(ctx.tenant().to_owned()).or_default();
        let kind = doc.kind();
        let attributes: Value = serde_json::from_str(doc.json()).unwrap();
        for member in doc.members() {
            let known = member
                .parse()
                .is_ok_and(|m| tenant.rows.contains_key(&(DocumentKind::User, m)));
            if !known {
                return Ok(Written::UnknownMember(member.clone()));
            }
        }
        let id = match id {
            Some(id) => match id.parse::<u64>() {
                Ok(id) if tenant.rows.contains_key(&(kind, id)) => id,
                _ => return Ok(Written::NoMatch),
            },
            None => {
                self.next_id
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1
            }
        };
        let old_version = tenant.rows.get(&(kind, id)).map_or(0, |r| r.version);
        if expected.is_some_and(|tag| tag.opaque() != old_version.to_string()) {
            return Ok(Written::NoMatch);
        }
        if kind == DocumentKind::User {
            let name = attributes["userName"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let taken = tenant.rows.iter().any(|((k, rid), r)| {
                *k == kind
                    && *rid != id
                    && r.attributes["userName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase()
                        == name
            });
            if taken {
                return Err(MapError::Taken(name));
            }
        }
        tenant.rows.insert(
            (kind, id),
            Row {
                attributes,
                version: old_version + 1,
                members: doc.members().to_vec(),
            },
        );
        Ok(Written::Stored(id.to_string()))
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        kind: DocumentKind,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<bool, MapError> {
        let mut tenants = self.tenants.lock().unwrap();
        let tenant = tenants.entry(ctx.tenant().to_owned()).or_default();
        let Ok(numeric) = id.parse::<u64>() else {
            return Ok(false);
        };
        let Some(row) = tenant.rows.get(&(kind, numeric)) else {
            return Ok(false);
        };
        if expected.is_some_and(|tag| tag.opaque() != row.version.to_string()) {
            return Ok(false);
        }
        tenant.rows.remove(&(kind, numeric));
        for ((k, _), group) in &mut tenant.rows {
            if *k == DocumentKind::Group && group.members.iter().any(|m| m == id) {
                group.members.retain(|m| m != id);
                group.version += 1;
            }
        }
        Ok(true)
    }

    fn is_conflict(&self, error: &MapError) -> bool {
        matches!(error, MapError::Taken(_))
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn a_map_store_passes_the_conformance_suite() {
    let provisioner = DocumentProvisioner::new(MapStore::default());
    block_on(conformance::run_all(&provisioner, "docs"));
}

#[test]
fn store_outcomes_become_the_right_scim_errors() {
    let provisioner = DocumentProvisioner::new(MapStore::default());
    let ctx = RequestContext::new("acme");
    let ada = block_on(provisioner.create_user(&ctx, User::new("ada"))).unwrap();
    let id = ada.id.clone().unwrap();
    assert_eq!(
        ada.meta.as_ref().unwrap().version.as_deref(),
        Some("W/\"1\"")
    );

    // A duplicate userName: the store's conflict, named with the value sent.
    let err = block_on(provisioner.create_user(&ctx, User::new("ADA"))).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::Uniqueness));
    assert!(err.detail().contains("ADA"), "{}", err.detail());

    // A stale version is 412; a missing id is 404, guarded or not.
    let stale = ETag::parse("W/\"7\"").unwrap();
    let err =
        block_on(provisioner.replace_user(&ctx, &id, User::new("ada"), Some(&stale))).unwrap_err();
    assert_eq!(
        err.status(),
        http::StatusCode::PRECONDITION_FAILED,
        "{}",
        err.detail()
    );
    assert!(err.detail().contains(&id), "{}", err.detail());
    let err = block_on(provisioner.delete_user(&ctx, &id, Some(&stale))).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::PRECONDITION_FAILED);
    let err = block_on(provisioner.replace_user(&ctx, "404", User::new("x"), None)).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
    let err = block_on(provisioner.delete_group(&ctx, "404", None)).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::NOT_FOUND);

    // `id`, `meta` and `groups` sent by the client are not stored.
    let mut sent = User::new("grace");
    sent.id = Some("chosen-by-client".into());
    let grace = block_on(provisioner.create_user(&ctx, sent)).unwrap();
    assert_ne!(grace.id.as_deref(), Some("chosen-by-client"));
    let stored =
        block_on(
            provisioner
                .store()
                .read(&ctx, DocumentKind::User, grace.id.as_deref(), 0, 1),
        )
        .unwrap();
    assert!(!stored[0].contains("chosen-by-client"), "{}", stored[0]);

    // An unknown member is 400 naming it, and nothing is written.
    let mut group = Group::new("eng");
    group.members = vec![Member::new(id.clone()), Member::new("9999")];
    let err = block_on(provisioner.create_group(&ctx, group)).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(err.detail().contains("9999"), "{}", err.detail());
    assert!(
        block_on(provisioner.scan_groups(&ctx, 0, 10))
            .unwrap()
            .is_empty()
    );

    // Empty userName or displayName: 400 before the store is asked.
    let err = block_on(provisioner.create_user(&ctx, User::new("  "))).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    let err = block_on(provisioner.create_group(&ctx, Group::new(""))).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));

    // Any other storage error is a 500 naming it.
    *provisioner.store().broken.lock().unwrap() = true;
    let err = block_on(provisioner.create_user(&ctx, User::new("linus"))).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        err.detail().contains("the disk is on fire"),
        "{}",
        err.detail()
    );
}

#[test]
fn a_store_that_writes_nothing_unguarded_is_a_server_error() {
    struct Stubborn;
    #[async_trait]
    impl DocumentStore for Stubborn {
        type Error = MapError;
        async fn read(
            &self,
            _: &RequestContext,
            _: DocumentKind,
            id: Option<&str>,
            _: usize,
            _: usize,
        ) -> Result<Vec<String>, MapError> {
            // Scans, and the read of "bad", find a document that is not a resource.
            if id.is_none() || id == Some("bad") {
                return Ok(vec![r#"{"id": "bad", "members": 7}"#.to_owned()]);
            }
            let user = json!({"id": id, "userName": "x", "meta": {"resourceType": "User", "version": "W/\"1\""}});
            Ok(vec![user.to_string()])
        }
        async fn write(
            &self,
            _: &RequestContext,
            _: Option<&str>,
            _: &Document,
            _: Option<&ETag>,
        ) -> Result<Written, MapError> {
            Ok(Written::NoMatch)
        }
        async fn delete(
            &self,
            _: &RequestContext,
            _: DocumentKind,
            _: &str,
            _: Option<&ETag>,
        ) -> Result<bool, MapError> {
            Ok(false)
        }
    }
    let provisioner = DocumentProvisioner::new(Stubborn);
    let err =
        block_on(provisioner.replace_user(&RequestContext::new("t"), "1", User::new("x"), None))
            .unwrap_err();
    assert_eq!(err.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        err.detail().contains("exists but was not changed"),
        "{}",
        err.detail()
    );
    // A document the store cannot give back as a User is a 500 naming the problem, not a 400.
    let err = block_on(provisioner.get_group(&RequestContext::new("t"), "bad")).unwrap_err();
    assert_eq!(
        err.status(),
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        err.detail()
    );
    assert!(err.detail().contains("Group \"bad\""), "{}", err.detail());
    // So is the same document met in a scan.
    let err = block_on(provisioner.scan_groups(&RequestContext::new("t"), 0, 10)).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(err.detail().contains("Group \"bad\""), "{}", err.detail());
    // An insert the store did not write is its fault too, not a 404 for an empty id.
    let err =
        block_on(provisioner.create_user(&RequestContext::new("t"), User::new("x"))).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        err.detail().contains("new User was not written"),
        "{}",
        err.detail()
    );
}
