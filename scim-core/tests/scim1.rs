//! SCIM 1.1: the examples of the SCIM 1.1 Core Schema and API documents (written from the
//! specification), conversion to 2.0 and back, and 1.1 PATCH bodies as 2.0 operations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};

use scim_core::scim1::{
    self, ResourceKind, Scim1, Scim1Convert, Scim1ErrorBody, Scim1OpKind, Scim1PatchOp,
    patch_operations, patch_request,
};
use scim_core::{ErrorBody, Group, ListResponse, Resource, ScimError, User, urn};

/// SCIM 1.1 Core Schema §8.2 "Full User Representation" with the enterprise extension (§8.3).
fn v1_full_user() -> Value {
    json!({
      "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "name": {
        "formatted": "Ms. Barbara J Jensen III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III"
      },
      "displayName": "Babs Jensen",
      "nickName": "Babs",
      "profileUrl": "https://login.example.com/bjensen",
      "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
      ],
      "addresses": [
        {
          "type": "work",
          "streetAddress": "100 Universal City Plaza",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
          "primary": true
        },
        {
          "type": "home",
          "streetAddress": "456 Hollywood Blvd",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"
        }
      ],
      "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"}
      ],
      "ims": [{"value": "someaimhandle", "type": "aim"}],
      "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
      ],
      "userType": "Employee",
      "title": "Tour Guide",
      "preferredLanguage": "en_US",
      "locale": "en_US",
      "timezone": "America/Los_Angeles",
      "active": true,
      "groups": [
        {"display": "Tour Guides", "value": "00300000005N2Y6AAK"},
        {"display": "Employees", "value": "00300000005N34H78J"},
        {"display": "US Employees", "value": "00300000005N98YT1K"}
      ],
      "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
      "urn:scim:schemas:extension:enterprise:1.0": {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
          "managerId": "26118915-6090-4610-87e4-49d8ca9f808d",
          "displayName": "John Smith"
        }
      },
      "meta": {
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"a330bc54f0671c9\"",
        "location": "https://example.com/v1/Users/2819c223-7f76-453a-919d-413861904646"
      }
    })
}

