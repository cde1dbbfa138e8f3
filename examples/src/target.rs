//! The configured [`Target`], built: one HTTP client to the product (an in-process simulator or
//! reqwest), bounded in calls in flight, shared by every provisioner built over it. The bridge
//! builds one provisioner per tenant with [`TargetClient::provisioner`]; `sync` builds one.

use std::sync::Arc;
use std::time::Duration;

use scim_atlassian::cloud::{
    CloudBuilder, CloudProvisioner, DeprovisionedUsers, InMemoryDeprovisioned,
    JsonFileDeprovisioned,
};
use scim_atlassian::history::{RecordingProvisioner, SyncHistory};
use scim_atlassian::policy::SyncPolicy;
use scim_atlassian::simulator::{
    BitbucketSimulator, CloudSimulator, ConfluenceSimulator, CrowdSimulator, JiraSimulator,
};
use scim_atlassian::{
    AtlassianBuilder, AtlassianProvisioner, CallObserver, Credentials, GroupRename, ReqwestClient,
    RetryPolicy,
};
use scim_core::HttpClient;
use scim_core::provision::Provisioner;
use tracing::warn;

use crate::bounded::BoundedClient;
use crate::bridge::Target;
use crate::glue::TokioSleeper;

/// The time a connection check may spend on its calls and their one retry.
pub const PROBE_BUDGET: Duration = Duration::from_secs(5);

/// The simulators' address: never resolved, requests go to the in-process simulator.
pub const SIMULATOR_URL: &str = "http://atlassian-simulator.invalid";
/// The Jira Software seats the simulated Jira is licensed for.
pub const SIMULATOR_SEATS: u64 = 25;
/// The Cloud simulator's directory API key (the simulator is in-process: nothing to guard).
pub const SIMULATOR_CLOUD_KEY: &str = "simulator-directory-key";
/// The Cloud simulator's organization and its admin API key (for last-active dates).
const SIMULATOR_ORG: &str = "simulated-org";
const SIMULATOR_ORG_KEY: &str = "simulator-org-key";

/// The target's one HTTP client and how to build a provisioner over it.
pub struct TargetClient {
    client: Arc<dyn HttpClient>,
    described: String,
    product: Product,
    group_rename: GroupRename,
}

impl std::fmt::Debug for TargetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The builders hold credentials: only the description is shown.
        f.debug_struct("TargetClient")
            .field("described", &self.described)
            .finish_non_exhaustive()
    }
}

/// Starts a Data Center builder with the product, URL and credentials filled in.
type DataCenterStart = Box<dyn Fn() -> AtlassianBuilder + Send + Sync>;

enum Product {
    DataCenter(DataCenterStart),
    Cloud {
        url: String,
        api_key: String,
        /// The organization id and its admin API key, for last-active dates.
        org: Option<(String, String)>,
        /// One store for every provisioner of the target: tenants share the directory.
        deprovisioned: Arc<dyn DeprovisionedUsers>,
    },
}

/// Records `built`'s operations in `history` (reads too when `reads`), as the bridge serves
/// them; an entry that cannot be recorded is logged, never fails the operation.
pub fn recorded(built: Built, history: Arc<dyn SyncHistory>, reads: bool) -> Arc<dyn Provisioner> {
    fn wrap<P: Provisioner + 'static>(
        p: P,
        history: Arc<dyn SyncHistory>,
        reads: bool,
    ) -> Arc<dyn Provisioner> {
        Arc::new(
            RecordingProvisioner::new(p, history)
                .record_reads(reads)
                .on_record_error(
                    |e| warn!(error = %e, "a sync history entry could not be recorded"),
                ),
        )
    }
    match built {
        Built::DataCenter(p) => wrap(p, history, reads),
        Built::Cloud(p) => wrap(p, history, reads),
    }
}

/// A provisioner built over a [`TargetClient`].
#[derive(Debug)]
pub enum Built {
    /// Jira, Crowd, Confluence or Bitbucket Data Center.
    DataCenter(AtlassianProvisioner),
    /// Atlassian Cloud.
    Cloud(CloudProvisioner),
}

impl TargetClient {
    /// The client for `target`, letting at most `concurrency` calls through at once.
    pub fn new(target: &Target, concurrency: usize) -> Result<TargetClient, String> {
        let mut built = Self::unbounded(target)?;
        built.client = Arc::new(BoundedClient::new(built.client, concurrency));
        Ok(built)
    }

    /// An Atlassian Cloud directory at `url` reached through `client` (a simulator the caller
    /// keeps, say), named `described`, with its organization id and admin API key (`org`) for
    /// last-active dates; deprovisioned users' values are kept in memory.
    pub fn cloud(
        client: Arc<dyn HttpClient>,
        described: impl Into<String>,
        url: impl Into<String>,
        api_key: impl Into<String>,
        org: Option<(String, String)>,
    ) -> TargetClient {
        TargetClient {
            client,
            described: described.into(),
            product: Product::Cloud {
                url: url.into(),
                api_key: api_key.into(),
                org,
                deprovisioned: Arc::new(InMemoryDeprovisioned::new()),
            },
            group_rename: GroupRename::default(),
        }
    }

