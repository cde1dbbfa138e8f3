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
///
/// // A target that refuses users without an email address.
/// let caps = Capabilities::default().require_user_attributes(["emails"]);
/// assert!(caps.requires_user_attribute("Emails"));
/// assert!(!caps.requires_user_attribute("title"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Whether a create, replace or PATCH may set `password`.
    pub change_password: bool,
    /// The User attributes kept: core attribute names (`title`), extension attributes by
    /// their full name (`urn:...:enterprise:2.0:User:department`). `None`: all of them.
    pub user_attributes: Option<Vec<String>>,
    /// The User attributes beyond `userName` without which the backend refuses a user (Jira
    /// and Bitbucket Data Center: `emails`), named as in
    /// [`Capabilities::user_attributes`]. `/Schemas` marks them `required`, and a complex
    /// one's `value` too, so a client that fills the required attributes sends them.
    pub required_user_attributes: Vec<String>,
    /// Whether a Group's `displayName` is fixed once the group exists (a backend that names
    /// groups by their name alone and cannot rename them): `/Schemas` then says `immutable`,
    /// and a change is the backend's 400 `mutability`.
    pub fixed_group_names: bool,
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

    /// Says whether a Group's `displayName` is fixed (see [`Capabilities::fixed_group_names`]).
    #[must_use]
    pub fn fixed_group_names(mut self, fixed: bool) -> Self {
        self.fixed_group_names = fixed;
        self
    }

    /// Marks these User attributes required (see [`Capabilities::required_user_attributes`]).
    #[must_use]
    pub fn require_user_attributes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_user_attributes = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the backend refuses a User without attribute `name` (named as in
    /// [`Capabilities::user_attributes`]); case-insensitive. `userName` is required by the
    /// schema itself and need not be listed.
    pub fn requires_user_attribute(&self, name: &str) -> bool {
        self.required_user_attributes
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Whether the User attribute `name` (a core name, or an extension attribute's full
    /// name) is kept; case-insensitive, as attribute names are.
    pub fn keeps_user_attribute(&self, name: &str) -> bool {
        self.user_attributes
            .as_ref()
            .is_none_or(|kept| kept.iter().any(|k| k.eq_ignore_ascii_case(name)))
    }
}
