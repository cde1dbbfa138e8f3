//! [`ReqwestClient`]: the [`HttpClient`] for applications without one of their own (feature
//! `reqwest`, rustls, no native TLS).

use std::time::Duration;

use async_trait::async_trait;
use scim_core::{HttpClient, HttpError};

/// The largest response body read: Jira's pages stay far below it, and a bound keeps a
/// misbehaving server from exhausting memory.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// An [`HttpClient`] on `reqwest` with rustls and the webpki roots, needing a tokio runtime.
///
/// Redirects are not followed (an answer from another host is not Jira's, and the request
/// carries credentials); response bodies above 16 MiB are refused; errors never include the
/// URL's query or any header.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// A client timing out each request after `timeout` (connecting included).
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HttpError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(ReqwestClient { client })
    }

    /// Wraps a `reqwest::Client` configured by the application (proxy, roots, pool).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient { client }
    }
}

fn map_error(err: &reqwest::Error, host: &str) -> HttpError {
    // The top-level message holds the URL, whose query names users: only the host and the
    // causes are kept.
    let text = format!("{host}: {}", source_chain(err));
    if err.is_timeout() {
        HttpError::Timeout(text)
    } else if err.is_connect() {
        HttpError::Connect(text)
    } else {
        HttpError::Other(text)
    }
}

fn source_chain(err: &reqwest::Error) -> String {
    let mut text = String::from("request failed");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let host = request.uri().host().unwrap_or("(no host)").to_owned();
        let request = reqwest::Request::try_from(request).map_err(|e| {
            HttpError::Other(format!("{host}: invalid request: {}", source_chain(&e)))
        })?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| map_error(&e, &host))?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err(HttpError::Other(format!(
                "{host}: response body larger than {MAX_BODY} bytes"
            )));
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(
                response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| map_error(&e, &host))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::Other(format!(
                    "{host}: response body larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| HttpError::Other(format!("{host}: {e}")))
    }
}
