//! `KeycloakSource` against a simulator of Keycloak's admin REST API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scim_core::provision::conformance::block_on;
use scim_core::provision::{InMemoryProvisioner, Provisioner, RequestContext};
use scim_core::{HttpClient, HttpError};
use scim_sync::{DirectorySource, KeycloakSource, Reconciler};
use serde_json::{Value, json};

#[derive(Default)]
struct State {
    /// id, username, email, enabled
    users: Vec<(String, String, String, bool)>,
    /// id, name, member ids
    groups: Vec<(String, String, Vec<String>)>,
    /// Subgroups: id, name, member ids, parent id.
    subgroups: Vec<(String, String, Vec<String>, String)>,
    /// Send the subgroup tree inside the group listing (Keycloak before 23) rather than
    /// counting subgroups and serving `/groups/{id}/children` (Keycloak 23 on).
    inline_subgroups: bool,
    tokens: Vec<String>,
    token_requests: usize,
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
struct KeycloakSim(Mutex<State>);

fn reply(status: u16, body: &Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap()
}

fn window<T: Clone>(items: &[T], q: &HashMap<String, String>) -> Vec<T> {
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

fn sim(users: usize) -> Arc<KeycloakSim> {
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

fn source(sim: &Arc<KeycloakSim>, secret: &str) -> KeycloakSource {
    KeycloakSource::new(sim.clone(), "https://sso.test/", "corp", "sync", secret).with_page_size(2)
}

#[test]
fn keycloak_realm_syncs_and_converges() {
    let sim = sim(7);
    let kc = source(&sim, "s3cret&=");
    assert!(!format!("{kc:?}").contains("s3cret"));
    let target = InMemoryProvisioner::new();
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new();

    let plan = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    assert_eq!(plan.summary().create_users, 7, "{plan}");
    assert_eq!(plan.summary().create_groups, 3, "{plan}");
    block_on(plan.apply(&target, &ctx)).unwrap();
    assert_eq!(
        sim.0.lock().unwrap().token_requests,
        1,
        "the token is reused"
    );

    let users = block_on(target.scan_users(&ctx, 0, 100)).unwrap();
    let w3 = users.iter().find(|u| u.user_name == "worker3").unwrap();
    assert_eq!(w3.active, Some(false));
    assert_eq!(w3.external_id.as_deref(), Some("kc-3"));
    assert_eq!(w3.primary_email(), Some("worker3@example.com"));
    let groups = block_on(target.scan_groups(&ctx, 0, 100)).unwrap();
    let everyone = groups
        .iter()
        .find(|g| g.display_name == "everyone")
        .unwrap();
    assert_eq!(everyone.members.len(), 7);
    assert_eq!(everyone.external_id.as_deref(), Some("g2"));

    let again = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    assert!(again.is_empty(), "{again}");

    // The token expires: one new token, and the sync goes on.
    sim.0.lock().unwrap().tokens.clear();
    let (users, _) = block_on(kc.users_page(None)).unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(sim.0.lock().unwrap().token_requests, 2);

    // Drift at Keycloak: worker1 leaves devs, worker5 is deleted.
    {
        let mut s = sim.0.lock().unwrap();
        s.groups[0].2.retain(|id| id != "kc-1");
        s.users.retain(|u| u.0 != "kc-5");
        s.groups[1].2.retain(|id| id != "kc-5");
    }
    let fix = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
    let s = fix.summary();
    assert_eq!((s.remove_members, s.deactivate_users), (2, 1), "{fix}");
    // 1 of 7 is above 10%: this run needs the administrator's word.
    assert!(block_on(fix.apply(&target, &ctx)).is_err());
    let report = block_on(fix.apply_forced(&target, &ctx));
    assert_eq!(report.failed, 0, "{report}");
    assert!(
        block_on(reconciler.plan(&kc, &target, &ctx))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn wrong_client_secret_is_a_clear_error() {
    let sim = sim(1);
    let err = block_on(source(&sim, "wrong").users_page(None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token request refused with status 401"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "{err}");
}

/// devs (g1) has subgroups web (kc-4, kc-5) and ops (kc-6), web has api (kc-0, kc-6); everyone
/// (g2) has a subgroup also named ops (kc-1).
fn with_subgroups(inline: bool) -> Arc<KeycloakSim> {
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

fn member_names(target: &InMemoryProvisioner, ctx: &RequestContext, group: &str) -> Vec<String> {
    let users = block_on(target.scan_users(ctx, 0, 100)).unwrap();
    let groups = block_on(target.scan_groups(ctx, 0, 100)).unwrap();
    let g = groups
        .iter()
        .find(|g| g.display_name == group)
        .unwrap_or_else(|| panic!("no group {group}"));
    let mut names: Vec<String> = g
        .members
        .iter()
        .map(|m| {
            users
                .iter()
                .find(|u| u.id == m.value)
                .unwrap()
                .user_name
                .clone()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn subgroups_nested_or_served_as_children_sync_with_their_members_counted_upwards() {
    for inline in [true, false] {
        let sim = with_subgroups(inline);
        let kc = source(&sim, "s3cret&=");
        let target = InMemoryProvisioner::new();
        let ctx = RequestContext::new("acme");
        let reconciler = Reconciler::new();
        let plan = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        assert_eq!(plan.summary().create_groups, 7, "inline {inline}: {plan}");
        block_on(plan.apply(&target, &ctx)).unwrap();
        assert_eq!(
            member_names(&target, &ctx, "devs/web/api"),
            ["worker0", "worker6"]
        );
        assert_eq!(
            member_names(&target, &ctx, "devs/web"),
            ["worker0", "worker4", "worker5", "worker6"]
        );
        assert_eq!(member_names(&target, &ctx, "devs/ops"), ["worker6"]);
        assert_eq!(member_names(&target, &ctx, "everyone/ops"), ["worker1"]);
        // devs: its own four and those of every subgroup below it.
        assert_eq!(
            member_names(&target, &ctx, "devs"),
            [
                "worker0", "worker1", "worker2", "worker3", "worker4", "worker5", "worker6"
            ]
        );
        let again = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        assert!(again.is_empty(), "inline {inline}: {again}");

        // A member leaves a deep subgroup: the subgroup and its ancestors lose it where it
        // was there only through that subgroup.
        sim.0.lock().unwrap().subgroups[2]
            .2
            .retain(|id| id != "kc-6");
        let fix = block_on(reconciler.plan(&kc, &target, &ctx)).unwrap();
        // api and web lose worker6 (web had it only through api); devs keeps it through ops.
        assert_eq!(fix.summary().remove_members, 2, "inline {inline}: {fix}");
        block_on(fix.apply(&target, &ctx)).unwrap();
        assert_eq!(member_names(&target, &ctx, "devs/web/api"), ["worker0"]);
        assert_eq!(
            member_names(&target, &ctx, "devs/web"),
            ["worker0", "worker4", "worker5"]
        );
        assert!(member_names(&target, &ctx, "devs").contains(&"worker6".to_owned()));
    }
}

#[test]
fn a_keycloak_realm_with_subgroups_syncs_into_jira_and_a_second_run_writes_nothing() {
    use scim_atlassian::simulator::JiraSimulator;
    use scim_atlassian::{AtlassianProvisioner, Credentials};

    let sim = with_subgroups(false);
    let kc = source(&sim, "s3cret&=");
    let credentials = Credentials::bearer("pat");
    let jira_sim = Arc::new(JiraSimulator::new(credentials.clone()));
    let jira = AtlassianProvisioner::jira("https://jira.test", credentials)
        .client(jira_sim.clone())
        .build()
        .unwrap();
    let ctx = RequestContext::new("acme");
    let reconciler = Reconciler::new();
    let plan = block_on(reconciler.plan(&kc, &jira, &ctx)).unwrap();
    let report = block_on(plan.apply(&jira, &ctx)).unwrap();
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(jira_sim.user_count(), 7);
    assert!(!jira_sim.user("worker3").unwrap().active);
    assert_eq!(
        jira_sim.group_members("devs/web/api").unwrap(),
        ["worker0", "worker6"]
    );
    assert_eq!(jira_sim.group_members("everyone/ops").unwrap(), ["worker1"]);

    jira_sim.reset_calls();
    let again = block_on(reconciler.plan(&kc, &jira, &ctx)).unwrap();
    assert!(again.is_empty(), "{again}");
    assert_eq!(jira_sim.write_calls(), 0, "{:?}", jira_sim.call_counts());
}
