//! Recorded Entra ID (Azure AD) and Okta traffic (`scim-core/tests/data/idp-traffic`, from
//! elimity-com/scim's identity provider tests) replayed over real HTTP against the `scim-server`
//! binary, with reqwest as the client: every recorded request is sent in the order an identity
//! provider would send it (look up, create, read, update), with the recorded ids replaced by the
//! ids our server assigned, after creating what a recording assumes exists (a member user, the
//! resource a GET reads). The status must be the recorded one and the key fields of the body the
//! recorded ones (never generated ids, timestamps or locations); where our server rightly differs
//! from the recording, the comment says why and our behaviour is asserted.
//!
//! `scim-core/tests/service_idp_traffic.rs` replays the same traffic in process; this file proves
//! the same holds through axum, hyper and a real client (headers, status lines, bodies on the
//! wire).

// Test helpers panic on purpose: a panic is the failure report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

mod common;

use std::process::Command;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "idp-traffic-token";

fn recording(name: &str) -> Value {
    let path = format!(
        "{}/../scim-core/tests/data/idp-traffic/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// What the server answered.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    etag: Option<String>,
    content_type: Option<String>,
    body: Value,
}

impl Reply {
    fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

/// A started `scim-server` and a reqwest client for it (keep-alive, like an identity provider).
struct Idp {
    server: common::Server,
    http: reqwest::Client,
    base: String,
}

impl Idp {
    fn start() -> Idp {
        let db = common::temp_db();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-server"));
        cmd.args(["--token", TOKEN, "--db", db.url()])
            .env_remove("SCIM_TOKEN");
        let server = common::Server::start(cmd).keep(db);
        let base = format!("http://{}/scim/v2", server.addr);
        Idp {
            server,
            http: reqwest::Client::new(),
            base,
        }
    }

    /// `method` on `/scim/v2{path}` with the bearer token and `body` as `application/scim+json`.
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (location, etag, content_type) = (header(LOCATION), header(ETAG), header(CONTENT_TYPE));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Reply {
            status,
            location,
            etag,
            content_type,
            body,
        }
    }

    /// POSTs `resource` to `/scim/v2/{endpoint}`, expecting 201; returns the new id.
    async fn create(&self, endpoint: &str, resource: &Value) -> String {
        let r = self
            .send(Method::POST, &format!("/{endpoint}"), Some(resource))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.id()
    }

    /// Creates the resource a recording's response shows (without what the server generates),
    /// so that a recorded GET has something to read; returns the new id.
    async fn seed(&self, endpoint: &str, recorded: &Value) -> String {
        let mut body = recorded.clone();
        let obj = body.as_object_mut().unwrap();
        obj.remove("id");
        obj.remove("meta");
        // Written as `null` by the recorded server for empty attributes; not something to send.
        obj.retain(|_, v| !v.is_null());
        self.create(endpoint, &body).await
    }

    /// Replays `rec` with the recorded ids replaced (`ids`: recorded -> ours) in its path and
    /// body, and asserts the recorded status and SCIM's content type.
    async fn replay(&self, rec: &Value, ids: &[(&str, &str)]) -> Reply {
        let mut path = rec["path"].as_str().unwrap().to_owned();
        let mut body = rec.get("request").map(ToString::to_string);
        for (from, to) in ids {
            path = path.replace(from, to);
            body = body.map(|b| b.replace(from, to));
        }
        let method: Method = rec["method"].as_str().unwrap().parse().unwrap();
        let body: Option<Value> = body.map(|b| serde_json::from_str(&b).unwrap());
        let r = self.send(method, &path, body.as_ref()).await;
        assert_eq!(
            u64::from(r.status.as_u16()),
            rec["statusCode"].as_u64().unwrap(),
            "{} {}: {}",
            rec["method"],
            rec["path"],
            r.body
        );
        assert!(
            r.content_type
                .as_deref()
                .unwrap()
                .starts_with("application/scim+json"),
            "{:?}",
            r.content_type
        );
        r
    }

    /// A created resource's `Location` header and `meta.location` are the absolute URL of the
    /// resource on this server. The recordings hold relative ones (`Users/<id>`); RFC 7644 §3.1
    /// asks for the URI of the resource, which our server builds from the `Host` header.
    fn check_created(&self, r: &Reply, endpoint: &str) {
        let want = format!("{}/{endpoint}/{}", self.base, r.id());
        assert_eq!(r.location.as_deref(), Some(want.as_str()));
        assert_eq!(r.body["meta"]["location"], want.as_str());
        assert!(r.etag.is_some(), "a created resource has an ETag");
    }

    fn stop(self) {
        let (clean, log) = self.server.stop();
        assert!(clean, "graceful shutdown exits 0; log:\n{log}");
        assert!(!log.contains(TOKEN), "the token is never logged");
    }
}

/// The recorded response's values for `fields` (dotted paths) equal ours.
#[track_caller]
fn same(ours: &Value, recorded: &Value, fields: &[&str]) {
    for f in fields {
        let pointer = format!("/{}", f.replace('.', "/"));
        assert_eq!(
            ours.pointer(&pointer),
            recorded.pointer(&pointer),
            "{f}: ours {ours}\nrecorded {recorded}"
        );
    }
}

/// The `value`s of a group's `members`, sorted.
fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

/// Entra ID's provisioning session: look a user up, create, read, query and update users, then
/// create, read, query and update a group with a member added and removed.
#[tokio::test]
async fn entra_id_session_over_http() {
    let idp = Idp::start();

    // Entra asks whether the user exists before creating it.
    let rec = recording("azuread__get_user_query_0");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    // Recorded as `"Resources": null`; RFC 7644 §3.4.2 makes `Resources` a multi-valued
    // attribute, and our server sends an empty list, which Entra accepts.
    assert_eq!(r.body["Resources"], json!([]));

    let rec = recording("azuread__create_user");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            "meta.resourceType",
        ],
    );
    idp.check_created(&r, "Users");
    // Recorded as `"roles": null`; the request sent an empty list, and an empty multi-valued
    // attribute is unassigned, which RFC 7643 §2.5 says a server leaves out of the response.
    assert!(r.body.get("roles").is_none(), "{}", r.body);
    let created_user = r.id();

    // The recorded GET reads a user Entra created earlier: create it, then read it back.
    let rec = recording("azuread__get_user_resp");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let id = idp.seed("Users", &rec["response"]).await;
    let r = idp.replay(&rec, &[(recorded_id, &id)]).await;
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            "meta.resourceType",
        ],
    );
    assert_eq!(r.body["id"], id.as_str());
    assert!(r.etag.is_some());

    // The same for the filter query that finds a user by userName.
    let rec = recording("azuread__get_user_query_resp");
    let found = &rec["response"]["Resources"][0];
    let id = idp.seed("Users", found).await;
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    same(
        &r.body["Resources"][0],
        found,
        &[
            "schemas",
            "userName",
            "externalId",
            "name",
            "active",
            "emails",
        ],
    );
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());

    // The PATCH replaces a work email, the family name, userName and active on a user whose
    // earlier state the recording does not hold: create one like it before the change.
    let rec = recording("azuread__update_user");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let id = idp
        .create(
            "Users",
            &json!({
                "schemas": rec["response"]["schemas"],
                "externalId": rec["response"]["externalId"],
                "userName": "before@testuser.com",
                "name": {"formatted": "givenName updatedFamilyName", "givenName": "givenName", "familyName": "familyName"},
                "active": true,
                "emails": [{"value": "before@testuser.com", "type": "work", "primary": true}],
            }),
        )
        .await;
    let r = idp.replay(&rec, &[(recorded_id, &id)]).await;
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
        ],
    );
    let r = idp.send(Method::GET, &format!("/Users/{id}"), None).await;
    same(
        &r.body,
        &rec["response"],
        &["userName", "name", "active", "emails"],
    );

    // Groups: create, then the recorded GET, query and PATCH all go to the group created here.
    // The recordings read three different groups with the same displayName ("displayName");
    // replaying them against one group keeps the displayName query's single result true, and
    // that group's externalId is the one Entra created it with, not the other recordings'.
    let rec = recording("azuread__create_group");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "externalId", "displayName", "meta.resourceType"],
    );
    idp.check_created(&r, "Groups");
    let group = r.id();
    let external_id = rec["request"]["externalId"].clone();

    let rec = recording("azuread__get_group");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let r = idp.replay(&rec, &[(recorded_id, &group)]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "displayName", "meta.resourceType"],
    );
    assert_eq!(r.body["externalId"], external_id);
    assert!(r.body.get("members").is_none(), "no members yet");

    let rec = recording("azuread__get_group_dn");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    same(
        &r.body["Resources"][0],
        &rec["response"]["Resources"][0],
        &["schemas", "displayName"],
    );
    assert_eq!(r.body["Resources"][0]["id"], group.as_str());
    assert_eq!(r.body["Resources"][0]["externalId"], external_id);

    // Rename, add the user created above as a member and remove it again, in one PATCH.
    let rec = recording("azuread__update_group");
    let recorded_id = rec["response"]["id"].as_str().unwrap();
    let recorded_member = rec["request"]["Operations"][1]["value"][0]["value"]
        .as_str()
        .unwrap();
    let r = idp
        .replay(
            &rec,
            &[(recorded_id, &group), (recorded_member, &created_user)],
        )
        .await;
    same(&r.body, &rec["response"], &["schemas", "displayName"]);
    assert_eq!(r.body["externalId"], external_id);
    assert!(
        r.body.get("members").is_none(),
        "added then removed: {}",
        r.body
    );

    idp.stop();
}

