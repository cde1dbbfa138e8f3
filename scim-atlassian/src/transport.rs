//! [`Transport`]: how every Data Center client (Jira, Crowd, Bitbucket, Confluence) sends its
//! calls, and [`Connection`], the options every target's builder shares.
//!
//! The typed clients differ only in their API root, their error body ([`ErrorReader`]) and
//! which of their calls may be repeated ([`Retry`]); building requests, retrying on
//! 429/503/timeouts with the [`RetryPolicy`] and telling the [`CallObserver`] live here once.
//!
//! The Cloud provisioner sends through [`Link`] too, the retrying and observing part of this
//! module, but not through [`Transport`]: Cloud speaks SCIM (its own URL building with
//! percent-encoded ids, `application/scim+json` headers) and passes Cloud's errors on as
//! [`ScimError`](scim_core::ScimError)s rather than [`AtlassianError`]s, so it builds its own
//! requests and reads its own errors.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use scim_core::{HttpClient, HttpError};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AtlassianError;
use scim_provisioning::{CallObserver, CallRecord};
use scim_provisioning::{RetryPolicy, Sleeper, ThreadSleeper};

/// A query string's pairs (a name may repeat).
pub(crate) type Query<'a> = &'a [(&'a str, &'a str)];

/// Reads a product's error response into an error naming the call.
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

impl Retry {
    /// The rule for products whose only non-idempotent calls are `POST`s (Jira, Crowd).
    fn by_method(method: &Method) -> Self {
        if method == Method::POST {
            Retry::Once
        } else {
            Retry::Idempotent
        }
    }
}

/// How calls reach a product: the [`HttpClient`], retries, and who is told of each call.
/// One for every target, so a setting means the same whatever the product.
#[derive(Clone)]
pub(crate) struct Connection {
    pub(crate) client: Option<Arc<dyn HttpClient>>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) retry: RetryPolicy,
    pub(crate) observer: Option<Arc<dyn CallObserver>>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            client: None,
            sleeper: Arc::new(ThreadSleeper),
            retry: RetryPolicy::default(),
            observer: None,
        }
    }
}

/// A client with the retry and observer settings of a [`Connection`]: sends one call,
/// retrying it as its [`Retry`] rule allows, and tells the observer of every attempt.
#[derive(Clone)]
pub(crate) struct Link {
    http: Arc<dyn HttpClient>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
}

impl Link {
    /// The link over `connection`'s client; fails when there is none.
    pub(crate) fn new(connection: &Connection) -> Result<Self, AtlassianError> {
        Ok(Link {
            http: connection
                .client
                .clone()
                .ok_or(AtlassianError::MissingClient)?,
            sleeper: connection.sleeper.clone(),
            retry: connection.retry,
            observer: connection.observer.clone(),
        })
    }

    /// The retry settings.
    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends the request `request` builds (again for each attempt) until a 2xx answer, an
    /// error that may not be retried under `rule`, or the [`RetryPolicy`] gives up. 429 and
    /// 503 are retried (after `Retry-After` when sent) and timeouts too for an idempotent
    /// call; a failed connect always, since it never reached the product. The observer
    /// records each attempt as `observed`; `status_error` and `transport_error` say what a
    /// failed answer or transport failure becomes.
    pub(crate) async fn send<E>(
        &self,
        observed: &str,
        rule: Retry,
        mut request: impl FnMut() -> Result<Request<Vec<u8>>, E>,
        status_error: impl Fn(&Response<Vec<u8>>) -> E,
        transport_error: impl Fn(HttpError) -> E,
    ) -> Result<Response<Vec<u8>>, E> {
        let idempotent = rule == Retry::Idempotent;
        let mut attempt = 0;
        loop {
            let request = request()?;
            let started = std::time::Instant::now();
            let outcome = self.http.send(request).await;
            if let Some(observer) = &self.observer {
                observer.on_call(&CallRecord::new(
                    observed,
                    outcome.as_ref().ok().map(|r| r.status().as_u16()),
                    attempt,
                    started.elapsed(),
                ));
            }
            let (err, retry_after, retryable) = match outcome {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let retryable = idempotent
                        && matches!(
                            resp.status(),
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        );
                    (status_error(&resp), retry_after(&resp), retryable)
                }
                Err(e) => {
                    // A failed connect never reached the product, so even a POST may go again.
                    let retryable = match &e {
                        HttpError::Connect(_) => true,
                        HttpError::Timeout(_) => idempotent,
                        _ => false,
                    };
                    (transport_error(e), None, retryable)
                }
            };
            if !retryable {
                return Err(err);
            }
            match self.retry.delay(attempt, retry_after) {
                Some(wait) => {
                    self.sleeper.sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(err),
            }
        }
    }
}

/// Sends calls under one REST root (`{base}/rest/api/2`, `{base}/rest/usermanagement/1`),
/// retrying idempotent ones on 429/503/timeouts, and turns error answers into
/// [`AtlassianError`]s naming the product and the call.
#[derive(Clone)]
pub(crate) struct Transport {
    product: &'static str,
    api: String,
    auth: HeaderValue,
    link: Link,
    read_error: ErrorReader,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("product", &self.product)
            .field("api", &self.api)
            .field("retry", self.link.retry())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// `root` is the REST API's path under the base URL (`/rest/api/2`).
    pub(crate) fn new(
        product: &'static str,
        base_url: &str,
        root: &str,
        auth: HeaderValue,
        connection: &Connection,
    ) -> Result<Self, AtlassianError> {
        let link = Link::new(connection)?;
        let parsed = base_url_of(base_url, base_url, "http(s)://host[/context]")?;
        let base = parsed.as_str().trim_end_matches('/');
        Ok(Transport {
            product,
            api: format!("{base}{root}"),
            auth,
            link,
            read_error: status_error,
        })
    }

