//! Entity tags (RFC 9110 §8.8.3) for SCIM resource versions (RFC 7644 §3.14), and evaluation of
//! the `If-Match` / `If-None-Match` preconditions (RFC 9110 §13.1, §13.2.2).
//!
//! - [`ETag`]: one entity tag. SCIM versions are weak tags, `W/"..."`, made from a version counter
//!   ([`ETag::from_version`]) or from the resource's content ([`ETag::from_content`]).
//! - [`Preconditions`]: the two headers, parsed (a malformed value is a 400 `invalidValue` naming
//!   the header, never a panic), and [`Preconditions::evaluate`] against the current version,
//!   giving [`Precondition::Proceed`], [`Precondition::NotModified`] (304) or
//!   [`Precondition::Failed`] (412).
//!
//! # Comparison
//!
//! RFC 9110 §13.1.1 asks for the *strong* comparison in `If-Match`, under which a weak tag never
//! matches anything. SCIM service providers hand out weak tags (RFC 7644 §3.14 shows
//! `ETag: W/"e180ee84f0671b1"` followed by `If-Match: W/"e180ee84f0671b1"`), so a strict strong
//! comparison would make every conditional update fail. Like most SCIM servers, this module
//! compares **weakly in both headers**: `W/"1"`, `"1"` and `W/"1"` all match each other, and
//! the opaque tag decides. This is the documented, deliberate deviation; [`ETag::strong_eq`] is
//! there for callers who need RFC 9110's strong comparison elsewhere.
//!
//! ```
//! use http::Method;
//! use scim_core::etag::{ETag, Precondition, Preconditions};
//!
//! let current = ETag::from_version(3);
//! assert_eq!(current.to_string(), r#"W/"3""#);
//!
//! // A PUT with the version the client last saw.
//! let pre = Preconditions::parse(Some(r#"W/"3""#), None).unwrap();
//! assert_eq!(pre.evaluate(Some(&current), &Method::PUT), Precondition::Proceed);
//!
//! // Someone else updated the resource in between: 412.
//! let pre = Preconditions::parse(Some(r#"W/"2""#), None).unwrap();
//! let outcome = pre.evaluate(Some(&current), &Method::PUT);
//! assert_eq!(outcome, Precondition::Failed);
//! assert_eq!(outcome.into_result().unwrap_err().status(), http::StatusCode::PRECONDITION_FAILED);
//!
//! // A conditional GET of an unchanged resource: 304.
//! let pre = Preconditions::parse(None, Some(r#"W/"1", W/"3""#)).unwrap();
//! assert_eq!(pre.evaluate(Some(&current), &Method::GET), Precondition::NotModified);
//!
//! // A malformed header is a 400 naming it, not a panic.
//! let err = Preconditions::parse(Some("3"), None).unwrap_err();
//! assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
//! assert!(err.detail().contains("If-Match"));
//! ```

use std::fmt;
use std::str::FromStr;

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::error::ScimError;

/// One entity tag: an opaque tag (without its quotes) and whether it is weak (`W/` prefix).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag {
    weak: bool,
    opaque: String,
}

impl ETag {
    /// A weak tag `W/"<opaque>"`; `None` if `opaque` holds a character an entity tag cannot
    /// (`"`, space, control characters).
    pub fn weak(opaque: impl Into<String>) -> Option<Self> {
        let opaque = opaque.into();
        is_opaque(&opaque).then_some(ETag { weak: true, opaque })
    }

    /// A strong tag `"<opaque>"`; `None` if `opaque` holds a character an entity tag cannot.
    pub fn strong(opaque: impl Into<String>) -> Option<Self> {
        let opaque = opaque.into();
        is_opaque(&opaque).then_some(ETag {
            weak: false,
            opaque,
        })
    }

    /// The weak tag of a version counter: `W/"<version>"`.
    pub fn from_version(version: u64) -> Self {
        ETag {
            weak: true,
            opaque: version.to_string(),
        }
    }

