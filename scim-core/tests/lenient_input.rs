//! Input as identity providers write it; output strict; errors, never panics.

// Helpers outside #[test] fns are test code too: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};

use scim_core::schema::{SchemaRegistry, enterprise_user_schema, group_schema, user_schema};
use scim_core::{
    EnterpriseUser, Group, ListResponse, Manager, ScimError, ScimType, SearchRequest, SortOrder,
    User, urn,
};
use scim_filter::{AttrType, AttributeSchema, Filter};

fn user(v: &Value) -> Result<User, ScimError> {
    scim_core::from_str(&v.to_string())
}

#[test]
fn attribute_names_in_any_case_at_every_level() {
    let u = user(&json!({
        "SCHEMAS": [urn::USER, urn::ENTERPRISE_USER],
        "ID": "1",
        "ExternalID": "x1",
        "USERNAME": "bjensen",
        "Name": {"GIVENNAME": "Barbara", "familyname": "Jensen"},
        "EMAILS": [{"Value": "b@example.com", "TYPE": "work", "Primary": true, "$REF": null}],
        "phonenumbers": [{"VALUE": "555"}],
        "Addresses": [{"StreetAddress": "1 Main", "POSTALCODE": "1", "primary": "TRUE"}],
        "x509certificates": [{"value": "MII"}],
        "Active": false,
        "Meta": {"ResourceType": "User", "LASTMODIFIED": "2011-05-13T04:42:34Z"},
        "URN:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
            "EmployeeNumber": "42",
            "MANAGER": {"Value": "boss", "DisplayName": "Boss", "$ref": null}
        }
    }))
    .unwrap();
    assert_eq!(u.id.as_deref(), Some("1"));
    assert_eq!(u.external_id.as_deref(), Some("x1"));
    assert_eq!(u.user_name, "bjensen");
    assert_eq!(
        u.name.as_ref().unwrap().given_name.as_deref(),
        Some("Barbara")
    );
    assert_eq!(
        u.name.as_ref().unwrap().family_name.as_deref(),
        Some("Jensen")
    );
    assert_eq!(u.emails[0].value.as_deref(), Some("b@example.com"));
    assert_eq!(u.emails[0].kind.as_deref(), Some("work"));
    assert_eq!(u.emails[0].primary, Some(true));
    assert_eq!(u.emails[0].reference, None);
    assert_eq!(u.phone_numbers[0].value.as_deref(), Some("555"));
    assert_eq!(u.addresses[0].street_address.as_deref(), Some("1 Main"));
    assert_eq!(u.addresses[0].primary, Some(true));
    assert_eq!(u.x509_certificates.len(), 1);
    assert_eq!(u.active, Some(false));
    assert_eq!(
        u.meta.as_ref().unwrap().last_modified.as_deref(),
        Some("2011-05-13T04:42:34Z")
    );
    assert!(u.other.is_empty(), "{:?}", u.other);

    // The extension key and its attributes are matched ignoring case too.
    let ent = u.enterprise().unwrap().unwrap();
    assert_eq!(ent.employee_number.as_deref(), Some("42"));
    assert_eq!(
        ent.manager,
        Some(Manager {
            value: Some("boss".into()),
            display_name: Some("Boss".into()),
            ..Manager::default()
        })
    );

    // Output is canonical.
    let out = serde_json::to_value(&u).unwrap();
    assert_eq!(out["userName"], "bjensen");
    assert_eq!(out["name"]["givenName"], "Barbara");
    assert_eq!(
        out["emails"][0],
        json!({"value": "b@example.com", "type": "work", "primary": true})
    );
    assert_eq!(out["addresses"][0]["primary"], true);
    assert_eq!(out["active"], false);
    assert!(out.get("Name").is_none() && out.get("USERNAME").is_none());
}

#[test]
fn booleans_as_strings() {
    for (s, b) in [
        ("True", true),
        ("false", false),
        ("TRUE", true),
        ("False", false),
    ] {
        let u =
            user(&json!({"userName": "u", "active": s, "emails": [{"value": "e", "primary": s}]}))
                .unwrap();
        assert_eq!(u.active, Some(b));
        assert_eq!(u.emails[0].primary, Some(b));
        let out = serde_json::to_value(&u).unwrap();
        assert_eq!(out["active"], b);
    }
    let u = user(&json!({"userName": "u", "active": null})).unwrap();
    assert_eq!(u.active, None);
}

