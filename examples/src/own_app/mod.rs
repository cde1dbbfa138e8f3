//! "Add SCIM to your own app" (README): an application that already exists, with its own
//! SQLite tables of users and teams and its own axum routes, and what provisioning them over
//! SCIM takes: [`scim::AppDirectory`] (the app's tables as a `DocumentStore`) and one route
//! ([`with_scim`]). Run it with `cargo run -p scim-examples --bin own-app -- --token TOKEN`.
//!
//! Everything in this file is the application as it was before SCIM, except [`SCIM_SCHEMA`]
//! and [`with_scim`].

pub mod scim;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::routing::get;
use scim_core::provision::DocumentProvisioner;
use scim_core::{BearerTokens, ScimService};
use serde_json::{Value, json};
use sqlx::Row as _;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

/// The application's tables. Each row belongs to an organisation (`org`): the app's customers,
/// and SCIM's tenants.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    org TEXT NOT NULL,
    login TEXT NOT NULL,
    display_name TEXT,
    email TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org, login COLLATE NOCASE)
);
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS team_members (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
";

/// What SCIM adds to the schema: per row, the SCIM document it was last written with, a
/// version and timestamps; and one view per resource type giving each row's SCIM document.
pub const SCIM_SCHEMA: &str = r#"
ALTER TABLE users ADD COLUMN scim TEXT;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN created TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z';
ALTER TABLE users ADD COLUMN updated TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z';
ALTER TABLE teams ADD COLUMN scim TEXT;
ALTER TABLE teams ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE teams ADD COLUMN created TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z';
ALTER TABLE teams ADD COLUMN updated TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z';
CREATE VIEW scim_users AS SELECT org, id, json_set(
    -- A user the app made itself has no SCIM document yet: one is made from its columns.
    coalesce(scim, json_object('userName', login, 'displayName', display_name,
        'active', json(iif(active, 'true', 'false')), 'emails', iif(email IS NULL, json('[]'),
        json_array(json_object('value', email, 'primary', json('true')))))),
    '$.id', CAST(id AS TEXT),
    '$.meta', json_object('resourceType', 'User', 'created', created, 'lastModified', updated,
        'version', 'W/"' || version || '"'),
    '$.groups', json((SELECT json_group_array(json_object('value', CAST(t.id AS TEXT), 'display', t.name))
        FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id = users.id))
) AS doc FROM users;
CREATE VIEW scim_teams AS SELECT org, id, json_set(
    coalesce(scim, json_object('displayName', name)),
    '$.id', CAST(id AS TEXT),
    '$.meta', json_object('resourceType', 'Group', 'created', created, 'lastModified', updated,
        'version', 'W/"' || version || '"'),
    '$.members', json((SELECT json_group_array(json_object('value', CAST(user_id AS TEXT)))
        FROM team_members WHERE team_id = teams.id))
) AS doc FROM teams;
"#;
/// Opens (creating if needed) the app's database: `sqlite://PATH` or `sqlite::memory:`.
pub async fn open(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let options = url
        .parse::<SqliteConnectOptions>()?
        .create_if_missing(true)
        .foreign_keys(true);
    // One connection for an in-memory database: each connection would have its own.
    let max = if url.contains(":memory:") { 1 } else { 4 };
    let pool = sqlx::pool::PoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    // Once per database: the app's tables as they were, then what SCIM adds.
    let has_scim = sqlx::query("SELECT 1 FROM sqlite_master WHERE name = 'scim_users'");
    if has_scim.fetch_optional(&pool).await?.is_none() {
        sqlx::raw_sql(SCIM_SCHEMA).execute(&pool).await?;
    }
    Ok(pool)
}

/// The app's own routes: `GET /api/users?org=ORG` lists an organisation's users as the app
/// stores them.
pub fn app(pool: SqlitePool) -> Router {
    Router::new()
        .route("/api/users", get(list_users))
        .with_state(pool)
}

async fn list_users(
    State(pool): State<SqlitePool>,
    query: axum::extract::RawQuery,
) -> Result<([(HeaderName, &'static str); 1], String), StatusCode> {
    let org = crate::glue::query_param(query.0.as_deref(), "org").unwrap_or_default();
    let rows = sqlx::query(
        "SELECT login, display_name, email, active FROM users WHERE org = ? ORDER BY id",
    )
    .bind(org)
    .fetch_all(&pool)
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "login": r.get::<String, _>("login"),
                "displayName": r.get::<Option<String>, _>("display_name"),
                "email": r.get::<Option<String>, _>("email"),
                "active": r.get::<bool, _>("active"),
            })
        })
        .collect();
    let json = Value::Array(users).to_string();
    Ok(([(CONTENT_TYPE, "application/json")], json))
}

/// The app with SCIM added: identity providers provision the organisation `org` with `token`
/// at `/scim/v2`, next to the app's own routes.
pub fn with_scim(pool: SqlitePool, token: &str, org: &str) -> Router {
    let directory = DocumentProvisioner::new(scim::AppDirectory(pool.clone()));
    let scim = ScimService::builder(Arc::new(directory))
        .authenticator(Arc::new(BearerTokens::new().with_token(token, org)))
        .build();
    app(pool).route_service("/scim/{*path}", scim.into_service())
}