    /// A weak tag derived from the resource's content: `W/"<16 hex digits>"`.
    ///
    /// The digest is a 64-bit FNV-1a hash over a canonical form of the JSON (object keys in
    /// sorted order, whatever the map's order; numbers as `serde_json` prints them), so equal
    /// resources get equal tags regardless of key order. `meta.version` is left out, so the tag
    /// can be stored in the resource it describes. Other `meta` fields (`lastModified`) are
    /// included.
    ///
    /// **Not a security feature**: the hash is not cryptographic, and a client able to choose
    /// content can produce collisions. It only detects concurrent modification.
    pub fn from_content(resource: &Value) -> Self {
        let mut h = Fnv::new();
        hash_value(&mut h, resource, true);
        ETag {
            weak: true,
            opaque: format!("{:016x}", h.0),
        }
    }

    /// Parses one entity tag (`W/"x"` or `"x"`, surrounding whitespace ignored).
    ///
    /// A malformed tag is a 400 `invalidValue` for the attribute `ETag`.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        parse_one(s.trim_matches(is_ows)).map_err(|why| {
            ScimError::invalid_value("ETag", format_args!("`{}`: {why}", s.escape_debug()))
        })
    }

    /// Whether this is a weak tag.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque tag, without quotes and `W/`.
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// RFC 9110 §8.8.3.2 weak comparison: the opaque tags are equal.
    pub fn weak_eq(&self, other: &ETag) -> bool {
        self.opaque == other.opaque
    }

    /// RFC 9110 §8.8.3.2 strong comparison: both tags are strong and the opaque tags are equal.
    pub fn strong_eq(&self, other: &ETag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }
}

/// `W/"<version>"`, as `ETag::from_version(version).to_string()` gives it, in one allocation
/// and without the formatting machinery (it is part of every `meta` a database store serves).
pub(crate) fn weak_version_tag(version: u64) -> String {
    let mut buf = [0; 20];
    let digits = decimal(version, &mut buf);
    let mut tag = String::with_capacity(digits.len() + 4);
    tag.push_str("W/\"");
    tag.push_str(digits);
    tag.push('"');
    tag
}

/// `n` in decimal, written at the end of `buf` (room for any `u64`) without the formatting
/// machinery, which cost more than the rest of making a request id or a version tag.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    while start > 0 {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    std::str::from_utf8(buf.get(start..).unwrap_or_default()).unwrap_or_default()
}

impl fmt::Display for ETag {
    /// `W/"opaque"` or `"opaque"`: the form of the `ETag` header and of `meta.version`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

impl FromStr for ETag {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Self, ScimError> {
        ETag::parse(s)
    }
}

/// The value of an `If-Match` or `If-None-Match` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagList {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags (at least one).
    Tags(Vec<ETag>),
}

impl TagList {
    /// Parses a header value: `*` or a comma-separated list of entity tags (commas inside a
    /// quoted tag are part of it). `header` names the header in the error (400 `invalidValue`).
    pub fn parse(header: &str, value: &str) -> Result<Self, ScimError> {
        parse_list(value).map_err(|why| {
            ScimError::invalid_value(header, format_args!("`{}`: {why}", value.escape_debug()))
        })
    }

    /// Whether `current` (the current version; `None` when the resource does not exist) matches
    /// this list, with the weak comparison (see the [module documentation](self)).
    pub fn matches(&self, current: Option<&ETag>) -> bool {
        match (self, current) {
            (_, None) => false,
            (TagList::Any, Some(_)) => true,
            (TagList::Tags(tags), Some(cur)) => tags.iter().any(|t| t.weak_eq(cur)),
        }
    }
}

/// The outcome of evaluating the preconditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precondition {
    /// Perform the request.
    Proceed,
    /// 304 Not Modified: a `GET`/`HEAD` whose `If-None-Match` matched.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

