//! `provision-bench` runs: a small directory proves the sync completes into the slowed
//! simulator, every user arrives, and the concurrency bound holds (the run cannot beat the
//! latency-bound minimum, which it would if more operations were in flight than configured).
//! No speed is claimed here: the figures are in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> (bool, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_provision-bench"))
        .args(args)
        .output()
        .expect("run provision-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.success(),
        format!("{stdout}{stderr}"),
        out.status.code(),
    )
}

#[test]
fn a_small_sync_provisions_everyone_within_the_concurrency_bound() {
    let (ok, text, _) = run(&[
        "--users",
        "120",
        "--groups",
        "12",
        "--latency-ms",
        "4",
        "--concurrency",
        "4",
    ]);
    assert!(ok, "{text}");
    let result: Value =
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(result["failed"], 0, "{text}");
    assert_eq!(result["simulatedUsers"], 120, "{text}");
    // 2 calls a user (create, property), and per group 1 create + a check and an add per
    // member (30 members each).
    assert_eq!(result["calls"], 120 * 2 + 12 * (1 + 2 * 30), "{text}");
    let ratio = result["ratio"].as_f64().unwrap();
    assert!(
        ratio >= 1.0,
        "more than 4 calls were in flight at once: {text}"
    );
    // The initial sync writes exactly the apply's calls; the resync of the converged target
    // plans nothing and only reads: a listing page, one property a user (Jira cannot list
    // them), and each group's members (3 pages of at most 50 for 30 members, at most).
    assert_eq!(
        result["initial"]["writes"],
        120 + 12 * (1 + 30) + 120,
        "{text}"
    );
    assert_eq!(result["resync"]["steps"], 0, "{text}");
    assert_eq!(result["resync"]["writes"], 0, "{text}");
    assert_eq!(result["resync"]["failed"], 0, "{text}");
    let reads = result["resync"]["reads"].as_u64().unwrap();
    assert!(reads <= 120 + 2 + 12 * 2 + 2, "{reads} reads: {text}");
    assert!(text.contains("resync / initial sync: "), "{text}");
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--users", "0"][..],
        &["--concurrency", "x"],
        &["--latency-ms", "-1"],
        &["--groups", "2", "--groups-per-user", "3"],
        &["--frob"],
    ] {
        let (_, text, code) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
    }
}
