//! [`SqlRunLock`]: one sync run per tenant across instances, as a lease row.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;

use crate::error::SqlError;
use crate::store::{Arg, Dialect, Sql};

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
        let now = DateTime::<Utc>::from(std::time::SystemTime::now());
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let expires_at = now
            .checked_add_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut q = Sql::new(self.dialect);
        q.push("INSERT INTO scim_run_locks (tenant, holder, expires_ms) VALUES (")
            .arg(Arg::Text(tenant.to_owned()))
            .push(", ")
            .arg(Arg::Text(holder.to_owned()))
            .push(", ")
            .arg(Arg::Int(expires_at.timestamp_millis()))
            .push(
                ") ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, \
                 expires_ms = excluded.expires_ms WHERE scim_run_locks.expires_ms <= ",
            )
            .arg(Arg::Int(now.timestamp_millis()))
            .push(" OR scim_run_locks.holder = excluded.holder");
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
