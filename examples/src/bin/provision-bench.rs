//! `provision-bench`: how long provisioning takes when every product call costs a network
//! round trip, against the bound that latency sets.
//!
//! A directory of `--users` users, each in `--groups-per-user` of `--groups` groups, is synced
//! by scim-sync's [`Reconciler`] into an empty in-process Jira simulator whose every call is
//! delayed by `--latency-ms` (an async wait, as a network round trip). At most
//! `--concurrency` operations are in flight at once: that is [`SyncOptions::concurrency`],
//! the option any scim-sync application sets. The simulator counts the calls; the
//! latency-bound minimum is `calls x latency / concurrency`, and the ratio says how close to it
//! the sync ran (time beyond it is CPU and calls that had to wait on one another).
//!
//! ```text
//! cargo run --release -p scim-examples --bin provision-bench -- --users 10000 --latency-ms 20 --concurrency 8
//! ```
//!
//! Then the same sync runs again on the converged target (a resync, as a scheduled sync does
//! when nothing changed): it prints the initial sync's time (plan and apply) and the
//! resync's, their ratio (goal: under 20%), and both runs' Jira calls as reads and writes (a
//! converged resync makes no write). `--latency-ms 0` measures the CPU alone.
//!
//! The last line is the result as JSON, for scripts and tests.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scim_atlassian::simulator::{JiraSimulator, Latency};
use scim_atlassian::{AtlassianProvisioner, Credentials};
use scim_core::HttpClient;
use scim_core::provision::RequestContext;
use scim_examples::Flags;
use scim_examples::glue::TokioSleeper;
use scim_sync::{FileSource, Reconciler, SyncOptions};

const USAGE: &str = "\
usage: provision-bench [--users N] [--groups N] [--groups-per-user N] [--latency-ms MS]
                       [--concurrency N]

  --users N            users to provision (default 10000)
  --groups N           groups in the directory (default 30)
  --groups-per-user N  groups each user is in (default 3)
  --latency-ms MS      delay of every Jira call (default 20; 0: none, CPU-bound)
  --concurrency N      operations in flight at once: scim-sync's SyncOptions::concurrency
                       (default 8)
  -h, --help           this text";

struct Args {
    users: usize,
    groups: usize,
    per_user: usize,
    latency: Duration,
    concurrency: usize,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        users: 10_000,
        groups: 30,
        per_user: 3,
        latency: Duration::from_millis(20),
        concurrency: 8,
    };
    let number = |flag: &str, value: String| -> Result<usize, String> {
        match value.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag} {value:?}: give a whole number above 0")),
        }
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--users" => out.users = number("--users", flags.value("--users")?)?,
            "--groups" => out.groups = number("--groups", flags.value("--groups")?)?,
            "--groups-per-user" => {
                out.per_user = number("--groups-per-user", flags.value("--groups-per-user")?)?;
            }
            "--latency-ms" => {
                let value = flags.value("--latency-ms")?;
                let ms = value.parse::<u64>().map_err(|_| {
                    format!("--latency-ms {value:?}: give a whole number of milliseconds")
                })?;
                out.latency = Duration::from_millis(ms);
            }
            "--concurrency" => {
                out.concurrency = number("--concurrency", flags.value("--concurrency")?)?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if out.per_user > out.groups {
        return Err("--groups-per-user cannot exceed --groups".to_owned());
    }
    Ok(Some(out))
}

/// Jira calls by kind: reads (`GET`) and writes (everything else).
#[derive(Clone, Copy)]
struct Calls {
    reads: usize,
    writes: usize,
}

impl Calls {
    fn of(sim: &JiraSimulator) -> Self {
        let writes = sim.write_calls();
        Calls {
            reads: sim.total_calls().saturating_sub(writes),
            writes,
        }
    }

    fn total(self) -> usize {
        self.reads + self.writes
    }

    fn plus(self, other: Calls) -> Calls {
        Calls {
            reads: self.reads + other.reads,
            writes: self.writes + other.writes,
        }
    }
}

