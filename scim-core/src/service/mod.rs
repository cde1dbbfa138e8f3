//! The SCIM HTTP service, independent of any server or runtime: [`ScimService::handle`] takes
//! an `http::Request` and returns an `http::Response`, so any server (hyper, axum, actix, a
//! Lambda handler) can serve SCIM with a few lines of glue.
//!
//! One request: authenticate ([`Authenticator`]; the principal's tenant scopes everything) →
//! route (RFC 7644 §3.2, under a SCIM 2.0 and a SCIM 1.1 base path) → check method, size and
//! media type → parse the query (`filter`, `startIndex`, `count`, `sortBy`, `sortOrder`,
//! `attributes`, `excludedAttributes`) or body → preconditions (`If-Match`,
//! `If-None-Match`) → [`Provisioner`] → `meta.location`, projection, 1.1 conversion → response
//! with `application/scim+json`, `ETag` and `Location`. Every failure is a SCIM error body
//! (RFC 7644 §3.12, or the SCIM 1.1 `Errors` form under the 1.1 base path).
//!
//! Decisions worth knowing:
//!
//! - Discovery endpoints (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`) need
//!   authentication like everything else: the configuration describes a tenant's service, and
//!   one rule is easier to reason about than two. A `filter` on them is 403, as RFC 7644 §4 says.
//! - `count` above `max_results` is cut to `max_results` (the RFC lets a provider return
//!   fewer); no `count` means `max_results`.
//! - A query parameter given twice is 400 `invalidValue`: which one was meant is unknowable.
//! - `schemas` in a User or Group body may name only that type's core schema and its
//!   extensions (the enterprise User extension); anything else is 400 `invalidValue`, so a
//!   custom extension URN (Okta's custom attributes, say) is refused rather than silently kept.
//!   Attributes under an unlisted `urn:` key are kept as the resource types keep them.
//! - SCIM 1.1 (under `base_path_v1`): the same endpoints (`/ServiceProviderConfigs` too),
//!   bodies converted with [`crate::scim1`] on the way in and out, PATCH bodies as 1.1 partial
//!   resources, errors as `{"Errors": [...]}`. In `sortBy`, `attributes` and
//!   `excludedAttributes`, 1.1 URN prefixes are translated to 2.0; a `filter` is read as 2.0
//!   (its syntax is the same; only 1.1 URN-qualified names in it are not translated).
//! - `/Bulk` refuses circular `bulkId` references with a 409 for the whole request (see
//!   [`bulk`'s documentation](crate::bulk)); otherwise each operation is served as the same
//!   request on its own would be, and one that is invalid fails alone.
//! - `HEAD` is not served (405); servers that want it can answer `HEAD` with a `GET` minus
//!   the body.
//! - `/Me` is 501: a bearer token identifies a client application, not a user.

mod auth;
mod body;
mod bulk;
mod discovery;
mod kind;
mod query;
mod rendered;
mod resources;
mod response;
mod route;
mod search;
mod served;

pub use auth::{Authenticator, BearerTokens, Principal};

use std::future::Future as _;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::error::ScimError;
use crate::provision::{Provisioner, RequestContext, ScimVersion};
use crate::resource::{Group, User};
use crate::schema::Schema;
use kind::KindTag;
use query::Params;
use rendered::RenderedBodies;
use response::{Reply, error_reply};
use route::Route;

/// Default `max_results`: the most resources one list response holds.
pub const DEFAULT_MAX_RESULTS: u64 = 1000;
/// Default `max_payload_size`: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD_SIZE: usize = 1024 * 1024;
/// Default `max_bulk_operations`.
pub const DEFAULT_MAX_BULK_OPERATIONS: usize = 1000;
/// Default `response_cache_bytes`: 16 MiB.
pub const DEFAULT_RESPONSE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A transport-agnostic SCIM 2.0 (and 1.1) service over a [`Provisioner`].
///
/// Cheap to clone (an `Arc` inside); share one per process.
///
/// ```
/// use std::sync::Arc;
/// use scim_core::{BearerTokens, ScimService};
/// use scim_core::provision::InMemoryProvisioner;
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
///
/// let service = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
///     .authenticator(Arc::new(BearerTokens::new().with_token("s3cr3t", "acme")))
///     .public_url("https://scim.example.com")
///     .build();
///
/// // In a server: turn its request into an `http::Request<impl AsRef<[u8]>>`, and back.
/// let request = http::Request::post("/scim/v2/Users")
///     .header("Authorization", "Bearer s3cr3t")
///     .header("Content-Type", "application/scim+json")
///     .body(r#"{"userName": "bjensen"}"#)
///     .unwrap();
/// let response = block_on(service.handle(request));
/// assert_eq!(response.status(), http::StatusCode::CREATED);
/// let location = response.headers()["Location"].to_str().unwrap();
/// assert!(location.starts_with("https://scim.example.com/scim/v2/Users/"));
/// ```
#[derive(Clone)]
pub struct ScimService {
    inner: Arc<Inner>,
}

