//! The resource benches time the success path: their inputs decode, with the extension.

use scim_benches::USER;
use scim_core::User;

#[test]
fn the_bench_user_decodes_with_its_enterprise_extension() {
    let user: User = scim_core::from_str(USER).unwrap();
    assert!(!user.user_name.is_empty());
    let enterprise = user.enterprise().unwrap().unwrap();
    assert!(enterprise.employee_number.is_some());
    let back = serde_json::to_value(&user).unwrap();
    assert_eq!(back["userName"], user.user_name.as_str());
}