    /// Reads error answers with `read_error` instead of the Jira/Crowd/Confluence reader.
    pub(crate) fn with_error_reader(mut self, read_error: ErrorReader) -> Self {
        self.read_error = read_error;
        self
    }

    /// The name errors give a call: `Jira GET /user`.
    pub(crate) fn call_name(&self, method: &Method, path: &str) -> String {
        format!("{} {method} {path}", self.product)
    }

    fn request(
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
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| AtlassianError::Decode {
                call: self.call_name(method, route),
                detail: e.to_string(),
            })?,
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
        builder.body(bytes).map_err(|e| AtlassianError::Decode {
            call: self.call_name(method, route),
            detail: format!("cannot build the request: {e}"),
        })
    }

    /// Sends a call, retrying it unless it is a `POST` (which creates: a retry after a lost
    /// response could create twice), and returns a 2xx response or the error.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
    ) -> Result<Response<Vec<u8>>, AtlassianError> {
        let retry = Retry::by_method(&method);
        self.call_with(method, path, query, body, retry).await
    }

    /// [`Transport::call`] with the retry rule given by the caller.
    pub(crate) async fn call_with(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Response<Vec<u8>>, AtlassianError> {
        self.call_as(path, method, path, query, body, retry).await
    }

    /// Sends a call, retrying per `retry`. Errors and observer records name it by `route`,
    /// which differs from `path` when the path carries personal data
    /// (`/users/{slug}/settings`).
    pub(crate) async fn call_as(
        &self,
        route: &str,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Response<Vec<u8>>, AtlassianError> {
        let name = self.call_name(&method, route);
        self.link
            .send(
                &format!("{method} {route}"),
                retry,
                || self.request(&method, route, path, query, body),
                |resp| (self.read_error)(&name, resp),
                |source| AtlassianError::Transport {
                    call: name.clone(),
                    source,
                },
            )
            .await
    }

    /// [`Transport::call`] for calls whose answer says nothing more than its status.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
    ) -> Result<(), AtlassianError> {
        self.call(method, path, query, body).await.map(drop)
    }

    /// [`Transport::call`], then the body decoded as `T`.
    pub(crate) async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
    ) -> Result<T, AtlassianError> {
        let retry = Retry::by_method(&method);
        self.call_json_with(method, path, query, body, retry).await
    }

    /// [`Transport::call_with`], then the body decoded as `T`.
    pub(crate) async fn call_json_with<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<T, AtlassianError> {
        let name = self.call_name(&method, path);
        let resp = self.call_with(method, path, query, body, retry).await?;
        decode(name, &resp)
    }
}

/// The body of a successful answer to call `name`, decoded as `T`.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    name: String,
    resp: &Response<Vec<u8>>,
) -> Result<T, AtlassianError> {
    serde_json::from_slice(resp.body()).map_err(|e| AtlassianError::Decode {
        call: name,
        detail: e.to_string(),
    })
}

/// `text` parsed as the base URL of an API: absolute `http(s)`, no query. Errors show the
/// URL as `shown` (what was configured) and, when it is not such a URL, what was `expected`.
pub(crate) fn base_url_of(
    text: &str,
    shown: &str,
    expected: &str,
) -> Result<url::Url, AtlassianError> {
    let parsed = url::Url::parse(text)
        .map_err(|e| AtlassianError::InvalidBaseUrl(format!("{shown}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.query().is_some()
        || parsed.cannot_be_a_base()
    {
        return Err(AtlassianError::InvalidBaseUrl(format!(
            "{shown}: expected {expected}"
        )));
    }
    Ok(parsed)
}

/// `Ok(None)` for a 404.
pub(crate) fn not_found_is_none<T>(
    r: Result<T, AtlassianError>,
) -> Result<Option<T>, AtlassianError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Retry-After` in seconds (\[V\]; the HTTP-date form is not used by Atlassian products).
fn retry_after(resp: &Response<Vec<u8>>) -> Option<Duration> {
    let value = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Reads an error body into an error naming the call. Jira and Bitbucket send
/// `{"errorMessages": [...], "errors": {...}}`; Crowd `{"reason": "USER_NOT_FOUND",
/// "message": "..."}` \[K\]; Confluence `{"statusCode", "message"}`. The reason, when there is
/// one, counts as a field, so callers can tell causes apart without parsing prose.
fn status_error(call: &str, resp: &Response<Vec<u8>>) -> AtlassianError {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        error_messages: Vec<String>,
        #[serde(default)]
        errors: serde_json::Map<String, Value>,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    let body: Body = serde_json::from_slice(resp.body()).unwrap_or_default();
    let mut parts: Vec<String> = body.error_messages;
    let mut fields = Vec::new();
    for (field, msg) in &body.errors {
        let text = msg.as_str().map_or_else(|| msg.to_string(), str::to_owned);
        parts.push(format!("{field}: {text}"));
        fields.push(field.clone());
    }
    if let Some(message) = body.message {
        parts.push(message);
    }
    if let Some(reason) = body.reason {
        fields.push(reason);
    }
    status_error_from(call, resp, &parts, fields)
}

/// The [`AtlassianError::Status`] for the error answer `resp` to `call`: the messages read
/// from its body joined (the status's reason when there are none) and the field names.
pub(crate) fn status_error_from(
    call: &str,
    resp: &Response<Vec<u8>>,
    parts: &[String],
    fields: Vec<String>,
) -> AtlassianError {
    let message = if parts.is_empty() {
        resp.status()
            .canonical_reason()
            .unwrap_or("no error message")
            .to_owned()
    } else {
        parts.join("; ")
    };
    AtlassianError::Status {
        call: call.to_owned(),
        status: resp.status().as_u16(),
        message,
        fields,
    }
}