/// The configuration shared by every request.
pub(crate) struct Inner {
    provisioner: Arc<dyn Provisioner>,
    authenticator: Option<Arc<dyn Authenticator>>,
    base_v2: String,
    base_v1: String,
    public_url: Option<String>,
    max_results: u64,
    max_payload_size: usize,
    max_bulk_operations: usize,
    /// Extension schemas registered beyond the enterprise User extension.
    user_extensions: Vec<Schema>,
    group_extensions: Vec<Schema>,
    /// Bodies of plain `GET`s, reused while the provisioner serves the same shared resource.
    rendered_users: RenderedBodies<User>,
    rendered_groups: RenderedBodies<Group>,
    rendered_budget: usize,
}

impl Inner {
    /// The configuration, without the provisioner and authenticator (which may hold secrets).
    fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("base_path_v2", &self.base_v2)
            .field("base_path_v1", &self.base_v1)
            .field("public_url", &self.public_url)
            .field("authenticator", &self.authenticator.is_some())
            .field("max_results", &self.max_results)
            .field("max_payload_size", &self.max_payload_size)
            .field("max_bulk_operations", &self.max_bulk_operations)
            .field("response_cache_bytes", &self.rendered_budget)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ScimService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug("ScimService", f)
    }
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug("ServiceBuilder", f)
    }
}

/// Configures a [`ScimService`]; from [`ScimService::builder`].
#[must_use]
pub struct ServiceBuilder {
    inner: Inner,
}

impl ServiceBuilder {
    /// How requests are authenticated. Without one, every request is 401: a service is never
    /// open by accident.
    pub fn authenticator(mut self, a: Arc<dyn Authenticator>) -> Self {
        self.inner.authenticator = Some(a);
        self
    }

    /// The SCIM 2.0 base path (default `/scim/v2`).
    pub fn base_path_v2(mut self, p: impl Into<String>) -> Self {
        self.inner.base_v2 = route::normalize_base(&p.into());
        self
    }

    /// The SCIM 1.1 base path (default `/scim/v1`).
    pub fn base_path_v1(mut self, p: impl Into<String>) -> Self {
        self.inner.base_v1 = route::normalize_base(&p.into());
        self
    }

    /// The public origin, e.g. `https://scim.example.com`, for `Location` and `meta.location`.
    /// Without it they are built from the request's `Host` header, with `http`. Set it behind
    /// a proxy or TLS terminator.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.inner.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The most resources one list response holds (default 1000; at least 1).
    pub fn max_results(mut self, n: u64) -> Self {
        self.inner.max_results = n.max(1);
        self
    }

    /// The largest request body accepted, in bytes (default 1 MiB); larger is 413.
    pub fn max_payload_size(mut self, bytes: usize) -> Self {
        self.inner.max_payload_size = bytes;
        self
    }

    /// The most operations one `/Bulk` request may hold (default 1000); more is 413.
    pub fn max_bulk_operations(mut self, n: usize) -> Self {
        self.inner.max_bulk_operations = n;
        self
    }

    /// The most bytes of `GET` response bodies kept for reuse, counting with each body the
    /// resource it was written from (default 16 MiB, half for users and half for groups; 0
    /// keeps none).
    ///
    /// Only resources the provisioner shares are kept (see [`Provisioner::get_user_shared`]:
    /// the in-memory provisioner does, a database-backed one by default does not), and a body is
    /// reused only while the provisioner still serves that very resource, so a changed
    /// resource is never answered from an old body. Plain `GET`s only: with `attributes`,
    /// `excludedAttributes` or under SCIM 1.1 the body is always written afresh.
    pub fn response_cache_bytes(mut self, bytes: usize) -> Self {
        self.inner.rendered_budget = bytes;
        self.inner.rendered_users = RenderedBodies::new(bytes / 2);
        self.inner.rendered_groups = RenderedBodies::new(bytes / 2);
        self
    }

