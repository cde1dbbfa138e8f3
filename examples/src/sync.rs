//! The `sync` binary: reads a directory (Keycloak, a SCIM server, a JSON/CSV export) and
//! reconciles it into the bridge's target under the bridge's `[policy]`, once or on a schedule.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scim_atlassian::CallObserver;
use scim_atlassian::cloud::CloudProvisioner;
use scim_atlassian::history::{
    HistoryObserver, InMemoryHistory, JsonLinesHistory, RecordingProvisioner, SyncHistory,
};
use scim_atlassian::policy::SyncPolicy;
use scim_core::HttpClient;
use scim_core::provision::{Provisioner, RequestContext};
use scim_sync::plan::Progress;
use scim_sync::{
    CleanupMode, DirectorySource, FileGroupLedger, FileSource, InactiveCleanup, KeycloakSource,
    LastLogins, Reconciler, RunLock, RunOutcome, Runner, ScimSource, Step, SyncError, SyncOptions,
    target_policy,
};

use crate::Flags;
use crate::bridge::{Config, Env, Target};
use crate::bridge_cleanup::{Locked, under_lock};
use crate::glue::TokioSleeper;
use crate::shared::{SharedDb, parse_shared_db};
use crate::target::{Built, TargetClient};

/// Where the directory is read from.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceArgs {
    /// `--source file --file PATH`: a JSON or CSV export.
    File(PathBuf),
    /// `--source scim --source-url URL [--source-token TOKEN]`.
    Scim {
        /// The SCIM base URL (`https://idp.example.com/scim/v2`).
        url: String,
        /// Its bearer token (or `SYNC_SOURCE_TOKEN`).
        token: Option<String>,
    },
    /// `--source keycloak --source-url URL --realm R --client-id ID` with the secret in
    /// `--client-secret` or `KEYCLOAK_CLIENT_SECRET`.
    Keycloak {
        /// Keycloak's base URL.
        url: String,
        /// The realm.
        realm: String,
        /// The confidential client's id.
        client_id: String,
        /// Its secret.
        client_secret: String,
    },
    /// No directory: `--inactive-days` cleans up the target from its own login records.
    None,
}

impl std::fmt::Debug for SourceArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the source's token or client secret.
        match self {
            SourceArgs::File(p) => write!(f, "file {}", p.display()),
            SourceArgs::Scim { url, .. } => write!(f, "scim {url}"),
            SourceArgs::Keycloak { url, realm, .. } => write!(f, "keycloak {url} realm {realm}"),
            SourceArgs::None => write!(f, "no source"),
        }
    }
}

/// `--scim-url URL --token TOKEN`: a running SCIM 2.0 service as the target (an
/// `atlassian-bridge`, say), instead of the bridge's configured target.
#[derive(Clone, PartialEq, Eq)]
pub struct ScimTarget {
    /// Its SCIM 2.0 base URL (`http://127.0.0.1:8081/scim/v2`).
    pub url: String,
    /// Its bearer token (`--token`, or `SYNC_TARGET_TOKEN`).
    pub token: String,
}

impl std::fmt::Debug for ScimTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        write!(f, "scim {}", self.url)
    }
}

/// The command line of `sync`.
// Each bool is an independent command-line switch.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncArgs {
    /// The source.
    pub source: SourceArgs,
    /// `--target PATH`: the bridge's configuration file; `None` with `--target simulate`.
    pub target: Option<PathBuf>,
    /// `--simulate` or `--target simulate`: the in-process Jira simulator.
    pub simulate: bool,
    /// `--scim-url URL --token TOKEN`: write to a running SCIM service instead (the
    /// configuration given to `--target`, if any, still gives the policy and history).
    pub scim_target: Option<ScimTarget>,
    /// `--dry-run`: print the plan, write nothing.
    pub dry_run: bool,
    /// `--force`: apply even a plan that trips the safety rail.
    pub force: bool,
    /// `--every 15m`: sync on a schedule instead of once.
    pub every: Option<Duration>,
    /// `--max-runs N`: with `--every`, stop after N runs.
    pub max_runs: Option<usize>,
    /// `--tenant NAME`: the name runs are recorded under (default `default`).
    pub tenant: String,
    /// `--keep-groups`: never delete target groups the source lacks.
    pub keep_groups: bool,
    /// `--state PATH`: where the target groups the syncs manage are recorded between runs.
    pub state: Option<PathBuf>,
    /// `--db URL`: the run lock and history in a database shared with other instances
    /// (overrides the configuration's `[history]`).
    pub db: Option<String>,
    /// `--inactive-days N`: instead of a sync, deprovision (per `[policy.deprovision]`) the
    /// target's users who have not logged in for N days.
    pub inactive_days: Option<u32>,
    /// `--exclude REGEX` (repeatable): users the inactive cleanup never touches.
    pub exclude: Vec<String>,
}

