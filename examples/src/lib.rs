//! Runnable examples for the scim-rs workspace; the binaries live in `src/bin`.

/// The README's code blocks, compiled and run as doc tests so the README stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
