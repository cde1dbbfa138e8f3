//! `sortBy` / `sortOrder` with the ordering rules of RFC 7644 §3.4.2.3.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};

use scim_core::schema::SchemaRegistry;
use scim_core::sort::sort_resources;
use scim_core::{ScimType, SortOrder, urn};
use scim_filter::NoSchema;

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": "1", "userName": "carol", "name": {"givenName": "Zoe"}}),
        json!({"id": "2", "userName": "Alice"}),
        json!({"id": "3", "name": {"givenName": "adam"}}),
        json!({"id": "4", "userName": "bob", "name": {"givenName": "Bert"}}),
    ]
}

fn sort(list: &mut [Value], by: &str, order: SortOrder) {
    let schema = SchemaRegistry::builtin().resource(urn::USER);
    sort_resources(list, by, order, &schema).unwrap();
}

#[test]
fn strings_case_insensitive_missing_last_ascending_first_descending() {
    let mut list = users();
    sort(&mut list, "userName", SortOrder::Ascending);
    assert_eq!(ids(&list), ["2", "4", "1", "3"]);
    sort(&mut list, "userName", SortOrder::Descending);
    assert_eq!(ids(&list), ["3", "1", "4", "2"]);
}

#[test]
fn sub_attribute_and_case_insensitive_path() {
    let mut list = users();
    sort(&mut list, "NAME.GIVENNAME", SortOrder::Ascending);
    assert_eq!(ids(&list), ["3", "4", "1", "2"]);
    let mut list = users();
    sort(
        &mut list,
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        SortOrder::Ascending,
    );
    assert_eq!(ids(&list), ["3", "4", "1", "2"]);
}

#[test]
fn case_exact_attributes_compare_exactly() {
    // `id` is caseExact: "B" < "a" in code point order.
    let mut list = vec![json!({"id": "a"}), json!({"id": "B"}), json!({"id": "c"})];
    sort(&mut list, "id", SortOrder::Ascending);
    assert_eq!(ids(&list), ["B", "a", "c"]);
    // Without a schema, case-insensitive.
    sort_resources(&mut list, "id", SortOrder::Ascending, &NoSchema).unwrap();
    assert_eq!(ids(&list), ["a", "B", "c"]);
}

#[test]
fn multi_valued_sorts_by_primary_else_first() {
    let mut list = vec![
        json!({"id": "1", "emails": [{"value": "a@x.com"}, {"value": "z@x.com", "primary": true}]}),
        json!({"id": "2", "emails": [{"value": "m@x.com"}, {"value": "b@x.com"}]}),
        json!({"id": "3", "emails": []}),
        json!({"id": "4", "emails": [{"value": "c@x.com", "type": "work", "primary": "True"}]}),
    ];
    sort(&mut list, "emails", SortOrder::Ascending);
    assert_eq!(ids(&list), ["4", "2", "1", "3"]);
    sort(&mut list, "emails.value", SortOrder::Ascending);
    assert_eq!(ids(&list), ["4", "2", "1", "3"]);
    sort(&mut list, "emails.type", SortOrder::Ascending);
    assert_eq!(ids(&list), ["4", "2", "1", "3"]);
}

#[test]
fn datetimes_compare_as_instants() {
    let mut list = vec![
        json!({"id": "1", "meta": {"lastModified": "2011-05-13T04:42:34Z"}}),
        json!({"id": "2", "meta": {"lastModified": "2011-05-13T06:00:00+02:00"}}),
        json!({"id": "3", "meta": {"lastModified": "2011-05-13T04:00:00.5-01:00"}}),
    ];
    sort(&mut list, "meta.lastModified", SortOrder::Ascending);
    // 2 = 04:00Z, 1 = 04:42:34Z, 3 = 05:00:00.5Z
    assert_eq!(ids(&list), ["2", "1", "3"]);
}

#[test]
fn numbers_and_booleans() {
    let mut list = vec![
        json!({"id": "1", "n": 10, "active": true}),
        json!({"id": "2", "n": 9.5, "active": false}),
        json!({"id": "3", "n": -1}),
    ];
    sort(&mut list, "n", SortOrder::Ascending);
    assert_eq!(ids(&list), ["3", "2", "1"]);
    sort(&mut list, "active", SortOrder::Ascending);
    assert_eq!(ids(&list), ["2", "1", "3"]);
    sort(&mut list, "active", SortOrder::Descending);
    assert_eq!(ids(&list), ["3", "1", "2"]);
}

#[test]
fn extension_attributes() {
    let ent = urn::ENTERPRISE_USER;
    let mut list = vec![
        json!({"id": "1", ent: {"employeeNumber": "300"}}),
        json!({"id": "2", ent: {"employeeNumber": "100"}}),
        json!({"id": "3"}),
    ];
    sort(
        &mut list,
        &format!("{ent}:employeeNumber"),
        SortOrder::Ascending,
    );
    assert_eq!(ids(&list), ["2", "1", "3"]);
}

#[test]
fn stable_in_both_directions() {
    let mut list: Vec<Value> = (0..6)
        .map(|i| json!({"id": i.to_string(), "title": if i % 2 == 0 { "A" } else { "b" }}))
        .collect();
    sort(&mut list, "title", SortOrder::Ascending);
    assert_eq!(ids(&list), ["0", "2", "4", "1", "3", "5"]);
    let mut list: Vec<Value> = (0..6)
        .map(|i| json!({"id": i.to_string(), "title": if i % 2 == 0 { "a" } else { "B" }}))
        .collect();
    sort(&mut list, "title", SortOrder::Descending);
    assert_eq!(ids(&list), ["1", "3", "5", "0", "2", "4"]);
}

#[test]
fn invalid_sort_by_is_invalid_value() {
    let mut list = users();
    let schema = SchemaRegistry::builtin().resource(urn::USER);
    let err = sort_resources(&mut list, "user name", SortOrder::Ascending, &schema).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(err.detail().contains("sortBy"), "{err}");
    assert!(err.detail().contains("user name"), "{err}");
    // Unknown attributes are not an error and keep the order.
    sort_resources(&mut list, "shoeSize", SortOrder::Ascending, &schema).unwrap();
    assert_eq!(ids(&list), ["1", "2", "3", "4"]);
}

#[test]
fn odd_values_do_not_panic() {
    let mut list = vec![
        json!(null),
        json!("string"),
        json!({"id": "x", "userName": {"nested": 1}}),
        json!({"id": "y", "userName": [1, "a", null]}),
        json!({"id": "z", "userName": 5}),
    ];
    sort(&mut list, "userName", SortOrder::Ascending);
    sort(&mut list, "userName.x", SortOrder::Descending);
}