#[test]
fn non_boolean_string_in_active_is_invalid_value() {
    let err = user(&json!({"userName": "u", "active": "yes"})).unwrap_err();
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(
        matches!(&err, ScimError::InvalidValue { attribute, .. } if attribute == "active"),
        "{err:?}"
    );
    assert!(err.detail().contains("active"), "{}", err.detail());
}

#[test]
fn nested_errors_name_the_path() {
    let err = user(&json!({"userName": "u", "emails": [{"value": "e"}, {"primary": "perhaps"}]}))
        .unwrap_err();
    assert!(
        matches!(&err, ScimError::InvalidValue { attribute, .. } if attribute == "emails.primary"),
        "{err:?}"
    );
    let err = user(&json!({"userName": "u", "name": {"givenName": 5}})).unwrap_err();
    assert!(
        matches!(&err, ScimError::InvalidValue { attribute, .. } if attribute == "name.givenName"),
        "{err:?}"
    );
    let err = user(&json!({"userName": ["a"]})).unwrap_err();
    assert!(err.detail().contains("userName"), "{}", err.detail());

    // In an extension, through the typed accessor.
    let u =
        user(&json!({"userName": "u", urn::ENTERPRISE_USER: {"manager": {"value": 7}}})).unwrap();
    let err = u.enterprise().unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(
        err.detail()
            .contains(&format!("{}:manager.value", urn::ENTERPRISE_USER)),
        "{err}"
    );
}

#[test]
fn malformed_and_wrong_shapes_are_errors_not_panics() {
    for text in [
        "",
        "{",
        "{\"userName\": \"a\"",
        "{\"userName\": \"a\",}",
        "[]",
        "42",
        "\"user\"",
        "{\"emails\": {\"value\": 1}}",
        "{\"emails\": [1, 2]}",
        "{\"name\": []}",
        "{\"meta\": \"x\"}",
        "{\"schemas\": \"urn\"}",
        "{\"groups\": [{\"$ref\": 5}]}",
        "{\"urn:x\": }",
        "{\"active\": 1}",
        "\u{0}",
    ] {
        let err = scim_core::from_str::<User>(text).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST, "{text}");
        assert!(
            matches!(
                err.scim_type(),
                Some(ScimType::InvalidSyntax | ScimType::InvalidValue)
            ),
            "{text}: {err:?}"
        );
        assert!(!err.detail().is_empty());
        let _ = scim_core::from_str::<Group>(text);
        let _ = scim_core::from_str::<ListResponse<User>>(text);
        let _ = scim_core::from_str::<SearchRequest>(text);
    }
    let err = scim_core::from_str::<User>("{").unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidSyntax));
    let err = scim_core::from_str::<User>("{\"emails\": [1]}").unwrap_err();
    assert!(err.detail().contains("emails"), "{err}");
}

#[test]
fn ref_null_is_ignored() {
    let g: Group = scim_core::from_str(
        r#"{"displayName": "g", "members": [{"value": "1", "$ref": null, "display": "A"}]}"#,
    )
    .unwrap();
    assert_eq!(g.members[0].reference, None);
    let out = serde_json::to_value(&g).unwrap();
    assert_eq!(out["members"][0], json!({"value": "1", "display": "A"}));
    assert_eq!(out["schemas"], json!([urn::GROUP]));
}

#[test]
fn unknown_attributes_and_extensions_round_trip() {
    let input = json!({
        "schemas": [urn::USER, "urn:example:custom:1.0"],
        "userName": "u",
        "shoeSize": 42,
        "emails": [{"value": "e", "verified": true}],
        "name": {"givenName": "G", "nameOrder": "west"},
        "meta": {"resourceType": "User", "tenant": "t1"},
        "urn:example:custom:1.0": {"badge": {"color": "red"}, "levels": [1, 2]}
    });
    let u = user(&input).unwrap();
    assert_eq!(u.other.get("shoeSize"), Some(&json!(42)));
    assert_eq!(u.extensions.len(), 1);
    assert_eq!(serde_json::to_value(&u).unwrap(), input);
    // Read-modify-write keeps them.
    let mut u2 = u.clone();
    u2.display_name = Some("D".into());
    let mut expected = input.clone();
    expected["displayName"] = json!("D");
    assert_eq!(serde_json::to_value(&u2).unwrap(), expected);
}

