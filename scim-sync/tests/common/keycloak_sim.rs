//! A Keycloak admin REST API simulator, for `KeycloakSource` tests (here and in the examples'
//! sync-into-Jira tests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scim_core::{HttpClient, HttpError};
use scim_sync::KeycloakSource;
use serde_json::{Value, json};

#[derive(Default)]
pub struct State {
    /// id, username, email, enabled
    pub users: Vec<(String, String, String, bool)>,
    /// id, name, member ids
    pub groups: Vec<(String, String, Vec<String>)>,
    /// Subgroups: id, name, member ids, parent id.
    pub subgroups: Vec<(String, String, Vec<String>, String)>,
    /// Send the subgroup tree inside the group listing (Keycloak before 23) rather than
    /// counting subgroups and serving `/groups/{id}/children` (Keycloak 23 on).
    pub inline_subgroups: bool,
    pub tokens: Vec<String>,
    pub token_requests: usize,
}

impl State {
    fn children(&self, parent: &str) -> Vec<(String, String)> {
        self.subgroups
            .iter()
            .filter(|g| g.3 == parent)
            .map(|g| (g.0.clone(), g.1.clone()))
            .collect()
    }

    /// A group's representation: its subtree inline, or only counted.
    fn group_json(&self, id: &str, name: &str, path: &str) -> Value {
        let children = self.children(id);
        let sub: Vec<Value> = if self.inline_subgroups {
            children
                .iter()
                .map(|(cid, cname)| self.group_json(cid, cname, &format!("{path}/{cname}")))
                .collect()
        } else {
            Vec::new()
        };
        json!({"id": id, "name": name, "path": path, "subGroupCount": children.len(), "subGroups": sub})
    }
}

/// The parts of Keycloak's admin API a sync reads, for realm `corp` and client `sync`.
#[derive(Default)]
pub struct KeycloakSim(pub Mutex<State>);

pub fn reply(status: u16, body: &Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap()
}

pub fn window<T: Clone>(items: &[T], q: &HashMap<String, String>) -> Vec<T> {
    let first: usize = q.get("first").map_or(0, |v| v.parse().unwrap());
    let max: usize = q.get("max").map_or(100, |v| v.parse().unwrap());
    items.iter().skip(first).take(max).cloned().collect()
}

#[async_trait]
impl HttpClient for KeycloakSim {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let mut s = self.0.lock().unwrap();
        let path = request.uri().path().to_owned();
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        if path == "/realms/corp/protocol/openid-connect/token" {
            let form: HashMap<String, String> = url::form_urlencoded::parse(request.body())
                .into_owned()
                .collect();
            s.token_requests += 1;
            let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                && form.get("client_id").map(String::as_str) == Some("sync")
                && form.get("client_secret").map(String::as_str) == Some("s3cret&=");
            if !ok {
                return Ok(reply(401, &json!({"error": "unauthorized_client"})));
            }
            let token = format!("tok-{}", s.token_requests);
            s.tokens.push(token.clone());
            return Ok(reply(
                200,
                &json!({"access_token": token, "expires_in": 300, "token_type": "Bearer"}),
            ));
        }
        let auth = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        if !auth.is_some_and(|t| s.tokens.contains(&t)) {
            return Ok(reply(401, &json!({"error": "HTTP 401 Unauthorized"})));
        }
        let Some(rest) = path.strip_prefix("/admin/realms/corp/") else {
            return Ok(reply(404, &json!({"error": "not found"})));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let body = match parts.as_slice() {
            ["users"] => json!(
                window(&s.users, &query)
                    .into_iter()
                    .map(|(id, name, email, enabled)| json!({
                        "id": id, "username": name, "email": email, "enabled": enabled,
                        "firstName": "First", "lastName": name.to_uppercase(),
                        "emailVerified": true, "createdTimestamp": 1
                    }))
                    .collect::<Vec<_>>()
            ),
            ["groups"] => json!(
                window(&s.groups, &query)
                    .into_iter()
                    .map(|(id, name, _)| s.group_json(&id, &name, &format!("/{name}")))
                    .collect::<Vec<_>>()
            ),
            ["groups", id, "children"] if !s.inline_subgroups => json!(
                window(&s.children(id), &query)
                    .into_iter()
                    // Paths are not checked by the source; any will do.
                    .map(|(cid, cname)| s.group_json(&cid, &cname, "/x"))
                    .collect::<Vec<_>>()
            ),
            ["groups", id, "members"] => {
                let members = s
                    .groups
                    .iter()
                    .find(|g| g.0 == *id)
                    .map(|g| &g.2)
                    .or_else(|| s.subgroups.iter().find(|g| g.0 == *id).map(|g| &g.2));
                let Some(members) = members else {
                    return Ok(reply(404, &json!({"error": "Could not find group by id"})));
                };
                json!(
                    window(members, &query)
                        .into_iter()
                        .map(|id| json!({"id": id, "username": "ignored"}))
                        .collect::<Vec<_>>()
                )
            }
            _ => return Ok(reply(404, &json!({"error": "not found"}))),
        };
        Ok(reply(200, &body))
    }
}

pub fn sim(users: usize) -> Arc<KeycloakSim> {
    let sim = KeycloakSim::default();
    {
        let mut s = sim.0.lock().unwrap();
        for i in 0..users {
            s.users.push((
                format!("kc-{i}"),
                format!("worker{i}"),
                format!("worker{i}@example.com"),
                i != 3,
            ));
        }
        let all: Vec<String> = (0..users).map(|i| format!("kc-{i}")).collect();
        s.groups.push((
            "g1".into(),
            "devs".into(),
            all.iter().take(4).cloned().collect(),
        ));
        s.groups.push(("g2".into(), "everyone".into(), all));
        s.groups.push(("g3".into(), "empty".into(), Vec::new()));
    }
    Arc::new(sim)
}

pub fn source(sim: &Arc<KeycloakSim>, secret: &str) -> KeycloakSource {
    KeycloakSource::new(sim.clone(), "https://sso.test/", "corp", "sync", secret).with_page_size(2)
}

/// devs (g1) has subgroups web (kc-4, kc-5) and ops (kc-6), web has api (kc-0, kc-6); everyone
/// (g2) has a subgroup also named ops (kc-1).
pub fn with_subgroups(inline: bool) -> Arc<KeycloakSim> {
    let sim = sim(7);
    {
        let mut s = sim.0.lock().unwrap();
        s.inline_subgroups = inline;
        for (id, name, members, parent) in [
            ("s1", "web", vec!["kc-4", "kc-5"], "g1"),
            ("s2", "ops", vec!["kc-6"], "g1"),
            ("s3", "api", vec!["kc-0", "kc-6"], "s1"),
            ("s4", "ops", vec!["kc-1"], "g2"),
        ] {
            s.subgroups.push((
                id.into(),
                name.into(),
                members.into_iter().map(str::to_owned).collect(),
                parent.into(),
            ));
        }
    }
    sim
}
