//! Routing: which endpoint a request path names, and which methods it allows.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::Method;

use super::kind::KindTag;
use crate::provision::ScimVersion;

/// An endpoint under a base path (RFC 7644 §3.2, §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `/Users` or `/Groups`.
    Collection(KindTag),
    /// `/Users/{id}` or `/Groups/{id}`; the id borrowed from the path unless it was escaped.
    Item(KindTag, Cow<'a, str>),
    /// `/Users/.search` or `/Groups/.search`.
    TypeSearch(KindTag),
    /// The base path itself: `GET` queries users and groups (RFC 7644 §3.4.2).
    Root,
    /// `/.search` at the root: users and groups.
    RootSearch,
    /// `/Bulk`.
    Bulk,
    /// `/Me`.
    Me,
    /// `/ServiceProviderConfig` (`/ServiceProviderConfigs` in SCIM 1.1).
    ServiceProviderConfig,
    /// `/ResourceTypes`.
    ResourceTypes,
    /// `/ResourceTypes/{name}`.
    ResourceType(Cow<'a, str>),
    /// `/Schemas`.
    Schemas,
    /// `/Schemas/{urn}`.
    Schema(Cow<'a, str>),
}

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const COLLECTION: &[Method] = &[Method::GET, Method::POST];
const ITEM: &[Method] = &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE];
const ME: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

impl<'a> Route<'a> {
    /// Parses the part of the path after the base path (`""`, `"/Users"`, `"/Users/abc"`); one
    /// trailing slash is tolerated. Endpoint names match in any case, as identity providers are not
    /// consistent about it; ids are percent-decoded. `None`: no such endpoint.
    pub(crate) fn parse(rest: &'a str) -> Option<Route<'a>> {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Some(Route::Root);
        }
        let rest = rest.strip_prefix('/')?;
        let mut segments = rest.split('/');
        let first = segments.next()?;
        let second = segments.next();
        if segments.next().is_some() {
            return None;
        }
        let is = |name: &str| first.eq_ignore_ascii_case(name);
        let kind = if is("Users") {
            Some(KindTag::User)
        } else if is("Groups") {
            Some(KindTag::Group)
        } else {
            None
        };
        let route = match (kind, second) {
            (Some(k), None) => Route::Collection(k),
            (Some(k), Some(".search")) => Route::TypeSearch(k),
            (Some(k), Some(id)) => Route::Item(k, decode_segment(id)?),
            (None, None) if is(".search") => Route::RootSearch,
            (None, None) if is("Bulk") => Route::Bulk,
            (None, None) if is("Me") => Route::Me,
            (None, None) if is("ServiceProviderConfig") || is("ServiceProviderConfigs") => {
                Route::ServiceProviderConfig
            }
            (None, None) if is("ResourceTypes") => Route::ResourceTypes,
            (None, Some(name)) if is("ResourceTypes") => Route::ResourceType(decode_segment(name)?),
            (None, None) if is("Schemas") => Route::Schemas,
            (None, Some(urn)) if is("Schemas") => Route::Schema(decode_segment(urn)?),
            _ => return None,
        };
        Some(route)
    }

    /// The methods this endpoint answers (RFC 7644 §3.2 and §4).
    pub(crate) fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Collection(_) => COLLECTION,
            Route::Item(..) => ITEM,
            Route::TypeSearch(_) | Route::RootSearch | Route::Bulk => POST,
            Route::Me => ME,
            Route::Root
            | Route::ServiceProviderConfig
            | Route::ResourceTypes
            | Route::ResourceType(_)
            | Route::Schemas
            | Route::Schema(_) => GET,
        }
    }
}

/// The value of an `Allow` header for `methods`.
pub(crate) fn allow_header(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which base path `path` is under, and the rest of it. The longer base is tried first, so one
/// base may be a prefix of the other (`/scim` and `/scim/v1`).
pub(crate) fn split_base<'p>(path: &'p str, v2: &str, v1: &str) -> Option<(ScimVersion, &'p str)> {
    let mut bases = [(ScimVersion::V2, v2), (ScimVersion::V1_1, v1)];
    bases.sort_by_key(|(_, b)| std::cmp::Reverse(b.len()));
    bases.into_iter().find_map(|(version, base)| {
        let rest = path.strip_prefix(base)?;
        (rest.is_empty() || rest.starts_with('/')).then_some((version, rest))
    })
}

/// A base path as configured, normalised: a leading `/`, no trailing `/` (`""` for the root).
pub(crate) fn normalize_base(base: &str) -> String {
    let trimmed = base.trim().trim_end_matches('/');
    if trimmed.is_empty() || trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// Percent-decodes one path segment; `None` if the escapes are malformed or the result is not
/// UTF-8 or is empty.
pub(crate) fn decode_segment(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        // Nothing encoded (ids usually are plain): the segment as it is.
        return (!segment.is_empty()).then_some(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    (!s.is_empty()).then_some(Cow::Owned(s))
}

/// Percent-encodes `s` for use as one path segment (everything but RFC 3986 unreserved
/// characters and `:` / `@`, which are common in ids and URNs).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_segment_into(&mut out, s);
    out
}

/// [`encode_segment`], appended to `out`.
pub(crate) fn encode_segment_into(out: &mut String, s: &str) {
    let kept =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@');
    // Ids are usually all unreserved (UUIDs): copied in one go.
    let clean = s.bytes().position(|b| !kept(b)).unwrap_or(s.len());
    let (head, rest) = s.split_at(clean);
    out.push_str(head);
    for b in rest.bytes() {
        if kept(b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Route::parse("/Users"),
            Some(Route::Collection(KindTag::User))
        );
        assert_eq!(
            Route::parse("/users/"),
            Some(Route::Collection(KindTag::User))
        );
        assert_eq!(
            Route::parse("/Users/a%20b"),
            Some(Route::Item(KindTag::User, Cow::Owned("a b".to_owned())))
        );
        // A plain id is the path's own text, not a copy.
        assert!(matches!(
            Route::parse("/Users/2819c223"),
            Some(Route::Item(KindTag::User, Cow::Borrowed("2819c223")))
        ));
        assert_eq!(
            Route::parse("/Groups/.search"),
            Some(Route::TypeSearch(KindTag::Group))
        );
        assert_eq!(Route::parse("/.search"), Some(Route::RootSearch));
        assert_eq!(Route::parse(""), Some(Route::Root));
        assert_eq!(Route::parse("/"), Some(Route::Root));
        assert_eq!(Route::parse("//"), None);
        assert_eq!(Route::parse("/Users/a/b"), None);
        assert_eq!(Route::parse("/Users/%zz"), None);
        assert_eq!(Route::parse("/Nope"), None);
    }

    #[test]
    fn bases() {
        assert_eq!(
            split_base("/scim/v2/Users", "/scim/v2", "/scim/v1"),
            Some((ScimVersion::V2, "/Users"))
        );
        assert_eq!(split_base("/scim/v2x", "/scim/v2", "/scim/v1"), None);
        assert_eq!(
            split_base("/scim/v1/Users", "/scim", "/scim/v1"),
            Some((ScimVersion::V1_1, "/Users"))
        );
        assert_eq!(normalize_base("scim/v2/"), "/scim/v2");
        assert_eq!(normalize_base("/"), "");
        assert_eq!(encode_segment("a b/c:d"), "a%20b%2Fc:d");
    }
}
