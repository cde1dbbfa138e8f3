//! [`RestTransport`]: one product REST API root reached through an [`HttpClient`], with the
//! retry, observer and error plumbing every typed client needs.
//!
//! The typed clients differ only in their API root, their error body and which of their calls
//! are idempotent; everything else (building the request, retrying on 429/503/timeouts with the
//! [`RetryPolicy`], telling the [`CallObserver`]) lives here once. The Bitbucket client uses it;
//! the Jira client predates it and can move onto it by passing its `status_error` as the
//! [`ErrorReader`] and [`Retry::Once`] for its `POST`s (its current rule).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use scim_core::{HttpClient, HttpError};
use serde_json::Value;

use crate::error::AtlassianError;
use crate::observe::{CallObserver, CallRecord};
use crate::retry::{RetryPolicy, Sleeper};

/// A query string's pairs (a name may repeat).
pub(crate) type Query<'a> = &'a [(&'a str, &'a str)];

/// Reads a product's error response into an error naming the call (`METHOD /path`).
pub(crate) type ErrorReader = fn(&str, &Response<Vec<u8>>) -> AtlassianError;

/// Whether a call may be sent again after a lost or throttled attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Sending it twice has the effect of sending it once (reads, sets, removals).
    Idempotent,
    /// A second copy could act twice (creates, renames): retried only when the first never
    /// reached the product (a failed connect).
    Once,
}

/// One REST API root (`{base}/rest/api/1.0`) and how to reach it.
#[derive(Clone)]
pub(crate) struct RestTransport {
    api: String,
    auth: HeaderValue,
    http: Arc<dyn HttpClient>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
    read_error: ErrorReader,
}

impl std::fmt::Debug for RestTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestTransport")
            .field("api", &self.api)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What a [`RestTransport`] is built from.
pub(crate) struct TransportConfig {
    pub(crate) auth: HeaderValue,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) retry: RetryPolicy,
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
}

impl RestTransport {
    /// `base_url` (scheme, host and context path) joined with `api_root` (`/rest/api/1.0`).
    pub(crate) fn new(
        base_url: &str,
        api_root: &str,
        config: TransportConfig,
        read_error: ErrorReader,
    ) -> Result<Self, AtlassianError> {
        let parsed = url::Url::parse(base_url)
            .map_err(|e| AtlassianError::InvalidBaseUrl(format!("{base_url}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.cannot_be_a_base()
        {
            return Err(AtlassianError::InvalidBaseUrl(format!(
                "{base_url}: expected http(s)://host[/context]"
            )));
        }
        let base = parsed.as_str().trim_end_matches('/');
        Ok(RestTransport {
            api: format!("{base}{api_root}"),
            auth: config.auth,
            http: config.http,
            sleeper: config.sleeper,
            retry: config.retry,
            observer: config.observer,
            read_error,
        })
    }

    fn build(
        &self,
        method: &Method,
        route: &str,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
    ) -> Result<Request<Vec<u8>>, AtlassianError> {
        let mut uri = format!("{}{path}", self.api);
        if !query.is_empty() {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            uri.push('?');
            uri.push_str(&q.finish());
        }
        let decode = |detail: String| AtlassianError::Decode {
            call: format!("{method} {route}"),
            detail,
        };
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| decode(e.to_string()))?,
            None => Vec::new(),
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(bytes)
            .map_err(|e| decode(format!("cannot build the request: {e}")))
    }

    /// Sends a call, retrying per `retry`, and returns a 2xx response or the error.
    ///
    /// `path` names the call in errors and observer records, so it must not carry personal
    /// data: put names in `query` or `body`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Response<Vec<u8>>, AtlassianError> {
        self.call_as(path, method, path, query, body, retry).await
    }

    /// [`RestTransport::call`] for a `path` that carries personal data (a user slug): errors
    /// and observer records name the call by `route` (`/users/{slug}/settings`) instead.
    pub(crate) async fn call_as(
        &self,
        route: &str,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Response<Vec<u8>>, AtlassianError> {
        let name = format!("{method} {route}");
        let idempotent = retry == Retry::Idempotent;
        let mut attempt = 0;
        loop {
            let request = self.build(&method, route, path, query, body)?;
            let started = std::time::Instant::now();
            let outcome = self.http.send(request).await;
            if let Some(observer) = &self.observer {
                observer.on_call(&CallRecord {
                    call: name.clone(),
                    status: outcome.as_ref().ok().map(|r| r.status().as_u16()),
                    attempt,
                    elapsed: started.elapsed(),
                });
            }
            let (err, wait_hint, retryable) = match outcome {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let throttled = matches!(
                        resp.status(),
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    );
                    let hint = retry_after(&resp);
                    (
                        (self.read_error)(&name, &resp),
                        hint,
                        idempotent && throttled,
                    )
                }
                Err(e) => {
                    // A failed connect never reached the product, so any call may go again.
                    let retryable = match &e {
                        HttpError::Connect(_) => true,
                        HttpError::Timeout(_) => idempotent,
                        _ => false,
                    };
                    let err = AtlassianError::Transport {
                        call: name.clone(),
                        source: e,
                    };
                    (err, None, retryable)
                }
            };
            if !retryable {
                return Err(err);
            }
            let Some(wait) = self.retry.delay(attempt, wait_hint) else {
                return Err(err);
            };
            self.sleeper.sleep(wait).await;
            attempt += 1;
        }
    }

    /// [`RestTransport::call`], decoding the response body as `T`.
    pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<T, AtlassianError> {
        let name = format!("{method} {path}");
        let resp = self.call(method, path, query, body, retry).await?;
        serde_json::from_slice(resp.body()).map_err(|e| AtlassianError::Decode {
            call: name,
            detail: e.to_string(),
        })
    }
}

/// `Retry-After` in seconds (\[V\]; Atlassian's products do not send the HTTP-date form).
fn retry_after(resp: &Response<Vec<u8>>) -> Option<Duration> {
    let value = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `Ok(None)` for a 404, so "not there" reads as an answer rather than a failure.
pub(crate) fn not_found_is_none<T>(
    r: Result<T, AtlassianError>,
) -> Result<Option<T>, AtlassianError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}