/// SCIM 1.1 Core Schema §8.4 Group representation, with the member `type` of 1.1.
fn v1_group() -> Value {
    json!({
      "schemas": ["urn:scim:schemas:core:1.0"],
      "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
      "displayName": "Tour Guides",
      "members": [
        {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
        {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"},
        {"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5", "display": "Employees", "type": "Group"}
      ],
      "meta": {
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"3694e05e9dff592\"",
        "location": "https://example.com/v1/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
      }
    })
}

#[test]
fn full_user_reads_into_user_with_enterprise_extension() {
    let user = User::from_scim1(v1_full_user()).unwrap();
    assert_eq!(user.user_name, "bjensen@example.com");
    assert_eq!(user.emails.len(), 2);
    assert_eq!(user.primary_email(), Some("bjensen@example.com"));
    assert_eq!(
        user.name.as_ref().unwrap().given_name.as_deref(),
        Some("Barbara")
    );
    assert_eq!(user.groups.len(), 3);
    assert_eq!(
        user.schemas,
        vec![urn::USER.to_owned(), urn::ENTERPRISE_USER.to_owned()]
    );
    let ent = user.enterprise().unwrap().unwrap();
    assert_eq!(ent.employee_number.as_deref(), Some("701984"));
    let manager = ent.manager.unwrap();
    assert_eq!(
        manager.value.as_deref(),
        Some("26118915-6090-4610-87e4-49d8ca9f808d")
    );
    assert_eq!(manager.display_name.as_deref(), Some("John Smith"));
    assert!(
        manager.other.is_empty(),
        "managerId must be renamed, not kept"
    );

    // The 2.0 form is strict 2.0.
    let v2 = serde_json::to_value(&user).unwrap();
    assert_eq!(
        v2[urn::ENTERPRISE_USER]["manager"]["value"],
        "26118915-6090-4610-87e4-49d8ca9f808d"
    );
    assert!(v2.get(scim1::ENTERPRISE).is_none());
}

#[test]
fn full_user_round_trips_v1_v2_v1() {
    let input = v1_full_user();
    let user: User = User::from_scim1(input.clone()).unwrap();
    let back = user.to_scim1().unwrap();
    assert_eq!(back, input);
    // And through serde.
    let Scim1(user): Scim1<User> = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(Scim1(user)).unwrap(), input);
}

#[test]
fn password_is_read_but_never_written() {
    let mut v = v1_full_user();
    v["password"] = json!("t1meMa$heen");
    let user = User::from_scim1(v).unwrap();
    assert_eq!(user.password.as_ref().unwrap().expose(), "t1meMa$heen");
    assert!(user.to_scim1().unwrap().get("password").is_none());
}

#[test]
fn group_round_trips_and_keeps_member_type() {
    let input = v1_group();
    let group = Group::from_scim1(input.clone()).unwrap();
    assert_eq!(group.display_name, "Tour Guides");
    assert_eq!(group.members.len(), 3);
    assert_eq!(group.members[2].kind.as_deref(), Some("Group"));
    assert_eq!(group.schemas, vec![urn::GROUP.to_owned()]);
    assert_eq!(group.to_scim1().unwrap(), input);
}

#[test]
fn v2_to_v1_drops_only_what_v1_cannot_express() {
    let v2 = json!({
        "schemas": [urn::GROUP],
        "id": "g1",
        "displayName": "Admins",
        "members": [{"value": "u1", "$ref": "https://example.com/v2/Users/u1", "display": "A", "type": "User"}],
        "meta": {"resourceType": "Group", "version": "W/\"1\""}
    });
    let group: Group = serde_json::from_value(v2.clone()).unwrap();
    let v1 = group.to_scim1().unwrap();
    assert_eq!(
        v1,
        json!({
            "schemas": [scim1::CORE],
            "id": "g1",
            "displayName": "Admins",
            "members": [{"value": "u1", "display": "A", "type": "User"}],
            "meta": {"version": "W/\"1\""}
        })
    );
    // Back to 2.0: equal except for the dropped `$ref` and `resourceType`.
    let again = serde_json::to_value(Group::from_scim1(v1).unwrap()).unwrap();
    let mut expected = v2;
    expected["members"][0]
        .as_object_mut()
        .unwrap()
        .remove("$ref");
    expected["meta"]
        .as_object_mut()
        .unwrap()
        .remove("resourceType");
    assert_eq!(again, expected);
}

#[test]
fn enterprise_manager_maps_both_ways() {
    let mut user = User::new("bjensen");
    user.set_enterprise(&scim_core::EnterpriseUser {
        manager: Some(scim_core::Manager {
            value: Some("m1".into()),
            reference: Some("../Users/m1".into()),
            display_name: Some("John".into()),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let v1 = user.to_scim1().unwrap();
    assert_eq!(
        v1,
        json!({
            "schemas": [scim1::CORE, scim1::ENTERPRISE],
            "userName": "bjensen",
            scim1::ENTERPRISE: {"manager": {"managerId": "m1", "displayName": "John"}}
        })
    );
    let back = User::from_scim1(v1).unwrap();
    let m = back.enterprise().unwrap().unwrap().manager.unwrap();
    assert_eq!(m.value.as_deref(), Some("m1"));
    assert_eq!(m.reference, None);
}

#[test]
fn input_is_case_insensitive() {
    let v1 = json!({
        "SCHEMAS": ["URN:SCIM:SCHEMAS:CORE:1.0"],
        "USERNAME": "bjensen",
        "urn:scim:schemas:extension:ENTERPRISE:1.0": {"Manager": {"ManagerID": "m1"}}
    });
    let user = User::from_scim1(v1).unwrap();
    assert_eq!(user.user_name, "bjensen");
    assert_eq!(user.schemas, vec![urn::USER.to_owned()]);
    let m = user.enterprise().unwrap().unwrap().manager.unwrap();
    assert_eq!(m.value.as_deref(), Some("m1"));
}

#[test]
fn unknown_attributes_and_extensions_survive() {
    let v1 = json!({
        "schemas": [scim1::CORE, "urn:example:custom:1.0"],
        "userName": "x",
        "shoeSize": 42,
        "urn:example:custom:1.0": {"badge": "B-7"}
    });
    let user = User::from_scim1(v1.clone()).unwrap();
    assert_eq!(user.other["shoeSize"], 42);
    assert_eq!(user.to_scim1().unwrap(), v1);
}

#[test]
fn resource_kind_is_detected() {
    let user = Resource::from_scim1(json!({"schemas": [scim1::CORE], "userName": "x"})).unwrap();
    assert_eq!(user.schemas, vec![urn::USER.to_owned()]);
    let group = Resource::from_scim1(v1_group()).unwrap();
    assert_eq!(group.schemas, vec![urn::GROUP.to_owned()]);
    assert_eq!(group.to_scim1().unwrap(), v1_group());
    let map = v1_group().as_object().unwrap().clone();
    assert_eq!(ResourceKind::detect(&map), Some(ResourceKind::Group));
}

#[test]
fn bad_input_is_a_400_naming_the_attribute() {
    let err = User::from_scim1(json!({"userName": "x", "active": "maybe"})).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    assert!(err.detail().contains("active"), "{err}");
    let err = scim1::from_slice::<User>(b"{not json").unwrap_err();
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
}

/// SCIM 1.1 API §3.2.2 list response.
#[test]
fn list_response_round_trips() {
    let v1 = json!({
        "totalResults": 2,
        "itemsPerPage": 10,
        "startIndex": 1,
        "schemas": ["urn:scim:schemas:core:1.0"],
        "Resources": [
            {"schemas": ["urn:scim:schemas:core:1.0"], "id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen"},
            {"schemas": ["urn:scim:schemas:core:1.0"], "id": "c75ad752-64ae-4823-840d-ffa80929976c", "userName": "jsmith"}
        ]
    });
    let list = ListResponse::<User>::from_scim1(v1.clone()).unwrap();
    assert_eq!(list.total_results, 2);
    assert_eq!(list.resources[1].user_name, "jsmith");
    assert_eq!(list.schemas, vec![urn::LIST_RESPONSE.to_owned()]);
    let v2 = serde_json::to_value(&list).unwrap();
    assert_eq!(v2["schemas"], json!([urn::LIST_RESPONSE]));
    assert_eq!(v2["Resources"][0]["schemas"], json!([urn::USER]));
    assert_eq!(list.to_scim1().unwrap(), v1);

    // A 2.0 list (no stored schemas) is written with the 1.1 core URN.
    let fresh = ListResponse::new(vec![User::new("a")], 1, 1);
    let out = fresh.to_scim1().unwrap();
    assert_eq!(out["schemas"], json!([scim1::CORE]));
    assert_eq!(out["Resources"][0]["schemas"], json!([scim1::CORE]));

    let err =
        ListResponse::<User>::from_scim1(json!({"Resources": [{"userName": "a"}, {"active": 3}]}))
            .unwrap_err();
    assert!(err.detail().contains("Resources[1].active"), "{err}");
}

/// SCIM 1.1 API §3.9 error response.
#[test]
fn error_body_maps_both_ways() {
    let v1 = json!({
        "Errors": [{"description": "Resource 2819c223-7f76-453a-919d-413861904646 not found", "code": "404"}]
    });
    let body = ErrorBody::from_scim1(v1.clone()).unwrap();
    assert_eq!(body.status, "404");
    assert_eq!(
        body.detail.as_deref(),
        Some("Resource 2819c223-7f76-453a-919d-413861904646 not found")
    );
    assert_eq!(body.to_scim1().unwrap(), v1);

    let err = ScimError::not_found("User", "2819c223");
    let v1 = serde_json::to_value(Scim1ErrorBody::from(&err)).unwrap();
    assert_eq!(
        v1,
        json!({"Errors": [{"description": "User 2819c223 not found", "code": "404"}]})
    );

    // Received from a 1.1 server.
    let received: Scim1ErrorBody = serde_json::from_value(json!({
        "errors": [{"Description": "bad", "Code": "409"}, {"description": "second"}]
    }))
    .unwrap();
    let e = ScimError::from(received);
    assert_eq!(e.status(), http::StatusCode::CONFLICT);
    assert_eq!(e.detail(), "bad");
}

fn op(kind: Scim1OpKind, path: &str, value: Option<Value>) -> Scim1PatchOp {
    Scim1PatchOp {
        op: kind,
        path: Some(path.to_owned()),
        value,
    }
}

/// SCIM 1.1 API §3.3.2: add a member and delete another one.
#[test]
fn patch_member_delete_and_add() {
    let body = json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "members": [
            {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646", "operation": "delete"},
            {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}
        ]
    });
    let ops = patch_operations(&body, None).unwrap();
    assert_eq!(
        ops,
        vec![
            op(
                Scim1OpKind::Remove,
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                None
            ),
            op(
                Scim1OpKind::Add,
                "members",
                Some(
                    json!([{"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}])
                )
            ),
        ]
    );
    // Every path is a valid 2.0 PATCH path.
    for o in &ops {
        o.path
            .as_deref()
            .unwrap()
            .parse::<scim_filter::PatchPath>()
            .unwrap();
    }
}

/// SCIM 1.1 API §3.3.2: replace all members (`meta.attributes` clears first, then adds).
#[test]
fn patch_replace_all_members() {
    let body = json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "members": [
            {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646"},
            {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}
        ],
        "meta": {"attributes": ["members"]}
    });
    let ops = patch_operations(&body, None).unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0], op(Scim1OpKind::Remove, "members", None));
    assert_eq!(ops[1].op, Scim1OpKind::Add);
    assert_eq!(ops[1].value.as_ref().unwrap().as_array().unwrap().len(), 2);
}

/// SCIM 1.1 API §3.3.2: delete all members.
#[test]
fn patch_delete_all_members() {
    let body = json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "meta": {"attributes": ["members"]}
    });
    assert_eq!(
        patch_operations(&body, None).unwrap(),
        vec![op(Scim1OpKind::Remove, "members", None)]
    );
}

/// SCIM 1.1 API §3.3.2: modify a user's attributes and delete others.
#[test]
fn patch_user_attributes() {
    let body = json!({
        "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home", "operation": "delete"}
        ],
        "addresses": [{"type": "home", "operation": "delete"}],
        "urn:scim:schemas:extension:enterprise:1.0": {
            "manager": {"managerId": "m2"},
            "department": "Sales"
        },
        "meta": {"attributes": [
            "nickName",
            "name.middleName",
            "urn:scim:schemas:extension:enterprise:1.0:costCenter",
            "urn:scim:schemas:extension:enterprise:1.0:manager.managerId"
        ]}
    });
    let ops = patch_operations(&body, None).unwrap();
    let ent = urn::ENTERPRISE_USER;
    let expected = vec![
        op(Scim1OpKind::Remove, "nickName", None),
        op(Scim1OpKind::Remove, "name.middleName", None),
        op(Scim1OpKind::Remove, &format!("{ent}:costCenter"), None),
        op(Scim1OpKind::Remove, &format!("{ent}:manager.value"), None),
        op(Scim1OpKind::Remove, r#"addresses[type eq "home"]"#, None),
        op(
            Scim1OpKind::Add,
            "emails",
            Some(json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])),
        ),
        op(
            Scim1OpKind::Remove,
            r#"emails[value eq "babs@jensen.org"]"#,
            None,
        ),
        op(
            Scim1OpKind::Replace,
            "name",
            Some(json!({"familyName": "Jensen", "givenName": "Barbara"})),
        ),
        op(
            Scim1OpKind::Replace,
            &format!("{ent}:department"),
            Some(json!("Sales")),
        ),
        op(
            Scim1OpKind::Replace,
            &format!("{ent}:manager"),
            Some(json!({"value": "m2"})),
        ),
    ];
    assert_eq!(ops, expected);
    for o in &ops {
        o.path
            .as_deref()
            .unwrap()
            .parse::<scim_filter::PatchPath>()
            .unwrap_or_else(|e| panic!("{:?}: {e}", o.path));
    }
}

