//! [`KeycloakSource`]: Keycloak's admin REST API, with a client-credentials token.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use scim_core::{Group, HttpClient, Member, MultiValue, Name, User};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Cursor, DirectorySource, SourcePage};
use crate::SyncError;

/// How many users or groups a [`KeycloakSource`] asks for per page by default.
const KEYCLOAK_PAGE: usize = 100;

/// A Keycloak realm as a source, read through the admin REST API
/// (`/admin/realms/{realm}/users`, `/groups`, `/groups/{id}/members`, paged with `first`/`max`).
///
/// It authenticates as a confidential client with the client-credentials grant (the client's
/// service account needs the `view-users` role of `realm-management`), keeps the token, and
/// fetches a new one once when a request is refused with 401.
///
/// Users map to SCIM as `username` -> `userName`, Keycloak's `id` -> `id` and `externalId`,
/// `firstName`/`lastName` -> `name`, `email` -> the primary email, `enabled` -> `active`. Groups
/// are the realm's top-level groups, `name` -> `displayName`, `id` -> `externalId`, with their
/// direct members.
#[derive(Clone)]
pub struct KeycloakSource {
    client: Arc<dyn HttpClient>,
    base_url: String,
    realm: String,
    client_id: String,
    client_secret: String,
    page_size: usize,
    token: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for KeycloakSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakSource")
            .field("base_url", &self.base_url)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KcUser {
    id: String,
    username: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
struct KcGroup {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct KcMember {
    id: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

impl From<KcUser> for User {
    fn from(kc: KcUser) -> User {
        let mut user = User::new(kc.username);
        user.id = Some(kc.id.clone());
        user.external_id = Some(kc.id);
        if kc.first_name.is_some() || kc.last_name.is_some() {
            user.name = Some(Name {
                given_name: kc.first_name,
                family_name: kc.last_name,
                ..Name::default()
            });
        }
        if let Some(email) = kc.email {
            let mut value = MultiValue::new(email);
            value.primary = Some(true);
            user.emails = vec![value];
        }
        user.active = Some(kc.enabled.unwrap_or(true));
        user
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl KeycloakSource {
    /// The realm `realm` of the Keycloak at `base_url` (e.g. `https://sso.example.com`, or with
    /// the `/auth` prefix of older versions), as the confidential client `client_id`.
    pub fn new(
        client: Arc<dyn HttpClient>,
        base_url: impl Into<String>,
        realm: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        KeycloakSource {
            client,
            base_url,
            realm: realm.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            page_size: KEYCLOAK_PAGE,
            token: Arc::new(Mutex::new(None)),
        }
    }

    /// Asks for `max` users or groups per page (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, max: usize) -> Self {
        self.page_size = max.max(1);
        self
    }

    fn cached_token(&self) -> Option<String> {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store_token(&self, token: Option<String>) {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = token;
    }

    async fn fetch_token(&self) -> Result<String, SyncError> {
        let url = format!(
            "{}/realms/{}/protocol/openid-connect/token",
            self.base_url,
            encode(&self.realm)
        );
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            encode(&self.client_id),
            encode(&self.client_secret)
        );
        let request = http::Request::post(&url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.into_bytes())
            .map_err(|e| SyncError::Source {
                url: url.clone(),
                message: format!("cannot build the request: {e}"),
            })?;
        let response = self.client.send(request).await?;
        if !response.status().is_success() {
            return Err(SyncError::Source {
                url,
                message: format!(
                    "token request refused with status {} (check the client id and secret)",
                    response.status()
                ),
            });
        }
        let token: TokenResponse =
            serde_json::from_slice(response.body()).map_err(|e| SyncError::Source {
                url: url.clone(),
                message: format!("not a token response: {e}"),
            })?;
        self.store_token(Some(token.access_token.clone()));
        Ok(token.access_token)
    }

    /// GETs `path` (under the realm's admin URL) with the token, fetching a new token once on
    /// 401 (the old one expired).
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        let url = format!(
            "{}/admin/realms/{}/{path}",
            self.base_url,
            encode(&self.realm)
        );
        for attempt in 0..2 {
            let token = match self.cached_token() {
                Some(t) if attempt == 0 => t,
                _ => self.fetch_token().await?,
            };
            let request = http::Request::get(&url)
                .header(http::header::ACCEPT, "application/json")
                .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Vec::new())
                .map_err(|e| SyncError::Source {
                    url: url.clone(),
                    message: format!("cannot build the request: {e}"),
                })?;
            let response = self.client.send(request).await?;
            let status = response.status();
            if status == http::StatusCode::UNAUTHORIZED && attempt == 0 {
                self.store_token(None);
                continue;
            }
            if !status.is_success() {
                return Err(SyncError::Source {
                    url,
                    message: format!("status {status}"),
                });
            }
            return serde_json::from_slice(response.body()).map_err(|e| SyncError::Source {
                url,
                message: format!("unexpected body: {e}"),
            });
        }
        Err(SyncError::Source {
            url,
            message: "status 401 with a fresh token (does the client have view-users?)".into(),
        })
    }

    fn offset(cursor: Option<&Cursor>) -> Result<usize, SyncError> {
        cursor.map_or(Ok(0), |c| {
            c.as_str().parse().map_err(|_| SyncError::Source {
                url: String::new(),
                message: format!("not a Keycloak cursor: `{}`", c.as_str()),
            })
        })
    }

    fn next(first: usize, got: usize, max: usize) -> Option<Cursor> {
        (got >= max).then(|| Cursor::new(first.saturating_add(got).to_string()))
    }
}

#[async_trait]
impl DirectorySource for KeycloakSource {
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError> {
        let first = Self::offset(cursor.as_ref())?;
        let max = self.page_size;
        let users: Vec<KcUser> = self
            .get(&format!(
                "users?first={first}&max={max}&briefRepresentation=false"
            ))
            .await?;
        let next = Self::next(first, users.len(), max);
        Ok((users.into_iter().map(User::from).collect(), next))
    }

    async fn groups_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<Group>, SyncError> {
        let first = Self::offset(cursor.as_ref())?;
        let max = self.page_size;
        let groups: Vec<KcGroup> = self.get(&format!("groups?first={first}&max={max}")).await?;
        let next = Self::next(first, groups.len(), max);
        let mut out = Vec::with_capacity(groups.len());
        for kc in groups {
            let mut group = Group::new(kc.name);
            group.external_id = Some(kc.id.clone());
            let mut at: usize = 0;
            loop {
                let members: Vec<KcMember> = self
                    .get(&format!(
                        "groups/{}/members?first={at}&max={max}&briefRepresentation=true",
                        encode(&kc.id)
                    ))
                    .await?;
                let got = members.len();
                group
                    .members
                    .extend(members.into_iter().map(|m| Member::new(m.id)));
                if got < max {
                    break;
                }
                at = at.saturating_add(got);
            }
            out.push(group);
        }
        Ok((out, next))
    }
}
