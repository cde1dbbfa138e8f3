//! [`KeycloakSource`]: Keycloak's admin REST API, with a client-credentials token.

use std::collections::HashSet;
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
/// are the realm's groups, `id` -> `externalId`; a top-level group's `displayName` is its
/// `name`, a subgroup's its path below the top (`eng/web` for Keycloak's `/eng/web`), so
/// same-named subgroups of different parents stay apart. Members are a group's own members and
/// those of its subgroups, at any depth: a member of a subgroup has what the parent grants in
/// Keycloak (its roles are inherited), and targets such as Jira have no nested groups to say
/// so. Subgroups come nested in the group listing (Keycloak before 23) or are read from
/// `/groups/{id}/children` (Keycloak 23 on, which only counts them in the listing).
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
#[serde(rename_all = "camelCase")]
struct KcGroup {
    id: String,
    name: String,
    /// The whole subtree, as Keycloak before 23 sends it; empty from 23 on, which sends
    /// `subGroupCount` and serves the children at `/groups/{id}/children`.
    #[serde(default)]
    sub_groups: Vec<KcGroup>,
    #[serde(default)]
    sub_group_count: Option<u64>,
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

    /// Every page of `path` (`first`/`max` paging; `path` may have a query of its own).
    async fn all_pages<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, SyncError> {
        let max = self.page_size;
        let join = if path.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        loop {
            let at = all.len();
            let page: Vec<T> = self
                .get(&format!("{path}{join}first={at}&max={max}"))
                .await?;
            let got = page.len();
            all.extend(page);
            if got < max {
                return Ok(all);
            }
        }
    }

    /// The SCIM groups of the Keycloak group `top` and its subgroups, members of subgroups
    /// counted in every ancestor.
    async fn tree(&self, top: KcGroup) -> Result<Vec<Group>, SyncError> {
        // Depth first; a parent always comes before its children in `nodes`.
        let mut nodes: Vec<(Group, Option<usize>)> = Vec::new();
        let mut stack: Vec<(KcGroup, Option<usize>, String)> = vec![(top, None, String::new())];
        while let Some((mut kc, parent, above)) = stack.pop() {
            let path = if above.is_empty() {
                kc.name.clone()
            } else {
                format!("{above}/{}", kc.name)
            };
            let mut children = std::mem::take(&mut kc.sub_groups);
            if children.is_empty() && kc.sub_group_count.unwrap_or(0) > 0 {
                children = self
                    .all_pages(&format!("groups/{}/children", encode(&kc.id)))
                    .await?;
            }
            let members: Vec<KcMember> = self
                .all_pages(&format!(
                    "groups/{}/members?briefRepresentation=true",
                    encode(&kc.id)
                ))
                .await?;
            let mut group = Group::new(path.clone());
            group.external_id = Some(kc.id);
            group.members = members.into_iter().map(|m| Member::new(m.id)).collect();
            let at = nodes.len();
            nodes.push((group, parent));
            stack.extend(
                children
                    .into_iter()
                    .rev()
                    .map(|c| (c, Some(at), path.clone())),
            );
        }
        // Children after parents: walking backwards hands each group's (by then complete)
        // members up to its parent.
        for i in (0..nodes.len()).rev() {
            let (members, parent) = match nodes.get(i) {
                Some((g, Some(p))) => (g.members.clone(), *p),
                _ => continue,
            };
            if let Some((up, _)) = nodes.get_mut(parent) {
                let mut have: HashSet<Option<String>> =
                    up.members.iter().map(|m| m.value.clone()).collect();
                up.members
                    .extend(members.into_iter().filter(|m| have.insert(m.value.clone())));
            }
        }
        Ok(nodes.into_iter().map(|(g, _)| g).collect())
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
        for top in groups {
            out.extend(self.tree(top).await?);
        }
        Ok((out, next))
    }
}
