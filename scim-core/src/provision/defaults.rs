//! The default implementations of [`Provisioner`](super::Provisioner)'s provided methods, generic
//! over users and groups.

use std::future::Future;

use serde::Serialize;

use super::SCAN_PAGE;
use super::collect::PageCollector;
use super::query::{ListQuery, Page};
use crate::error::ScimError;
use crate::etag::ETag;
use crate::patch::{OpKind, PatchOp, PatchOperation};
use crate::resource::{Group, Member, Resource, User};
use crate::schema::SchemaRegistry;

/// How often a PATCH without a client precondition starts over after losing a race.
const PATCH_ATTEMPTS: usize = 16;

/// Ids per `remove` operation: a value filter holds at most 1,000 terms.
const REMOVE_CHUNK: usize = 100;

/// A resource the defaults can handle: users and groups.
pub(crate) trait Stored:
    Serialize + Into<Resource> + TryFrom<Resource, Error = ScimError> + Send
{
    /// `meta.version`, parsed; `None` when absent or malformed.
    fn version(&self) -> Option<ETag>;
}

impl Stored for User {
    fn version(&self) -> Option<ETag> {
        version_of(self.meta.as_ref().and_then(|m| m.version.as_deref()))
    }
}

impl Stored for Group {
    fn version(&self) -> Option<ETag> {
        version_of(self.meta.as_ref().and_then(|m| m.version.as_deref()))
    }
}

fn version_of(tag: Option<&str>) -> Option<ETag> {
    tag.and_then(|t| ETag::parse(t).ok())
}

/// Scan, filter, sort, page. Memory: without `sortBy` only the requested page is kept (the rest
/// is counted and dropped); with it, every match is kept, since any of them may sort first.
pub(crate) async fn search<T, F, Fut>(
    query: &ListQuery,
    core_urn: &str,
    mut scan: F,
) -> Result<Page<T>, ScimError>
where
    T: Serialize + Send,
    F: FnMut(usize, usize) -> Fut + Send,
    Fut: Future<Output = Result<Vec<T>, ScimError>> + Send,
{
    let schema = SchemaRegistry::builtin().resource(core_urn);
    let mut page = PageCollector::new(query, schema);
    let mut scanned: usize = 0;
    loop {
        let batch = scan(scanned, SCAN_PAGE).await?;
        let len = batch.len();
        for item in batch {
            page.offer(serde_json::to_value(&item)?, item);
        }
        scanned += len;
        if len < SCAN_PAGE {
            break;
        }
    }
    Ok(page.finish())
}

/// Read, check `expected`, apply, write back conditionally; start over on a lost race when the
/// caller set no precondition of its own.
pub(crate) async fn patch<T, G, GF, R, RF>(
    patch: &PatchOp,
    expected: Option<&ETag>,
    get: G,
    replace: R,
) -> Result<T, ScimError>
where
    T: Stored,
    G: Fn() -> GF + Send,
    GF: Future<Output = Result<T, ScimError>> + Send,
    R: Fn(T, Option<ETag>) -> RF + Send,
    RF: Future<Output = Result<T, ScimError>> + Send,
{
    for _ in 0..PATCH_ATTEMPTS {
        let current = get().await?;
        let version = current.version();
        if let Some(want) = expected {
            if !version.as_ref().is_some_and(|v| v.weak_eq(want)) {
                return Err(ScimError::precondition_failed(format_args!(
                    "If-Match {want} does not match the current version {}",
                    version
                        .as_ref()
                        .map_or("(none)".to_owned(), ToString::to_string)
                )));
            }
        }
        let mut resource: Resource = current.into();
        crate::patch::apply(&mut resource, patch, SchemaRegistry::builtin())?;
        let updated = T::try_from(resource)?;
        match replace(updated, version).await {
            Err(ScimError::PreconditionFailed { .. }) if expected.is_none() => {}
            other => return other,
        }
    }
    Err(ScimError::precondition_failed(format_args!(
        "the resource changed during each of {PATCH_ATTEMPTS} attempts to apply the PATCH"
    )))
}

/// `{"op": "add", "path": "members", "value": [...]}`.
pub(crate) fn members_patch(kind: OpKind, members: &[Member]) -> Result<PatchOp, ScimError> {
    let value = serde_json::to_value(members)?;
    Ok(PatchOp::new(vec![PatchOperation::with_path(
        kind,
        "members",
        Some(value),
    )?]))
}

/// A PATCH removing the members whose `value` is in `member_ids`: `remove` operations with
/// `members[value eq "a" or value eq "b" ...]`, 100 ids each (a value filter holds at most
/// 1,000 terms). Every id must be a member, or applying it is `noTarget`.
///
/// ```
/// let patch = scim_core::provision::remove_members_patch(&["a", "b"])?;
/// assert_eq!(
///     serde_json::to_value(&patch.operations)?,
///     serde_json::json!([{"op": "remove", "path": r#"members[value eq "a" or value eq "b"]"#}])
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remove_members_patch<S: AsRef<str>>(member_ids: &[S]) -> Result<PatchOp, ScimError> {
    let mut operations = Vec::new();
    for chunk in member_ids.chunks(REMOVE_CHUNK) {
        let mut path = String::from("members[");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                path.push_str(" or ");
            }
            path.push_str("value eq ");
            path.push_str(&serde_json::to_string(id.as_ref())?);
        }
        path.push(']');
        operations.push(PatchOperation::with_path(OpKind::Remove, &path, None)?);
    }
    Ok(PatchOp::new(operations))
}
