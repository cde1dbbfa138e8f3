//! Parse errors: position, found token, kind and message for a table of malformed filters and
//! paths; hostile input (huge, deeply nested, too many terms) rejected cheaply and without stack
//! overflow; configurable limits; and properties over arbitrary input (never a panic, offsets
//! always inside the input).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use scim_filter::{ErrorKind, Expected, Filter, Mode, ParseError, Parser};

/// The error message sent to clients names the offset and the token found there.
fn assert_message(input: &str, e: &ParseError) {
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(" at byte {}, ", e.offset())),
        "{input:?}: {msg}"
    );
    if e.found().is_empty() {
        assert!(
            msg.ends_with("found the end of the input"),
            "{input:?}: {msg}"
        );
    } else {
        assert!(
            msg.ends_with(&format!("found `{}`", e.found())),
            "{input:?}: {msg}"
        );
    }
    if let Some(expected) = e.expected() {
        assert!(
            msg.starts_with(&format!("expected {expected} at byte ")),
            "{input:?}: {msg}"
        );
    }
}

/// The invariants of every error: the offset is inside the input on a character boundary, and
/// `found` is the text at that offset (possibly shortened to 40 characters plus `...`).
fn assert_well_formed(input: &str, e: &ParseError) {
    assert!(
        e.offset() <= input.len(),
        "{input:?}: offset {} out of range",
        e.offset()
    );
    assert!(
        input.is_char_boundary(e.offset()),
        "{input:?}: offset {} splits a character",
        e.offset()
    );
    let rest = &input[e.offset()..];
    match e.found().strip_suffix("...") {
        Some(prefix) if !rest.starts_with(e.found()) => {
            assert_eq!(prefix.chars().count(), 40, "{input:?}: {e:?}");
            assert!(rest.starts_with(prefix), "{input:?}: {e:?}");
        }
        _ => assert!(
            rest.starts_with(e.found()),
            "{input:?}: found {:?} is not at the offset",
            e.found()
        ),
    }
    assert_eq!(e.found().is_empty(), rest.is_empty(), "{input:?}: {e:?}");
    if !matches!(e.kind(), ErrorKind::TooLong { .. }) {
        assert_message(input, e);
    }
}

const fn exp(e: Expected) -> ErrorKind {
    ErrorKind::Expected(e)
}

