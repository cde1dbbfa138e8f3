//! Protocol messages (RFC 7644): [`ListResponse`], [`SearchRequest`] and the [`ErrorBody`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::de::{SchemasOut, scim_object, serde_scalar, wrap_err};
use crate::error::ScimType;
use crate::urn;

/// A query response (RFC 7644 §3.4.2): `totalResults`, paging and the `Resources`.
///
/// Attribute names are read case-insensitively (`resources` works); `schemas` is always
/// written, `Resources` always (possibly empty).
#[derive(Clone, Debug, PartialEq)]
pub struct ListResponse<T> {
    /// Schema URNs; the `ListResponse` URN is added on output when missing.
    pub schemas: Vec<String>,
    /// `totalResults`: the number of results the query matched.
    pub total_results: u64,
    /// `startIndex`: 1-based index of the first result in this page.
    pub start_index: Option<u64>,
    /// `itemsPerPage`: the number of results in this page.
    pub items_per_page: Option<u64>,
    /// `Resources`.
    pub resources: Vec<T>,
    /// Unknown attributes, kept verbatim.
    pub other: Map<String, Value>,
}

impl<T> Default for ListResponse<T> {
    fn default() -> Self {
        ListResponse {
            schemas: Vec::new(),
            total_results: 0,
            start_index: None,
            items_per_page: None,
            resources: Vec::new(),
            other: Map::new(),
        }
    }
}

impl<T> ListResponse<T> {
    /// One page: `resources` starting at `start_index` of `total_results`.
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        ListResponse {
            items_per_page: Some(resources.len() as u64),
            start_index: Some(start_index),
            total_results,
            resources,
            ..ListResponse::default()
        }
    }
}

impl<T: Serialize> Serialize for ListResponse<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let schemas = SchemasOut {
            stored: &self.schemas,
            core: Some(urn::LIST_RESPONSE),
            extensions: None,
        };
        map.serialize_entry("schemas", &schemas)?;
        map.serialize_entry("totalResults", &self.total_results)?;
        if let Some(i) = self.start_index {
            map.serialize_entry("startIndex", &i)?;
        }
        if let Some(i) = self.items_per_page {
            map.serialize_entry("itemsPerPage", &i)?;
        }
        map.serialize_entry("Resources", &self.resources)?;
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListResponse<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ListResponse<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a ListResponse object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ListResponse::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let k: &str = &key;
                    let name = [
                        "schemas",
                        "totalResults",
                        "startIndex",
                        "itemsPerPage",
                        "Resources",
                    ]
                    .into_iter()
                    .find(|n| n.eq_ignore_ascii_case(k));
                    let r = match name {
                        Some("schemas") => map
                            .next_value::<Option<Vec<String>>>()
                            .map(|v| out.schemas = v.unwrap_or_default()),
                        Some("totalResults") => map
                            .next_value::<Option<u64>>()
                            .map(|v| out.total_results = v.unwrap_or_default()),
                        Some("startIndex") => map.next_value().map(|v| out.start_index = v),
                        Some("itemsPerPage") => map.next_value().map(|v| out.items_per_page = v),
                        Some(_) => map
                            .next_value::<Option<Vec<T>>>()
                            .map(|v| out.resources = v.unwrap_or_default()),
                        None => {
                            let v: Value = map.next_value()?;
                            out.other.insert(key.into_owned(), v);
                            Ok(())
                        }
                    };
                    r.map_err(|e| wrap_err(&e, name.unwrap_or_default(), '.'))?;
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// `ascending` (the default).
    #[default]
    Ascending,
    /// `descending`.
    Descending,
}

impl SortOrder {
    /// The wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        }
    }
}

impl Serialize for SortOrder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SortOrder {
    /// `ascending`/`descending` in any case.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SortOrder;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"ascending\" or \"descending\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SortOrder, E> {
                if v.eq_ignore_ascii_case("ascending") {
                    Ok(SortOrder::Ascending)
                } else if v.eq_ignore_ascii_case("descending") {
                    Ok(SortOrder::Descending)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_str(V)
    }
}

serde_scalar!(SortOrder);

