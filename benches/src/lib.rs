//! Criterion benchmarks live in `benches/`; this library only holds shared bench data.
