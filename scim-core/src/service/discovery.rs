//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.

use std::borrow::Cow;

use http::StatusCode;
use serde_json::{Value, json};

use super::Call;
use super::response::{Reply, list_body};
use super::route::encode_segment;
use crate::discovery::{
    AuthenticationScheme, BulkConfig, FilterConfig, ResourceType, SchemaExtensionRef,
    ServiceProviderConfig, Supported,
};
use crate::error::ScimError;
use crate::provision::{Capabilities, ScimVersion};
use crate::schema::{AttributeDef, Mutability, Schema, SchemaRegistry};
use crate::{scim1, urn};

/// RFC 7644 §4: a filter on a discovery endpoint is refused, so clients do not assume it was
/// applied.
fn refuse_filter(call: &Call<'_>) -> Result<(), ScimError> {
    if call.params.has("filter") {
        return Err(ScimError::other(
            StatusCode::FORBIDDEN,
            None,
            "discovery endpoints do not support filtering (RFC 7644 §4)",
        ));
    }
    Ok(())
}

fn with_meta(mut value: Value, resource_type: &str, location: &str) -> Value {
    if let Value::Object(obj) = &mut value {
        obj.insert(
            "meta".to_owned(),
            json!({"resourceType": resource_type, "location": location}),
        );
    }
    value
}

/// `GET /ServiceProviderConfig`: what this service actually does.
pub(crate) fn service_provider_config(call: &Call<'_>) -> Result<Reply, ScimError> {
    refuse_filter(call)?;
    let inner = call.inner;
    let config = ServiceProviderConfig {
        patch: Supported::new(true),
        bulk: BulkConfig {
            supported: true,
            max_operations: inner.max_bulk_operations as u64,
            max_payload_size: inner.max_payload_size as u64,
            ..BulkConfig::default()
        },
        filter: FilterConfig {
            supported: true,
            max_results: inner.max_results,
            ..FilterConfig::default()
        },
        change_password: Supported::new(call.provisioner().capabilities().change_password),
        sort: Supported::new(true),
        etag: Supported::new(true),
        authentication_schemes: vec![AuthenticationScheme {
            kind: "oauthbearertoken".to_owned(),
            name: "OAuth Bearer Token".to_owned(),
            description: "Authentication with a bearer token (RFC 6750)".to_owned(),
            spec_uri: Some("https://www.rfc-editor.org/rfc/rfc6750".to_owned()),
            primary: Some(true),
            ..AuthenticationScheme::default()
        }],
        ..ServiceProviderConfig::default()
    };
    let location = format!("{}/ServiceProviderConfig", call.base_url);
    let mut value = with_meta(
        serde_json::to_value(&config)?,
        "ServiceProviderConfig",
        &location,
    );
    if call.version == ScimVersion::V1_1 {
        if let Value::Object(obj) = &mut value {
            obj.insert("schemas".to_owned(), json!([scim1::CORE]));
        }
    }
    Ok(Reply::json(StatusCode::OK, value))
}

fn resource_type_docs(call: &Call<'_>) -> Result<Vec<(String, Value)>, ScimError> {
    let user = ResourceType {
        id: Some("User".to_owned()),
        name: "User".to_owned(),
        description: Some("User Account".to_owned()),
        endpoint: "/Users".to_owned(),
        schema: urn::USER.to_owned(),
        schema_extensions: enterprise_kept(&call.provisioner().capabilities())
            .then_some(urn::ENTERPRISE_USER)
            .into_iter()
            .chain(call.inner.user_extensions.iter().map(|s| s.id.as_str()))
            .map(optional_extension)
            .collect(),
        ..ResourceType::default()
    };
    let group = ResourceType {
        id: Some("Group".to_owned()),
        name: "Group".to_owned(),
        description: Some("Group".to_owned()),
        endpoint: "/Groups".to_owned(),
        schema: urn::GROUP.to_owned(),
        schema_extensions: call
            .inner
            .group_extensions
            .iter()
            .map(|s| optional_extension(&s.id))
            .collect(),
        ..ResourceType::default()
    };
    [user, group]
        .into_iter()
        .map(|rt| {
            let location = format!("{}/ResourceTypes/{}", call.base_url, rt.name);
            let value = with_meta(serde_json::to_value(&rt)?, "ResourceType", &location);
            Ok((rt.name, value))
        })
        .collect()
}

