//! Sync history: who changed what in the product, when, through which calls, and how it went.
//!
//! - [`SyncHistory`]: where entries go and are read back from, per tenant (identity provider).
//! - [`HistoryEntry`]: one SCIM operation, the product calls it made, its outcome and a short
//!   summary of what changed.
//! - [`InMemoryHistory`]: a bounded ring, lost on restart.
//! - [`JsonLinesHistory`]: an append-only JSON-lines file that survives restarts.
//! - [`RecordingProvisioner`]: wraps any [`Provisioner`](scim_core::provision::Provisioner)
//!   and records one entry per operation; with a [`HistoryObserver`] installed in the
//!   `scim_atlassian::AtlassianProvisioner`'s builder, entries also list the
//!   product calls each operation made.
//!
//! Entries hold no secrets and as little personal data as serves an administrator: the SCIM
//! resource's id and `userName` (or group name), calls as `METHOD /path` without query strings
//! or bodies, and error details as the SCIM error says them.

mod jsonl;
mod memory;
mod recording;

pub use jsonl::JsonLinesHistory;
pub use memory::{DEFAULT_CAPACITY, InMemoryHistory};
pub use recording::{
    HistoryObserver, RecordingProvisioner, collect_calls, note_action, note_held_back,
};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::observe::CallRecord;

/// Where sync history is written and read back.
///
/// `record` is called once per SCIM operation, after the operation finished; `list` serves an
/// administrator's view. Implementations are shared between requests (`Send + Sync`).
#[async_trait]
pub trait SyncHistory: Send + Sync {
    /// Appends `entry`.
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError>;

    /// Entries matching `query`, newest first, at most `query.limit`.
    async fn list(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, HistoryError>;
}

/// Why history could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The history file could not be opened, read or written.
    #[error("sync history file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be encoded as JSON.
    #[error("sync history entry cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// The store behind the history (a database) failed, or holds an entry that cannot be read
    /// back. `message` names the store and the cause, never an entry's contents.
    #[error("sync history store: {message}")]
    Storage {
        /// What failed.
        message: String,
    },
}

/// Which entries [`SyncHistory::list`] returns: every condition set must hold; newest first,
/// `offset` matching entries skipped, then at most `limit`.
///
/// ```
/// use scim_provisioning::history::{HistoryQuery, UserMatch};
///
/// // The second page of 25 of okta's entries about user bjensen (or BJensen).
/// let q = HistoryQuery::new()
///     .tenant("okta")
///     .user(UserMatch::exact("bjensen"))
///     .offset(25)
///     .limit(25);
/// # let _ = q;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryQuery {
    /// Only this tenant's (identity provider's) entries; `None`: every tenant's.
    pub tenant: Option<String>,
    /// Only entries recorded at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries about this user or group ([`UserMatch`]).
    pub user: Option<UserMatch>,
    /// Only entries whose operation's method is one of these (`SYNC` for directory sync
    /// runs, `CLEANUP` for inactive-user cleanups; compared exactly); empty: any.
    pub methods: Vec<String>,
    /// Skips this many matching entries (the newest) first: page `n` (from 0) of `limit`
    /// entries starts at `n * limit`.
    pub offset: usize,
    /// At most this many entries (the newest, after `offset`).
    pub limit: usize,
}

/// Which entries a [`HistoryQuery::user`] selects: those whose resource name (the user's
/// `userName` or the group's `displayName`, as the entry's [`Operation::name`] holds it) or
/// SCIM id ([`Operation::id`]) matches, ignoring case (Unicode lower case). An entry without
/// either (a sync run's summary) matches neither.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserMatch {
    /// The name or id is this text. The SQL history answers it from an index.
    Exact(String),
    /// The name or id contains this text. The SQL history scans entries newest first until
    /// the page is full: slower on a large history than [`UserMatch::Exact`].
    Contains(String),
}

impl UserMatch {
    /// Entries whose name or id is `text`, ignoring case.
    pub fn exact(text: impl Into<String>) -> Self {
        UserMatch::Exact(text.into().to_lowercase())
    }

