//! Keeps the parser comparison in `benches/filter_parse.rs` honest.
//!
//! Each peer must accept exactly the corpus filters we say it accepts (`BENCHMARKS.md` quotes
//! these counts), every parser must accept `userName eq "x"`, and our parser must accept the whole
//! corpus, print a canonical form that parses back to itself, and give the expected result for
//! every evaluation bench case.

use scim_benches::{
    EVAL_CASES, FILTERS, LENIENT_ONLY, PATCH_PATH, USER, USERNAME_EQ, accepted_by, peers,
};

/// Corpus entries kanidm `scim_proto` 1.10.4 rejects: its grammar has no URN-prefixed attributes.
const SCIM_PROTO_REJECTS: &[&str] = &["rfc_urn_username_sw", "entra_enterprise_employee_number_eq"];

/// Corpus entries `scim-filter` 0.2.3 rejects.
const SCIM_FILTER_0_2_3_REJECTS: &[&str] = &[];

/// Corpus entries `scim_v2` 1.0.0 rejects.
const SCIM_V2_REJECTS: &[&str] = &[];

/// Names of the corpus entries `accepts` rejects.
fn rejected_by(accepts: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let accepted = accepted_by(FILTERS, accepts);
    FILTERS
        .iter()
        .filter(|entry| !accepted.contains(entry))
        .map(|&(name, _)| name)
        .collect()
}

#[test]
fn corpus_is_large_enough_and_names_are_unique() {
    assert!(FILTERS.len() >= 24, "corpus has {} filters", FILTERS.len());
    let mut names: Vec<&str> = FILTERS
        .iter()
        .chain(LENIENT_ONLY)
        .map(|&(n, _)| n)
        .collect();
    names.sort_unstable();
    let total = names.len();
    names.dedup();
    assert_eq!(names.len(), total, "duplicate corpus names");
}

#[test]
fn scim_proto_accepts_the_claimed_filters() {
    assert_eq!(
        rejected_by(|f| peers::scim_proto(f).is_ok()),
        SCIM_PROTO_REJECTS
    );
    assert!(peers::scim_proto(USERNAME_EQ).is_ok());
}

#[test]
fn scim_filter_0_2_3_accepts_the_claimed_filters() {
    assert_eq!(
        rejected_by(|f| peers::scim_filter_0_2_3(f).is_ok()),
        SCIM_FILTER_0_2_3_REJECTS
    );
    assert!(peers::scim_filter_0_2_3(USERNAME_EQ).is_ok());
    // The AST entry point used by the evaluation bench accepts the same filters.
    assert_eq!(
        rejected_by(|f| peers::scim_filter_0_2_3_ast(f).is_some()),
        SCIM_FILTER_0_2_3_REJECTS
    );
}

#[test]
fn scim_v2_accepts_the_claimed_filters() {
    assert_eq!(rejected_by(|f| peers::scim_v2(f).is_ok()), SCIM_V2_REJECTS);
    assert!(peers::scim_v2(USERNAME_EQ).is_ok());
    assert!(peers::scim_v2_patch_path(PATCH_PATH).is_ok());
}

#[test]
fn no_peer_accepts_the_lenient_only_forms() {
    for &(name, filter) in LENIENT_ONLY {
        assert!(peers::scim_proto(filter).is_err(), "scim_proto: {name}");
        assert!(
            peers::scim_filter_0_2_3(filter).is_err(),
            "scim-filter-0.2.3: {name}"
        );
        assert!(peers::scim_v2(filter).is_err(), "scim_v2: {name}");
    }
}

#[test]
fn scim_rs_accepts_the_whole_corpus() {
    let rejected: Vec<String> = FILTERS
        .iter()
        .chain([&("username_eq", USERNAME_EQ)])
        .filter_map(|&(name, filter)| {
            filter
                .parse::<scim_filter::Filter>()
                .err()
                .map(|error| format!("{name}: {filter}: {error}"))
        })
        .collect();
    assert!(rejected.is_empty(), "scim-rs rejects {rejected:#?}");
    if let Err(error) = PATCH_PATH.parse::<scim_filter::PatchPath>() {
        panic!("scim-rs rejects the PATCH path {PATCH_PATH}: {error}");
    }
}

#[test]
fn scim_rs_canonical_form_is_a_fixed_point() {
    for &(name, filter) in FILTERS {
        let Ok(parsed) = filter.parse::<scim_filter::Filter>() else {
            continue; // reported by `scim_rs_accepts_the_whole_corpus`
        };
        let canonical = parsed.to_string();
        match canonical.parse::<scim_filter::Filter>() {
            Ok(reparsed) => assert_eq!(reparsed.to_string(), canonical, "{name}: {filter}"),
            Err(error) => panic!("{name}: canonical form {canonical} does not parse: {error}"),
        }
    }
}

#[test]
fn scim_rs_evaluation_cases_give_the_expected_result() {
    let user: serde_json::Value = match serde_json::from_str(USER) {
        Ok(user) => user,
        Err(error) => panic!("USER is not valid JSON: {error}"),
    };
    for &(name, filter, expected) in EVAL_CASES {
        match filter.parse::<scim_filter::Filter>() {
            Ok(parsed) => assert_eq!(parsed.matches(&user), expected, "{name}: {filter}"),
            Err(error) => panic!("{name}: {filter} does not parse: {error}"),
        }
    }
}
