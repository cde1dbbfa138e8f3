//! [`AtlassianBuilder`]: configures an [`AtlassianProvisioner`] for any Data Center target,
//! with one set of transport options ([`Connection`]) whatever the product.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use scim_core::HttpClient;

use crate::bitbucket::{BitbucketClient, BitbucketDirectory, BitbucketTarget};
use crate::confluence::{ConfluenceClient, ConfluenceDirectory};
use crate::crowd::{CrowdClient, CrowdDirectory};
use crate::directory::Directory;
use crate::error::AtlassianError;
use crate::jira::{JiraClient, JiraDirectory};
use crate::provisioner::{AtlassianProvisioner, GroupRename};
use crate::transport::Connection;
use scim_provisioning::CallObserver;
use scim_provisioning::Credentials;
use scim_provisioning::policy::SyncPolicy;
use scim_provisioning::{RetryPolicy, Sleeper};

/// Where SCIM data is kept unless configured otherwise: the Jira user property key, the
/// Crowd user attribute name.
pub const DEFAULT_PROPERTY_KEY: &str = "scim-rs";

/// The product a builder configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Jira,
    Crowd,
    Bitbucket,
    Confluence,
}

/// Configures an [`AtlassianProvisioner`]: started by [`AtlassianProvisioner::jira`] or
/// [`AtlassianProvisioner::crowd`]. The transport options ([`client`](Self::client),
/// [`sleeper`](Self::sleeper), [`retry`](Self::retry), [`observer`](Self::observer)) and the
/// [`policy`](Self::policy) mean the same for every product; the others say which products
/// use them.
#[must_use]
pub struct AtlassianBuilder {
    target: Target,
    base_url: String,
    credentials: Credentials,
    connection: Connection,
    property: String,
    policy: SyncPolicy,
    embedded_crowd: Option<Credentials>,
    directory_id: Option<u64>,
    group_rename: GroupRename,
    login_groups: Vec<String>,
    discover_login_groups: bool,
    dry_run: bool,
}

/// The builder [`AtlassianProvisioner::jira`] returns (the same type for every product).
pub type JiraBuilder = AtlassianBuilder;

impl std::fmt::Debug for AtlassianBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlassianBuilder")
            .field("target", &self.target)
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("retry", &self.connection.retry)
            .field("property", &self.property)
            .field("policy", &self.policy)
            .field("embedded_crowd", &self.embedded_crowd)
            .field("directory_id", &self.directory_id)
            .field("group_rename", &self.group_rename)
            .field("login_groups", &self.login_groups)
            .field("discover_login_groups", &self.discover_login_groups)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl AtlassianProvisioner {
    /// Starts configuring a provisioner for the Jira Data Center at `base_url` (with its
    /// context path, e.g. `https://example.com/jira`).
    pub fn jira(base_url: impl Into<String>, credentials: Credentials) -> AtlassianBuilder {
        AtlassianBuilder::new(Target::Jira, base_url.into(), credentials)
    }

    /// Starts configuring a provisioner for the Crowd at `base_url` (e.g.
    /// `https://example.com/crowd`), with the credentials of a Crowd *application* (its name
    /// and password, Basic) that may write to the directories it is mapped to.
    ///
    /// Crowd users have no identifier but their name, which a `userName` change renames
    /// (`POST /user/rename`). So that the SCIM id never changes (RFC 7643 §3.1), users created
    /// through SCIM get a random id (`crowd-` and 32 hex digits) kept in Crowd, in the user
    /// attribute `<property_key>.id`, and found through Crowd's attribute search. A user
    /// without that attribute (made in Crowd, or before this) keeps its name as its id until
    /// it is renamed through SCIM: it then gets a stable id, so its id changes that once (the
    /// rename's answer carries it). SCIM data lives in a user attribute
    /// ([`AtlassianBuilder::property_key`] names it). Deactivation is `active: false`; users
    /// are created in the first directory of the application that allows it (Crowd's REST API
    /// takes no directory \[V\]).
    pub fn crowd(base_url: impl Into<String>, credentials: Credentials) -> AtlassianBuilder {
        AtlassianBuilder::new(Target::Crowd, base_url.into(), credentials)
    }

    /// Starts configuring a provisioner for the Bitbucket Data Center at `base_url` (e.g.
    /// `https://example.com/bitbucket`), with the credentials of a user holding the `ADMIN`
    /// global permission.
    ///
    /// The SCIM id is Bitbucket's numeric user id (it survives renames). Bitbucket cannot
    /// deactivate a user: `active: false` removes the user from every login group, `active:
    /// true` adds the configured ones ([`AtlassianBuilder::login_groups`], required). SCIM
    /// data (`externalId`, timestamps, attributes Bitbucket has no field for) lives in a user
    /// setting under [`AtlassianBuilder::property_key`] \[K\]. New users are not put in
    /// Bitbucket's default group: the login groups and the policy's groups decide.
    pub fn bitbucket(base_url: impl Into<String>, credentials: Credentials) -> AtlassianBuilder {
        AtlassianBuilder::new(Target::Bitbucket, base_url.into(), credentials)
    }
}

