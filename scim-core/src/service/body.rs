//! Request bodies: media type, JSON syntax, `schemas`, and decoding into typed resources.

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::kind::Kind;
use crate::error::ScimError;
use crate::json::get_ci;
use crate::provision::ScimVersion;
use crate::schema::Schema;
use crate::scim1;

/// Requests with a body must be JSON: `application/scim+json` or `application/json`, with any
/// parameters (`charset=utf-8`). A body without `Content-Type` is accepted, because several
/// identity providers omit it; anything else is 415.
pub(crate) fn check_content_type(headers: &HeaderMap, body: &[u8]) -> Result<(), ScimError> {
    if body.is_empty() {
        return Ok(());
    }
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if essence.eq_ignore_ascii_case("application/scim+json")
        || essence.eq_ignore_ascii_case("application/json")
    {
        Ok(())
    } else {
        Err(ScimError::other(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            format_args!(
                "unsupported Content-Type `{}`: send application/scim+json or application/json",
                String::from_utf8_lossy(value.as_bytes()).escape_debug()
            ),
        ))
    }
}

/// Parses the body as JSON; a syntax error is `invalidSyntax` with its line and column.
pub(crate) fn json(body: &[u8]) -> Result<Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format_args!("malformed JSON: {e}")))
}

/// Decodes a User or Group body (`POST`, `PUT`) written in `version`: an object whose
/// `schemas` (if given) names only the resource type's core schema and its extensions, and
/// whose required attribute is present.
pub(crate) fn resource<T: Kind>(
    body: &[u8],
    version: ScimVersion,
    registered: &[Schema],
) -> Result<T, ScimError> {
    let value = json(body)?;
    resource_value(value, version, registered)
}

/// [`resource`] from an already parsed value (a `/Bulk` operation's `data`).
pub(crate) fn resource_value<T: Kind>(
    value: Value,
    version: ScimVersion,
    registered: &[Schema],
) -> Result<T, ScimError> {
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(format_args!(
            "a {} must be a JSON object",
            T::NAME
        )));
    }
    let value = match version {
        ScimVersion::V1_1 => scim1::resource_to_v2(value, Some(T::V1)),
        _ => value,
    };
    check_schemas::<T>(&value, registered)?;
    let resource: T = T::deserialize(&value).map_err(ScimError::from)?;
    resource.check_required()?;
    Ok(resource)
}

/// Every URN in `schemas` must be one this resource type has: its core schema, a built-in
/// extension, or one `registered` with the service's builder.
fn check_schemas<T: Kind>(value: &Value, registered: &[Schema]) -> Result<(), ScimError> {
    let Some(schemas) = value.as_object().and_then(|o| get_ci(o, "schemas")) else {
        return Ok(());
    };
    let urns: Vec<&str> = match schemas {
        Value::Null => return Ok(()),
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    ScimError::invalid_value("schemas", "must be an array of schema URNs")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ScimError::invalid_value(
                "schemas",
                "must be an array of schema URNs",
            ));
        }
    };
    for urn in urns {
        let known = urn.eq_ignore_ascii_case(T::CORE)
            || T::EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(urn))
            || registered.iter().any(|s| s.id.eq_ignore_ascii_case(urn));
        if !known {
            return Err(ScimError::invalid_value(
                "schemas",
                format_args!(
                    "`{}` is not a schema of the {} resource type (expected {}{})",
                    urn.escape_debug(),
                    T::NAME,
                    T::CORE,
                    T::EXTENSIONS
                        .iter()
                        .copied()
                        .chain(registered.iter().map(|s| s.id.as_str()))
                        .fold(String::new(), |acc, e| acc + " or " + e)
                ),
            ));
        }
    }
    Ok(())
}
