//! `/Users`, `/Groups` and their items: create, read, replace, PATCH, delete (RFC 7644 §3.3,
//! §3.4.1, §3.5, §3.6), with `If-Match`/`If-None-Match` (§3.14).

use bytes::Bytes;
use http::header::{ETAG, LOCATION};
use http::{Method, StatusCode};
use serde_json::Value;

use super::Call;
use super::body;
use super::kind::{Fetched, Kind};
use super::rendered::ServedBody;
use super::response::Reply;
use super::served;
use crate::error::ScimError;
use crate::etag::{ETag, Precondition, Preconditions};
use crate::patch::PatchOp;
use crate::projection::Projection;
use crate::provision::ScimVersion;
use crate::schema::SchemaRegistry;
use crate::scim1;

/// The buffer a resource is serialised into, to start with.
const RESOURCE_BYTES: usize = 2048;

impl Call<'_> {
    /// The absolute URL of the resource `id` of type `T`.
    pub(crate) fn location<T: Kind>(&self, id: &str) -> String {
        super::served::resource_url(&self.base_url, T::ENDPOINT, id)
    }

    /// A resource as JSON, ready to send: served (location and `$ref`s set, as the plain
    /// `GET` writes it), projected, in the call's version; with its location and `ETag`.
    pub(crate) fn render<T: Kind>(
        &self,
        resource: &T,
        projection: &Projection,
    ) -> Result<(Value, String, Option<String>), ScimError> {
        let location = self.location::<T>(resource.id().unwrap_or_default());
        let mut body =
            resource.serialize_served(serde_json::value::Serializer, &self.base_url, &location)?;
        projection.apply(&mut body, SchemaRegistry::builtin(), T::CORE);
        if self.version == ScimVersion::V1_1 {
            body = scim1::resource_to_v1(body);
        }
        let etag = resource.meta_version().map(str::to_owned);
        Ok((body, location, etag))
    }

    /// A reply carrying one resource, with `ETag` (and `Location` on 201).
    pub(crate) fn resource_reply<T: Kind>(
        &self,
        status: StatusCode,
        resource: &T,
        projection: &Projection,
    ) -> Result<Reply, ScimError> {
        let (body, location, etag) = self.render(resource, projection)?;
        let mut reply = Reply::json(status, body);
        if let Some(tag) = etag {
            reply = reply.header(ETAG, tag);
        }
        if status == StatusCode::CREATED {
            reply = reply.header(LOCATION, location);
        }
        Ok(reply)
    }
}

/// `POST /Users`, `POST /Groups`.
pub(crate) async fn create<T: Kind>(call: &Call<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let projection = call.params.projection()?;
    let resource = body::resource::<T>(body, call.version, T::registered_extensions(call.inner))?;
    let created = T::create(call.provisioner(), &call.ctx, resource).await?;
    call.resource_reply(StatusCode::CREATED, &created, &projection)
}

/// `GET`, `PUT`, `PATCH`, `DELETE` on `/Users/{id}`, `/Groups/{id}`.
pub(crate) async fn item<T: Kind>(
    call: &Call<'_>,
    method: &Method,
    id: &str,
    body: &[u8],
) -> Result<Reply, ScimError> {
    let preconditions = Preconditions::from_headers(call.headers)?;
    match *method {
        Method::GET => get::<T>(call, id, &preconditions).await,
        // Writes run boxed: the future of this function is as large as its largest branch, and
        // a plain `GET`'s future is moved a few times on its way to the runtime (3.3 KB with
        // every route inline, each move a copy).
        Method::PUT | Method::PATCH => {
            let write = ItemWrite {
                call,
                method,
                id,
                body,
                preconditions: &preconditions,
            };
            if *method == Method::PUT {
                Box::pin(replace::<T>(write)).await
            } else {
                Box::pin(patch::<T>(write)).await
            }
        }
        Method::DELETE => {
            Box::pin(async {
                let expected = expected::<T>(call, id, &preconditions, method).await?;
                T::delete(call.provisioner(), &call.ctx, id, expected.as_ref()).await?;
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            })
            .await
        }
        // Routing only sends the four methods above; anything else is refused, not guessed.
        _ => Err(ScimError::other(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            format_args!("{method} is not allowed on a {}", T::NAME),
        )),
    }
}

