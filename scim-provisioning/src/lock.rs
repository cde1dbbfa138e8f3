//! [`RunLock`]: one sync run at a time per tenant, across processes when a database backs it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A tenant's run lock as held by one runner until `expires_at`.
///
/// A lease that has expired may be taken over by another holder: a runner that died mid-run
/// must not block its tenant forever. Re-running a sync converges, so a run that outlives its
/// lease and overlaps the next one repeats work but duplicates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The tenant whose runs the lease serialises.
    pub tenant: String,
    /// Who holds it (a runner's name: host and process, say).
    pub holder: String,
    /// When it lapses unless released earlier.
    pub expires_at: DateTime<Utc>,
}

/// Why a [`RunLock`] could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The store behind the lock failed (a database error, a poisoned lock).
    #[error("run lock store: {0}")]
    Store(String),
    /// The TTL asked for cannot be represented as a point in time.
    #[error("run lock TTL of {0:?} is out of range")]
    Ttl(Duration),
}

/// One run at a time per tenant: a runner takes a [`Lease`] before it syncs and releases it
/// after. Implementations decide where leases live (memory, a database row per tenant).
#[async_trait]
pub trait RunLock: Send + Sync {
    /// Takes `tenant`'s lease for `holder` for `ttl`, or `None` while another holder's lease
    /// has not expired. An expired lease is taken over.
    async fn try_acquire(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, LockError>;

    /// Gives `lease` back. Releasing a lease someone else has since taken over does nothing.
    async fn release(&self, lease: &Lease) -> Result<(), LockError>;
}

/// The current time (chrono's `clock` feature is not enabled in this workspace).
pub(crate) fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// The time `ttl` from `now`, or [`LockError::Ttl`].
pub(crate) fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>, LockError> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or(LockError::Ttl(ttl))
}

/// A [`RunLock`] in this process's memory: serialises the runners of one process (several
/// processes need a shared store).
#[derive(Debug, Default)]
pub struct InMemoryRunLock {
    leases: Mutex<HashMap<String, Lease>>,
}

impl InMemoryRunLock {
    /// A lock with no leases.
    pub fn new() -> Self {
        InMemoryRunLock::default()
    }
}

#[async_trait]
impl RunLock for InMemoryRunLock {
    async fn try_acquire(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, LockError> {
        let now = now();
        let expires_at = expiry(now, ttl)?;
        let mut leases = self
            .leases
            .lock()
            .map_err(|_| LockError::Store("in-memory run lock poisoned".to_owned()))?;
        if leases.get(tenant).is_some_and(|l| l.expires_at > now) {
            return Ok(None);
        }
        let lease = Lease {
            tenant: tenant.to_owned(),
            holder: holder.to_owned(),
            expires_at,
        };
        leases.insert(tenant.to_owned(), lease.clone());
        Ok(Some(lease))
    }

    async fn release(&self, lease: &Lease) -> Result<(), LockError> {
        let mut leases = self
            .leases
            .lock()
            .map_err(|_| LockError::Store("in-memory run lock poisoned".to_owned()))?;
        if leases.get(&lease.tenant) == Some(lease) {
            leases.remove(&lease.tenant);
        }
        Ok(())
    }
}