impl Precondition {
    /// `Ok(())` to proceed; otherwise the error to answer with: 412 ([`ScimError::PreconditionFailed`])
    /// or 304 ([`ScimError::Other`] with `StatusCode::NOT_MODIFIED`, which has no body on the wire).
    pub fn into_result(self) -> Result<(), ScimError> {
        match self {
            Precondition::Proceed => Ok(()),
            Precondition::NotModified => Err(ScimError::other(
                StatusCode::NOT_MODIFIED,
                None,
                "not modified",
            )),
            Precondition::Failed => Err(ScimError::precondition_failed(
                "the resource version does not match the request's precondition",
            )),
        }
    }
}

/// The `If-Match` and `If-None-Match` headers of one request, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// `If-Match`, if sent.
    pub if_match: Option<TagList>,
    /// `If-None-Match`, if sent.
    pub if_none_match: Option<TagList>,
}

impl Preconditions {
    /// Parses the header values (either may be absent).
    pub fn parse(if_match: Option<&str>, if_none_match: Option<&str>) -> Result<Self, ScimError> {
        Ok(Preconditions {
            if_match: if_match
                .map(|v| TagList::parse("If-Match", v))
                .transpose()?,
            if_none_match: if_none_match
                .map(|v| TagList::parse("If-None-Match", v))
                .transpose()?,
        })
    }

    /// Reads both headers from a request's headers; several lines of one header are one list
    /// (RFC 9110 §5.3). A value that is not visible ASCII/UTF-8 is a 400 naming the header.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ScimError> {
        // Most requests carry a few headers and neither of these: looking each name up hashes
        // it, where comparing the few names there are does not.
        if headers.keys_len() <= 16
            && !headers
                .keys()
                .any(|k| k == http::header::IF_MATCH || k == http::header::IF_NONE_MATCH)
        {
            return Ok(Preconditions::default());
        }
        let join =
            |name: http::header::HeaderName, label: &str| -> Result<Option<String>, ScimError> {
                let mut out: Option<String> = None;
                for v in headers.get_all(name) {
                    let s = v.to_str().map_err(|_| {
                        ScimError::invalid_value(label, "the header value is not valid text")
                    })?;
                    match &mut out {
                        Some(acc) => {
                            acc.push(',');
                            acc.push_str(s);
                        }
                        None => out = Some(s.to_owned()),
                    }
                }
                Ok(out)
            };
        let im = join(http::header::IF_MATCH, "If-Match")?;
        let inm = join(http::header::IF_NONE_MATCH, "If-None-Match")?;
        Preconditions::parse(im.as_deref(), inm.as_deref())
    }

    /// Evaluates the preconditions (RFC 9110 §13.2.2) for a request with `method` against the
    /// resource's `current` version (`None` when the resource does not exist):
    ///
    /// 1. `If-Match` present and not matching (or the resource absent): [`Precondition::Failed`].
    /// 2. `If-None-Match` present and matching: [`Precondition::NotModified`] for `GET`/`HEAD`,
    ///    [`Precondition::Failed`] otherwise.
    /// 3. Otherwise [`Precondition::Proceed`].
    ///
    /// Both headers use the weak comparison (see the [module documentation](self)).
    pub fn evaluate(&self, current: Option<&ETag>, method: &Method) -> Precondition {
        if let Some(list) = &self.if_match {
            if !list.matches(current) {
                return Precondition::Failed;
            }
        }
        if let Some(list) = &self.if_none_match {
            if list.matches(current) {
                return if method == Method::GET || method == Method::HEAD {
                    Precondition::NotModified
                } else {
                    Precondition::Failed
                };
            }
        }
        Precondition::Proceed
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `etagc = %x21 / %x23-7E / obs-text` (RFC 9110 §8.8.3).
fn is_etagc(c: char) -> bool {
    c == '!' || ('#'..='~').contains(&c) || !c.is_ascii()
}

fn is_opaque(s: &str) -> bool {
    s.chars().all(is_etagc)
}

/// Parses one tag at the start of `s`, returning it and the rest.
fn parse_tag(s: &str) -> Result<(ETag, &str), &'static str> {
    let (weak, rest) = match s.strip_prefix("W/").or_else(|| s.strip_prefix("w/")) {
        Some(r) => (true, r),
        None => (false, s),
    };
    let Some(rest) = rest.strip_prefix('"') else {
        return Err("an entity tag must be quoted, e.g. W/\"1\"");
    };
    let Some(end) = rest.find('"') else {
        return Err("unterminated entity tag (missing closing quote)");
    };
    let (opaque, after) = rest.split_at(end);
    if !is_opaque(opaque) {
        return Err("entity tags cannot contain spaces or control characters");
    }
    let after = after.get(1..).unwrap_or_default();
    Ok((
        ETag {
            weak,
            opaque: opaque.to_owned(),
        },
        after,
    ))
}