scim_object! {
    /// A query by POST to `/.search` (RFC 7644 §3.4.3).
    pub struct SearchRequest {
        /// `attributes` to return.
        pub attributes: Vec<String> = "attributes",
        /// `excludedAttributes`.
        pub excluded_attributes: Vec<String> = "excludedAttributes",
        /// `filter`, unparsed (parse with [`scim_filter::Filter`]).
        pub filter: Option<String> = "filter",
        /// `sortBy`.
        pub sort_by: Option<String> = "sortBy",
        /// `sortOrder`.
        pub sort_order: Option<SortOrder> = "sortOrder",
        /// `startIndex`, 1-based, as sent; see [`SearchRequest::start_index`].
        pub start_index: Option<i64> = "startIndex",
        /// `count`, as sent; see [`SearchRequest::count`].
        pub count: Option<i64> = "count",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
}

impl SearchRequest {
    /// The effective start index: values below 1 mean 1 (RFC 7644 §3.4.2.4).
    pub fn start_index(&self) -> u64 {
        self.start_index.map_or(1, |i| i.max(1).unsigned_abs())
    }

    /// The effective count, if given: negative values mean 0 (RFC 7644 §3.4.2.4).
    pub fn count(&self) -> Option<u64> {
        self.count.map(|c| c.max(0).unsigned_abs())
    }

    /// The parsed filter, if any (`invalidFilter` on a syntax error).
    pub fn parsed_filter(&self) -> Result<Option<scim_filter::Filter>, crate::ScimError> {
        match &self.filter {
            None => Ok(None),
            Some(f) => Ok(Some(f.parse::<scim_filter::Filter>()?)),
        }
    }
}

/// The error response body (RFC 7644 §3.12). Build it with
/// [`ScimError::to_body`](crate::ScimError::to_body).
///
/// Read leniently, since bodies also come from other servers: attribute names in any case,
/// `status` as a string or a number, and a `scimType` this crate does not know kept as sent (in
/// [`other`](ErrorBody::other), so it is written back unchanged) instead of failing the whole
/// body. Written strictly: `schemas`, `status` as a string.
///
/// ```
/// use scim_core::{ErrorBody, ScimType};
///
/// let body: ErrorBody = scim_core::from_str(
///     r#"{"Status": 409, "scimType": "uniqueness", "detail": "userName taken"}"#,
/// )?;
/// assert_eq!(body.status, "409");
/// assert_eq!(body.scim_type, Some(ScimType::Uniqueness));
///
/// let body: ErrorBody = scim_core::from_str(r#"{"status": "400", "scimType": "tooLong"}"#)?;
/// assert_eq!(body.scim_type, None);
/// assert_eq!(body.scim_type_name(), Some("tooLong"));
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"tooLong"}"#
/// );
/// # Ok::<(), scim_core::ScimError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorBody {
    /// Schema URNs (`schemas`); the `Error` URN is added on output when missing.
    pub schemas: Vec<String>,
    /// `status`: the HTTP status code as a string, e.g. `"400"`.
    pub status: String,
    /// `scimType`, when it is one of RFC 7644's; any other value sent is kept in `other`.
    pub scim_type: Option<ScimType>,
    /// `detail`.
    pub detail: Option<String>,
    /// Attributes this type does not know (and an unknown `scimType`), kept verbatim so they
    /// survive a round trip.
    pub other: Map<String, Value>,
}

const SCIM_TYPE: &str = "scimType";

impl ErrorBody {
    /// The `scimType` as sent: a known one's wire form, or the unknown value kept in `other`.
    pub fn scim_type_name(&self) -> Option<&str> {
        match self.scim_type {
            Some(t) => Some(t.as_str()),
            None => crate::json::get_ci(&self.other, SCIM_TYPE).and_then(Value::as_str),
        }
    }
}

impl Serialize for ErrorBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let schemas = SchemasOut {
            stored: &self.schemas,
            core: Some(urn::ERROR),
            extensions: None,
        };
        map.serialize_entry("schemas", &schemas)?;
        if !self.status.is_empty() {
            map.serialize_entry("status", &self.status)?;
        }
        if let Some(t) = self.scim_type {
            map.serialize_entry(SCIM_TYPE, &t)?;
        }
        if let Some(d) = &self.detail {
            map.serialize_entry("detail", d)?;
        }
        for (k, v) in &self.other {
            // A known type wins over an unknown one left in `other` by hand.
            if self.scim_type.is_some() && k.eq_ignore_ascii_case(SCIM_TYPE) {
                continue;
            }
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `status` of an error body: a string as the RFC writes it, or a number as some servers do.
struct StatusText;

impl<'de> DeserializeSeed<'de> for StatusText {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StatusText {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an HTTP status code (a string such as \"400\" or a number)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for ErrorBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorBody;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ErrorBody object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorBody, A::Error> {
                let mut out = ErrorBody::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let k: &str = &key;
                    let name = ["schemas", "status", SCIM_TYPE, "detail"]
                        .into_iter()
                        .find(|n| n.eq_ignore_ascii_case(k));
                    let r = match name {
                        Some("schemas") => map
                            .next_value::<Option<Vec<String>>>()
                            .map(|v| out.schemas = v.unwrap_or_default()),
                        Some("status") => map
                            .next_value_seed(StatusText)
                            .map(|v| out.status = v.unwrap_or_default()),
                        Some("detail") => map.next_value().map(|v| out.detail = v),
                        Some(_) => map.next_value::<Value>().map(|v| {
                            out.scim_type = v.as_str().and_then(ScimType::from_name);
                            if out.scim_type.is_none() && !v.is_null() {
                                out.other.insert(SCIM_TYPE.to_owned(), v);
                            }
                        }),
                        None => {
                            let v: Value = map.next_value()?;
                            out.other.insert(key.into_owned(), v);
                            Ok(())
                        }
                    };
                    r.map_err(|e| wrap_err(&e, name.unwrap_or_default(), '.'))?;
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

serde_scalar!(ErrorBody);