#[test]
fn patch_against_current_resource() {
    let current = json!({
        "schemas": [urn::USER],
        "userName": "bjensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "old@example.com", "type": "home"}
        ]
    });
    let body = json!({
        "emails": [
            // Already present: becomes a replace of that element (update).
            {"value": "BJENSEN@example.com", "type": "work", "primary": true},
            // Not present: delete is a no-op.
            {"value": "nobody@example.com", "operation": "delete"},
            {"value": "old@example.com", "operation": "delete"},
            {"value": "new@example.com", "type": "other"}
        ],
        "meta": {"attributes": ["title", "userName"]}
    });
    let ops = patch_operations(&body, Some(&current)).unwrap();
    assert_eq!(
        ops,
        vec![
            op(Scim1OpKind::Remove, "userName", None),
            op(
                Scim1OpKind::Replace,
                r#"emails[value eq "BJENSEN@example.com"]"#,
                Some(json!({"value": "BJENSEN@example.com", "type": "work", "primary": true}))
            ),
            op(
                Scim1OpKind::Remove,
                r#"emails[value eq "old@example.com"]"#,
                None
            ),
            op(
                Scim1OpKind::Add,
                "emails",
                Some(json!([{"value": "new@example.com", "type": "other"}]))
            ),
        ]
    );
}