    /// A Data Center target reached through `client` (a simulator the caller keeps, say),
    /// named `described`, its provisioners started by `start` (product, URL, credentials).
    pub fn data_center(
        client: Arc<dyn HttpClient>,
        described: impl Into<String>,
        start: impl Fn() -> AtlassianBuilder + Send + Sync + 'static,
    ) -> TargetClient {
        TargetClient {
            client,
            described: described.into(),
            product: Product::DataCenter(Box::new(start)),
            group_rename: GroupRename::default(),
        }
    }

    /// What a group `displayName` change does on a Data Center product
    /// ([`GroupRename::Refuse`] unless set; Cloud renames groups itself).
    #[must_use]
    pub fn group_rename(mut self, rename: GroupRename) -> Self {
        self.group_rename = rename;
        self
    }

    /// Whether the target is Atlassian Cloud (or its simulator).
    pub fn is_cloud(&self) -> bool {
        matches!(self.product, Product::Cloud { .. })
    }

    /// How to name the target in messages (never with credentials).
    pub fn described(&self) -> &str {
        &self.described
    }

    fn unbounded(target: &Target) -> Result<TargetClient, String> {
        let reqwest = |timeout: &Duration| -> Result<Arc<dyn HttpClient>, String> {
            ReqwestClient::new(*timeout)
                .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        let data_center =
            |client: Arc<dyn HttpClient>, described: String, start: DataCenterStart| TargetClient {
                client,
                described,
                product: Product::DataCenter(start),
                group_rename: GroupRename::default(),
            };
        Ok(match target {
            Target::Simulator => {
                let credentials = Credentials::bearer("simulator-pat");
                let sim = Arc::new(JiraSimulator::new(credentials.clone()));
                // A licensed Jira Software, so seat counts show as on a real Jira.
                sim.set_application_role(
                    "jira-software",
                    "Jira Software",
                    &["jira-software-users"],
                    Some(SIMULATOR_SEATS),
                    true,
                );
                // Its embedded Crowd API tells last logins, as a real Jira's does, for the
                // inactive-user cleanup.
                let crowd = Credentials::basic("simulator-jira-app", "simulator-secret");
                sim.set_embedded_crowd(crowd.clone());
                data_center(
                    sim,
                    "the in-process Jira simulator".to_owned(),
                    Box::new(move || {
                        AtlassianProvisioner::jira(SIMULATOR_URL, credentials.clone())
                            .embedded_crowd(crowd.clone())
                    }),
                )
            }
            Target::JiraDc {
                url,
                credentials,
                timeout,
                embedded_crowd,
                directory_id,
            } => {
                let (url, credentials) = (url.clone(), credentials.clone());
                let (embedded_crowd, directory_id) = (embedded_crowd.clone(), *directory_id);
                data_center(
                    reqwest(timeout)?,
                    format!("Jira Data Center at {url}"),
                    Box::new(move || {
                        let mut b = AtlassianProvisioner::jira(url.clone(), credentials.clone());
                        if let Some(app) = &embedded_crowd {
                            b = b.embedded_crowd(app.clone());
                        }
                        if let Some(id) = directory_id {
                            b = b.directory_id(id);
                        }
                        b
                    }),
                )
            }
            Target::CrowdSimulator => {
                let credentials = Credentials::basic("simulator-app", "simulator-secret");
                let sim = Arc::new(CrowdSimulator::new(credentials.clone()));
                data_center(
                    sim,
                    "the in-process Crowd simulator".to_owned(),
                    Box::new(move || {
                        AtlassianProvisioner::crowd(SIMULATOR_URL, credentials.clone())
                    }),
                )
            }
            Target::Crowd {
                url,
                credentials,
                timeout,
            } => {
                let (url, credentials) = (url.clone(), credentials.clone());
                data_center(
                    reqwest(timeout)?,
                    format!("Crowd at {url}"),
                    Box::new(move || AtlassianProvisioner::crowd(url.clone(), credentials.clone())),
                )
            }
            Target::BitbucketSimulator { login_groups } => {
                let credentials = Credentials::bearer("simulator-pat");
                let sim = Arc::new(BitbucketSimulator::new(credentials.clone()));
                for g in login_groups {
                    // The simulator starts with stash-users only: other login groups get the
                    // licence they would hold in a real Bitbucket.
                    if sim.add_group(g) {
                        sim.grant_group(g, "LICENSED_USER");
                    }
                }
                let login_groups = login_groups.clone();
                data_center(
                    sim,
                    "the in-process Bitbucket simulator".to_owned(),
                    Box::new(move || {
                        AtlassianProvisioner::bitbucket(SIMULATOR_URL, credentials.clone())
                            .login_groups(login_groups.clone())
                    }),
                )
            }
            Target::BitbucketDc {
                url,
                credentials,
                timeout,
                login_groups,
                discover_login_groups,
            } => {
                let (url, credentials) = (url.clone(), credentials.clone());
                let (login_groups, discover) = (login_groups.clone(), *discover_login_groups);
                data_center(
                    reqwest(timeout)?,
                    format!("Bitbucket Data Center at {url}"),
                    Box::new(move || {
                        AtlassianProvisioner::bitbucket(url.clone(), credentials.clone())
                            .login_groups(login_groups.clone())
                            .discover_login_groups(discover)
                    }),
                )
            }
            Target::ConfluenceSimulator => {
                let admin = Credentials::bearer("simulator-pat");
                let app = Credentials::basic("simulator-app", "simulator-secret");
                let sim = Arc::new(ConfluenceSimulator::new(admin.clone(), app.clone()));
                data_center(
                    sim,
                    "the in-process Confluence simulator".to_owned(),
                    Box::new(move || {
                        AtlassianProvisioner::confluence(SIMULATOR_URL, admin.clone())
                            .embedded_crowd(app.clone())
                    }),
                )
            }
            Target::ConfluenceDc {
                url,
                credentials,
                application,
                timeout,
            } => {
                let (url, credentials) = (url.clone(), credentials.clone());
                let application = application.clone();
                data_center(
                    reqwest(timeout)?,
                    format!("Confluence Data Center at {url}"),
                    Box::new(move || {
                        AtlassianProvisioner::confluence(url.clone(), credentials.clone())
                            .embedded_crowd(application.clone())
                    }),
                )
            }
            Target::CloudSimulator => {
                let sim = CloudSimulator::new("simulated", SIMULATOR_CLOUD_KEY);
                sim.enable_org_api(SIMULATOR_ORG, SIMULATOR_ORG_KEY);
                TargetClient {
                    product: Product::Cloud {
                        url: sim.directory_url(),
                        api_key: SIMULATOR_CLOUD_KEY.to_owned(),
                        org: Some((SIMULATOR_ORG.to_owned(), SIMULATOR_ORG_KEY.to_owned())),
                        deprovisioned: Arc::new(InMemoryDeprovisioned::new()),
                    },
                    client: Arc::new(sim),
                    described: "the in-process Atlassian Cloud simulator".to_owned(),
                    group_rename: GroupRename::default(),
                }
            }
            Target::Cloud {
                url,
                api_key,
                timeout,
                org,
                deprovisioned_file,
            } => {
                let deprovisioned: Arc<dyn DeprovisionedUsers> = match deprovisioned_file {
                    Some(path) => Arc::new(
                        JsonFileDeprovisioned::open(path)
                            .map_err(|e| format!("target.deprovisioned_file: {e}"))?,
                    ),
                    None => Arc::new(InMemoryDeprovisioned::new()),
                };
                TargetClient {
                    client: reqwest(timeout)?,
                    described: format!("the Atlassian Cloud directory at {url}"),
                    product: Product::Cloud {
                        url: url.clone(),
                        api_key: api_key.clone(),
                        org: org.clone(),
                        deprovisioned,
                    },
                    group_rename: GroupRename::default(),
                }
            }
        })
    }

    /// A provisioner over the shared client with `policy`, writing nothing when `dry_run`,
    /// retrying on tokio's timer, telling `observer` (if any) of every call.
    pub fn provisioner(
        &self,
        policy: &SyncPolicy,
        dry_run: bool,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Result<Built, String> {
        self.build(policy, dry_run, observer, RetryPolicy::default())
    }

    /// A dry-run provisioner for checking the connection, where an administrator waits for
    /// the answer: a call is retried once, within [`PROBE_BUDGET`], so an unreachable target
    /// is reported in about a second rather than after the full retry schedule that shields
    /// identity providers from passing faults.
    pub fn probe(&self, policy: &SyncPolicy) -> Result<Built, String> {
        let retry = RetryPolicy::default()
            .with_max_retries(1)
            .with_budget(PROBE_BUDGET);
        self.build(policy, true, None, retry)
    }

    fn build(
        &self,
        policy: &SyncPolicy,
        dry_run: bool,
        observer: Option<Arc<dyn CallObserver>>,
        retry: RetryPolicy,
    ) -> Result<Built, String> {
        let built = match &self.product {
            Product::DataCenter(start) => {
                let mut b = start()
                    .client(Arc::clone(&self.client))
                    .sleeper(Arc::new(TokioSleeper))
                    .retry(retry)
                    .policy(policy.clone())
                    .group_rename(self.group_rename)
                    .dry_run(dry_run);
                if let Some(o) = observer {
                    b = b.observer(o);
                }
                b.build().map(Built::DataCenter)
            }
            Product::Cloud {
                url,
                api_key,
                org,
                deprovisioned,
            } => {
                let mut b: CloudBuilder = CloudProvisioner::builder(url.clone(), api_key.clone())
                    .client(Arc::clone(&self.client))
                    .sleeper(Arc::new(TokioSleeper))
                    .retry(retry)
                    .policy(policy.clone())
                    .deprovisioned_users(Arc::clone(deprovisioned))
                    .dry_run(dry_run);
                if let Some((id, key)) = org {
                    b = b.organization(id.clone(), key.clone());
                }
                if let Some(o) = observer {
                    b = b.observer(o);
                }
                b.build().map(Built::Cloud)
            }
        };
        built.map_err(|e| format!("target: {e}"))
    }
}
