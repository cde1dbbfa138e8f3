//! Entity tags and `If-Match` / `If-None-Match` evaluation (RFC 9110 §13, RFC 7644 §3.14).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

use scim_core::ScimType;
use scim_core::etag::{ETag, Precondition, Preconditions, TagList};

#[test]
fn version_tags() {
    let t = ETag::from_version(42);
    assert!(t.is_weak());
    assert_eq!(t.opaque(), "42");
    assert_eq!(t.to_string(), "W/\"42\"");
    assert_eq!("W/\"42\"".parse::<ETag>().unwrap(), t);
    assert_eq!(
        ETag::parse("  \"42\" ").unwrap(),
        ETag::strong("42").unwrap()
    );
}

#[test]
fn content_tags_are_stable_and_ignore_key_order_and_version() {
    let a = json!({"id": "1", "userName": "bjensen", "emails": [{"value": "x", "primary": true}],
                   "meta": {"lastModified": "2011-05-13T04:42:34Z", "version": "W/\"old\""}});
    let b = json!({"meta": {"version": "W/\"new\"", "lastModified": "2011-05-13T04:42:34Z"},
                   "emails": [{"primary": true, "value": "x"}], "userName": "bjensen", "id": "1"});
    let ta = ETag::from_content(&a);
    assert_eq!(ta, ETag::from_content(&b));
    assert!(ta.is_weak());
    assert_eq!(ta.opaque().len(), 16);
    // Same value every run (no random seed): pin it.
    assert_eq!(
        ETag::from_content(&json!({})),
        ETag::from_content(&json!({}))
    );
    // Any change of content changes the tag.
    let mut c = a.clone();
    c["userName"] = json!("bjensen2");
    assert_ne!(ta, ETag::from_content(&c));
    let mut d = a.clone();
    d["meta"]["lastModified"] = json!("2012-01-01T00:00:00Z");
    assert_ne!(ta, ETag::from_content(&d));
    // Type and nesting matter: "1" vs 1, ["a","b"] vs ["ab"].
    assert_ne!(
        ETag::from_content(&json!({"x": "1"})),
        ETag::from_content(&json!({"x": 1}))
    );
    assert_ne!(
        ETag::from_content(&json!({"x": ["a", "b"]})),
        ETag::from_content(&json!({"x": ["ab"]}))
    );
}

#[test]
fn comparisons() {
    let w = ETag::weak("1").unwrap();
    let s = ETag::strong("1").unwrap();
    assert!(w.weak_eq(&s));
    assert!(!w.strong_eq(&s));
    assert!(s.strong_eq(&s));
    assert!(ETag::weak("a b").is_none());
    assert!(ETag::strong("a\"b").is_none());
}

#[test]
fn lists() {
    assert_eq!(TagList::parse("If-Match", " * ").unwrap(), TagList::Any);
    let l = TagList::parse("If-Match", r#"W/"1", "2",,W/"a,b""#).unwrap();
    assert_eq!(
        l,
        TagList::Tags(vec![
            ETag::weak("1").unwrap(),
            ETag::strong("2").unwrap(),
            ETag::weak("a,b").unwrap(),
        ])
    );
    assert!(l.matches(Some(&ETag::weak("a,b").unwrap())));
    assert!(l.matches(Some(&ETag::strong("1").unwrap())));
    assert!(!l.matches(Some(&ETag::weak("3").unwrap())));
    assert!(!l.matches(None));
}

#[test]
fn malformed_headers_are_400_naming_the_header() {
    for bad in [
        "",
        "1",
        "W/1",
        "\"unterminated",
        "\"a\" \"b\"",
        "*, \"a\"",
        "\"a\", *",
        "\"a b\"",
        ",",
    ] {
        let err = Preconditions::parse(Some(bad), None).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{bad:?}");
        assert!(err.detail().contains("If-Match"), "{bad:?}: {err}");
        let err = Preconditions::parse(None, Some(bad)).unwrap_err();
        assert!(err.detail().contains("If-None-Match"), "{bad:?}: {err}");
    }
    let err = ETag::parse("nope").unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn if_match() {
    let cur = ETag::from_version(3);
    let pre = Preconditions::parse(Some("W/\"3\""), None).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::PUT),
        Precondition::Proceed
    );
    // Weak comparison: a strong tag with the same opaque value matches too.
    let pre = Preconditions::parse(Some("\"3\""), None).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::PATCH),
        Precondition::Proceed
    );
    let pre = Preconditions::parse(Some("W/\"2\""), None).unwrap();
    assert_eq!(pre.evaluate(Some(&cur), &Method::PUT), Precondition::Failed);
    assert_eq!(pre.evaluate(Some(&cur), &Method::GET), Precondition::Failed);
    // `*` needs the resource to exist.
    let pre = Preconditions::parse(Some("*"), None).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::DELETE),
        Precondition::Proceed
    );
    assert_eq!(pre.evaluate(None, &Method::DELETE), Precondition::Failed);
    let err = Precondition::Failed.into_result().unwrap_err();
    assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn if_none_match() {
    let cur = ETag::from_version(3);
    let pre = Preconditions::parse(None, Some("W/\"3\"")).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::GET),
        Precondition::NotModified
    );
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::HEAD),
        Precondition::NotModified
    );
    assert_eq!(pre.evaluate(Some(&cur), &Method::PUT), Precondition::Failed);
    let pre = Preconditions::parse(None, Some("W/\"2\"")).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::GET),
        Precondition::Proceed
    );
    // `If-None-Match: *` on create: proceed only when nothing exists.
    let pre = Preconditions::parse(None, Some("*")).unwrap();
    assert_eq!(pre.evaluate(None, &Method::POST), Precondition::Proceed);
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::POST),
        Precondition::Failed
    );
    let err = Precondition::NotModified.into_result().unwrap_err();
    assert_eq!(err.status(), StatusCode::NOT_MODIFIED);
    assert!(Precondition::Proceed.into_result().is_ok());
}

