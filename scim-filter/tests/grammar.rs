//! The filter and PATCH path grammar: precedence and associativity, keywords and operators in any
//! case, literals (numbers, strings and their escapes), schema URN prefixes, whitespace, strict and
//! lenient modes, and every example filter of RFC 7644 §3.4.2.2 and of the SCIM 1.1 specification.

use scim_filter::{
    AttrPath, CompValue, CompareOp, ErrorKind, Expected, Filter, ParseError, Parser, PatchPath,
    Text,
};
use serde_json::Number;

mod common;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn path(s: &str) -> AttrPath {
    Parser::strict()
        .parse_attr_path(s)
        .unwrap_or_else(|e| panic!("attribute path {s:?}: {e}"))
}

fn pr(s: &str) -> Filter {
    Filter::present(path(s))
}

fn cmp(p: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::compare(path(p), op, v)
}

fn eq(p: &str, v: &str) -> Filter {
    Filter::eq_str(path(p), v)
}

fn s(v: &str) -> CompValue {
    CompValue::String(Text::new(v))
}

fn vp(p: &str, inner: Filter) -> Filter {
    Filter::value_path(path(p), inner)
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::and(l, r)
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::or(l, r)
}

fn not(f: Filter) -> Filter {
    Filter::not(f)
}

fn strict(input: &str) -> Filter {
    Parser::strict()
        .parse_filter(input)
        .unwrap_or_else(|e| panic!("{input:?} must parse strictly: {e}"))
}

fn lenient(input: &str) -> Filter {
    Parser::lenient()
        .parse_filter(input)
        .unwrap_or_else(|e| panic!("{input:?} must parse leniently: {e}"))
}

/// Parses in both modes, which must agree, and checks that the canonical form parses back to the
/// same tree.
fn both(input: &str) -> Filter {
    let f = strict(input);
    assert_eq!(lenient(input), f, "modes disagree on {input:?}");
    let canonical = f.to_string();
    assert_eq!(strict(&canonical), f, "{input:?} via {canonical:?}");
    f
}

fn strict_err(input: &str) -> ParseError {
    match Parser::strict().parse_filter(input) {
        Ok(f) => panic!("{input:?} must not parse strictly, got {f:?}"),
        Err(e) => e,
    }
}

fn both_err(input: &str) -> ParseError {
    let e = strict_err(input);
    match Parser::lenient().parse_filter(input) {
        Ok(f) => panic!("{input:?} must not parse leniently, got {f:?}"),
        Err(l) => assert_eq!(l, e, "modes report {input:?} differently"),
    }
    e
}

