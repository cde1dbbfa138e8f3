//! The policy's name transformations and group mapping applied to Cloud lookups and user
//! names.

use std::borrow::Cow;

use scim_core::provision::ListQuery;
use scim_core::{ScimError, User};
use scim_filter::{CompValue, CompareOp, Filter};

use super::Kind;
use scim_provisioning::policy::CompiledPolicy;
use scim_provisioning::policy::transform::CompiledTransform;

/// The compiled `user_name` and `group_name` transformations.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    user: CompiledTransform,
    group: CompiledTransform,
}

impl Names {
    pub(crate) fn new(policy: &CompiledPolicy) -> Self {
        Names {
            user: policy.user_name.clone(),
            group: policy.group_name.clone(),
        }
    }

    pub(crate) fn users_identity(&self) -> bool {
        self.user.is_identity()
    }

    pub(crate) fn user(&self, mut user: User) -> Result<User, ScimError> {
        if !self.user.is_identity() {
            user.user_name = apply(&self.user, "userName", &user.user_name)?;
        }
        Ok(user)
    }

    /// `query` with the value of a top-level `userName eq` (users) or `displayName eq` (groups)
    /// transformed, so the lookup finds what was stored under the transformed name.
    pub(crate) fn query<'a>(
        &self,
        kind: Kind,
        query: &'a ListQuery,
    ) -> Result<Cow<'a, ListQuery>, ScimError> {
        let (transform, attr) = match kind {
            Kind::Users => (&self.user, "userName"),
            Kind::Groups => (&self.group, "displayName"),
        };
        if transform.is_identity() {
            return Ok(Cow::Borrowed(query));
        }
        match &query.filter {
            Some(Filter::Compare(path, CompareOp::Eq, CompValue::String(value)))
                if path.sub_attr().is_none() && path.name().eq_ignore_ascii_case(attr) =>
            {
                let name = apply(transform, attr, value.as_str())?;
                let mut rewritten = query.clone();
                rewritten.filter = Some(Filter::eq_str(path.clone(), &name));
                Ok(Cow::Owned(rewritten))
            }
            _ => Ok(Cow::Borrowed(query)),
        }
    }
}

fn apply(transform: &CompiledTransform, attr: &str, name: &str) -> Result<String, ScimError> {
    transform.apply(name).ok_or_else(|| {
        ScimError::invalid_value(
            attr,
            format_args!(
                "the policy's {} transformation leaves nothing of {name:?}",
                transform.setting()
            ),
        )
    })
}

impl Names {
    /// `query` with the value of a top-level `displayName eq` turned into the Cloud group the
    /// policy maps that IdP name to; `None` when the policy ignores the name (nothing to find).
    pub(crate) fn group_query<'a>(
        &self,
        policy: &CompiledPolicy,
        query: &'a ListQuery,
    ) -> Result<Option<Cow<'a, ListQuery>>, ScimError> {
        if policy.groups_are_identity() {
            return Ok(Some(Cow::Borrowed(query)));
        }
        match &query.filter {
            Some(Filter::Compare(path, CompareOp::Eq, CompValue::String(value)))
                if path.sub_attr().is_none() && path.name().eq_ignore_ascii_case("displayName") =>
            {
                let Some(name) = policy
                    .jira_groups(value.as_str())
                    .and_then(|t| t.into_iter().next())
                else {
                    // Refused like a create would be, or simply not synced.
                    apply(&self.group, "displayName", value.as_str())?;
                    return Ok(None);
                };
                let mut rewritten = query.clone();
                rewritten.filter = Some(Filter::eq_str(path.clone(), &name));
                Ok(Some(Cow::Owned(rewritten)))
            }
            _ => Ok(Some(Cow::Borrowed(query))),
        }
    }
}
