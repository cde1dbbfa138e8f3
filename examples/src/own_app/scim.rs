//! The app's `users`, `teams` and `team_members` tables as a SCIM directory: with
//! [`SCIM_SCHEMA`](super::SCIM_SCHEMA) and [`with_scim`](super::with_scim), all the code the
//! application writes to be provisioned over SCIM (README, "Add SCIM to your own app").
//!
//! A SCIM User is a `users` row and a Group a `teams` row, the tenant being the row's `org`.
//! Each row keeps the SCIM document it was last written with in its `scim` column (so names,
//! other emails, `externalId` and extensions survive), and SQLite's JSON functions fill the
//! app's own columns from it (`login` from `userName`, `email` from the primary email, ...),
//! where the app's code reads them as before. Reads go through the views `scim_users` and
//! `scim_teams`. Memberships are `team_members` rows. Filtering, sorting, paging and PATCH are
//! scim-core's defaults over these methods.

use async_trait::async_trait;
use axum::http::StatusCode;
use scim_core::etag::ETag;
use scim_core::provision::{Provisioner, RequestContext as Ctx};
use scim_core::{Group, ScimError, User};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{Row, SqliteExecutor, SqlitePool, sqlite::SqliteRow};

type Res<T> = Result<T, ScimError>;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";
const CLEAR_MEMBERS: &str = "DELETE FROM team_members WHERE team_id = ? RETURNING 1";
const ADD_MEMBER: &str = "INSERT OR IGNORE INTO team_members SELECT ?, id FROM users WHERE org = ? AND id = ? RETURNING 1";
// A user's teams lose a member: they get a new version (the second argument says "users").
const BUMP_TEAMS: &str = "UPDATE teams SET version = version + 1 WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?) AND ? = 'users' RETURNING 1";

/// How a SCIM resource type is stored: its table and view, and the app's columns with their
/// values computed from the SCIM document `?2`.
struct Table(&'static str, &'static str, &'static str, &'static str);

const USERS: Table = Table(
    "users",
    "User",
    "login, display_name, active, email",
    "?2->>'userName', ?2->>'displayName', coalesce(?2->>'active', 1), (SELECT value->>'value'
        FROM json_each(?2->'emails') ORDER BY value->>'primary' IS 1 DESC LIMIT 1)",
);
const TEAMS: Table = Table("teams", "Group", "name", "?2->>'displayName'");

/// A SCIM resource type the app stores: its table, and the members to store with a team.
trait Stored: Serialize + DeserializeOwned + Send {
    const TABLE: Table;
    fn members(&self) -> Option<Vec<&str>> {
        None
    }
}

impl Stored for User {
    const TABLE: Table = USERS;
}

impl Stored for Group {
    const TABLE: Table = TEAMS;
    fn members(&self) -> Option<Vec<&str>> {
        Some(
            self.members
                .iter()
                .filter_map(|m| m.value.as_deref())
                .collect(),
        )
    }
}

/// Runs `sql` with `args` on the pool or a transaction. Every statement returns rows (writes
/// with `RETURNING`), so "no row" is how a guarded write says it did not happen.
async fn run<'e>(on: impl SqliteExecutor<'e>, sql: &str, args: &[&str]) -> Res<Vec<SqliteRow>> {
    let query = args.iter().fold(sqlx::query(sql), |q, a| q.bind(*a));
    query
        .fetch_all(on)
        .await
        .map_err(|e| match e.as_database_error() {
            // The one unique index: `(org, login)`; `save` names the value.
            Some(d) if d.is_unique_violation() => ScimError::uniqueness("userName", ""),
            _ => db(e),
        })
}

fn db(e: impl std::fmt::Display) -> ScimError {
    let detail = format!("database: {e}");
    ScimError::other(StatusCode::INTERNAL_SERVER_ERROR, None, detail)
}

/// The app's tables as a [`Provisioner`].
#[derive(Clone, Debug)]
pub struct AppDirectory {
    pool: SqlitePool,
}