impl AtlassianProvisioner {
    /// Starts configuring a provisioner for the Confluence Data Center at `base_url` (with
    /// its context path), with an administrator's `credentials` (Basic or a personal access
    /// token). Confluence's REST API shows no email or status and changes no profile \[K\],
    /// so [`AtlassianBuilder::embedded_crowd`] is required: the credentials of an application
    /// Confluence's embedded Crowd API lets in, through which users are read, profiles
    /// changed and SCIM data kept (a user attribute).
    ///
    /// The SCIM id is Confluence's `userKey` (it survives renames); deactivation is `PUT
    /// /admin/user/{u}/disable`; deletion Confluence's long-running `DELETE
    /// /admin/user/{u}`. Users are created in Confluence's default directory (its REST API
    /// takes no directory \[V\]).
    pub fn confluence(base_url: impl Into<String>, credentials: Credentials) -> AtlassianBuilder {
        AtlassianBuilder::new(Target::Confluence, base_url.into(), credentials)
    }
}

impl AtlassianBuilder {
    fn new(target: Target, base_url: String, credentials: Credentials) -> Self {
        AtlassianBuilder {
            target,
            base_url,
            credentials,
            connection: Connection::default(),
            property: DEFAULT_PROPERTY_KEY.to_owned(),
            policy: SyncPolicy::default(),
            embedded_crowd: None,
            directory_id: None,
            group_rename: GroupRename::default(),
            login_groups: Vec::new(),
            discover_login_groups: false,
            dry_run: false,
        }
    }

    /// Bitbucket: the groups whose membership lets a user log in (holding a global
    /// permission such as `LICENSED_USER`, e.g. `stash-users`). Activating adds a user to all
    /// of them, deprovisioning removes them from each. Required for Bitbucket; the build
    /// refuses it for other products.
    pub fn login_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.login_groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Bitbucket: also count every group holding a global permission on the server as a
    /// login group when deciding `active` and when deprovisioning (one more call per user
    /// read; off by default). Activation still adds only the configured login groups, since
    /// discovered ones include administrator groups.
    pub fn discover_login_groups(mut self, discover: bool) -> Self {
        self.discover_login_groups = discover;
        self
    }

