//! The bridge's own directory sync (`[sync]` in its configuration): the bridge reads a directory
//! (a JSON or CSV export, a SCIM server, a Keycloak realm) and reconciles it into its target,
//! every so often (`every`) or when an administrator starts a run from the admin page. Runs go
//! through scim-sync's [`Runner`], one at a time per tenant (across instances when the history
//! is in a shared database), with the run's summary and each write in the sync history.
//!
//! The admin page reads a run's progress ([`BridgeSync::progress`]) and a dry-run plan of the
//! next run ([`BridgeSync::plan`]) from here.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use scim_atlassian::history::{HistoryEntry, HistoryObserver, Operation, Outcome, SyncHistory};
use scim_atlassian::policy::SyncPolicy;
use scim_core::HttpClient;
use scim_core::provision::{Provisioner, RequestContext};
use scim_sync::{
    FileGroupLedger, Plan, Progress, Reconciler, RunLock, RunOutcome, Runner, Step, SyncOptions,
    target_policy,
};
use serde::Deserialize;
use tracing::{info, warn};

use crate::bridge::{Env, Secret, secret};
use crate::sync::{SourceArgs, parse_every, source};
use crate::target::{TargetClient, recorded};

/// The tenant name runs are recorded and locked under when `[sync] tenant` is not given.
pub const DEFAULT_SYNC_TENANT: &str = "directory";

/// How long a dry-run plan shown on the admin page is reused before it is made again: planning
/// reads the whole source and target, too much for every page view.
pub const PLAN_TTL: Duration = Duration::from_secs(60);

/// The time now (chrono's `clock` feature is off in this workspace).
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// `[sync]`: where the directory is read from, and when.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// `source`: `file`, `scim` or `keycloak`.
    pub source: String,
    /// `file` (`source = "file"`): a JSON or CSV export, read again at every run.
    pub file: Option<PathBuf>,
    /// `url` (`scim`, `keycloak`): the SCIM base URL, or Keycloak's base URL.
    pub url: Option<String>,
    /// `token` (`scim`): the SCIM server's bearer token.
    pub token: Option<Secret>,
    /// `token_env`: the environment variable holding it.
    pub token_env: Option<String>,
    /// `realm` (`keycloak`).
    pub realm: Option<String>,
    /// `client_id` (`keycloak`): a confidential client with the realm's view-users role.
    pub client_id: Option<String>,
    /// `client_secret` (`keycloak`).
    pub client_secret: Option<Secret>,
    /// `client_secret_env`: the environment variable holding it.
    pub client_secret_env: Option<String>,
    /// `tenant`: the name runs are recorded and locked under (default
    /// [`DEFAULT_SYNC_TENANT`]).
    pub tenant: Option<String>,
    /// `every`: run every `30s`, `15m`, `1h`...; without it, runs start only from the admin
    /// page.
    pub every: Option<String>,
    /// `keep_groups`: never delete target groups the source lacks (default false).
    #[serde(default)]
    pub keep_groups: bool,
    /// `state`: a JSON file recording the target groups the runs manage (see `sync --help`).
    pub state: Option<PathBuf>,
}

impl SyncConfig {
    /// The source, with its secrets read from the file or the environment.
    pub fn source_args(&self, env: Env<'_>) -> Result<SourceArgs, String> {
        let need = |v: &Option<String>, key: &str| {
            v.clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("sync.{key} is missing for source = {:?}", self.source))
        };
        match self.source.as_str() {
            "file" => Ok(SourceArgs::File(self.file.clone().ok_or(
                "sync.file is missing for source = \"file\": a .json or .csv export",
            )?)),
            "scim" => Ok(SourceArgs::Scim {
                url: need(&self.url, "url")?,
                token: secret(
                    "sync.token",
                    self.token.as_ref(),
                    self.token_env.as_ref(),
                    env,
                )?,
            }),
            "keycloak" => Ok(SourceArgs::Keycloak {
                url: need(&self.url, "url")?,
                realm: need(&self.realm, "realm")?,
                client_id: need(&self.client_id, "client_id")?,
                client_secret: secret(
                    "sync.client_secret",
                    self.client_secret.as_ref(),
                    self.client_secret_env.as_ref(),
                    env,
                )?
                .ok_or("sync.client_secret (or client_secret_env) is missing for Keycloak")?,
            }),
            other => Err(format!(
                "sync.source = {other:?} is not known: use \"file\", \"scim\" or \"keycloak\""
            )),
        }
    }

    /// The tenant runs are recorded under.
    pub fn tenant(&self) -> Result<String, String> {
        match self.tenant.as_deref() {
            None => Ok(DEFAULT_SYNC_TENANT.to_owned()),
            Some("") => Err("sync.tenant must not be empty".to_owned()),
            Some(t) => Ok(t.to_owned()),
        }
    }

    /// The schedule, if any.
    pub fn every(&self) -> Result<Option<Duration>, String> {
        self.every
            .as_deref()
            .map(|e| parse_every(e).map_err(|why| format!("sync.every: {why}")))
            .transpose()
    }
}

