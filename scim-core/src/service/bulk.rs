//! `/Bulk` (RFC 7644 §3.7): many writes in one request, with `bulkId:` references between
//! them.
//!
//! - Operations run in dependency order: one whose `data` or `path` holds `bulkId:X` runs after
//!   the operation with `bulkId` X has created its resource, and `bulkId:X` is replaced by that
//!   resource's id. Otherwise request order is kept.
//! - A reference that cannot be resolved fails its operation with 409: a cycle
//!   (`A` needs `B`'s id and `B` needs `A`'s; RFC 7644 §3.7.3 lets a provider refuse those),
//!   an unknown `bulkId`, or one whose operation failed.
//! - `failOnErrors: n` stops after the `n`-th failed operation; later operations are not run
//!   and not reported.
//! - More than `max_bulk_operations` operations, or a body over `max_payload_size`: 413 for
//!   the whole request, nothing run.
//! - Each operation is served exactly as the same request on its own would be (validation,
//!   `version` as `If-Match`, tenant); its outcome is reported with `status`, `location`,
//!   `version` and, on failure, the error body as `response`. Operations are reported in
//!   request order. A failed operation changes nothing; the ones before it stay done.

use std::collections::{HashMap, HashSet};

use http::header::{ETAG, IF_MATCH, LOCATION};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::kind::KindTag;
use super::query::Params;
use super::resources;
use super::response::{Reply, error_reply};
use super::route::Route;
use super::{Call, body};
use crate::error::ScimError;
use crate::json::get_ci;
use crate::resource::{Group, User};

/// `BulkResponse`.
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// One operation as requested.
struct Operation {
    method: Result<Method, ScimError>,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
    /// The `bulkId`s this operation refers to.
    refs: Vec<String>,
}

/// `POST /Bulk`.
pub(crate) async fn bulk(call: &Call<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let value = body::json(body)?;
    let Value::Object(request) = value else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object with `Operations`",
        ));
    };
    let fail_on_errors = match get_ci(&request, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|n| *n >= 1) {
            Some(n) => Some(n),
            None => {
                return Err(ScimError::invalid_value(
                    "failOnErrors",
                    format_args!("must be a positive integer, not {v}"),
                ));
            }
        },
    };
    let Some(Value::Array(items)) = get_ci(&request, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest needs `Operations`: an array",
        ));
    };
    let max = call.inner.max_bulk_operations;
    if items.len() > max {
        return Err(ScimError::payload_too_large(format_args!(
            "the request has {} operations; at most {max} are accepted (maxOperations)",
            items.len()
        )));
    }
    let ops: Vec<Operation> = items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_op(i, v))
        .collect();
    let outcomes = run(call, &ops, fail_on_errors).await;
    let reported: Vec<Value> = outcomes.into_iter().flatten().collect();
    Ok(Reply::json(
        StatusCode::OK,
        json!({"schemas": [BULK_RESPONSE], "Operations": reported}),
    ))
}