impl SyncArgs {
    /// The usage text.
    pub const USAGE: &'static str = "\
usage: sync --source file|scim|keycloak [source options]
            (--target CONFIG.toml|simulate | --scim-url URL --token TOKEN [--target CONFIG.toml])
            [--dry-run] [--force] [--keep-groups] [--state PATH] [--every 15m [--max-runs N]]
            [--tenant NAME] [--db URL]
       sync --inactive-days N [--exclude REGEX]... --target CONFIG.toml|simulate
            [--dry-run] [--force] [--every 24h [--max-runs N]] [--tenant NAME] [--db URL]

  --source file        --file PATH                   a JSON or CSV export
  --source scim        --source-url URL              a SCIM 2.0 server's base URL
                       [--source-token TOKEN]        (or $SYNC_SOURCE_TOKEN)
  --source keycloak    --source-url URL --realm R --client-id ID
                       [--client-secret S]           (or $KEYCLOAK_CLIENT_SECRET)
  --target PATH        the bridge's configuration file: its [target] and [policy] (and
                       [history] for the run summaries)
  --target simulate    the in-process Jira simulator (also: --simulate)
  --scim-url URL       a running SCIM 2.0 service to write to, e.g. an atlassian-bridge at
                       http://127.0.0.1:8081/scim/v2 (a --target file still gives the policy)
  --token TOKEN        its bearer token (or $SYNC_TARGET_TOKEN)
  --dry-run            print the plan, write nothing
  --force              apply even when the plan deactivates more than 10% of the users or
                       deletes more than 10% of the groups
  --every DURATION     sync every DURATION (30s, 15m, 1h) until stopped
  --max-runs N         with --every, stop after N runs
  --tenant NAME        the name runs are recorded and locked under (default \"default\")
  --keep-groups        never delete target groups the source lacks
  --state PATH         a JSON file recording the target groups the syncs made or filled; a
                       group the source drops is deleted only when recorded there (or claimed
                       by [policy.groups] include filters). Without it only the runs of this
                       process are remembered. Built-in groups are never deleted.
  --db URL             sqlite://PATH or postgres://USER:PASS@HOST/DB: the run lock and the
                       history, shared with every sync and bridge instance using it, so a
                       tenant syncs once at a time across them (else the config's [history] db)
  --inactive-days N    no sync: deprovision (per [policy.deprovision]) the target's users who
                       have not logged in for N days, from the product's login records (Crowd;
                       Jira and Confluence through their embedded Crowd API; Bitbucket; Cloud
                       with [target] org_id and org_token), under the same 10% safety rail
                       (--force) and --dry-run; each run is recorded in the history (a CLEANUP
                       entry); with --every, again every DURATION
  --exclude REGEX      with --inactive-days: users (userName) never touched (repeatable)
  -h, --help           this text";

    /// Parses the arguments (without the program name); `Ok(None)` means help was asked for.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: Env<'_>,
    ) -> Result<Option<SyncArgs>, String> {
        let mut kind = None;
        let mut file = None;
        let mut url = None;
        let mut token = None;
        let mut realm = None;
        let mut client_id = None;
        let mut client_secret = None;
        let mut target = None;
        let mut simulate = false;
        let (mut scim_url, mut scim_token) = (None, None);
        let (mut dry_run, mut force) = (false, false);
        let mut every = None;
        let mut max_runs = None;
        let mut tenant = "default".to_owned();
        let mut keep_groups = false;
        let mut state = None;
        let mut db = None;
        let mut inactive_days = None;
        let mut exclude = Vec::new();
        let mut flags = Flags::new(args);
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--source" => kind = Some(flags.value("--source")?),
                "--file" => file = Some(PathBuf::from(flags.value("--file")?)),
                "--source-url" => url = Some(flags.value("--source-url")?),
                "--source-token" => token = Some(flags.value("--source-token")?),
                "--realm" => realm = Some(flags.value("--realm")?),
                "--client-id" => client_id = Some(flags.value("--client-id")?),
                "--client-secret" => client_secret = Some(flags.value("--client-secret")?),
                "--target" => match flags.value("--target")?.as_str() {
                    "simulate" => simulate = true,
                    path => target = Some(PathBuf::from(path)),
                },
                "--scim-url" => scim_url = Some(parse_scim_url(&flags.value("--scim-url")?)?),
                "--token" => scim_token = Some(flags.value("--token")?),
                "--simulate" => {
                    flags.no_value("--simulate")?;
                    simulate = true;
                }
                "--dry-run" => {
                    flags.no_value("--dry-run")?;
                    dry_run = true;
                }
                "--keep-groups" => {
                    flags.no_value("--keep-groups")?;
                    keep_groups = true;
                }
                "--state" => state = Some(PathBuf::from(flags.value("--state")?)),
                "--force" => {
                    flags.no_value("--force")?;
                    force = true;
                }
                "--every" => every = Some(parse_every(&flags.value("--every")?)?),
                "--db" => db = Some(parse_shared_db("--db", &flags.value("--db")?)?),
                "--max-runs" => {
                    let v = flags.value("--max-runs")?;
                    max_runs = Some(
                        v.parse::<usize>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| format!("--max-runs {v:?} is not a positive number"))?,
                    );
                }
                "--inactive-days" => {
                    let v = flags.value("--inactive-days")?;
                    inactive_days =
                        Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("--inactive-days {v:?} is not a positive number of days")
                        })?);
                }
                "--exclude" => exclude.push(flags.value("--exclude")?),
                "--tenant" => {
                    tenant = flags.value("--tenant")?;
                    if tenant.is_empty() {
                        return Err("--tenant must not be empty".to_owned());
                    }
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let need = |v: Option<String>, flag: &str, kind: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("--source {kind} needs {flag}"))
        };
        let source = match kind.as_deref() {
            Some("file") => SourceArgs::File(
                file.ok_or("--source file needs --file PATH (a .json or .csv export)")?,
            ),
            Some("scim") => SourceArgs::Scim {
                url: need(url, "--source-url", "scim")?,
                token: token.or_else(|| env("SYNC_SOURCE_TOKEN").filter(|t| !t.is_empty())),
            },
            Some("keycloak") => SourceArgs::Keycloak {
                url: need(url, "--source-url", "keycloak")?,
                realm: need(realm, "--realm", "keycloak")?,
                client_id: need(client_id, "--client-id", "keycloak")?,
                client_secret: need(
                    client_secret.or_else(|| env("KEYCLOAK_CLIENT_SECRET")),
                    "--client-secret (or KEYCLOAK_CLIENT_SECRET)",
                    "keycloak",
                )?,
            },
            Some(other) => {
                return Err(format!(
                    "--source {other:?} is not known: use file, scim or keycloak"
                ));
            }
            None if inactive_days.is_some() => SourceArgs::None,
            None => return Err("--source is missing: file, scim or keycloak".to_owned()),
        };
        if inactive_days.is_some() && source != SourceArgs::None {
            return Err("--inactive-days reads the target only: leave --source out".to_owned());
        }
        if !exclude.is_empty() && inactive_days.is_none() {
            return Err("--exclude goes with --inactive-days".to_owned());
        }
        let scim_token = scim_token.or_else(|| env("SYNC_TARGET_TOKEN"));
        let scim_target = match (scim_url, scim_token.filter(|t| !t.is_empty())) {
            (Some(_), _) if simulate => {
                return Err("--scim-url and --target simulate are two targets: give one".to_owned());
            }
            (Some(url), Some(token)) => Some(ScimTarget { url, token }),
            (Some(_), None) => {
                return Err("--scim-url needs --token TOKEN (or SYNC_TARGET_TOKEN)".to_owned());
            }
            (None, _) => None,
        };
        if target.is_none() && !simulate && scim_target.is_none() {
            return Err(
                "--target is missing: the bridge's configuration file, `simulate`, or \
                 --scim-url URL --token TOKEN of a running bridge"
                    .to_owned(),
            );
        }
        if max_runs.is_some() && every.is_none() {
            return Err("--max-runs goes with --every".to_owned());
        }
        Ok(Some(SyncArgs {
            source,
            target,
            simulate,
            scim_target,
            dry_run,
            force,
            every,
            max_runs,
            tenant,
            keep_groups,
            state,
            db,
            inactive_days,
            exclude,
        }))
    }
}

