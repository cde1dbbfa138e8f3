//! [`SqlRunLock`]: one sync run per tenant across instances, as a lease row.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;

use crate::error::SqlError;
use crate::store::{Arg, Dialect, Sql};

/// Whether a holder's acquire may overwrite its own live lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Renew {
    /// [`SqlRunLock::try_acquire`]: the holder renews its own lease.
    OwnLease,
    /// `scim_provisioning::RunLock`: any live lease blocks, the holder's own too, as in scim-sync's
    /// in-memory lock (runners of one process may share a holder name).
    #[cfg_attr(not(feature = "sync"), allow(dead_code))]
    Never,
}

/// The current time (chrono's `clock` feature is not enabled in this workspace).
fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// A held lease: who holds the tenant's run lock, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlLease {
    /// The tenant.
    pub tenant: String,
    /// Who holds it (an instance name).
    pub holder: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// The scheduler's one-run-per-tenant lock in the database (`scim_run_locks`: one row per
/// tenant). A live lease cannot be taken; an expired one can, so a crashed instance blocks a
/// tenant for at most one TTL. The same holder acquiring again renews its lease.
#[derive(Clone, Debug)]
pub struct SqlRunLock {
    pool: AnyPool,
    dialect: Dialect,
}

impl SqlRunLock {
    /// A lock on the provisioner's database (tables are created by its migrations).
    pub fn new(provisioner: &crate::SqlProvisioner) -> Self {
        SqlRunLock {
            pool: provisioner.pool().clone(),
            dialect: provisioner.dialect(),
        }
    }

    /// Takes `tenant`'s lease for `holder` for `ttl`, if no one else holds a live one: one
    /// atomic upsert that only overwrites an expired row or the holder's own.
    pub async fn try_acquire(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<SqlLease>, SqlError> {
        let now = now();
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let expires_at = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok(self
            .upsert(tenant, holder, now, expires_at, Renew::OwnLease)
            .await?)
    }

    /// The lease upsert: inserts `tenant`'s row, or overwrites it when it has expired (or, with
    /// [`Renew::OwnLease`], when `holder` holds it). The database decides atomically, so of
    /// instances racing for one tenant exactly one wins.
    async fn upsert(
        &self,
        tenant: &str,
        holder: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        renew: Renew,
    ) -> Result<Option<SqlLease>, sqlx::Error> {
        // Stored in milliseconds: the lease handed out carries the stored instant, so that
        // releasing it matches the row exactly.
        let expires_ms = expires_at.timestamp_millis();
        let expires_at = DateTime::<Utc>::from_timestamp_millis(expires_ms).unwrap_or(expires_at);
        let mut q = Sql::new(self.dialect);
        q.push("INSERT INTO scim_run_locks (tenant, holder, expires_ms) VALUES (")
            .arg(Arg::Text(tenant.to_owned()))
            .push(", ")
            .arg(Arg::Text(holder.to_owned()))
            .push(", ")
            .arg(Arg::Int(expires_ms))
            .push(
                ") ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, \
                 expires_ms = excluded.expires_ms WHERE scim_run_locks.expires_ms <= ",
            )
            .arg(Arg::Int(now.timestamp_millis()));
        if renew == Renew::OwnLease {
            q.push(" OR scim_run_locks.holder = excluded.holder");
        }
        let done = q.query().execute(&self.pool).await?;
        Ok((done.rows_affected() > 0).then(|| SqlLease {
            tenant: tenant.to_owned(),
            holder: holder.to_owned(),
            expires_at,
        }))
    }

    /// Gives `tenant`'s lease back, if `holder` holds it (someone else's is left alone).
    pub async fn release(&self, tenant: &str, holder: &str) -> Result<(), SqlError> {
        let mut q = Sql::new(self.dialect);
        q.push("DELETE FROM scim_run_locks WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND holder = ")
            .arg(Arg::Text(holder.to_owned()));
        q.query().execute(&self.pool).await?;
        Ok(())
    }
}

/// scim-sync's run lock on the lease row: several `sync` processes (or bridge instances) over
/// one database run each tenant once at a time.
#[cfg(feature = "sync")]
#[async_trait::async_trait]
impl scim_provisioning::RunLock for SqlRunLock {
    async fn try_acquire(
        &self,
        tenant: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<scim_provisioning::Lease>, scim_provisioning::LockError> {
        let now = now();
        let expires_at = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .ok_or(scim_provisioning::LockError::Ttl(ttl))?;
        let lease = self
            .upsert(tenant, holder, now, expires_at, Renew::Never)
            .await
            .map_err(store_error)?;
        Ok(lease.map(|l| scim_provisioning::Lease {
            tenant: l.tenant,
            holder: l.holder,
            expires_at: l.expires_at,
        }))
    }

    /// Deletes the row only if it is still `lease` (same holder, same expiry): a lease that
    /// expired and was taken over, even by a runner of the same name, stays with its new holder.
    async fn release(
        &self,
        lease: &scim_provisioning::Lease,
    ) -> Result<(), scim_provisioning::LockError> {
        let mut q = Sql::new(self.dialect);
        q.push("DELETE FROM scim_run_locks WHERE tenant = ")
            .arg(Arg::Text(lease.tenant.clone()))
            .push(" AND holder = ")
            .arg(Arg::Text(lease.holder.clone()))
            .push(" AND expires_ms = ")
            .arg(Arg::Int(lease.expires_at.timestamp_millis()));
        q.query().execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }
}

/// A database failure as scim-sync's lock error (it names the table, never a value).
#[cfg(feature = "sync")]
fn store_error(err: impl std::fmt::Display) -> scim_provisioning::LockError {
    scim_provisioning::LockError::Store(format!("scim_run_locks: {err}"))
}