#[test]
fn schemas_always_written_and_list_extensions() {
    let mut u = User::new("u");
    assert_eq!(
        serde_json::to_value(&u).unwrap(),
        json!({"schemas": [urn::USER], "userName": "u"})
    );
    u.set_enterprise(&EnterpriseUser {
        department: Some("Ops".into()),
        ..EnterpriseUser::default()
    })
    .unwrap();
    let out = serde_json::to_value(&u).unwrap();
    assert_eq!(out["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
    assert_eq!(out[urn::ENTERPRISE_USER], json!({"department": "Ops"}));
    u.remove_enterprise();
    assert_eq!(
        serde_json::to_value(&u).unwrap()["schemas"],
        json!([urn::USER])
    );
}

#[test]
fn duplicate_keys_last_wins() {
    let u: User = scim_core::from_str(r#"{"userName": "a", "USERNAME": "b"}"#).unwrap();
    assert_eq!(u.user_name, "b");
}

#[test]
fn messages_read_case_insensitively() {
    let req: SearchRequest = scim_core::from_str(
        r#"{"FILTER": "userName eq \"x\"", "SortBy": "userName", "sortorder": "Descending",
            "STARTINDEX": 0, "Count": -5, "ExcludedAttributes": ["emails"]}"#,
    )
    .unwrap();
    assert_eq!(req.filter.as_deref(), Some("userName eq \"x\""));
    assert_eq!(req.sort_order, Some(SortOrder::Descending));
    assert_eq!(req.start_index(), 1);
    assert_eq!(req.count(), Some(0));
    assert_eq!(req.excluded_attributes, ["emails"]);

    let list: ListResponse<User> = scim_core::from_str(
        r#"{"TOTALRESULTS": 1, "resources": [{"USERNAME": "x"}], "ItemsPerPage": 1}"#,
    )
    .unwrap();
    assert_eq!(list.resources[0].user_name, "x");
    let out = serde_json::to_value(&list).unwrap();
    assert_eq!(out["schemas"], json!([urn::LIST_RESPONSE]));
    assert_eq!(out["Resources"][0]["userName"], "x");
    assert_eq!(out["totalResults"], 1);

    let err = scim_core::from_str::<ListResponse<User>>(r#"{"Resources": [{"active": "no"}]}"#)
        .unwrap_err();
    assert!(
        matches!(&err, ScimError::InvalidValue { attribute, .. } if attribute == "Resources.active"),
        "{err:?}"
    );
}

#[test]
fn error_constructors() {
    let cases = [
        (
            ScimError::invalid_value("emails", "bad"),
            400,
            Some("invalidValue"),
        ),
        (ScimError::not_found("User", "42"), 404, None),
        (
            ScimError::uniqueness("userName", "bjensen"),
            409,
            Some("uniqueness"),
        ),
        (ScimError::mutability("id"), 400, Some("mutability")),
        (
            ScimError::no_target("emails[type eq \"x\"]"),
            400,
            Some("noTarget"),
        ),
        (
            ScimError::invalid_path("emails[", "expected ]"),
            400,
            Some("invalidPath"),
        ),
        (ScimError::too_many("100000 results"), 400, Some("tooMany")),
        (ScimError::invalid_version("1.0"), 400, Some("invalidVers")),
        (
            ScimError::sensitive("password in URL"),
            403,
            Some("sensitive"),
        ),
        (ScimError::invalid_syntax("x"), 400, Some("invalidSyntax")),
        (ScimError::precondition_failed("stale"), 412, None),
    ];
    for (err, status, scim_type) in cases {
        let body = serde_json::to_value(err.to_body()).unwrap();
        assert_eq!(body["status"], status.to_string(), "{err}");
        assert_eq!(body["schemas"], json!([urn::ERROR]));
        assert_eq!(
            body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{err}"
        );
        assert_eq!(body["detail"], err.to_string());
    }
    assert!(ScimError::not_found("User", "42").detail().contains("42"));
    assert_eq!(ScimType::ALL.len(), 10);
    for t in ScimType::ALL {
        assert_eq!(ScimType::from_name(&t.as_str().to_uppercase()), Some(t));
    }
}

#[test]
fn filter_errors_become_invalid_filter() {
    let parse_err = "userName eq".parse::<Filter>().unwrap_err();
    let msg = parse_err.to_string();
    let err = ScimError::from(parse_err);
    assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter));
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    assert!(err.detail().contains(&msg));
}

#[test]
fn builtin_schemas_load() {
    assert_eq!(user_schema().id, urn::USER);
    assert_eq!(group_schema().id, urn::GROUP);
    assert_eq!(enterprise_user_schema().id, urn::ENTERPRISE_USER);
    assert_eq!(user_schema().attributes.len(), 21);
    assert_eq!(group_schema().attributes.len(), 2);
    assert_eq!(enterprise_user_schema().attributes.len(), 6);
    let emails = user_schema().attribute("EMAILS").unwrap();
    assert!(emails.multi_valued);
    assert!(emails.sub_attribute("value").is_some());
    assert_eq!(scim_core::schema::common_attributes().len(), 3);
    // The compiled-in copies equal the RFC corpus.
    for (schema, name) in [
        (user_schema(), "user"),
        (group_schema(), "group"),
        (enterprise_user_schema(), "enterprise_user"),
    ] {
        let path = format!(
            "{}/tests/data/rfc-examples/rfc7643-8.7.1-schema-{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let corpus: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(schema).unwrap(), corpus, "{name}");
    }
}

#[test]
fn registry_answers_filter_questions() {
    let reg = SchemaRegistry::builtin();
    let id = reg.attribute(None, "id", None).unwrap();
    assert!(id.case_exact());
    assert!(!reg.attribute(None, "userName", None).unwrap().case_exact());
    assert!(!reg.attribute(None, "USERNAME", None).unwrap().case_exact());
    let value = reg.attribute(None, "emails", Some("value")).unwrap();
    assert_eq!(value.kind(), AttrType::String);
    assert_eq!(
        reg.attribute(None, "emails", None).unwrap().kind(),
        AttrType::Complex
    );
    assert_eq!(
        reg.attribute(None, "meta", Some("lastModified"))
            .unwrap()
            .kind(),
        AttrType::DateTime
    );
    assert_eq!(
        reg.attribute(None, "active", None).unwrap().kind(),
        AttrType::Boolean
    );
    assert!(
        reg.attribute(Some(urn::USER), "x509Certificates", Some("value"))
            .unwrap()
            .kind()
            == AttrType::Binary
    );
    assert!(
        reg.attribute(Some(urn::ENTERPRISE_USER), "manager", Some("value"))
            .is_some()
    );
    assert!(
        reg.attribute(Some(urn::ENTERPRISE_USER), "employeeNumber", None)
            .is_some()
    );
    assert!(
        reg.attribute(Some(urn::GROUP), "employeeNumber", None)
            .is_none()
    );
    assert!(reg.attribute(None, "nonexistent", None).is_none());
    assert!(reg.attribute(None, "emails", Some("nonexistent")).is_none());

    let groups = reg.resource(urn::GROUP);
    assert!(groups.attribute(None, "members", Some("value")).is_some());
    assert!(groups.attribute(None, "userName", None).is_none());
    assert!(groups.attribute(None, "id", None).unwrap().case_exact());

    // Through scim-filter: `id` is caseExact, `userName` is not.
    let u = json!({"id": "AbC", "userName": "BJensen"});
    let by_id: Filter = r#"id eq "abc""#.parse().unwrap();
    assert!(by_id.matches(&u));
    assert!(!by_id.matches_with(&u, reg));
    let by_name: Filter = r#"username eq "bjensen""#.parse().unwrap();
    assert!(by_name.matches_with(&u, reg));
}

/// IDP-QUIRKS #8: Entra ID sends the manager as a bare id string.
#[test]
fn enterprise_manager_as_a_bare_string() {
    let ext: EnterpriseUser =
        scim_core::from_str(r#"{"employeeNumber": "1", "Manager": "26118915"}"#).unwrap();
    assert_eq!(ext.manager, Some(Manager::with_value("26118915")));
    assert_eq!(
        serde_json::to_value(&ext).unwrap(),
        json!({"employeeNumber": "1", "manager": {"value": "26118915"}})
    );

    // Inside a user (URN key in any case) and a generic resource: decoded and written back in
    // RFC form.
    let input = json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "userName": "bjensen",
        "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "26118915"}
    });
    let u = user(&input).unwrap();
    let ent = u.enterprise().unwrap().unwrap();
    assert_eq!(ent.manager.unwrap().value.as_deref(), Some("26118915"));
    let out = serde_json::to_value(&u).unwrap();
    assert_eq!(
        out["URN:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
        json!({"value": "26118915"})
    );
    let res: scim_core::Resource = scim_core::from_str(&input.to_string()).unwrap();
    let out = serde_json::to_value(&res).unwrap();
    assert_eq!(
        out["URN:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"],
        json!({"value": "26118915"})
    );

    // An empty string names no manager.
    let ext: EnterpriseUser = scim_core::from_str(r#"{"manager": ""}"#).unwrap();
    assert_eq!(ext.manager, Some(Manager::default()));
    let u =
        user(&json!({"userName": "u", urn::ENTERPRISE_USER: {"manager": " ", "department": "d"}}))
            .unwrap();
    assert_eq!(
        serde_json::to_value(&u).unwrap()[urn::ENTERPRISE_USER],
        json!({"department": "d"})
    );

    // Other shapes are still errors naming the attribute.
    for bad in [json!(42), json!(true), json!(["26118915"])] {
        let err = scim_core::from_str::<EnterpriseUser>(&json!({"manager": bad}).to_string())
            .unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{bad}");
        assert!(err.detail().contains("manager"), "{bad}: {err}");
    }
}

/// Error bodies come from other servers too: numeric `status`, unknown `scimType`.
#[test]
fn error_body_reading_tolerance() {
    use scim_core::ErrorBody;

    // A numeric status is read; output writes it as a string.
    let body: ErrorBody =
        scim_core::from_str(r#"{"STATUS": 404, "Detail": "User 1 not found"}"#).unwrap();
    assert_eq!(body.status, "404");
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"schemas": [urn::ERROR], "status": "404", "detail": "User 1 not found"})
    );
    assert_eq!(ScimError::from(body).status(), http::StatusCode::NOT_FOUND);

    // The string form, as the RFC writes it, is unchanged.
    let rfc = json!({"schemas": [urn::ERROR], "status": "400", "scimType": "invalidSyntax", "detail": "x"});
    let body: ErrorBody = scim_core::from_str(&rfc.to_string()).unwrap();
    assert_eq!(body.scim_type, Some(ScimType::InvalidSyntax));
    assert_eq!(serde_json::to_value(&body).unwrap(), rfc);

    // A scimType in another case is the known one, written canonically.
    let body: ErrorBody =
        scim_core::from_str(r#"{"status": 409, "ScimType": "UNIQUENESS"}"#).unwrap();
    assert_eq!(body.scim_type, Some(ScimType::Uniqueness));
    assert_eq!(
        serde_json::to_value(&body).unwrap()["scimType"],
        "uniqueness"
    );

    // An unknown scimType is kept as sent, not rejected, and written back unchanged.
    for unknown in [json!("tooLong"), json!("invalidRequest"), json!(7)] {
        let input =
            json!({"schemas": [urn::ERROR], "status": "400", "scimType": unknown, "detail": "d"});
        let body: ErrorBody = scim_core::from_str(&input.to_string()).unwrap();
        assert_eq!(body.scim_type, None);
        assert_eq!(body.scim_type_name(), unknown.as_str());
        assert_eq!(serde_json::to_value(&body).unwrap(), input);
        let err = ScimError::from(body);
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(err.scim_type(), None);
    }

    // null scimType and status are absent; other shapes of status are still errors.
    let body: ErrorBody = scim_core::from_str(r#"{"status": null, "scimType": null}"#).unwrap();
    assert_eq!(body, ErrorBody::default());
    for bad in [json!(true), json!([400]), json!({"code": 400})] {
        let err =
            scim_core::from_str::<ErrorBody>(&json!({"status": bad}).to_string()).unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{bad}");
        assert!(err.detail().contains("status"), "{bad}: {err}");
    }
}

/// Schema documents from other servers write characteristic values in any case.
#[test]
fn schema_enum_values_in_any_case() {
    use scim_core::Schema;
    use scim_core::schema::{AttributeType, Mutability, Returned, Uniqueness};

    let doc = json!({
        "id": "urn:example:schemas:Device",
        "name": "Device",
        "attributes": [
            {"name": "serial", "type": "String", "multiValued": false, "required": true,
             "caseExact": true, "mutability": "IMMUTABLE", "returned": "Always", "uniqueness": "SERVER"},
            {"name": "owner", "TYPE": "COMPLEX", "multiValued": "False", "required": false,
             "Mutability": "readwrite", "Returned": "DEFAULT", "subAttributes": [
                {"name": "value", "type": "Reference", "referenceTypes": ["User"],
                 "mutability": "READONLY", "returned": "request", "uniqueness": "None"},
                {"name": "since", "type": "DATETIME", "mutability": "WriteOnly", "returned": "NEVER"}
            ]},
            {"name": "ratio", "type": " decimal ", "mutability": "readOnly", "returned": "default",
             "uniqueness": "Global"},
            {"name": "n", "type": "INTEGER", "mutability": "readWrite", "returned": "default"},
            {"name": "b", "type": "Boolean", "mutability": "readWrite", "returned": "default"},
            {"name": "blob", "type": "BINARY", "mutability": "readWrite", "returned": "default"}
        ]
    });
    let schema: Schema = scim_core::from_str(&doc.to_string()).unwrap();
    let serial = schema.attribute("serial").unwrap();
    assert_eq!(serial.kind, AttributeType::String);
    assert_eq!(serial.mutability, Mutability::Immutable);
    assert_eq!(serial.returned, Returned::Always);
    assert_eq!(serial.uniqueness(), Uniqueness::Server);
    let owner = schema.attribute("owner").unwrap();
    assert_eq!(owner.kind, AttributeType::Complex);
    assert_eq!(owner.mutability, Mutability::ReadWrite);
    let value = owner.sub_attribute("value").unwrap();
    assert_eq!(value.kind, AttributeType::Reference);
    assert_eq!(value.mutability, Mutability::ReadOnly);
    assert_eq!(value.returned, Returned::Request);
    assert_eq!(value.uniqueness(), Uniqueness::None);
    let since = owner.sub_attribute("since").unwrap();
    assert_eq!(since.kind, AttributeType::DateTime);
    assert_eq!(since.mutability, Mutability::WriteOnly);
    assert_eq!(since.returned, Returned::Never);
    let ratio = schema.attribute("ratio").unwrap();
    assert_eq!(ratio.kind, AttributeType::Decimal);
    assert_eq!(ratio.uniqueness(), Uniqueness::Global);
    assert_eq!(schema.attribute("n").unwrap().kind, AttributeType::Integer);
    assert_eq!(schema.attribute("b").unwrap().kind, AttributeType::Boolean);
    assert_eq!(
        schema.attribute("blob").unwrap().kind,
        AttributeType::Binary
    );

    // Written in RFC case.
    let out = serde_json::to_value(&schema).unwrap();
    assert_eq!(out["attributes"][0]["type"], "string");
    assert_eq!(out["attributes"][0]["mutability"], "immutable");
    assert_eq!(out["attributes"][0]["returned"], "always");
    assert_eq!(out["attributes"][0]["uniqueness"], "server");
    assert_eq!(out["attributes"][1]["type"], "complex");
    assert_eq!(out["attributes"][1]["subAttributes"][1]["type"], "dateTime");
    assert_eq!(
        out["attributes"][1]["subAttributes"][1]["mutability"],
        "writeOnly"
    );
    assert_eq!(
        out["attributes"][1]["subAttributes"][0]["mutability"],
        "readOnly"
    );
    assert_eq!(out["attributes"][2]["type"], "decimal");

    // Unknown values are still errors naming the attribute and the choices.
    for (attr, bad) in [
        ("type", "text"),
        ("mutability", "sometimes"),
        ("returned", "maybe"),
        ("uniqueness", "tenant"),
    ] {
        let mut def = json!({"name": "x", "type": "string", "mutability": "readWrite", "returned": "default"});
        def[attr] = json!(bad);
        let err =
            scim_core::from_str::<Schema>(&json!({"id": "urn:x", "attributes": [def]}).to_string())
                .unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{attr}");
        let detail = err.detail();
        assert!(detail.contains(attr) && detail.contains(bad), "{detail}");
    }
}
