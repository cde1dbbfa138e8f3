//! SCIM filter parsing: this workspace's `scim-filter` ("scim-rs") side by side with the
//! published peers `scim_proto` 1.10.4, `scim-filter` 0.2.3 and `scim_v2` 1.0.0, in one run.
//!
//! Groups (see `BENCHMARKS.md` for how to read them):
//! - `parse_corpus/<parser>`: one iteration parses every filter of [`FILTERS`] that this parser
//!   accepts. The throughput is set in filters, so criterion's `thrpt` line is filters per second
//!   and `time / accepted count` is ns per filter. The accepted counts are printed once at start.
//! - `parse_common_corpus/<parser>`: the same over the filters that all four parsers accept, so
//!   the times are directly comparable.
//! - `parse_username_eq/<parser>`: `userName eq "x"`, the fixed cost of one small parse.
//! - `parse_per_filter_scim-rs/<name>`: our parser, one benchmark per corpus entry (and per
//!   lenient-only entry), so the median cost of one filter can be read off.
//! - `parse_patch_path/<parser>`: a PATCH path, ours and `scim_v2` (the only peer with one).
//!
//! A filter a peer rejects is left out for that peer only, so no timed loop measures an error path.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_main};
use scim_benches::{FILTERS, LENIENT_ONLY, PATCH_PATH, USERNAME_EQ, accepted_by, names, peers};

/// Our parser, through the public API (`FromStr`).
fn scim_rs(input: &str) -> Result<scim_filter::Filter, scim_filter::ParseError> {
    input.parse()
}

/// Our PATCH path parser, through the public API (`FromStr`).
fn scim_rs_patch_path(input: &str) -> Result<scim_filter::PatchPath, scim_filter::ParseError> {
    input.parse()
}

/// The corpus as each parser sees it: the filters it accepts, and those all parsers accept.
struct Corpora {
    scim_rs: Vec<&'static str>,
    scim_proto: Vec<&'static str>,
    scim_filter_0_2_3: Vec<&'static str>,
    scim_v2: Vec<&'static str>,
    common: Vec<&'static str>,
}

/// Splits the corpus per parser and prints, once, how much of it each parser accepted.
fn corpora() -> Corpora {
    let accepted = [
        (names::SCIM_RS, accepted_by(FILTERS, |f| scim_rs(f).is_ok())),
        (
            names::SCIM_PROTO,
            accepted_by(FILTERS, |f| peers::scim_proto(f).is_ok()),
        ),
        (
            names::SCIM_FILTER_0_2_3,
            accepted_by(FILTERS, |f| peers::scim_filter_0_2_3(f).is_ok()),
        ),
        (
            names::SCIM_V2,
            accepted_by(FILTERS, |f| peers::scim_v2(f).is_ok()),
        ),
    ];
    for (parser, filters) in &accepted {
        let rejected: Vec<&str> = FILTERS
            .iter()
            .filter(|entry| !filters.contains(entry))
            .map(|&(name, _)| name)
            .collect();
        eprintln!(
            "filter_parse: {parser} accepts {}/{} corpus filters; rejects: {rejected:?}",
            filters.len(),
            FILTERS.len(),
        );
    }
    let common: Vec<&'static str> = FILTERS
        .iter()
        .filter(|entry| accepted.iter().all(|(_, filters)| filters.contains(entry)))
        .map(|&(_, filter)| filter)
        .collect();
    eprintln!(
        "filter_parse: all four parsers accept {}/{} corpus filters",
        common.len(),
        FILTERS.len(),
    );
    let [scim_rs, scim_proto, scim_filter_0_2_3, scim_v2] =
        accepted.map(|(_, filters)| filters.into_iter().map(|(_, filter)| filter).collect());
    Corpora {
        scim_rs,
        scim_proto,
        scim_filter_0_2_3,
        scim_v2,
        common,
    }
}

/// Benchmarks parsing every filter of `corpus` once per iteration, with `parse`.
fn bench_corpus<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    parser: &str,
    corpus: &[&str],
    parse: impl Fn(&str) -> R,
) {
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function(parser, |b| {
        b.iter(|| {
            for &filter in corpus {
                black_box(parse(black_box(filter)));
            }
        });
    });
}

/// Benchmarks parsing the single `input` once per iteration, with `parse`.
fn bench_one<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    input: &str,
    parse: impl Fn(&str) -> R,
) {
    group.throughput(Throughput::Elements(1));
    group.bench_function(id, |b| b.iter(|| black_box(parse(black_box(input)))));
}

fn parse_benches(c: &mut Criterion) {
    let corpora = corpora();

    let own = [
        &corpora.scim_rs,
        &corpora.scim_proto,
        &corpora.scim_filter_0_2_3,
        &corpora.scim_v2,
    ];
    let common = [&corpora.common; 4];
    for (group_name, corpus) in [("parse_corpus", own), ("parse_common_corpus", common)] {
        let [
            scim_rs_corpus,
            scim_proto_corpus,
            scim_filter_0_2_3_corpus,
            scim_v2_corpus,
        ] = corpus;
        let mut group = c.benchmark_group(group_name);
        bench_corpus(&mut group, names::SCIM_RS, scim_rs_corpus, scim_rs);
        bench_corpus(
            &mut group,
            names::SCIM_PROTO,
            scim_proto_corpus,
            peers::scim_proto,
        );
        bench_corpus(
            &mut group,
            names::SCIM_FILTER_0_2_3,
            scim_filter_0_2_3_corpus,
            peers::scim_filter_0_2_3,
        );
        bench_corpus(&mut group, names::SCIM_V2, scim_v2_corpus, peers::scim_v2);
        group.finish();
    }

    let mut group = c.benchmark_group("parse_username_eq");
    bench_one(&mut group, names::SCIM_RS, USERNAME_EQ, scim_rs);
    bench_one(
        &mut group,
        names::SCIM_PROTO,
        USERNAME_EQ,
        peers::scim_proto,
    );
    bench_one(
        &mut group,
        names::SCIM_FILTER_0_2_3,
        USERNAME_EQ,
        peers::scim_filter_0_2_3,
    );
    bench_one(&mut group, names::SCIM_V2, USERNAME_EQ, peers::scim_v2);
    group.finish();

    let mut group = c.benchmark_group(format!("parse_per_filter_{}", names::SCIM_RS));
    for &(name, filter) in FILTERS.iter().chain(LENIENT_ONLY) {
        match scim_rs(filter) {
            Ok(_) => bench_one(&mut group, name, filter, scim_rs),
            Err(error) => eprintln!(
                "filter_parse: {} rejects {name} ({filter}), not benchmarked: {error}",
                names::SCIM_RS
            ),
        }
    }
    group.finish();

    let mut group = c.benchmark_group("parse_patch_path");
    bench_one(&mut group, names::SCIM_RS, PATCH_PATH, scim_rs_patch_path);
    bench_one(
        &mut group,
        names::SCIM_V2,
        PATCH_PATH,
        peers::scim_v2_patch_path,
    );
    group.finish();
}

/// `criterion_group!` generates an undocumented `pub fn`; the module scopes the allowance to it.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::parse_benches);
}
criterion_main!(group::benches);