fn value_of(f: &Filter) -> &CompValue {
    match f {
        Filter::Compare(_, _, v) => v,
        other => panic!("not a comparison: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Precedence, associativity, grouping.

/// `pr` reads the same on the fast path (lower case and one space, then ` and`/` or`, `)`, `]` or
/// the end) as on the general one (any case, tabs, several spaces), and a longer word is no `pr`.
#[test]
fn present_reads_the_same_in_every_spelling() {
    let expected = or(and(pr("title"), pr("x")), vp("emails", pr("value")));
    for input in [
        "title pr and x pr or emails[value pr]",
        "title PR and x Pr or emails[value pR]",
        "title\tpr  and x pr\tor emails[ value pr ]",
        "(title pr) and (x pr) or emails[(value pr)]",
    ] {
        assert_eq!(both(input), expected, "{input:?}");
    }
    for (input, at, what) in [
        ("title prx and x pr", 6, Expected::Operator),
        ("title pr_ and x pr", 8, Expected::LogicalOperator),
    ] {
        let e = both_err(input);
        assert_eq!(e.offset(), at, "{input:?}");
        assert_eq!(e.kind(), &ErrorKind::Expected(what), "{input:?}");
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let f = both("a pr or b pr and c pr");
    assert_eq!(f, or(pr("a"), and(pr("b"), pr("c"))));
    assert_eq!(f.to_string(), "a pr or b pr and c pr");

    let f = both("a pr and b pr or c pr");
    assert_eq!(f, or(and(pr("a"), pr("b")), pr("c")));
    assert_eq!(f.to_string(), "a pr and b pr or c pr");

    let f = both("a pr or b pr and c pr or d pr");
    assert_eq!(f, or(or(pr("a"), and(pr("b"), pr("c"))), pr("d")));
}

#[test]
fn chains_of_and_and_or_are_flat() {
    let f = both("a pr and b pr and c pr");
    let Filter::And(ops) = &f else {
        panic!("expected And, got {f:?}")
    };
    assert_eq!(ops.as_slice(), [pr("a"), pr("b"), pr("c")]);
    // Both groupings build the same tree: the operators are associative.
    assert_eq!(f, and(and(pr("a"), pr("b")), pr("c")));
    assert_eq!(f, and(pr("a"), and(pr("b"), pr("c"))));
    assert_eq!(f.to_string(), "a pr and b pr and c pr");

    let f = both("a pr or b pr or c pr");
    let Filter::Or(ops) = &f else {
        panic!("expected Or, got {f:?}")
    };
    assert_eq!(ops.len(), 3);
    assert_eq!(f, or(or(pr("a"), pr("b")), pr("c")));
    assert_eq!(f.to_string(), "a pr or b pr or c pr");

    // `and` binds tighter: one Or of [a, And[b, c], d].
    let f = both("a pr or b pr and c pr or d pr");
    let Filter::Or(ops) = &f else {
        panic!("expected Or, got {f:?}")
    };
    assert_eq!(ops.as_slice(), [pr("a"), and(pr("b"), pr("c")), pr("d")]);
}

#[test]
fn parentheses_override_precedence_and_associativity() {
    let f = both("(a pr or b pr) and c pr");
    assert_eq!(f, and(or(pr("a"), pr("b")), pr("c")));
    assert_eq!(f.to_string(), "(a pr or b pr) and c pr");

    // Regrouping a chain of one operator changes nothing: the parentheses are redundant.
    let f = both("a pr and (b pr and c pr)");
    assert_eq!(f, both("a pr and b pr and c pr"));
    assert_eq!(f.to_string(), "a pr and b pr and c pr");

    let f = both("a pr or (b pr or c pr)");
    assert_eq!(f, both("a pr or b pr or c pr"));
    assert_eq!(f.to_string(), "a pr or b pr or c pr");

    let f = both("a pr and (b pr or c pr)");
    assert_eq!(f, and(pr("a"), or(pr("b"), pr("c"))));
    assert_eq!(f.to_string(), "a pr and (b pr or c pr)");
}

#[test]
fn redundant_parentheses_leave_no_trace() {
    assert_eq!(both("((a pr))"), pr("a"));
    assert_eq!(
        both("(a pr) or ((b pr and c pr))"),
        both("a pr or b pr and c pr")
    );
    assert_eq!(
        both("(a pr and b pr) and c pr"),
        both("a pr and b pr and c pr")
    );
    assert_eq!(
        both("((a pr or b pr)) or c pr").to_string(),
        "a pr or b pr or c pr"
    );
    assert_eq!(both("( a pr )"), pr("a"));
}

#[test]
fn not_applies_to_its_group_only() {
    let f = both("not (a pr) and b pr");
    assert_eq!(f, and(not(pr("a")), pr("b")));
    assert_eq!(f.to_string(), "not (a pr) and b pr");

    let f = both("not (a pr or b pr)");
    assert_eq!(f, not(or(pr("a"), pr("b"))));
    assert_eq!(f.to_string(), "not (a pr or b pr)");

    let f = both("b pr or not (not (a pr))");
    assert_eq!(f, or(pr("b"), not(not(pr("a")))));

    // `not(` without a space is what the ABNF writes: `"not" "(" valFilter ")"`.
    assert_eq!(both("not(a pr)"), not(pr("a")));
    assert_eq!(both("not \t (a pr)"), not(pr("a")));
}

#[test]
fn value_filters_hold_nested_logic() {
    let f = both(r#"emails[type eq "work" and (value co "@x.org" or primary eq true)]"#);
    let inner = and(
        eq("type", "work"),
        or(
            cmp("value", CompareOp::Co, s("@x.org")),
            cmp("primary", CompareOp::Eq, CompValue::Bool(true)),
        ),
    );
    assert_eq!(f, vp("emails", inner));

    let f = both(r#"emails[not (type eq "work")] or title pr and x[y pr or z pr]"#);
    assert_eq!(
        f,
        or(
            vp("emails", not(eq("type", "work"))),
            and(pr("title"), vp("x", or(pr("y"), pr("z")))),
        )
    );
    assert_eq!(
        f.to_string(),
        r#"emails[not (type eq "work")] or title pr and x[y pr or z pr]"#
    );

    // A value filter on a path with a sub-attribute and on a schema-qualified path.
    let f = both(&format!("{ENTERPRISE}:manager[value pr]"));
    assert_eq!(f, vp(&format!("{ENTERPRISE}:manager"), pr("value")));
    let f = both("name.x[y pr]");
    match &f {
        Filter::ValuePath(p, _) => assert_eq!((p.name(), p.sub_attr()), ("name", Some("x"))),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Operators, keywords and literals in any case.

#[test]
fn every_operator_in_any_case() {
    for (op, word) in common::OPS {
        assert_eq!(op.as_str(), word);
        assert_eq!(op.to_string(), word);
        assert_eq!(op.is_ordering(), matches!(word, "gt" | "lt" | "ge" | "le"));
        let mut chars = word.chars();
        let (a, b) = (chars.next().unwrap(), chars.next().unwrap());
        for spelled in [
            word.to_owned(),
            word.to_uppercase(),
            format!("{}{b}", a.to_ascii_uppercase()),
            format!("{a}{}", b.to_ascii_uppercase()),
        ] {
            let f = both(&format!(r#"title {spelled} "x""#));
            assert_eq!(f, cmp("title", op, s("x")), "{spelled}");
            assert_eq!(f.to_string(), format!(r#"title {word} "x""#));
        }
    }
    for spelled in ["pr", "PR", "Pr", "pR"] {
        let f = both(&format!("title {spelled}"));
        assert_eq!(f, pr("title"));
        assert_eq!(f.to_string(), "title pr");
    }
}

#[test]
fn logical_keywords_in_any_case() {
    let expected = or(and(pr("a"), not(pr("b"))), pr("c"));
    for input in [
        "a pr and not (b pr) or c pr",
        "a pr AND NOT (b pr) OR c pr",
        "a pr And Not (b pr) Or c pr",
        "a pr aNd nOt (b pr) oR c pr",
    ] {
        let f = both(input);
        assert_eq!(f, expected, "{input}");
        assert_eq!(f.to_string(), "a pr and not (b pr) or c pr");
    }
}

#[test]
fn boolean_and_null_literals_in_any_case() {
    for (text, value) in [
        ("true", CompValue::Bool(true)),
        ("TRUE", CompValue::Bool(true)),
        ("True", CompValue::Bool(true)),
        ("false", CompValue::Bool(false)),
        ("False", CompValue::Bool(false)),
        ("fALSE", CompValue::Bool(false)),
        ("null", CompValue::Null),
        ("NULL", CompValue::Null),
        ("Null", CompValue::Null),
    ] {
        let f = both(&format!("active eq {text}"));
        assert_eq!(value_of(&f), &value, "{text}");
        assert_eq!(f.to_string(), format!("active eq {}", text.to_lowercase()));
    }
    // A bare word that merely starts like a literal is not one.
    for input in ["a eq truex", "a eq nul", "a eq yes", "a eq True1"] {
        assert_eq!(
            both_err(input).kind(),
            &ErrorKind::Expected(Expected::Value),
            "{input}"
        );
    }
}

#[test]
fn numbers_are_json_numbers_integers_stay_exact() {
    let cases: &[(&str, Number, &str)] = &[
        ("0", Number::from(0u64), "0"),
        ("-0", Number::from(0u64), "0"),
        ("-1", Number::from(-1i64), "-1"),
        ("42", Number::from(42u64), "42"),
        ("25.52", Number::from_f64(25.52).unwrap(), "25.52"),
        ("1e3", Number::from_f64(1000.0).unwrap(), "1000.0"),
        ("1E+3", Number::from_f64(1000.0).unwrap(), "1000.0"),
        ("-2.5E-3", Number::from_f64(-0.0025).unwrap(), "-0.0025"),
        ("1.0", Number::from_f64(1.0).unwrap(), "1.0"),
        ("0.5e-1", Number::from_f64(0.05).unwrap(), "0.05"),
        (
            "18446744073709551615",
            Number::from(u64::MAX),
            "18446744073709551615",
        ),
        (
            "-9223372036854775808",
            Number::from(i64::MIN),
            "-9223372036854775808",
        ),
        (
            "18446744073709551616",
            Number::from_f64(18_446_744_073_709_551_616.0).unwrap(),
            "1.8446744073709552e+19",
        ),
        (
            "-9223372036854775809",
            Number::from_f64(-9_223_372_036_854_775_809.0).unwrap(),
            "-9.223372036854776e+18",
        ),
    ];
    for (text, number, canonical) in cases {
        let f = both(&format!("n eq {text}"));
        assert_eq!(
            value_of(&f),
            &CompValue::Number(number.clone()),
            "{text} parsed as {f:?}"
        );
        assert_eq!(f.to_string(), format!("n eq {canonical}"), "{text}");
    }
    // Integers and floats are different literals, even when numerically equal.
    assert_ne!(both("n eq 1"), both("n eq 1.0"));
    assert!(
        value_of(&both("n eq 18446744073709551615"))
            != value_of(&both("n eq 1.8446744073709552e19"))
    );
    // A number is followed by a space, `)`, `]` or the end.
    assert_eq!(both("(n eq 1)"), both("n eq 1"));
    assert_eq!(
        both("x[n eq -1]"),
        vp(
            "x",
            cmp("n", CompareOp::Eq, CompValue::Number((-1i64).into()))
        )
    );
}

#[test]
fn malformed_numbers_are_rejected() {
    for (text, kind, at) in [
        ("01", ErrorKind::InvalidNumber, 0),
        ("-01", ErrorKind::InvalidNumber, 0),
        ("00", ErrorKind::InvalidNumber, 0),
        ("1.", ErrorKind::InvalidNumber, 0),
        ("1.e3", ErrorKind::InvalidNumber, 0),
        ("1e", ErrorKind::InvalidNumber, 0),
        ("1e+", ErrorKind::InvalidNumber, 0),
        ("-", ErrorKind::InvalidNumber, 0),
        ("--1", ErrorKind::InvalidNumber, 0),
        ("-a", ErrorKind::InvalidNumber, 0),
        ("1e999", ErrorKind::InvalidNumber, 0),
        ("-1e999", ErrorKind::InvalidNumber, 0),
        // Not JSON numbers, but clearly meant as numbers.
        (".5", ErrorKind::InvalidNumber, 0),
        ("+1", ErrorKind::InvalidNumber, 0),
        // Not the start of a number at all: "a value" was expected.
        ("+", ErrorKind::Expected(Expected::Value), 0),
        // A valid number followed by something that is not a separator.
        ("1.5.5", ErrorKind::Expected(Expected::Whitespace), 3),
        ("1x", ErrorKind::Expected(Expected::Whitespace), 1),
        ("0x10", ErrorKind::Expected(Expected::Whitespace), 1),
    ] {
        let input = format!("n eq {text}");
        let e = both_err(&input);
        assert_eq!((e.kind(), e.offset()), (&kind, 5 + at), "{input}: {e}");
    }
}

#[test]
fn string_escapes_decode_and_print_canonically() {
    let f = both(r#"a eq "q\" b\\ s\/ \b\f\n\r\t \u00e9\u00E9 \ud83d\ude00 \u0000\u001F\u0041""#);
    assert_eq!(
        value_of(&f),
        &s("q\" b\\ s/ \u{8}\u{c}\n\r\t éé 😀 \u{0}\u{1f}A")
    );
    assert_eq!(
        f.to_string(),
        r#"a eq "q\" b\\ s/ \b\f\n\r\t éé 😀 \u0000\u001fA""#
    );
    // Raw non-ASCII, DEL and U+2028 need no escape.
    let f = both("a eq \"é😀\u{7f}\u{2028}\"");
    assert_eq!(value_of(&f), &s("é😀\u{7f}\u{2028}"));
    assert_eq!(f.to_string(), "a eq \"é😀\u{7f}\u{2028}\"");
    // The empty string and a string of only escapes.
    assert_eq!(value_of(&both(r#"a eq """#)), &s(""));
    assert_eq!(value_of(&both(r#"a eq "\\""#)), &s("\\"));
    // Strings that differ only in escapes are the same filter.
    assert_eq!(both(r#"a eq "\u0062j\/""#), both(r#"a eq "bj/""#));
}

#[test]
fn malformed_strings_are_rejected() {
    for (input, kind, offset) in [
        (r#"a eq "\ud83d""#, ErrorKind::LoneSurrogate, 6),
        (r#"a eq "\ud83dx""#, ErrorKind::LoneSurrogate, 6),
        (r#"a eq "\ud83d\u0041""#, ErrorKind::LoneSurrogate, 12),
        (r#"a eq "\ud83d\ud83d""#, ErrorKind::LoneSurrogate, 12),
        (r#"a eq "\ude00""#, ErrorKind::LoneSurrogate, 6),
        (r#"a eq "x\udfff""#, ErrorKind::LoneSurrogate, 7),
        (r#"a eq "\u12""#, ErrorKind::InvalidEscape, 6),
        (r#"a eq "\u12G4""#, ErrorKind::InvalidEscape, 6),
        (r#"a eq "\u""#, ErrorKind::InvalidEscape, 6),
        (r#"a eq "\x41""#, ErrorKind::InvalidEscape, 6),
        (r#"a eq "\'""#, ErrorKind::InvalidEscape, 6),
        (r#"a eq "ab\a""#, ErrorKind::InvalidEscape, 8),
        ("a eq \"x\ty\"", ErrorKind::ControlCharacter, 7),
        ("a eq \"\n\"", ErrorKind::ControlCharacter, 6),
        ("a eq \"\\n\u{1f}\"", ErrorKind::ControlCharacter, 8),
        ("a eq \"\u{0}\"", ErrorKind::ControlCharacter, 6),
        (r#"a eq "bjensen"#, ErrorKind::UnterminatedString, 5),
        (r#"a eq "bj\"ensen"#, ErrorKind::UnterminatedString, 5),
        (r#"a eq "bj\"#, ErrorKind::UnterminatedString, 5),
        (r#"a eq ""#, ErrorKind::UnterminatedString, 5),
    ] {
        let e = both_err(input);
        assert_eq!((e.kind(), e.offset()), (&kind, offset), "{input:?}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute paths and schema URNs.

#[test]
fn urn_prefixed_paths_split_at_the_attribute() {
    let input = format!("{ENTERPRISE}:manager.value");
    for parser in [Parser::strict(), Parser::lenient()] {
        let p = parser.parse_attr_path(&input).unwrap();
        assert_eq!(p.schema(), Some(ENTERPRISE));
        assert_eq!(p.name(), "manager");
        assert_eq!(p.sub_attr(), Some("value"));
        assert_eq!(p.to_string(), input);
        assert_eq!(
            p,
            AttrPath::new("manager")
                .unwrap()
                .with_sub_attr("value")
                .unwrap()
                .with_schema(ENTERPRISE)
                .unwrap()
        );
    }

    // IDP-QUIRKS #12: the dot in the URN's version does not start a sub-attribute.
    let f = both(&format!(r#"{ENTERPRISE}:employeeId eq "x""#));
    assert_eq!(
        f,
        Filter::eq_str(
            AttrPath::new("employeeId")
                .unwrap()
                .with_schema(ENTERPRISE)
                .unwrap(),
            "x"
        )
    );
    assert_eq!(f.to_string(), format!(r#"{ENTERPRISE}:employeeId eq "x""#));

    let f = both(&format!(r#"{CORE_USER}:userName sw "J""#));
    match &f {
        Filter::Compare(p, CompareOp::Sw, v) => {
            assert_eq!(
                (p.schema(), p.name(), p.sub_attr()),
                (Some(CORE_USER), "userName", None)
            );
            assert_eq!(v, &s("J"));
        }
        other => panic!("{other:?}"),
    }

    // SCIM 1.1 URNs contain a dot in their version, like 2.0's.
    let p = path("urn:scim:schemas:core:1.0:name.familyName");
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (
            Some("urn:scim:schemas:core:1.0"),
            "name",
            Some("familyName")
        )
    );
    // Any URN: the attribute follows the last colon.
    let p = path("urn:x:y:z:attr.sub");
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (Some("urn:x:y:z"), "attr", Some("sub"))
    );
    // The `urn:` prefix is case-insensitive and kept as written.
    let p = path("URN:X:attr");
    assert_eq!((p.schema(), p.name()), (Some("URN:X"), "attr"));
}

#[test]
fn malformed_urn_prefixes_are_rejected() {
    for (input, kind, offset) in [
        ("urn:attr pr", ErrorKind::InvalidUrn, 0),
        ("userName:x pr", ErrorKind::InvalidUrn, 0),
        ("urn::x pr", ErrorKind::InvalidUrn, 0),
        ("urn:x:y: pr", ErrorKind::Expected(Expected::AttrName), 8),
    ] {
        let e = both_err(input);
        assert_eq!((e.kind(), e.offset()), (&kind, offset), "{input:?}: {e}");
    }
    assert!(AttrPath::new("x").unwrap().with_schema("urn:").is_none());
    assert!(AttrPath::new("x").unwrap().with_schema("urn:x:").is_none());
    assert!(
        AttrPath::new("x")
            .unwrap()
            .with_schema("urn:a::b")
            .is_none()
    );
    assert!(
        AttrPath::new("x")
            .unwrap()
            .with_schema("http://x")
            .is_none()
    );
    assert!(AttrPath::new("x").unwrap().with_schema("urn:x y").is_none());
}

#[test]
fn ref_is_an_attribute_and_a_sub_attribute() {
    let f = both(r#"$ref eq "https://example.com/v2/Users/1""#);
    assert_eq!(f, eq("$ref", "https://example.com/v2/Users/1"));
    let f = both("members.$ref pr");
    match &f {
        Filter::Present(p) => assert_eq!((p.name(), p.sub_attr()), ("members", Some("$ref"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.to_string(), "members.$ref pr");
    let f = both(r#"members[$ref sw "https:"]"#);
    assert_eq!(f, vp("members", cmp("$ref", CompareOp::Sw, s("https:"))));
    assert_eq!(both("urn:x:y:$ref pr"), pr("urn:x:y:$ref"));
    assert_eq!(AttrPath::new("$ref").unwrap().to_string(), "$ref");
    assert_eq!(
        AttrPath::new("members")
            .unwrap()
            .with_sub_attr("$ref")
            .unwrap()
            .to_string(),
        "members.$ref"
    );
    // Only `$ref` may start with `$`.
    assert!(AttrPath::new("$refs").is_none());
    assert!(AttrPath::new("$x").is_none());
    assert_eq!(
        both_err("$reff pr").kind(),
        &ErrorKind::Expected(Expected::AttrName)
    );
    assert_eq!(
        both_err("a$b pr").kind(),
        &ErrorKind::Expected(Expected::AttrName)
    );
}

#[test]
fn attribute_names_keep_their_case() {
    let f = both(r#"USERNAME eq "x""#);
    assert_eq!(f.to_string(), r#"USERNAME eq "x""#);
    match &f {
        Filter::Compare(p, _, _) => assert_eq!(p.name(), "USERNAME"),
        other => panic!("{other:?}"),
    }
    // Trees compare names exactly, so they remember the spelling; evaluation ignores it.
    assert_ne!(f, both(r#"userName eq "x""#));
    assert_eq!(both("Name.GivenName pr").to_string(), "Name.GivenName pr");
}

#[test]
fn attribute_names_follow_the_abnf() {
    for name in ["a", "userName", "x509Certificates", "a-b_c", "Z9"] {
        assert_eq!(AttrPath::new(name).unwrap().name(), name);
        assert_eq!(both(&format!("{name} pr")), pr(name));
    }
    for name in ["", "1a", "-a", "_a", "a.b", "a b", "é", "a[", "a:b"] {
        assert!(AttrPath::new(name).is_none(), "{name:?}");
    }
    assert!(AttrPath::new("a").unwrap().with_sub_attr("1").is_none());
    // A non-ASCII letter ends the name where it stands.
    let e = both_err("ré pr");
    assert_eq!(
        (e.kind(), e.offset(), e.found()),
        (&ErrorKind::Expected(Expected::AttrName), 1, "é")
    );
    let e = both_err("1abc pr");
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::Expected(Expected::AttrName), 0)
    );
    let e = both_err("name.givenName.x pr");
    assert_eq!(
        (e.kind(), e.offset(), e.found()),
        (&ErrorKind::SubAttributeDepth, 14, ".x")
    );
}

#[test]
fn keywords_can_be_attribute_names() {
    assert_eq!(both("not pr"), pr("not"));
    assert_eq!(both(r#"not eq "x""#), eq("not", "x"));
    assert_eq!(both("not.x pr"), pr("not.x"));
    assert_eq!(both("and pr or or pr"), or(pr("and"), pr("or")));
    assert_eq!(both("pr pr"), pr("pr"));
    assert_eq!(both(r#"eq eq "eq""#), eq("eq", "eq"));
    assert_eq!(
        both("notes pr and nothing pr"),
        and(pr("notes"), pr("nothing"))
    );
    assert_eq!(both("x[not pr]"), vp("x", pr("not")));
    // `not` followed by something that is neither `(` nor an operator wants a parenthesis.
    let e = both_err("not title pr");
    assert_eq!((e.expected(), e.offset()), (Some(Expected::OpenParen), 4));
}

#[test]
fn value_filter_on_an_attribute_named_not() {
    let f = vp("not", eq("type", "work"));
    assert_eq!(f.to_string(), r#"not[type eq "work"]"#);
    assert_eq!(both(r#"not[type eq "work"]"#), f);
    assert_eq!(
        both(r#"NOT[type eq "work"] or a pr"#),
        or(vp("NOT", eq("type", "work")), pr("a"))
    );
}

// ---------------------------------------------------------------------------------------------
// Whitespace.

#[test]
fn runs_of_spaces_and_tabs_are_accepted() {
    let expected = or(and(pr("a"), eq("b", "x")), vp("emails", eq("type", "work")));
    for input in [
        r#"a pr and b eq "x" or emails[type eq "work"]"#,
        "a  pr   and\tb\t\teq \t \"x\"  or  emails[ type  eq  \"work\" ]",
        "  a pr and b eq \"x\" or emails[type eq \"work\"]\t ",
        "(\ta pr and b eq \"x\"\t) or emails[\ttype eq \"work\"\t]",
    ] {
        assert_eq!(both(input), expected, "{input:?}");
    }
    // Spaces inside a string literal are part of the value; a raw tab there is a control
    // character.
    assert_eq!(value_of(&both("a eq \"  x \"")), &s("  x "));
    assert_eq!(
        both_err("a eq \" \t\"").kind(),
        &ErrorKind::ControlCharacter
    );
}

#[test]
fn a_missing_required_space_is_reported_where_it_is_missing() {
    for (input, offset, expected, found) in [
        (r#"userName eq"x""#, 11, Expected::Whitespace, r#""x""#),
        (r#"userName  eq"x""#, 12, Expected::Whitespace, r#""x""#),
        ("title prand x pr", 6, Expected::Operator, "prand"),
        (
            r#"userName eq "x"and b pr"#,
            15,
            Expected::Whitespace,
            "and",
        ),
        ("a eq 1and b pr", 6, Expected::Whitespace, "and"),
        (r#"userNameeq "x""#, 11, Expected::Operator, r#""x""#),
        ("a pr andb pr", 5, Expected::LogicalOperator, "andb"),
        ("(a pr)and b pr", 6, Expected::LogicalOperator, "and"),
        ("a[b pr]c pr", 7, Expected::LogicalOperator, "c"),
    ] {
        let e = both_err(input);
        assert_eq!(
            (e.offset(), e.expected(), e.found()),
            (offset, Some(expected), found),
            "{input:?}: {e}"
        );
    }
}

#[test]
fn logical_operator_directly_before_a_parenthesis_is_lenient_only() {
    for (input, tree) in [
        ("a pr and(b pr)", and(pr("a"), pr("b"))),
        ("a pr or(b pr or c pr)", or(pr("a"), or(pr("b"), pr("c")))),
        ("a pr AND(b pr)", and(pr("a"), pr("b"))),
        ("a pr and not (b pr)", and(pr("a"), not(pr("b")))),
    ] {
        assert_eq!(lenient(input), tree, "{input}");
    }
    for (input, offset) in [
        ("a pr and(b pr)", 8),
        ("a pr or(b pr or c pr)", 7),
        ("a pr AND(b pr)", 8),
    ] {
        let e = strict_err(input);
        assert_eq!(
            (e.offset(), e.expected(), e.found()),
            (offset, Some(Expected::Whitespace), "("),
            "{input}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient-only forms.

#[test]
fn comparison_after_a_value_filter_joins_the_bracket_in_lenient_mode() {
    // IDP-QUIRKS #11.
    let input = r#"emails[type eq "work"].value eq "x""#;
    let f = lenient(input);
    assert_eq!(f, lenient(r#"emails[type eq "work" and value eq "x"]"#));
    assert_eq!(f, vp("emails", and(eq("type", "work"), eq("value", "x"))));
    assert_eq!(f.to_string(), r#"emails[type eq "work" and value eq "x"]"#);
    assert_eq!(f, input.parse::<Filter>().unwrap(), "FromStr is lenient");

    let e = strict_err(input);
    assert_eq!(
        (e.offset(), e.expected(), e.found()),
        (22, Some(Expected::LogicalOperator), ".value")
    );

    // `pr` too, and inside a larger filter; the inner `or` keeps its grouping.
    assert_eq!(
        lenient(r#"emails[type eq "work"].display pr"#),
        vp("emails", and(eq("type", "work"), pr("display")))
    );
    assert_eq!(
        lenient(
            r#"userType eq "E" and emails[type eq "a" or type eq "b"].value co "@x" or title pr"#
        ),
        or(
            and(
                eq("userType", "E"),
                vp(
                    "emails",
                    and(
                        or(eq("type", "a"), eq("type", "b")),
                        cmp("value", CompareOp::Co, s("@x"))
                    ),
                ),
            ),
            pr("title"),
        )
    );
    // Only one sub-attribute, and a comparison must follow it.
    assert!(
        Parser::lenient()
            .parse_filter(r#"emails[type eq "work"].value"#)
            .is_err()
    );
    assert!(
        Parser::lenient()
            .parse_filter(r#"emails[type eq "work"].value.x eq "y""#)
            .is_err()
    );
}

#[test]
fn entra_dotted_enterprise_manager_path() {
    // Entra ID joins the well-known URN to its attribute with `.` (documented on `Mode::Lenient`).
    let dotted = format!("{ENTERPRISE}.manager");
    let p = Parser::lenient().parse_attr_path(&dotted).unwrap();
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (Some(ENTERPRISE), "manager", None)
    );
    assert_eq!(p.to_string(), format!("{ENTERPRISE}:manager"));
    let p = Parser::lenient()
        .parse_attr_path(&format!("{dotted}.value"))
        .unwrap();
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (Some(ENTERPRISE), "manager", Some("value"))
    );
    let f = lenient(&format!(r#"{dotted}.value eq "26118915""#));
    assert_eq!(
        f.to_string(),
        format!(r#"{ENTERPRISE}:manager.value eq "26118915""#)
    );
    let p: PatchPath = dotted.parse().unwrap();
    assert_eq!(p.attr().name(), "manager");

    // Strict mode splits at the last colon, as for any URN: the schema loses its `:User` and the
    // attribute is `User` with sub-attribute `manager`. Undocumented, but it is what the ABNF says.
    let p = Parser::strict().parse_attr_path(&dotted).unwrap();
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "User",
            Some("manager")
        )
    );
    assert_ne!(p, Parser::lenient().parse_attr_path(&dotted).unwrap());
    // ... and with a further `.value` there is one sub-attribute too many.
    let e = Parser::strict()
        .parse_attr_path(&format!("{dotted}.value"))
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (&ErrorKind::SubAttributeDepth, dotted.len())
    );
    // Unknown URNs get no such treatment in either mode.
    let p = Parser::lenient()
        .parse_attr_path("urn:x:y.manager")
        .unwrap();
    assert_eq!(
        (p.schema(), p.name(), p.sub_attr()),
        (Some("urn:x"), "y", Some("manager"))
    );
}

// ---------------------------------------------------------------------------------------------
// Ordering operators and literals.

#[test]
fn ordering_with_booleans_or_null_is_rejected() {
    for op in ["gt", "ge", "lt", "le", "GT", "Le"] {
        for value in ["true", "false", "null", "TRUE", "Null"] {
            let input = format!("a {op} {value}");
            let e = both_err(&input);
            assert_eq!(e.kind(), &ErrorKind::OrderingWithBooleanOrNull, "{input}");
            assert_eq!(
                (e.offset(), e.found()),
                (2 + op.len() + 1, value),
                "{input}"
            );
            assert_eq!(e.expected(), None);
        }
    }
    for (input, op, value) in [
        ("a eq null", CompareOp::Eq, CompValue::Null),
        ("a ne null", CompareOp::Ne, CompValue::Null),
        ("a ne true", CompareOp::Ne, CompValue::Bool(true)),
        ("a eq false", CompareOp::Eq, CompValue::Bool(false)),
        ("a gt 1", CompareOp::Gt, CompValue::Number(1u64.into())),
        ("a le \"x\"", CompareOp::Le, s("x")),
    ] {
        assert_eq!(both(input), cmp("a", op, value), "{input}");
    }
}

// ---------------------------------------------------------------------------------------------
// PATCH paths.

#[test]
fn patch_paths() {
    let p: PatchPath = both_path(r#"members[value eq "2819c223"].display"#);
    assert_eq!(p.attr(), &path("members"));
    assert_eq!(p.filter(), Some(&eq("value", "2819c223")));
    assert_eq!(p.sub_attr(), Some("display"));
    assert_eq!(
        p,
        PatchPath::value_path(path("members"), eq("value", "2819c223"), Some("display")).unwrap()
    );

    let p = both_path(r#"emails[type eq "work"].value"#);
    assert_eq!((p.attr().name(), p.sub_attr()), ("emails", Some("value")));

    let p = both_path("name.givenName");
    assert_eq!(p, PatchPath::attribute(path("name.givenName")));
    assert_eq!(p.filter(), None);
    assert_eq!(
        p.sub_attr(),
        None,
        "a path without a filter keeps its sub-attribute in attr()"
    );
    assert_eq!(p.attr().sub_attr(), Some("givenName"));

    let p = both_path(&format!("{ENTERPRISE}:manager.value"));
    assert_eq!(
        (p.attr().schema(), p.attr().name(), p.attr().sub_attr()),
        (Some(ENTERPRISE), "manager", Some("value"))
    );
    let p = both_path(&format!(r#"{CORE_USER}:emails[type eq "work"].value"#));
    assert_eq!(
        (p.attr().schema(), p.attr().name()),
        (Some(CORE_USER), "emails")
    );
    assert_eq!(p.sub_attr(), Some("value"));

    // RFC 7644 §3.5.2 examples.
    for input in [
        "members",
        "name.familyName",
        r#"addresses[type eq "work"]"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
        r#"emails[type eq "work" and value ew "example.com"]"#,
        r#"addresses[type eq "work"].streetAddress"#,
    ] {
        assert_eq!(both_path(input).to_string(), input);
    }
    assert!(PatchPath::value_path(path("a"), pr("b"), Some("1x")).is_none());
    // Keyword case in the filter is normalised; an attribute named `not` is fine here.
    assert_eq!(
        both_path(r#"emails[TYPE EQ "work" AND primary EQ TRUE]"#).to_string(),
        r#"emails[TYPE eq "work" and primary eq true]"#
    );
    assert_eq!(both_path("not[x pr]").to_string(), "not[x pr]");
}

#[test]
fn patch_paths_malformed() {
    for (input, kind, offset) in [
        ("", ErrorKind::Expected(Expected::AttrName), 0),
        (
            r#"members[value eq "x""#,
            ErrorKind::Expected(Expected::CloseBracket),
            20,
        ),
        (
            r#"members[value eq "x"]."#,
            ErrorKind::Expected(Expected::AttrName),
            22,
        ),
        (
            r#"members[value eq "x"]x"#,
            ErrorKind::Expected(Expected::End),
            21,
        ),
        (
            r#"members[value eq "x"].display.x"#,
            ErrorKind::Expected(Expected::End),
            29,
        ),
        (r"members[a[b pr]]", ErrorKind::NestedValueFilter, 9),
        ("name.givenName.x", ErrorKind::SubAttributeDepth, 14),
        ("members[]", ErrorKind::Expected(Expected::Filter), 8),
        ("members[value pr]]", ErrorKind::Expected(Expected::End), 17),
        ("urn:x:", ErrorKind::Expected(Expected::AttrName), 6),
    ] {
        for parser in [Parser::strict(), Parser::lenient()] {
            let e = parser.parse_path(input).unwrap_err();
            assert_eq!((e.kind(), e.offset()), (&kind, offset), "{input:?}: {e}");
        }
    }
    // Surrounding whitespace: lenient trims it, strict does not.
    assert_eq!(
        Parser::lenient().parse_path(" \tmembers  ").unwrap(),
        both_path("members")
    );
    let e = Parser::strict().parse_path(" members").unwrap_err();
    assert_eq!((e.expected(), e.offset()), (Some(Expected::AttrName), 0));
    let e = Parser::strict().parse_path("members ").unwrap_err();
    assert_eq!((e.expected(), e.offset()), (Some(Expected::End), 7));
    let e = Parser::lenient().parse_path("members value").unwrap_err();
    assert_eq!(
        (e.expected(), e.offset(), e.found()),
        (Some(Expected::End), 8, "value")
    );
}

fn both_path(input: &str) -> PatchPath {
    let p = Parser::strict()
        .parse_path(input)
        .unwrap_or_else(|e| panic!("{input:?}: {e}"));
    let reparse = |parser: Parser, text: &str| {
        parser
            .parse_path(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    };
    assert_eq!(reparse(Parser::lenient(), input), p);
    assert_eq!(reparse(Parser::default(), input), p, "FromStr is lenient");
    assert_eq!(reparse(Parser::strict(), &p.to_string()), p);
    p
}

// ---------------------------------------------------------------------------------------------
// Example filters from the specifications.

/// RFC 7644 §3.4.2.2, every example filter, with its canonical form.
const RFC7644_EXAMPLES: &[(&str, &str)] = &[
    (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
    (
        r#"name.familyName co "O'Malley""#,
        r#"name.familyName co "O'Malley""#,
    ),
    (r#"userName sw "J""#, r#"userName sw "J""#),
    (
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    ),
    ("title pr", "title pr"),
    (
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    ),
    (
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    ),
    (
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    ),
    (
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    ),
    (
        r#"title pr and userType eq "Employee""#,
        r#"title pr and userType eq "Employee""#,
    ),
    (
        r#"title pr or userType eq "Intern""#,
        r#"title pr or userType eq "Intern""#,
    ),
    (
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    ),
    (
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails.type eq "work""#,
    ),
    (
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    ),
    (
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ),
];

#[test]
fn rfc7644_example_filters_parse_and_print_canonically() {
    for (input, canonical) in RFC7644_EXAMPLES {
        let f = both(input);
        assert_eq!(f.to_string(), *canonical, "{input}");
        assert_eq!(input.parse::<Filter>().unwrap(), f);
    }
    // Spot-check two trees.
    assert_eq!(
        both(RFC7644_EXAMPLES[14].0),
        and(eq("userType", "Employee"), eq("emails.type", "work"))
    );
    assert_eq!(
        both(RFC7644_EXAMPLES[13].0),
        and(
            cmp("userType", CompareOp::Ne, s("Employee")),
            not(or(
                cmp("emails", CompareOp::Co, s("example.com")),
                cmp("emails.value", CompareOp::Co, s("example.org")),
            )),
        )
    );
}

#[test]
fn scim_1_1_example_filters_parse() {
    // SCIM 1.1 core schema, §3.2.2.2 ("Filtering"); all already canonical.
    for input in [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        "title pr",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails co "example.org")"#,
        r#"urn:scim:schemas:core:1.0:userName eq "bjensen""#,
        r#"urn:scim:schemas:extension:enterprise:1.0:manager.managerId eq "x""#,
    ] {
        assert_eq!(both(input).to_string(), input);
    }
    assert_eq!(
        both(r#"title pr and userType eq "Employee""#),
        and(pr("title"), eq("userType", "Employee"))
    );
    assert_eq!(
        path("urn:scim:schemas:extension:enterprise:1.0:manager.managerId").schema(),
        Some("urn:scim:schemas:extension:enterprise:1.0")
    );
}

#[test]
fn constructors_build_what_the_parser_builds() {
    assert_eq!(
        Filter::eq_str(AttrPath::new("userName").unwrap(), "bjensen"),
        both(r#"userName eq "bjensen""#)
    );
    assert_eq!(AttrPath::new("userName").unwrap(), path("userName"));
    assert!(AttrPath::new("user name").is_none());
    // Display of a hand-built tree adds exactly the parentheses the tree needs.
    let tree = and(
        or(pr("a"), pr("b")),
        and(pr("c"), not(or(pr("d"), pr("e")))),
    );
    assert_eq!(
        tree.to_string(),
        "(a pr or b pr) and c pr and not (d pr or e pr)"
    );
    assert_eq!(both(&tree.to_string()), tree);
    let tree = or(pr("a"), or(and(pr("b"), pr("c")), pr("d")));
    assert_eq!(tree.to_string(), "a pr or b pr and c pr or d pr");
    assert_eq!(both(&tree.to_string()), tree);
    // An ordering operator with a boolean can be built and printed, but not parsed back.
    let tree = cmp("a", CompareOp::Gt, CompValue::Bool(true));
    assert_eq!(tree.to_string(), "a gt true");
    assert_eq!(
        both_err(&tree.to_string()).kind(),
        &ErrorKind::OrderingWithBooleanOrNull
    );
}

/// Found by fuzzing: a well-known schema URN followed by more colons used to stop lenient mode,
/// which split after the known URN; it now splits at the last colon, as strict mode does.
#[test]
fn lenient_accepts_every_urn_path_that_strict_accepts() {
    for input in [
        "urn:ietf:params:scim:schemas:core:2.0:User:ue:userType pr",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employe:Number pr",
    ] {
        let strict = Parser::strict().parse_filter(input).unwrap();
        let lenient = Parser::lenient().parse_filter(input).unwrap();
        assert_eq!(strict, lenient, "{input}");
    }
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:rn:x[v eq \"\"]";
    assert_eq!(
        Parser::strict().parse_path(path).unwrap(),
        Parser::lenient().parse_path(path).unwrap()
    );
}

/// RFC 7644 §3.5.2.2 writes `members[value eq"2819c223..."]`: lenient PATCH paths read it, strict
/// paths and filters in either mode still want the space.
#[test]
fn a_string_glued_to_its_operator_is_read_in_lenient_paths_only() {
    let glued = r#"members[value eq"2819c223"]"#;
    let spaced = r#"members[value eq "2819c223"]"#;
    assert_eq!(
        Parser::lenient().parse_path(glued).unwrap(),
        Parser::strict().parse_path(spaced).unwrap()
    );
    let e = Parser::strict().parse_path(glued).unwrap_err();
    assert_eq!((e.offset(), e.expected()), (16, Some(Expected::Whitespace)));
    for parser in [Parser::strict(), Parser::lenient()] {
        let e = parser.parse_filter(r#"value eq"2819c223""#).unwrap_err();
        assert_eq!(e.expected(), Some(Expected::Whitespace));
    }
    // Only a string may be glued: a number still needs the space.
    assert!(Parser::lenient().parse_path("members[value eq1]").is_err());
}