fn parse_one(s: &str) -> Result<ETag, &'static str> {
    let (tag, rest) = parse_tag(s)?;
    if rest.is_empty() {
        Ok(tag)
    } else {
        Err("unexpected text after the entity tag")
    }
}

fn parse_list(value: &str) -> Result<TagList, &'static str> {
    let trimmed = value.trim_matches(is_ows);
    if trimmed == "*" {
        return Ok(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_start_matches(is_ows);
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix(',') {
            // Empty list elements are allowed (RFC 9110 §5.6.1).
            rest = r;
            continue;
        }
        if rest.starts_with('*') {
            return Err("`*` cannot be combined with entity tags");
        }
        let (tag, r) = parse_tag(rest)?;
        tags.push(tag);
        let r = r.trim_start_matches(is_ows);
        match r.strip_prefix(',') {
            Some(r) => rest = r,
            None if r.is_empty() => rest = r,
            None => return Err("entity tags must be separated by commas"),
        }
    }
    if tags.is_empty() {
        Err("expected `*` or at least one entity tag")
    } else {
        Ok(TagList::Tags(tags))
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_len(&mut self, n: usize) {
        self.write(&(n as u64).to_le_bytes());
    }
    fn write_str(&mut self, s: &str) {
        self.write_len(s.len());
        self.write(s.as_bytes());
    }
}

/// Feeds a canonical, self-delimiting encoding of `v` to `h`: a type byte, then the content, with
/// lengths before strings and containers, and object keys sorted.
fn hash_value(h: &mut Fnv, v: &Value, top: bool) {
    match v {
        Value::Null => h.write(b"n"),
        Value::Bool(b) => h.write(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.write(b"#");
            h.write_str(&n.to_string());
        }
        Value::String(s) => {
            h.write(b"s");
            h.write_str(s);
        }
        Value::Array(a) => {
            h.write(b"[");
            h.write_len(a.len());
            for x in a {
                hash_value(h, x, false);
            }
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.write(b"{");
            h.write_len(keys.len());
            for k in keys {
                let Some(x) = m.get(k) else { continue };
                h.write_str(k);
                if top && k.eq_ignore_ascii_case("meta") {
                    hash_meta(h, x);
                } else {
                    hash_value(h, x, false);
                }
            }
        }
    }
}

/// `meta` without `version`.
fn hash_meta(h: &mut Fnv, meta: &Value) {
    match meta {
        Value::Object(m) => {
            let stripped: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("version"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            hash_value(h, &Value::Object(stripped), false);
        }
        other => hash_value(h, other, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_whole() {
        for n in [0, 7, 10, 99, 12_345, u64::from(u32::MAX) + 1, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    #[test]
    fn a_version_tag_is_the_weak_tag_of_the_version() {
        for n in [0, 1, 42, 1_000_000, u64::MAX] {
            assert_eq!(weak_version_tag(n), ETag::from_version(n).to_string());
        }
    }
}
