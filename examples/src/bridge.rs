//! `atlassian-bridge`'s command line and configuration file, resolved into what the binary
//! builds: the target, the tenants' tokens, the history store and the admin token.
//!
//! Secrets come from the file (`token`, `password`) or, better, from environment variables it
//! names (`token_env`, `password_env`); they are never logged or shown by `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use scim_atlassian::policy::SyncPolicy;
use scim_atlassian::{Credentials, GroupRename};
use serde::Deserialize;

use crate::bounded::DEFAULT_CONCURRENCY;
use crate::shared::parse_shared_db;
use crate::{Flags, parse_bind, parse_public_url};

/// The command line of `atlassian-bridge`.
#[derive(Clone, PartialEq, Eq)]
pub struct BridgeArgs {
    /// `--bind ADDR` (default `127.0.0.1:8081`).
    pub bind: SocketAddr,
    /// `--token TOKEN`: a SCIM bearer token for the tenant `default`, besides the configured
    /// tenants.
    pub token: Option<String>,
    /// `--admin-token TOKEN`: guards `/admin/history` (overrides the file's `admin_token`).
    pub admin_token: Option<String>,
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// `--simulate`: the in-process Jira simulator (Bitbucket's for a `bitbucket-dc` target)
    /// instead of the configured target.
    pub simulate: bool,
    /// `--test-connection`: check the target and exit.
    pub test_connection: bool,
    /// `--public-url URL`.
    pub public_url: Option<String>,
    /// `--db URL`: the sync history in a database shared with other instances (overrides the
    /// file's `[history]`).
    pub db: Option<String>,
}

impl fmt::Debug for BridgeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeArgs")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("config", &self.config)
            .field("simulate", &self.simulate)
            .field("test_connection", &self.test_connection)
            .field("public_url", &self.public_url)
            .field("db", &self.db.as_deref().map(crate::redact_url))
            .finish()
    }
}

impl BridgeArgs {
    /// The usage text.
    pub const USAGE: &'static str = "\
usage: atlassian-bridge [--config FILE] [--simulate] [--bind ADDR] [--token TOKEN]
                        [--admin-token TOKEN] [--public-url URL] [--db URL]
                        [--test-connection]

  --config FILE      TOML configuration: target, tenants, policies, history
                     (see examples/bridge.sample.toml)
  --simulate         provision into the built-in in-process simulator of target.type (Jira
                     when there is no configuration) instead of the configured target
  --bind ADDR        address to listen on (default 127.0.0.1:8081; port 0 picks a free one)
  --token TOKEN      a SCIM bearer token for the tenant \"default\" (besides the configured
                     tenants; with neither, one is generated and printed once)
  --admin-token TOKEN  bearer token for GET /admin/history and /admin/settings (else the
                     file's admin_token; with neither, one is generated and printed once);
                     a tenant's SCIM token reads its own tenant's there
  --public-url URL   base URL for Location headers, e.g. https://scim.example.com
  --db URL           keep the sync history in sqlite://PATH or postgres://USER:PASS@HOST/DB,
                     shared by every bridge and sync instance using it (else [history] db,
                     else [history] path, else memory)
  --test-connection  check the target's reachability, credentials and permissions, then exit
                     (status 0 when all is well)
  -h, --help         this text

SCIM 2.0 is served at /scim/v2, SCIM 1.1 at /scim/v1, the admin web page at /admin (sign in
with the admin token). RUST_LOG sets the log level.";

    /// Parses the arguments (without the program name); `Ok(None)` means help was asked for.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<BridgeArgs>, String> {
        let mut out = BridgeArgs {
            bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
            token: None,
            admin_token: None,
            config: None,
            simulate: false,
            test_connection: false,
            public_url: None,
            db: None,
        };
        let mut flags = Flags::new(args);
        while let Some(flag) = flags.next_flag() {
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--bind" => out.bind = parse_bind(&flags.value("--bind")?)?,
                "--token" => out.token = Some(non_empty("--token", flags.value("--token")?)?),
                "--admin-token" => {
                    out.admin_token =
                        Some(non_empty("--admin-token", flags.value("--admin-token")?)?);
                }
                "--config" => out.config = Some(PathBuf::from(flags.value("--config")?)),
                "--simulate" => {
                    flags.no_value("--simulate")?;
                    out.simulate = true;
                }
                "--test-connection" | "test-connection" => {
                    flags.no_value("--test-connection")?;
                    out.test_connection = true;
                }
                "--public-url" => {
                    out.public_url = Some(parse_public_url(&flags.value("--public-url")?)?);
                }
                "--db" => out.db = Some(parse_shared_db("--db", &flags.value("--db")?)?),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if out.config.is_none() && !out.simulate {
            return Err(
                "give --config FILE (the Jira to provision into), or --simulate to try the \
                 bridge against the built-in Jira simulator"
                    .to_owned(),
            );
        }
        Ok(Some(out))
    }
}

fn non_empty(flag: &str, value: String) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{flag} must not be empty"))
    } else {
        Ok(value)
    }
}

