//! What the product provisioners' tests share: the request context, a sample user, and the
//! conformance suite as one test per check.

use scim_core::provision::RequestContext;
use scim_core::{MultiValue, User};

/// The context every request is made in.
pub fn ctx() -> RequestContext {
    RequestContext::new("acme")
}

/// A user with a display name and a primary email (Jira requires one).
pub fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.display_name = Some(format!("{name} display"));
    u.emails = vec![MultiValue::new(format!("{name}@example.com")).primary()];
    u
}

/// [`user`] in the IdP groups `groups` (SCIM `groups` with `value` and `display`).
#[allow(dead_code)] // Not every test binary sends groups with its users.
pub fn user_in(name: &str, groups: &[&str]) -> User {
    let mut u = user(name);
    u.groups = groups
        .iter()
        .map(|g| MultiValue {
            value: Some((*g).to_owned()),
            display: Some((*g).to_owned()),
            ..MultiValue::default()
        })
        .collect();
    u
}

/// A PATCH setting `active` to `on` (how identity providers deactivate and reactivate).
#[allow(dead_code)] // Not every test binary deactivates.
pub fn active(on: bool) -> scim_core::PatchOp {
    scim_core::PatchOp::from_slice(
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations":[{{"op":"replace","path":"active","value":{on}}}]}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

/// One `#[test]` per check of `scim_core::provision::conformance`, each against the fresh
/// provisioner `$fresh` makes. `run_all` cannot hold for one product instance: its
/// `tenant_isolation` check expects two tenants of one backend to have separate user
/// directories, and one Jira, Crowd or Confluence has one directory (an application serving
/// several tenants gives each its own provisioner and instance). Its checks also reuse user
/// names across tenants, hence a fresh instance per check.
macro_rules! conformance_suite {
    ($fresh:expr) => {
        #[test]
        fn conformance_user_crud() {
            block_on(conformance::user_crud(&$fresh, "t"));
        }

        #[test]
        fn conformance_user_name_uniqueness() {
            block_on(conformance::user_name_uniqueness(&$fresh, "t"));
        }

        #[test]
        fn conformance_preconditions() {
            block_on(conformance::preconditions(&$fresh, "t"));
        }

        #[test]
        fn conformance_filters() {
            block_on(conformance::filters(&$fresh, "t"));
        }

        #[test]
        fn conformance_paging_and_sorting() {
            block_on(conformance::paging_and_sorting(&$fresh, "t"));
        }

        #[test]
        fn conformance_patch_users() {
            block_on(conformance::patch_users(&$fresh, "t"));
        }

        #[test]
        fn conformance_group_membership() {
            block_on(conformance::group_membership(&$fresh, "t"));
        }

        #[test]
        fn conformance_concurrent_writers() {
            conformance::concurrent_writers(&$fresh, "t");
        }
    };
}

pub(crate) use conformance_suite;
