//! [`SqlHistory`]: scim-atlassian's sync history in the database, shared by every instance.

use async_trait::async_trait;
use scim_provisioning::history::{HistoryEntry, HistoryError, HistoryQuery, SyncHistory};
use sqlx::{AnyPool, Row};

use crate::store::{Arg, Dialect, IdSource, Sql};

/// A [`SyncHistory`] in `scim_sync_history` (one row per entry, its JSON plus tenant and time
/// columns for the queries). Entries list newest first, as the other histories do.
#[derive(Debug)]
pub struct SqlHistory {
    pool: AnyPool,
    dialect: Dialect,
    keys: IdSource,
}

impl SqlHistory {
    /// A history on the provisioner's database (its migrations create the table).
    pub fn new(provisioner: &crate::SqlProvisioner) -> Self {
        SqlHistory {
            pool: provisioner.pool().clone(),
            dialect: provisioner.dialect(),
            keys: IdSource::new(),
        }
    }
}

/// A database failure, or a stored entry that no longer decodes, as the history's error.
fn storage(err: impl std::fmt::Display) -> HistoryError {
    HistoryError::Storage {
        message: format!("scim_sync_history: {err}"),
    }
}

#[async_trait]
impl SyncHistory for SqlHistory {
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let json = serde_json::to_string(&entry).map_err(HistoryError::Encode)?;
        let at = entry.time.timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut q = Sql::new(self.dialect);
        q.push("INSERT INTO scim_sync_history (seq_key, tenant, at_ns, entry) VALUES (")
            .arg(Arg::Text(self.keys.next()))
            .push(", ")
            .arg(Arg::Text(entry.tenant.clone()))
            .push(", ")
            .arg(Arg::Int(at))
            .push(", ")
            .arg(Arg::Text(json))
            .push(")");
        q.query().execute(&self.pool).await.map_err(storage)?;
        Ok(())
    }

    async fn list(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, HistoryError> {
        let mut q = Sql::new(self.dialect);
        q.push("SELECT entry FROM scim_sync_history WHERE 1 = 1");
        if let Some(t) = &query.tenant {
            q.push(" AND tenant = ").arg(Arg::Text(t.clone()));
        }
        if let Some(since) = query.since {
            q.push(" AND at_ns >= ")
                .arg(Arg::Int(since.timestamp_nanos_opt().unwrap_or(i64::MIN)));
        }
        q.push(" ORDER BY at_ns DESC, seq_key DESC LIMIT ")
            .arg(Arg::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)));
        let rows = q.query().fetch_all(&self.pool).await.map_err(storage)?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("entry").map_err(storage)?;
                serde_json::from_str(&text).map_err(storage)
            })
            .collect()
    }
}