/// `--every`'s value: a number and a unit, `s`, `m` or `h` (`15m`).
pub fn parse_every(value: &str) -> Result<Duration, String> {
    let bad = || format!("--every {value:?} is not a duration like 30s, 15m or 1h");
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = value.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(format!("--every {value:?} must be longer than zero"));
    }
    Ok(Duration::from_secs(seconds))
}

/// `--scim-url`'s value: an `http(s)://` URL, without a trailing slash.
fn parse_scim_url(value: &str) -> Result<String, String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "--scim-url {value:?} must be a SCIM base URL like http://127.0.0.1:8081/scim/v2"
        ))
    }
}

/// A one-line progress bar on a terminal's stderr, redrawn at most once per percent.
struct Bar {
    shown: Mutex<usize>,
    tty: bool,
}

impl Progress for Bar {
    fn step_finished(&self, _step: &Step, _ok: bool, done: usize, total: usize) {
        if !self.tty || total == 0 {
            return;
        }
        let percent = done * 100 / total;
        let Ok(mut shown) = self.shown.lock() else {
            return;
        };
        if percent == *shown && done != total {
            return;
        }
        *shown = percent;
        let filled = percent / 5;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {done}/{total} steps",
            "#".repeat(filled),
            " ".repeat(20usize.saturating_sub(filled))
        );
        if done == total {
            let _ = writeln!(err);
        }
    }
}