#[test]
fn patch_request_is_an_rfc_patch_op() {
    let ops = patch_operations(
        &json!({"displayName": "New", "meta": {"attributes": ["members"]}}),
        None,
    )
    .unwrap();
    let req = patch_request(&ops);
    assert_eq!(
        req,
        json!({
            "schemas": [urn::PATCH_OP],
            "Operations": [
                {"op": "remove", "path": "members"},
                {"op": "replace", "path": "displayName", "value": "New"}
            ]
        })
    );
    // Each op also serialises on its own as an RFC operation.
    assert_eq!(
        serde_json::to_value(&ops[0]).unwrap(),
        json!({"op": "remove", "path": "members"})
    );
}

#[test]
fn patch_errors() {
    let e = patch_operations(&json!([1]), None).unwrap_err();
    assert_eq!(e.scim_type(), Some(scim_core::ScimType::InvalidSyntax));

    let e = patch_operations(&json!({"meta": {"attributes": "members"}}), None).unwrap_err();
    assert!(e.detail().contains("meta.attributes"), "{e}");

    let e = patch_operations(&json!({"meta": {"attributes": ["bad name"]}}), None).unwrap_err();
    assert_eq!(e.scim_type(), Some(scim_core::ScimType::InvalidPath));
    assert!(e.detail().contains("bad name"), "{e}");

    let e = patch_operations(
        &json!({"members": [{"value": "x", "operation": "merge"}]}),
        None,
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(scim_core::ScimType::InvalidValue));
    assert!(e.detail().contains("members.operation"), "{e}");

    let e = patch_operations(&json!({"members": [{"operation": "delete"}]}), None).unwrap_err();
    assert!(e.detail().contains("members"), "{e}");

    let e = patch_operations(&json!({"bad name": 1}), None).unwrap_err();
    assert_eq!(e.scim_type(), Some(scim_core::ScimType::InvalidPath));
}