fn parse_op(i: usize, v: &Value) -> Operation {
    let empty = Map::new();
    let obj = v.as_object().unwrap_or(&empty);
    let text = |name: &str| get_ci(obj, name).and_then(Value::as_str).map(str::to_owned);
    let method = match text("method") {
        Some(m) if m.eq_ignore_ascii_case("POST") => Ok(Method::POST),
        Some(m) if m.eq_ignore_ascii_case("PUT") => Ok(Method::PUT),
        Some(m) if m.eq_ignore_ascii_case("PATCH") => Ok(Method::PATCH),
        Some(m) if m.eq_ignore_ascii_case("DELETE") => Ok(Method::DELETE),
        other => Err(ScimError::invalid_value(
            format!("Operations[{i}].method"),
            format_args!(
                "must be POST, PUT, PATCH or DELETE, not {}",
                other.as_deref().unwrap_or("(missing)")
            ),
        )),
    };
    let method = if v.is_object() {
        method
    } else {
        Err(ScimError::invalid_syntax(format_args!(
            "Operations[{i}] must be an object"
        )))
    };
    let path = text("path").unwrap_or_default();
    let data = get_ci(obj, "data").filter(|d| !d.is_null()).cloned();
    let mut refs = Vec::new();
    for segment in path.split('/') {
        if let Some(r) = segment.strip_prefix("bulkId:") {
            refs.push(r.to_owned());
        }
    }
    if let Some(d) = &data {
        collect_refs(d, &mut refs);
    }
    Operation {
        method,
        bulk_id: text("bulkId"),
        version: text("version"),
        path,
        data,
        refs,
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix("bulkId:") {
                out.push(r.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|x| collect_refs(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|r| ids.get(r)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

/// Runs the operations in dependency order; the outcome of each (by request index), `None`
/// for those not run because `failOnErrors` was reached.
async fn run(
    call: &Call<'_>,
    ops: &[Operation],
    fail_on_errors: Option<u64>,
) -> Vec<Option<Value>> {
    let mut outcomes: Vec<Option<Value>> = ops.iter().map(|_| None).collect();
    let mut declared: HashMap<&str, usize> = HashMap::new();
    let mut duplicate: HashSet<usize> = HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(id) = op.bulk_id.as_deref() {
            if declared.contains_key(id) {
                duplicate.insert(i);
            } else {
                declared.insert(id, i);
            }
        }
    }
    let mut created: HashMap<String, String> = HashMap::new();
    let mut failed: HashSet<String> = HashSet::new();
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut errors: u64 = 0;

    while !pending.is_empty() {
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
        // The first pending operation whose references are all settled (created or failed).
        let ready = pending.iter().position(|&i| {
            ops.get(i).is_some_and(|op| {
                op.refs.iter().all(|r| {
                    created.contains_key(r)
                        || failed.contains(r)
                        || !declared.contains_key(r.as_str())
                })
            })
        });
        let (i, result) = if let Some(at) = ready {
            let i = pending.remove(at);
            let Some(op) = ops.get(i) else { continue };
            let result = if duplicate.contains(&i) {
                Err(ScimError::invalid_value(
                    format!("Operations[{i}].bulkId"),
                    "is used by an earlier operation",
                ))
            } else if let Some(r) = op.refs.iter().find(|r| !created.contains_key(*r)) {
                Err(unresolved(r, declared.contains_key(r.as_str())))
            } else {
                execute(call, op, &created).await
            };
            (i, result)
        } else {
            // Everything left waits on something else left: a cycle, or a chain into one.
            let i = pending.remove(0);
            let r = ops
                .get(i)
                .and_then(|op| op.refs.iter().find(|r| !created.contains_key(*r)))
                .cloned()
                .unwrap_or_default();
            let err = ScimError::other(
                StatusCode::CONFLICT,
                None,
                format_args!(
                    "circular bulkId reference: bulkId:{r} cannot be resolved before this operation runs"
                ),
            );
            (i, Err(err))
        };
        let Some(op) = ops.get(i) else { continue };
        let outcome = report(call, op, result, &mut created, &mut failed);
        if outcome.get("response").is_some() {
            errors += 1;
        }
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
    }
    outcomes
}

fn unresolved(r: &str, declared: bool) -> ScimError {
    let detail = if declared {
        format!("bulkId:{r} cannot be resolved: the operation creating it failed")
    } else {
        format!("bulkId:{r} cannot be resolved: no operation in this request has bulkId {r}")
    };
    ScimError::other(StatusCode::CONFLICT, None, detail)
}

/// The operation's `path` with `bulkId:` segments replaced by the ids created for them.
fn resolved_path(op: &Operation, created: &HashMap<String, String>) -> String {
    op.path
        .split('/')
        .map(|seg| {
            seg.strip_prefix("bulkId:")
                .and_then(|r| created.get(r))
                .map_or(seg, String::as_str)
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs one operation through the same handlers as a request of its own.
async fn execute(
    call: &Call<'_>,
    op: &Operation,
    created: &HashMap<String, String>,
) -> Result<Reply, ScimError> {
    let method = op.method.clone()?;
    let path = resolved_path(op, created);
    let route = Route::parse(&path).ok_or_else(|| {
        ScimError::invalid_value(
            "path",
            format_args!("`{}` is not a User or Group endpoint", path.escape_debug()),
        )
    })?;
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
    let data = match (&op.data, &method) {
        (Some(d), _) => {
            let mut d = d.clone();
            substitute(&mut d, created);
            serde_json::to_vec(&d)?
        }
        (None, &Method::DELETE) => Vec::new(),
        (None, _) => {
            return Err(ScimError::invalid_syntax(format_args!(
                "a bulk {method} operation needs `data`"
            )));
        }
    };
    match (&route, &method) {
        (Route::Collection(KindTag::User), &Method::POST) => {
            resources::create::<User>(&sub, &data).await
        }
        (Route::Collection(KindTag::Group), &Method::POST) => {
            resources::create::<Group>(&sub, &data).await
        }
        (Route::Item(KindTag::User, id), m) if m != Method::POST => {
            resources::item::<User>(&sub, m, id, &data).await
        }
        (Route::Item(KindTag::Group, id), m) if m != Method::POST => {
            resources::item::<Group>(&sub, m, id, &data).await
        }
        _ => Err(ScimError::invalid_value(
            "path",
            format_args!(
                "{method} is not possible on `{}` in a bulk request",
                path.escape_debug()
            ),
        )),
    }
}

/// The `BulkResponse` entry of one operation; records the id it created under its `bulkId`.
fn report(
    call: &Call<'_>,
    op: &Operation,
    result: Result<Reply, ScimError>,
    created: &mut HashMap<String, String>,
    failed: &mut HashSet<String>,
) -> Value {
    let mut out = Map::new();
    let method = op
        .method
        .as_ref()
        .map_or_else(|_| String::new(), |m| m.as_str().to_owned());
    out.insert("method".to_owned(), Value::String(method));
    if let Some(b) = &op.bulk_id {
        out.insert("bulkId".to_owned(), Value::String(b.clone()));
    }
    match result {
        Ok(reply) => {
            let header = |name| {
                reply
                    .headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            };
            let location = header(LOCATION)
                .or_else(|| {
                    reply
                        .body
                        .as_ref()
                        .and_then(|b| b.pointer("/meta/location"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .or_else(|| {
                    // DELETE: no body; the location is the path that was deleted.
                    let path = resolved_path(op, created);
                    (!path.is_empty()).then(|| format!("{}{path}", call.base_url))
                });
            if let Some(l) = location {
                out.insert("location".to_owned(), Value::String(l));
            }
            if let Some(v) = header(ETAG) {
                out.insert("version".to_owned(), Value::String(v));
            }
            out.insert(
                "status".to_owned(),
                Value::String(reply.status.as_str().to_owned()),
            );
            let id = reply
                .body
                .as_ref()
                .and_then(|b| b.get("id"))
                .and_then(Value::as_str);
            if let (Some(b), Some(id)) = (&op.bulk_id, id) {
                created.entry(b.clone()).or_insert_with(|| id.to_owned());
            }
        }
        Err(e) => {
            if let Some(b) = &op.bulk_id {
                failed.insert(b.clone());
            }
            let reply = error_reply(&e, call.version);
            out.insert(
                "status".to_owned(),
                Value::String(reply.status.as_str().to_owned()),
            );
            if let Some(body) = reply.body {
                out.insert("response".to_owned(), body);
            }
        }
    }
    Value::Object(out)
}
