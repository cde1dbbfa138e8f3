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
    /// The user's manager (`manager` of the enterprise extension). A bare string is read as the
    /// manager's id: Entra ID sends `"manager": "26118915"` for `{"value": "26118915"}`
    /// (IDP-QUIRKS #8); it is written back as the object.
    ///
    /// ```
    /// use scim_core::EnterpriseUser;
    ///
    /// let ext: EnterpriseUser = scim_core::from_str(r#"{"manager": "26118915"}"#)?;
    /// assert_eq!(ext.manager.as_ref().and_then(|m| m.value.as_deref()), Some("26118915"));
    /// assert_eq!(
    ///     serde_json::to_string(&ext).unwrap(),
    ///     r#"{"manager":{"value":"26118915"}}"#
    /// );
    /// # Ok::<(), scim_core::ScimError>(())
    /// ```
    pub struct Manager {
        /// `value`: the manager's `id`.
        pub value: Option<String> = "value",
        /// `$ref`: the manager's URI; `null` is treated as absent.
        pub reference: Option<String> = "$ref",
        /// `displayName`: read-only on the service provider.
        pub display_name: Option<String> = "displayName",
    }
    rest: other;
    from_string: Manager::from_id;
}

impl Manager {
    /// A manager given by id (`value`) alone.
    pub fn with_value(id: impl Into<String>) -> Self {
        Manager {
            value: Some(id.into()),
            ..Manager::default()
        }
    }

    /// A bare string in place of the object; an empty one names no manager.
    fn from_id(id: &str) -> Self {
        if id.trim().is_empty() {
            Manager::default()
        } else {
            Manager::with_value(id)
        }
    }
}

/// Rewrites a bare-string `manager` in the raw JSON of the enterprise extension as
/// `{"value": ...}`, so that a resource holding the extension as JSON (its `extensions`) writes
/// it back in RFC form.
pub(crate) fn normalize_raw(ext: &mut serde_json::Value) {
    let Some(map) = ext.as_object_mut() else {
        return;
    };
    let Some(serde_json::Value::String(id)) = crate::json::get_mut_ci(map, "manager") else {
        return;
    };
    if id.trim().is_empty() {
        // An empty id names no manager; leaving `""` or `null` would not be RFC output either.
        crate::json::remove_ci(map, "manager");
    } else {
        let id = std::mem::take(id);
        if let Some(slot) = crate::json::get_mut_ci(map, "manager") {
            *slot = serde_json::json!({ "value": id });
        }
    }
}

impl SchemaExtension for EnterpriseUser {
    const URN: &'static str = urn::ENTERPRISE_USER;
}