/// How the last run of this bridge ended, in a few words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRun {
    /// When it ended.
    pub finished: DateTime<Utc>,
    /// Whether it ran and every step applied.
    pub ok: bool,
    /// What happened (`users 2 to create, ...; 2 steps done, 0 failed`, or why it failed).
    pub outcome: String,
}

/// Where the run under way is (or where the last one ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SyncProgress {
    /// Whether a run of this bridge is under way.
    pub running: bool,
    /// Steps finished (applied or failed).
    pub done: usize,
    /// Steps in the run's plan; 0 while it is still planning.
    pub total: usize,
    /// Steps that failed.
    pub failed: usize,
}

/// A dry-run plan of the next run, as the admin page shows it.
#[derive(Clone, Debug)]
pub struct PlanView {
    /// When it was made.
    pub planned_at: DateTime<Utc>,
    /// The plan, or why none could be made.
    pub plan: Result<Plan, String>,
}

/// One background job of the bridge (its directory sync, its inactive-user cleanup): at
/// most one run at a time, started on demand or on a schedule, and how the last run ended.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunSlot(Arc<Mutex<RunState>>);

#[derive(Debug, Default)]
struct RunState {
    running: bool,
    /// Runs finished since start.
    runs: u64,
    last: Option<LastRun>,
}

/// A run under way in its [`RunSlot`]; the slot is free again when this is dropped, even if
/// the run panicked.
pub(crate) struct Claim(RunSlot);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.lock().running = false;
    }
}

impl Claim {
    /// Records how the run ended (it is still under way until the claim is dropped).
    pub(crate) fn finish(&self, ok: bool, outcome: String) {
        let mut state = self.0.lock();
        state.runs += 1;
        state.last = Some(LastRun {
            finished: now(),
            ok,
            outcome,
        });
    }
}

impl RunSlot {
    fn lock(&self) -> MutexGuard<'_, RunState> {
        // Plain data, consistent after any panic: keep using it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a run is under way.
    pub(crate) fn running(&self) -> bool {
        self.lock().running
    }

    /// Runs finished since start.
    pub(crate) fn runs(&self) -> u64 {
        self.lock().runs
    }

    /// How the last run ended.
    pub(crate) fn last(&self) -> Option<LastRun> {
        self.lock().last.clone()
    }

    /// The slot for a run, unless one is under way.
    pub(crate) fn claim(&self) -> Option<Claim> {
        let mut state = self.lock();
        if state.running {
            return None;
        }
        state.running = true;
        Some(Claim(self.clone()))
    }

    /// Starts `run` in the background; `false` when a run is already under way.
    pub(crate) fn start<F>(&self, run: impl FnOnce(Claim) -> F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(claim) = self.claim() else {
            return false;
        };
        tokio::spawn(run(claim));
        true
    }

    /// Runs now and every `every` after (from the end of one run to the start of the next,
    /// skipping a turn while another run is under way), until the process ends.
    pub(crate) fn schedule<F>(&self, every: Duration, run: impl Fn(Claim) -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send,
    {
        let slot = self.clone();
        tokio::spawn(async move {
            loop {
                if let Some(claim) = slot.claim() {
                    run(claim).await;
                }
                tokio::time::sleep(every).await;
            }
        });
    }
}

/// The bridge's directory sync: runs on demand or on a schedule, one at a time.
pub struct BridgeSync {
    tenant: String,
    source: SourceArgs,
    http: Arc<dyn HttpClient>,
    target: Arc<dyn Provisioner>,
    history: Arc<dyn SyncHistory>,
    reconciler: Reconciler,
    runner: Runner,
    every: Option<Duration>,
    slot: RunSlot,
    /// One planner at a time; the plan it made and the run count it was made after.
    plan_cache: tokio::sync::Mutex<Option<(Instant, u64, PlanView)>>,
}

impl std::fmt::Debug for BridgeSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeSync")
            .field("tenant", &self.tenant)
            .field("source", &self.source)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// What [`BridgeSync::new`] is built from.
pub struct SyncParts<'a> {
    /// `[sync]`.
    pub config: &'a SyncConfig,
    /// The bridge's `[policy]`.
    pub policy: &'a SyncPolicy,
    /// The bridge's target.
    pub target: &'a TargetClient,
    /// The bridge's history: each run's summary and writes go there.
    pub history: Arc<dyn SyncHistory>,
    /// The run lock shared with other instances, if the history is in a database.
    pub lock: Option<Arc<dyn RunLock>>,
    /// The source's HTTP client (a SCIM server, Keycloak).
    pub http: Arc<dyn HttpClient>,
    /// The environment, for the source's secrets.
    pub env: Env<'a>,
}

