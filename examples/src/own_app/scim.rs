//! The app's `users`, `teams` and `team_members` tables as a SCIM directory: with
//! [`SCIM_SCHEMA`](super::SCIM_SCHEMA) and [`with_scim`](super::with_scim), all the code the
//! application writes to be provisioned over SCIM (README, "Add SCIM to your own app").
//!
//! A SCIM User is a `users` row and a Group a `teams` row, the tenant being the row's `org`.
//! Each row keeps the SCIM document it was last written with in its `scim` column (so names,
//! other emails, `externalId` and extensions survive), and SQLite's JSON functions fill the
//! app's own columns from it (`login` from `userName`, `email` from the primary email, ...),
//! where the app's code reads them as before. Reads go through the views `scim_users` and
//! `scim_teams`. Memberships are `team_members` rows.
//!
//! [`AppDirectory`] is a [`DocumentStore`]: it reads and writes JSON documents and says what
//! happened; scim-core's [`DocumentProvisioner`](scim_core::provision::DocumentProvisioner)
//! makes a `Provisioner` of it (404 or 412 when a guarded write matched no row, 409 from the
//! unique index, filters, sorting, paging and PATCH over these reads and writes).

use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::provision::RequestContext as Ctx;
use scim_core::provision::{Document, DocumentKind as Kind, DocumentStore, Written};
use sqlx::SqlitePool;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

/// A resource type's table, and the app's columns with their values computed from the SCIM
/// document `?2`.
fn table(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::User => (
            "users",
            "login, display_name, active, email",
            "?2->>'userName', ?2->>'displayName', coalesce(?2->>'active', 1), (SELECT
            value->>'value' FROM json_each(?2->'emails') ORDER BY value->>'primary' IS 1 DESC LIMIT 1)",
        ),
        _ => ("teams", "name", "?2->>'displayName'"),
    }
}

/// The app's database as a [`DocumentStore`].
#[derive(Clone, Debug)]
pub struct AppDirectory(pub SqlitePool);

#[async_trait]
impl DocumentStore for AppDirectory {
    type Error = sqlx::Error;

    async fn read(
        &self,
        ctx: &Ctx,
        kind: Kind,
        id: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>, sqlx::Error> {
        let sql = format!(
            "SELECT doc FROM scim_{} WHERE org = ?1 AND (id = ?2 OR ?2 IS NULL) ORDER BY id LIMIT ?3 OFFSET ?4",
            table(kind).0
        );
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let (limit, offset) = (n(limit), n(offset));
        let query = sqlx::query_scalar(&sql).bind(ctx.tenant()).bind(id);
        query.bind(limit).bind(offset).fetch_all(&self.0).await
    }

    async fn write(
        &self,
        ctx: &Ctx,
        id: Option<&str>,
        doc: &Document,
        v: Option<&ETag>,
    ) -> Result<Written, sqlx::Error> {
        let (table, columns, values) = table(doc.kind());
        let sql = match id {
            None => format!(
                "INSERT INTO {table} (org, scim, created, updated, {columns}) SELECT ?1, ?2, {NOW}, {NOW}, {values} RETURNING id"
            ),
            Some(_) => format!(
                "UPDATE {table} SET scim = ?2, ({columns}) = (SELECT {values}), version = version + 1, updated = {NOW} WHERE org = ?1 AND id = ?3 AND (version = ?4 OR ?4 IS NULL) RETURNING id"
            ),
        };
        let mut tx = self.0.begin().await?;
        let query = sqlx::query_scalar(&sql).bind(ctx.tenant()).bind(doc.json());
        let row = query
            .bind(id)
            .bind(v.map(ETag::opaque))
            .fetch_optional(&mut *tx);
        let Some(id): Option<i64> = row.await? else {
            return Ok(Written::NoMatch);
        };
        if doc.kind() == Kind::Group {
            let clear = sqlx::query("DELETE FROM team_members WHERE team_id = ?").bind(id);
            clear.execute(&mut *tx).await?;
            for user in doc.members() {
                // Only a user of the same organisation can be a member.
                let add =
                    "INSERT INTO team_members SELECT ?, id FROM users WHERE org = ? AND id = ?";
                let add = sqlx::query(add).bind(id).bind(ctx.tenant()).bind(user);
                if add.execute(&mut *tx).await?.rows_affected() == 0 {
                    return Ok(Written::UnknownMember(user.clone()));
                }
            }
        }
        tx.commit().await?;
        Ok(Written::Stored(id.to_string()))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        kind: Kind,
        id: &str,
        v: Option<&ETag>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.0.begin().await?;
        if kind == Kind::User {
            // The user's teams lose a member, so they get a new version.
            let bump = "UPDATE teams SET version = version + 1 WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?)";
            sqlx::query(bump).bind(id).execute(&mut *tx).await?;
        }
        let sql = format!(
            "DELETE FROM {} WHERE org = ?1 AND id = ?2 AND (version = ?3 OR ?3 IS NULL)",
            table(kind).0
        );
        let query = sqlx::query(&sql).bind(ctx.tenant()).bind(id);
        let gone = query.bind(v.map(ETag::opaque)).execute(&mut *tx).await?;
        if gone.rows_affected() > 0 {
            tx.commit().await?;
        }
        Ok(gone.rows_affected() > 0)
    }

    fn is_conflict(&self, error: &sqlx::Error) -> bool {
        // The one unique index: `(org, login)`.
        let database = error.as_database_error();
        database.is_some_and(sqlx::error::DatabaseError::is_unique_violation)
    }
}
