//! Typed SCIM 2.0 resources (RFC 7643 §4) and the generic [`Resource`] for custom types.

mod common;
pub(crate) mod enterprise;
mod extensions;
mod generic;
mod group;
mod user;

pub use common::{Address, Meta, MultiValue, Name, Password};
pub use enterprise::{EnterpriseUser, Manager};
pub use extensions::{Extensions, SchemaExtension};
pub use generic::Resource;
pub use group::{Group, Member};
pub use user::User;