/// The configuration file. Unknown keys are errors (a misspelt key would otherwise be
/// silently ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[target]`: the product to provision into.
    pub target: Option<TargetConfig>,
    /// `[[tenants]]` (or `[[idp]]`): the identity providers, each with its SCIM token and,
    /// optionally, its own policy.
    #[serde(default, alias = "idp")]
    pub tenants: Vec<TenantConfig>,
    /// `[history]`: where sync history goes.
    #[serde(default)]
    pub history: HistoryConfig,
    /// `admin_token`: bearer token of `/admin/history`.
    pub admin_token: Option<Secret>,
    /// `admin_token_env`: the environment variable holding it.
    pub admin_token_env: Option<String>,
    /// `[policy]`: the sync policy (group mapping, default groups, transformations,
    /// deprovisioning), as `scim_atlassian::policy::SyncPolicy` reads it; checked on load.
    #[serde(default)]
    pub policy: SyncPolicy,
    /// `dry_run`: compute and record what would change without writing to the target, for
    /// every tenant without its own `dry_run` (default false).
    #[serde(default)]
    pub dry_run: bool,
    /// `[sync]`: a directory the bridge itself syncs from, on a schedule or from the admin
    /// page (see [`crate::bridge_sync`]).
    pub sync: Option<crate::bridge_sync::SyncConfig>,
    /// `[cleanup]`: the inactive-user cleanup the bridge runs on a schedule or from the admin
    /// page (see [`crate::bridge_cleanup`]).
    pub cleanup: Option<crate::bridge_cleanup::CleanupConfig>,
}

/// `[target]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `type`: `jira-dc`, `crowd`, `confluence-dc`, `bitbucket-dc` or `cloud` (Atlassian
    /// Cloud's user provisioning API).
    #[serde(rename = "type", alias = "kind")]
    pub kind: String,
    /// `url`: the product's base URL with its context path; for `cloud`, the directory URL
    /// `https://api.atlassian.com/scim/directory/{directoryId}`.
    pub url: Option<String>,
    /// `token`: a personal access token; for `cloud`, the directory API key.
    pub token: Option<Secret>,
    /// `token_env`: the environment variable holding the personal access token.
    pub token_env: Option<String>,
    /// `username`: for Basic authentication.
    pub username: Option<String>,
    /// `password`: for Basic authentication.
    pub password: Option<Secret>,
    /// `password_env`: the environment variable holding the password.
    pub password_env: Option<String>,
    /// `timeout_seconds`: per request (default 30).
    pub timeout_seconds: Option<u64>,
    /// `login_groups` (Bitbucket): the groups whose membership lets a user log in; `active`
    /// false removes them, true adds them (default `["stash-users"]`).
    pub login_groups: Option<Vec<String>>,
    /// `discover_login_groups` (Bitbucket): also count every group holding a global
    /// permission as a login group when deprovisioning (default false).
    #[serde(default)]
    pub discover_login_groups: bool,
    /// `crowd_application`: the application name for Confluence's embedded Crowd API
    /// (`confluence-dc` only, where it is required).
    pub crowd_application: Option<String>,
    /// `crowd_password`: that application's password.
    pub crowd_password: Option<Secret>,
    /// `crowd_password_env`: the environment variable holding it.
    pub crowd_password_env: Option<String>,
    /// `concurrency`: at most this many calls in flight to the target at once, across every
    /// identity provider (default [`DEFAULT_CONCURRENCY`]); requests beyond it wait.
    pub concurrency: Option<usize>,
    /// `directory_id` (Jira): the user directory new users are created in.
    pub directory_id: Option<u64>,
    /// `group_rename` (Jira, Crowd, Confluence): what a group `displayName` change does,
    /// `refuse` (default) or `create-move-delete`.
    pub group_rename: Option<String>,
    /// `org_id` (Cloud): the organization, for what the directory API key cannot reach
    /// (users' last-active dates, for `sync --inactive-days`).
    pub org_id: Option<String>,
    /// `org_token` (Cloud): an organization admin API key of `org_id`.
    pub org_token: Option<Secret>,
    /// `org_token_env` (Cloud): the environment variable holding it.
    pub org_token_env: Option<String>,
    /// `deprovisioned_file` (Cloud): the JSON file keeping anonymized users' own values and
    /// the users a SCIM `DELETE` hid under `anonymize` or `keep` (default: in memory, lost on
    /// restart).
    pub deprovisioned_file: Option<String>,
}

/// One `[[tenants]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// `name`: the tenant (identity provider) name, as history and logs show it.
    pub name: String,
    /// `token`: its SCIM bearer token.
    pub token: Option<Secret>,
    /// `token_env`: the environment variable holding it.
    pub token_env: Option<String>,
    /// `policy`: this identity provider's sync policy, instead of the top-level `[policy]`.
    pub policy: Option<SyncPolicy>,
    /// `dry_run`: this identity provider's writes are computed and recorded, never sent
    /// (default: the top-level `dry_run`).
    pub dry_run: Option<bool>,
}

/// What one tenant's provisioner is built with.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TenantSettings {
    /// The tenant's name.
    pub tenant: String,
    /// Its sync policy.
    pub policy: SyncPolicy,
    /// Whether its writes are dry runs.
    pub dry_run: bool,
}