/// A write to one resource: the request as `item` has read it.
struct ItemWrite<'r, 'c> {
    call: &'r Call<'c>,
    method: &'r Method,
    id: &'r str,
    body: &'r [u8],
    preconditions: &'r Preconditions,
}

/// `PUT` of one resource.
async fn replace<T: Kind>(w: ItemWrite<'_, '_>) -> Result<Reply, ScimError> {
    let call = w.call;
    let projection = call.params.projection()?;
    let resource = body::resource::<T>(w.body, call.version, T::registered_extensions(call.inner))?;
    let expected = expected::<T>(call, w.id, w.preconditions, w.method).await?;
    let replaced = T::replace(
        call.provisioner(),
        &call.ctx,
        w.id,
        resource,
        expected.as_ref(),
    )
    .await?;
    call.resource_reply(StatusCode::OK, &replaced, &projection)
}

/// `PATCH` of one resource.
async fn patch<T: Kind>(w: ItemWrite<'_, '_>) -> Result<Reply, ScimError> {
    let call = w.call;
    let projection = call.params.projection()?;
    let patch = patch_body::<T>(call, w.id, w.body).await?;
    let expected = expected::<T>(call, w.id, w.preconditions, w.method).await?;
    // A projection without `members` lets the backend skip reading them back.
    let probe = serde_json::json!({"schemas": [T::CORE], "members": [{"value": "x"}]});
    let shown = projection.applied(&probe, SchemaRegistry::builtin(), T::CORE);
    let ctx = call
        .ctx
        .clone()
        .with_members_returned(shown.get("members").is_some());
    let patched = T::patch(call.provisioner(), &ctx, w.id, &patch, expected.as_ref()).await?;
    // Entra ID and Okta expect the resource back, not 204.
    call.resource_reply(StatusCode::OK, &patched, &projection)
}

async fn get<T: Kind>(
    call: &Call<'_>,
    id: &str,
    preconditions: &Preconditions,
) -> Result<Reply, ScimError> {
    let projection = call.params.projection()?;
    // The common case (no `attributes`, SCIM 2.0) is written straight from the typed resource,
    // or from the text the backend keeps: going through a `serde_json::Value` and the
    // projection was most of the cost of a GET, and with nothing to project the output is the
    // same.
    if !(projection.is_empty() && call.version == ScimVersion::V2) {
        let resource = T::get_shared(call.provisioner(), &call.ctx, id).await?;
        if let Some(reply) = unless_proceed::<T>(preconditions, resource.meta_version(), id)? {
            return Ok(reply);
        }
        return call.resource_reply(StatusCode::OK, &*resource, &projection);
    }
    let served = match T::fetch(call.provisioner(), &call.ctx, id).await? {
        Fetched::Shared(resource) => {
            let version = resource.meta_version();
            if let Some(reply) = unless_proceed::<T>(preconditions, version, id)? {
                return Ok(reply);
            }
            let kept = T::rendered(call.inner);
            if let Some(served) = kept.get(&resource, &call.base_url) {
                served
            } else {
                let location = call.location::<T>(resource.id().unwrap_or_default());
                // Sized for a typical user: `to_vec` starts at 128 bytes and grows four or
                // five times on the way.
                let mut body = Vec::with_capacity(RESOURCE_BYTES);
                resource.serialize_served(
                    &mut serde_json::Serializer::new(&mut body),
                    &call.base_url,
                    &location,
                )?;
                // The kept copy is exact in size; this response takes the written buffer.
                let kept_body = ServedBody::new(Bytes::copy_from_slice(&body), version);
                kept.put(&resource, &call.base_url, &kept_body);
                ServedBody {
                    bytes: Bytes::from(body),
                    etag: kept_body.etag,
                }
            }
        }
        Fetched::UserJson(user) => {
            let version = user.meta().version.as_deref();
            if let Some(reply) = unless_proceed::<T>(preconditions, version, id)? {
                return Ok(reply);
            }
            let etag = ServedBody::etag(version);
            let location = call.location::<T>(user.id());
            let body = served::user_json_body(*user, &call.base_url, &location)?;
            ServedBody {
                bytes: Bytes::from(body),
                etag,
            }
        }
    };
    let reply = Reply::raw_json(StatusCode::OK, served.bytes);
    Ok(match served.etag {
        Some(tag) => reply.header_value(ETAG, tag),
        None => reply,
    })
}

