//! [`AtlassianError`]: what can go wrong talking to an Atlassian product, and how it reads as a
//! SCIM error.

use http::StatusCode;
use scim_core::{HttpError, ScimError};

/// A failed call to an Atlassian product, or a configuration mistake.
///
/// Messages name the product and call (`Jira POST /user`, `Bitbucket POST /admin/users`) and
/// the product's own error message; they never carry a credential (requests' headers are not
/// part of any message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AtlassianError {
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("invalid base URL: {0}")]
    InvalidBaseUrl(String),
    /// No [`HttpClient`](scim_core::HttpClient) was configured.
    #[error("no HttpClient configured: pass one to the builder's `client`")]
    MissingClient,
    /// A builder setting is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The [`SyncPolicy`](crate::policy::SyncPolicy) cannot work.
    #[error(transparent)]
    Policy(#[from] scim_provisioning::policy::PolicyError),
    /// The credentials cannot be sent in an HTTP header (control characters).
    #[error("the credentials contain characters an Authorization header cannot carry")]
    InvalidCredentials,
    /// The product answered with an error status.
    #[error("{call} answered {status}: {message}")]
    Status {
        /// The product and call, `{product} METHOD /path` (`Bitbucket DELETE /admin/groups`;
        /// the path relative to the REST API root, without the query).
        call: String,
        /// The HTTP status.
        status: u16,
        /// The product's messages (`errorMessages` and `errors`, or `message`) joined, or a note
        /// that the body had none.
        message: String,
        /// The field names of `errors` (`username`, `email`), or Crowd's `reason`
        /// (`USER_NOT_FOUND`), to tell causes apart.
        fields: Vec<String>,
    },
    /// No response (timeout, connection refused), after any retries.
    #[error("{call}: {source}")]
    Transport {
        /// The call.
        call: String,
        /// What the HTTP client reported.
        #[source]
        source: HttpError,
    },
    /// A response that is not what the API documents.
    #[error("{call}: unexpected response: {detail}")]
    Decode {
        /// The call.
        call: String,
        /// What did not fit.
        detail: String,
    },
}

impl AtlassianError {
    /// The HTTP status the product answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AtlassianError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the product's `errors` object names `field`.
    pub fn has_field(&self, field: &str) -> bool {
        matches!(self, AtlassianError::Status { fields, .. } if fields.iter().any(|f| f.eq_ignore_ascii_case(field)))
    }

    /// Whether the product's messages contain `text` (ignoring ASCII case).
    pub(crate) fn mentions(&self, text: &str) -> bool {
        matches!(self, AtlassianError::Status { message, .. } if message.to_ascii_lowercase().contains(&text.to_ascii_lowercase()))
    }
}

impl From<AtlassianError> for ScimError {
    /// A SCIM error whose status says whose fault it is: the product's refusals of the request
    /// (400, 403, 404, 409) keep their status; our own credentials being refused (401), the
    /// product failing (5xx) or not answering become 502/503/504, since the SCIM client can do
    /// nothing about them.
    fn from(err: AtlassianError) -> Self {
        let status = match &err {
            AtlassianError::InvalidBaseUrl(_)
            | AtlassianError::MissingClient
            | AtlassianError::InvalidConfig(_)
            | AtlassianError::Policy(_)
            | AtlassianError::InvalidCredentials => StatusCode::INTERNAL_SERVER_ERROR,
            AtlassianError::Status { status, .. } => match *status {
                400 | 403 | 404 | 409 | 429 => {
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
                }
                503 => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            AtlassianError::Transport { source, .. } => match source {
                HttpError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
            AtlassianError::Decode { .. } => StatusCode::BAD_GATEWAY,
        };
        ScimError::other(status, None, err)
    }
}
