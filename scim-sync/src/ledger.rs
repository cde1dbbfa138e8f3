//! [`GroupLedger`]: which target groups earlier syncs made or filled from the source, so that a
//! sync deletes only groups it can show were the source's.
//!
//! A target group no source group maps onto any more is either a group the source dropped (to
//! delete) or one the source never had: an administrator's group, a product's built-in group
//! (`jira-administrators`). Names alone cannot tell them apart unless the policy's `include`
//! filters claim them ([`Policy::claims_group`](crate::Policy::claims_group)), so the
//! reconciler keeps a ledger per tenant of the target groups source groups mapped onto, and
//! deletes an unmapped group only when the ledger (or the policy) names it. A first run, or
//! a run with an empty ledger, deletes nothing it cannot vouch for.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::SyncError;

/// Where the names of the target groups a tenant's syncs manage are kept between runs.
///
/// [`load`](GroupLedger::load) is called when a plan is made, [`save`](GroupLedger::save)
/// after it was applied (never for a dry run or a plan the safety rail refused).
#[async_trait]
pub trait GroupLedger: Send + Sync {
    /// The groups recorded for `tenant` (empty when none were).
    async fn load(&self, tenant: &str) -> Result<Vec<String>, SyncError>;

    /// Records `groups` as `tenant`'s, replacing what was recorded.
    async fn save(&self, tenant: &str, groups: &[String]) -> Result<(), SyncError>;
}

/// A ledger in memory: remembered across the runs of one process (a `--every` schedule), lost
/// on restart, after which deletes wait until a run has recorded the groups again.
#[derive(Debug, Default)]
pub struct InMemoryGroupLedger {
    groups: Mutex<HashMap<String, Vec<String>>>,
}

impl InMemoryGroupLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        InMemoryGroupLedger::default()
    }
}

#[async_trait]
impl GroupLedger for InMemoryGroupLedger {
    async fn load(&self, tenant: &str) -> Result<Vec<String>, SyncError> {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(groups.get(tenant).cloned().unwrap_or_default())
    }

    async fn save(&self, tenant: &str, groups: &[String]) -> Result<(), SyncError> {
        let mut all = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        all.insert(tenant.to_owned(), groups.to_vec());
        Ok(())
    }
}

/// A ledger in a JSON file (`{"tenant": ["group", ...]}`) that survives restarts.
///
/// Blocking standard-library I/O (the library owns no runtime): one small read per plan, one
/// write per applied run that changed the ledger. The file is replaced whole through a
/// temporary file and a rename, so a crash leaves the old ledger or the new one, never half.
#[derive(Debug)]
pub struct FileGroupLedger {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileGroupLedger {
    /// The ledger at `path`; the file is created by the first save.
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileGroupLedger {
            path: path.as_ref().to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, Vec<String>>, SyncError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io(&e)),
        };
        serde_json::from_str(&text).map_err(|e| SyncError::Ledger {
            path: self.path.display().to_string(),
            message: format!(
                "line {}, column {}: {e}; expected {{\"tenant\": [\"group\", ...]}}",
                e.line(),
                e.column()
            ),
        })
    }

    fn io(&self, e: &std::io::Error) -> SyncError {
        SyncError::Io {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl GroupLedger for FileGroupLedger {
    async fn load(&self, tenant: &str) -> Result<Vec<String>, SyncError> {
        let _held = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(self.read()?.remove(tenant).unwrap_or_default())
    }

    async fn save(&self, tenant: &str, groups: &[String]) -> Result<(), SyncError> {
        let _held = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.read()?;
        all.insert(tenant.to_owned(), groups.to_vec());
        let text = serde_json::to_string_pretty(&all).map_err(|e| SyncError::Ledger {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(|e| self.io(&e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(&e))
    }
}