/// `[history]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// `path`: a JSON-lines file; without it (and without `db`), history is kept in memory.
    pub path: Option<PathBuf>,
    /// `db`: a database (`sqlite://PATH`, `postgres://...`) holding the history, and `sync`'s
    /// run lock, shared by every bridge and `sync` instance using it. Not with `path`.
    pub db: Option<String>,
    /// `capacity`: entries kept in memory (default 10,000).
    pub capacity: Option<usize>,
    /// `record_reads`: record reads (get, search) too, not only changes (default false).
    #[serde(default)]
    pub record_reads: bool,
}

/// A secret from the file, never shown by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Config {
    /// Parses the TOML text of a configuration file; errors name the offending key.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        // Regexes and mappings are checked now, so a bad policy stops the bridge at start
        // rather than failing the first request it affects.
        config
            .policy
            .validate()
            .map_err(|e| format!("policy: {e}"))?;
        for (i, t) in config.tenants.iter().enumerate() {
            if let Some(policy) = &t.policy {
                policy
                    .validate()
                    .map_err(|e| format!("tenants[{i}].policy ({}): {e}", t.name))?;
            }
        }
        Ok(config)
    }

    /// The database of the shared history and run lock: `flag` (`--db`) if given, else
    /// `[history] db`; `None`: neither.
    pub fn history_db(&self, flag: Option<&str>) -> Result<Option<String>, String> {
        if let Some(url) = flag {
            return parse_shared_db("--db", url).map(Some);
        }
        let Some(url) = &self.history.db else {
            return Ok(None);
        };
        if self.history.path.is_some() {
            return Err(
                "[history]: give `path` (a file of this instance) or `db` (shared), not both"
                    .to_owned(),
            );
        }
        parse_shared_db("history.db", url).map(Some)
    }

    /// Reads and parses the file at `path`; errors start with the path.
    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Where users and groups are provisioned.
#[derive(Debug)]
pub enum Target {
    /// The in-process Jira simulator.
    Simulator,
    /// The in-process Atlassian Cloud simulator (`--simulate` with `type = "cloud"`).
    CloudSimulator,
    /// An Atlassian Cloud directory.
    Cloud {
        /// The directory URL.
        url: String,
        /// The directory API key.
        api_key: String,
        /// Per-request timeout.
        timeout: Duration,
        /// The organization id and an organization admin API key, when configured.
        org: Option<(String, String)>,
        /// Where deprovisioned users are remembered (`None`: in memory).
        deprovisioned_file: Option<String>,
    },
    /// A Jira Data Center.
    JiraDc {
        /// Its base URL.
        url: String,
        /// How to authenticate.
        credentials: Credentials,
        /// Per-request timeout.
        timeout: Duration,
        /// The embedded Crowd API's application credentials (Jira before 8.3 deactivates
        /// through it).
        embedded_crowd: Option<Credentials>,
        /// The user directory new users are created in (Jira's default when unset).
        directory_id: Option<u64>,
    },
    /// The in-process Crowd simulator (`--simulate` with `[target] type = "crowd"`).
    CrowdSimulator,
    /// The in-process Confluence simulator (`--simulate` with `type = "confluence-dc"`).
    ConfluenceSimulator,
    /// A Confluence Data Center.
    ConfluenceDc {
        /// Its base URL (with its context path).
        url: String,
        /// The administrator's credentials.
        credentials: Credentials,
        /// The embedded Crowd API's application credentials.
        application: Credentials,
        /// Per-request timeout.
        timeout: Duration,
    },
    /// A Crowd server.
    Crowd {
        /// Its base URL (with its context path, e.g. `/crowd`).
        url: String,
        /// The application's name and password (Basic).
        credentials: Credentials,
        /// Per-request timeout.
        timeout: Duration,
    },
    /// The in-process Bitbucket simulator (`--simulate` with `type = "bitbucket-dc"`).
    BitbucketSimulator {
        /// The login groups.
        login_groups: Vec<String>,
    },
    /// A Bitbucket Data Center.
    BitbucketDc {
        /// Its base URL.
        url: String,
        /// How to authenticate (an account with the `ADMIN` global permission).
        credentials: Credentials,
        /// Per-request timeout.
        timeout: Duration,
        /// The login groups.
        login_groups: Vec<String>,
        /// Whether to discover further login groups.
        discover_login_groups: bool,
    },
}

/// Bitbucket's usual login group, when `target.login_groups` is not given.
const DEFAULT_LOGIN_GROUP: &str = "stash-users";

/// `type = "cloud"`: the directory URL and its API key (no Basic credentials).
fn cloud_target(t: &TargetConfig, timeout: Duration, env: Env<'_>) -> Result<Target, String> {
    let url = t.url.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://")).ok_or(
        "target.url must be the directory URL, https://api.atlassian.com/scim/directory/{directoryId}",
    )?;
    if t.username.is_some() || t.password.is_some() || t.password_env.is_some() {
        return Err("target: Atlassian Cloud takes the directory API key as target.token (or token_env), not a username and password".to_owned());
    }
    let api_key = secret("target.token", t.token.as_ref(), t.token_env.as_ref(), env)?
        .ok_or("target.token (or token_env) is missing: the directory API key")?;
    let org_token = secret(
        "target.org_token",
        t.org_token.as_ref(),
        t.org_token_env.as_ref(),
        env,
    )?;
    let org = match (t.org_id.clone(), org_token) {
        (Some(id), Some(token)) => Some((id, token)),
        (None, None) => None,
        _ => {
            return Err(
                "target: org_id and org_token (or org_token_env) go together: the organization \
                 and its admin API key"
                    .to_owned(),
            );
        }
    };
    Ok(Target::Cloud {
        url,
        api_key,
        timeout,
        org,
        deprovisioned_file: t.deprovisioned_file.clone(),
    })
}

