//! `http-bench` runs: one short round with two connections proves the servers, the seeding and
//! the load generator work (every response a 200), without claiming anything about speed.

use std::process::Command;

#[test]
fn a_short_bench_run_completes_without_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_http-bench"))
        .args(["--seconds", "0.5", "--connections", "2"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run http-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for prefix in ["scim ", "trivial ", "static ", "ratio "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(prefix)),
            "a {prefix:?} line: {stdout}"
        );
    }
    assert!(stdout.contains(" 0 errors"), "{stdout}");
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--seconds", "0"][..],
        &["--seconds", "abc"],
        &["--connections", "0"],
        &["--frob"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_http-bench"))
            .args(args)
            .output()
            .expect("run http-bench");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
