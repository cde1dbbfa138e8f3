//! [`ScimError`]: every failure as the RFC 7644 §3.12 error it becomes on the wire.

use std::fmt;

use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::messages::ErrorBody;

/// The `scimType` of an error response (RFC 7644 §3.12, Table 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScimType {
    /// `invalidFilter`: the filter syntax is invalid or the filter is not supported.
    InvalidFilter,
    /// `tooMany`: the filter yields more results than the server will return.
    TooMany,
    /// `uniqueness`: a value conflicts with a unique attribute.
    Uniqueness,
    /// `mutability`: the change is incompatible with an attribute's mutability.
    Mutability,
    /// `invalidSyntax`: the request body is unparsable or violates the schema.
    InvalidSyntax,
    /// `invalidPath`: the PATCH `path` is invalid.
    InvalidPath,
    /// `noTarget`: the PATCH `path` matched nothing.
    NoTarget,
    /// `invalidValue`: a required value is missing or a value is not compatible.
    InvalidValue,
    /// `invalidVers`: the SCIM protocol version is not supported.
    InvalidVers,
    /// `sensitive`: the request cannot be completed because it carries sensitive information in
    /// the URI.
    Sensitive,
}

impl ScimType {
    /// Every value, in RFC order.
    pub const ALL: [ScimType; 10] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
    ];

    /// The wire form, e.g. `"invalidFilter"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// Parses the wire form, ignoring case.
    pub fn from_name(s: &str) -> Option<ScimType> {
        ScimType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ScimType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScimType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScimType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scimType (RFC 7644 §3.12)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScimType, E> {
                ScimType::from_name(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

crate::de::serde_scalar!(ScimType);

/// A SCIM error: knows its HTTP status, its `scimType` and a detail message naming the offending
/// attribute, path or position, and becomes the RFC 7644 §3.12 error body.
///
/// ```
/// use scim_core::{ScimError, ScimType};
///
/// let err = ScimError::uniqueness("userName", "bjensen");
/// assert_eq!(err.status(), http::StatusCode::CONFLICT);
/// assert_eq!(err.scim_type(), Some(ScimType::Uniqueness));
///
/// let body = serde_json::to_value(err.to_body()).unwrap();
/// assert_eq!(body["status"], "409");
/// assert_eq!(body["scimType"], "uniqueness");
/// assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
///
/// // Bad input never panics: it becomes a 400 naming the attribute.
/// let err = scim_core::from_str::<scim_core::User>(r#"{"userName": "x", "active": "maybe"}"#)
///     .unwrap_err();
/// assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
/// assert!(err.detail().contains("active"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScimError {
    /// 400 `invalidFilter`.
    #[error("invalid filter: {detail}")]
    InvalidFilter {
        /// What is wrong and where.
        detail: String,
    },
    /// 400 `invalidPath`.
    #[error("invalid path `{path}`: {detail}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong and where.
        detail: String,
    },
    /// 400 `invalidSyntax`: unparsable or structurally wrong request.
    #[error("{detail}")]
    InvalidSyntax {
        /// What is wrong and where.
        detail: String,
    },
    /// 400 `invalidValue`.
    #[error("attribute `{attribute}`: {detail}")]
    InvalidValue {
        /// The attribute path, e.g. `emails.primary`.
        attribute: String,
        /// Why the value is not acceptable.
        detail: String,
    },
    /// 409 `uniqueness`.
    #[error("attribute `{attribute}`: value \"{value}\" is already in use")]
    Uniqueness {
        /// The unique attribute.
        attribute: String,
        /// The conflicting value.
        value: String,
    },
    /// 400 `mutability`.
    #[error("attribute `{attribute}` {detail}")]
    Mutability {
        /// The attribute that cannot be changed.
        attribute: String,
        /// Why, e.g. "is readOnly".
        detail: String,
    },
    /// 400 `noTarget`.
    #[error("path `{path}` matched no attribute value")]
    NoTarget {
        /// The PATCH path.
        path: String,
    },
    /// 400 `tooMany`.
    #[error("{detail}")]
    TooMany {
        /// Why.
        detail: String,
    },
    /// 400 `invalidVers`.
    #[error("{detail}")]
    InvalidVers {
        /// Why.
        detail: String,
    },
    /// 403 `sensitive`.
    #[error("{detail}")]
    Sensitive {
        /// Why.
        detail: String,
    },
    /// 404.
    #[error("{resource} {id} not found")]
    NotFound {
        /// The resource type, e.g. `User`.
        resource: String,
        /// The id that was asked for.
        id: String,
    },
    /// 412: `If-Match` did not match the current version.
    #[error("{detail}")]
    PreconditionFailed {
        /// Why.
        detail: String,
    },
    /// 413.
    #[error("{detail}")]
    PayloadTooLarge {
        /// Why.
        detail: String,
    },
    /// 503 with `Retry-After`: a backend the service depends on is busy or down, and the
    /// client should try again after `retry_after_secs` (an identity provider then backs off
    /// for that long rather than for its own, often much longer, default).
    #[error("{detail}")]
    Unavailable {
        /// What failed (for a backend, the call that could not be completed).
        detail: String,
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Any other status and type, e.g. an error body received from a server.
    #[error("{detail}")]
    Other {
        /// The HTTP status.
        status: StatusCode,
        /// The `scimType`, if any.
        scim_type: Option<ScimType>,
        /// The message.
        detail: String,
    },
}

impl ScimError {
    /// `invalidValue` (400) for `attribute`, saying `why`.
    pub fn invalid_value(attribute: impl Into<String>, why: impl fmt::Display) -> Self {
        ScimError::InvalidValue {
            attribute: attribute.into(),
            detail: why.to_string(),
        }
    }

    /// `invalidSyntax` (400).
    pub fn invalid_syntax(detail: impl fmt::Display) -> Self {
        ScimError::InvalidSyntax {
            detail: detail.to_string(),
        }
    }

    /// `invalidFilter` (400).
    pub fn invalid_filter(detail: impl fmt::Display) -> Self {
        ScimError::InvalidFilter {
            detail: detail.to_string(),
        }
    }

    /// `invalidPath` (400) for the PATCH path `path`, e.g. from a
    /// [`scim_filter::ParseError`] raised while parsing it.
    pub fn invalid_path(path: impl Into<String>, why: impl fmt::Display) -> Self {
        ScimError::InvalidPath {
            path: path.into(),
            detail: why.to_string(),
        }
    }

    /// `uniqueness` (409): `value` of `attribute` is taken.
    pub fn uniqueness(attribute: impl Into<String>, value: impl Into<String>) -> Self {
        ScimError::Uniqueness {
            attribute: attribute.into(),
            value: value.into(),
        }
    }

    /// `mutability` (400): `attribute` cannot be changed.
    pub fn mutability(attribute: impl Into<String>) -> Self {
        ScimError::Mutability {
            attribute: attribute.into(),
            detail: "cannot be modified".to_owned(),
        }
    }

    /// `mutability` (400): `attribute` is readOnly.
    pub fn read_only(attribute: impl Into<String>) -> Self {
        ScimError::Mutability {
            attribute: attribute.into(),
            detail: "is readOnly".to_owned(),
        }
    }

    /// `noTarget` (400): `path` selected nothing.
    pub fn no_target(path: impl Into<String>) -> Self {
        ScimError::NoTarget { path: path.into() }
    }

    /// `tooMany` (400).
    pub fn too_many(detail: impl fmt::Display) -> Self {
        ScimError::TooMany {
            detail: detail.to_string(),
        }
    }

    /// `invalidVers` (400).
    pub fn invalid_version(detail: impl fmt::Display) -> Self {
        ScimError::InvalidVers {
            detail: detail.to_string(),
        }
    }

    /// `sensitive` (403).
    pub fn sensitive(detail: impl fmt::Display) -> Self {
        ScimError::Sensitive {
            detail: detail.to_string(),
        }
    }

    /// 404 for the resource type `resource` with id `id`.
    pub fn not_found(resource: impl Into<String>, id: impl Into<String>) -> Self {
        ScimError::NotFound {
            resource: resource.into(),
            id: id.into(),
        }
    }

    /// 412: the version in `If-Match` is not current.
    pub fn precondition_failed(detail: impl fmt::Display) -> Self {
        ScimError::PreconditionFailed {
            detail: detail.to_string(),
        }
    }

    /// 413.
    pub fn payload_too_large(detail: impl fmt::Display) -> Self {
        ScimError::PayloadTooLarge {
            detail: detail.to_string(),
        }
    }

    /// 503 with `Retry-After: retry_after_secs`, saying what was unavailable.
    pub fn unavailable(detail: impl fmt::Display, retry_after_secs: u64) -> Self {
        ScimError::Unavailable {
            detail: detail.to_string(),
            retry_after_secs,
        }
    }

    /// The `Retry-After` (seconds) the response should carry, for [`ScimError::Unavailable`].
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ScimError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// Any status, type and message.
    pub fn other(
        status: StatusCode,
        scim_type: Option<ScimType>,
        detail: impl fmt::Display,
    ) -> Self {
        ScimError::Other {
            status,
            scim_type,
            detail: detail.to_string(),
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ScimError::InvalidFilter { .. }
            | ScimError::InvalidPath { .. }
            | ScimError::InvalidSyntax { .. }
            | ScimError::InvalidValue { .. }
            | ScimError::Mutability { .. }
            | ScimError::NoTarget { .. }
            | ScimError::TooMany { .. }
            | ScimError::InvalidVers { .. } => StatusCode::BAD_REQUEST,
            ScimError::Uniqueness { .. } => StatusCode::CONFLICT,
            ScimError::Sensitive { .. } => StatusCode::FORBIDDEN,
            ScimError::NotFound { .. } => StatusCode::NOT_FOUND,
            ScimError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ScimError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ScimError::Other { status, .. } => *status,
        }
    }

    /// The `scimType`, when the RFC defines one for this error.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::InvalidFilter { .. } => Some(ScimType::InvalidFilter),
            ScimError::InvalidPath { .. } => Some(ScimType::InvalidPath),
            ScimError::InvalidSyntax { .. } => Some(ScimType::InvalidSyntax),
            ScimError::InvalidValue { .. } => Some(ScimType::InvalidValue),
            ScimError::Uniqueness { .. } => Some(ScimType::Uniqueness),
            ScimError::Mutability { .. } => Some(ScimType::Mutability),
            ScimError::NoTarget { .. } => Some(ScimType::NoTarget),
            ScimError::TooMany { .. } => Some(ScimType::TooMany),
            ScimError::InvalidVers { .. } => Some(ScimType::InvalidVers),
            ScimError::Sensitive { .. } => Some(ScimType::Sensitive),
            ScimError::NotFound { .. }
            | ScimError::PreconditionFailed { .. }
            | ScimError::PayloadTooLarge { .. }
            | ScimError::Unavailable { .. } => None,
            ScimError::Other { scim_type, .. } => *scim_type,
        }
    }

    /// The human-readable `detail` of the error body.
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// The RFC 7644 §3.12 error body.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            schemas: Vec::new(),
            status: self.status().as_str().to_owned(),
            scim_type: self.scim_type(),
            detail: Some(self.detail()),
            other: serde_json::Map::new(),
        }
    }

    /// A JSON decoding error inside the extension (or other container) `urn`: the attribute path
    /// in the detail is prefixed with it (`urn:...:User:manager.value`).
    pub(crate) fn from_json_in(e: &serde_json::Error, urn: &str) -> Self {
        let wrapped = crate::de::wrap_err(e, urn, ':');
        ScimError::from(wrapped)
    }
}