    /// Entries whose name or id contains `text`, ignoring case.
    pub fn contains(text: impl Into<String>) -> Self {
        UserMatch::Contains(text.into().to_lowercase())
    }

    /// The text searched for, lower-cased.
    pub fn needle(&self) -> String {
        match self {
            UserMatch::Exact(t) | UserMatch::Contains(t) => t.to_lowercase(),
        }
    }

    /// Whether `operation`'s name or id matches.
    pub fn matches(&self, operation: &Operation) -> bool {
        let needle = self.needle();
        [&operation.name, &operation.id]
            .into_iter()
            .flatten()
            .map(|v| v.to_lowercase())
            .any(|v| match self {
                UserMatch::Exact(_) => v == needle,
                UserMatch::Contains(_) => v.contains(&needle),
            })
    }
}

/// The [`Operation::method`] of a directory sync run's summary entry.
pub const SYNC_METHOD: &str = "SYNC";

/// The [`Operation::method`] of an inactive-user cleanup run's summary entry.
pub const CLEANUP_METHOD: &str = "CLEANUP";

/// [`HistoryQuery::limit`] when none is given.
pub const DEFAULT_LIST_LIMIT: usize = 100;

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            tenant: None,
            since: None,
            user: None,
            methods: Vec::new(),
            offset: 0,
            limit: DEFAULT_LIST_LIMIT,
        }
    }
}

impl HistoryQuery {
    /// The newest [`DEFAULT_LIST_LIMIT`] entries of every tenant.
    pub fn new() -> Self {
        HistoryQuery::default()
    }

    /// Only `tenant`'s entries.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Only entries at or after `since`.
    #[must_use]
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only entries about the user or group `user` matches.
    #[must_use]
    pub fn user(mut self, user: UserMatch) -> Self {
        self.user = Some(user);
        self
    }

    /// Also entries whose operation's method is `method` (the first call restricts the
    /// query to that method; later calls add more).
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.methods.push(method.into());
        self
    }

    /// Skips the `offset` newest matching entries.
    #[must_use]
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// At most `limit` entries.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Whether `entry` is one this query asks for (offset and limit aside).
    pub fn matches(&self, entry: &HistoryEntry) -> bool {
        self.tenant.as_deref().is_none_or(|t| entry.tenant == t)
            && self.since.is_none_or(|since| entry.time >= since)
            && self
                .user
                .as_ref()
                .is_none_or(|u| u.matches(&entry.operation))
            && (self.methods.is_empty() || self.methods.contains(&entry.operation.method))
    }
}

/// One SCIM operation as the sync history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HistoryEntry {
    /// When the operation finished (RFC 3339, UTC).
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// The tenant (identity provider) that asked.
    pub tenant: String,
    /// The request id (`X-Request-Id`, or one the service made up), to find the request's logs.
    pub request_id: String,
    /// What the identity provider asked for.
    pub operation: Operation,
    /// The calls made to the product, in order (each retry its own entry). Empty when the
    /// calls were not observed (see [`HistoryObserver`]).
    #[serde(default)]
    pub calls: Vec<ProductCall>,
    /// How it went.
    pub outcome: Outcome,
    /// What changed, in a few words (`created user bjensen`, `no change`).
    pub changes: String,
}

impl HistoryEntry {
    /// An entry for `operation` by `tenant`, made now, successful, with no calls and no
    /// summary yet.
    pub fn new(
        tenant: impl Into<String>,
        request_id: impl Into<String>,
        operation: Operation,
    ) -> Self {
        HistoryEntry {
            time: DateTime::<Utc>::from(std::time::SystemTime::now()),
            tenant: tenant.into(),
            request_id: request_id.into(),
            operation,
            calls: Vec::new(),
            outcome: Outcome::Success,
            changes: String::new(),
        }
    }

    /// Sets the time.
    #[must_use]
    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.time = time;
        self
    }

    /// Sets the product calls made.
    #[must_use]
    pub fn with_calls(mut self, calls: Vec<ProductCall>) -> Self {
        self.calls = calls;
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets the summary of what changed.
    #[must_use]
    pub fn with_changes(mut self, changes: impl Into<String>) -> Self {
        self.changes = changes.into();
        self
    }
}