    /// Serves `schema` as an extension of the User resource type: requests may name it in
    /// `schemas`, `/ResourceTypes/User` lists it and `/Schemas` serves it. Without it, an
    /// unknown URN in `schemas` is 400 `invalidValue`. Registering the URN of a built-in
    /// schema again replaces nothing and is ignored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use scim_core::provision::InMemoryProvisioner;
    /// use scim_core::{Schema, ScimService};
    ///
    /// let okta: Schema = serde_json::from_value(serde_json::json!({
    ///     "id": "urn:okta:custom:user:1.0",
    ///     "name": "OktaCustomUser",
    ///     "attributes": []
    /// }))
    /// .unwrap();
    /// let service = ScimService::builder(Arc::new(InMemoryProvisioner::new()))
    ///     .user_extension(okta)
    ///     .build();
    /// # let _ = service;
    /// ```
    pub fn user_extension(mut self, schema: Schema) -> Self {
        if !is_builtin_schema(&schema.id) {
            self.inner.user_extensions.push(schema);
        }
        self
    }

    /// Serves `schema` as an extension of the Group resource type; see
    /// [`ServiceBuilder::user_extension`].
    pub fn group_extension(mut self, schema: Schema) -> Self {
        if !is_builtin_schema(&schema.id) {
            self.inner.group_extensions.push(schema);
        }
        self
    }

    /// The service.
    pub fn build(self) -> ScimService {
        ScimService {
            inner: Arc::new(self.inner),
        }
    }
}

impl ScimService {
    /// A builder serving `provisioner`.
    pub fn builder(provisioner: Arc<dyn Provisioner>) -> ServiceBuilder {
        ServiceBuilder {
            inner: Inner {
                provisioner,
                authenticator: None,
                base_v2: "/scim/v2".to_owned(),
                base_v1: "/scim/v1".to_owned(),
                public_url: None,
                max_results: DEFAULT_MAX_RESULTS,
                max_payload_size: DEFAULT_MAX_PAYLOAD_SIZE,
                max_bulk_operations: DEFAULT_MAX_BULK_OPERATIONS,
                user_extensions: Vec::new(),
                group_extensions: Vec::new(),
                rendered_users: RenderedBodies::new(DEFAULT_RESPONSE_CACHE_BYTES / 2),
                rendered_groups: RenderedBodies::new(DEFAULT_RESPONSE_CACHE_BYTES / 2),
                rendered_budget: DEFAULT_RESPONSE_CACHE_BYTES,
            },
        }
    }

    /// The largest body [`handle`](Self::handle) accepts: a server should stop reading a body
    /// beyond this (and may answer 413 itself) rather than buffer it.
    pub fn max_payload_size(&self) -> usize {
        self.inner.max_payload_size
    }

    /// `err` as the response [`handle`](Self::handle) would give for a request to `path`: the
    /// SCIM 1.1 `Errors` form under the 1.1 base path, RFC 7644 §3.12 elsewhere. For
    /// transports that refuse a request before it reaches `handle` (a body too large).
    #[cfg(feature = "tower")]
    pub(crate) fn error_response(&self, path: &str, err: &ScimError) -> Response<bytes::Bytes> {
        let inner = &*self.inner;
        let version = route::split_base(path, &inner.base_v2, &inner.base_v1)
            .map_or(ScimVersion::V2, |(v, _)| v);
        error_reply(err, version).into_response()
    }

    /// Serves one request. Never panics, never fails: every problem is a SCIM error response.
    pub async fn handle<B: AsRef<[u8]>>(&self, request: Request<B>) -> Response<Vec<u8>> {
        let (parts, body) = request.into_parts();
        let id = request_id(&parts.headers);
        self.respond(&parts, body.as_ref(), id).await.map(Vec::from)
    }