impl From<scim_filter::ParseError> for ScimError {
    /// `invalidFilter` (400) with the parse error's message (which names the position).
    fn from(e: scim_filter::ParseError) -> Self {
        ScimError::invalid_filter(e)
    }
}

impl From<serde_json::Error> for ScimError {
    /// Malformed JSON becomes `invalidSyntax`; a value of the wrong type or shape becomes
    /// `invalidValue` naming the attribute (or `invalidSyntax` when no attribute is involved).
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let msg = e.to_string();
        match e.classify() {
            Category::Data => match split_attribute(&msg) {
                Some((attribute, detail)) => ScimError::InvalidValue {
                    attribute: attribute.to_owned(),
                    detail: detail.to_owned(),
                },
                None => ScimError::InvalidSyntax { detail: msg },
            },
            Category::Io | Category::Syntax | Category::Eof => ScimError::InvalidSyntax {
                detail: format!("malformed JSON: {msg}"),
            },
        }
    }
}

impl From<&ScimError> for ErrorBody {
    fn from(e: &ScimError) -> Self {
        e.to_body()
    }
}

impl From<ScimError> for ErrorBody {
    fn from(e: ScimError) -> Self {
        e.to_body()
    }
}

impl From<ErrorBody> for ScimError {
    /// An error body received from a server, as [`ScimError::Other`].
    fn from(body: ErrorBody) -> Self {
        let status = body
            .status
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        ScimError::Other {
            status,
            scim_type: body.scim_type,
            detail: body.detail.unwrap_or_default(),
        }
    }
}

/// Splits "attribute `x`: rest" into ("x", "rest").
fn split_attribute(msg: &str) -> Option<(&str, &str)> {
    let rest = msg.strip_prefix("attribute `")?;
    let (attr, rest) = rest.split_once('`')?;
    Some((attr, rest.strip_prefix(": ").unwrap_or(rest)))
}

/// Deserialises `T` from JSON text, mapping failures to [`ScimError`] (400, never a panic).
pub fn from_str<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ScimError> {
    from_slice(json.as_bytes())
}

/// Deserialises `T` from JSON bytes, mapping failures to [`ScimError`] (400, never a panic).
pub fn from_slice<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, ScimError> {
    serde_json::from_slice(json).map_err(|e| classify(json, e))
}

/// A syntax error met inside a nested value comes back from the typed decoders as a data error
/// naming the attribute (they wrap it with `de::Error::custom`, which loses the category). On
/// this error path only, the input is scanned once more so that malformed JSON is reported as
/// `invalidSyntax` whatever the depth it broke at.
#[cold]
fn classify(json: &[u8], e: serde_json::Error) -> ScimError {
    if e.classify() == serde_json::error::Category::Data {
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(json) {
            return ScimError::from(syntax);
        }
    }
    ScimError::from(e)
}
