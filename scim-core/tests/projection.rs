//! `attributes` / `excludedAttributes` honouring `returned` (RFC 7644 §3.4.2.5, §3.9;
//! RFC 7643 §7).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};

use scim_core::projection::Projection;
use scim_core::schema::{AttributeDef, Returned, SchemaRegistry};
use scim_core::{ScimType, urn};

fn corpus_user() -> Value {
    let path = format!(
        "{}/tests/data/rfc-examples/rfc7643-8.3-enterprise_user.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["password"] = json!("t1meMa$heen");
    v
}

fn project(attrs: Option<&str>, excluded: Option<&str>) -> Value {
    let p = Projection::parse(attrs, excluded).unwrap();
    p.applied(&corpus_user(), SchemaRegistry::builtin(), urn::USER)
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn default_set_drops_never_attributes_only() {
    let input = corpus_user();
    let out = project(None, None);
    assert!(out.get("password").is_none());
    let mut expected = input;
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expected);
}

/// RFC 7644 §3.4.2.5 / §3.9: `attributes=userName` returns `id`, `schemas` and `userName`.
#[test]
fn attributes_overrides_the_default_set() {
    let out = project(Some("userName"), None);
    assert_eq!(keys(&out), ["id", "schemas", "userName"]);
    assert_eq!(out["userName"], "bjensen@example.com");
}

#[test]
fn sub_attributes_and_case_insensitivity() {
    let out = project(Some("NAME.familyName, emails.VALUE,userName"), None);
    assert_eq!(keys(&out), ["emails", "id", "name", "schemas", "userName"]);
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    assert_eq!(
        out["emails"],
        json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
    );
}

#[test]
fn urn_qualified_paths() {
    let out = project(
        Some(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName,\
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName,\
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        ),
        None,
    );
    assert_eq!(
        keys(&out),
        ["id", "schemas", urn::ENTERPRISE_USER, "userName"]
    );
    assert_eq!(
        out[urn::ENTERPRISE_USER],
        json!({"employeeNumber": "701984", "manager": {"displayName": "John Smith"}})
    );
    // Entra ID's dotted form.
    let out = project(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department"),
        None,
    );
    assert_eq!(
        out[urn::ENTERPRISE_USER],
        json!({"department": "Tour Operations"})
    );
}

#[test]
fn whole_extension_by_urn() {
    let input = corpus_user();
    let out = project(Some(urn::ENTERPRISE_USER), None);
    assert_eq!(keys(&out), ["id", "schemas", urn::ENTERPRISE_USER]);
    assert_eq!(out[urn::ENTERPRISE_USER], input[urn::ENTERPRISE_USER]);
    let out = project(None, Some(urn::ENTERPRISE_USER));
    assert!(out.get(urn::ENTERPRISE_USER).is_none());
    assert_eq!(out["userName"], "bjensen@example.com");
}

#[test]
fn excluded_attributes() {
    let out = project(None, Some("emails,name.givenName,meta,id,schemas"));
    assert!(out.get("emails").is_none());
    assert!(out.get("meta").is_none());
    // `always` attributes survive exclusion.
    assert_eq!(out["id"], "2819c223-7f76-453a-919d-413861904646");
    assert!(out.get("schemas").is_some());
    assert!(out["name"].get("givenName").is_none());
    assert_eq!(out["name"]["familyName"], "Jensen");
    assert_eq!(out["userName"], "bjensen@example.com");
    // Excluding an extension attribute.
    let out = project(
        None,
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
    );
    assert!(out[urn::ENTERPRISE_USER].get("manager").is_none());
    assert_eq!(out[urn::ENTERPRISE_USER]["department"], "Tour Operations");
}

#[test]
fn never_is_never_returned_even_if_asked() {
    let out = project(Some("password,userName"), None);
    assert!(out.get("password").is_none());
}

#[test]
fn both_parameters_select_then_exclude() {
    let out = project(Some("name,emails"), Some("name.middleName"));
    assert_eq!(keys(&out), ["emails", "id", "name", "schemas"]);
    assert!(out["name"].get("middleName").is_none());
    assert_eq!(out["name"]["givenName"], "Barbara");
}

#[test]
fn request_attributes_only_when_listed() {
    let mut registry = SchemaRegistry::builtin().clone();
    let mut user = registry.get(urn::USER).unwrap().clone();
    let def: AttributeDef = serde_json::from_value(json!({
        "name": "secretQuestion", "type": "string", "multiValued": false, "required": false,
        "mutability": "readWrite", "returned": "request"
    }))
    .unwrap();
    assert_eq!(def.returned, Returned::Request);
    user.attributes.push(def);
    registry.add(user);

    let resource = json!({"id": "1", "userName": "u", "secretQuestion": "pet?"});
    let out = Projection::none().applied(&resource, &registry, urn::USER);
    assert!(out.get("secretQuestion").is_none());
    let out =
        Projection::parse(None, Some("userName"))
            .unwrap()
            .applied(&resource, &registry, urn::USER);
    assert_eq!(out, json!({"id": "1"}));
    let out = Projection::parse(Some("secretQuestion"), None)
        .unwrap()
        .applied(&resource, &registry, urn::USER);
    assert_eq!(out, json!({"id": "1", "secretQuestion": "pet?"}));
}

#[test]
fn groups_and_members() {
    let group = json!({
        "schemas": [urn::GROUP],
        "id": "e9e30dba",
        "displayName": "Tour Guides",
        "members": [{"value": "2819c223", "display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223"}]
    });
    let out = Projection::parse(Some("members.value"), None)
        .unwrap()
        .applied(&group, SchemaRegistry::builtin(), urn::GROUP);
    assert_eq!(
        out,
        json!({"schemas": [urn::GROUP], "id": "e9e30dba", "members": [{"value": "2819c223"}]})
    );
    let out = Projection::parse(None, Some("members")).unwrap().applied(
        &group,
        SchemaRegistry::builtin(),
        urn::GROUP,
    );
    assert_eq!(keys(&out), ["displayName", "id", "schemas"]);
}

#[test]
fn search_request_lists() {
    let p = Projection::from_lists(&["userName", "name.givenName,title"], &[] as &[&str]).unwrap();
    let out = p.applied(&corpus_user(), SchemaRegistry::builtin(), urn::USER);
    assert_eq!(keys(&out), ["id", "name", "schemas", "title", "userName"]);
    assert!(Projection::parse(Some(" , "), None).unwrap().is_empty());
}

#[test]
fn invalid_paths_are_invalid_value_naming_param_and_path() {
    for (a, e, param, bad) in [
        (Some("user name"), None, "attributes", "user name"),
        (
            Some("userName,emails[type eq \"work\"]"),
            None,
            "attributes",
            "emails[",
        ),
        (
            None,
            Some("name..givenName"),
            "excludedAttributes",
            "name..givenName",
        ),
        (None, Some("1abc"), "excludedAttributes", "1abc"),
    ] {
        let err = Projection::parse(a, e).unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{err}");
        assert!(err.detail().contains(param), "{err}");
        assert!(err.detail().contains(bad), "{err}");
    }
}

#[test]
fn unknown_paths_select_nothing_and_non_objects_are_left_alone() {
    let out = project(Some("shoeSize"), None);
    assert_eq!(keys(&out), ["id", "schemas"]);
    let p = Projection::parse(Some("userName"), None).unwrap();
    let mut v = json!([1, 2]);
    p.apply(&mut v, SchemaRegistry::builtin(), urn::USER);
    assert_eq!(v, json!([1, 2]));
}
