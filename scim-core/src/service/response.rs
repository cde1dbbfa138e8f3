//! Responses: the internal [`Reply`], error bodies in either protocol version, and list bodies.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::error::ScimError;
use crate::messages::ErrorBody;
use crate::provision::ScimVersion;
use crate::scim1::{self, Scim1ErrorBody};

/// The media type of every body the service writes.
pub(crate) const SCIM_JSON: &str = "application/scim+json; charset=utf-8";

/// A response before it is written: status, extra headers, and a JSON body (if any).
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// Headers other than `Content-Type`, in the map the response will carry (so a `GET`
    /// builds one map, not a list and then the map).
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Value>,
    /// A body already written as JSON bytes (the typed fast path for `GET`, and bodies kept
    /// for reuse, which are shared rather than copied); wins over `body`.
    pub(crate) raw: Option<Bytes>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Some(body),
            raw: None,
        }
    }

    /// A reply whose JSON body is already serialised.
    pub(crate) fn raw_json(status: StatusCode, body: Bytes) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: None,
            raw: Some(body),
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: None,
            raw: None,
        }
    }

    /// Adds a header. A value that cannot be sent (a control character in an id a backend
    /// produced) is left out rather than failing the response.
    #[must_use]
    pub(crate) fn header(self, name: HeaderName, value: impl Into<String>) -> Reply {
        // From the `String` itself: checked, not copied.
        match HeaderValue::try_from(value.into()) {
            Ok(v) => self.header_value(name, v),
            Err(_) => self,
        }
    }

    /// Adds a header whose value is already made (one kept with a reused body).
    #[must_use]
    pub(crate) fn header_value(mut self, name: HeaderName, value: HeaderValue) -> Reply {
        self.headers.append(name, value);
        self
    }

    /// Writes the reply.
    pub(crate) fn into_response(self) -> Response<Bytes> {
        let has_body = self.body.is_some() || self.raw.is_some();
        let body = match (self.raw, &self.body) {
            (Some(raw), _) => raw,
            (None, Some(b)) => serde_json::to_vec(b).map(Bytes::from).unwrap_or_default(),
            (None, None) => Bytes::new(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let mut headers = self.headers;
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        *response.headers_mut() = headers;
        response
    }
}

/// The error body in the request's protocol version; a 304 has no body.
pub(crate) fn error_reply(err: &ScimError, version: ScimVersion) -> Reply {
    let status = err.status();
    if status == StatusCode::NOT_MODIFIED {
        return Reply::empty(status);
    }
    let body = err.to_body();
    let value = match version {
        ScimVersion::V1_1 => serde_json::to_value(Scim1ErrorBody::from(&body)),
        _ => serde_json::to_value(&body),
    }
    .unwrap_or_else(|_| fallback_error(&body));
    let mut reply = Reply::json(status, value);
    if status == StatusCode::UNAUTHORIZED {
        reply = reply.header(http::header::WWW_AUTHENTICATE, r#"Bearer realm="scim""#);
    }
    if let Some(secs) = err.retry_after_secs() {
        reply = reply.header(http::header::RETRY_AFTER, secs.to_string());
    }
    reply
}

fn fallback_error(body: &ErrorBody) -> Value {
    serde_json::json!({
        "schemas": [crate::urn::ERROR],
        "status": body.status,
        "detail": body.detail,
    })
}

/// A list response body from already rendered resources.
pub(crate) fn list_body(
    resources: Vec<Value>,
    total: u64,
    start_index: u64,
    version: ScimVersion,
) -> Value {
    let items = resources.len() as u64;
    let schema = match version {
        ScimVersion::V1_1 => scim1::CORE,
        _ => crate::urn::LIST_RESPONSE,
    };
    serde_json::json!({
        "schemas": [schema],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items,
        "Resources": Value::Array(resources),
    })
}
