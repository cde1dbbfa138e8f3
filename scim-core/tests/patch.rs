//! PATCH: the quirks corpus of identity providers, Entra ID's reference requests, recorded
//! traffic, the RFC 7644 §3.5.2 examples, every error `scimType`, and atomicity.

// Helpers outside #[test] fns are test code too: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::needless_pass_by_value
)]

use std::collections::BTreeSet;

use serde_json::{Value, json};

use scim_core::patch::{self, OpKind, PatchOp};
use scim_core::schema::SchemaRegistry;
use scim_core::{Group, Resource, ScimError, ScimType, User, urn};

macro_rules! corpus {
    ($p:literal) => {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/", $p)).expect($p)
    };
}

macro_rules! corpus_json {
    ($p:literal) => {
        serde_json::from_str::<Value>(&corpus!($p)).expect($p)
    };
}

fn reg() -> &'static SchemaRegistry {
    SchemaRegistry::builtin()
}

fn res(v: Value) -> Resource {
    serde_json::from_value(v).unwrap()
}

fn json_of(r: &Resource) -> Value {
    serde_json::to_value(r).unwrap()
}

fn bytes_of(r: &Resource) -> Vec<u8> {
    serde_json::to_vec(r).unwrap()
}

fn op(v: Value) -> PatchOp {
    PatchOp::from_value(v).unwrap()
}

fn ops(list: Value) -> PatchOp {
    op(json!({ "Operations": list }))
}

/// Applies and returns the JSON of the result.
fn patched(r: &mut Resource, p: &PatchOp) -> Value {
    patch::apply(r, p, reg()).unwrap_or_else(|e| panic!("{e} ({p:?})"));
    json_of(r)
}

/// Applies, expects an error, checks the resource is byte-for-byte unchanged.
fn fails(r: &mut Resource, p: &PatchOp) -> ScimError {
    let before = bytes_of(r);
    let before_res = r.clone();
    let err = patch::apply(r, p, reg()).expect_err("the PATCH should fail");
    assert_eq!(bytes_of(r), before, "a failed PATCH changed the resource");
    assert_eq!(*r, before_res);
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    err
}

fn full_user() -> Resource {
    res(corpus_json!("rfc-examples/rfc7643-8.2-user-full.json"))
}

fn enterprise_user() -> Resource {
    res(corpus_json!(
        "rfc-examples/rfc7643-8.3-enterprise_user.json"
    ))
}

fn group() -> Resource {
    res(corpus_json!("rfc-examples/rfc7643-8.4-group.json"))
}

fn minimal_user() -> Resource {
    res(json!({"schemas": [urn::USER], "id": "u1", "userName": "bjensen"}))
}

