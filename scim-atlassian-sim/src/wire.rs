//! What the simulators' wire code has in common: reading query parameters, the paging window
//! a request asks for, and answering injected faults. The bodies stay with each product:
//! their shapes differ (`startAt/maxResults`, `start/limit`, `start-index/max-results`) and
//! are pinned by the simulator and provisioner tests.

use std::collections::HashMap;

use http::{Response, StatusCode};
use scim_core::HttpError;

use super::Fault;
use scim_provisioning::Credentials;

/// A request's query parameters; a repeated one keeps its last value.
pub(crate) fn query_last_wins(uri: &http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A request's query parameters; a repeated one keeps its first value, as a servlet's
/// `getParameter` does.
pub(crate) fn query_first_wins(uri: &http::Uri) -> HashMap<String, String> {
    let mut query = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        query
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    query
}

/// Parameter `name` as a count, `default` when absent or not a number.
pub(crate) fn number(query: &HashMap<String, String>, name: &str, default: usize) -> usize {
    query
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The slice of a listing a request asks for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// The index of the first item (0-based).
    pub(crate) start: usize,
    /// How many items at most.
    pub(crate) limit: usize,
}

impl Window {
    /// The window in `start_key` (default 0) and `limit_key` (default `default`, at most
    /// `cap`).
    pub(crate) fn read(
        query: &HashMap<String, String>,
        start_key: &str,
        limit_key: &str,
        default: usize,
        cap: usize,
    ) -> Self {
        Self {
            start: number(query, start_key, 0),
            limit: number(query, limit_key, default).min(cap),
        }
    }

    /// The items inside the window.
    pub(crate) fn take<T>(self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.start)
            .take(self.limit)
            .collect()
    }

    /// Whether a page of `size` items out of `total` ends the listing.
    pub(crate) fn is_last(self, size: usize, total: usize) -> bool {
        self.start.saturating_add(size) >= total
    }
}

/// Which `X-RateLimit-*` headers a 429 carries besides `Retry-After`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RateHeaders {
    /// `Retry-After` only (Crowd, Cloud).
    RetryAfter,
    /// Also `X-RateLimit-Limit/-Remaining/-Interval-Seconds/-FillRate`, as the Data Center
    /// rate limiter of Jira and Bitbucket sends.
    DataCenter,
}

/// The answer to an injected fault: a timeout as the transport error, any other fault as
/// `error(status, fault)`, the product's error body; a 429 gets its rate-limit headers.
pub(crate) fn fault_reply(
    fault: &Fault,
    headers: RateHeaders,
    error: impl FnOnce(StatusCode, &Fault) -> Response<Vec<u8>>,
) -> Result<Response<Vec<u8>>, HttpError> {
    let status = match fault {
        Fault::Timeout => return Err(HttpError::Timeout("simulated timeout".to_owned())),
        Fault::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Fault::Status(code) => {
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    let mut r = error(status, fault);
    if let Fault::RateLimited { retry_after } = fault {
        let mut pairs = vec![("retry-after", retry_after.to_string())];
        if matches!(headers, RateHeaders::DataCenter) {
            pairs.extend([
                ("x-ratelimit-limit", "10".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-interval-seconds", "1".to_owned()),
                ("x-ratelimit-fillrate", "1".to_owned()),
            ]);
        }
        let h = r.headers_mut();
        for (name, value) in pairs {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    Ok(r)
}

/// Crowd's error body, `{"reason": ..., "message": ...}` \[K\]: Crowd's own and that of the
/// Crowd API embedded in Jira.
pub(crate) fn crowd_error(status: StatusCode, reason: &str, message: &str) -> Response<Vec<u8>> {
    super::respond(
        status,
        &serde_json::json!({"reason": reason, "message": message}),
    )
}

/// Whether `request` carries the `Authorization` the simulator was set up with.
pub(crate) fn authorized(request: &http::Request<Vec<u8>>, credentials: &Credentials) -> bool {
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|h| credentials.matches_header(h.as_bytes()))
}
