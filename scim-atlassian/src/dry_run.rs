//! [`DryRunClient`]: an [`HttpClient`] wrapper that computes what a provisioner would change
//! without writing: reads reach the product, writes are held back, logged and answered with
//! a plausible success. Target-agnostic: it works under any provisioner of this crate, which
//! then runs its whole logic (policy included) against the product's real state.
//!
//! How writes are answered, so the provisioner carries on as if they had been made:
//! - `DELETE`: 204.
//! - `POST`: 201 with the request's JSON body, plus `id` and `key` (the identifier fields the
//!   Atlassian APIs answer with) set to `dry-run-N` when absent.
//! - `PUT` and `PATCH`: the resource at the same URL, read from the product, with a `PUT`'s
//!   JSON fields laid over it (a `PATCH` answers it unchanged); the request's body when that
//!   read fails.
//! - Reads naming an identifier the dry run made up (`dry-run-N`, in the path or the query)
//!   are answered with what that `POST` was answered with, since the product has no such
//!   resource.
//!
//! Limits: later steps of one operation see the product as it is, not as the held-back writes
//! would have left it (a group created in the dry run reads as missing to the next lookup),
//! so the list of would-be calls can differ slightly from a real run's.
//!
//! Each held-back write is also reported to the [`RecordingProvisioner`](crate::history::RecordingProvisioner)
//! operation that made it, whose history entry then has the outcome
//! [`Outcome::DryRun`](crate::history::Outcome::DryRun).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use http::{Method, Request, Response, StatusCode};
use scim_core::{HttpClient, HttpError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The prefix of identifiers a dry run makes up for resources it pretends to create.
pub const DRY_RUN_ID_PREFIX: &str = "dry-run-";

/// The longest body summary kept for a held-back write.
const SUMMARY_MAX: usize = 200;

/// The field never shown in a summary (Jira's and Cloud's `password`, Crowd's `password.value`).
const SECRET_FIELD: &str = "password";

/// A write a dry run held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HeldBackCall {
    /// The HTTP method.
    pub method: String,
    /// The path with its query, relative to the host (`/rest/api/2/user?key=JIRAUSER10000`).
    pub path: String,
    /// The JSON body, compacted and cut to 200 characters, passwords masked; empty without one.
    pub body: String,
}

impl std::fmt::Display for HeldBackCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if !self.body.is_empty() {
            write!(f, " {}", self.body)?;
        }
        Ok(())
    }
}

/// An [`HttpClient`] that passes reads to `inner` and holds writes back (see the module docs).
///
/// ```
/// use std::sync::Arc;
/// use scim_atlassian::dry_run::DryRunClient;
/// use scim_atlassian::simulator::JiraSimulator;
/// use scim_atlassian::Credentials;
///
/// let jira = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
/// let dry = Arc::new(DryRunClient::new(jira.clone()));
/// // Give `dry` to a provisioner's builder as its client, or use `.dry_run(true)`.
/// assert!(dry.held_back().is_empty());
/// ```
pub struct DryRunClient {
    inner: Arc<dyn HttpClient>,
    next_id: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    held_back: Vec<HeldBackCall>,
    /// Made-up id -> the body its `POST` was answered with.
    made_up: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for DryRunClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DryRunClient")
            .field("held_back", &self.lock().held_back.len())
            .finish_non_exhaustive()
    }
}

