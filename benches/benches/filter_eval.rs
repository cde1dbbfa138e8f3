//! SCIM filter evaluation: `scim_filter::Filter::matches` against a full User ([`USER`]).
//!
//! Each case of [`EVAL_CASES`] is parsed once, outside the timed loop; one iteration is one
//! `matches` call. `scim-filter` 0.2.3, the only peer that ships an evaluator
//! (`Filter::r#match`), is measured alongside under `eval/scim-filter-0.2.3/<case>`.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use scim_benches::{EVAL_CASES, USER, names, peers};

fn eval_benches(c: &mut Criterion) {
    let user: serde_json::Value = match serde_json::from_str(USER) {
        Ok(user) => user,
        Err(error) => panic!("USER is not valid JSON: {error}"),
    };
    let mut group = c.benchmark_group("eval");
    for &(name, filter, expected) in EVAL_CASES {
        match filter.parse::<scim_filter::Filter>() {
            Ok(parsed) => {
                let got = parsed.matches(&user);
                if got != expected {
                    eprintln!(
                        "filter_eval: {} gives {got} for {name} ({filter}), expected {expected}",
                        names::SCIM_RS
                    );
                }
                group.bench_function(format!("{}/{name}", names::SCIM_RS), |b| {
                    b.iter(|| black_box(&parsed).matches(black_box(&user)));
                });
            }
            Err(error) => eprintln!(
                "filter_eval: {} rejects {name} ({filter}), not benchmarked: {error}",
                names::SCIM_RS
            ),
        }
        match peers::scim_filter_0_2_3_ast(filter) {
            Some(parsed) => {
                let got = parsed.r#match(&user);
                if !matches!(got, Ok(got) if got == expected) {
                    eprintln!(
                        "filter_eval: {} gives {got:?} for {name} ({filter}), expected {expected}",
                        names::SCIM_FILTER_0_2_3
                    );
                }
                group.bench_function(format!("{}/{name}", names::SCIM_FILTER_0_2_3), |b| {
                    b.iter(|| black_box(&parsed).r#match(black_box(&user)));
                });
            }
            None => eprintln!(
                "filter_eval: {} rejects {name} ({filter}), not benchmarked",
                names::SCIM_FILTER_0_2_3
            ),
        }
    }
    group.finish();
}

/// `criterion_group!` generates an undocumented `pub fn`; the module scopes the allowance to it.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::eval_benches);
}
criterion_main!(group::benches);
