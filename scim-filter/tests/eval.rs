//! Filter evaluation against RFC 7643 §8.2 and §8.3 users and small hand-written resources:
//! case-insensitivity (values, attribute names, non-ASCII), `caseExact` and types from an
//! `AttributeSchema`, multi-valued attributes, value filters, date-times as instants, numbers,
//! `pr`, `ne`, `null`, booleans, schema URN prefixes; and properties over arbitrary JSON.

mod common;

use proptest::prelude::*;
use scim_filter::{AttrInfo, AttrType, AttributeSchema, Filter, NoSchema};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn full_user() -> Value {
    common::corpus_json("rfc-examples/rfc7643-8.2-user-full.json")
}

fn enterprise_user() -> Value {
    common::corpus_json("rfc-examples/rfc7643-8.3-enterprise_user.json")
}

fn filter(text: &str) -> Filter {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} must parse: {e}"))
}

/// Checks each `(filter, expected)` against `resource` with default semantics, and checks that
/// `not (filter)` gives the opposite.
fn check(resource: &Value, cases: &[(&str, bool)]) {
    check_with(resource, &NoSchema, cases);
}

fn check_with(resource: &Value, schema: &dyn AttributeSchema, cases: &[(&str, bool)]) {
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let f = filter(text);
        if f.matches_with(resource, schema) != *expected {
            failures.push(format!("{text}: expected {expected}"));
        }
        if Filter::not(f).matches_with(resource, schema) == *expected {
            failures.push(format!("not ({text}): expected {}", !expected));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A slice of the RFC 7643 user schema: `id` is caseExact, `userName` is not, `emails.value` is
/// made caseExact (unlike the RFC) to tell the schema's answer from the default.
struct UserSchema;

impl AttributeSchema for UserSchema {
    fn attribute(&self, schema: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        if schema
            .is_some_and(|s| !s.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:User"))
        {
            return None;
        }
        let attr = attr.to_ascii_lowercase();
        let sub = sub.map(str::to_ascii_lowercase);
        let info = match (attr.as_str(), sub.as_deref()) {
            ("id", None) | ("emails", Some("value")) | ("meta", Some("version")) => {
                AttrInfo::new(AttrType::String, true)
            }
            ("username" | "title" | "timezone", None) | ("emails", Some("type")) => {
                AttrInfo::new(AttrType::String, false)
            }
            ("emails", None) => AttrInfo::new(AttrType::Complex, false),
            ("meta", Some("lastmodified" | "created")) => AttrInfo::new(AttrType::DateTime, false),
            ("x509certificates", Some("value")) => AttrInfo::new(AttrType::Binary, false),
            ("profileurl", None) => AttrInfo::new(AttrType::Reference, true),
            _ => return None,
        };
        Some(info)
    }
}

/// `when` is a date-time, everything else a case-insensitive string.
struct Versions;

impl AttributeSchema for Versions {
    fn attribute(&self, _: Option<&str>, attr: &str, _: Option<&str>) -> Option<AttrInfo> {
        let kind = if attr.eq_ignore_ascii_case("when") {
            AttrType::DateTime
        } else {
            AttrType::String
        };
        Some(AttrInfo::new(kind, false))
    }
}

/// Every attribute is a case-exact string.
struct Exact;

impl AttributeSchema for Exact {
    fn attribute(&self, _: Option<&str>, _: &str, _: Option<&str>) -> Option<AttrInfo> {
        Some(AttrInfo::new(AttrType::String, true))
    }
}

// ---------------------------------------------------------------------------------------------
// Strings and names.

#[test]
fn strings_compare_case_insensitively_by_default() {
    check(
        &full_user(),
        &[
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"userName eq "BJensen@Example.COM""#, true),
            (r#"userName eq "bjensen""#, false),
            (r#"userName ne "BJENSEN@EXAMPLE.COM""#, false),
            (r#"userName co "JENSEN@""#, true),
            (r#"userName sw "BJ""#, true),
            (r#"userName ew ".COM""#, true),
            (r#"userName ew "example""#, false),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, true),
            (r#"name.familyName co "O'Malley""#, false),
            (r#"name.familyName eq "jensen""#, true),
            (r#"title gt "tour""#, true),
            (r#"title lt "TOUR GUIDF""#, true),
            (r#"title ge "TOUR GUIDE""#, true),
            (r#"title le "tour guide""#, true),
            (r#"title gt "Tour Guide""#, false),
            (r#"title lt "Tour Guide""#, false),
        ],
    );
}

#[test]
fn case_exact_and_types_come_from_the_schema() {
    let user = full_user();
    check_with(
        &user,
        &UserSchema,
        &[
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id ne "2819C223-7F76-453A-919D-413861904646""#, true),
            (r#"id sw "2819C""#, false),
            (r#"id sw "2819c""#, true),
            (r#"userName eq "BJENSEN@EXAMPLE.COM""#, true),
            // caseExact sub-attribute: directly, via the complex parent, and inside brackets.
            (r#"emails.value eq "BJENSEN@example.com""#, false),
            (r#"emails.value eq "bjensen@example.com""#, true),
            (r#"emails eq "BJENSEN@example.com""#, false),
            (r#"emails eq "bjensen@example.com""#, true),
            (r#"emails[value eq "BABS@jensen.org"]"#, false),
            (r#"emails[value eq "babs@jensen.org"]"#, true),
            (r#"emails[TYPE eq "HOME"]"#, true),
            (r#"emails.type eq "WORK""#, true),
            // Binary is always case-exact, whatever the schema says about caseExact.
            (
                r#"x509Certificates.value sw "MIIDQzCCAqygAwIBAgICEAAwDQYJ""#,
                true,
            ),
            (
                r#"x509Certificates.value sw "miidqzccaqygawibagiceaawdqyj""#,
                false,
            ),
            (
                r#"profileUrl eq "HTTPS://login.example.com/bjensen""#,
                false,
            ),
            // The core schema URN reaches top-level attributes with the schema's semantics.
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:id eq "2819c223-7f76-453a-919d-413861904646""#,
                true,
            ),
            // An extension URN the resource does not carry designates nothing.
            (
                r#"urn:x:y:id eq "2819C223-7F76-453A-919D-413861904646""#,
                false,
            ),
        ],
    );
    // The same filters without the schema.
    check(
        &user,
        &[
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, true),
            (r#"emails[value eq "BABS@jensen.org"]"#, true),
            (
                r#"x509Certificates.value sw "miidqzccaqygawibagiceaawdqyj""#,
                true,
            ),
        ],
    );
}

#[test]
fn attribute_names_match_case_insensitively() {
    check(
        &full_user(),
        &[
            (r#"USERNAME eq "bjensen@example.com""#, true),
            (r#"username eq "bjensen@example.com""#, true),
            (r#"NAME.GIVENNAME eq "barbara""#, true),
            (r#"Emails[TYPE eq "work" and VALUE co "example.com"]"#, true),
            ("X509CERTIFICATES pr", true),
            (r#"META.LASTMODIFIED eq "2011-05-13T04:42:34Z""#, true),
        ],
    );
    // An exact key is preferred to one that differs only in case.
    let r = json!({"a": "lower", "A": "upper"});
    check(
        &r,
        &[
            (r#"a eq "lower""#, true),
            (r#"A eq "upper""#, true),
            (r#"a eq "upper""#, false),
        ],
    );
}

#[test]
fn non_ascii_strings_compare_case_insensitively() {
    let r = json!({"n": "ÉMILE Zoë", "g": "STRASSE", "k": "\u{212a}elvin"});
    check(
        &r,
        &[
            (r#"n eq "émile zoë""#, true),
            (r#"n eq "ÉMILE ZOË""#, true),
            (r#"n eq "emile zoe""#, false),
            (r#"n ne "émile zoë""#, false),
            (r#"n co "MILE zo""#, true),
            (r#"n co "é""#, true),
            (r#"n co "ë z""#, false),
            (r#"n sw "émi""#, true),
            (r#"n sw "ÉMILE ZOË""#, true),
            (r#"n ew "ZOË""#, true),
            (r#"n ew "oë""#, true),
            (r#"n gt "émile""#, true),
            (r#"n lt "émile zoë!""#, true),
            // Longer than the value.
            (r#"n sw "émile zoë!""#, false),
            (r#"n ew "xémile zoë""#, false),
            (r#"n co "émile zoë émile""#, false),
            // The Kelvin sign lower-cases to an ASCII k.
            (r#"k eq "kelvin""#, true),
            (r#"k sw "K""#, true),
            (r#"g eq "straße""#, false),
        ],
    );
}

#[test]
fn a_value_that_is_equal_also_contains_starts_and_ends_with() {
    let r = json!({"x": "AΣ", "y": "ΟΔΟΣ ΟΔΟΣ"});
    check(
        &r,
        &[
            (r#"x eq "aσ""#, true),
            (r#"x sw "aσ""#, true),
            (r#"x co "aσ""#, true),
            (r#"x ew "aσ""#, true),
            (r#"y co "οδοσ οδοσ""#, true),
            (r#"y ew "σ""#, true),
        ],
    );
}

#[test]
fn contains_starts_and_ends_with_edge_cases() {
    let r = json!({"t": "Tour Guide", "e": ""});
    check(
        &r,
        &[
            (r#"t co """#, true),
            (r#"t sw """#, true),
            (r#"t ew """#, true),
            (r#"e co """#, true),
            (r#"e eq """#, true),
            (r#"e co "x""#, false),
            (r#"t sw "Tour Guide Extra""#, false),
            (r#"t ew "Big Tour Guide""#, false),
            (r#"t co "Tour Guide Tour""#, false),
            (r#"t sw "tour guide""#, true),
            (r#"t ew "GUIDE""#, true),
            (r#"t co "r g""#, true),
            (r#"absent co """#, false),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Multi-valued and complex attributes, value filters.

#[test]
fn multi_valued_attributes_match_when_any_element_does() {
    check(
        &full_user(),
        &[
            (r#"emails.value co "example.com""#, true),
            (r#"emails.value co "jensen.org""#, true),
            (r#"emails.value co "example.net""#, false),
            // Without a sub-attribute, a complex element compares its `value`.
            (r#"emails co "example.com""#, true),
            (r#"emails co "jensen.org""#, true),
            (r#"emails eq "babs@jensen.org""#, true),
            (r#"emails co "work""#, false),
            (r#"emails.type eq "home""#, true),
            (r#"emails.type eq "other""#, false),
            (r"emails.primary eq true", true),
            // `ne` is the negation of `eq`: no element may equal.
            (r#"emails.type ne "home""#, false),
            (r#"emails.type ne "other""#, true),
            // Arrays of strings.
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#,
                true,
            ),
            (
                r#"schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER""#,
                true,
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                false,
            ),
            (r#"schemas sw "urn:ietf:params:scim:schemas:core""#, true),
            (r#"schemas[value ew ":User"]"#, true),
            // `$ref` as a sub-attribute.
            (r#"groups.$ref co "e9e30dba""#, true),
            (r#"groups.display eq "employees""#, true),
            (r#"groups.display eq "managers""#, false),
            (
                r#"phoneNumbers[type eq "mobile" and value ew "4444"]"#,
                true,
            ),
            (
                r#"phoneNumbers[type eq "mobile" and value ew "5555"]"#,
                false,
            ),
            (
                r#"addresses[type eq "work" and postalCode eq "91608"].locality eq "Hollywood""#,
                true,
            ),
            (
                r#"addresses.country eq "USA" and addresses.region eq "CA""#,
                true,
            ),
        ],
    );
}

#[test]
fn a_value_filter_needs_one_element_to_satisfy_the_whole_bracket() {
    let r = json!({
        "emails": [
            {"type": "work", "value": "bjensen@other.org"},
            {"type": "home", "value": "babs@example.com"}
        ]
    });
    check(
        &r,
        &[
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                false,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"]"#,
                true,
            ),
            (r#"emails[type eq "work" or value co "@example.com"]"#, true),
            (
                r#"emails[type eq "work" and not (value co "@example.com")]"#,
                true,
            ),
            // Split over two value filters, or without brackets, different elements may answer.
            (
                r#"emails[type eq "work"] and emails[value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails.type eq "work" and emails.value co "@example.com""#,
                true,
            ),
            // The lenient `[...].sub op value` form joins the bracket, so the same element must match.
            (r#"emails[type eq "work"].value co "@example.com""#, false),
            (r#"emails[type eq "home"].value co "@example.com""#, true),
            (r"emails[display pr]", false),
            (r"emails[display eq null]", true),
            (r"phones[type pr]", false),
        ],
    );
    // An empty array, and a non-array value, as the target.
    check(
        &json!({"emails": []}),
        &[
            (r#"emails[type eq "work"]"#, false),
            ("emails[not (type pr)]", false),
        ],
    );
}

#[test]
fn a_value_filter_over_a_single_complex_attribute() {
    check(
        &full_user(),
        &[
            (
                r#"name[givenName eq "Barbara" and familyName sw "jen"]"#,
                true,
            ),
            (
                r#"name[givenName eq "Barbara" and familyName sw "x"]"#,
                false,
            ),
            (r#"meta[resourceType eq "User"]"#, true),
            (r#"meta[lastModified gt "2011-01-01T00:00:00Z"]"#, true),
            (r"name[nope pr]", false),
            (r"nothing[x pr]", false),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Date-times and numbers.

#[test]
fn date_times_compare_as_instants() {
    let user = full_user();
    check(
        &user,
        &[
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true),
            // The same instant written with another offset, or fractional seconds.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified eq "2011-05-12T23:42:34-05:00""#, true),
            (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
            (r#"meta.lastModified ne "2011-05-13T06:42:34+02:00""#, false),
            // Lexicographically smaller but a later instant, and the other way round.
            (r#"meta.lastModified lt "2011-05-13T05:00:00+02:00""#, false),
            (r#"meta.lastModified gt "2011-05-13T05:00:00+02:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:00:00-01:00""#, true),
            // No offset: UTC is assumed.
            (r#"meta.lastModified eq "2011-05-13T04:42:34""#, true),
            // co/sw/ew stay textual.
            (r#"meta.lastModified sw "2011-05-13""#, true),
            (r#"meta.lastModified co "+02:00""#, false),
            (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
        ],
    );
    // Strings that are not date-times compare as text.
    check(
        &json!({"v": "W/\"a330bc54f0671c9\"", "d": "2011-05-13"}),
        &[
            (r#"v gt "W/\"a""#, true),
            (r#"v lt "W/\"b""#, true),
            (r#"d gt "2011-05-12T23:00:00Z""#, true),
            (r#"d lt "2011-05-14""#, true),
        ],
    );
    // With a schema, the type decides: a string-typed attribute compares as text.
    check_with(
        &json!({"when": "2011-05-13T04:42:34Z", "text": "2011-05-13T04:42:34Z"}),
        &Versions,
        &[
            (r#"when eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"text eq "2011-05-13T06:42:34+02:00""#, false),
            (r#"text lt "2011-05-13T05:00:00+02:00""#, true),
        ],
    );
    check_with(
        &user,
        &UserSchema,
        &[(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true)],
    );
}

#[test]
fn numbers_compare_numerically() {
    let r = json!({
        "n": 10,
        "f": 1.0,
        "neg": -5,
        "big": u64::MAX,
        "min": i64::MIN,
        "s": "10",
        "list": [1, 20, 300]
    });
    check(
        &r,
        &[
            ("n gt 9", true),
            ("n lt 9", false),
            ("n ge 10", true),
            ("n le 10", true),
            ("n eq 10", true),
            ("n ne 10", false),
            ("n eq 10.0", true),
            ("n eq 1e1", true),
            ("n gt 9.99", true),
            ("f eq 1", true),
            ("f eq 1.0", true),
            ("f lt 1.0000001", true),
            ("neg lt -4", true),
            ("neg gt -6", true),
            ("neg eq -5", true),
            ("neg lt 0", true),
            ("big eq 18446744073709551615", true),
            ("big gt 18446744073709551614", true),
            ("big gt 9223372036854775807", true),
            ("big gt -1", true),
            ("neg lt 18446744073709551615", true),
            ("min lt -9223372036854775807", true),
            ("min eq -9223372036854775808", true),
            ("big lt 1e20", true),
            // Numbers and strings do not compare; numbers have no co/sw/ew.
            ("s eq 10", false),
            (r#"n eq "10""#, false),
            ("n co 1", false),
            ("n sw 1", false),
            ("list eq 20", true),
            ("list gt 299", true),
            ("list lt 1", false),
        ],
    );
}

#[test]
fn a_number_matches_the_same_literal_in_a_json_resource() {
    for literal in [
        "9007199254740993.0",
        "1.320127516870944e-110",
        "0.1",
        "25.52",
    ] {
        let r: Value = serde_json::from_str(&format!(r#"{{"n": {literal}}}"#)).unwrap();
        assert!(
            filter(&format!("n eq {literal}")).matches(&r),
            "{literal}: {r}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Presence, null, absent attributes, booleans.

#[test]
fn present_is_false_for_null_empty_and_absent() {
    let r = json!({
        "nul": null,
        "empty": "",
        "arr": [],
        "obj": {},
        "arrOfEmpty": [null, ""],
        "zero": 0,
        "no": false,
        "space": " ",
        "c": {"x": null, "y": "v"},
        "items": [{"x": null}, {"x": "v"}],
        "ext": {"a": []}
    });
    check(
        &r,
        &[
            ("nul pr", false),
            ("empty pr", false),
            ("arr pr", false),
            ("obj pr", false),
            ("absent pr", false),
            ("arrOfEmpty pr", false),
            ("zero pr", true),
            ("no pr", true),
            ("space pr", true),
            ("c pr", true),
            ("c.x pr", false),
            ("c.y pr", true),
            ("c.z pr", false),
            ("items.x pr", true),
            ("items[x pr]", true),
            ("items[not (x pr)]", true),
            ("ext.a pr", false),
        ],
    );
    check(
        &full_user(),
        &[
            ("title pr", true),
            ("nickName pr", true),
            ("emails.display pr", false),
        ],
    );
}

#[test]
fn null_absent_and_ne() {
    let r = json!({"nul": null, "title": "x", "emails": [{"type": "work"}]});
    check(
        &r,
        &[
            (r#"absent eq "x""#, false),
            (r#"absent ne "x""#, true),
            ("absent ne 1", true),
            ("absent ne true", true),
            ("absent eq null", true),
            ("absent ne null", false),
            ("nul eq null", true),
            ("nul ne null", false),
            (r#"nul eq "null""#, false),
            (r#"nul ne "x""#, true),
            ("title eq null", false),
            ("title ne null", true),
            ("emails.value eq null", true),
            ("emails.type eq null", false),
            (r#"emails.value ne "x""#, true),
            (r#"absent co """#, false),
            (r#"absent gt "a""#, false),
            (r#"absent lt "a""#, false),
        ],
    );
}

#[test]
fn booleans_and_their_string_spellings() {
    check(
        &full_user(),
        &[
            ("active eq true", true),
            ("active eq TRUE", true),
            ("active eq false", false),
            ("active ne false", true),
            ("active ne true", false),
            // Entra ID sends and stores booleans as strings.
            (r#"active eq "True""#, true),
            (r#"active eq "true""#, true),
            (r#"active eq "False""#, false),
            (r#"active eq "yes""#, false),
            (r"active eq 1", false),
            ("active pr", true),
        ],
    );
    check(
        &json!({"active": "False", "flags": [false, "TRUE"]}),
        &[
            ("active eq false", true),
            ("active eq true", false),
            ("active ne true", true),
            (r#"active eq "false""#, true),
            ("flags eq true", true),
            ("flags eq false", true),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Schema URN prefixes.

#[test]
fn extension_attributes_through_their_urn() {
    let user = enterprise_user();
    check(
        &user,
        &[
            (&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#), true),
            (
                &format!(r#"{ENTERPRISE}:employeeNumber eq "701985""#),
                false,
            ),
            (
                &format!(r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
                true,
            ),
            (
                &format!(r#"{ENTERPRISE}:manager.displayName eq "john smith""#),
                true,
            ),
            (
                &format!(r#"{ENTERPRISE}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
                true,
            ),
            (&format!("{ENTERPRISE}:manager pr"), true),
            (
                &format!(r#"{ENTERPRISE}:manager[displayName sw "John"]"#),
                true,
            ),
            (&format!("{ENTERPRISE}:costCenter ge \"4130\""), true),
            (&format!("{ENTERPRISE}:nothing pr"), false),
            // Entra's dotted form, read leniently.
            (
                &format!(r#"{ENTERPRISE}.manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
                true,
            ),
            // The URN key matches case-insensitively.
            (
                &format!(
                    r#"{}:employeeNumber eq "701984""#,
                    ENTERPRISE.to_uppercase()
                ),
                true,
            ),
            // Without the URN, extension attributes are not found at the top level.
            (r#"employeeNumber eq "701984""#, false),
            ("manager.value pr", false),
            // The extension object does not hold core attributes, and there is no fallback once
            // the extension object exists.
            (
                &format!(r#"{ENTERPRISE}:userName eq "bjensen@example.com""#),
                false,
            ),
        ],
    );
}

#[test]
fn a_core_urn_prefix_reaches_top_level_attributes() {
    for user in [full_user(), enterprise_user()] {
        check(
            &user,
            &[
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#,
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "barbara""#,
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "home"]"#,
                    true,
                ),
                (r"urn:ietf:params:scim:schemas:core:2.0:User:nope pr", false),
            ],
        );
    }
    // Only a core schema reaches the top level: an extension-qualified name never matches a core
    // attribute, whether or not the resource carries that extension.
    for user in [full_user(), enterprise_user()] {
        check(
            &user,
            &[
                (
                    &format!(r#"{ENTERPRISE}:userName eq "bjensen@example.com""#),
                    false,
                ),
                (r#"urn:x:y:title eq "Tour Guide""#, false),
            ],
        );
    }
    // The resource's own first schema counts as its core schema, whatever its URN.
    let custom = serde_json::json!({"schemas": ["urn:example:Device"], "serial": "A1"});
    check(&custom, &[(r#"urn:example:Device:serial eq "a1""#, true)]);
}

// ---------------------------------------------------------------------------------------------
// Logic.

#[test]
fn logical_operators() {
    let user = full_user();
    let t = r#"userName eq "bjensen@example.com""#;
    let f = r#"userName eq "nobody""#;
    let absent = "nickname2 pr";
    let mut cases = Vec::new();
    for (a, va) in [(t, true), (f, false), (absent, false)] {
        for (b, vb) in [(t, true), (f, false), (absent, false)] {
            cases.push((format!("{a} and {b}"), va && vb));
            cases.push((format!("{a} or {b}"), va || vb));
            cases.push((format!("not ({a}) and {b}"), !va && vb));
            cases.push((format!("not ({a} or {b})"), !(va || vb)));
            // `and` binds tighter: `a or (b and false)` is `a`.
            cases.push((format!("{a} or {b} and {f}"), va));
            cases.push((format!("({a} or {b}) and {f}"), false));
            cases.push((format!("({a} or {b}) and {t}"), va || vb));
        }
    }
    let cases: Vec<(&str, bool)> = cases.iter().map(|(s, b)| (s.as_str(), *b)).collect();
    check(&user, &cases);
    check(
        &user,
        &[
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
            (r#"ims[type eq "xmpp" and value co "@foo.com"]"#, false),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (r#"userType eq "Intern""#, false),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Properties.

const KEYS: &[&str] = &[
    "a", "A", "b", "value", "type", "display", "urn:x:y", "$ref", "n",
];

fn eval_filter() -> BoxedStrategy<Filter> {
    let path = (
        proptest::option::weighted(0.1, Just("urn:x:y")),
        proptest::sample::select(&["a", "A", "b", "value", "type", "n", "$ref"][..]),
        proptest::option::weighted(
            0.3,
            proptest::sample::select(&["a", "value", "type", "display"][..]),
        ),
    )
        .prop_filter_map("valid path", |(schema, name, sub)| {
            let mut p = scim_filter::AttrPath::new(name)?;
            if let Some(s) = schema {
                p = p.with_schema(s)?;
            }
            if let Some(s) = sub {
                p = p.with_sub_attr(s)?;
            }
            Some(p)
        })
        .boxed();
    common::filter_with(path)
}

/// A schema that gives each attribute some type, to exercise the typed comparisons.
struct Typed;

impl AttributeSchema for Typed {
    fn attribute(&self, _: Option<&str>, attr: &str, sub: Option<&str>) -> Option<AttrInfo> {
        let name = sub.unwrap_or(attr);
        let kind = match name.len() % 8 {
            0 => return None,
            1 => AttrType::String,
            2 => AttrType::DateTime,
            3 => AttrType::Binary,
            4 => AttrType::Complex,
            5 => AttrType::Decimal,
            6 => AttrType::Boolean,
            _ => AttrType::Reference,
        };
        Some(AttrInfo::new(kind, name.starts_with('a')))
    }
}

/// Strings without date-time shapes.
fn plain_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::char::range('a', 'e'),
            proptest::char::range('A', 'E'),
            proptest::sample::select(
                &[
                    'é', 'É', 'ß', 'ẞ', 'İ', 'ı', 'K', 'k', '\u{212a}', 'σ', 'ς', ' ', 'ǅ', 'ǆ'
                ][..]
            ),
            any::<char>(),
        ],
        0..6,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// Pairs of strings that are often equal ignoring case, or one a prefix, suffix or infix of the
/// other: `b` is a slice of `a` with some characters' case flipped.
fn string_pair() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (plain_string(), plain_string()),
        (
            plain_string(),
            proptest::collection::vec(any::<bool>(), 8),
            any::<proptest::sample::Index>(),
            any::<proptest::sample::Index>(),
            0u8..4,
        )
            .prop_map(|(a, flips, i, j, shape)| {
                let chars: Vec<char> = a.chars().collect();
                let (i, j) = (i.index(chars.len() + 1), j.index(chars.len() + 1));
                let (start, end) = match shape {
                    0 => (0, chars.len()),
                    1 => (0, i.max(j)),
                    2 => (i.min(j), chars.len()),
                    _ => (i.min(j), i.max(j)),
                };
                let b: String = chars
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .zip(flips.iter().cycle())
                    .flat_map(|(c, flip)| {
                        let flipped: String = if !flip {
                            c.to_string()
                        } else if c.is_uppercase() {
                            c.to_lowercase().collect()
                        } else {
                            c.to_uppercase().collect()
                        };
                        flipped.chars().collect::<Vec<_>>()
                    })
                    .collect();
                (a, b)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn evaluation_never_panics(f in eval_filter(), resource in common::json_value(KEYS)) {
        let plain = f.matches(&resource);
        let typed = f.matches_with(&resource, &Typed);
        // `not` negates, with and without a schema.
        prop_assert_eq!(Filter::not(f.clone()).matches(&resource), !plain);
        prop_assert_eq!(Filter::not(f).matches_with(&resource, &Typed), !typed);
    }

    #[test]
    fn ne_is_the_negation_of_eq_and_logic_is_boolean(
        f in eval_filter(),
        g in eval_filter(),
        resource in common::json_value(KEYS),
    ) {
        let (a, b) = (f.matches(&resource), g.matches(&resource));
        prop_assert_eq!(Filter::and(f.clone(), g.clone()).matches(&resource), a && b);
        prop_assert_eq!(Filter::or(f.clone(), g.clone()).matches(&resource), a || b);
        for f in [f, g] {
            if let Filter::Compare(p, scim_filter::CompareOp::Eq, v) = &f {
                let ne = Filter::compare(p.clone(), scim_filter::CompareOp::Ne, v.clone());
                prop_assert_eq!(ne.matches(&resource), !f.matches(&resource), "{}", f);
                prop_assert_eq!(ne.matches_with(&resource, &Typed), !f.matches_with(&resource, &Typed));
            }
        }
    }

    #[test]
    fn string_operators_agree_with_each_other((a, b) in string_pair()) {
        let r = json!({"x": a});
        let lit = serde_json::to_string(&b).unwrap();
        let m = |op: &str| filter(&format!("x {op} {lit}")).matches(&r);
        let (eq, ne, co, sw, ew, gt, ge, lt, le) =
            (m("eq"), m("ne"), m("co"), m("sw"), m("ew"), m("gt"), m("ge"), m("lt"), m("le"));
        prop_assert_eq!(ne, !eq);
        if eq {
            prop_assert!(co && sw && ew && ge && le && !gt && !lt, "{:?} vs {:?}", a, b);
        }
        if sw || ew {
            prop_assert!(co, "{:?} vs {:?}", a, b);
        }
        prop_assert_eq!(ge, gt || eq);
        prop_assert_eq!(le, lt || eq);
        prop_assert!(!(gt && lt));
        prop_assert_eq!(gt || lt || eq, true, "ordering is total");
        // Case-insensitive: upper-casing the literal changes nothing for ASCII.
        if a.is_ascii() && b.is_ascii() {
            let upper = serde_json::to_string(&b.to_uppercase()).unwrap();
            prop_assert_eq!(filter(&format!("x eq {upper}")).matches(&r), eq);
            prop_assert_eq!(filter(&format!("x co {upper}")).matches(&r), co);
        }
        // Case-exact agrees with Rust's own string operations.
        let e = |op: &str| filter(&format!("x {op} {lit}")).matches_with(&r, &Exact);
        prop_assert_eq!(e("eq"), a == b);
        prop_assert_eq!(e("co"), a.contains(&b));
        prop_assert_eq!(e("sw"), a.starts_with(&b));
        prop_assert_eq!(e("ew"), a.ends_with(&b));
        prop_assert_eq!(e("gt"), a > b);
        prop_assert_eq!(e("le"), a <= b);
    }

    #[test]
    fn numbers_order_like_f64_and_integers_exactly(x in any::<i64>(), y in any::<i64>(), u in any::<u64>()) {
        let r = json!({"n": x, "u": u});
        let m = |t: String| filter(&t).matches(&r);
        prop_assert_eq!(m(format!("n eq {y}")), x == y);
        prop_assert_eq!(m(format!("n gt {y}")), x > y);
        prop_assert_eq!(m(format!("n le {y}")), x <= y);
        prop_assert_eq!(m(format!("u ge {y}")), i128::from(u) >= i128::from(y));
        prop_assert_eq!(m(format!("u eq {u}")), true);
        prop_assert_eq!(m(format!("n lt {u}")), i128::from(x) < i128::from(u));
    }
}