impl DryRunClient {
    /// Reads go to `inner`; writes never do.
    pub fn new(inner: Arc<dyn HttpClient>) -> Self {
        DryRunClient {
            inner,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every write held back so far, in order.
    pub fn held_back(&self) -> Vec<HeldBackCall> {
        self.lock().held_back.clone()
    }

    /// The answer to a read naming a made-up id, if it names one.
    fn made_up_read(&self, uri: &http::Uri) -> Option<Vec<u8>> {
        let target = uri.path_and_query().map_or("", |p| p.as_str());
        if !target.contains(DRY_RUN_ID_PREFIX) {
            return None;
        }
        let state = self.lock();
        state
            .made_up
            .iter()
            .find(|(id, _)| mentions(target, id))
            .map(|(_, body)| body.clone())
    }

    /// The product's resource at the write's URL, read with the write's headers (its
    /// credentials), or what the dry run made up there.
    async fn current(&self, parts: &http::request::Parts) -> Option<Value> {
        if let Some(bytes) = self.made_up_read(&parts.uri) {
            return serde_json::from_slice(&bytes).ok();
        }
        let mut get = Request::get(parts.uri.clone()).body(Vec::new()).ok()?;
        for (name, value) in &parts.headers {
            if name != http::header::CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
                get.headers_mut().append(name.clone(), value.clone());
            }
        }
        let resp = self.inner.send(get).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        serde_json::from_slice(resp.body()).ok()
    }

    /// A plausible success for a write that is not sent.
    async fn answer_write(
        &self,
        parts: &http::request::Parts,
        body: Option<Value>,
    ) -> Response<Vec<u8>> {
        match parts.method {
            Method::DELETE => response(StatusCode::NO_CONTENT, Vec::new()),
            Method::POST => {
                let Some(Value::Object(mut obj)) = body else {
                    return response(StatusCode::CREATED, Vec::new());
                };
                let id = format!(
                    "{DRY_RUN_ID_PREFIX}{}",
                    self.next_id.fetch_add(1, Ordering::Relaxed)
                );
                for field in ["id", "key"] {
                    obj.entry(field).or_insert_with(|| Value::from(id.as_str()));
                }
                let bytes = serde_json::to_vec(&Value::Object(obj)).unwrap_or_default();
                self.lock().made_up.insert(id, bytes.clone());
                response(StatusCode::CREATED, bytes)
            }
            _ => {
                let answer = match (self.current(parts).await, body) {
                    (Some(Value::Object(mut current)), Some(Value::Object(new)))
                        if parts.method == Method::PUT =>
                    {
                        current.extend(new);
                        Value::Object(current)
                    }
                    (Some(current), _) => current,
                    (None, Some(body)) => body,
                    (None, None) => return response(StatusCode::NO_CONTENT, Vec::new()),
                };
                response(
                    StatusCode::OK,
                    serde_json::to_vec(&answer).unwrap_or_default(),
                )
            }
        }
    }
}

#[async_trait]
impl HttpClient for DryRunClient {
    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, HttpError> {
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            if let Some(bytes) = self.made_up_read(request.uri()) {
                return Ok(response(StatusCode::OK, bytes));
            }
            return self.inner.send(request).await;
        }
        let (parts, bytes) = request.into_parts();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let call = HeldBackCall {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
            body: body.as_ref().map(summary).unwrap_or_default(),
        };
        scim_provisioning::history::note_held_back(&call);
        self.lock().held_back.push(call);
        Ok(self.answer_write(&parts, body).await)
    }
}

/// `client`, wrapped in a [`DryRunClient`] when `dry_run` is on (the builders' option).
pub(crate) fn maybe(client: Arc<dyn HttpClient>, dry_run: bool) -> Arc<dyn HttpClient> {
    if dry_run {
        Arc::new(DryRunClient::new(client))
    } else {
        client
    }
}

/// Whether `target` names `id` as a whole path segment or query value (so `dry-run-1` is not
/// found in `dry-run-12`).
fn mentions(target: &str, id: &str) -> bool {
    target.split(['/', '?', '&', '=']).any(|part| part == id)
}

fn response(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if !resp.body().is_empty() {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    resp
}

/// The body as compact JSON, secrets masked, cut to [`SUMMARY_MAX`] characters.
fn summary(body: &Value) -> String {
    fn mask(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k.eq_ignore_ascii_case(SECRET_FIELD) {
                        *v = Value::from("***");
                    } else {
                        mask(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut masked = body.clone();
    mask(&mut masked);
    let text = masked.to_string();
    if text.chars().count() <= SUMMARY_MAX {
        return text;
    }
    let cut: String = text.chars().take(SUMMARY_MAX).collect();
    format!("{cut}...")
}