#[test]
fn patch_escapes_values_in_filters() {
    let body = json!({"members": [{"value": "a\"b\\c", "operation": "DELETE"}]});
    let ops = patch_operations(&body, None).unwrap();
    let path = ops[0].path.as_deref().unwrap();
    assert_eq!(path, r#"members[value eq "a\"b\\c"]"#);
    let parsed: scim_filter::PatchPath = path.parse().unwrap();
    assert!(
        parsed
            .filter()
            .unwrap()
            .matches(&json!({"value": "a\"b\\c"}))
    );
}

/// End to end: 1.1 PATCH bodies applied by the 2.0 engine.
#[test]
fn patch_applies_through_the_v2_engine() {
    use scim_core::patch::{self, PatchOp};
    use scim_core::schema::SchemaRegistry;

    let mut group = Group::from_scim1(v1_group()).unwrap();
    let body = json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "displayName": "Tour Guides (West)",
        "members": [
            {"display": "Babs Jensen", "value": "2819c223-7f76-453a-919d-413861904646", "operation": "delete"},
            {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210", "type": "User"}
        ]
    });
    let current = serde_json::to_value(&group).unwrap();
    let ops = patch_operations(&body, Some(&current)).unwrap();
    let patch = PatchOp::from_value(patch_request(&ops)).unwrap();
    patch::apply_group(&mut group, &patch, SchemaRegistry::builtin()).unwrap();
    assert_eq!(group.display_name, "Tour Guides (West)");
    let ids: Vec<_> = group
        .members
        .iter()
        .map(|m| m.value.as_deref().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "902c246b-6245-4190-8e05-00816be7344a",
            "fc348aa8-3835-40eb-a20b-c726e15c55b5",
            "08e1d05d-121c-4561-8b96-473d93df9210"
        ]
    );

    // Replace all members: meta.attributes clears, then the list is added.
    let body = json!({
        "members": [{"value": "u9", "display": "Nine"}],
        "meta": {"attributes": ["members"]}
    });
    let ops = patch_operations(&body, None).unwrap();
    let patch = PatchOp::from_value(patch_request(&ops)).unwrap();
    patch::apply_group(&mut group, &patch, SchemaRegistry::builtin()).unwrap();
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.members[0].value.as_deref(), Some("u9"));

    // A user: update an email in place, clear a sub-attribute, change the manager.
    let mut user = User::from_scim1(v1_full_user()).unwrap();
    let body = json!({
        "emails": [{"value": "babs@jensen.org", "type": "home", "primary": true}],
        "urn:scim:schemas:extension:enterprise:1.0": {"manager": {"managerId": "m2"}},
        "meta": {"attributes": ["name.middleName", "nickName"]}
    });
    let current = serde_json::to_value(&user).unwrap();
    let ops = patch_operations(&body, Some(&current)).unwrap();
    let patch = PatchOp::from_value(patch_request(&ops)).unwrap();
    patch::apply_user(&mut user, &patch, SchemaRegistry::builtin()).unwrap();
    assert_eq!(user.emails.len(), 2);
    assert_eq!(user.primary_email(), Some("babs@jensen.org"));
    assert_eq!(user.name.as_ref().unwrap().middle_name, None);
    assert_eq!(user.nick_name, None);
    let manager = user.enterprise().unwrap().unwrap().manager.unwrap();
    assert_eq!(manager.value.as_deref(), Some("m2"));
    // The back-conversion shows the 1.1 shape again.
    let v1 = user.to_scim1().unwrap();
    assert_eq!(v1[scim1::ENTERPRISE]["manager"]["managerId"], "m2");
}