/// The directory `args` names, read through `client` (a file source reads its file now).
pub fn source(
    args: &SourceArgs,
    client: &Arc<dyn HttpClient>,
) -> Result<Box<dyn DirectorySource>, String> {
    Ok(match args {
        SourceArgs::File(path) => {
            Box::new(FileSource::from_path(path).map_err(|e| format!("--file: {e}"))?)
        }
        SourceArgs::Scim { url, token } => {
            let mut s = ScimSource::new(client.clone(), url.clone());
            if let Some(token) = token {
                s = s.with_bearer_token(token.clone());
            }
            Box::new(s)
        }
        SourceArgs::Keycloak {
            url,
            realm,
            client_id,
            client_secret,
        } => Box::new(KeycloakSource::new(
            client.clone(),
            url.clone(),
            realm.clone(),
            client_id.clone(),
            client_secret.clone(),
        )),
        SourceArgs::None => return Err("no source to read".to_owned()),
    })
}

/// `--inactive-days`: the inactive-user cleanup on the target, once or `--every` (up to
/// `--max-runs`): each run plans, prints the plan, and applies it unless `--dry-run` (under the
/// safety rail unless `--force`); each run is a `CLEANUP` entry in `history`, each
/// deprovisioning its own.
async fn cleanup_inactive(
    args: &SyncArgs,
    days: u32,
    config: &Config,
    env: Env<'_>,
    history: Arc<dyn SyncHistory>,
    lock: Option<Arc<dyn RunLock>>,
    out: &mut (dyn Write + Send),
) -> Result<Exit, String> {
    let target = config.target(args.simulate, env)?;
    let client = TargetClient::new(&target, config.concurrency()?)?;
    let observer = Some(Arc::new(HistoryObserver::new()) as Arc<dyn CallObserver>);
    let built = client.provisioner(&target_policy(&config.policy), false, observer)?;
    let mut cleanup = InactiveCleanup::new(days).map_err(|e| e.to_string())?;
    for pattern in &args.exclude {
        cleanup = cleanup.exclude(pattern).map_err(|e| e.to_string())?;
    }
    // Cloud's last-active dates come from the organizations API (`[target] org_id` and
    // `org_token`); without them its error says so.
    let described = client.described();
    let (recorded, lock) = (history.as_ref(), lock.as_deref());
    match built {
        Built::DataCenter(p) => {
            let p = RecordingProvisioner::new(p, Arc::clone(&history));
            run_cleanups(args, &cleanup, &p, described, recorded, lock, out).await
        }
        Built::Cloud(p) => {
            let p = RecordingProvisioner::new(p, Arc::clone(&history));
            run_cleanups(args, &cleanup, &p, described, recorded, lock, out).await
        }
    }
}

