//! Every RFC 7643/7644 example of a type this crate models round-trips through it.

// Helpers outside #[test] fns are test code too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use scim_core::{
    ErrorBody, Group, ListResponse, Resource, ResourceType, Schema, ScimError, SearchRequest,
    ServiceProviderConfig, User,
};

fn corpus(name: &str) -> String {
    let path = format!(
        "{}/tests/data/rfc-examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes `name` as `T`, encodes it again, and returns (input, output) as values.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> (Value, Value) {
    let text = corpus(name);
    let typed: T = scim_core::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = serde_json::to_value(&typed).unwrap();
    let input: Value = serde_json::from_str(&text).unwrap();
    (input, out)
}

fn assert_round_trip<T: DeserializeOwned + Serialize>(name: &str) {
    let (input, out) = round_trip::<T>(name);
    assert_eq!(input, out, "{name}");
}

/// Users: equal except that `password` never comes back.
fn assert_user_round_trip(name: &str) {
    let (mut input, out) = round_trip::<User>(name);
    assert!(out.get("password").is_none(), "{name}: password serialised");
    input.as_object_mut().unwrap().remove("password");
    assert_eq!(input, out, "{name}");
    // And through the generic resource.
    let user: User = scim_core::from_str(&corpus(name)).unwrap();
    let res = Resource::from(user.clone());
    let res_out = serde_json::to_value(&res).unwrap();
    assert!(
        res_out.get("password").is_none(),
        "{name}: password via Resource"
    );
    assert_eq!(User::try_from(res).unwrap(), user, "{name}: via Resource");
}

#[test]
fn users() {
    for name in [
        "rfc7643-8.1-user-minimal.json",
        "rfc7643-8.2-user-full.json",
        "rfc7643-8.3-enterprise_user.json",
        "rfc7644-3.14-user-post_request.json",
        "rfc7644-3.14-user-post_response.json",
        "rfc7644-3.3-user-post_request.json",
        "rfc7644-3.3-user-post_response.json",
        "rfc7644-3.4.1-user-known-resource.json",
        "rfc7644-3.5.1-user-put_response.json",
        "rfc7644-3.9-user-partial_response.json",
    ] {
        assert_user_round_trip(name);
    }
}

#[test]
fn password_is_read_but_not_written() {
    let user: User = scim_core::from_str(&corpus("rfc7643-8.2-user-full.json")).unwrap();
    assert_eq!(user.password.as_ref().unwrap().expose(), "t1meMa$heen");
    assert_eq!(format!("{:?}", user.password), "Some(Password(***))");
    let text = serde_json::to_string(&user).unwrap();
    assert!(!text.contains("t1meMa"));
    assert!(!text.to_ascii_lowercase().contains("password"));
    assert!(serde_json::to_string(user.password.as_ref().unwrap()).is_err());
}

#[test]
fn put_request_empty_roles_are_omitted() {
    // `"roles": []` is "unassigned" (RFC 7643 §2.5) and left out of the output.
    let (mut input, out) = round_trip::<User>("rfc7644-3.5.1-user-put_request.json");
    assert_eq!(
        input.as_object_mut().unwrap().remove("roles"),
        Some(serde_json::json!([]))
    );
    assert_eq!(input, out);
}

#[test]
fn enterprise_user() {
    let user: User = scim_core::from_str(&corpus("rfc7643-8.3-enterprise_user.json")).unwrap();
    let ent = user.enterprise().unwrap().unwrap();
    assert_eq!(ent.employee_number.as_deref(), Some("701984"));
    assert_eq!(ent.cost_center.as_deref(), Some("4130"));
    let manager = ent.manager.as_ref().unwrap();
    assert_eq!(
        manager.value.as_deref(),
        Some("26118915-6090-4610-87e4-49d8ca9f808d")
    );
    assert_eq!(manager.display_name.as_deref(), Some("John Smith"));
    // The typed extension alone round-trips too.
    let input: Value = serde_json::from_str(&corpus("rfc7643-8.3-enterprise_user.json")).unwrap();
    let raw = &input["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(&serde_json::to_value(&ent).unwrap(), raw);
}

#[test]
fn groups() {
    assert_round_trip::<Group>("rfc7643-8.4-group.json");
    assert_round_trip::<Resource>("rfc7643-8.4-group.json");
    let group: Group = scim_core::from_str(&corpus("rfc7643-8.4-group.json")).unwrap();
    assert_eq!(group.members.len(), 2);
    assert_eq!(
        Group::try_from(Resource::from(group.clone())).unwrap(),
        group
    );
}

#[test]
fn discovery() {
    assert_round_trip::<ServiceProviderConfig>("rfc7643-8.5-service_provider_configuration.json");
    assert_round_trip::<ResourceType>("rfc7643-8.6-resource_type-group.json");
    assert_round_trip::<ResourceType>("rfc7643-8.6-resource_type-user.json");
    let spc: ServiceProviderConfig =
        scim_core::from_str(&corpus("rfc7643-8.5-service_provider_configuration.json")).unwrap();
    assert_eq!(spc.bulk.max_operations, 1000);
    assert_eq!(spc.filter.max_results, 200);
    assert_eq!(spc.authentication_schemes[0].primary, Some(true));
}

#[test]
fn schemas() {
    for name in [
        "rfc7643-8.7.1-schema-enterprise_user.json",
        "rfc7643-8.7.1-schema-group.json",
        "rfc7643-8.7.1-schema-user.json",
        "rfc7643-8.7.2-schema-resource_type.json",
        "rfc7643-8.7.2-schema-schema.json",
        "rfc7643-8.7.2-schema-service_provider_configuration.json",
    ] {
        assert_round_trip::<Schema>(name);
    }
}

#[test]
fn list_responses() {
    assert_round_trip::<ListResponse<Resource>>(
        "rfc7644-3.4.2-list_response-partial_attributes.json",
    );
    assert_round_trip::<ListResponse<Resource>>("rfc7644-3.4.3-list_response-post_query.json");
    assert_round_trip::<ListResponse<Group>>("rfc7644-3.7.1-list_response-circular_reference.json");
    assert_round_trip::<ListResponse<ResourceType>>("rfc7644-4-list_response-resource_types.json");
    assert_round_trip::<ListResponse<Value>>("rfc7644-3.4.3-list_response-post_query.json");
    let list: ListResponse<Resource> =
        scim_core::from_str(&corpus("rfc7644-3.4.3-list_response-post_query.json")).unwrap();
    assert_eq!(list.total_results, 100);
    assert_eq!(list.items_per_page, Some(10));
    assert_eq!(
        list.resources[1].attribute("DISPLAYNAME"),
        Some(&Value::from("Smith Family"))
    );
}

#[test]
fn search_request() {
    assert_round_trip::<SearchRequest>("rfc7644-3.4.3-search_request.json");
    let req: SearchRequest =
        scim_core::from_str(&corpus("rfc7644-3.4.3-search_request.json")).unwrap();
    assert_eq!(req.attributes, ["displayName", "userName"]);
    assert_eq!(req.count(), Some(10));
    assert!(req.parsed_filter().unwrap().is_some());
}

#[test]
fn errors() {
    for name in [
        "rfc7644-3.12-error-bad_request.json",
        "rfc7644-3.12-error-not_found.json",
        "rfc7644-3.6-error-not_found.json",
        "rfc7644-3.7.3-error-invalid_syntax.json",
        "rfc7644-3.7.4-error-payload_too_large.json",
    ] {
        assert_round_trip::<ErrorBody>(name);
        // And through ScimError.
        let body: ErrorBody = scim_core::from_str(&corpus(name)).unwrap();
        let err = ScimError::from(body.clone());
        assert_eq!(err.status().as_str(), body.status);
        assert_eq!(err.scim_type(), body.scim_type);
        assert_eq!(
            serde_json::to_value(err.to_body()).unwrap(),
            serde_json::to_value(&body).unwrap()
        );
    }
}
