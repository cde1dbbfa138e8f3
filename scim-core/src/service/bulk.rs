//! `/Bulk` (RFC 7644 §3.7) on [`crate::bulk`]'s messages and `bulkId` resolution.
//!
//! - A request that cannot be decoded (not JSON, no `Operations`, a method other than
//!   POST/PUT/PATCH/DELETE) or that gives two operations one `bulkId` is a 400, and nothing
//!   runs. An operation that decodes but is not valid on its own (a POST without `bulkId`, a
//!   PUT without `data`, a path that names no resource) fails alone with 400 in the response,
//!   as RFC 7644 §3.7.3 shows, and the others run.
//! - More operations than `max_bulk_operations` (or a body over `max_payload_size`): 413, and
//!   nothing runs.
//! - Operations run in dependency order ([`BulkRequest::execution_order`]): one that refers to
//!   `bulkId:X` runs after the operation with `bulkId` X, with the created id substituted.
//!   Circular references are a 409 for the request (RFC 7644 §3.7.3 lets a provider refuse
//!   them), naming the cycle, and nothing runs.
//! - Each operation is served exactly as the same request on its own would be (validation,
//!   `version` as `If-Match`, tenant). A reference to an operation that failed fails with 409.
//! - `failOnErrors: n` stops after the `n`-th failed operation; later operations are neither
//!   run nor reported.
//! - The response lists each operation run, in the order run, with `status`, `location`,
//!   `version`, and on failure the error body (in the request's SCIM version) as `response`.

use std::collections::HashMap;

use http::header::{ETAG, IF_MATCH, LOCATION};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::kind::KindTag;
use super::query::Params;
use super::resources;
use super::response::{Reply, error_reply};
use super::route::Route;
use super::{Call, body};
use crate::bulk::{BulkMethod, BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse};
use crate::error::ScimError;
use crate::resource::{Group, User};

/// `POST /Bulk`.
pub(crate) async fn bulk(call: &Call<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    // Parse as JSON first, so a syntax error names its line and column like any other body.
    let value = body::json(body)?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object with `Operations`",
        ));
    }
    let mut request = BulkRequest::deserialize(&value).map_err(ScimError::from)?;
    let max = call.inner.max_bulk_operations;
    if request.operations.len() > max {
        return Err(ScimError::payload_too_large(format_args!(
            "the request has {} operations; at most {max} are accepted (maxOperations)",
            request.operations.len()
        )));
    }
    if request.fail_on_errors == Some(0) {
        return Err(ScimError::invalid_value(
            "failOnErrors",
            "must be at least 1 (leave it out to run every operation)",
        ));
    }
    let order = request.execution_order()?;

    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(order.len());
    let mut errors: u32 = 0;
    for i in order {
        if request.fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
        let Some(op) = request.operations.get_mut(i) else {
            continue;
        };
        let outcome = match op.validate().and_then(|()| op.resolve(&created)) {
            Ok(()) => execute(call, op).await,
            Err(e) => Err(e),
        };
        let result = report(call, op, outcome, &mut created);
        if !result.is_success() {
            errors = errors.saturating_add(1);
        }
        results.push(result);
    }
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::to_value(BulkResponse::new(results))?,
    ))
}

/// Runs one (resolved) operation through the same handlers as a request of its own.
async fn execute(call: &Call<'_>, op: &BulkOperation) -> Result<Reply, ScimError> {
    let route = Route::parse(op.path.trim()).ok_or_else(|| not_a_resource(&op.path))?;
    let mut headers = HeaderMap::new();
    if let Some(v) = &op.version {
        let value = HeaderValue::from_str(v)
            .map_err(|_| ScimError::invalid_value("version", "is not a valid entity tag"))?;
        headers.insert(IF_MATCH, value);
    }
    let sub = Call {
        inner: call.inner,
        version: call.version,
        base_url: call.base_url.clone(),
        ctx: call.ctx.clone(),
        headers: &headers,
        params: Params::default(),
    };
    let data = match (&op.data, op.method) {
        // RFC 7644's own bulk example sends a PATCH's operations as a bare array.
        (Some(Value::Array(ops)), BulkMethod::Patch) => {
            let mut patch = Map::new();
            patch.insert("Operations".to_owned(), Value::Array(ops.clone()));
            serde_json::to_vec(&patch)?
        }
        (Some(d), _) => serde_json::to_vec(d)?,
        (None, _) => Vec::new(),
    };
    let method = Method::from(op.method);
    match (&route, op.method) {
        (Route::Collection(KindTag::User), BulkMethod::Post) => {
            resources::create::<User>(&sub, &data).await
        }
        (Route::Collection(KindTag::Group), BulkMethod::Post) => {
            resources::create::<Group>(&sub, &data).await
        }
        (Route::Item(KindTag::User, id), m) if m != BulkMethod::Post => {
            resources::item::<User>(&sub, &method, id, &data).await
        }
        (Route::Item(KindTag::Group, id), m) if m != BulkMethod::Post => {
            resources::item::<Group>(&sub, &method, id, &data).await
        }
        _ => Err(not_a_resource(&op.path)),
    }
}

fn not_a_resource(path: &str) -> ScimError {
    ScimError::invalid_value(
        "path",
        format_args!(
            "`{}` is not a User or Group endpoint this method applies to",
            path.escape_debug()
        ),
    )
}

/// The result of one operation; records the id it created under its `bulkId`.
fn report(
    call: &Call<'_>,
    op: &BulkOperation,
    outcome: Result<Reply, ScimError>,
    created: &mut HashMap<String, String>,
) -> BulkOperationResponse {
    let reply = match outcome {
        Ok(reply) => reply,
        Err(e) => {
            let mut result = BulkOperationResponse::from_error(op, &e);
            // In the request's protocol version, as a request of its own would get it.
            result.response = error_reply(&e, call.version).body;
            return result;
        }
    };
    // Every header value the service writes was a `String`, so it reads back as one.
    let header = |name| {
        reply
            .headers
            .get(name)
            .and_then(|v| String::from_utf8(v.as_bytes().to_vec()).ok())
    };
    let body = reply.body.as_ref();
    let location = header(LOCATION)
        .or_else(|| {
            body.and_then(|b| b.pointer("/meta/location"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        // DELETE has no body: the location is the resource that was deleted.
        .or_else(|| Some(format!("{}{}", call.base_url, op.path.trim())));
    if let (Some(bulk_id), Some(id)) = (
        &op.bulk_id,
        body.and_then(|b| b.get("id")).and_then(Value::as_str),
    ) {
        created
            .entry(bulk_id.clone())
            .or_insert_with(|| id.to_owned());
    }
    BulkOperationResponse {
        location,
        bulk_id: op.bulk_id.clone(),
        version: header(ETAG),
        ..BulkOperationResponse::new(op.method, reply.status)
    }
}
