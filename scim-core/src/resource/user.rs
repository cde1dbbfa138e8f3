//! [`User`] (RFC 7643 §4.1).

use crate::de::scim_object;
use crate::error::ScimError;
use crate::resource::{Address, EnterpriseUser, Meta, MultiValue, Name, Password};

scim_object! {
    /// A SCIM User (RFC 7643 §4.1) with every core attribute typed.
    ///
    /// Input is read the way identity providers write it: attribute names in any case, booleans
    /// as strings (`"True"`), `"$ref": null` as absent. Output is strict: canonical camelCase,
    /// `schemas` always present (with the URN of every extension), empty attributes left out, and
    /// `password` never written. Unknown attributes (`other`) and extensions (`extensions`, keyed
    /// by URN) survive a round trip unchanged.
    ///
    /// ```
    /// use scim_core::{EnterpriseUser, User};
    ///
    /// let mut user: User = scim_core::from_str(r#"{
    ///     "UserName": "bjensen",
    ///     "ACTIVE": "True",
    ///     "emails": [{"Value": "bjensen@example.com", "primary": "true"}],
    ///     "password": "t1meMa$heen",
    ///     "urn:example:custom:1.0": {"shoeSize": 42}
    /// }"#).unwrap();
    /// assert_eq!(user.user_name, "bjensen");
    /// assert_eq!(user.active, Some(true));
    /// assert_eq!(user.emails[0].primary, Some(true));
    ///
    /// user.set_enterprise(&EnterpriseUser {
    ///     employee_number: Some("701984".into()),
    ///     ..EnterpriseUser::default()
    /// }).unwrap();
    ///
    /// let json = serde_json::to_value(&user).unwrap();
    /// assert_eq!(json["userName"], "bjensen");
    /// assert!(json.get("password").is_none());
    /// assert_eq!(json["urn:example:custom:1.0"]["shoeSize"], 42);
    /// assert_eq!(json["schemas"], serde_json::json!([
    ///     "urn:ietf:params:scim:schemas:core:2.0:User",
    ///     "urn:example:custom:1.0",
    ///     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    /// ]));
    /// ```
    pub struct User {
        /// `id`: assigned by the service provider.
        pub id: Option<String> = "id",
        /// `externalId`: the client's identifier.
        pub external_id: Option<String> = "externalId",
        /// `userName` (required by RFC 7643; empty means absent and is not written).
        pub user_name: String = "userName",
        /// `name`.
        pub name: Option<Name> = "name",
        /// `displayName`.
        pub display_name: Option<String> = "displayName",
        /// `nickName`.
        pub nick_name: Option<String> = "nickName",
        /// `profileUrl`.
        pub profile_url: Option<String> = "profileUrl",
        /// `title`.
        pub title: Option<String> = "title",
        /// `userType`.
        pub user_type: Option<String> = "userType",
        /// `preferredLanguage`.
        pub preferred_language: Option<String> = "preferredLanguage",
        /// `locale`.
        pub locale: Option<String> = "locale",
        /// `timezone`.
        pub timezone: Option<String> = "timezone",
        /// `active`. Accepts `"True"`/`"false"` in any case.
        pub active: Option<bool> = "active",
        /// `password`: write-only, never serialised.
        pub password: Option<Password> = "password",
        /// `emails`.
        pub emails: Vec<MultiValue> = "emails",
        /// `phoneNumbers`.
        pub phone_numbers: Vec<MultiValue> = "phoneNumbers",
        /// `ims`.
        pub ims: Vec<MultiValue> = "ims",
        /// `photos`.
        pub photos: Vec<MultiValue> = "photos",
        /// `addresses`.
        pub addresses: Vec<Address> = "addresses",
        /// `groups`: read-only, maintained by the service provider from group memberships.
        pub groups: Vec<MultiValue> = "groups",
        /// `entitlements`.
        pub entitlements: Vec<MultiValue> = "entitlements",
        /// `roles`.
        pub roles: Vec<MultiValue> = "roles",
        /// `x509Certificates`: base64 DER certificates.
        pub x509_certificates: Vec<MultiValue> = "x509Certificates",
        /// `meta`.
        pub meta: Option<Meta> = "meta",
    }
    rest: other;
    schemas: "urn:ietf:params:scim:schemas:core:2.0:User";
    extensions: extensions;
}

impl User {
    /// A user with `userName` set.
    pub fn new(user_name: impl Into<String>) -> Self {
        User {
            user_name: user_name.into(),
            ..User::default()
        }
    }

    /// The enterprise extension, decoded (attribute names and the URN key matched
    /// case-insensitively). `Ok(None)` when absent; an error names the offending attribute.
    pub fn enterprise(&self) -> Result<Option<EnterpriseUser>, ScimError> {
        self.extensions.get::<EnterpriseUser>()
    }

    /// Sets the enterprise extension (`schemas` will list its URN on output).
    pub fn set_enterprise(&mut self, ext: &EnterpriseUser) -> Result<(), ScimError> {
        self.extensions.set(ext)
    }

    /// Removes the enterprise extension and its URN from `schemas`.
    pub fn remove_enterprise(&mut self) {
        let urn = crate::urn::ENTERPRISE_USER;
        self.extensions.remove(urn);
        self.schemas.retain(|s| !s.eq_ignore_ascii_case(urn));
    }

    /// The `primary` email, or else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .and_then(|e| e.value.as_deref())
    }
}