/// The cleanup runs of `--inactive-days` on `p` (once, or `--every` up to `--max-runs`), each
/// printed and recorded in `history`, under `lock` (`--db`'s run lock) when given.
async fn run_cleanups<P: Provisioner + LastLogins>(
    args: &SyncArgs,
    cleanup: &InactiveCleanup,
    p: &P,
    described: &str,
    history: &dyn SyncHistory,
    lock: Option<&dyn RunLock>,
    out: &mut (dyn Write + Send),
) -> Result<Exit, String> {
    let days = cleanup.days();
    let holder = format!("sync-{}", std::process::id());
    let ctx = RequestContext::new(args.tenant.clone());
    let mode = CleanupMode {
        dry_run: args.dry_run,
        force: args.force,
    };
    let mut exit = Exit::Ok;
    let mut runs = 0;
    loop {
        let _ = writeln!(out, "inactive-user cleanup ({days} days) of {described}");
        let run = cleanup.run(p, &ctx, mode, Some(history));
        let locked = under_lock(lock, &args.tenant, &holder, run).await?;
        runs += 1;
        match locked {
            Locked::Held => {
                let _ = writeln!(
                    out,
                    "skipped: another instance holds the run lock of tenant {:?}",
                    args.tenant
                );
            }
            Locked::Ran(result) => match result {
                Ok(run) => {
                    let _ = writeln!(out, "{}", run.plan);
                    match &run.report {
                        None => {
                            let _ = writeln!(out, "dry run: nothing written");
                        }
                        Some(report) => {
                            if report.failed > 0 {
                                exit = Exit::Failed;
                            }
                            let _ = writeln!(out, "applied: {report}");
                        }
                    }
                }
                Err(e @ SyncError::SafetyLimit { .. }) => {
                    exit = Exit::Refused;
                    let _ = writeln!(out, "{e}");
                }
                Err(e) if args.every.is_none() => return Err(format!("cleanup failed: {e}")),
                Err(e) => {
                    exit = Exit::Failed;
                    let _ = writeln!(out, "cleanup failed: {e}");
                }
            },
        }
        match args.every {
            Some(every) if runs < args.max_runs.unwrap_or(usize::MAX) => {
                tokio::time::sleep(every).await;
            }
            _ => return Ok(exit),
        }
    }
}

/// The target, built with only the policy's deprovisioning settings (the reconciler applies
/// the rest: see `scim_sync::policy`), and how to name it.
fn target(
    target: &Target,
    policy: &SyncPolicy,
    concurrency: usize,
) -> Result<(Arc<dyn Provisioner>, String), String> {
    let client = TargetClient::new(target, concurrency)?;
    let provisioner: Arc<dyn Provisioner> =
        // The run's history entry lists the product calls it made, as a push operation's does.
        match client.provisioner(&target_policy(policy), false, Some(Arc::new(HistoryObserver::new())))? {
            Built::DataCenter(p) => Arc::new(p),
            Built::Cloud(p) => Arc::new(p),
        };
    Ok((provisioner, client.described().to_owned()))
}

/// `--scim-url`: a SCIM 2.0 service written to over HTTP with its bearer token, with the
/// policy's deprovisioning settings (as [`target`]). Atlassian Cloud's provisioning API is
/// plain SCIM 2.0, so its client (`CloudProvisioner`: exact `eq` filters passed on, others
/// evaluated here, memberships as PATCH on `members`) serves any SCIM service.
fn scim_target(
    t: &ScimTarget,
    policy: &SyncPolicy,
    http: Arc<dyn HttpClient>,
) -> Result<(Arc<dyn Provisioner>, String), String> {
    let provisioner = CloudProvisioner::builder(t.url.clone(), t.token.clone())
        .client(http)
        .sleeper(Arc::new(TokioSleeper))
        .policy(target_policy(policy))
        .observer(Arc::new(HistoryObserver::new()))
        .build()
        .map_err(|e| format!("--scim-url: {e}"))?;
    Ok((
        Arc::new(provisioner),
        format!("the SCIM service at {}", t.url),
    ))
}

