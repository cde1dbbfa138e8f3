//! [`SqlProvisioner`]: users, groups and memberships in SQL tables, every write atomic (one
//! transaction; on SQLite, user creates that arrive together share one, see `batch.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use scim_core::ScimError;
use scim_core::etag::ETag;
use scim_core::provision::{FetchedUser, ListQuery, Page, Provisioner, RequestContext, UserJson};
use scim_core::resource::{Group, Member, Meta, MultiValue, Password, User};
use scim_core::schema::SchemaRegistry;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::batch::{Batcher, NewUser};
use crate::direct::Read;
use crate::error::{SqlError, db, is_unique_violation};
use crate::store::{self, Arg, Dialect, IdSource, Sql, SqlOptions, fold};
use crate::tenants::KnownTenants;

/// A [`Provisioner`] on SQLite or PostgreSQL (see the [crate docs](crate)).
#[derive(Debug)]
pub struct SqlProvisioner {
    /// Writes, and reads inside a write's transaction.
    pub(crate) pool: AnyPool,
    /// Reads on their own (GET, searches): SQLite's read-only connections, or `pool` itself.
    pub(crate) read: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) fallback_limit: usize,
    pub(crate) push_down: bool,
    /// The schemas filters are translated and evaluated with.
    pub(crate) schemas: std::sync::Arc<SchemaRegistry>,
    ids: IdSource,
    /// On a SQLite file: `GET` by id on the calling thread, without sqlx's connection thread
    /// (see `direct.rs`).
    direct: Option<crate::direct::DirectReaders>,
    /// On a SQLite file: the WAL checkpoints, on a thread of their own (see `checkpoint.rs`).
    _checkpointer: Option<crate::checkpoint::Checkpointer>,
    /// Tenants whose `scim_tenants` row this process has seen committed.
    known_tenants: std::sync::Arc<KnownTenants>,
    /// On SQLite: user creates written in batches (see `batch.rs`).
    creates: Option<std::sync::Arc<Batcher>>,
}

/// What differs between the user and the group table in the statements both share (reading a
/// row or a page, inserting, the conditional update, the conditional delete).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowKind {
    /// The table.
    pub(crate) table: &'static str,
    /// The SCIM resource type, in `meta` and errors.
    resource_type: &'static str,
    /// The columns a row is read with (what `decode_user`/`decode_group` take), on SQLite and
    /// on PostgreSQL.
    columns: [&'static str; 2],
}

impl RowKind {
    /// The columns a row is read with on `dialect`.
    pub(crate) fn columns(self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.columns[0],
            Dialect::Postgres => self.columns[1],
        }
    }
}

/// Users: `scim_users`. A user's `groups` come with its row, as a JSON array of
/// `[id, displayName]` pairs aggregated in a subquery, so one statement reads a whole user: each
/// statement is a round trip to the database (on SQLite a hand-off to its connection thread).
pub(crate) const USERS: RowKind = RowKind {
    table: "scim_users",
    resource_type: "User",
    columns: [
        "id, version, created, last_modified, password, resource, \
         (SELECT json_group_array(json_array(g.id, g.display_name)) \
         FROM scim_memberships m JOIN scim_groups g ON g.tenant = m.tenant AND g.id = m.group_id \
         WHERE m.tenant = scim_users.tenant AND m.member_id = scim_users.id) AS member_of",
        "id, version, created, last_modified, password, resource, \
         (SELECT CAST(COALESCE(json_agg(json_build_array(g.id, g.display_name)), '[]') AS TEXT) \
         FROM scim_memberships m JOIN scim_groups g ON g.tenant = m.tenant AND g.id = m.group_id \
         WHERE m.tenant = scim_users.tenant AND m.member_id = scim_users.id) AS member_of",
    ],
};

/// Groups: `scim_groups`, with their `members` as a JSON array of `[position, member]` pairs
/// (one statement per group or page, as for users).
pub(crate) const GROUPS: RowKind = RowKind {
    table: "scim_groups",
    resource_type: "Group",
    columns: [
        "id, version, created, last_modified, resource, \
         (SELECT json_group_array(json_array(m.position, json(m.member))) FROM scim_memberships m \
         WHERE m.tenant = scim_groups.tenant AND m.group_id = scim_groups.id) AS members",
        "id, version, created, last_modified, resource, \
         (SELECT CAST(COALESCE(json_agg(json_build_array(m.position, CAST(m.member AS json))), '[]') \
         AS TEXT) FROM scim_memberships m \
         WHERE m.tenant = scim_groups.tenant AND m.group_id = scim_groups.id) AS members",
    ],
};