    /// The [`HttpClient`] requests go through (required).
    pub fn client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.connection.client = Some(client);
        self
    }

    /// How retries wait ([`ThreadSleeper`](crate::ThreadSleeper) by default; a runtime's
    /// timer in an application).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.connection.sleeper = sleeper;
        self
    }

    /// How idempotent calls are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.connection.retry = retry;
        self
    }

    /// Told of every call made to the product (e.g. a [`CallCounter`](crate::CallCounter)).
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.connection.observer = Some(observer);
        self
    }

    /// Where SCIM data is kept ([`DEFAULT_PROPERTY_KEY`] by default): the Jira user property
    /// key, the Crowd user attribute name. Letters, digits, `.`, `-`, `_`.
    pub fn property_key(mut self, key: impl Into<String>) -> Self {
        self.property = key.into();
        self
    }

    /// The credentials of an application the product's embedded Crowd API
    /// (`{base}/rest/usermanagement/1`) lets in (Basic). Confluence requires it. Jira before
    /// 8.3 cannot change `active` through REST v2: with this, it is changed there (without
    /// it, such Jira answers (de)activation with 501); Jira 8.3 and later never use it.
    pub fn embedded_crowd(mut self, application: Credentials) -> Self {
        self.embedded_crowd = Some(application);
        self
    }

    /// The user directory new users are created in (Jira: its directory id, sent as
    /// `directoryId` in `POST /user` \[K\]; Jira's first writable directory when unset).
    /// Crowd's REST API has no such parameter: the build refuses it there.
    pub fn directory_id(mut self, id: u64) -> Self {
        self.directory_id = Some(id);
        self
    }

    /// What a group `displayName` change does ([`GroupRename::Refuse`] by default).
    pub fn group_rename(mut self, rename: GroupRename) -> Self {
        self.group_rename = rename;
        self
    }

    /// The administrator's sync rules ([`SyncPolicy::default`] unless set): checked by
    /// [`AtlassianBuilder::build`], applied to every operation, whatever the product.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use scim_atlassian::policy::SyncPolicy;
    /// use scim_atlassian::simulator::JiraSimulator;
    /// use scim_atlassian::{AtlassianProvisioner, Credentials};
    ///
    /// let policy = SyncPolicy::from_json_str(
    ///     r#"{"default_groups": {"all_users": ["jira-software-users"]}}"#,
    /// )?;
    /// let jira = Arc::new(JiraSimulator::new(Credentials::bearer("pat")));
    /// let provisioner = AtlassianProvisioner::jira("https://jira.example.com", Credentials::bearer("pat"))
    ///     .client(jira)
    ///     .policy(policy)
    ///     .build()?;
    /// # Ok::<(), scim_atlassian::AtlassianError>(())
    /// ```
    pub fn policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Computes what would change without writing: the client is wrapped in a
    /// [`DryRunClient`](crate::dry_run::DryRunClient) (reads reach the product, writes are held
    /// back and reported in the sync history).
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// The provisioner, or what is wrong with the configuration (a policy setting that cannot
    /// work is [`AtlassianError::Policy`], naming the setting).
    pub fn build(mut self) -> Result<AtlassianProvisioner, AtlassianError> {
        let policy = self.policy.compile()?;
        let client = self
            .connection
            .client
            .take()
            .ok_or(AtlassianError::MissingClient)?;
        self.connection.client = Some(crate::dry_run::maybe(client, self.dry_run));
        let auth = self
            .credentials
            .header_value()
            .ok_or(AtlassianError::InvalidCredentials)?;
        let valid_key = !self.property.is_empty()
            && self.property.len() <= 255
            && self
                .property
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid_key {
            return Err(AtlassianError::InvalidConfig(format!(
                "property key {:?}: use 1 to 255 letters, digits, '.', '-' or '_'",
                self.property
            )));
        }
        if self.target != Target::Bitbucket
            && (!self.login_groups.is_empty() || self.discover_login_groups)
        {
            return Err(AtlassianError::InvalidConfig(
                "login_groups and discover_login_groups apply to Bitbucket only".to_owned(),
            ));
        }
        let (dir, jira): (Arc<dyn Directory>, Option<JiraClient>) = match self.target {
            Target::Jira => {
                let client = JiraClient::new(&self.base_url, auth, &self.connection)?;
                let crowd = match &self.embedded_crowd {
                    Some(app) => Some(CrowdClient::new(
                        "Jira's embedded Crowd",
                        &self.base_url,
                        app.header_value()
                            .ok_or(AtlassianError::InvalidCredentials)?,
                        &self.connection,
                    )?),
                    None => None,
                };
                let dir = JiraDirectory {
                    client: client.clone(),
                    property: self.property,
                    crowd,
                    directory_id: self.directory_id,
                    before_8_3: AtomicBool::new(false),
                };
                (Arc::new(dir), Some(client))
            }
            Target::Confluence => {
                if self.directory_id.is_some() {
                    return Err(AtlassianError::InvalidConfig(
                        "directory_id: Confluence's REST API cannot choose the directory"
                            .to_owned(),
                    ));
                }
                let app = self.embedded_crowd.as_ref().ok_or_else(|| {
                    AtlassianError::InvalidConfig(
                        "embedded_crowd: Confluence needs the credentials of an application \
                         its embedded Crowd API lets in (users' emails, status and profiles \
                         are only there)"
                            .to_owned(),
                    )
                })?;
                let crowd = CrowdClient::new(
                    "Confluence's embedded Crowd",
                    &self.base_url,
                    app.header_value()
                        .ok_or(AtlassianError::InvalidCredentials)?,
                    &self.connection,
                )?;
                let dir = ConfluenceDirectory {
                    api: ConfluenceClient::new(&self.base_url, auth, &self.connection)?,
                    crowd: CrowdDirectory {
                        client: crowd,
                        attribute: self.property,
                        stable_ids: false,
                    },
                };
                (Arc::new(dir), None)
            }
            Target::Crowd => {
                if self.directory_id.is_some() {
                    return Err(AtlassianError::InvalidConfig(
                        "directory_id: Crowd's REST API cannot choose the directory; map the \
                         application to the directory users should be created in first"
                            .to_owned(),
                    ));
                }
                let client = CrowdClient::new("Crowd", &self.base_url, auth, &self.connection)?;
                let dir = CrowdDirectory {
                    client,
                    attribute: self.property,
                    stable_ids: true,
                };
                (Arc::new(dir), None)
            }
            Target::Bitbucket => {
                if self.directory_id.is_some() {
                    return Err(AtlassianError::InvalidConfig(
                        "directory_id: Bitbucket's REST API cannot choose the directory; new \
                         users go to its internal directory"
                            .to_owned(),
                    ));
                }
                if self.login_groups.is_empty() {
                    return Err(AtlassianError::InvalidConfig(
                        "login_groups: Bitbucket cannot deactivate users, so access is \
                         membership of login groups; name at least one group holding \
                         LICENSED_USER (e.g. stash-users)"
                            .to_owned(),
                    ));
                }
                let client =
                    BitbucketClient::from_connection(&self.base_url, auth, &self.connection)?;
                let target = BitbucketTarget::new(client, self.login_groups)
                    .discover_login_groups(self.discover_login_groups);
                let dir = BitbucketDirectory {
                    target,
                    key: self.property,
                };
                (Arc::new(dir), None)
            }
        };
        if policy.seats.enforce {
            if let Some(note) = dir.seats_note() {
                return Err(AtlassianError::Policy(
                    crate::policy::PolicyError::Invalid {
                        setting: "seats.enforce".to_owned(),
                        reason: format!("cannot work on {}: {note}", dir.product()),
                    },
                ));
            }
        }
        let dir: Arc<dyn Directory> = Arc::new(crate::checked::Checked::new(
            dir,
            self.connection.retry.max_retries,
        ));
        Ok(AtlassianProvisioner {
            dir,
            jira,
            policy: Box::new(policy),
            group_rename: self.group_rename,
            budget: self.connection.retry.budget,
            scan_cursor: std::sync::Mutex::default(),
        })
    }
}