#[test]
fn if_match_is_evaluated_first() {
    let cur = ETag::from_version(3);
    let pre = Preconditions::parse(Some("W/\"2\""), Some("W/\"3\"")).unwrap();
    assert_eq!(pre.evaluate(Some(&cur), &Method::GET), Precondition::Failed);
    let pre = Preconditions::parse(Some("W/\"3\""), Some("W/\"3\"")).unwrap();
    assert_eq!(
        pre.evaluate(Some(&cur), &Method::GET),
        Precondition::NotModified
    );
    let pre = Preconditions::default();
    assert_eq!(pre.evaluate(None, &Method::GET), Precondition::Proceed);
}

#[test]
fn from_headers_joins_lines() {
    let mut h = HeaderMap::new();
    h.append(http::header::IF_MATCH, HeaderValue::from_static("W/\"1\""));
    h.append(http::header::IF_MATCH, HeaderValue::from_static("W/\"3\""));
    let pre = Preconditions::from_headers(&h).unwrap();
    assert_eq!(
        pre.if_match,
        Some(TagList::Tags(vec![
            ETag::weak("1").unwrap(),
            ETag::weak("3").unwrap()
        ]))
    );
    assert_eq!(pre.if_none_match, None);
    assert_eq!(
        pre.evaluate(Some(&ETag::from_version(3)), &Method::PUT),
        Precondition::Proceed
    );

    let mut h = HeaderMap::new();
    h.insert(
        http::header::IF_NONE_MATCH,
        HeaderValue::from_bytes(b"W/\"\xff\"").unwrap(),
    );
    let err = Preconditions::from_headers(&h).unwrap_err();
    assert!(err.detail().contains("If-None-Match"), "{err}");
}

/// Found among few headers and among many (past the short scan of names), in any case of the
/// name; absent, nothing.
#[test]
fn from_headers_finds_the_headers_among_few_or_many() {
    for others in [0usize, 3, 40] {
        let mut h = HeaderMap::new();
        for i in 0..others {
            h.insert(
                http::header::HeaderName::from_bytes(format!("x-other-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        assert_eq!(
            Preconditions::from_headers(&h).unwrap(),
            Preconditions::default(),
            "{others} other headers"
        );
        h.insert(
            http::header::HeaderName::from_bytes(b"If-None-Match").unwrap(),
            HeaderValue::from_static("*"),
        );
        let pre = Preconditions::from_headers(&h).unwrap();
        assert_eq!(
            pre.if_none_match,
            Some(TagList::Any),
            "{others} other headers"
        );
        assert_eq!(pre.if_match, None);
        h.insert(http::header::IF_MATCH, HeaderValue::from_static("W/\"7\""));
        let pre = Preconditions::from_headers(&h).unwrap();
        assert_eq!(
            pre.if_match,
            Some(TagList::Tags(vec![ETag::weak("7").unwrap()])),
            "{others} other headers"
        );
    }
}
