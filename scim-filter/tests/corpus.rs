//! Every line of the shared filter and path corpora (`tests/data/{filters,paths}`), plus the
//! RFC's own filter examples: valid lines parse in both modes and round-trip through the canonical
//! form; invalid lines fail with an error positioned inside the input.

use std::path::PathBuf;

use scim_filter::{Filter, ParseError, Parser, PatchPath};

fn corpus(rel: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| serde_json::from_str::<String>(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Paths the `UnboundID` SDK accepts but RFC 7644 ABNF does not (see `corpus/SOURCES.md`).
const PATHS_THE_RFC_REJECTS: &[(&str, &str)] = &[
    (
        "",
        "PATH = attrPath / valuePath [subAttr]: an attribute name is required",
    ),
    (
        "urn:extension:",
        "attrPath = [URI \":\"] ATTRNAME: a URN prefix needs an attribute after it",
    ),
    (
        "urn:extension:attr[subAttr eq \"78750\"].subAttr[subSub pr].this.is.crazy[type eq \"good\"].deep",
        "valuePath [subAttr] ends a PATH: nothing may follow the sub-attribute",
    ),
];

fn check_filter_round_trip(parser: Parser, input: &str) -> Filter {
    let f = parser
        .parse_filter(input)
        .unwrap_or_else(|e| panic!("{input:?} must parse: {e}"));
    let canonical = f.to_string();
    let again = Parser::strict()
        .parse_filter(&canonical)
        .unwrap_or_else(|e| {
            panic!("canonical {canonical:?} of {input:?} must parse strictly: {e}")
        });
    assert_eq!(again, f, "round trip of {input:?} via {canonical:?}");
    assert_eq!(again.to_string(), canonical);
    f
}

fn assert_positioned(input: &str, err: &ParseError) {
    assert!(
        err.offset() <= input.len(),
        "{input:?}: offset {} out of range",
        err.offset()
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("at byte {}", err.offset())),
        "{input:?}: {msg}"
    );
}

#[test]
fn valid_filters_parse_in_both_modes_and_round_trip() {
    let lines = corpus("filters/valid.jsonl");
    assert!(lines.len() >= 30);
    for line in &lines {
        let strict = check_filter_round_trip(Parser::strict(), line);
        let lenient = check_filter_round_trip(Parser::lenient(), line);
        assert_eq!(strict, lenient, "{line:?}");
    }
}

#[test]
fn invalid_filters_fail_in_both_modes_with_a_position() {
    let lines = corpus("filters/invalid.jsonl");
    assert!(lines.len() >= 35);
    for line in &lines {
        for parser in [Parser::strict(), Parser::lenient()] {
            match parser.parse_filter(line) {
                Ok(f) => panic!("{line:?} must not parse, got {f:?}"),
                Err(e) => assert_positioned(line, &e),
            }
        }
    }
}

#[test]
fn valid_paths_parse_and_round_trip() {
    for line in corpus("paths/valid.jsonl") {
        if let Some((_, why)) = PATHS_THE_RFC_REJECTS.iter().find(|(p, _)| *p == line) {
            let err = Parser::strict().parse_path(&line).expect_err(why);
            assert_positioned(&line, &err);
            let err = Parser::lenient().parse_path(&line).expect_err(why);
            assert_positioned(&line, &err);
            continue;
        }
        for parser in [Parser::strict(), Parser::lenient()] {
            let p = parser
                .parse_path(&line)
                .unwrap_or_else(|e| panic!("{line:?} must parse: {e}"));
            let canonical = p.to_string();
            let again: PatchPath = Parser::strict().parse_path(&canonical).unwrap();
            assert_eq!(again, p, "{line:?} via {canonical:?}");
        }
    }
}

#[test]
fn every_exception_is_in_the_corpus() {
    let valid = corpus("paths/valid.jsonl");
    for (p, _) in PATHS_THE_RFC_REJECTS {
        assert!(
            valid.iter().any(|l| l == p),
            "{p:?} is no longer in the corpus"
        );
    }
}

#[test]
fn invalid_paths_fail_with_a_position() {
    let lines = corpus("paths/invalid.jsonl");
    assert!(lines.len() >= 8);
    for line in &lines {
        for parser in [Parser::strict(), Parser::lenient()] {
            match parser.parse_path(line) {
                Ok(p) => panic!("{line:?} must not parse, got {p:?}"),
                Err(e) => assert_positioned(line, &e),
            }
        }
    }
}
