//! [`SqlHistory`]: scim-atlassian's sync history in the database, shared by every instance.

use async_trait::async_trait;
use scim_provisioning::history::{
    HistoryEntry, HistoryError, HistoryQuery, SyncHistory, UserMatch,
};
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

/// `text` for a `LIKE ... ESCAPE '\'` pattern matching it anywhere: `%`, `_` and `\` escaped.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[async_trait]
impl SyncHistory for SqlHistory {
    async fn record(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let json = serde_json::to_string(&entry).map_err(HistoryError::Encode)?;
        let at = entry.time.timestamp_nanos_opt().unwrap_or(i64::MAX);
        let op = &entry.operation;
        let mut q = Sql::new(self.dialect);
        q.push(
            "INSERT INTO scim_sync_history \
             (seq_key, tenant, at_ns, entry, method, user_name_ci, user_id_ci) VALUES (",
        )
        .arg(Arg::Text(self.keys.next()))
        .push(", ")
        .arg(Arg::Text(entry.tenant.clone()))
        .push(", ")
        .arg(Arg::Int(at))
        .push(", ")
        .arg(Arg::Text(json))
        .push(", ")
        .arg(Arg::Text(op.method.clone()))
        .push(", ")
        .arg(Arg::OptText(op.name.as_ref().map(|n| n.to_lowercase())))
        .push(", ")
        .arg(Arg::OptText(op.id.as_ref().map(|i| i.to_lowercase())))
        .push(")");
        q.query().execute(&self.pool).await.map_err(storage)?;
        Ok(())
    }

    /// Every condition of `query` in SQL: `tenant` (the primary key's first column),
    /// `methods`, and `user` (exact: the indexed lower-cased name and id columns; contains: a
    /// `LIKE` on them, scanning newest first), newest first with `LIMIT` and `OFFSET`.
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
        if !query.methods.is_empty() {
            q.push(" AND method IN (");
            for (i, m) in query.methods.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.arg(Arg::Text(m.clone()));
            }
            q.push(")");
        }
        if let Some(user) = &query.user {
            let needle = user.needle();
            let (cmp, value, escape) = match user {
                UserMatch::Exact(_) => (" = ", needle, ""),
                UserMatch::Contains(_) => (" LIKE ", contains_pattern(&needle), " ESCAPE '\\'"),
                // UserMatch is non-exhaustive: a kind this store does not know matches
                // nothing rather than everything.
                _ => return Ok(Vec::new()),
            };
            q.push(" AND (user_name_ci")
                .push(cmp)
                .arg(Arg::Text(value.clone()))
                .push(escape)
                .push(" OR user_id_ci")
                .push(cmp)
                .arg(Arg::Text(value))
                .push(escape)
                .push(")");
        }
        q.push(" ORDER BY at_ns DESC, seq_key DESC LIMIT ")
            .arg(Arg::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)))
            .push(" OFFSET ")
            .arg(Arg::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let rows = q.query().fetch_all(&self.pool).await.map_err(storage)?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("entry").map_err(storage)?;
                serde_json::from_str(&text).map_err(storage)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("bob"), "%bob%");
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
    }
}