/// Reads an environment variable (injected, so tests need not touch the process's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn from_env(env: Env<'_>, key: &str, var: &str) -> Result<String, String> {
    match env(var) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{key}: environment variable {var} is not set")),
    }
}

/// A secret given inline (`key`) or through an environment variable (`key_env`), not both.
pub(crate) fn secret(
    key: &str,
    inline: Option<&Secret>,
    var: Option<&String>,
    env: Env<'_>,
) -> Result<Option<String>, String> {
    match (inline, var) {
        (Some(_), Some(_)) => Err(format!("{key}: give {key} or {key}_env, not both")),
        (Some(Secret(s)), None) if s.is_empty() => Err(format!("{key} must not be empty")),
        (Some(Secret(s)), None) => Ok(Some(s.clone())),
        (None, Some(var)) => from_env(env, &format!("{key}_env"), var).map(Some),
        (None, None) => Ok(None),
    }
}

impl Config {
    /// The target: the simulator when `simulate`, else `[target]`, checked.
    pub fn target(&self, simulate: bool, env: Env<'_>) -> Result<Target, String> {
        let kind = self.target.as_ref().map_or("jira-dc", |t| t.kind.as_str());
        if !matches!(
            kind,
            "jira-dc" | "cloud" | "crowd" | "confluence-dc" | "bitbucket-dc"
        ) {
            return Err(format!(
                "target.type = {kind:?} is not supported yet; supported: \"jira-dc\", \"crowd\", \
                 \"confluence-dc\", \"bitbucket-dc\", \"cloud\""
            ));
        }
        let cloud_only = self.target.as_ref().is_some_and(|t| {
            t.org_id.is_some()
                || t.org_token.is_some()
                || t.org_token_env.is_some()
                || t.deprovisioned_file.is_some()
        });
        if cloud_only && kind != "cloud" {
            return Err(
                "target.org_id, org_token and deprovisioned_file apply to type = \"cloud\" only"
                    .to_owned(),
            );
        }
        let bitbucket = kind == "bitbucket-dc";
        let login_groups = match self.target.as_ref().and_then(|t| t.login_groups.clone()) {
            Some(_) if !bitbucket => {
                return Err(
                    "target.login_groups applies to type = \"bitbucket-dc\" only".to_owned(),
                );
            }
            Some(groups) if groups.is_empty() || groups.iter().any(String::is_empty) => {
                return Err(
                    "target.login_groups must name at least one group, none empty".to_owned(),
                );
            }
            Some(groups) => groups,
            None => vec![DEFAULT_LOGIN_GROUP.to_owned()],
        };
        let crowd = kind == "crowd";
        let confluence = kind == "confluence-dc";
        if simulate {
            return Ok(if bitbucket {
                Target::BitbucketSimulator { login_groups }
            } else if crowd {
                Target::CrowdSimulator
            } else if confluence {
                Target::ConfluenceSimulator
            } else if kind == "cloud" {
                Target::CloudSimulator
            } else {
                Target::Simulator
            });
        }
        let t = self.target.as_ref().ok_or(
            "[target] is missing: say which Jira to provision into (or run with --simulate)",
        )?;
        let timeout = Duration::from_secs(t.timeout_seconds.unwrap_or(30).max(1));
        if kind == "cloud" {
            return cloud_target(t, timeout, env);
        }
        if t.discover_login_groups && !bitbucket {
            return Err(
                "target.discover_login_groups applies to type = \"bitbucket-dc\" only".to_owned(),
            );
        }
        let app_given = t.crowd_application.is_some()
            || t.crowd_password.is_some()
            || t.crowd_password_env.is_some();
        let jira = kind == "jira-dc";
        if app_given && !confluence && !jira {
            return Err(
                "target.crowd_application and crowd_password apply to confluence-dc and \
                 jira-dc (Jira before 8.3) only"
                    .to_owned(),
            );
        }
        if t.directory_id.is_some() && !jira {
            return Err("target.directory_id applies to type = \"jira-dc\" only".to_owned());
        }
        if crowd && (t.token.is_some() || t.token_env.is_some()) {
            return Err(
                "target.token: Crowd authenticates applications with Basic; give \
                 target.username (the application name) and target.password"
                    .to_owned(),
            );
        }
        let url = t.url.clone().filter(|u| !u.is_empty()).ok_or(
            "target.url is missing: the product's base URL, e.g. https://jira.example.com",
        )?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "target.url = {url:?} must start with http:// or https://"
            ));
        }
        let token = secret("target.token", t.token.as_ref(), t.token_env.as_ref(), env)?;
        let password = secret(
            "target.password",
            t.password.as_ref(),
            t.password_env.as_ref(),
            env,
        )?;
        let credentials = match (token, &t.username, password) {
            (Some(token), None, None) => Credentials::bearer(token),
            (None, Some(user), Some(password)) if !user.is_empty() => {
                Credentials::basic(user.clone(), password)
            }
            (None, Some(_), None) => {
                return Err(
                    "target.password (or target.password_env) is missing for target.username"
                        .to_owned(),
                );
            }
            (None, None, Some(_)) => {
                return Err("target.username is missing for target.password".to_owned());
            }
            (None, None, None) => {
                return Err("target credentials are missing: give target.token (or token_env) for a personal access token, or target.username and target.password (or password_env)".to_owned());
            }
            _ => {
                return Err("target: give either target.token or target.username and target.password, not both".to_owned());
            }
        };
        if bitbucket {
            return Ok(Target::BitbucketDc {
                url,
                credentials,
                timeout,
                login_groups,
                discover_login_groups: t.discover_login_groups,
            });
        }
        if crowd {
            return Ok(Target::Crowd {
                url,
                credentials,
                timeout,
            });
        }
        let password = secret(
            "target.crowd_password",
            t.crowd_password.as_ref(),
            t.crowd_password_env.as_ref(),
            env,
        )?;
        let application = match (t.crowd_application.clone(), password) {
            (Some(app), Some(password)) => Some(Credentials::basic(app, password)),
            (None, None) => None,
            _ => {
                return Err("target.crowd_application and target.crowd_password (or \
                            crowd_password_env) go together"
                    .to_owned());
            }
        };
        if confluence {
            let Some(application) = application else {
                return Err("target.crowd_application and target.crowd_password (or \
                            crowd_password_env) are required for confluence-dc: users are read \
                            and updated through Confluence's embedded Crowd API"
                    .to_owned());
            };
            return Ok(Target::ConfluenceDc {
                url,
                credentials,
                application,
                timeout,
            });
        }
        Ok(Target::JiraDc {
            url,
            credentials,
            timeout,
            embedded_crowd: application,
            directory_id: t.directory_id,
        })
    }

    /// `[target] group_rename`: what a group `displayName` change does on a product that
    /// cannot rename groups ([`GroupRename::Refuse`] unless set).
    pub fn group_rename(&self) -> Result<GroupRename, String> {
        match self.target.as_ref().and_then(|t| t.group_rename.as_deref()) {
            None | Some("refuse") => Ok(GroupRename::Refuse),
            Some("create-move-delete") => Ok(GroupRename::CreateMoveDelete),
            Some(other) => Err(format!(
                "target.group_rename = {other:?}: use \"refuse\" or \"create-move-delete\""
            )),
        }
    }

    /// `[target] concurrency`: calls in flight to the target at once (default
    /// [`DEFAULT_CONCURRENCY`], also under `--simulate`); 0 is refused.
    pub fn concurrency(&self) -> Result<usize, String> {
        match self.target.as_ref().and_then(|t| t.concurrency) {
            None => Ok(DEFAULT_CONCURRENCY),
            Some(0) => Err("target.concurrency must be at least 1".to_owned()),
            Some(n) => Ok(n),
        }
    }

    /// Each tenant's settings: its own policy and dry-run flag, else the top-level ones
    /// (`default`, the `--token` tenant, always has the top-level ones).
    pub fn tenant_settings(&self, tenant: &str) -> TenantSettings {
        let own = self.tenants.iter().find(|t| t.name == tenant);
        TenantSettings {
            tenant: tenant.to_owned(),
            policy: own
                .and_then(|t| t.policy.clone())
                .unwrap_or_else(|| self.policy.clone()),
            dry_run: own.and_then(|t| t.dry_run).unwrap_or(self.dry_run),
        }
    }

    /// `(tenant, token)` pairs: the configured tenants, plus `default` with `cli_token`.
    /// Names and tokens must be distinct: a shared token would let one identity provider act
    /// as another.
    pub fn tenants(
        &self,
        cli_token: Option<&str>,
        env: Env<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let key = format!("tenants[{i}]");
            if t.name.is_empty() {
                return Err(format!("{key}.name must not be empty"));
            }
            let token = secret(
                &format!("{key}.token"),
                t.token.as_ref(),
                t.token_env.as_ref(),
                env,
            )?
            .ok_or_else(|| format!("{key} ({}): give token or token_env", t.name))?;
            out.push((t.name.clone(), token));
        }
        if let Some(token) = cli_token {
            out.push(("default".to_owned(), token.to_owned()));
        }
        for (i, (name, token)) in out.iter().enumerate() {
            for (other_name, other_token) in out.iter().skip(i + 1) {
                if name == other_name {
                    return Err(format!("tenant {name:?} is configured twice"));
                }
                if token == other_token {
                    return Err(format!(
                        "tenants {name:?} and {other_name:?} have the same token: give each its own"
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The admin token: `cli`, else `admin_token` or `admin_token_env`. It must differ from
    /// every tenant's token (`tenants`), or an identity provider could read every tenant's
    /// history.
    pub fn admin_token(
        &self,
        cli: Option<&str>,
        tenants: &[(String, String)],
        env: Env<'_>,
    ) -> Result<Option<String>, String> {
        let token = match cli {
            Some(t) => Some(t.to_owned()),
            None => secret(
                "admin_token",
                self.admin_token.as_ref(),
                self.admin_token_env.as_ref(),
                env,
            )?,
        };
        let shared = token
            .as_ref()
            .and_then(|t| tenants.iter().find(|(_, tok)| tok == t));
        if let Some((name, _)) = shared {
            return Err(format!(
                "admin_token: the admin token is also tenant {name:?}'s SCIM token; give it its own"
            ));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<BridgeArgs>, String> {
        BridgeArgs::parse(a.iter().map(|s| (*s).to_owned()))
    }

    fn env(var: &str) -> Option<String> {
        match var {
            "JIRA_PAT" => Some("pat-from-env".to_owned()),
            "OKTA_TOKEN" => Some("okta-secret".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn arguments() {
        let a = args(&["--simulate"]).unwrap().unwrap();
        assert!(a.simulate && !a.test_connection);
        assert_eq!(a.bind.to_string(), "127.0.0.1:8081");
        let a = args(&[
            "--config=b.toml",
            "--bind",
            "127.0.0.1:0",
            "--token",
            "t",
            "--admin-token",
            "adm",
            "--test-connection",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.config, Some(PathBuf::from("b.toml")));
        assert!(a.test_connection);
        assert_eq!(a.db, None);
        let a = args(&["--simulate", "--db", "postgres://u:pw@h/d"])
            .unwrap()
            .unwrap();
        assert_eq!(a.db.as_deref(), Some("postgres://u:pw@h/d"));
        assert!(!format!("{a:?}").contains("pw"), "{a:?}");
        assert!(
            args(&["--simulate", "--db", "memory"])
                .unwrap_err()
                .contains("sqlite://")
        );
        assert!(!format!("{a:?}").contains("adm\""), "{a:?}");
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&[]).unwrap_err().contains("--simulate"));
        assert!(
            args(&["--simulate=yes"])
                .unwrap_err()
                .contains("--simulate")
        );
        assert!(
            args(&["--simulate", "--frob"])
                .unwrap_err()
                .contains("--frob")
        );
        assert!(
            args(&["--simulate", "--token", ""])
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn cloud_targets_and_per_tenant_policies() {
        let c = Config::from_toml(
            r#"
            dry_run = true
            [target]
            type = "cloud"
            url = "https://api.atlassian.com/scim/directory/d-1"
            token_env = "JIRA_PAT"
            [policy.default_groups]
            all_users = ["everyone"]
            [[idp]]
            name = "okta"
            token = "okta-secret"
            dry_run = false
            policy = { groups = { mode = "manual", map = { Engineering = ["developers"] } } }
            [[idp]]
            name = "entra"
            token = "entra-secret"
            "#,
        )
        .unwrap();
        match c.target(false, &env).unwrap() {
            Target::Cloud {
                url, api_key, org, ..
            } => {
                assert_eq!(url, "https://api.atlassian.com/scim/directory/d-1");
                assert_eq!(api_key, "pat-from-env");
                assert_eq!(org, None);
            }
            other => panic!("{other:?}"),
        }
        // The organization's key for last-active dates: both settings or neither, Cloud only.
        let with_org = |extra: &str, kind: &str| {
            Config::from_toml(&format!(
                "[target]\ntype = \"{kind}\"\nurl = \"https://api.atlassian.com/scim/directory/d-1\"\n\
                 token = \"k\"\n{extra}"
            ))
            .unwrap()
            .target(false, &env)
        };
        match with_org("org_id = \"o-1\"\norg_token_env = \"JIRA_PAT\"\n", "cloud").unwrap() {
            Target::Cloud { org, .. } => {
                assert_eq!(org, Some(("o-1".to_owned(), "pat-from-env".to_owned())));
            }
            other => panic!("{other:?}"),
        }
        let err = with_org("org_id = \"o-1\"\n", "cloud").unwrap_err();
        assert!(err.contains("org_token"), "{err}");
        let err = with_org("deprovisioned_file = \"d.json\"\n", "jira-dc").unwrap_err();
        assert!(err.contains("cloud"), "{err}");
        assert!(matches!(
            c.target(true, &env).unwrap(),
            Target::CloudSimulator
        ));
        let okta = c.tenant_settings("okta");
        assert!(!okta.dry_run);
        assert!(matches!(
            okta.policy.groups,
            scim_atlassian::policy::GroupMapping::Manual { .. }
        ));
        assert!(okta.policy.default_groups.all_users.is_empty());
        let entra = c.tenant_settings("entra");
        assert!(entra.dry_run);
        assert_eq!(entra.policy.default_groups.all_users, ["everyone"]);
        assert_eq!(c.tenant_settings("default").policy, c.policy);

        // A tenant's bad policy names the tenant; Cloud takes no username.
        let err = Config::from_toml(
            "[[idp]]\nname = \"okta\"\ntoken = \"t\"\npolicy = { groups = { include = [\"(\"] } }",
        )
        .unwrap_err();
        assert!(err.contains("tenants[0].policy (okta)"), "{err}");
        let c = Config::from_toml(
            "[target]\ntype = \"cloud\"\nurl = \"https://api.atlassian.com/scim/directory/d\"\nusername = \"u\"\npassword = \"p\"",
        )
        .unwrap();
        assert!(
            c.target(false, &env)
                .unwrap_err()
                .contains("directory API key")
        );
    }

    #[test]
    fn a_full_configuration() {
        let c = Config::from_toml(
            r#"
            admin_token = "adm"
            [target]
            type = "jira-dc"
            url = "https://jira.example.com"
            token_env = "JIRA_PAT"
            [[tenants]]
            name = "entra"
            token = "entra-secret"
            [[tenants]]
            name = "okta"
            token_env = "OKTA_TOKEN"
            [history]
            path = "history.jsonl"
            [policy.default_groups]
            all_users = ["jira-software-users"]
            "#,
        )
        .unwrap();
        match c.target(false, &env).unwrap() {
            Target::JiraDc { url, .. } => assert_eq!(url, "https://jira.example.com"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(c.target(true, &env).unwrap(), Target::Simulator));
        let tenants = c.tenants(Some("cli"), &env).unwrap();
        assert_eq!(
            tenants,
            [
                ("entra".to_owned(), "entra-secret".to_owned()),
                ("okta".to_owned(), "okta-secret".to_owned()),
                ("default".to_owned(), "cli".to_owned())
            ]
        );
        assert_eq!(
            c.admin_token(None, &tenants, &env).unwrap().as_deref(),
            Some("adm")
        );
        assert_eq!(
            c.admin_token(Some("x"), &tenants, &env).unwrap().as_deref(),
            Some("x")
        );
        let e = c.admin_token(Some("cli"), &tenants, &env).unwrap_err();
        assert!(e.contains("admin_token") && e.contains("default"), "{e}");
        assert_eq!(c.policy.default_groups.all_users, ["jira-software-users"]);
        assert!(!format!("{c:?}").contains("entra-secret"));
    }

    #[test]
    fn a_bitbucket_target_has_login_groups_and_simulates_bitbucket() {
        let env = |_: &str| None;
        let c = Config::from_toml(
            "[target]\ntype = \"bitbucket-dc\"\nurl = \"https://bb.example.com\"\ntoken = \"pat\"\n\
             login_groups = [\"devs\"]\ndiscover_login_groups = true\n",
        )
        .unwrap();
        match c.target(false, &env).unwrap() {
            Target::BitbucketDc {
                url,
                login_groups,
                discover_login_groups,
                ..
            } => {
                assert_eq!(url, "https://bb.example.com");
                assert_eq!(login_groups, ["devs"]);
                assert!(discover_login_groups);
            }
            other => panic!("{other:?}"),
        }
        match c.target(true, &env).unwrap() {
            Target::BitbucketSimulator { login_groups } => assert_eq!(login_groups, ["devs"]),
            other => panic!("{other:?}"),
        }
        // Without login_groups: Bitbucket's usual one.
        let c = Config::from_toml("[target]\ntype = \"bitbucket-dc\"\n").unwrap();
        assert!(matches!(
            c.target(true, &env).unwrap(),
            Target::BitbucketSimulator { login_groups } if login_groups == ["stash-users"]
        ));
        // Bitbucket's settings are refused for Jira, and an empty list is refused.
        let jira = Config::from_toml(
            "[target]\ntype = \"jira-dc\"\nurl = \"http://j\"\ntoken = \"t\"\nlogin_groups = [\"x\"]\n",
        )
        .unwrap();
        assert!(
            jira.target(false, &env)
                .unwrap_err()
                .contains("login_groups")
        );
        let empty =
            Config::from_toml("[target]\ntype = \"bitbucket-dc\"\nlogin_groups = []\n").unwrap();
        assert!(
            empty
                .target(true, &env)
                .unwrap_err()
                .contains("login_groups")
        );
    }

    #[test]
    fn the_sample_configuration_is_valid() {
        let c = Config::from_toml(include_str!("../bridge.sample.toml")).unwrap();
        let env = |var: &str| Some(format!("value-of-{var}"));
        assert!(matches!(
            c.target(false, &env).unwrap(),
            Target::JiraDc { .. }
        ));
        let names: Vec<String> = c
            .tenants(None, &env)
            .unwrap()
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(names, ["entra", "okta"]);
        assert!(c.admin_token(None, &[], &env).unwrap().is_some());
        assert!(c.history.path.is_some());
    }

    #[test]
    fn the_shared_database_comes_from_the_flag_or_the_file() {
        let c = Config::from_toml("[history]\ndb = \"sqlite://shared.db\"\n").unwrap();
        assert_eq!(
            c.history_db(None).unwrap().as_deref(),
            Some("sqlite://shared.db")
        );
        assert_eq!(
            c.history_db(Some("postgres://h/d")).unwrap().as_deref(),
            Some("postgres://h/d"),
            "the flag wins"
        );
        assert_eq!(Config::default().history_db(None).unwrap(), None);
        let e = Config::from_toml("[history]\ndb = \"mysql://x\"\n")
            .unwrap()
            .history_db(None)
            .unwrap_err();
        assert!(e.contains("history.db") && e.contains("mysql://x"), "{e}");
        let e = Config::from_toml("[history]\ndb = \"sqlite://a.db\"\npath = \"h.jsonl\"\n")
            .unwrap()
            .history_db(None)
            .unwrap_err();
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = Config::from_toml("[target]\ntype = \"jira-dc\"\nurll = \"x\"\n").unwrap_err();
        assert!(e.contains("urll"), "{e}");
        let e = Config::from_toml("[[tenants]]\ntoken = \"x\"\n").unwrap_err();
        assert!(e.contains("name"), "{e}");
        let target = |body: &str| {
            Config::from_toml(&format!("[target]\n{body}"))
                .unwrap()
                .target(false, &env)
                .unwrap_err()
        };
        assert!(target("type = \"bamboo\"").contains("target.type"));
        assert!(target("type = \"jira-dc\"").contains("target.url"));
        assert!(
            target("type = \"crowd\"\nurl = \"http://c\"\ntoken = \"t\"").contains("Basic"),
            "Crowd takes an application name and password"
        );
        assert!(target("type = \"jira-dc\"\nurl = \"jira\"").contains("target.url"));
        assert!(
            target("type = \"jira-dc\"\nurl = \"http://j\"\ntoken_env = \"NOPE\"").contains("NOPE")
        );
        assert!(
            target("type = \"jira-dc\"\nurl = \"http://j\"\nusername = \"a\"")
                .contains("target.password")
        );
        assert!(target("type = \"jira-dc\"\nurl = \"http://j\"").contains("credentials"));
        assert!(
            Config::default()
                .target(false, &env)
                .unwrap_err()
                .contains("[target]")
        );
        let tenants = |body: &str| {
            Config::from_toml(body)
                .unwrap()
                .tenants(None, &env)
                .unwrap_err()
        };
        assert!(tenants("[[tenants]]\nname = \"a\"\n").contains("tenants[0]"));
        assert!(
            tenants("[[tenants]]\nname = \"a\"\ntoken = \"t\"\n[[tenants]]\nname = \"b\"\ntoken = \"t\"\n")
                .contains("same token")
        );
    }

    #[test]
    fn crowd_targets_and_their_simulator() {
        let env = |k: &str| (k == "CROWD_APP_PASSWORD").then(|| "app-secret".to_owned());
        let c = Config::from_toml(
            r#"
            [target]
            type = "crowd"
            url = "https://crowd.example.com/crowd"
            username = "scim-app"
            password_env = "CROWD_APP_PASSWORD"
            "#,
        )
        .unwrap();
        match c.target(false, &env).unwrap() {
            Target::Crowd { url, .. } => assert_eq!(url, "https://crowd.example.com/crowd"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.target(true, &env).unwrap(),
            Target::CrowdSimulator
        ));
    }

    #[test]
    fn confluence_targets_need_the_embedded_crowd_application() {
        let env = |k: &str| (k == "APP_PASSWORD").then(|| "app-secret".to_owned());
        let text = |extra: &str| {
            format!(
                "[target]\ntype = \"confluence-dc\"\nurl = \"https://wiki.example.com\"\n\
                 token = \"pat\"\n{extra}"
            )
        };
        let without = Config::from_toml(&text("")).unwrap();
        assert!(
            without
                .target(false, &env)
                .unwrap_err()
                .contains("crowd_application")
        );
        assert!(matches!(
            without.target(true, &env).unwrap(),
            Target::ConfluenceSimulator
        ));
        let with = Config::from_toml(&text(
            "crowd_application = \"scim\"\ncrowd_password_env = \"APP_PASSWORD\"\n",
        ))
        .unwrap();
        assert!(matches!(
            with.target(false, &env).unwrap(),
            Target::ConfluenceDc { .. }
        ));
    }

    #[test]
    fn jira_targets_take_the_embedded_crowd_api_a_directory_and_a_rename_rule() {
        let env = |k: &str| (k == "APP_PASSWORD").then(|| "app-secret".to_owned());
        let text = |extra: &str| {
            format!(
                "[target]\ntype = \"jira-dc\"\nurl = \"https://jira.example.com\"\n\
                 token = \"pat\"\n{extra}"
            )
        };
        let plain = Config::from_toml(&text("")).unwrap();
        match plain.target(false, &env).unwrap() {
            Target::JiraDc {
                embedded_crowd,
                directory_id,
                ..
            } => assert!(embedded_crowd.is_none() && directory_id.is_none()),
            other => panic!("{other:?}"),
        }
        assert_eq!(plain.group_rename().unwrap(), GroupRename::Refuse);
        let full = Config::from_toml(&text(
            "crowd_application = \"scim\"\ncrowd_password_env = \"APP_PASSWORD\"\n\
             directory_id = 10000\ngroup_rename = \"create-move-delete\"\n",
        ))
        .unwrap();
        match full.target(false, &env).unwrap() {
            Target::JiraDc {
                embedded_crowd,
                directory_id,
                ..
            } => {
                assert!(embedded_crowd.is_some());
                assert_eq!(directory_id, Some(10000));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(full.group_rename().unwrap(), GroupRename::CreateMoveDelete);
        // Half of the application's credentials, a directory elsewhere, an unknown rule.
        let half = Config::from_toml(&text("crowd_application = \"scim\"\n")).unwrap();
        assert!(
            half.target(false, &env)
                .unwrap_err()
                .contains("go together")
        );
        let crowd_dir = Config::from_toml(
            "[target]\ntype = \"crowd\"\nurl = \"https://crowd.example.com\"\nusername = \"app\"\n\
             password = \"secret\"\ndirectory_id = 3\n",
        )
        .unwrap();
        assert!(
            crowd_dir
                .target(false, &env)
                .unwrap_err()
                .contains("directory_id")
        );
        let rule = Config::from_toml(&text("group_rename = \"rename\"\n")).unwrap();
        assert!(
            rule.group_rename()
                .unwrap_err()
                .contains("create-move-delete")
        );
    }
}