/// How `sync` ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every run finished and every step applied.
    Ok,
    /// A run failed, or some of its steps did.
    Failed,
    /// The safety rail refused a plan (read it, then rerun with `--force`).
    Refused,
}

/// Prints one run's outcome to `out` and folds it into `exit`.
fn report(
    outcome: &Result<RunOutcome, SyncError>,
    tenant: &str,
    exit: &mut Exit,
    out: &mut dyn Write,
) {
    let _ = match outcome {
        Ok(RunOutcome::Ran(summary)) => {
            let _ = writeln!(out, "{}", summary.plan);
            match &summary.report {
                Some(r) => {
                    if r.failed > 0 {
                        *exit = Exit::Failed;
                    }
                    writeln!(out, "applied: {r}")
                }
                None => writeln!(out, "dry run: nothing written"),
            }
        }
        Ok(_) => writeln!(out, "skipped: another run of {tenant} is under way"),
        Err(e @ (SyncError::SafetyLimit { .. } | SyncError::GroupSafetyLimit { .. })) => {
            *exit = Exit::Refused;
            writeln!(out, "{e}")
        }
        Err(e) => {
            *exit = Exit::Failed;
            writeln!(out, "sync failed: {e}")
        }
    };
}

/// Runs `sync` with `args`, printing plans and reports to `out`. `http` is the source's
/// client (a real Jira target gets its own reqwest client).
pub async fn run(
    args: &SyncArgs,
    env: Env<'_>,
    http: Arc<dyn HttpClient>,
    out: &mut (dyn Write + Send),
) -> Result<Exit, String> {
    let config = match &args.target {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let shared = match config.history_db(args.db.as_deref())? {
        Some(url) => Some(SharedDb::open(&url).await?),
        None => None,
    };
    let history: Arc<dyn SyncHistory> = match (&shared, &config.history.path) {
        (Some(db), _) => db.history.clone(),
        (None, Some(path)) => {
            Arc::new(JsonLinesHistory::open(path).map_err(|e| format!("history: {e}"))?)
        }
        (None, None) => Arc::new(InMemoryHistory::new()),
    };
    if let Some(days) = args.inactive_days {
        let lock = shared.map(|db| db.lock as Arc<dyn RunLock>);
        return cleanup_inactive(args, days, &config, env, history, lock, out).await;
    }
    let (target, described) = match &args.scim_target {
        Some(t) => scim_target(t, &config.policy, Arc::clone(&http))?,
        None => target(
            &config.target(args.simulate, env)?,
            &config.policy,
            config.concurrency()?,
        )?,
    };
    let source = source(&args.source, &http)?;
    let mut reconciler = Reconciler::new()
        .with_sync_policy(&config.policy)
        .map_err(|e| format!("policy: {e}"))?
        .with_options(SyncOptions::default().delete_missing_groups(!args.keep_groups));
    if let Some(path) = &args.state {
        reconciler = reconciler.with_ledger(Arc::new(FileGroupLedger::new(path)));
    }
    let mut runner = Runner::builder()
        .reconciler(reconciler)
        .history(history)
        .holder(format!("sync-{}", std::process::id()))
        .dry_run(args.dry_run)
        .force(args.force);
    if let Some(db) = shared {
        // One run per tenant across every instance on this database.
        runner = runner.lock(db.lock);
    }
    let runner = runner.build();
    let bar = Bar {
        shown: Mutex::new(usize::MAX),
        tty: std::io::stderr().is_terminal(),
    };
    let _ = writeln!(out, "syncing {:?} into {described}", args.source);
    let mut exit = Exit::Ok;
    match args.every {
        None => {
            let outcome = runner
                .run_once(&args.tenant, source.as_ref(), target.as_ref(), &bar)
                .await;
            report(&outcome, &args.tenant, &mut exit, out);
        }
        Some(every) => {
            let max = args.max_runs.unwrap_or(usize::MAX);
            let mut runs = 0;
            runner
                .run_every(
                    &args.tenant,
                    source.as_ref(),
                    target.as_ref(),
                    every,
                    &TokioSleeper,
                    &bar,
                    |outcome| {
                        report(outcome, &args.tenant, &mut exit, out);
                        runs += 1;
                        runs < max
                    },
                )
                .await;
        }
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<SyncArgs>, String> {
        let env = |var: &str| (var == "KEYCLOAK_CLIENT_SECRET").then(|| "from-env".to_owned());
        SyncArgs::parse(args.iter().map(|s| (*s).to_owned()), &env)
    }

    #[test]
    fn arguments() {
        let a = parse(&[
            "--source", "file", "--file", "x.csv", "--target", "simulate",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.source, SourceArgs::File("x.csv".into()));
        assert!(a.simulate && !a.dry_run && a.every.is_none());
        let a = parse(&[
            "--source=keycloak",
            "--source-url",
            "https://sso.example.com",
            "--realm",
            "acme",
            "--client-id",
            "sync",
            "--target",
            "bridge.toml",
            "--dry-run",
            "--every",
            "15m",
            "--max-runs",
            "2",
            "--keep-groups",
            "--state",
            "groups.json",
        ])
        .unwrap()
        .unwrap();
        assert!(a.keep_groups);
        assert_eq!(a.state, Some(PathBuf::from("groups.json")));
        assert!(
            matches!(&a.source, SourceArgs::Keycloak { client_secret, .. } if client_secret == "from-env")
        );
        assert!(!format!("{a:?}").contains("from-env"), "{a:?}");
        assert_eq!(a.target, Some(PathBuf::from("bridge.toml")));
        assert_eq!(a.every, Some(Duration::from_secs(900)));
        assert!(parse(&["--help"]).unwrap().is_none());
        let a = parse(&[
            "--source",
            "file",
            "--file",
            "x.csv",
            "--scim-url",
            "http://127.0.0.1:8081/scim/v2/",
            "--token",
            "s3cret",
        ])
        .unwrap()
        .unwrap();
        let t = a.scim_target.clone().unwrap();
        assert_eq!(t.url, "http://127.0.0.1:8081/scim/v2");
        assert_eq!(t.token, "s3cret");
        assert!(a.target.is_none() && !a.simulate);
        assert!(!format!("{a:?}").contains("s3cret"), "{a:?}");
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let e = parse(&["--target", "simulate"]).unwrap_err();
        assert!(e.contains("--source"), "{e}");
        let e = parse(&["--source", "ldap", "--simulate"]).unwrap_err();
        assert!(e.contains("ldap"), "{e}");
        let e = parse(&["--source", "scim", "--simulate"]).unwrap_err();
        assert!(e.contains("--source-url"), "{e}");
        let e = parse(&["--source", "file", "--file", "x.csv"]).unwrap_err();
        assert!(e.contains("--target"), "{e}");
        let e = parse(&[
            "--source",
            "file",
            "--file",
            "x",
            "--simulate",
            "--max-runs",
            "2",
        ])
        .unwrap_err();
        assert!(e.contains("--every"), "{e}");
        for bad in ["15", "m", "0m", "15d", "99999999999999999999h"] {
            assert!(parse_every(bad).unwrap_err().contains(bad), "{bad}");
        }
        let e = parse(&["--inactive-days", "0", "--simulate"]).unwrap_err();
        assert!(e.contains("--inactive-days"), "{e}");
        let with_file_source = |first: &[&str]| {
            let mut args = first.to_vec();
            args.extend(["--source", "file", "--file", "x", "--simulate"]);
            parse(&args).unwrap_err()
        };
        let e = with_file_source(&["--exclude", "^svc-"]);
        assert!(e.contains("--inactive-days"), "{e}");
        let e = with_file_source(&["--inactive-days", "90"]);
        assert!(e.contains("leave --source out"), "{e}");
        let a = parse(&["--inactive-days", "90", "--exclude", "^svc-", "--simulate"])
            .unwrap()
            .unwrap();
        assert_eq!((a.inactive_days, a.source), (Some(90), SourceArgs::None));
        assert_eq!(a.exclude, ["^svc-"]);
        let file = ["--source", "file", "--file", "x"];
        let scim_cases: [(&[&str], &str); 3] = [
            (&["--scim-url", "http://h/scim/v2"], "--token"),
            (&["--scim-url", "h:1/scim"], "h:1/scim"),
            (
                &["--simulate", "--scim-url", "http://h", "--token", "t"],
                "two targets",
            ),
        ];
        for (args, want) in scim_cases {
            let e = parse(&[&file[..], args].concat()).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        assert_eq!(parse_every("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_every("1h"), Ok(Duration::from_secs(3600)));
    }
}