/// The run's progress is the runner's own counter: nothing else to tell.
struct Quiet;

impl Progress for Quiet {
    fn step_finished(&self, _: &Step, _: bool, _: usize, _: usize) {}
}

impl BridgeSync {
    /// Checks `[sync]` and builds the sync over the bridge's target.
    pub fn new(parts: SyncParts<'_>) -> Result<Arc<BridgeSync>, String> {
        let cfg = parts.config;
        let source = cfg.source_args(parts.env)?;
        let tenant = cfg.tenant()?;
        let every = cfg.every()?;
        let mut reconciler = Reconciler::new()
            .with_sync_policy(parts.policy)
            .map_err(|e| format!("policy: {e}"))?
            .with_options(SyncOptions::default().delete_missing_groups(!cfg.keep_groups));
        if let Some(path) = &cfg.state {
            reconciler = reconciler.with_ledger(Arc::new(FileGroupLedger::new(path)));
        }
        // As `sync` does: the target applies only the deprovisioning settings, the reconciler
        // the rest. Writes are recorded one by one, as an identity provider's are.
        let built = parts.target.provisioner(
            &target_policy(parts.policy),
            false,
            Some(Arc::new(HistoryObserver::new())),
        )?;
        let target = recorded(built, Arc::clone(&parts.history), false);
        let mut runner = Runner::builder()
            .reconciler(reconciler.clone())
            .history(Arc::clone(&parts.history))
            .holder(format!("bridge-{}", std::process::id()));
        if let Some(lock) = parts.lock {
            runner = runner.lock(lock);
        }
        Ok(Arc::new(BridgeSync {
            tenant,
            source,
            http: parts.http,
            target,
            history: parts.history,
            reconciler,
            runner: runner.build(),
            every,
            slot: RunSlot::default(),
            plan_cache: tokio::sync::Mutex::new(None),
        }))
    }

    /// The tenant runs are recorded under.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Where the directory is read from (never with its secrets).
    pub fn source_described(&self) -> String {
        format!("{:?}", self.source)
    }

    /// The schedule, if any.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    /// How the last run of this bridge ended.
    pub fn last_run(&self) -> Option<LastRun> {
        self.slot.last()
    }

    /// The progress of the run under way, or of the last one.
    pub fn progress(&self) -> SyncProgress {
        let counter = self.runner.progress();
        let (done, total) = counter.get();
        SyncProgress {
            running: self.slot.running(),
            done,
            total,
            failed: counter.failed(),
        }
    }

    /// Starts a run in the background; `false` when one of this bridge is already under way.
    pub fn start(self: &Arc<Self>) -> bool {
        let me = Arc::clone(self);
        self.slot.start(|claim| async move { me.run(claim).await })
    }

    /// Runs now and every [`every`](Self::every) after, until the process ends; nothing when
    /// there is no schedule.
    pub fn spawn_schedule(self: &Arc<Self>) {
        let Some(every) = self.every else {
            return;
        };
        let me = Arc::clone(self);
        self.slot.schedule(every, move |claim| {
            let me = Arc::clone(&me);
            async move { me.run(claim).await }
        });
    }

