//! Parses (and drops) filters a given number of times, for instruction counts under
//! `valgrind --tool=callgrind`, which stay stable where wall-clock figures on a shared machine do
//! not. Only `measured` is meant to be counted:
//!
//! ```text
//! cargo build --release -p scim-benches --example filter_callgrind
//! valgrind --tool=callgrind --toggle-collect='*filter_callgrind*measured*' \
//!     target/release/examples/filter_callgrind corpus 1000
//! ```
//!
//! Cases: `username_eq` (`userName eq "x"`), `corpus` (all of `FILTERS`), `common` (the filters
//! every peer parser accepts, as in `parse_common_corpus`), `patch_path`, or a corpus entry's name.
//! Instructions per filter are the `measured` total divided by `n` times the filter count.

use std::hint::black_box;

use scim_benches::{FILTERS, PATCH_PATH, USERNAME_EQ};

/// Corpus entries that `scim_proto` rejects, hence not in the common corpus.
const NOT_COMMON: [&str; 2] = ["rfc_urn_username_sw", "entra_enterprise_employee_number_eq"];

#[inline(never)]
fn measured(filters: &[&str], n: usize, patch: bool) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        for &f in filters {
            let accepted = if patch {
                black_box(f).parse::<scim_filter::PatchPath>().is_ok()
            } else {
                black_box(f).parse::<scim_filter::Filter>().is_ok()
            };
            ok += usize::from(accepted);
        }
    }
    ok
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "corpus".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let filters: Vec<&str> = match case.as_str() {
        "username_eq" | "patch_path" => vec![if case == "patch_path" {
            PATCH_PATH
        } else {
            USERNAME_EQ
        }],
        "corpus" => FILTERS.iter().map(|&(_, f)| f).collect(),
        "common" => FILTERS
            .iter()
            .filter(|(name, _)| !NOT_COMMON.contains(name))
            .map(|&(_, f)| f)
            .collect(),
        name => FILTERS
            .iter()
            .filter(|(entry, _)| *entry == name)
            .map(|&(_, f)| f)
            .collect(),
    };
    let ok = measured(&filters, n, case == "patch_path");
    println!("{case}: {} filters x {n} runs, {ok} parsed", filters.len());
}