/// Rows of `scim_user_values` per `INSERT`: 4 parameters each, far below either database's
/// limit on bound parameters.
const SIDE_ROWS_PER_INSERT: usize = 100;

/// A row's written columns besides tenant, id, version and the timestamps, with their values;
/// the names are this file's constants, the values are bound.
type Values = Vec<(&'static str, Arg)>;

impl SqlProvisioner {
    /// Connects to `url` (see [`SqlOptions::new`]) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, SqlError> {
        Self::connect_with(SqlOptions::new(url)).await
    }

    /// Connects with `options` and brings the schema up to date.
    pub async fn connect_with(options: SqlOptions) -> Result<Self, SqlError> {
        let (pool, dialect) = store::open(&options).await?;
        crate::schema::migrate(&pool, dialect, &options.schemas).await?;
        let pools = store::open_readers(&options, dialect, pool).await?;
        let direct = pools
            .file
            .as_deref()
            .filter(|_| options.read_connections > 0)
            .map(|path| {
                crate::direct::DirectReaders::new(
                    path,
                    usize::try_from(options.read_connections)
                        .unwrap_or(1)
                        .max(std::thread::available_parallelism().map_or(1, usize::from)),
                    options.mmap_size,
                )
            });
        let checkpointer = match pools.file.as_deref() {
            Some(path) => Some(
                crate::checkpoint::Checkpointer::start(path, crate::checkpoint::CHECKPOINT_EVERY)
                    .map_err(SqlError::Thread)?,
            ),
            None => None,
        };
        let known_tenants = std::sync::Arc::new(KnownTenants::default());
        // PostgreSQL takes concurrent writers; only SQLite's single writer gains from batches.
        let creates = (dialect == Dialect::Sqlite).then(|| {
            Batcher::new(
                pools.write.clone(),
                dialect,
                std::sync::Arc::clone(&known_tenants),
            )
        });
        Ok(SqlProvisioner {
            direct,
            _checkpointer: checkpointer,
            pool: pools.write,
            read: pools.read,
            dialect,
            fallback_limit: options.fallback_limit,
            push_down: options.push_down,
            schemas: options.schemas.clone(),
            ids: IdSource::new(),
            known_tenants,
            creates,
        })
    }

    /// The database this provisioner writes to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The connection pool (for [`SqlRunLock`](crate::SqlRunLock) and
    /// `SqlHistory`, feature `history`, to share).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Creates many users in one transaction (imports, benchmarks): all or none.
    pub async fn create_users_bulk(
        &self,
        ctx: &RequestContext,
        users: impl IntoIterator<Item = User>,
    ) -> Result<usize, ScimError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let recorded = self.ensure_tenant(&mut tx, ctx.tenant()).await?;
        let mut n = 0;
        for user in users {
            let (new, _) = self.prepare_user(ctx.tenant(), user)?;
            new.insert_into(&mut tx).await?;
            n += 1;
        }
        tx.commit().await.map_err(db)?;
        if recorded {
            self.remember_tenant(ctx.tenant());
        }
        Ok(n)
    }

    /// Records `tenant` (inside the caller's transaction) unless this process knows it is.
    /// Returns whether it wrote, so the caller remembers the tenant once it has committed.
    async fn ensure_tenant(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
    ) -> Result<bool, ScimError> {
        self.known_tenants
            .ensure(conn, self.dialect, tenant)
            .await
            .map_err(db)
    }

    /// After a commit that recorded `tenant`.
    fn remember_tenant(&self, tenant: &str) {
        self.known_tenants.remember(tenant);
    }

    pub(crate) fn sql(&self) -> Sql {
        Sql::new(self.dialect)
    }

    /// The statements that insert `user` as a new user of `tenant`, and the user as a `GET`
    /// would show it once they have committed (without its password).
    fn prepare_user(&self, tenant: &str, user: User) -> Result<(NewUser, User), ScimError> {
        let key = user_name_key(&user)?;
        let id = self.ids.next();
        let (stamp, ns) = store::now();
        let password = user.password.as_ref().map(|p| p.expose().to_owned());
        let stored = strip_user(user, &id);
        let (values, side) = user_values(&stored, key, password, &self.schemas)?;
        let new = NewUser {
            tenant: tenant.to_owned(),
            row: self.insert_row(USERS, tenant, &id, (&stamp, ns), values),
            values: side_inserts(self.dialect, tenant, &id, &side),
            user_name: stored.user_name.clone(),
        };
        let mut view = stored;
        view.meta = Some(meta("User", 1, &stamp, &stamp));
        Ok((new, view))
    }

    /// The user row `id`, decoded, with `groups` filled in.
    async fn load_user(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(User, i64)>, ScimError> {
        let Some(row) = self.load_row(conn, USERS, tenant, id).await? else {
            return Ok(None);
        };
        decode_user(&row).map(Some)
    }

    async fn load_group(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Group, i64)>, ScimError> {
        let Some(row) = self.load_row(conn, GROUPS, tenant, id).await? else {
            return Ok(None);
        };
        decode_group(&row).map(Some)
    }

    /// Members with their `type` filled in, each existing in this tenant; duplicates dropped.
    async fn checked_members(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        group: &Group,
        own_id: Option<&str>,
    ) -> Result<Vec<Member>, ScimError> {
        if group.display_name.trim().is_empty() {
            return Err(ScimError::invalid_value(
                "displayName",
                "is required and must not be empty",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut members = Vec::with_capacity(group.members.len());
        for (i, m) in group.members.iter().enumerate() {
            let Some(value) = m.value.as_deref().filter(|v| !v.is_empty()) else {
                return Err(ScimError::invalid_value(
                    format!("members[{i}].value"),
                    "is required",
                ));
            };
            if !seen.insert(value.to_owned()) {
                continue;
            }
            let kind = if self.exists(conn, "scim_users", tenant, value).await? {
                "User"
            } else if self.exists(conn, "scim_groups", tenant, value).await? {
                if Some(value) == own_id {
                    return Err(ScimError::invalid_value(
                        "members",
                        format_args!("group {value} cannot be a member of itself"),
                    ));
                }
                "Group"
            } else {
                return Err(ScimError::invalid_value(
                    "members",
                    format_args!("no user or group has the id {value:?}"),
                ));
            };
            let mut member = m.clone();
            member.kind = Some(kind.to_owned());
            members.push(member);
        }
        Ok(members)
    }

    async fn exists(
        &self,
        conn: &mut AnyConnection,
        table: &str,
        tenant: &str,
        id: &str,
    ) -> Result<bool, ScimError> {
        let mut q = self.sql();
        q.push(&format!("SELECT 1 AS one FROM {table} WHERE tenant = "))
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND id = ")
            .arg(Arg::Text(id.to_owned()));
        Ok(q.query()
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .is_some())
    }

    async fn write_members(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        group_id: &str,
        members: &[Member],
    ) -> Result<(), ScimError> {
        let mut q = self.sql();
        q.push("DELETE FROM scim_memberships WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND group_id = ")
            .arg(Arg::Text(group_id.to_owned()));
        q.query().execute(&mut *conn).await.map_err(db)?;
        for (position, m) in (0_i64..).zip(members) {
            let mut q = self.sql();
            q.push(
                "INSERT INTO scim_memberships (tenant, group_id, member_id, position, member) \
                 VALUES (",
            )
            .arg(Arg::Text(tenant.to_owned()))
            .push(", ")
            .arg(Arg::Text(group_id.to_owned()))
            .push(", ")
            .arg(Arg::Text(m.value.clone().unwrap_or_default()))
            .push(", ")
            .arg(Arg::Int(position))
            .push(", ")
            .arg(Arg::Text(serde_json::to_string(m)?))
            .push(")");
            q.query().execute(&mut *conn).await.map_err(db)?;
        }
        Ok(())
    }

    /// Writes the user `id`'s rows of `scim_user_values` (after deleting the old ones when
    /// `replace`), a bounded number of rows per statement.
    async fn write_side_values(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        id: &str,
        side: &[(&'static str, String)],
        replace: bool,
    ) -> Result<(), ScimError> {
        if replace {
            let mut q = self.sql();
            q.push("DELETE FROM scim_user_values WHERE tenant = ")
                .arg(Arg::Text(tenant.to_owned()))
                .push(" AND user_id = ")
                .arg(Arg::Text(id.to_owned()));
            q.query().execute(&mut *conn).await.map_err(db)?;
        }
        insert_side_values(conn, self.dialect, tenant, id, side)
            .await
            .map_err(db)
    }

    /// Removes `member_id` from every group holding it, bumping those groups' versions.
    async fn drop_member_everywhere(
        &self,
        conn: &mut AnyConnection,
        tenant: &str,
        member_id: &str,
    ) -> Result<(), ScimError> {
        let (stamp, ns) = store::now();
        let mut q = self.sql();
        q.push("UPDATE scim_groups SET version = version + 1, last_modified = ")
            .arg(Arg::Text(stamp))
            .push(", last_modified_ns = ")
            .arg(Arg::Int(ns))
            .push(" WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND id IN (SELECT group_id FROM scim_memberships WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND member_id = ")
            .arg(Arg::Text(member_id.to_owned()))
            .push(")");
        q.query().execute(&mut *conn).await.map_err(db)?;
        let mut q = self.sql();
        q.push("DELETE FROM scim_memberships WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND member_id = ")
            .arg(Arg::Text(member_id.to_owned()));
        q.query().execute(&mut *conn).await.map_err(db)?;
        Ok(())
    }

    /// `SELECT` of [`RowKind::columns`] from the tenant's rows of `kind`'s table.
    fn select(&self, kind: RowKind, tenant: &str) -> Sql {
        let mut q = self.sql();
        q.push(&format!(
            "SELECT {} FROM {} WHERE tenant = ",
            kind.columns(self.dialect),
            kind.table
        ))
        .arg(Arg::Text(tenant.to_owned()));
        q
    }

    /// The row `id` of `kind`'s table, with [`RowKind::columns`].
    async fn load_row(
        &self,
        conn: &mut AnyConnection,
        kind: RowKind,
        tenant: &str,
        id: &str,
    ) -> Result<Option<AnyRow>, ScimError> {
        let mut q = self.select(kind, tenant);
        q.push(" AND id = ").arg(Arg::Text(id.to_owned()));
        q.query().fetch_optional(&mut *conn).await.map_err(db)
    }

    /// The tenant's rows of `kind`'s table in id order, `limit` from `offset`.
    async fn scan_rows(
        &self,
        kind: RowKind,
        tenant: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<AnyRow>, ScimError> {
        let mut q = self.select(kind, tenant);
        q.push(" ORDER BY id");
        crate::search::limit_offset(&mut q, offset, limit);
        q.query().fetch_all(&self.read).await.map_err(db)
    }

    /// `INSERT` of a new row at version 1, created and last modified at `(stamp, ns)`.
    fn insert_row(
        &self,
        kind: RowKind,
        tenant: &str,
        id: &str,
        (stamp, ns): (&str, i64),
        values: Values,
    ) -> Sql {
        let fixed = [
            ("tenant", Arg::Text(tenant.to_owned())),
            ("id", Arg::Text(id.to_owned())),
            ("version", Arg::Int(1)),
            ("created", Arg::Text(stamp.to_owned())),
            ("created_ns", Arg::Int(ns)),
            ("last_modified", Arg::Text(stamp.to_owned())),
            ("last_modified_ns", Arg::Int(ns)),
        ];
        let all: Values = fixed.into_iter().chain(values).collect();
        let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
        let mut q = self.sql();
        q.push(&format!(
            "INSERT INTO {} ({}) VALUES (",
            kind.table,
            names.join(", ")
        ));
        for (i, (_, value)) in all.into_iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.arg(value);
        }
        q.push(")");
        q
    }

    /// The conditional `UPDATE` of row `id`: only while it is at `version`, which it leaves
    /// one higher, last modified at `(stamp, ns)`.
    fn update_row(
        &self,
        kind: RowKind,
        tenant: &str,
        id: &str,
        version: i64,
        (stamp, ns): (&str, i64),
        values: Values,
    ) -> Sql {
        let mut q = self.sql();
        q.push(&format!("UPDATE {} SET ", kind.table));
        for (name, value) in values {
            q.push(name).push(" = ").arg(value).push(", ");
        }
        q.push("version = version + 1, last_modified = ")
            .arg(Arg::Text(stamp.to_owned()))
            .push(", last_modified_ns = ")
            .arg(Arg::Int(ns))
            .push(" WHERE tenant = ")
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND id = ")
            .arg(Arg::Text(id.to_owned()))
            .push(" AND version = ")
            .arg(Arg::Int(version));
        q
    }

    /// Deletes the row `id` of `kind`'s table if its version is `expected`.
    async fn delete_row(
        &self,
        conn: &mut AnyConnection,
        kind: RowKind,
        tenant: &str,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let RowKind {
            table,
            resource_type: what,
            ..
        } = kind;
        let mut q = self.sql();
        q.push(&format!("SELECT version FROM {table} WHERE tenant = "))
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND id = ")
            .arg(Arg::Text(id.to_owned()));
        let row = q.query().fetch_optional(&mut *conn).await.map_err(db)?;
        let version: i64 = row
            .ok_or_else(|| ScimError::not_found(what, id))?
            .try_get("version")
            .map_err(db)?;
        check_version(version, expected, what, id)?;
        let mut q = self.sql();
        q.push(&format!("DELETE FROM {table} WHERE tenant = "))
            .arg(Arg::Text(tenant.to_owned()))
            .push(" AND id = ")
            .arg(Arg::Text(id.to_owned()))
            .push(" AND version = ")
            .arg(Arg::Int(version));
        let done = q.query().execute(&mut *conn).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(lost_race(what, id));
        }
        Ok(())
    }
}

pub(crate) fn corrupt(table: &'static str, e: &impl std::fmt::Display) -> ScimError {
    SqlError::Corrupt {
        table,
        detail: e.to_string(),
    }
    .into()
}

fn lost_race(what: &str, id: &str) -> ScimError {
    ScimError::precondition_failed(format_args!("{what} {id} was changed by another request"))
}

/// The `meta` of a row at `version`; owned instants move in.
fn meta(
    resource_type: &str,
    version: i64,
    created: impl Into<String>,
    last_modified: impl Into<String>,
) -> Meta {
    Meta::stamped(
        resource_type,
        u64::try_from(version).unwrap_or(0),
        created,
        last_modified,
    )
}

fn check_version(
    version: i64,
    expected: Option<&ETag>,
    what: &str,
    id: &str,
) -> Result<(), ScimError> {
    let current = ETag::from_version(u64::try_from(version).unwrap_or(0));
    match expected {
        Some(want) if !current.weak_eq(want) => Err(ScimError::precondition_failed(format_args!(
            "{what} {id} is at version {current}, not {want}"
        ))),
        _ => Ok(()),
    }
}

/// The uniqueness key of a user's `userName` (trimmed, lower-cased); 400 when empty.
fn user_name_key(user: &User) -> Result<String, ScimError> {
    let name = user.user_name.trim();
    if name.is_empty() {
        return Err(ScimError::invalid_value(
            "userName",
            "is required and must not be empty",
        ));
    }
    Ok(name.to_lowercase())
}

/// The rows of `scim_user_values` of one user: attribute key and lower-cased value.
type SideValues = Vec<(&'static str, String)>;

/// A user's written columns (the indexed ones, `*_ci`: lower-cased; the password; the JSON and
/// its `search` copy) and its rows of `scim_user_values`.
fn user_values(
    stored: &User,
    key: String,
    password: Option<String>,
    schemas: &SchemaRegistry,
) -> Result<(Values, SideValues), ScimError> {
    let json = serde_json::to_value(stored)?;
    let search = store::search_json(&json, schemas, scim_core::urn::USER);
    let side = store::side_values(&search);
    let resource = serde_json::to_string(&json)?;
    let search = serde_json::to_string(&search)?;
    let values = vec![
        ("user_name", Arg::Text(stored.user_name.clone())),
        ("user_name_key", Arg::Text(key)),
        ("user_name_ci", Arg::Text(fold(&stored.user_name))),
        ("external_id", Arg::OptText(stored.external_id.clone())),
        (
            "external_id_ci",
            Arg::OptText(stored.external_id.as_deref().map(fold)),
        ),
        ("display_name", Arg::OptText(stored.display_name.clone())),
        (
            "display_name_ci",
            Arg::OptText(stored.display_name.as_deref().map(fold)),
        ),
        ("active", Arg::OptInt(stored.active.map(i64::from))),
        ("password", Arg::OptText(password)),
        ("resource", Arg::Text(resource)),
        ("search", Arg::Json(search)),
    ];
    Ok((values, side))
}

/// A group's written columns (members live in `scim_memberships`).
fn group_values(stored: &Group) -> Result<Values, ScimError> {
    Ok(vec![
        ("display_name", Arg::Text(stored.display_name.clone())),
        ("display_name_ci", Arg::Text(fold(&stored.display_name))),
        ("external_id", Arg::OptText(stored.external_id.clone())),
        (
            "external_id_ci",
            Arg::OptText(stored.external_id.as_deref().map(fold)),
        ),
        ("resource", Arg::Text(serde_json::to_string(stored)?)),
    ])
}

/// A row as read, before decoding: the columns of [`RowKind::columns`] (`password` is a user's
/// only; `related` is a user's `member_of` or a group's `members`).
#[derive(Debug)]
pub(crate) struct RawRow {
    pub(crate) id: String,
    pub(crate) version: i64,
    pub(crate) created: String,
    pub(crate) last_modified: String,
    pub(crate) password: Option<String>,
    pub(crate) resource: String,
    pub(crate) related: Option<String>,
}

impl RawRow {
    /// The columns of an sqlx row; `password` says whether it has that column.
    fn from_any(row: &AnyRow, password: bool, related: &str) -> Result<Self, ScimError> {
        Ok(RawRow {
            id: row.try_get("id").map_err(db)?,
            version: row.try_get("version").map_err(db)?,
            created: row.try_get("created").map_err(db)?,
            last_modified: row.try_get("last_modified").map_err(db)?,
            password: if password {
                row.try_get("password").map_err(db)?
            } else {
                None
            },
            resource: row.try_get("resource").map_err(db)?,
            related: row.try_get(related).map_err(db)?,
        })
    }
}

/// A user row (with `member_of`) as a [`User`] and its version.
pub(crate) fn decode_user(row: &AnyRow) -> Result<(User, i64), ScimError> {
    user_from_raw(RawRow::from_any(row, true, "member_of")?)
}

/// A user's columns as a [`User`] and its version.
pub(crate) fn user_from_raw(row: RawRow) -> Result<(User, i64), ScimError> {
    let mut user: User =
        serde_json::from_str(&row.resource).map_err(|e| corrupt("scim_users", &e))?;
    user.groups = groups_from(row.related.as_deref())?;
    user.id = Some(row.id);
    user.password = row.password.map(Password::new);
    user.meta = Some(meta("User", row.version, row.created, row.last_modified));
    Ok((user, row.version))
}

/// A user's `groups`, from the `[id, displayName]` pairs of its row's `member_of`.
fn groups_from(member_of: Option<&str>) -> Result<Vec<MultiValue>, ScimError> {
    let mut groups: Vec<(String, String)> = match member_of {
        Some(json) => serde_json::from_str(json).map_err(|e| corrupt("scim_memberships", &e))?,
        None => Vec::new(),
    };
    // In id order, whatever order the aggregate saw the rows in.
    groups.sort_unstable();
    Ok(groups
        .into_iter()
        .map(|(value, display)| MultiValue {
            value: Some(value),
            display: Some(display),
            kind: Some("direct".to_owned()),
            ..MultiValue::default()
        })
        .collect())
}

/// A user row as the service's plain `GET` takes it: the stored text as it is, with `groups`
/// and `meta` beside it; `None` when the text is not what this store writes (see
/// [`UserJson::new`]), for the caller to decode the row instead (logged under `id`, the id the
/// row was read by).
fn user_json_from_raw(row: RawRow, id: &str) -> Result<Option<UserJson>, ScimError> {
    let groups = groups_from(row.related.as_deref())?;
    // The row's strings move into the answer.
    let meta = meta("User", row.version, row.created, row.last_modified);
    match UserJson::new(row.id, row.resource, groups, meta) {
        Ok(user) => Ok(Some(user)),
        Err(e) => {
            tracing::warn!(target: "scim_sql", user = %id, error = %e, "stored user served after decoding it");
            Ok(None)
        }
    }
}

/// A group row (with `members`) as a [`Group`] and its version.
pub(crate) fn decode_group(row: &AnyRow) -> Result<(Group, i64), ScimError> {
    group_from_raw(RawRow::from_any(row, false, "members")?)
}

/// A group's columns as a [`Group`] and its version.
pub(crate) fn group_from_raw(row: RawRow) -> Result<(Group, i64), ScimError> {
    let mut group: Group =
        serde_json::from_str(&row.resource).map_err(|e| corrupt("scim_groups", &e))?;
    let mut members: Vec<(i64, Member)> = match row.related {
        Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("scim_memberships", &e))?,
        None => Vec::new(),
    };
    members.sort_by_key(|(position, _)| *position);
    group.members = members.into_iter().map(|(_, m)| m).collect();
    group.id = Some(row.id);
    group.meta = Some(meta("Group", row.version, row.created, row.last_modified));
    Ok((group, row.version))
}

/// Clears what the service provider owns (and the password, kept in its own column).
fn strip_user(mut user: User, id: &str) -> User {
    user.id = Some(id.to_owned());
    user.meta = None;
    user.groups = Vec::new();
    user.password = None;
    user
}

fn strip_group(mut group: Group, id: &str) -> Group {
    group.id = Some(id.to_owned());
    group.meta = None;
    group.members = Vec::new();
    group
}

/// Inserts rows of `scim_user_values` for the user `id`, a bounded number per statement.
pub(crate) async fn insert_side_values(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &str,
    id: &str,
    side: &[(&'static str, String)],
) -> Result<(), sqlx::Error> {
    for q in side_inserts(dialect, tenant, id, side) {
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The `INSERT`s of [`insert_side_values`], a bounded number of rows each.
fn side_inserts(
    dialect: Dialect,
    tenant: &str,
    id: &str,
    side: &[(&'static str, String)],
) -> Vec<Sql> {
    side.chunks(SIDE_ROWS_PER_INSERT)
        .map(|chunk| {
            let mut q = Sql::new(dialect);
            q.push("INSERT INTO scim_user_values (tenant, user_id, attr, value) VALUES ");
            for (i, (attr, value)) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" })
                    .arg(Arg::Text(tenant.to_owned()))
                    .push(", ")
                    .arg(Arg::Text(id.to_owned()))
                    .push(", ")
                    .arg(Arg::Text((*attr).to_owned()))
                    .push(", ")
                    .arg(Arg::Text(value.clone()))
                    .push(")");
            }
            q
        })
        .collect()
}

#[async_trait]
impl Provisioner for SqlProvisioner {
    async fn create_user(&self, ctx: &RequestContext, user: User) -> Result<User, ScimError> {
        let (new, view) = self.prepare_user(ctx.tenant(), user)?;
        match &self.creates {
            Some(batcher) => batcher.create(new).await?,
            None => {
                new.write_alone(&self.pool, self.dialect, &self.known_tenants)
                    .await?;
            }
        }
        Ok(view)
    }

    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        match self.direct.as_ref().map(|d| d.user(ctx.tenant(), id)) {
            Some(Read::Found(row)) => return user_from_raw(row).map(|(u, _)| u),
            Some(Read::Missing) => return Err(ScimError::not_found("User", id)),
            Some(Read::Unavailable) | None => {}
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        self.load_user(&mut conn, ctx.tenant(), id)
            .await?
            .map(|(u, _)| u)
            .ok_or_else(|| ScimError::not_found("User", id))
    }

    /// The stored text itself (no decoding; see [`UserJson`]), from a direct reader or else a
    /// pooled connection.
    async fn fetch_user(&self, ctx: &RequestContext, id: &str) -> Result<FetchedUser, ScimError> {
        let row = match self.direct.as_ref().map(|d| d.user(ctx.tenant(), id)) {
            Some(Read::Found(row)) => row,
            Some(Read::Missing) => return Err(ScimError::not_found("User", id)),
            Some(Read::Unavailable) | None => {
                let mut conn = self.read.acquire().await.map_err(db)?;
                match self.load_row(&mut conn, USERS, ctx.tenant(), id).await? {
                    Some(row) => RawRow::from_any(&row, true, "member_of")?,
                    None => return Err(ScimError::not_found("User", id)),
                }
            }
        };
        match user_json_from_raw(row, id)? {
            Some(user) => Ok(FetchedUser::Json(Box::new(user))),
            // A text this store would not write (rare): read the row again, decoded.
            None => self
                .get_user(ctx, id)
                .await
                .map(|user| FetchedUser::Shared(Arc::new(user))),
        }
    }

    async fn replace_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        mut user: User,
        expected: Option<&ETag>,
    ) -> Result<User, ScimError> {
        let tenant = ctx.tenant();
        let key = user_name_key(&user)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some((current, version)) = self.load_user(&mut tx, tenant, id).await? else {
            return Err(ScimError::not_found("User", id));
        };
        check_version(version, expected, "User", id)?;
        // A PUT without a password keeps the current one: clients never read it back.
        if user.password.is_none() {
            user.password = current.password;
        }
        let password = user.password.as_ref().map(|p| p.expose().to_owned());
        let stored = strip_user(user, id);
        let (values, side) = user_values(&stored, key, password, &self.schemas)?;
        let (stamp, ns) = store::now();
        let q = self.update_row(USERS, tenant, id, version, (&stamp, ns), values);
        let done = q.query().execute(&mut *tx).await.map_err(|e| {
            if is_unique_violation(&e) {
                ScimError::uniqueness("userName", stored.user_name.trim())
            } else {
                db(e)
            }
        })?;
        if done.rows_affected() == 0 {
            return Err(lost_race("User", id));
        }
        self.write_side_values(&mut tx, tenant, id, &side, true)
            .await?;
        tx.commit().await.map_err(db)?;
        let mut view = stored;
        view.groups = current.groups;
        let created = current
            .meta
            .and_then(|m| m.created)
            .unwrap_or_else(|| stamp.clone());
        view.meta = Some(meta("User", version + 1, &created, &stamp));
        Ok(view)
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        self.delete_row(&mut tx, USERS, ctx.tenant(), id, expected)
            .await?;
        self.write_side_values(&mut tx, ctx.tenant(), id, &[], true)
            .await?;
        self.drop_member_everywhere(&mut tx, ctx.tenant(), id)
            .await?;
        tx.commit().await.map_err(db)
    }

    async fn scan_users(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<User>, ScimError> {
        let rows = self.scan_rows(USERS, ctx.tenant(), offset, limit).await?;
        rows.iter()
            .map(|r| decode_user(r).map(|(u, _)| u))
            .collect()
    }

    async fn create_group(&self, ctx: &RequestContext, group: Group) -> Result<Group, ScimError> {
        let tenant = ctx.tenant();
        let id = self.ids.next();
        let mut tx = self.pool.begin().await.map_err(db)?;
        let recorded = self.ensure_tenant(&mut tx, tenant).await?;
        let members = self.checked_members(&mut tx, tenant, &group, None).await?;
        let stored = strip_group(group, &id);
        let (stamp, ns) = store::now();
        let q = self.insert_row(GROUPS, tenant, &id, (&stamp, ns), group_values(&stored)?);
        q.query().execute(&mut *tx).await.map_err(db)?;
        self.write_members(&mut tx, tenant, &id, &members).await?;
        tx.commit().await.map_err(db)?;
        if recorded {
            self.remember_tenant(tenant);
        }
        let mut view = stored;
        view.members = members;
        view.meta = Some(meta("Group", 1, &stamp, &stamp));
        Ok(view)
    }

    async fn get_group(&self, ctx: &RequestContext, id: &str) -> Result<Group, ScimError> {
        match self.direct.as_ref().map(|d| d.group(ctx.tenant(), id)) {
            Some(Read::Found(row)) => return group_from_raw(row).map(|(g, _)| g),
            Some(Read::Missing) => return Err(ScimError::not_found("Group", id)),
            Some(Read::Unavailable) | None => {}
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        self.load_group(&mut conn, ctx.tenant(), id)
            .await?
            .map(|(g, _)| g)
            .ok_or_else(|| ScimError::not_found("Group", id))
    }

    async fn replace_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        group: Group,
        expected: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        let tenant = ctx.tenant();
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some((current, version)) = self.load_group(&mut tx, tenant, id).await? else {
            return Err(ScimError::not_found("Group", id));
        };
        check_version(version, expected, "Group", id)?;
        let members = self
            .checked_members(&mut tx, tenant, &group, Some(id))
            .await?;
        let stored = strip_group(group, id);
        let (stamp, ns) = store::now();
        let q = self.update_row(
            GROUPS,
            tenant,
            id,
            version,
            (&stamp, ns),
            group_values(&stored)?,
        );
        let done = q.query().execute(&mut *tx).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(lost_race("Group", id));
        }
        self.write_members(&mut tx, tenant, id, &members).await?;
        tx.commit().await.map_err(db)?;
        let mut view = stored;
        view.members = members;
        let created = current
            .meta
            .and_then(|m| m.created)
            .unwrap_or_else(|| stamp.clone());
        view.meta = Some(meta("Group", version + 1, &created, &stamp));
        Ok(view)
    }

    async fn delete_group(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected: Option<&ETag>,
    ) -> Result<(), ScimError> {
        let tenant = ctx.tenant();
        let mut tx = self.pool.begin().await.map_err(db)?;
        self.delete_row(&mut tx, GROUPS, tenant, id, expected)
            .await?;
        self.write_members(&mut tx, tenant, id, &[]).await?;
        self.drop_member_everywhere(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db)
    }

    async fn scan_groups(
        &self,
        ctx: &RequestContext,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Group>, ScimError> {
        let rows = self.scan_rows(GROUPS, ctx.tenant(), offset, limit).await?;
        rows.iter()
            .map(|r| decode_group(r).map(|(g, _)| g))
            .collect()
    }

    async fn search_users(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<User>, ScimError> {
        crate::search::search_users(self, ctx, query).await
    }

    async fn search_groups(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<Page<Group>, ScimError> {
        crate::search::search_groups(self, ctx, query).await
    }
}