    /// [`handle`](Self::handle) from the request's parts, with the body as `Bytes`: a body
    /// kept for reuse is shared, not copied (the tower service's path, which keeps the parts
    /// and has settled the request's id already).
    pub(crate) async fn respond(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        request_id: Option<&str>,
    ) -> Response<bytes::Bytes> {
        let inner = &*self.inner;
        let based = route::split_base(parts.uri.path(), &inner.base_v2, &inner.base_v1);
        let version = based.map_or(ScimVersion::V2, |(v, _)| v);
        let mut serving = std::pin::pin!(inner.serve(parts, body, based, request_id));
        // A panicking provisioner or authenticator must not take the connection (or, without a
        // runtime that isolates tasks, the server) down with it: it becomes a 500.
        let outcome = std::future::poll_fn(|cx| {
            match std::panic::catch_unwind(AssertUnwindSafe(|| serving.as_mut().poll(cx))) {
                Ok(poll) => poll,
                Err(_) => Poll::Ready(Err(ScimError::other(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal error while serving the request",
                ))),
            }
        })
        .await;
        let reply = match outcome {
            Ok(reply) => reply,
            Err(e) => error_reply(&e, version),
        };
        reply.into_response()
    }
}

/// One authenticated request in progress.
pub(crate) struct Call<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) version: ScimVersion,
    /// The absolute URL of the base path, e.g. `https://scim.example.com/scim/v2`.
    pub(crate) base_url: String,
    pub(crate) ctx: RequestContext,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) params: Params,
}

impl Call<'_> {
    pub(crate) fn provisioner(&self) -> &dyn Provisioner {
        &*self.inner.provisioner
    }
}

impl Inner {
    async fn serve(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        based: Option<(ScimVersion, &str)>,
        request_id: Option<&str>,
    ) -> Result<Reply, ScimError> {
        let principal = match &self.authenticator {
            Some(a) => a.authenticate(parts).await?,
            None => {
                return Err(auth::unauthorized(
                    "authentication required (this service has no credentials configured)",
                ));
            }
        };
        let not_found = || {
            ScimError::other(
                StatusCode::NOT_FOUND,
                None,
                format_args!("no SCIM endpoint at {}", parts.uri.path()),
            )
        };
        let (version, rest) = based.ok_or_else(not_found)?;
        let route = Route::parse(rest).ok_or_else(not_found)?;
        let allowed = route.allowed();
        if !allowed.contains(&parts.method) {
            let allow = route::allow_header(allowed);
            let err = ScimError::other(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                format_args!("{} is not allowed here; allowed: {allow}", parts.method),
            );
            return Ok(error_reply(&err, version).header(http::header::ALLOW, allow));
        }
        if body.len() > self.max_payload_size {
            return Err(ScimError::payload_too_large(format_args!(
                "the request body has {} bytes; at most {} are accepted",
                body.len(),
                self.max_payload_size
            )));
        }
        body::check_content_type(&parts.headers, body)?;

        let (tenant, name) = principal.into_parts();
        let ctx = RequestContext::for_request(tenant, name, version, request_id);
        let base = match version {
            ScimVersion::V1_1 => &self.base_v1,
            _ => &self.base_v2,
        };
        let mut base_url = self.origin(parts);
        base_url.push_str(base);
        let call = Call {
            inner: self,
            version,
            base_url,
            ctx,
            headers: &parts.headers,
            params: Params::parse(parts.uri.query(), version),
        };
        dispatch(&call, &route, &parts.method, body).await
    }

    /// `https://host` for building absolute URLs: the configured public URL, else the request's
    /// own authority (absolute-form URI or `Host`), else nothing (URLs stay relative).
    fn origin(&self, parts: &http::request::Parts) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let url = |authority: &str| {
            // Room for the base path the caller appends.
            let mut url = String::with_capacity(scheme.len() + authority.len() + 16);
            url.push_str(scheme);
            url.push_str("://");
            url.push_str(authority);
            url
        };
        if parts.uri.authority().is_none() {
            // The usual `Host` (a name and maybe a port) needs no parser and no copy.
            if let Some(host) = parts.headers.get(http::header::HOST) {
                if let Some(plain) = plain_host(host.as_bytes()) {
                    return url(plain);
                }
            }
        }
        let authority = parts.uri.authority().cloned().or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
        });
        match authority {
            // A Host with userinfo is not one a client legitimately sends.
            Some(a) if !a.as_str().contains('@') => url(a.as_str()),
            _ => String::new(),
        }
    }
}