/// The SCIM operation an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Operation {
    /// The HTTP method the identity provider used (`POST`, `PUT`, `PATCH`, `DELETE`, `GET`).
    pub method: String,
    /// `User` or `Group`.
    pub resource_type: String,
    /// The resource's SCIM `id`, when known (after a create succeeded, or from the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user's `userName` or the group's `displayName`, when the request carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Operation {
    /// `method` on a resource of `resource_type`.
    pub fn new(method: impl Into<String>, resource_type: impl Into<String>) -> Self {
        Operation {
            method: method.into(),
            resource_type: resource_type.into(),
            id: None,
            name: None,
        }
    }

    /// Sets the resource id.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the `userName` or group name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// One call made to the product on behalf of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProductCall {
    /// `METHOD /path` relative to the REST API root (`POST /user`); never a query string.
    pub call: String,
    /// The status the product answered, `None` when it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// 0 for the first attempt, then one more per retry.
    #[serde(default)]
    pub attempt: u32,
    /// How long the call took, in milliseconds.
    #[serde(default)]
    pub elapsed_ms: u64,
    /// A write a dry run held back: never sent, `status` is the dry run's made-up answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_back: bool,
}

impl ProductCall {
    /// Whether this call wrote something that the product accepted (a 2xx answer to anything
    /// but `GET`).
    pub fn is_successful_write(&self) -> bool {
        !self.held_back
            && !self.call.starts_with("GET ")
            && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl From<&CallRecord> for ProductCall {
    fn from(record: &CallRecord) -> Self {
        ProductCall {
            call: record.call.clone(),
            status: record.status,
            attempt: record.attempt,
            elapsed_ms: u64::try_from(record.elapsed.as_millis()).unwrap_or(u64::MAX),
            held_back: false,
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It ran as a dry run (such as `scim_atlassian::dry_run::DryRunClient`): the product's
    /// state was read, nothing was written, and these writes would have been made.
    #[serde(rename_all = "camelCase")]
    DryRun {
        /// The held-back writes, in order: `METHOD /path?query {json body summary}`.
        would_write: Vec<String>,
    },
    /// It failed with the SCIM error the identity provider received.
    #[serde(rename_all = "camelCase")]
    Failure {
        /// The HTTP status answered.
        status: u16,
        /// The `scimType`, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scim_type: Option<String>,
        /// The error's detail.
        detail: String,
    },
}

impl Outcome {
    /// Whether the operation succeeded (a dry run is not a success: nothing was written).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// The outcome a SCIM error stands for.
    pub fn from_error(err: &scim_core::ScimError) -> Self {
        Outcome::Failure {
            status: err.status().as_u16(),
            scim_type: err.scim_type().map(|t| t.as_str().to_owned()),
            detail: err.detail(),
        }
    }
}

/// `DateTime<Utc>` as an RFC 3339 string with seconds and milliseconds, `Z` for UTC.
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// `t` as the history writes times, for query strings and display.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time, as [`HistoryQuery::since`] takes it from a query string.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The check every store's tests run: one entry about a user, then 5,500 newer ones about
    /// others; the user search finds it past the newest 5,000, and pages with offset and limit.
    pub(crate) async fn finds_old_entries_by_user(h: &dyn SyncHistory) {
        let t0 = parse_time("2026-01-01T00:00:00Z").unwrap_or_default();
        let op = Operation::new("PATCH", "User")
            .id("JIRAUSER10042")
            .name("Needle@Example.com");
        h.record(HistoryEntry::new("okta", "req-needle", op).at(t0))
            .await
            .unwrap();
        for n in 1..=5_500_i64 {
            let op = Operation::new("POST", "User").name(format!("user{n}"));
            let at = t0 + chrono::Duration::milliseconds(n);
            let tenant = if n % 2 == 0 { "okta" } else { "entra" };
            h.record(HistoryEntry::new(tenant, format!("req-{n}"), op).at(at))
                .await
                .unwrap();
        }
        let newest = h.list(&HistoryQuery::new().limit(5_000)).await.unwrap();
        assert!(newest.iter().all(|e| e.request_id != "req-needle"));
        for user in [
            UserMatch::exact("needle@example.com"),
            UserMatch::exact("jirauser10042"),
            UserMatch::contains("EEDLE@"),
        ] {
            let found = h
                .list(&HistoryQuery::new().tenant("okta").user(user.clone()))
                .await
                .unwrap();
            let ids: Vec<&str> = found.iter().map(|e| e.request_id.as_str()).collect();
            assert_eq!(ids, ["req-needle"], "{user:?}");
        }
        // user12, user120..129, user1200..1299: 111, of which okta's (even) are 56; page 2 of 50.
        let q = HistoryQuery::new()
            .tenant("okta")
            .user(UserMatch::contains("user12"));
        let all = h.list(&q.clone().limit(200)).await.unwrap();
        assert_eq!(all.len(), 56);
        let page = h.list(&q.offset(50).limit(50)).await.unwrap();
        let want: Vec<&String> = all.iter().skip(50).map(|e| &e.request_id).collect();
        let got: Vec<&String> = page.iter().map(|e| &e.request_id).collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn entries_round_trip_as_json() {
        let entry = HistoryEntry::new(
            "okta",
            "req-1",
            Operation::new("POST", "User").name("bjensen"),
        )
        .with_calls(vec![ProductCall {
            call: "POST /user".to_owned(),
            status: Some(201),
            attempt: 0,
            elapsed_ms: 3,
            held_back: false,
        }])
        .with_outcome(Outcome::Failure {
            status: 409,
            scim_type: Some("uniqueness".to_owned()),
            detail: "taken".to_owned(),
        })
        .with_changes("nothing written");
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["outcome"]["result"], "failure");
        assert_eq!(json["outcome"]["scimType"], "uniqueness");
        assert_eq!(json["operation"]["resourceType"], "User");
        assert!(json["time"].as_str().unwrap().ends_with('Z'));
        let back: HistoryEntry = serde_json::from_value(json).unwrap();
        // Milliseconds survive; finer digits are not kept.
        assert_eq!(back.time.timestamp_millis(), entry.time.timestamp_millis());
        assert_eq!(back.calls, entry.calls);
        assert_eq!(back.outcome, entry.outcome);
    }

    #[test]
    fn queries_filter_by_tenant_and_time() {
        let t0 = parse_time("2026-01-01T00:00:00Z").unwrap();
        let e = HistoryEntry::new("entra", "r", Operation::new("DELETE", "User")).at(t0);
        assert!(HistoryQuery::new().matches(&e));
        assert!(HistoryQuery::new().tenant("entra").matches(&e));
        assert!(!HistoryQuery::new().tenant("okta").matches(&e));
        assert!(HistoryQuery::new().since(t0).matches(&e));
        let later = parse_time("2026-01-01T00:00:01Z").unwrap();
        assert!(!HistoryQuery::new().since(later).matches(&e));
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn queries_filter_by_user_and_method() {
        let e = HistoryEntry::new(
            "okta",
            "r",
            Operation::new("PATCH", "User")
                .id("JIRAUSER10001")
                .name("BJensen@Example.com"),
        );
        let by = |u: UserMatch| HistoryQuery::new().user(u).matches(&e);
        assert!(by(UserMatch::exact("bjensen@example.com")));
        assert!(by(UserMatch::exact("jirauser10001")));
        assert!(!by(UserMatch::exact("bjensen")), "exact is the whole name");
        assert!(by(UserMatch::contains("JENSEN")));
        assert!(by(UserMatch::contains("user100")));
        assert!(!by(UserMatch::contains("alice")));
        // Built directly, with capitals: still ignoring case.
        assert!(by(UserMatch::Exact("BJENSEN@example.com".to_owned())));
        let run = HistoryEntry::new("directory", "r", Operation::new("SYNC", "Directory"));
        assert!(
            !HistoryQuery::new()
                .user(UserMatch::contains(""))
                .matches(&run)
        );
        assert!(HistoryQuery::new().method("SYNC").matches(&run));
        assert!(!HistoryQuery::new().method("SYNC").matches(&e));
        assert!(
            HistoryQuery::new()
                .method("SYNC")
                .method("PATCH")
                .matches(&e)
        );
    }
}