impl AppDirectory {
    /// Serves the app's database `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        AppDirectory { pool }
    }

    /// Up to `limit` rows of `T`'s view from `offset` (`id` given: that row only).
    async fn list<T: Stored>(&self, ctx: &Ctx, id: &str, from: usize, n: usize) -> Res<Vec<T>> {
        let Table(table, ..) = T::TABLE;
        let sql = format!(
            "SELECT doc FROM scim_{table} WHERE org = ?1 AND (id = ?2 OR ?2 = '*') ORDER BY id LIMIT ?3 OFFSET ?4"
        );
        let (n, from) = (n.to_string(), from.to_string());
        let rows = run(&self.pool, &sql, &[ctx.tenant(), id, &n, &from]).await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(r.get(0))?))
            .collect()
    }

    async fn get<T: Stored>(&self, ctx: &Ctx, id: &str) -> Res<T> {
        let found = self.list(ctx, id, 0, 1).await?.pop();
        found.ok_or_else(|| ScimError::not_found(T::TABLE.1, id))
    }

    /// Inserts `res` (`id` empty) or updates the row `id` if its version is `expected`, and a
    /// team's members, in one transaction.
    async fn save<T: Stored>(&self, ctx: &Ctx, id: &str, res: T, v: Option<&ETag>) -> Res<T> {
        let Table(table, _, columns, values) = T::TABLE;
        let mut doc = serde_json::to_value(&res)?;
        if let Some(fields) = doc.as_object_mut() {
            // Kept in their own columns and tables.
            fields.retain(|k, _| !["id", "meta", "groups", "members"].contains(&k.as_str()));
        }
        let sql = if id.is_empty() {
            format!(
                "INSERT INTO {table} (org, scim, created, updated, {columns}) SELECT ?1, ?2, {NOW}, {NOW}, {values} RETURNING id"
            )
        } else {
            format!(
                "UPDATE {table} SET scim = ?2, ({columns}) = (SELECT {values}), version = version + 1, updated = {NOW} WHERE org = ?1 AND id = ?3 AND (version = ?4 OR ?4 = '*') RETURNING id"
            )
        };
        let mut tx = self.pool.begin().await.map_err(db)?;
        let name = doc.get("userName").and_then(serde_json::Value::as_str);
        let name = name.unwrap_or_default().to_owned();
        let (org, doc, version) = (ctx.tenant(), doc.to_string(), v.map_or("*", ETag::opaque));
        let rows = run(&mut *tx, &sql, &[org, &doc, id, version]).await;
        let rows = rows.map_err(|e| match e {
            ScimError::Uniqueness { .. } => ScimError::uniqueness("userName", name),
            e => e,
        });
        let Some(row) = rows?.pop() else {
            drop(tx); // Rolls back, and frees the connection `failed` may need.
            return Err(self.failed::<T>(ctx, id).await);
        };
        let id = row.get::<i64, _>(0).to_string();
        if let Some(mut members) = res.members() {
            members.sort_unstable();
            members.dedup();
            run(&mut *tx, CLEAR_MEMBERS, &[&id]).await?;
            for user in members {
                if run(&mut *tx, ADD_MEMBER, &[&id, org, user])
                    .await?
                    .is_empty()
                {
                    let why = format!("no user has the id {user:?}");
                    return Err(ScimError::invalid_value("members", why));
                }
            }
        }
        tx.commit().await.map_err(db)?;
        self.get(ctx, &id).await
    }

    async fn delete<T: Stored>(&self, ctx: &Ctx, id: &str, expected: Option<&ETag>) -> Res<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        run(&mut *tx, BUMP_TEAMS, &[id, T::TABLE.0]).await?;
        let sql = format!(
            "DELETE FROM {} WHERE org = ?1 AND id = ?2 AND (version = ?3 OR ?3 = '*') RETURNING 1",
            T::TABLE.0
        );
        let version = expected.map_or("*", ETag::opaque);
        let gone = run(&mut *tx, &sql, &[ctx.tenant(), id, version]).await?;
        if gone.is_empty() {
            drop(tx);
            return Err(self.failed::<T>(ctx, id).await);
        }
        tx.commit().await.map_err(db)
    }

    /// Why a guarded write changed no row: the row is missing (404) or its version moved (412).
    async fn failed<T: Stored>(&self, ctx: &Ctx, id: &str) -> ScimError {
        match self.get::<T>(ctx, id).await {
            Ok(_) => ScimError::precondition_failed("the resource has changed since that version"),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl Provisioner for AppDirectory {
    async fn create_user(&self, ctx: &Ctx, user: User) -> Res<User> {
        self.save(ctx, "", valid(user)?, None).await
    }
    async fn get_user(&self, ctx: &Ctx, id: &str) -> Res<User> {
        self.get(ctx, id).await
    }
    async fn replace_user(&self, ctx: &Ctx, id: &str, user: User, v: Option<&ETag>) -> Res<User> {
        self.save(ctx, id, valid(user)?, v).await
    }
    async fn delete_user(&self, ctx: &Ctx, id: &str, v: Option<&ETag>) -> Res<()> {
        self.delete::<User>(ctx, id, v).await
    }
    async fn scan_users(&self, ctx: &Ctx, offset: usize, limit: usize) -> Res<Vec<User>> {
        self.list(ctx, "*", offset, limit).await
    }
    async fn create_group(&self, ctx: &Ctx, group: Group) -> Res<Group> {
        self.save(ctx, "", group, None).await
    }
    async fn get_group(&self, ctx: &Ctx, id: &str) -> Res<Group> {
        self.get(ctx, id).await
    }
    async fn replace_group(
        &self,
        ctx: &Ctx,
        id: &str,
        group: Group,
        v: Option<&ETag>,
    ) -> Res<Group> {
        self.save(ctx, id, group, v).await
    }
    async fn delete_group(&self, ctx: &Ctx, id: &str, v: Option<&ETag>) -> Res<()> {
        self.delete::<Group>(ctx, id, v).await
    }
    async fn scan_groups(&self, ctx: &Ctx, offset: usize, limit: usize) -> Res<Vec<Group>> {
        self.list(ctx, "*", offset, limit).await
    }
}

fn valid(user: User) -> Res<User> {
    if user.user_name.trim().is_empty() {
        return Err(ScimError::invalid_value("userName", "must not be empty"));
    }
    Ok(user)
}