/// `GET /ResourceTypes`.
pub(crate) fn resource_types(call: &Call<'_>) -> Result<Reply, ScimError> {
    refuse_filter(call)?;
    let docs: Vec<Value> = resource_type_docs(call)?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let total = docs.len() as u64;
    Ok(Reply::json(
        StatusCode::OK,
        list_body(docs, total, 1, call.version),
    ))
}

/// `GET /ResourceTypes/{name}`.
pub(crate) fn resource_type(call: &Call<'_>, name: &str) -> Result<Reply, ScimError> {
    refuse_filter(call)?;
    resource_type_docs(call)?
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| Reply::json(StatusCode::OK, v))
        .ok_or_else(|| ScimError::not_found("ResourceType", name))
}

/// Whether the provisioner keeps any attribute of the enterprise User extension.
fn enterprise_kept(caps: &Capabilities) -> bool {
    SchemaRegistry::builtin()
        .get(urn::ENTERPRISE_USER)
        .is_some_and(|s| kept_schema(caps, s).is_some())
}

fn optional_extension(urn: &str) -> SchemaExtensionRef {
    SchemaExtensionRef {
        schema: urn.to_owned(),
        required: false,
        ..SchemaExtensionRef::default()
    }
}

/// How [`Capabilities`] names attribute `a` of schema `schema_id`: a core User attribute by
/// its name, an extension's by its full name.
fn full_name<'a>(schema_id: &str, core: bool, a: &'a AttributeDef) -> Cow<'a, str> {
    if core {
        Cow::Borrowed(a.name.as_str())
    } else {
        Cow::Owned(format!("{schema_id}:{}", a.name))
    }
}

/// A built-in User schema as the provisioner keeps it: only the attributes its
/// [`Capabilities`] name (extension attributes by full name),
/// those it requires marked `required`; the Group schema with `displayName` `immutable` when
/// the backend cannot rename groups; `None` for an extension none of whose attributes is
/// kept.
fn kept_schema(caps: &Capabilities, schema: &Schema) -> Option<Schema> {
    if schema.id == urn::GROUP {
        let mut group = schema.clone();
        if caps.fixed_group_names {
            for a in &mut group.attributes {
                if a.name == "displayName" {
                    a.mutability = Mutability::Immutable;
                }
            }
        }
        return Some(group);
    }
    let core = schema.id == urn::USER;
    if !core && schema.id != urn::ENTERPRISE_USER {
        return Some(schema.clone());
    }
    let mut kept = schema.clone();
    kept.attributes
        .retain(|a| caps.keeps_user_attribute(&full_name(&schema.id, core, a)));
    for a in &mut kept.attributes {
        if caps.requires_user_attribute(&full_name(&schema.id, core, a)) {
            a.required = true;
            // An email without a value is no email: what is required is the value.
            for sub in &mut a.sub_attributes {
                if sub.name == "value" {
                    sub.required = true;
                }
            }
        }
    }
    (core || !kept.attributes.is_empty()).then_some(kept)
}

fn schema_docs(call: &Call<'_>) -> Result<Vec<(String, Value)>, ScimError> {
    let caps = call.provisioner().capabilities();
    SchemaRegistry::builtin()
        .schemas()
        .iter()
        .filter_map(|s| kept_schema(&caps, s))
        .chain(call.inner.user_extensions.iter().cloned())
        .chain(call.inner.group_extensions.iter().cloned())
        .map(|s| {
            let location = format!("{}/Schemas/{}", call.base_url, encode_segment(&s.id));
            let value = with_meta(serde_json::to_value(&s)?, "Schema", &location);
            Ok((s.id, value))
        })
        .collect()
}

/// `GET /Schemas`.
pub(crate) fn schemas(call: &Call<'_>) -> Result<Reply, ScimError> {
    refuse_filter(call)?;
    let docs: Vec<Value> = schema_docs(call)?.into_iter().map(|(_, v)| v).collect();
    let total = docs.len() as u64;
    Ok(Reply::json(
        StatusCode::OK,
        list_body(docs, total, 1, call.version),
    ))
}

/// `GET /Schemas/{urn}`.
pub(crate) fn schema(call: &Call<'_>, id: &str) -> Result<Reply, ScimError> {
    refuse_filter(call)?;
    schema_docs(call)?
        .into_iter()
        .find(|(urn, _)| urn.eq_ignore_ascii_case(id))
        .map(|(_, v)| Reply::json(StatusCode::OK, v))
        .ok_or_else(|| ScimError::not_found("Schema", id))
}
