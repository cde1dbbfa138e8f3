//! [`ScimSource`]: any SCIM 2.0 server, read over the workspace's [`HttpClient`].

use std::sync::Arc;

use async_trait::async_trait;
use scim_core::{ErrorBody, Group, HttpClient, ListResponse, User};
use scim_filter::Filter;
use serde::de::DeserializeOwned;

use super::{Cursor, DirectorySource, SourcePage};
use crate::SyncError;

/// How many resources a [`ScimSource`] asks for per page by default.
const SCIM_PAGE: u64 = 200;

/// A SCIM 2.0 server as a source: `GET /Users` and `GET /Groups` with `startIndex` and `count`
/// until `totalResults` is reached, a bearer token, and optional filters.
///
/// The token goes into the `Authorization` header only; it is not in `Debug` output or errors.
#[derive(Clone)]
pub struct ScimSource {
    client: Arc<dyn HttpClient>,
    base_url: String,
    token: Option<String>,
    user_filter: Option<Filter>,
    group_filter: Option<Filter>,
    page_size: u64,
}

impl std::fmt::Debug for ScimSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimSource")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "user_filter",
                &self.user_filter.as_ref().map(ToString::to_string),
            )
            .field(
                "group_filter",
                &self.group_filter.as_ref().map(ToString::to_string),
            )
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ScimSource {
    /// A source at `base_url` (e.g. `https://idp.example.com/scim/v2`, with or without a
    /// trailing slash), sending requests through `client`.
    pub fn new(client: Arc<dyn HttpClient>, base_url: impl Into<String>) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        ScimSource {
            client,
            base_url,
            token: None,
            user_filter: None,
            group_filter: None,
            page_size: SCIM_PAGE,
        }
    }

    /// Authenticates with `Authorization: Bearer <token>`.
    #[must_use]
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Reads only the users matching `filter`.
    #[must_use]
    pub fn with_user_filter(mut self, filter: Filter) -> Self {
        self.user_filter = Some(filter);
        self
    }

    /// Reads only the groups matching `filter`.
    #[must_use]
    pub fn with_group_filter(mut self, filter: Filter) -> Self {
        self.group_filter = Some(filter);
        self
    }

    /// Asks for `count` resources per page (at least 1); servers may send fewer.
    #[must_use]
    pub fn with_page_size(mut self, count: u64) -> Self {
        self.page_size = count.max(1);
        self
    }

    async fn page<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        filter: Option<&Filter>,
        cursor: Option<Cursor>,
    ) -> Result<SourcePage<T>, SyncError> {
        let start: u64 = match &cursor {
            None => 1,
            Some(c) => c.as_str().parse().map_err(|_| SyncError::Source {
                url: format!("{}/{endpoint}", self.base_url),
                message: format!("not a startIndex cursor: `{}`", c.as_str()),
            })?,
        };
        let mut url = format!(
            "{}/{endpoint}?startIndex={start}&count={}",
            self.base_url, self.page_size
        );
        if let Some(filter) = filter {
            url.push_str("&filter=");
            url.extend(url::form_urlencoded::byte_serialize(
                filter.to_string().as_bytes(),
            ));
        }
        let mut request =
            http::Request::get(&url).header(http::header::ACCEPT, "application/scim+json");
        if let Some(token) = &self.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Vec::new()).map_err(|e| SyncError::Source {
            url: url.clone(),
            message: format!("cannot build the request: {e}"),
        })?;
        let response = self.client.send(request).await?;
        let status = response.status();
        if !status.is_success() {
            let detail = serde_json::from_slice::<ErrorBody>(response.body())
                .ok()
                .and_then(|b| b.detail)
                .unwrap_or_default();
            return Err(SyncError::Source {
                url,
                message: format!("status {status}: {detail}"),
            });
        }
        let list: ListResponse<T> =
            serde_json::from_slice(response.body()).map_err(|e| SyncError::Source {
                url: url.clone(),
                message: format!("not a SCIM ListResponse: {e}"),
            })?;
        let got = list.resources.len() as u64;
        // A server that returns an empty page before totalResults would loop forever: stop.
        let next_start = start.saturating_add(got);
        let next = (got > 0 && next_start <= list.total_results)
            .then(|| Cursor::new(next_start.to_string()));
        Ok((list.resources, next))
    }
}

#[async_trait]
impl DirectorySource for ScimSource {
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError> {
        self.page("Users", self.user_filter.as_ref(), cursor).await
    }

    async fn groups_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<Group>, SyncError> {
        self.page("Groups", self.group_filter.as_ref(), cursor)
            .await
    }
}
