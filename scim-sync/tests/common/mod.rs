//! Shared test fixtures: a SCIM server in process, reachable as an `HttpClient`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use scim_core::provision::InMemoryProvisioner;
use scim_core::{BearerTokens, HttpClient, HttpError, ScimService};

pub const TOKEN: &str = "source-token";
pub const TENANT: &str = "idp";

/// A `ScimService` answering requests in process.
pub struct ServiceClient(pub ScimService);

#[async_trait]
impl HttpClient for ServiceClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        Ok(self.0.handle(request).await)
    }
}

/// An identity provider: a SCIM server over its own in-memory directory (tenant [`TENANT`],
/// token [`TOKEN`]).
pub fn idp() -> (Arc<InMemoryProvisioner>, Arc<ServiceClient>) {
    let backend = Arc::new(InMemoryProvisioner::new());
    let tokens = BearerTokens::new().with_token(TOKEN, TENANT);
    let service = ScimService::builder(backend.clone())
        .authenticator(Arc::new(tokens))
        .build();
    (backend, Arc::new(ServiceClient(service)))
}