fn member_values(v: &Value) -> Vec<&str> {
    v["members"]
        .as_array()
        .map(|a| a.iter().map(|m| m["value"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn email(v: &Value, kind: &str) -> Vec<Value> {
    v["emails"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["type"] == kind)
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The quirks corpus: every entry, with its expected handling.

#[test]
fn idp_quirks_corpus_every_entry() {
    let text = corpus!("patch/idp-quirks.jsonl");
    let mut seen = BTreeSet::new();
    let mut all = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let entry: Value = serde_json::from_str(line).unwrap();
        let id = entry["id"].as_str().unwrap().to_owned();
        all.insert(id.clone());
        let p = PatchOp::from_value(entry["body"].clone())
            .unwrap_or_else(|e| panic!("{id}: does not decode: {e}"));
        match id.as_str() {
            "entra_op_capitalised_Replace" => {
                assert_eq!(p.operations[0].op, OpKind::Replace);
                let v = patched(&mut full_user(), &p);
                assert_eq!(v["displayName"], "User X");
            }
            "entra_valuefilter_path_subattr" => {
                let v = patched(&mut full_user(), &p);
                let work = email(&v, "work");
                assert_eq!(work.len(), 1);
                assert_eq!(work[0]["value"], "updatedEmail@microsoft.com");
                assert_eq!(work[0]["primary"], true);
                assert_eq!(email(&v, "home")[0]["value"], "babs@jensen.org");
                assert_eq!(v["name"]["familyName"], "updatedFamilyName");
                assert_eq!(v["name"]["givenName"], "Barbara");
                assert_eq!(v["active"], false);
                // The Replace of a filter that matches nothing is noTarget (RFC 7644 §3.5.2.3).
                let err = fails(&mut minimal_user(), &p);
                assert_eq!(err.scim_type(), Some(ScimType::NoTarget));
            }
            "entra_add_valuefilter_creates" => {
                let v = patched(&mut minimal_user(), &p);
                assert_eq!(
                    v["emails"],
                    json!([{"type": "work", "value": "godfrey@example.com"}])
                );
                // With a home email only: appended next to it.
                let mut r = res(json!({"schemas": [urn::USER], "userName": "g",
                    "emails": [{"type": "home", "value": "g@home.example"}]}));
                let v = patched(&mut r, &p);
                assert_eq!(v["emails"].as_array().unwrap().len(), 2);
                assert_eq!(email(&v, "work")[0]["value"], "godfrey@example.com");
                // With a work email: its value is set, nothing is added.
                let v = patched(&mut full_user(), &p);
                assert_eq!(v["emails"].as_array().unwrap().len(), 2);
                assert_eq!(email(&v, "work")[0]["value"], "godfrey@example.com");
            }
            "entra_pathless_dotted_keys_replace" => {
                let v = patched(&mut full_user(), &p);
                assert_eq!(email(&v, "work")[0]["value"], "trystan@example.us");
                assert_eq!(v["userName"], "lucienne@example.biz");
                assert_eq!(v["name"]["givenName"], "Keith");
                assert_eq!(v["name"]["familyName"], "Stella");
                assert_eq!(v["name"]["middleName"], "Jane", "other name parts stay");
            }
            "entra_pathless_dotted_keys_add" => {
                let v = patched(&mut minimal_user(), &p);
                assert_eq!(
                    v["name"],
                    json!({"givenName": "John", "familyName": "Doe", "formatted": "John Doe"})
                );
            }
            "entra_string_boolean_False" => {
                let v = patched(&mut full_user(), &p);
                assert_eq!(v["active"], json!(false));
            }
            "entra_members_add_with_null_ref" => {
                let v = patched(&mut group(), &p);
                let members = v["members"].as_array().unwrap();
                assert_eq!(members.len(), 3);
                assert_eq!(members[2], json!({"value": "f648f8d5ea4e4cd38e9c"}));
            }
            "entra_members_remove_with_value_body" => {
                let mut g = group();
                let add = ops(json!([{"op": "add", "path": "members",
                    "value": [{"value": "f648f8d5ea4e4cd38e9c"}]}]));
                patched(&mut g, &add);
                let v = patched(&mut g, &p);
                assert_eq!(
                    member_values(&v),
                    [
                        "2819c223-7f76-453a-919d-413861904646",
                        "902c246b-6245-4190-8e05-00816be7344a"
                    ]
                );
                // Removing a member that is not there changes nothing.
                assert_eq!(patched(&mut g, &p), v);
            }
            "entra_enterprise_manager_dot_urn" | "entra_enterprise_manager_colon_urn" => {
                for mut r in [full_user(), enterprise_user()] {
                    let v = patched(&mut r, &p);
                    assert_eq!(
                        v[urn::ENTERPRISE_USER]["manager"]["value"],
                        "26118915-6090-4610-87e4-49d8ca9f808d"
                    );
                    assert!(
                        v["schemas"]
                            .as_array()
                            .unwrap()
                            .contains(&json!(urn::ENTERPRISE_USER))
                    );
                    let user = User::try_from(r).unwrap();
                    let ent = user.enterprise().unwrap().unwrap();
                    assert_eq!(
                        ent.manager.unwrap().value.as_deref(),
                        Some("26118915-6090-4610-87e4-49d8ca9f808d")
                    );
                }
            }
            "okta_pathless_active_false" => {
                let v = patched(&mut full_user(), &p);
                assert_eq!(v["active"], false);
            }
            "okta_group_replace_members_empty_pathless" => {
                let mut g = res(json!({"schemas": [urn::GROUP], "id": "org-cd1:viewer",
                    "displayName": "viewer", "members": [{"value": "a"}, {"value": "b"}]}));
                let v = patched(&mut g, &p);
                assert!(v.get("members").is_none());
                assert_eq!(v["displayName"], "org-cd1:viewer");
                assert_eq!(v["id"], "org-cd1:viewer");
            }
            "okta_group_replace_members_empty_path" => {
                let v = patched(&mut group(), &p);
                assert!(v.get("members").is_none());
                assert_eq!(v["displayName"], "Tour Guides");
                // Already empty: still fine.
                let v = patched(
                    &mut res(json!({"schemas": [urn::GROUP], "displayName": "x"})),
                    &p,
                );
                assert!(v.get("members").is_none());
            }
            "okta_group_remove_member_filter" => {
                let mut g = res(json!({"schemas": [urn::GROUP], "displayName": "x",
                    "members": [{"value": "00u1abcd"}, {"value": "00u2"}]}));
                let v = patched(&mut g, &p);
                assert_eq!(member_values(&v), ["00u2"]);
            }
            "lowercase_operations_key" => {
                assert_eq!(p.operations.len(), 1);
                let v = patched(&mut group(), &p);
                assert_eq!(v["members"], json!([{"value": "id1"}]));
            }
            "members_add_bare_string_garbage" => {
                let err = fails(&mut group(), &p);
                assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
                assert!(err.detail().contains("members"), "{err}");
            }
            "members_add_extra_name_field" => {
                let v = patched(&mut group(), &p);
                assert_eq!(
                    v["members"][2],
                    json!({"displayName": "new User", "value": "u4"})
                );
            }
            "missing_schemas" => {
                assert!(p.schemas.is_empty());
                let v = patched(&mut group(), &p);
                assert_eq!(v["displayName"], "x");
                // Output is strict.
                let out = serde_json::to_value(&p).unwrap();
                assert_eq!(out["schemas"], json!([urn::PATCH_OP]));
            }
            other => panic!("no expectation written for quirk {other}"),
        }
        seen.insert(id);
    }
    assert_eq!(seen, all);
    assert_eq!(all.len(), 18);
}

// ---------------------------------------------------------------------------------------------
// Microsoft's reference collection, in order.

#[test]
fn entra_reference_patches() {
    let list = corpus_json!("patch/entra-reference-patches.json");
    let mut user = enterprise_user();
    let mut group = res(json!({"schemas": [urn::GROUP], "id": "g1", "displayName": "group1"}));
    let mut count = 0;
    for entry in list.as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let p = PatchOp::from_value(entry["body"].clone())
            .unwrap_or_else(|e| panic!("{name}: does not decode: {e}"));
        let on_group = entry["url"].as_str().unwrap().contains("/Groups/");
        let target = if on_group { &mut group } else { &mut user };
        if name.contains("with garbage/Group patch add member") {
            let err = fails(target, &p);
            assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{name}");
            count += 1;
            continue;
        }
        let v = patched(target, &p);
        match name {
            "/User tests/patch user1" => assert_eq!(v["userName"], "ryan3"),
            "/Group tests/Patch add user4 to group1" => {
                assert_eq!(
                    v["members"],
                    json!([{"displayName": "new User", "value": "{{id4}}"}])
                );
            }
            "/Group tests/Patch remove user4 to group1" | "/Group tests/Patch remove all users" => {
                assert!(v.get("members").is_none(), "{name}");
            }
            "/User tests with garbage/Patch user omalley new username" => {
                assert_eq!(v["userName"], "newusername");
            }
            "/User tests with garbage/patch user omalley active with boolean" => {
                assert_eq!(v["active"], false);
            }
            "/Update User (lastname)" => assert_eq!(v["name"]["familyName"], "{{$randomLastName}}"),
            "/Update User (active)" => assert_eq!(v["active"], true),
            "/Update User (manager)" => {
                assert_eq!(
                    v[urn::ENTERPRISE_USER]["manager"]["value"],
                    "{{lastManagerUserId}}"
                );
                // The rest of the manager object is kept.
                assert_eq!(
                    v[urn::ENTERPRISE_USER]["manager"]["displayName"],
                    "John Smith"
                );
            }
            other => panic!("no expectation written for {other}"),
        }
        count += 1;
    }
    assert_eq!(count, list.as_array().unwrap().len());
}

// ---------------------------------------------------------------------------------------------
// Recorded IdP traffic: the state before is the recorded response with the patched attributes
// set to something else; after the PATCH it is the recorded response.

fn traffic(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/idp-traffic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn azuread_update_user() {
    let t = traffic("azuread__update_user.json");
    assert_eq!(t["method"], "PATCH");
    let mut before = t["response"].clone();
    before["emails"][0]["value"] = json!("old@microsoft.com");
    before["name"]["familyName"] = json!("oldFamilyName");
    before["userName"] = json!("old@testuser.com");
    before["active"] = json!(true);
    let mut r = res(before);
    let v = patched(&mut r, &op(t["request"].clone()));
    assert_eq!(v, t["response"]);
    assert_eq!(t["statusCode"], 200);
}

#[test]
fn azuread_update_group() {
    let t = traffic("azuread__update_group.json");
    let mut before = t["response"].clone();
    before["displayName"] = json!("old");
    let mut r = res(before);
    let v = patched(&mut r, &op(t["request"].clone()));
    assert_eq!(v, t["response"]);
}

#[test]
fn okta_update_user_patch() {
    let t = traffic("okta__update_user_patch.json");
    let mut before = t["response"].clone();
    before["active"] = json!(true);
    let mut r = res(before);
    let v = patched(&mut r, &op(t["request"].clone()));
    assert_eq!(v, t["response"]);
}

#[test]
fn okta_update_group_membership() {
    let t = traffic("okta__update_group_membership.json");
    let mut r = res(
        json!({"schemas": [urn::GROUP], "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2",
        "members": [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "x"}]}),
    );
    let p = op(t["request"].clone());
    let v = patched(&mut r, &p);
    assert_eq!(v["members"], t["request"]["Operations"][2]["value"]);
    assert_eq!(t["statusCode"], 200);
}

#[test]
fn okta_update_group_name() {
    let t = traffic("okta__update_group_name.json");
    let mut before = t["response"].clone();
    before["displayName"] = json!("old");
    let mut r = res(before);
    // The request sends the group's own `id` (readOnly, unchanged): accepted.
    let v = patched(&mut r, &op(t["request"].clone()));
    assert_eq!(v["displayName"], "Test SCIMv2");
    // The recorded response says "Test SCIMv20" (a typo in the capture); everything else matches.
    let mut expected = t["response"].clone();
    expected["displayName"] = json!("Test SCIMv2");
    assert_eq!(v, expected);
    // A different id is a mutability error.
    let mut p = op(t["request"].clone());
    p.operations[0].value = Some(json!({"id": "other", "displayName": "y"}));
    let err = fails(&mut r, &p);
    assert_eq!(err.scim_type(), Some(ScimType::Mutability));
}

#[test]
fn testdata_patch_add() {
    let p = op(traffic("testdata__patch__add__attributes.json"));
    let v = patched(&mut minimal_user(), &p);
    assert_eq!(
        v["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    assert_eq!(v["nickName"], "Babs", "stored under the canonical name");
    assert!(v.get("nickname").is_none());

    let p = op(traffic("testdata__patch__add__complex.json"));
    let v = patched(&mut minimal_user(), &p);
    assert_eq!(
        v["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"})
    );

    let p = op(traffic("testdata__patch__add__member.json"));
    let mut g = res(json!({"schemas": [urn::GROUP], "displayName": "g"}));
    let v = patched(&mut g, &p);
    assert_eq!(v["members"], p.operations[0].value.clone().unwrap());
    // Adding the same member again does not duplicate it.
    assert_eq!(patched(&mut g, &p), v);
}

// ---------------------------------------------------------------------------------------------
// RFC 7644 §3.5.2 examples on the RFC 7643 resources.

fn rfc(name: &str) -> PatchOp {
    let path = format!(
        "{}/tests/data/rfc-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    PatchOp::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The RFC 8.4 group with its members' values as the §3.5.2 examples abbreviate them.
fn group_with_values(values: &[&str]) -> Resource {
    let mut g = corpus_json!("rfc-examples/rfc7643-8.4-group.json");
    for (m, v) in g["members"].as_array_mut().unwrap().iter_mut().zip(values) {
        m["value"] = json!(v);
    }
    res(g)
}

#[test]
fn rfc_3_5_2_1_add() {
    // The home email and nickname are already there: nothing changes.
    let mut u = full_user();
    let before = json_of(&u);
    let v = patched(&mut u, &rfc("rfc7644-3.5.2.1-patch_op-add_emails.json"));
    assert_eq!(v, before);
    // On a user without them, they are added.
    let v = patched(
        &mut minimal_user(),
        &rfc("rfc7644-3.5.2.1-patch_op-add_emails.json"),
    );
    assert_eq!(
        v["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    assert_eq!(v["nickName"], "Babs");

    let p = rfc("rfc7644-3.5.2.1-patch_op-add_members.json");
    // Babs is already a member (same `value`): not duplicated.
    let v = patched(&mut group(), &p);
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    let mut g = group_with_values(&["a", "b"]);
    let v = patched(&mut g, &p);
    assert_eq!(
        member_values(&v),
        ["a", "b", "2819c223-7f76-453a-919d-413861904646"]
    );
}

#[test]
fn rfc_3_5_2_2_remove() {
    let v = patched(
        &mut group(),
        &rfc("rfc7644-3.5.2.2-patch_op-remove_all_members.json"),
    );
    assert!(v.get("members").is_none());
    assert_eq!(v["displayName"], "Tour Guides");

    let mut g = group_with_values(&["2819c223-7f76-...413861904646", "902c"]);
    let v = patched(
        &mut g,
        &rfc("rfc7644-3.5.2.2-patch_op-remove_one_member.json"),
    );
    assert_eq!(member_values(&v), ["902c"]);

    // `value eq"..."` (no space) as the RFC prints it.
    let mut g = group_with_values(&["2819c223...919d-413861904646", "902c"]);
    let v = patched(
        &mut g,
        &rfc("rfc7644-3.5.2.2-patch_op-remove_and_add_one_member.json"),
    );
    assert_eq!(member_values(&v), ["902c", "08e1d05d...473d93df9210"]);

    let v = patched(
        &mut full_user(),
        &rfc("rfc7644-3.5.2.2-patch_op-remove_multi_complex_value.json"),
    );
    assert_eq!(
        v["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
}

#[test]
fn rfc_3_5_2_3_replace() {
    let v = patched(
        &mut full_user(),
        &rfc("rfc7644-3.5.2.3-patch_op-replace_all_email_values.json"),
    );
    assert_eq!(
        v["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true},
               {"value": "babs@jensen.org", "type": "home"}])
    );
    assert_eq!(v["nickName"], "Babs");

    let v = patched(
        &mut group(),
        &rfc("rfc7644-3.5.2.3-patch_op-replace_all_members.json"),
    );
    assert_eq!(
        member_values(&v),
        [
            "2819c223-7f76-453a-919d-413861904646",
            "08e1d05d-121c-4561-8b96-473d93df9210"
        ]
    );
    assert_eq!(v["members"][1]["display"], "James Smith");

    let mut u = full_user();
    let before = json_of(&u);
    let v = patched(
        &mut u,
        &rfc("rfc7644-3.5.2.3-patch_op-replace_street_address.json"),
    );
    assert_eq!(v["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(v["addresses"][0]["locality"], "Hollywood");
    assert_eq!(v["addresses"][1], before["addresses"][1]);

    let v = patched(
        &mut full_user(),
        &rfc("rfc7644-3.5.2.3-patch_op-replace_user_work_address.json"),
    );
    assert_eq!(
        v["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(v["addresses"][0]["country"], "US");
    assert_eq!(v["addresses"][0]["primary"], true);
    assert_eq!(v["addresses"][1], before["addresses"][1]);
}

// ---------------------------------------------------------------------------------------------
// Paths, values and semantics.

#[test]
fn names_match_in_any_case_and_are_stored_canonically() {
    let p = ops(json!([
        {"op": "REPLACE", "path": "EMAILS[TYPE eq \"WORK\"].VALUE", "value": "x@example.com"},
        {"op": "add", "path": "DISPLAYNAME", "value": "Babs"},
        {"op": "add", "path": "title", "value": "Boss"},
        {"op": "add", "path": "NAME.GIVENNAME", "value": "B"},
    ]));
    // No work email to replace: noTarget.
    let e = fails(&mut minimal_user(), &p);
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
    let mut u = full_user();
    let v = patched(&mut u, &p);
    assert_eq!(email(&v, "work")[0]["value"], "x@example.com");
    assert_eq!(v["displayName"], "Babs");
    assert_eq!(v["title"], "Boss");
    assert_eq!(v["name"]["givenName"], "B");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert!(!keys.iter().any(|k| *k == "DISPLAYNAME" || *k == "NAME"));
}

#[test]
fn a_new_primary_clears_the_old() {
    let mut u = full_user();
    let v = patched(
        &mut u,
        &ops(json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@example.com", "type": "other", "primary": "True"}]}])),
    );
    let primaries: Vec<_> = v["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "new@example.com");

    let v = patched(
        &mut u,
        &ops(json!([{"op": "replace",
        "path": "emails[type eq \"home\"].primary", "value": true}])),
    );
    let primaries: Vec<_> = v["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["type"], "home");

    // Two primaries in one value: the last one wins.
    let v = patched(
        &mut u,
        &ops(json!([{"op": "replace", "path": "emails",
        "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}])),
    );
    assert_eq!(
        v["emails"],
        json!([{"value": "a"}, {"value": "b", "primary": true}])
    );
}

#[test]
fn extensions_by_path_and_pathless() {
    let ent = urn::ENTERPRISE_USER;
    let mut u = full_user();
    let v = patched(
        &mut u,
        &ops(json!([
            {"op": "add", "path": format!("{ent}:department"), "value": "Tour Operations"},
            {"op": "replace", "path": format!("{ent}:manager.value"), "value": "m1"},
        ])),
    );
    assert_eq!(
        v[ent],
        json!({"department": "Tour Operations", "manager": {"value": "m1"}})
    );
    assert_eq!(v["schemas"], json!([urn::USER, ent]));

    // Path-less, with the URN as a key and as a prefix of a key.
    let v = patched(
        &mut u,
        &ops(json!([{"op": "replace", "value": {
            ent: {"costCenter": "4130"},
            format!("{ent}:division"): "Theme Park",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Guide"
        }}])),
    );
    assert_eq!(v[ent]["costCenter"], "4130");
    assert_eq!(v[ent]["division"], "Theme Park");
    assert_eq!(v[ent]["department"], "Tour Operations");
    assert_eq!(v["title"], "Guide");

    // The whole extension by path.
    let v = patched(
        &mut u,
        &ops(json!([{"op": "replace", "path": ent,
        "value": {"employeeNumber": "701984"}}])),
    );
    assert_eq!(v[ent]["employeeNumber"], "701984");
    let v = patched(&mut u, &ops(json!([{"op": "remove", "path": ent}])));
    assert!(v.get(ent).is_none());
    assert_eq!(v["schemas"], json!([urn::USER]));

    // Removing the manager.
    let mut e = enterprise_user();
    let v = patched(
        &mut e,
        &ops(json!([{"op": "remove", "path": format!("{ent}:manager")}])),
    );
    assert!(v[ent].get("manager").is_none());
    assert_eq!(v[ent]["employeeNumber"], "701984");
}

#[test]
fn sub_attribute_of_a_filtered_member() {
    let mut g = group();
    let v = patched(
        &mut g,
        &ops(json!([{"op": "replace",
        "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].display",
        "value": "Mandy P."}])),
    );
    assert_eq!(v["members"][1]["display"], "Mandy P.");
    assert_eq!(v["members"][0]["display"], "Babs Jensen");
}

#[test]
fn remove_single_valued_and_sub_attributes() {
    let mut u = full_user();
    let v = patched(
        &mut u,
        &ops(json!([
            {"op": "remove", "path": "nickName"},
            {"op": "remove", "path": "name.middleName"},
            {"op": "remove", "path": "emails[type eq \"work\"].primary"},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "remove", "path": "externalId"},
            {"op": "remove", "path": "title"},
        ])),
    );
    assert!(v.get("nickName").is_none());
    assert!(v["name"].get("middleName").is_none());
    assert!(v["emails"][0].get("primary").is_none());
    assert!(v.get("phoneNumbers").is_none());
    assert!(v.get("externalId").is_none());
    assert!(v.get("title").is_none());
    // Removing what is not there is not an error.
    patched(&mut u, &ops(json!([{"op": "remove", "path": "nickName"}])));
}

#[test]
fn replace_with_null_unassigns_and_external_id_is_writable() {
    let mut u = full_user();
    let v = patched(
        &mut u,
        &ops(json!([
            {"op": "replace", "path": "title", "value": null},
            {"op": "replace", "path": "externalId", "value": "x-2"},
        ])),
    );
    assert!(v.get("title").is_none());
    assert_eq!(v["externalId"], "x-2");
}

#[test]
fn unknown_attributes_are_kept_as_sent() {
    let mut u = minimal_user();
    let v = patched(
        &mut u,
        &ops(json!([
            {"op": "add", "path": "urn:example:custom:1.0:User:badge", "value": {"id": 7, "x": null}},
            {"op": "add", "value": {"favouriteColour": "teal"}},
        ])),
    );
    assert_eq!(v["urn:example:custom:1.0:User"]["badge"], json!({"id": 7}));
    assert_eq!(v["favouriteColour"], "teal");
}

#[test]
fn user_and_group_conveniences() {
    let mut user: User =
        serde_json::from_value(corpus_json!("rfc-examples/rfc7643-8.2-user-full.json")).unwrap();
    let p = ops(
        json!([{"op": "replace", "path": "active", "value": "False"},
        {"op": "replace", "path": "name.familyName", "value": "Smith"}]),
    );
    patch::apply_user(&mut user, &p, reg()).unwrap();
    assert_eq!(user.active, Some(false));
    assert_eq!(
        user.name.as_ref().unwrap().family_name.as_deref(),
        Some("Smith")
    );
    assert!(user.password.is_some(), "the password survives");
    let before = user.clone();
    let bad = ops(json!([{"op": "replace", "path": "active", "value": "maybe"}]));
    assert!(patch::apply_user(&mut user, &bad, reg()).is_err());
    assert_eq!(user, before);

    let mut g: Group =
        serde_json::from_value(corpus_json!("rfc-examples/rfc7643-8.4-group.json")).unwrap();
    patch::apply_group(
        &mut g,
        &ops(json!([{"op": "remove",
        "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}])),
        reg(),
    )
    .unwrap();
    assert_eq!(g.members.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding.

#[test]
fn decoding_is_lenient_and_encoding_strict() {
    let p = PatchOp::from_slice(
        br#"{"SCHEMAS": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "OPERATIONS": [{"OP": "Add", "PATH": " title ", "VALUE": "x", "name": "ignored"},
                       {"op": "remove", "path": null, "value": null},
                       {"op": "replace", "path": ""}]}"#,
    )
    .unwrap();
    assert_eq!(p.operations.len(), 3);
    assert_eq!(p.operations[0].op, OpKind::Add);
    assert_eq!(p.operations[0].path.as_ref().unwrap().to_string(), "title");
    assert!(p.operations[1].path.is_none());
    assert!(p.operations[2].path.is_none());
    let out = serde_json::to_value(&p).unwrap();
    assert_eq!(
        out["Operations"][0],
        json!({"op": "add", "path": "title", "value": "x"})
    );
    assert_eq!(out["schemas"], json!([urn::PATCH_OP]));
    // Round trip.
    let again: PatchOp = serde_json::from_value(out.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), out);
    // Entra's dotted URN prints in the RFC form.
    let p = ops(json!([{"op": "replace",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager", "value": "m"}]));
    assert_eq!(
        serde_json::to_value(&p).unwrap()["Operations"][0]["path"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors: every scimType, with the path or attribute named, and the resource unchanged.

fn err_of(r: &mut Resource, list: Value) -> ScimError {
    fails(r, &ops(list))
}

#[test]
fn errors_no_target() {
    let e = err_of(&mut full_user(), json!([{"op": "remove"}]));
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
    assert!(e.detail().contains("path"), "{e}");

    let e = err_of(
        &mut full_user(),
        json!([{"op": "replace",
        "path": "emails[type eq \"other\"].value", "value": "x"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
    assert!(
        e.detail().contains("emails[type eq \"other\"].value"),
        "{e}"
    );

    let e = err_of(
        &mut group(),
        json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
    assert!(e.detail().contains("members"), "{e}");

    // An add whose filter cannot describe a new element.
    let e = err_of(
        &mut minimal_user(),
        json!([{"op": "add",
        "path": "emails[value co \"x\"].type", "value": "work"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
}

#[test]
fn errors_invalid_path() {
    for (path, needle) in [
        ("emails[type eq", "emails[type eq"),
        ("name.nonexistent", "nonexistent"),
        ("userName[value eq \"x\"]", "userName"),
        ("emails.value", "emails"),
        ("active.value", "active"),
        ("schemas", "schemas"),
        ("", ""),
    ] {
        let list = json!([{"op": "replace", "path": path, "value": "x"}]);
        if path.is_empty() {
            // An empty path is no path: the value must then be an object.
            let e = err_of(&mut full_user(), list);
            assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax), "{path}: {e}");
            continue;
        }
        let e = match PatchOp::from_value(json!({"Operations": list})) {
            Err(e) => e,
            Ok(p) => fails(&mut full_user(), &p),
        };
        assert_eq!(e.scim_type(), Some(ScimType::InvalidPath), "{path}: {e}");
        assert!(e.detail().contains(needle), "{path}: {e}");
    }
    // A bad dotted key in a path-less value.
    let e = err_of(
        &mut full_user(),
        json!([{"op": "add", "value": {"name.bad key": "x"}}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::InvalidPath));
}

#[test]
fn errors_invalid_value() {
    for (list, needle) in [
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "active",
        ),
        (
            json!([{"op": "replace", "path": "displayName", "value": {"a": 1}}]),
            "displayName",
        ),
        (
            json!([{"op": "replace", "value": {"name": "Babs"}}]),
            "name",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": ["x@example.com"]}]),
            "emails",
        ),
        (
            json!([{"op": "add", "path": "emails[type eq \"work\"].primary", "value": 3}]),
            "emails.primary",
        ),
        (
            json!([{"op": "replace", "path": "name.givenName", "value": 42}]),
            "name.givenName",
        ),
        (json!([{"op": "remove", "path": "userName"}]), "userName"),
        (
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": 5}]),
            "manager",
        ),
    ] {
        let e = err_of(&mut full_user(), list.clone());
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{list}: {e}");
        assert!(e.detail().contains(needle), "{list}: {e}");
    }
}

#[test]
fn errors_mutability() {
    for (list, needle) in [
        (
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            "id",
        ),
        (json!([{"op": "remove", "path": "id"}]), "id"),
        (
            json!([{"op": "replace", "path": "meta.version", "value": "W/\"1\""}]),
            "meta",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            "groups",
        ),
        (json!([{"op": "remove", "path": "groups"}]), "groups"),
        (
            json!([{"op": "replace", "value": {"groups": []}}]),
            "groups",
        ),
    ] {
        let e = err_of(&mut full_user(), list.clone());
        assert_eq!(e.scim_type(), Some(ScimType::Mutability), "{list}: {e}");
        assert!(e.detail().contains(needle), "{list}: {e}");
    }
    // Group members' `value` is immutable once set.
    let e = err_of(
        &mut group(),
        json!([{"op": "replace",
        "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].value", "value": "x"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::Mutability));
    assert!(e.detail().contains("members.value"), "{e}");
    // The same id is accepted (Okta sends it).
    patched(
        &mut full_user(),
        &ops(json!([{"op": "replace",
        "value": {"id": "2819c223-7f76-453a-919d-413861904646"}}])),
    );
}

#[test]
fn errors_invalid_syntax() {
    let cases: [(&[u8], &str); 7] = [
        (
            br#"{"Operations": [{"op": "move", "path": "title"}]}"#,
            "move",
        ),
        (br#"{"schemas": []}"#, "Operations"),
        (br#"{"Operations": {"op": "add"}}"#, "Operations"),
        (
            br#"{"Operations": [{"path": "title", "value": "x"}]}"#,
            "op",
        ),
        (br#"{"Operations": [1]}"#, "Operations[0]"),
        (br#"{"Operations": [{"op": "add"#, "JSON"),
        (b"[]", "object"),
    ];
    for (body, needle) in cases {
        let e = PatchOp::from_slice(body).unwrap_err();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax), "{e}");
        assert!(e.detail().contains(needle), "{e}");
    }
    // Through serde too.
    assert!(serde_json::from_str::<PatchOp>(r#"{"Operations": [{"op": "Move"}]}"#).is_err());
    // Semantic syntax errors found while applying.
    let e = err_of(&mut full_user(), json!([{"op": "add", "path": "title"}]));
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
    assert!(e.detail().contains("title"), "{e}");
    let e = err_of(&mut full_user(), json!([{"op": "replace", "value": "x"}]));
    assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax));
}

// ---------------------------------------------------------------------------------------------
// Atomicity.

#[test]
fn a_failed_patch_leaves_the_resource_byte_for_byte_unchanged() {
    let ent = urn::ENTERPRISE_USER;
    let good = json!([
        {"op": "replace", "path": "displayName", "value": "Babs J."},
        {"op": "add", "path": "emails", "value": [{"value": "n@example.com", "type": "other", "primary": true}]},
        {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
        {"op": "remove", "path": "ims[type eq \"aim\"]"},
        {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"type": "work", "country": "US"}},
        {"op": "replace", "path": "addresses[type eq \"home\"].primary", "value": true},
        {"op": "add", "path": "emails[type eq \"pager\"].value", "value": "p@example.com"},
        {"op": "replace", "path": "name", "value": {"givenName": "Barb", "nickName": "x"}},
        {"op": "remove", "path": "name.middleName"},
        {"op": "remove", "path": "x509Certificates"},
        {"op": "replace", "path": "externalId", "value": "e-2"},
        {"op": "add", "path": format!("{ent}:department"), "value": "Ops"},
        {"op": "replace", "path": format!("{ent}.manager"), "value": "m-2"},
        {"op": "add", "value": {"name.honorificPrefix": "Dr.", "nickname": "B", "active": "false",
            "urn:example:custom:1.0:User": {"badge": 1}}},
        {"op": "replace", "path": "photos", "value": []},
        {"op": "remove", "path": ent},
        {"op": "add", "path": format!("{ent}:costCenter"), "value": "c"},
    ]);
    let failing = [
        json!({"op": "replace", "path": "id", "value": "nope"}),
        json!({"op": "replace", "path": "active", "value": "perhaps"}),
        json!({"op": "remove", "path": "emails[type eq \"nope\"]"}),
        json!({"op": "replace", "path": "name.bogus", "value": "x"}),
        json!({"op": "remove"}),
    ];
    for base in [full_user(), enterprise_user(), minimal_user(), group()] {
        // The good operations alone succeed (on the full users).
        if base.has_schema(urn::USER) && base.attribute("phoneNumbers").is_some() {
            let mut r = base.clone();
            patched(&mut r, &ops(good.clone()));
            assert_ne!(bytes_of(&r), bytes_of(&base));
        }
        for last in &failing {
            let mut list = good.as_array().unwrap().clone();
            list.push(last.clone());
            let mut r = base.clone();
            let before = bytes_of(&r);
            let result = patch::apply(&mut r, &ops(Value::Array(list)), reg());
            assert!(result.is_err(), "{last}");
            assert_eq!(
                String::from_utf8(bytes_of(&r)).unwrap(),
                String::from_utf8(before).unwrap(),
                "after a failing {last}"
            );
            assert_eq!(r, base);
        }
    }
}
