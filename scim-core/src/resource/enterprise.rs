//! The enterprise User extension (RFC 7643 §4.3).

use crate::de::scim_object;
use crate::resource::SchemaExtension;
use crate::urn;

scim_object! {
    /// The enterprise User extension (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`,
    /// RFC 7643 §4.3). Read it from a [`User`](crate::User) with
    /// [`User::enterprise`](crate::User::enterprise).
    pub struct EnterpriseUser {
        /// `employeeNumber`.
        pub employee_number: Option<String> = "employeeNumber",
        /// `costCenter`.
        pub cost_center: Option<String> = "costCenter",
        /// `organization`.
        pub organization: Option<String> = "organization",
        /// `division`.
        pub division: Option<String> = "division",
        /// `department`.
        pub department: Option<String> = "department",
        /// `manager`.
        pub manager: Option<Manager> = "manager",
    }
    rest: other;
}

scim_object! {
    /// The user's manager (`manager` of the enterprise extension).
    pub struct Manager {
        /// `value`: the manager's `id`.
        pub value: Option<String> = "value",
        /// `$ref`: the manager's URI; `null` is treated as absent.
        pub reference: Option<String> = "$ref",
        /// `displayName`: read-only on the service provider.
        pub display_name: Option<String> = "displayName",
    }
    rest: other;
}

impl SchemaExtension for EnterpriseUser {
    const URN: &'static str = urn::ENTERPRISE_USER;
}
