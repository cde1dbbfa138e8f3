//! Runnable examples for the scim-rs workspace; the binaries live in `src/bin`.
