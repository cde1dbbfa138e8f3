//! [`Capabilities`]: what a backend keeps, so discovery answers honestly.

/// What a [`Provisioner`](super::Provisioner) supports beyond the protocol itself, which
/// [`ScimService`](crate::ScimService) reports in `/ServiceProviderConfig` (`changePassword`)
/// and `/Schemas` (the User attributes listed). The default claims every attribute of the
/// core and enterprise User schemas and no password changes, which is what a backend that
/// stores the resource as sent and drops `password` does.
///
/// ```
/// use scim_core::provision::Capabilities;
///
/// // A target that keeps a few attributes and sets passwords.
/// let caps = Capabilities::default()
///     .change_password(true)
///     .user_attributes(["userName", "name", "displayName", "emails", "active"]);
/// assert!(caps.keeps_user_attribute("emails"));
/// assert!(caps.keeps_user_attribute("EMAILS"));
/// assert!(!caps.keeps_user_attribute("addresses"));
/// assert!(!caps.keeps_user_attribute(
///     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
/// ));
/// assert!(Capabilities::default().keeps_user_attribute("addresses"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Whether a create, replace or PATCH may set `password`.
    pub change_password: bool,
    /// The User attributes kept: core attribute names (`title`), extension attributes by
    /// their full name (`urn:...:enterprise:2.0:User:department`). `None`: all of them.
    pub user_attributes: Option<Vec<String>>,
}

impl Capabilities {
    /// Says whether passwords can be set.
    #[must_use]
    pub fn change_password(mut self, supported: bool) -> Self {
        self.change_password = supported;
        self
    }

    /// Keeps only these User attributes (see [`Capabilities::user_attributes`]).
    #[must_use]
    pub fn user_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user_attributes = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the User attribute `name` (a core name, or an extension attribute's full
    /// name) is kept; case-insensitive, as attribute names are.
    pub fn keeps_user_attribute(&self, name: &str) -> bool {
        self.user_attributes
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| k.eq_ignore_ascii_case(name)))
    }
}
