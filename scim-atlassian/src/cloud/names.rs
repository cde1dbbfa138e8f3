//! The policy's name transformations, as far as Cloud applies them.

use std::borrow::Cow;

use scim_core::provision::ListQuery;
use scim_core::{Group, ScimError, User};
use scim_filter::{CompValue, CompareOp, Filter};

use super::Kind;
use crate::AtlassianError;
use crate::policy::SyncPolicy;
use crate::policy::transform::CompiledTransform;

/// The compiled `user_name` and `group_name` transformations.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    user: CompiledTransform,
    group: CompiledTransform,
}

impl Names {
    pub(crate) fn new(policy: &SyncPolicy) -> Result<Self, AtlassianError> {
        let compiled = policy.compile()?;
        Ok(Names {
            user: compiled.user_name,
            group: compiled.group_name,
        })
    }

    pub(crate) fn users_identity(&self) -> bool {
        self.user.is_identity()
    }

    pub(crate) fn groups_identity(&self) -> bool {
        self.group.is_identity()
    }

    pub(crate) fn user(&self, mut user: User) -> Result<User, ScimError> {
        if !self.user.is_identity() {
            user.user_name = apply(&self.user, "userName", &user.user_name)?;
        }
        Ok(user)
    }

    pub(crate) fn group(&self, mut group: Group) -> Result<Group, ScimError> {
        if !self.group.is_identity() {
            group.display_name = apply(&self.group, "displayName", &group.display_name)?;
        }
        Ok(group)
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
