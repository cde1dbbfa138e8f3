//! Shared data for the criterion benches in `benches/` and the honesty checks in `tests/`.
//!
//! The corpus is what a SCIM server actually receives in `?filter=`: every example filter of
//! RFC 7644 §3.4.2.2, followed by what Entra ID and Okta send while provisioning, and a few
//! lookups that sync clients issue. Every entry is strict RFC 7644 ABNF, so each parser under
//! comparison can in principle accept it; forms that only a lenient parser accepts are kept
//! apart in [`LENIENT_ONLY`].

/// The filter corpus as `(name, filter)` pairs; names are stable benchmark ids.
///
/// Entries 1-17 are the RFC 7644 §3.4.2.2 examples in the order the RFC lists them. The rest is
/// identity-provider traffic (see `IDP-QUIRKS.md`) and sync-client lookups.
pub const FILTERS: &[(&str, &str)] = &[
    // RFC 7644 §3.4.2.2 examples.
    ("rfc_username_eq", r#"userName eq "bjensen""#),
    ("rfc_family_name_co", r#"name.familyName co "O'Malley""#),
    ("rfc_username_sw", r#"userName sw "J""#),
    (
        "rfc_urn_username_sw",
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    ),
    ("rfc_title_pr", "title pr"),
    (
        "rfc_last_modified_gt",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    ),
    (
        "rfc_last_modified_ge",
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    ),
    (
        "rfc_last_modified_lt",
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    ),
    (
        "rfc_last_modified_le",
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    ),
    (
        "rfc_title_pr_and_user_type",
        r#"title pr and userType eq "Employee""#,
    ),
    (
        "rfc_title_pr_or_user_type",
        r#"title pr or userType eq "Intern""#,
    ),
    (
        "rfc_schemas_eq_enterprise",
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    ),
    (
        "rfc_and_grouped_or",
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        "rfc_and_not_grouped_or",
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        "rfc_and_grouped_sub_attr",
        r#"userType eq "Employee" and (emails.type eq "work")"#,
    ),
    (
        "rfc_and_value_path",
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    ),
    (
        "rfc_value_path_or_value_path",
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ),
    // Entra ID: user and group lookups of the provisioning service and its SCIM validator.
    (
        "entra_username_eq",
        r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#,
    ),
    (
        "entra_external_id_eq",
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c03d4846""#,
    ),
    (
        "entra_display_name_eq",
        r#"displayName eq "Group1DisplayName""#,
    ),
    (
        "entra_enterprise_employee_number_eq",
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    ),
    (
        "entra_members_value_eq",
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    ),
    // Okta: match an existing account before create, look one up by id.
    ("okta_username_eq", r#"userName eq "someone@example.com""#),
    (
        "okta_id_eq",
        r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
    ),
    // Sync clients and admin consoles.
    ("active_eq_true", "active eq true"),
    ("email_value_eq", r#"emails.value eq "bjensen@example.com""#),
    (
        "last_modified_window",
        r#"meta.lastModified ge "2024-01-01T00:00:00Z" and meta.lastModified lt "2024-02-01T00:00:00Z""#,
    ),
    (
        "id_batch_or",
        r#"id eq "2819c223-7f76-453a-919d-413861904646" or id eq "c75ad752-64ae-4823-840d-ffa80929976c" or id eq "902c246b-6245-4190-8e05-00816be7344a""#,
    ),
];

/// Filters real clients send that are not RFC 7644 ABNF and that only a lenient parser accepts
/// (`IDP-QUIRKS.md` #11). They are benchmarked for our parser only, never in the peer comparison.
pub const LENIENT_ONLY: &[(&str, &str)] = &[(
    "lenient_value_path_sub_attr_eq",
    r#"emails[type eq "work"].value eq "x@example.com""#,
)];

/// The smallest realistic filter, benchmarked for every parser to show the fixed cost of a parse.
pub const USERNAME_EQ: &str = r#"userName eq "x""#;

/// A PATCH path with a value filter and a trailing sub-attribute (RFC 7644 §3.5.2).
pub const PATCH_PATH: &str = r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].display"#;

/// Filters evaluated against [`USER`] by the `filter_eval` bench, as `(name, filter, expected)`.
///
/// `expected` is what [`USER`] must give under default SCIM semantics, so a bench cannot
/// silently measure an early exit; `tests/peers.rs` checks it.
pub const EVAL_CASES: &[(&str, &str, bool)] = &[
    ("username_eq", r#"userName eq "bjensen""#, true),
    (
        "value_path",
        r#"emails[type eq "work" and value co "@example.com"]"#,
        true,
    ),
    (
        "datetime_gt",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        false,
    ),
    (
        "and_or_3_terms",
        r#"userType eq "Employee" and (active eq false or title pr)"#,
        true,
    ),
];

/// A typical full SCIM 2.0 User: RFC 7643 §8.2 with the enterprise extension of §8.3.
///
/// `userName` is `bjensen` (as in the RFC 7644 filter examples) rather than the e-mail address
/// of RFC 7643, so that `userName eq "bjensen"` matches.
pub const USER: &str = r#"{
  "schemas": [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
  ],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "701984",
  "userName": "bjensen",
  "name": {
    "formatted": "Ms. Barbara J Jensen, III",
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
    { "value": "bjensen@example.com", "type": "work", "primary": true },
    { "value": "babs@jensen.org", "type": "home" }
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
    { "value": "555-555-5555", "type": "work" },
    { "value": "555-555-4444", "type": "mobile" }
  ],
  "ims": [{ "value": "someaimhandle", "type": "aim" }],
  "photos": [
    {
      "value": "https://photos.example.com/profilephoto/72930000000Ccne/F",
      "type": "photo"
    },
    {
      "value": "https://photos.example.com/profilephoto/72930000000Ccne/T",
      "type": "thumbnail"
    }
  ],
  "userType": "Employee",
  "title": "Tour Guide",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "groups": [
    {
      "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
      "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
      "display": "Tour Guides"
    },
    {
      "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
      "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
      "display": "Employees"
    },
    {
      "value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
      "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
      "display": "US Employees"
    }
  ],
  "x509Certificates": [
    {
      "value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMxEzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYDVQQDDAtleGFtcGxlLmNvbTAeFw0xMTEwMjIwNjI0MzFaFw0xMjEwMDQwNjI0MzFa"
    }
  ],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984",
    "costCenter": "4130",
    "organization": "Universal Studios",
    "division": "Theme Park",
    "department": "Tour Operations",
    "manager": {
      "value": "26118915-6090-4610-87e4-49d8ca9f808d",
      "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
      "displayName": "John Smith"
    }
  },
  "meta": {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "version": "W/\"3694e05e9dff591\"",
    "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
  }
}"#;

/// Display names of the parsers under comparison, used as benchmark ids and in reports.
pub mod names {
    /// This workspace's `scim-filter` crate.
    pub const SCIM_RS: &str = "scim-rs";
    /// kanidm's `scim_proto` 1.10.4 (a `peg` grammar).
    pub const SCIM_PROTO: &str = "scim_proto";
    /// `scim-filter` 0.2.3 from crates.io (a `nom` 7 parser).
    pub const SCIM_FILTER_0_2_3: &str = "scim-filter-0.2.3";
    /// `scim_v2` 1.0.0 (a `lalrpop` grammar).
    pub const SCIM_V2: &str = "scim_v2";
}

/// Each peer's public filter-parsing entry point, called exactly as a user of that crate would.
///
/// Every function returns the parser's own result, so a bench can `black_box` the whole AST.
pub mod peers {
    use std::str::FromStr;

    /// kanidm `scim_proto` 1.10.4: `impl FromStr for scim_proto::filter::ScimFilter`.
    #[inline]
    pub fn scim_proto(
        input: &str,
    ) -> Result<scim_proto::filter::ScimFilter, <scim_proto::filter::ScimFilter as FromStr>::Err>
    {
        input.parse()
    }

    /// `scim-filter` 0.2.3: its only public parse-and-check entry point is
    /// `scim_filter(input, resources)`, which parses `input` (the parser behind it,
    /// `scim_filter_parser`, is crate-private) and then filters `resources`. With no resources
    /// the filtering step is an empty fold, so this measures the parse.
    #[inline]
    pub fn scim_filter_0_2_3(
        input: &str,
    ) -> Result<Vec<serde_json::Value>, scim_filter_peer::Error> {
        scim_filter_peer::scim_filter(input, Vec::<serde_json::Value>::new())
    }

    /// `scim-filter` 0.2.3's AST, for its evaluator `Filter::r#match(&serde_json::Value)`.
    ///
    /// Uses the public nom parser `parser::filter` and, like the crate-private
    /// `scim_filter_parser` behind [`scim_filter_0_2_3`], requires it to consume the whole input.
    pub fn scim_filter_0_2_3_ast(input: &str) -> Option<scim_filter_peer::parser::Filter<'_>> {
        match scim_filter_peer::parser::filter(input) {
            Ok(("", filter)) => Some(filter),
            _ => None,
        }
    }

    /// `scim_v2` 1.0.0: `impl FromStr for scim_v2::filter::Filter`.
    #[inline]
    pub fn scim_v2(input: &str) -> Result<scim_v2::filter::Filter, scim_v2::filter::ParseError> {
        input.parse()
    }

    /// `scim_v2` 1.0.0: `impl FromStr for scim_v2::filter::PatchPath`.
    #[inline]
    pub fn scim_v2_patch_path(
        input: &str,
    ) -> Result<scim_v2::filter::PatchPath, scim_v2::filter::ParseError> {
        input.parse()
    }
}

/// The entries of `corpus` that `accepts` accepts, in corpus order.
///
/// Used to give each parser the part of [`FILTERS`] it can parse, so a rejection never turns
/// into a fast error path inside a timed loop.
pub fn accepted_by<'a>(
    corpus: &[(&'a str, &'a str)],
    accepts: impl Fn(&str) -> bool,
) -> Vec<(&'a str, &'a str)> {
    corpus
        .iter()
        .copied()
        .filter(|&(_, filter)| accepts(filter))
        .collect()
}

/// Creates `n` users (`user00000`, ... with a work email) in `backend` under `ctx`; their ids,
/// in order. The directory the service benches and their callgrind runs share.
///
/// # Panics
///
/// When a create fails: the bench has nothing to measure.
pub async fn seed_users(
    backend: &dyn scim_core::provision::Provisioner,
    ctx: &scim_core::provision::RequestContext,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let mut user = scim_core::User::new(format!("user{i:05}"));
        user.emails =
            vec![scim_core::MultiValue::new(format!("user{i:05}@example.com")).with_type("work")];
        match backend.create_user(ctx, user).await {
            Ok(u) => ids.push(u.id.unwrap_or_default()),
            Err(e) => panic!("seeding: {e}"),
        }
    }
    ids
}
