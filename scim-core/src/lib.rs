//! Typed SCIM 1.1/2.0 resources, messages, the PATCH engine and a transport-agnostic SCIM service (work in progress).
