//! A backend holding nothing, for what the service does around it: it records the contexts
//! `get_user` sees, panics in `create_user`, and reports the capabilities it is given.
use async_trait::async_trait;
use scim_core::etag::ETag;
use scim_core::provision::{Capabilities, Provisioner, RequestContext};
use scim_core::{Group, ScimError, User};
use std::sync::Mutex;

#[derive(Default)]
pub struct Stub {
    pub caps: Capabilities,
    pub seen: Mutex<Vec<RequestContext>>,
}

fn none<T>() -> Result<T, ScimError> {
    Err(ScimError::not_found("Resource", "any"))
}

#[async_trait]
impl Provisioner for Stub {
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }
    async fn create_user(&self, _: &RequestContext, _: User) -> Result<User, ScimError> {
        panic!("a panicking backend")
    }
    async fn get_user(&self, ctx: &RequestContext, id: &str) -> Result<User, ScimError> {
        self.seen.lock().unwrap().push(ctx.clone());
        Err(ScimError::not_found("User", id))
    }
    async fn replace_user(
        &self,
        _: &RequestContext,
        _: &str,
        _: User,
        _: Option<&ETag>,
    ) -> Result<User, ScimError> {
        none()
    }
    async fn delete_user(
        &self,
        _: &RequestContext,
        _: &str,
        _: Option<&ETag>,
    ) -> Result<(), ScimError> {
        none()
    }
    async fn scan_users(
        &self,
        _: &RequestContext,
        _: usize,
        _: usize,
    ) -> Result<Vec<User>, ScimError> {
        Ok(Vec::new())
    }
    async fn create_group(&self, _: &RequestContext, _: Group) -> Result<Group, ScimError> {
        none()
    }
    async fn get_group(&self, _: &RequestContext, _: &str) -> Result<Group, ScimError> {
        none()
    }
    async fn replace_group(
        &self,
        _: &RequestContext,
        _: &str,
        _: Group,
        _: Option<&ETag>,
    ) -> Result<Group, ScimError> {
        none()
    }
    async fn delete_group(
        &self,
        _: &RequestContext,
        _: &str,
        _: Option<&ETag>,
    ) -> Result<(), ScimError> {
        none()
    }
    async fn scan_groups(
        &self,
        _: &RequestContext,
        _: usize,
        _: usize,
    ) -> Result<Vec<Group>, ScimError> {
        Ok(Vec::new())
    }
}