/// The directory as scim-sync's CSV export: user `i` is in groups `i, i+1, ...` (mod groups),
/// so every group gets about `users x per_user / groups` members.
fn directory(args: &Args) -> String {
    let mut csv = String::from("userName,email,groups\n");
    for i in 0..args.users {
        let groups: Vec<String> = (0..args.per_user)
            .map(|k| format!("group-{:03}", (i + k) % args.groups))
            .collect();
        // Writing to a String cannot fail.
        let _ = writeln!(
            csv,
            "user{i:05},user{i:05}@example.com,{}",
            groups.join(";")
        );
    }
    csv
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("provision-bench: {why}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let source = match FileSource::from_csv_str(&directory(&args)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("provision-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let credentials = Credentials::bearer("bench-pat");
    let sim = Arc::new(JiraSimulator::new(credentials.clone()));
    let client: Arc<dyn HttpClient> = if args.latency.is_zero() {
        sim.clone()
    } else {
        Arc::new(Latency::new(
            sim.clone(),
            args.latency,
            Arc::new(TokioSleeper),
        ))
    };
    let jira = match AtlassianProvisioner::jira("http://jira.invalid", credentials)
        .client(client)
        .sleeper(Arc::new(TokioSleeper))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("provision-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ctx = RequestContext::new("bench");
    let reconciler =
        Reconciler::new().with_options(SyncOptions::default().concurrency(args.concurrency));

    // The initial sync, as a user sees it: plan (reading the empty target) and apply.
    let started = Instant::now();
    let plan = match reconciler.plan(&source, &jira, &ctx).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("provision-bench: planning failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let planned = started.elapsed();
    let plan_calls = Calls::of(&sim);
    sim.reset_calls();
    let applying = Instant::now();
    let report = plan.apply_forced(&jira, &ctx).await;
    let elapsed = applying.elapsed();
    let initial = started.elapsed();
    let apply_calls = Calls::of(&sim);
    let calls = apply_calls.total();
    let initial_calls = plan_calls.plus(apply_calls);

    // The same sync again on the converged target: it should only read.
    sim.reset_calls();
    let started = Instant::now();
    let (resync_plan, resync_report) = match reconciler.plan(&source, &jira, &ctx).await {
        Ok(p) => {
            let report = p.apply_forced(&jira, &ctx).await;
            (p, report)
        }
        Err(e) => {
            eprintln!("provision-bench: planning the resync failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let resync = started.elapsed();
    let resync_calls = Calls::of(&sim);

    // Counts far below 2^52: exact as f64.
    let as_f64 = |n: usize| f64::from(u32::try_from(n).unwrap_or(u32::MAX));
    let minimum = args.latency.as_secs_f64() * as_f64(calls) / as_f64(args.concurrency);
    let ratio = elapsed.as_secs_f64() / minimum.max(f64::EPSILON);
    let resync_ratio = resync.as_secs_f64() / initial.as_secs_f64().max(f64::EPSILON);
    println!(
        "{} users, {} groups ({} per user), {} ms a call, concurrency {}",
        args.users,
        args.groups,
        args.per_user,
        args.latency.as_millis(),
        args.concurrency
    );
    println!("apply: {report}");
    if args.latency.is_zero() {
        println!(
            "{calls} Jira calls in {:.1} s (no latency: CPU only)",
            elapsed.as_secs_f64()
        );
    } else {
        println!(
            "{calls} Jira calls in {:.1} s; latency-bound minimum {:.1} s (calls x latency / \
             concurrency); {ratio:.2}x the minimum",
            elapsed.as_secs_f64(),
            minimum
        );
    }
    println!(
        "initial sync: {:.2} s (plan {:.2} s, apply {:.2} s), {} reads, {} writes",
        initial.as_secs_f64(),
        planned.as_secs_f64(),
        elapsed.as_secs_f64(),
        initial_calls.reads,
        initial_calls.writes
    );
    println!(
        "resync of the converged target: {:.2} s, {} reads, {} writes; {} steps planned; \
         apply: {resync_report}",
        resync.as_secs_f64(),
        resync_calls.reads,
        resync_calls.writes,
        resync_plan.steps().len()
    );
    println!(
        "resync / initial sync: {:.1}% (goal: under 20%)",
        resync_ratio * 100.0
    );
    println!(
        "{}",
        serde_json::json!({
            "users": args.users,
            "groups": args.groups,
            "failed": report.failed,
            "calls": calls,
            "elapsedSeconds": elapsed.as_secs_f64(),
            "minimumSeconds": minimum,
            "ratio": ratio,
            "simulatedUsers": sim.user_count(),
            "initial": {
                "seconds": initial.as_secs_f64(),
                "reads": initial_calls.reads,
                "writes": initial_calls.writes,
            },
            "resync": {
                "seconds": resync.as_secs_f64(),
                "reads": resync_calls.reads,
                "writes": resync_calls.writes,
                "steps": resync_plan.steps().len(),
                "failed": resync_report.failed,
            },
            "resyncRatio": resync_ratio,
        })
    );
    if report.failed > 0 || resync_report.failed > 0 {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
