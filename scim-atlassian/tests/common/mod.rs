//! What the Data Center targets' provisioner tests share.

/// One test per scim-core conformance check, each against a fresh provisioner from `$make`
/// (an expression yielding something with a `p` field holding the provisioner).
///
/// `conformance::run_all` cannot hold for one Data Center product as a whole: its
/// `tenant_isolation` check expects two tenants of one backend to have separate user
/// directories, and one product instance has one (an `AtlassianProvisioner` serves one
/// instance; tenants get their own provisioner and instance). Every other check runs, each
/// against a fresh instance, since `run_all`'s checks reuse user names across tenants.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        #[test]
        fn conformance_user_crud() {
            block_on(conformance::user_crud(&$make.p, "t"));
        }

        #[test]
        fn conformance_user_name_uniqueness() {
            block_on(conformance::user_name_uniqueness(&$make.p, "t"));
        }

        #[test]
        fn conformance_preconditions() {
            block_on(conformance::preconditions(&$make.p, "t"));
        }

        #[test]
        fn conformance_filters() {
            block_on(conformance::filters(&$make.p, "t"));
        }

        #[test]
        fn conformance_paging_and_sorting() {
            block_on(conformance::paging_and_sorting(&$make.p, "t"));
        }

        #[test]
        fn conformance_patch_users() {
            block_on(conformance::patch_users(&$make.p, "t"));
        }

        #[test]
        fn conformance_group_membership() {
            block_on(conformance::group_membership(&$make.p, "t"));
        }

        #[test]
        fn conformance_concurrent_writers() {
            conformance::concurrent_writers(&$make.p, "t");
        }
    };
}
