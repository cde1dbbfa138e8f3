//! The tenants this process knows to be recorded in `scim_tenants`.

use std::collections::HashSet;
use std::sync::RwLock;

use sqlx::AnyConnection;

use crate::store::{self, Arg, Dialect, Sql};

/// Tenants whose `scim_tenants` row this process has seen committed. Rows are never deleted,
/// so a create for a known tenant skips that statement: one round trip less per `POST`.
#[derive(Debug, Default)]
pub(crate) struct KnownTenants(RwLock<HashSet<String>>);

impl KnownTenants {
    fn contains(&self, tenant: &str) -> bool {
        self.0.read().is_ok_and(|known| known.contains(tenant))
    }

    /// Records `tenant` inside the caller's transaction unless it is known. Returns whether
    /// it wrote, so the caller [remembers](KnownTenants::remember) the tenant once it has
    /// committed.
    pub(crate) async fn ensure(
        &self,
        conn: &mut AnyConnection,
        dialect: Dialect,
        tenant: &str,
    ) -> Result<bool, sqlx::Error> {
        if self.contains(tenant) {
            return Ok(false);
        }
        let mut q = Sql::new(dialect);
        q.push("INSERT INTO scim_tenants (tenant, created) VALUES (")
            .arg(Arg::Text(tenant.to_owned()))
            .push(", ")
            .arg(Arg::Text(store::now().0))
            .push(") ON CONFLICT (tenant) DO NOTHING");
        q.query().execute(&mut *conn).await?;
        Ok(true)
    }

    /// After a commit that recorded `tenant`.
    pub(crate) fn remember(&self, tenant: &str) {
        if let Ok(mut known) = self.0.write() {
            known.insert(tenant.to_owned());
        }
    }
}
