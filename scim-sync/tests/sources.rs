#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use scim_core::provision::conformance::block_on;
use scim_core::provision::{Provisioner, RequestContext};
use scim_core::{Group, Member, User};
use scim_sync::{Cursor, DirectorySource, FileSource, ScimSource, SyncError};

fn all_users(source: &dyn DirectorySource) -> Vec<User> {
    block_on(async {
        let mut out = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let (page, next) = source.users_page(cursor).await.unwrap();
            out.extend(page);
            match next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    })
}

#[test]
fn csv_export_reads_users_and_groups() {
    let csv = "userName,externalId,givenName,familyName,email,active,groups\n\
               alice,e1,Alice,\"Smith, Jr\",alice@example.com,true,eng;ops\n\
               bob,,Bob,,,false,eng\n";
    let source = FileSource::from_csv_str(csv).unwrap().with_page_size(1);
    let users = all_users(&source);
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].external_id.as_deref(), Some("e1"));
    assert_eq!(
        users[0].name.as_ref().unwrap().family_name.as_deref(),
        Some("Smith, Jr")
    );
    assert_eq!(users[0].primary_email(), Some("alice@example.com"));
    assert_eq!(users[1].active, Some(false));
    let groups = source.groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].display_name, "eng");
    assert_eq!(groups[0].members.len(), 2);
    assert_eq!(groups[1].members[0].value.as_deref(), Some("alice"));
}

#[test]
fn malformed_files_name_line_and_field() {
    let cases = [
        (
            "userName,active\nalice,maybe\n",
            "CSV line 2, field `active`: expected true or false, found `maybe`",
        ),
        (
            "userName,email\nalice\n",
            "CSV line 2: 1 fields, but the header has 2",
        ),
        (
            "userName,shoeSize\n",
            "CSV line 1, field `shoeSize`: unknown column",
        ),
        (
            "email\nx@example.com\n",
            "CSV line 1, field `userName`: the header has no userName column",
        ),
        (
            "userName,email\nalice,a@x\n,b@x\n",
            "CSV line 3, field `userName`: empty",
        ),
        (
            "userName\nalice\nALICE\n",
            "duplicate user `ALICE` in the source",
        ),
        ("", "CSV line 1: empty file"),
    ];
    for (csv, want) in cases {
        let err = FileSource::from_csv_str(csv).unwrap_err().to_string();
        assert!(err.starts_with(want), "{csv:?}: {err}");
    }
    let err = FileSource::from_json_str(
        "{\"users\": [\n {\"userName\": \"a\"},\n {\"userName\": true}\n]}",
    )
    .unwrap_err();
    assert!(matches!(err, SyncError::Json { line: 3, .. }), "{err}");
    let err = FileSource::from_json_str(r#"{"people": []}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `people`"), "{err}");
    let err = FileSource::from_path("/nonexistent/export.json").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/export.json"),
        "{err}"
    );
}

#[test]
fn scim_source_pages_through_a_server() {
    let (idp, client) = common::idp();
    let ctx = RequestContext::new(common::TENANT);
    block_on(async {
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(
                idp.create_user(&ctx, User::new(format!("user{i}")))
                    .await
                    .unwrap()
                    .id
                    .unwrap(),
            );
        }
        let mut group = Group::new("eng");
        group.members = vec![Member::new(ids[0].clone())];
        idp.create_group(&ctx, group).await.unwrap();
    });
    let source = ScimSource::new(client.clone(), "http://idp.test/scim/v2/")
        .with_bearer_token(common::TOKEN)
        .with_page_size(3);
    assert!(!format!("{source:?}").contains(common::TOKEN));
    let users = all_users(&source);
    assert_eq!(users.len(), 7);
    assert_eq!(users[6].user_name, "user6");

    let filtered = source
        .clone()
        .with_user_filter(r#"userName sw "user1""#.parse().unwrap());
    assert_eq!(all_users(&filtered).len(), 1);

    let (groups, next) = block_on(source.groups_page(None)).unwrap();
    assert_eq!(groups.len(), 1);
    assert!(next.is_none());

    let wrong = ScimSource::new(client, "http://idp.test/scim/v2").with_bearer_token("nope");
    let err = block_on(wrong.users_page(None)).unwrap_err().to_string();
    assert!(err.contains("status 401"), "{err}");
    assert!(!err.contains("nope"), "{err}");
}
