//! `http-bench` runs: one short round with two connections proves the servers, the seeding and
//! the load generator work (every response a 200), without claiming anything about speed.

use std::process::Command;

/// Runs http-bench with `args` (request logs off); its standard output, after checking that it
/// succeeded.
#[allow(clippy::expect_used)] // A test helper: a binary that cannot start fails the test.
fn run_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_http-bench"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run http-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn a_short_bench_run_completes_without_errors() {
    let stdout = run_ok(&["--seconds", "0.5", "--connections", "2"]);
    for prefix in ["scim ", "trivial ", "static ", "ratio "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(prefix)),
            "a {prefix:?} line: {stdout}"
        );
    }
    assert!(stdout.contains(" 0 errors"), "{stdout}");
}

/// `--rounds`: the three phases again in each round, and the median of each ratio at the end,
/// within the range of the rounds'.
#[test]
fn rounds_interleave_the_phases_and_print_median_ratios() {
    let stdout = run_ok(&["--seconds", "0.3", "--connections", "2", "--rounds", "3"]);
    for prefix in ["scim ", "trivial ", "static "] {
        let n = stdout.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(n, 3, "{prefix:?} once per round: {stdout}");
    }
    assert!(stdout.contains("round 3 of 3"), "{stdout}");
    let median = stdout
        .lines()
        .find(|l| l.starts_with("median   scim/static-user throughput: "))
        .unwrap_or_else(|| panic!("a median line: {stdout}"));
    // "median   ...: M% (from L% to H%)": L <= M <= H.
    let numbers: Vec<f64> = median
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse().ok())
        .collect();
    assert!(
        numbers.len() == 3 && numbers[1] <= numbers[0] && numbers[0] <= numbers[2],
        "{median}"
    );
}

/// `--scale`: two small SQLite sizes, each loaded, GET and POST over HTTP with no error, every
/// filter answered, and the table printed with a row per size.
#[test]
fn a_short_scale_run_prints_the_table() {
    let stdout = run_ok(&[
        "--seconds",
        "0.3",
        "--connections",
        "2",
        "--scale",
        "60,120",
    ]);
    for n in [60, 120] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("| {n} |"))),
            "a row for {n} users: {stdout}"
        );
        for phase in ["post", "get member"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("{phase} {n} ")) && l.contains(" 0 errors")),
                "{phase} at {n} users without errors: {stdout}"
            );
        }
    }
    assert!(stdout.contains("| memory, 60 users |"), "{stdout}");
}

/// `--db sqlite://...`: the SCIM phase served from a SQLite file, seeded with `--users`.
#[test]
fn the_scim_phase_runs_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("http-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let stdout = run_ok(&[
        "--seconds",
        "0.3",
        "--connections",
        "2",
        "--users",
        "50",
        "--db",
        &url,
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(stdout.contains("(50 users, sqlite://"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("scim ") && l.contains(" 0 errors")),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--seconds", "0"][..],
        &["--seconds", "abc"],
        &["--connections", "0"],
        &["--frob"],
        &["--users", "0"],
        &["--scale", "1000,x"],
        &["--scale", "0"],
        &["--rounds", "0"],
        &["--rounds", "51"],
        &["--rounds", "x"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_http-bench"))
            .args(args)
            .output()
            .expect("run http-bench");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