    async fn run(&self, claim: Claim) {
        let (ok, text) = match source(&self.source, &self.http) {
            Ok(source) => {
                let outcome = self
                    .runner
                    .run_once(&self.tenant, source.as_ref(), self.target.as_ref(), &Quiet)
                    .await;
                match &outcome {
                    Ok(RunOutcome::Ran(summary)) => (
                        summary.report.as_ref().is_some_and(|r| r.failed == 0),
                        summary.describe(),
                    ),
                    Ok(_) => (
                        true,
                        "skipped: another instance is syncing this tenant".to_owned(),
                    ),
                    Err(e) => (false, format!("failed: {e}")),
                }
            }
            Err(why) => {
                // The runner never started, so it recorded nothing: the history still says
                // that this run failed, and why.
                let entry = HistoryEntry::new(
                    self.tenant.as_str(),
                    format!("sync-bridge-{}", now().timestamp_millis()),
                    Operation::new("SYNC", "Directory"),
                )
                .with_outcome(Outcome::Failure {
                    status: 502,
                    scim_type: None,
                    detail: why.clone(),
                });
                if let Err(e) = self.history.record(entry).await {
                    warn!(error = %e, "a sync history entry could not be recorded");
                }
                (false, format!("failed: {why}"))
            }
        };
        if ok {
            info!(tenant = %self.tenant, "directory sync finished");
        } else {
            warn!(tenant = %self.tenant, outcome = %text, "directory sync did not finish cleanly");
        }
        claim.finish(ok, text);
    }

    /// A dry-run plan of the next run: made now, or reused when made less than [`PLAN_TTL`]
    /// ago and no run finished since.
    pub async fn plan(&self) -> PlanView {
        let mut cache = self.plan_cache.lock().await;
        let runs = self.slot.runs();
        if let Some((made, made_after, view)) = &*cache {
            if *made_after == runs && made.elapsed() < PLAN_TTL {
                return view.clone();
            }
        }
        let plan = match source(&self.source, &self.http) {
            Ok(source) => self
                .reconciler
                .plan(
                    source.as_ref(),
                    self.target.as_ref(),
                    &RequestContext::new(self.tenant.as_str()),
                )
                .await
                .map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        let view = PlanView {
            planned_at: now(),
            plan,
        };
        *cache = Some((Instant::now(), runs, view.clone()));
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SyncConfig {
        let config = crate::bridge::Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
        config.sync.unwrap_or_else(|| panic!("no [sync] in {text}"))
    }

    #[test]
    fn sources_and_their_secrets() {
        let env = |var: &str| (var == "KC_SECRET").then(|| "kc-secret".to_owned());
        let c = parse("[sync]\nsource = \"file\"\nfile = \"dir.json\"\nevery = \"15m\"\n");
        assert_eq!(
            c.source_args(&env).ok(),
            Some(SourceArgs::File("dir.json".into()))
        );
        assert_eq!(c.tenant().ok().as_deref(), Some(DEFAULT_SYNC_TENANT));
        assert_eq!(c.every(), Ok(Some(Duration::from_secs(900))));
        let c = parse(
            "[sync]\nsource = \"keycloak\"\nurl = \"https://sso\"\nrealm = \"r\"\n\
             client_id = \"c\"\nclient_secret_env = \"KC_SECRET\"\ntenant = \"kc\"\n",
        );
        let args = c.source_args(&env).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&args, SourceArgs::Keycloak { client_secret, .. } if client_secret == "kc-secret")
        );
        assert!(!format!("{args:?} {c:?}").contains("kc-secret"));
        assert_eq!(c.every(), Ok(None));
    }

    #[test]
    fn mistakes_name_the_key() {
        let env = |_: &str| None;
        let e = parse("[sync]\nsource = \"file\"\n")
            .source_args(&env)
            .unwrap_err();
        assert!(e.contains("sync.file"), "{e}");
        let e = parse("[sync]\nsource = \"ldap\"\n")
            .source_args(&env)
            .unwrap_err();
        assert!(e.contains("ldap"), "{e}");
        let e = parse("[sync]\nsource = \"scim\"\n")
            .source_args(&env)
            .unwrap_err();
        assert!(e.contains("sync.url"), "{e}");
        let e =
            parse("[sync]\nsource = \"keycloak\"\nurl = \"u\"\nrealm = \"r\"\nclient_id = \"c\"\n")
                .source_args(&env)
                .unwrap_err();
        assert!(e.contains("client_secret"), "{e}");
        let e = parse("[sync]\nsource = \"file\"\nevery = \"soon\"\n")
            .every()
            .unwrap_err();
        assert!(e.contains("sync.every") && e.contains("soon"), "{e}");
        let e = parse("[sync]\nsource = \"file\"\ntenant = \"\"\n")
            .tenant()
            .unwrap_err();
        assert!(e.contains("sync.tenant"), "{e}");
        let e = crate::bridge::Config::from_toml("[sync]\nsource = \"file\"\nfle = \"x\"\n")
            .unwrap_err();
        assert!(e.contains("fle"), "{e}");
    }
}