/// Malformed filters, rejected identically in both modes: input, offset, found, kind.
const BAD_FILTERS: &[(&str, usize, &str, ErrorKind)] = &[
    ("", 0, "", exp(Expected::Filter)),
    ("   ", 3, "", exp(Expected::Filter)),
    ("userName", 8, "", exp(Expected::Operator)),
    ("userName ", 9, "", exp(Expected::Operator)),
    ("userName eq", 11, "", exp(Expected::Value)),
    ("userName eq ", 12, "", exp(Expected::Value)),
    (r#"userName eq"x""#, 11, r#""x""#, exp(Expected::Whitespace)),
    ("title prand x pr", 6, "prand", exp(Expected::Operator)),
    (r#"userName xx "x""#, 9, "xx", exp(Expected::Operator)),
    (r#"userName === "x""#, 9, "=", exp(Expected::Operator)),
    ("userName eq bjensen", 12, "bjensen", exp(Expected::Value)),
    (
        r#"userName eq "x" title pr"#,
        16,
        "title",
        exp(Expected::LogicalOperator),
    ),
    ("title pr)", 8, ")", exp(Expected::LogicalOperator)),
    ("title pr]", 8, "]", exp(Expected::LogicalOperator)),
    ("title pr title", 9, "title", exp(Expected::LogicalOperator)),
    ("(title pr", 9, "", exp(Expected::CloseParen)),
    ("(title pr]", 9, "]", exp(Expected::CloseParen)),
    ("a pr or (b pr", 13, "", exp(Expected::CloseParen)),
    ("not (a pr", 9, "", exp(Expected::CloseParen)),
    ("not title pr", 4, "title", exp(Expected::OpenParen)),
    ("not", 3, "", exp(Expected::OpenParen)),
    (
        r#"emails[type eq "work""#,
        21,
        "",
        exp(Expected::CloseBracket),
    ),
    (
        r#"emails[type eq "work")"#,
        21,
        ")",
        exp(Expected::CloseBracket),
    ),
    ("()", 1, ")", exp(Expected::Filter)),
    ("a[]", 2, "]", exp(Expected::Filter)),
    ("[a pr]", 0, "[", exp(Expected::Filter)),
    (")", 0, ")", exp(Expected::Filter)),
    ("a pr and ", 9, "", exp(Expected::Filter)),
    ("a pr and", 8, "", exp(Expected::Filter)),
    ("a pr or  or", 11, "", exp(Expected::Operator)),
    (r#"a eq "x"and b pr"#, 8, "and", exp(Expected::Whitespace)),
    ("1abc pr", 0, "1abc", exp(Expected::AttrName)),
    ("a$b pr", 1, "$b", exp(Expected::AttrName)),
    ("ré pr", 1, "é", exp(Expected::AttrName)),
    ("name. pr", 5, " ", exp(Expected::AttrName)),
    (
        "name.givenName.x pr",
        14,
        ".x",
        ErrorKind::SubAttributeDepth,
    ),
    ("urn:attr eq \"x\"", 0, "urn:attr", ErrorKind::InvalidUrn),
    ("userName:x pr", 0, "userName:x", ErrorKind::InvalidUrn),
    ("urn:x:y: eq \"x\"", 8, " ", exp(Expected::AttrName)),
    (
        r#"emails[type eq "work" and value[x pr]]"#,
        31,
        "[",
        ErrorKind::NestedValueFilter,
    ),
    ("a[(b[c pr])]", 4, "[", ErrorKind::NestedValueFilter),
    ("a gt true", 5, "true", ErrorKind::OrderingWithBooleanOrNull),
    ("a LE NULL", 5, "NULL", ErrorKind::OrderingWithBooleanOrNull),
    ("a eq 01", 5, "01", ErrorKind::InvalidNumber),
    ("a eq 1.", 5, "1.", ErrorKind::InvalidNumber),
    ("a eq 1e999", 5, "1e999", ErrorKind::InvalidNumber),
    ("a eq -", 5, "-", ErrorKind::InvalidNumber),
    ("a eq +1", 5, "+1", ErrorKind::InvalidNumber),
    (
        r#"a eq "bjensen"#,
        5,
        r#""bjensen"#,
        ErrorKind::UnterminatedString,
    ),
    (r#"a eq "a\qb""#, 7, r"\q", ErrorKind::InvalidEscape),
    (r#"a eq "\u12""#, 6, r"\u", ErrorKind::InvalidEscape),
    (r#"a eq "\ud83d""#, 6, r"\u", ErrorKind::LoneSurrogate),
    (
        r#"a eq "\ud83d\u0041""#,
        12,
        r"\u",
        ErrorKind::LoneSurrogate,
    ),
    ("a eq \"x\u{1}\"", 7, "\u{1}", ErrorKind::ControlCharacter),
];

#[test]
fn malformed_filters_say_where_what_and_why() {
    for (input, offset, found, kind) in BAD_FILTERS {
        for parser in [Parser::strict(), Parser::lenient()] {
            let e = match parser.parse_filter(input) {
                Ok(f) => panic!("{input:?} must not parse, got {f:?}"),
                Err(e) => e,
            };
            assert_eq!(
                (e.offset(), e.found(), e.kind()),
                (*offset, *found, kind),
                "{input:?}: {e}"
            );
            assert_eq!(
                e.expected(),
                match kind {
                    ErrorKind::Expected(x) => Some(*x),
                    _ => None,
                }
            );
            assert_well_formed(input, &e);
        }
    }
}

#[test]
fn error_messages_read_well() {
    let e = Parser::strict()
        .parse_filter(r#"userName eq"bjensen""#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"expected a space at byte 11, found `"bjensen"`"#
    );
    let e = Parser::strict().parse_filter("userName eq").unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected a value (a string in double quotes, a number, true, false or null) at byte 11, found the end of the input"
    );
    let e = Parser::strict().parse_filter("a gt null").unwrap_err();
    assert_eq!(
        e.to_string(),
        "gt, lt, ge and le cannot compare with true, false or null at byte 5, found `null`"
    );
    let e = Parser::strict().parse_filter(r#"a eq "x\q""#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid escape in string literal (allowed: \" \\ \/ \b \f \n \r \t \uXXXX) at byte 7, found `\q`"#
    );
    let e = Parser::strict().parse_filter("urn:attr pr").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid schema URN prefix (expected urn:...:attributeName) at byte 0, found `urn:attr`"
    );
    // Every `Expected` has its own wording.
    let all = [
        Expected::Filter,
        Expected::AttrName,
        Expected::Operator,
        Expected::Whitespace,
        Expected::Value,
        Expected::LogicalOperator,
        Expected::OpenParen,
        Expected::CloseParen,
        Expected::CloseBracket,
        Expected::End,
    ];
    let texts: std::collections::HashSet<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), all.len());
}

#[test]
fn found_is_a_token_shortened_to_40_characters() {
    let long = "é".repeat(50);
    let input = format!("a eq {long}");
    let e = Parser::strict().parse_filter(&input).unwrap_err();
    assert_eq!(e.offset(), 5);
    assert_eq!(e.found(), format!("{}...", "é".repeat(40)));
    assert_well_formed(&input, &e);

    let input = format!("a eq \"{}", "x".repeat(100));
    let e = Parser::strict().parse_filter(&input).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnterminatedString);
    assert_eq!(e.found(), format!("\"{}...", "x".repeat(39)));
    assert_well_formed(&input, &e);
}

/// Malformed PATCH paths: input, offset, found, kind (both modes).
const BAD_PATHS: &[(&str, usize, &str, ErrorKind)] = &[
    ("", 0, "", exp(Expected::AttrName)),
    ("[a pr]", 0, "[", exp(Expected::AttrName)),
    ("1x", 0, "1x", exp(Expected::AttrName)),
    (
        r#"members[value eq "x""#,
        20,
        "",
        exp(Expected::CloseBracket),
    ),
    (r#"members[value eq "x"]."#, 22, "", exp(Expected::AttrName)),
    (r#"members[value eq "x"]x"#, 21, "x", exp(Expected::End)),
    (
        r#"members[value eq "x"].display.x"#,
        29,
        ".x",
        exp(Expected::End),
    ),
    (
        r#"members[value eq "x"][y pr]"#,
        21,
        "[",
        exp(Expected::End),
    ),
    ("members[a[b pr]]", 9, "[", ErrorKind::NestedValueFilter),
    ("name.givenName.x", 14, ".x", ErrorKind::SubAttributeDepth),
    ("urn:attr", 0, "urn:attr", ErrorKind::InvalidUrn),
    ("urn:x:", 6, "", exp(Expected::AttrName)),
    ("members[]", 8, "]", exp(Expected::Filter)),
    (
        "members[a gt false]",
        13,
        "false",
        ErrorKind::OrderingWithBooleanOrNull,
    ),
    ("members pr", 8, "pr", exp(Expected::End)),
];

#[test]
fn malformed_paths_say_where_what_and_why() {
    for (input, offset, found, kind) in BAD_PATHS {
        for parser in [Parser::strict(), Parser::lenient()] {
            let e = match parser.parse_path(input) {
                Ok(p) => panic!("{input:?} must not parse, got {p:?}"),
                Err(e) => e,
            };
            // Strict mode does not skip the space before `pr`.
            let offset = if *input == "members pr" && parser == Parser::strict() {
                7
            } else {
                *offset
            };
            let found = if *input == "members pr" && parser == Parser::strict() {
                " "
            } else {
                *found
            };
            assert_eq!(
                (e.offset(), e.found(), e.kind()),
                (offset, found, kind),
                "{input:?}: {e}"
            );
            assert_well_formed(input, &e);
        }
    }
    // Attribute paths (`sortBy`, `attributes`).
    for (input, offset, kind) in [
        ("", 0, exp(Expected::AttrName)),
        ("name.", 5, exp(Expected::AttrName)),
        ("name[x pr]", 4, exp(Expected::End)),
        ("name givenName", 4, exp(Expected::End)),
        ("a.b.c", 3, ErrorKind::SubAttributeDepth),
    ] {
        let e = Parser::lenient().parse_attr_path(input).unwrap_err();
        assert_eq!((e.offset(), e.kind()), (offset, &kind), "{input:?}: {e}");
        assert_well_formed(input, &e);
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

/// A small thread stack: 256 KiB. Unoptimised builds use about 9 KiB of stack per nesting level
/// of the parser (release builds under 2 KiB), so the default depth limit of 32 needs about
/// 300 KiB there: debug builds get 1 MiB, still far from what 10,000 levels would need (90 MB).
const SMALL_STACK: usize = if cfg!(debug_assertions) {
    1024 * 1024
} else {
    256 * 1024
};

/// Runs `f` on a thread with a stack of `bytes`: a deep recursion there aborts the test process.
fn on_stack<T: Send + 'static>(bytes: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::Builder::new()
        .stack_size(bytes)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot spawn a thread: {e}"));
    match thread.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f` on a thread with [`SMALL_STACK`].
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    on_stack(SMALL_STACK, f)
}

#[test]
fn a_100_kb_filter_is_rejected_fast() {
    let input = format!(r#"userName eq "{}""#, "x".repeat(100_000));
    let start = Instant::now();
    for parser in [Parser::strict(), Parser::lenient()] {
        let e = parser.parse_filter(&input).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::TooLong {
                limit: Parser::DEFAULT_MAX_LEN
            }
        );
        assert_eq!(e.kind(), &ErrorKind::TooLong { limit: 64 * 1024 });
        assert_eq!(e.offset(), Parser::DEFAULT_MAX_LEN);
        assert_eq!(e.to_string(), "input is longer than 65536 bytes");
        let e = parser.parse_path(&input).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::TooLong {
                limit: Parser::DEFAULT_MAX_LEN
            }
        );
        let e = parser.parse_attr_path(&input).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::TooLong {
                limit: Parser::DEFAULT_MAX_LEN
            }
        );
    }
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "took {:?}",
        start.elapsed()
    );

    // Exactly at the limit is fine, and still quick.
    let at_limit = format!(r#"a eq "{}""#, "x".repeat(Parser::DEFAULT_MAX_LEN - 7));
    assert_eq!(at_limit.len(), Parser::DEFAULT_MAX_LEN);
    let start = Instant::now();
    assert!(at_limit.parse::<Filter>().is_ok());
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn ten_thousand_open_parentheses_are_too_deep_not_a_stack_overflow() {
    let input = "(".repeat(10_000);
    let e = on_small_stack(move || Parser::lenient().parse_filter(&input).unwrap_err());
    assert_eq!(
        e.kind(),
        &ErrorKind::TooDeep {
            limit: Parser::DEFAULT_MAX_DEPTH
        }
    );
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });
    assert_eq!((e.offset(), e.found()), (32, "("));
    assert_eq!(
        e.to_string(),
        "filter nests deeper than 32 levels at byte 32, found `(`"
    );

    // Balanced, with a term inside: the same.
    let input = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = on_small_stack(move || Parser::strict().parse_filter(&input).unwrap_err());
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TooDeep { limit: 32 }, 32)
    );
}

#[test]
fn recursion_is_bounded_by_the_depth_limit_on_a_256_kib_stack_in_any_build() {
    for input in [
        "(".repeat(10_000),
        "not (".repeat(10_000),
        format!("a[{}", "(".repeat(10_000)),
    ] {
        let e = on_stack(256 * 1024, move || {
            Parser::strict()
                .max_depth(16)
                .parse_filter(&input)
                .unwrap_err()
        });
        assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 16 });
    }
}

#[test]
fn ten_thousand_nots_are_too_deep() {
    let input = "not (".repeat(10_000);
    let e = on_small_stack(move || Parser::strict().parse_filter(&input).unwrap_err());
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });
    assert_eq!((e.offset(), e.found()), (32 * 5, "not"));
    let input = "not(".repeat(10_000);
    let e = on_small_stack(move || Parser::lenient().parse_filter(&input).unwrap_err());
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TooDeep { limit: 32 }, 32 * 4)
    );
}

#[test]
fn nested_brackets_are_refused_at_the_second_bracket() {
    let input = "a[".repeat(10_000);
    let e = on_small_stack(move || Parser::lenient().parse_filter(&input).unwrap_err());
    assert_eq!(
        (e.kind(), e.offset(), e.found()),
        (&ErrorKind::NestedValueFilter, 3, "[")
    );
    // Parentheses inside brackets count towards the depth.
    let input = format!("a[{}", "(".repeat(10_000));
    let e = on_small_stack(move || Parser::lenient().parse_filter(&input).unwrap_err());
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TooDeep { limit: 32 }, 33)
    );
    let input = format!("a[{}", "not (".repeat(10_000));
    let e = on_small_stack(move || Parser::lenient().parse_path(&input).unwrap_err());
    assert_eq!(e.kind(), &ErrorKind::TooDeep { limit: 32 });
}

#[test]
fn filters_at_the_depth_limit_parse_print_and_evaluate_on_a_small_stack() {
    let input = format!("{}a pr{}", "not (".repeat(31), ")".repeat(31));
    let input2 = format!("x[{}a pr{}]", "(".repeat(31), ")".repeat(31));
    let (printed, matched, printed2) = on_small_stack(move || {
        let f = Parser::strict().parse_filter(&input).unwrap();
        let g = Parser::strict().parse_filter(&input2).unwrap();
        let m = f.matches(&serde_json::json!({"a": 1}));
        assert_eq!(f.clone(), f);
        (f.to_string(), m, g.to_string())
    });
    assert_eq!(
        printed,
        format!("{}a pr{}", "not (".repeat(31), ")".repeat(31))
    );
    assert!(!matched, "31 negations of true");
    assert_eq!(printed2, "x[a pr]");
    // One more level is too deep.
    let input = format!("{}a pr{}", "not (".repeat(33), ")".repeat(33));
    assert_eq!(
        Parser::strict().parse_filter(&input).unwrap_err().kind(),
        &ErrorKind::TooDeep { limit: 32 }
    );
}

#[test]
fn two_thousand_terms_are_too_many() {
    let input = vec!["a pr"; 2_000].join(" or ");
    let e = on_small_stack(move || Parser::lenient().parse_filter(&input).unwrap_err());
    assert_eq!(
        e.kind(),
        &ErrorKind::TooManyTerms {
            limit: Parser::DEFAULT_MAX_TERMS
        }
    );
    assert_eq!(e.kind(), &ErrorKind::TooManyTerms { limit: 1000 });
    // The 1001st term, which starts after 1000 times "a pr or ".
    assert_eq!((e.offset(), e.found()), (1000 * 8, "a"));
    assert_eq!(
        e.to_string(),
        "filter has more than 1000 comparisons at byte 8000, found `a`"
    );

    // Exactly 1000 terms are fine, in both modes; terms inside brackets count.
    let input = vec!["a pr"; 1000].join(" or ");
    assert!(Parser::strict().parse_filter(&input).is_ok());
    let input = format!("x[{}] or b pr", vec!["a pr"; 1000].join(" and "));
    assert_eq!(
        Parser::strict().parse_filter(&input).unwrap_err().kind(),
        &ErrorKind::TooManyTerms { limit: 1000 }
    );
    // The lenient `x[...].sub op value` form counts its extra comparison.
    let input = format!(r"{} or x[a pr].b pr", vec!["a pr"; 999].join(" or "));
    assert_eq!(
        Parser::lenient().parse_filter(&input).unwrap_err().kind(),
        &ErrorKind::TooManyTerms { limit: 1000 }
    );
}

/// A 1000-term `and` chain is accepted with the default limits. Chains are kept flat, so the
/// tree is one level deep and printing, evaluating, cloning and comparing it stay shallow.
#[test]
fn the_largest_default_filter_is_usable_on_a_default_thread_stack() {
    let input = vec!["a pr"; 1000].join(" and ");
    let ok = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let f = Parser::strict().parse_filter(&input).unwrap();
            assert_eq!(f.to_string(), input);
            assert!(f.clone() == f);
            f.matches(&serde_json::json!({"a": 1}))
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(ok);
}

#[test]
fn the_largest_default_filter_is_usable_on_a_small_stack() {
    let input = vec!["a pr"; 1000].join(" and ");
    let ok = on_stack(256 * 1024, move || {
        let f = Parser::strict().parse_filter(&input).unwrap();
        assert_eq!(f.to_string(), input);
        assert!(f.clone() == f);
        f.matches(&serde_json::json!({"a": 1}))
    });
    assert!(ok);
}

#[test]
fn custom_limits() {
    let parser = Parser::strict().max_depth(2).max_terms(3).max_len(10);
    assert_eq!(parser.parse_filter("((a pr))").unwrap().to_string(), "a pr");
    assert_eq!(
        parser.parse_filter("a[(b pr)]").unwrap().to_string(),
        "a[b pr]"
    );
    let e = parser.parse_filter("(((a pr)))").unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TooDeep { limit: 2 }, 2)
    );
    assert_eq!(
        e.to_string(),
        "filter nests deeper than 2 levels at byte 2, found `(`"
    );
    let e = parser.parse_filter("a[((b pr))]").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooLong { limit: 10 }, "11 bytes");
    let e = parser.max_len(11).parse_filter("a[((b pr))]").unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::TooDeep { limit: 2 }, 3)
    );
    let e = parser.parse_filter("not (not (not (a pr)))").unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::TooLong { limit: 10 },
        "length is checked first"
    );
    assert_eq!(e.offset(), 10);
    assert_eq!(e.to_string(), "input is longer than 10 bytes");
    assert!(
        parser.parse_filter("a pr or b").is_err(),
        "9 bytes, but not a filter"
    );
    assert_eq!(
        parser.parse_filter("0123456789a").unwrap_err().kind(),
        &ErrorKind::TooLong { limit: 10 }
    );
    assert_eq!(
        parser.parse_path("members[x pr]").unwrap_err().kind(),
        &ErrorKind::TooLong { limit: 10 }
    );
    assert!(parser.parse_path("members").is_ok());

    // Terms, with room to write them.
    let parser = Parser::strict().max_depth(2).max_terms(3);
    assert!(parser.parse_filter("a pr or b pr or c pr").is_ok());
    let e = parser
        .parse_filter("a pr or b pr or c pr or d pr")
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.offset(), e.found()),
        (&ErrorKind::TooManyTerms { limit: 3 }, 24, "d")
    );
    assert_eq!(
        e.to_string(),
        "filter has more than 3 comparisons at byte 24, found `d`"
    );
    let e = parser
        .parse_filter("x[a pr and b pr and c pr] or y pr")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooManyTerms { limit: 3 });
    let e = parser
        .parse_path("x[a pr and b pr and c pr and d pr]")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooManyTerms { limit: 3 });

    // Zero depth: no group, `not` or value filter at all.
    let parser = Parser::lenient().max_depth(0);
    assert!(parser.parse_filter("a pr and b pr").is_ok());
    // The offset is the opening `(`, `not` or `[`.
    for (input, offset) in [("(a pr)", 0), ("not (a pr)", 0), ("a[b pr]", 1)] {
        let e = parser.parse_filter(input).unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (&ErrorKind::TooDeep { limit: 0 }, offset),
            "{input}"
        );
    }
    // A limit above the default.
    let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(Parser::lenient().parse_filter(&deep).is_err());
    assert!(Parser::lenient().max_depth(40).parse_filter(&deep).is_ok());
    // Builder methods compose with the mode.
    let lenient = Parser::strict().mode(Mode::Lenient).max_terms(5);
    assert!(lenient.parse_filter("a pr and(b pr)").is_ok());
    assert_eq!(Parser::default(), Parser::lenient());
    assert_eq!(Mode::default(), Mode::Lenient);
}

#[test]
fn too_long_offset_is_a_char_boundary() {
    let input = "é";
    let e = Parser::lenient()
        .max_len(1)
        .parse_filter(input)
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooLong { limit: 1 });
    assert!(input.is_char_boundary(e.offset()), "offset {}", e.offset());
}

// ---------------------------------------------------------------------------------------------
// Properties.

const TOKENS: &[&str] = &[
    "(", ")", "[", "]", "\"", "\\", "and", "or", "not", "eq", "pr", "title", " ", "\t", ".", ":",
    "urn:x:", "1", "-", "true", " and ", " or ", " eq ", " pr", "\"x\"", "\\u", "d83d", "e",
];

fn check_any(input: &str) {
    for parser in [Parser::strict(), Parser::lenient()] {
        match parser.parse_filter(input) {
            Ok(f) => {
                let canonical = f.to_string();
                let again = Parser::strict()
                    .parse_filter(&canonical)
                    .unwrap_or_else(|e| panic!("{input:?} parsed to {f:?}, whose canonical form {canonical:?} fails: {e}"));
                assert_eq!(again, f, "{input:?} via {canonical:?}");
            }
            Err(e) => assert_well_formed(input, &e),
        }
        match parser.parse_path(input) {
            Ok(p) => match Parser::strict().parse_path(&p.to_string()) {
                Ok(again) => assert_eq!(again, p, "{input:?}"),
                Err(e) => panic!("{input:?} parsed to {p:?}, which does not print parseably: {e}"),
            },
            Err(e) => assert_well_formed(input, &e),
        }
        match parser.parse_attr_path(input) {
            Ok(p) => match Parser::strict().parse_attr_path(&p.to_string()) {
                Ok(again) => assert_eq!(again, p, "{input:?}"),
                Err(e) => panic!("{input:?} parsed to {p:?}, which does not print parseably: {e}"),
            },
            Err(e) => assert_well_formed(input, &e),
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic_and_errors_point_inside(input in ".{0,64}") {
        check_any(&input);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(input in proptest::collection::vec(any::<u8>(), 0..48)) {
        check_any(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn token_soup_never_panics_and_errors_point_inside(
        tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..24)
    ) {
        check_any(&tokens.concat());
    }

    #[test]
    fn almost_valid_filters_never_panic(
        base in proptest::sample::select(&[
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"emails[type eq "work" and value co "@example.com"] or not (title pr)"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "\u00e9\ud83d\ude00""#,
            "n ge -2.5E-3 and m lt 18446744073709551616",
        ][..]),
        cut in 0usize..120,
        insert in proptest::sample::select(TOKENS),
    ) {
        // Truncate at, or insert a token at, an arbitrary character boundary.
        let at = base.char_indices().map(|(i, _)| i).chain([base.len()]).nth(cut % (base.chars().count() + 1)).unwrap();
        check_any(&base[..at]);
        check_any(&format!("{}{insert}{}", &base[..at], &base[at..]));
    }
}