/// `host` when it is a plain `name[:port]`: letters, digits, `.` and `-`, then at most five
/// digits of port. Anything else (an IP literal, userinfo, odd characters) is left to
/// `http`'s authority parser.
fn plain_host(host: &[u8]) -> Option<&str> {
    let (name, port) = match host.iter().position(|&b| b == b':') {
        Some(colon) => (host.get(..colon)?, host.get(colon + 1..)?),
        None => (host, &[][..]),
    };
    let name_ok = !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = host.len() == name.len()
        || (!port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit));
    if name_ok && port_ok {
        std::str::from_utf8(host).ok()
    } else {
        None
    }
}

/// The header carrying a request's id, as a constant so lookups need not parse the name.
pub(crate) const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// `X-Request-Id`, if it is short printable text (it goes into logs).
pub(crate) fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(X_REQUEST_ID).and_then(valid_request_id)
}

/// The id in an `X-Request-Id` value, trimmed, if it is short printable text.
pub(crate) fn valid_request_id(value: &http::HeaderValue) -> Option<&str> {
    let v = value.to_str().ok()?.trim();
    (!v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic())).then_some(v)
}

async fn dispatch(
    call: &Call<'_>,
    route: &Route<'_>,
    method: &Method,
    body: &[u8],
) -> Result<Reply, ScimError> {
    // Every route but a plain `GET` of one resource runs boxed, so that this future (and the
    // service's, which holds it) is the size of that `GET`'s: the future is moved on its way to
    // the runtime, each move a copy (3.3 KB with every route inline, see `resources::item`).
    match route {
        Route::Collection(k) => match (*k, method.clone()) {
            (KindTag::User, Method::POST) => Box::pin(resources::create::<User>(call, body)).await,
            (KindTag::Group, Method::POST) => {
                Box::pin(resources::create::<Group>(call, body)).await
            }
            (KindTag::User, _) => Box::pin(search::list::<User>(call)).await,
            (KindTag::Group, _) => Box::pin(search::list::<Group>(call)).await,
        },
        Route::Item(k, id) => match k {
            KindTag::User => resources::item::<User>(call, method, id, body).await,
            KindTag::Group => resources::item::<Group>(call, method, id, body).await,
        },
        Route::TypeSearch(KindTag::User) => Box::pin(search::search::<User>(call, body)).await,
        Route::TypeSearch(KindTag::Group) => Box::pin(search::search::<Group>(call, body)).await,
        Route::Root => Box::pin(search::root_list(call)).await,
        Route::RootSearch => Box::pin(search::root_search(call, body)).await,
        Route::Bulk => Box::pin(bulk::bulk(call, body)).await,
        Route::Me => Err(ScimError::other(
            StatusCode::NOT_IMPLEMENTED,
            None,
            "/Me is not implemented: a bearer token identifies a client, not a user",
        )),
        Route::ServiceProviderConfig => discovery::service_provider_config(call),
        Route::ResourceTypes => discovery::resource_types(call),
        Route::ResourceType(name) => discovery::resource_type(call, name),
        Route::Schemas => discovery::schemas(call),
        Route::Schema(urn) => discovery::schema(call, urn),
    }
}

fn is_builtin_schema(urn: &str) -> bool {
    crate::schema::SchemaRegistry::builtin().get(urn).is_some()
}

#[cfg(test)]
mod tests {
    use super::plain_host;

    #[test]
    fn only_plain_names_and_ports_skip_the_authority_parser() {
        for plain in [
            "scim.test",
            "scim.test:8080",
            "127.0.0.1:39303",
            "a-b.example.com:1",
        ] {
            assert_eq!(plain_host(plain.as_bytes()), Some(plain));
        }
        for other in [
            "",
            ":80",
            "host:",
            "host:123456",
            "host:80:90",
            "host:8o",
            "evil@host",
            "[::1]:80",
            "ho st",
            "host/path",
            "h\u{e9}te",
        ] {
            assert_eq!(plain_host(other.as_bytes()), None, "{other:?}");
        }
    }
}