/// Okta's provisioning session, one user and one group throughout as Okta recorded it: check
/// existence, create, read, replace (PUT) and deactivate (PATCH) the user; create the group, read
/// it with a member, change its membership and its name.
#[tokio::test]
async fn okta_session_over_http() {
    // The ids Okta's recordings use for them.
    const USER: &str = "23a35c27-23d3-4c03-b4c5-6443c09e7173";
    const OTHER_USER: &str = "89bb1940-b905-4575-9e7f-6f887cfb368e";
    const GROUP: &str = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b";
    const MEMBER_GROUP: &str = "b1c794f24f4c49f4b5d503a4cb2686ea";
    let idp = Idp::start();

    let rec = recording("okta__user_exists");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "totalResults", "startIndex"],
    );
    // Recorded as `null`; see the Entra session: an empty list.
    assert_eq!(r.body["Resources"], json!([]));

    let rec = recording("okta__create_user");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "userName",
            "name",
            "emails",
            "displayName",
            "locale",
            "externalId",
            "active",
            "meta.resourceType",
        ],
    );
    idp.check_created(&r, "Users");
    // The password is writeOnly (RFC 7643 §4.1.1): never returned.
    assert!(r.body.get("password").is_none(), "{}", r.body);
    let user = r.id();
    let created_emails = r.body["emails"].clone();

    // Okta's existence check, now in other case: userName is case-insensitive (RFC 7643 §4.1.1).
    let r = idp
        .send(
            Method::GET,
            "/Users?filter=userName+eq+%22TEST.USER%40okta.local%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], user.as_str());
    // And creating the same user again is a 409 with scimType uniqueness (RFC 7644 §3.3).
    let r = idp
        .send(Method::POST, "/Users", Some(&rec["request"]))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["scimType"], "uniqueness");

    let rec = recording("okta__retrieve_user");
    let r = idp.replay(&rec, &[(USER, &user)]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "userName", "name", "active", "meta.resourceType"],
    );
    assert_eq!(r.body["id"], user.as_str());
    // The recorded server added `display` to the email on its own; ours returns the email as it
    // was created, without inventing a sub-attribute the client never sent.
    assert_eq!(r.body["emails"], created_emails);

    // PUT replaces the user: middleName added, givenName changed, locale and displayName gone.
    let rec = recording("okta__update_user");
    let r = idp.replay(&rec, &[(USER, &user)]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "userName", "name", "emails", "active"],
    );
    assert!(r.body.get("locale").is_none(), "PUT replaces: {}", r.body);

    // PATCH deactivates the user with a path-less replace.
    let rec = recording("okta__update_user_patch");
    let r = idp.replay(&rec, &[(USER, &user)]).await;
    same(
        &r.body,
        &rec["response"],
        &[
            "schemas",
            "userName",
            "active",
            "emails",
            "name.givenName",
            "name.familyName",
        ],
    );
    // The recorded response lost the middleName the PUT before it set; a PATCH of `active` only
    // leaves every other attribute as it was (RFC 7644 §3.5.2), so ours keeps it.
    assert_eq!(r.body["name"]["middleName"], "Excited");
    let r = idp.send(Method::GET, &format!("/Users/{user}"), None).await;
    assert_eq!(r.body["active"], false);

    let rec = recording("okta__create_group");
    let r = idp.replay(&rec, &[]).await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "displayName", "meta.resourceType"],
    );
    idp.check_created(&r, "Groups");
    // Recorded as `"members": null`; an empty list is unassigned and left out (RFC 7643 §2.5).
    assert!(r.body.get("members").is_none(), "{}", r.body);
    let group = r.id();

    // The recorded GET shows a group ("SCIM 2 Group A") as the member: create it and add it
    // with its display, as Okta's membership PATCHes do (see okta__update_group_membership).
    let rec = recording("okta__retrieve_group");
    let member_group = idp
        .create("Groups", &json!({"displayName": "SCIM 2 Group A"}))
        .await;
    let r = idp
        .send(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": member_group, "display": "SCIM 2 Group A"}]}],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = idp
        .replay(&rec, &[(GROUP, &group), (MEMBER_GROUP, &member_group)])
        .await;
    same(
        &r.body,
        &rec["response"],
        &["schemas", "displayName", "meta.resourceType"],
    );
    assert_eq!(r.body["members"][0]["value"], member_group.as_str());
    assert_eq!(r.body["members"][0]["display"], "SCIM 2 Group A");
    assert_eq!(member_ids(&r.body), vec![member_group.clone()]);

    // The membership PATCH removes a second user, adds ours, then replaces the members with
    // both users. The second user must exist and be a member already: removing a member the
    // group does not have is a 400 noTarget (a filter that yields no match, RFC 7644 §3.12),
    // so add it first.
    let rec = recording("okta__update_group_membership");
    let other = idp
        .create(
            "Users",
            &json!({"userName": "other.user@okta.local", "active": true}),
        )
        .await;
    let r = idp
        .send(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": other, "display": "test.user@okta.local"}]}],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = idp
        .replay(
            &rec,
            &[(GROUP, &group), (USER, &user), (OTHER_USER, &other)],
        )
        .await;
    // No response was recorded; the replace leaves exactly the two users.
    let mut want = vec![user.clone(), other.clone()];
    want.sort_unstable();
    assert_eq!(member_ids(&r.body), want, "{}", r.body);

    // Rename with a path-less replace whose value also carries the id.
    let rec = recording("okta__update_group_name");
    let r = idp.replay(&rec, &[(GROUP, &group)]).await;
    same(&r.body, &rec["response"], &["schemas", "meta.resourceType"]);
    // The recorded response says "Test SCIMv20" although the request set "Test SCIMv2": the
    // recording's request and response disagree, and ours holds what was asked for.
    assert_eq!(
        r.body["displayName"],
        rec["request"]["Operations"][0]["value"]["displayName"]
    );
    assert_eq!(r.body["id"], group.as_str());
    assert_eq!(member_ids(&r.body), want, "the rename keeps the members");

    idp.stop();
}

/// The three recorded PATCH bodies (`testdata__patch__*`), applied over HTTP to a created user
/// and group.
#[tokio::test]
async fn recorded_patch_bodies_over_http() {
    let idp = Idp::start();
    let user = idp
        .create("Users", &json!({"userName": "bjensen", "active": true}))
        .await;
    for name in [
        "testdata__patch__add__attributes",
        "testdata__patch__add__complex",
    ] {
        let r = idp
            .send(
                Method::PATCH,
                &format!("/Users/{user}"),
                Some(&recording(name)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
    }
    let r = idp.send(Method::GET, &format!("/Users/{user}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(
        r.body["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"})
    );

    let group = idp.create("Groups", &json!({"displayName": "g"})).await;
    let body = recording("testdata__patch__add__member")
        .to_string()
        .replace("2819c223-7f76-453a-919d-413861904646", &user);
    let r = idp
        .send(
            Method::PATCH,
            &format!("/Groups/{group}"),
            Some(&serde_json::from_str(&body).unwrap()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_ids(&r.body), vec![user.clone()]);
    assert_eq!(r.body["members"][0]["display"], "Babs Jensen");

    idp.stop();
}