/// The reply to a `GET` whose `If-Match`/`If-None-Match` (RFC 7644 §3.14) settle it without a
/// body (304, or 412 as an error); `None` when the resource is to be served.
fn unless_proceed<T: Kind>(
    preconditions: &Preconditions,
    version: Option<&str>,
    id: &str,
) -> Result<Option<Reply>, ScimError> {
    // Only `If-Match`/`If-None-Match` read the version as a tag.
    if preconditions.if_match.is_none() && preconditions.if_none_match.is_none() {
        return Ok(None);
    }
    let current = version.and_then(|v| ETag::parse(v).ok());
    match preconditions.evaluate(current.as_ref(), &Method::GET) {
        Precondition::Proceed => Ok(None),
        Precondition::NotModified => {
            let mut reply = Reply::empty(StatusCode::NOT_MODIFIED);
            if let Some(tag) = current {
                reply = reply.header(ETAG, tag.to_string());
            }
            Ok(Some(reply))
        }
        Precondition::Failed => Err(ScimError::precondition_failed(format_args!(
            "{} {id} is at version {}, which does not match If-Match",
            T::NAME,
            current
                .as_ref()
                .map_or_else(|| "(none)".to_owned(), ToString::to_string)
        ))),
    }
}

/// The version a write must find, from `If-Match`/`If-None-Match`: the headers are evaluated
/// against the current version (so lists of tags and `*` work), and the version that matched
/// is handed to the provisioner, which checks it again atomically with the write.
async fn expected<T: Kind>(
    call: &Call<'_>,
    id: &str,
    preconditions: &Preconditions,
    method: &Method,
) -> Result<Option<ETag>, ScimError> {
    if preconditions.if_match.is_none() && preconditions.if_none_match.is_none() {
        return Ok(None);
    }
    let current = T::get(call.provisioner(), &call.ctx, id).await?;
    let version = current.meta_version().and_then(|v| ETag::parse(v).ok());
    preconditions
        .evaluate(version.as_ref(), method)
        .into_result()
        .map_err(|_| {
            ScimError::precondition_failed(format_args!(
                "{} {id} is at version {}, which does not satisfy the request's precondition",
                T::NAME,
                version
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), ToString::to_string)
            ))
        })?;
    Ok(preconditions.if_match.as_ref().and(version))
}

/// The PATCH body as a 2.0 `PatchOp`; a SCIM 1.1 body (a partial resource) is converted
/// against the resource's current state.
async fn patch_body<T: Kind>(call: &Call<'_>, id: &str, body: &[u8]) -> Result<PatchOp, ScimError> {
    let value = body::json(body)?;
    match call.version {
        ScimVersion::V1_1 => {
            let current = T::get(call.provisioner(), &call.ctx, id).await?;
            let current = serde_json::to_value(&current)?;
            let ops = scim1::patch_operations(&value, Some(&current))?;
            PatchOp::from_value(scim1::patch_request(&ops))
        }
        _ => PatchOp::from_value(value),
    }
}
