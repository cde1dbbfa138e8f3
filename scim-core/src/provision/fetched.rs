//! [`FetchedUser`] and [`UserJson`]: a user as a backend that keeps JSON text hands it to the
//! service's plain `GET`.
//!
//! A database keeps each user as JSON text. Decoding that text into a [`User`] only for the
//! service to encode it again was, with 100k users on SQLite, about a quarter of a `GET`'s
//! work. A backend that keeps the attributes as text can hand them over as they are, with the
//! attributes the service provider computes (`groups`, `meta`) beside them, and the service
//! writes the response around the text.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::resource::{Meta, MultiValue, User};

/// What [`Provisioner::fetch_user`](super::Provisioner::fetch_user) answers: the user typed
/// and shared, or as the JSON text the backend keeps.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FetchedUser {
    /// The user, as [`Provisioner::get_user_shared`](super::Provisioner::get_user_shared)
    /// returns it.
    Shared(Arc<User>),
    /// The user's attributes as stored JSON text.
    Json(Box<UserJson>),
}

/// A user's attributes as JSON text (`id` among them), with `groups` and `meta` beside it.
///
/// [`UserJson::new`] checks the text: one JSON object, whose `id` is the given id, and without
/// `groups`, `meta` or `password` (the first two are written from the values given here, and a
/// password is never returned). Attributes are served as they are in the text, so it must hold
/// what [`get_user`](super::Provisioner::get_user) would return: typically the
/// `serde_json` serialisation of a stored [`User`].
///
/// ```
/// use scim_core::provision::UserJson;
/// use scim_core::Meta;
///
/// let text = r#"{"id":"2819c223","userName":"bjensen","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}"#;
/// let user = UserJson::new("2819c223", text.to_owned(), Vec::new(), Meta::default())?;
/// assert_eq!(user.id(), "2819c223");
///
/// // A password in the text would be served: refused.
/// let leaky = r#"{"id":"2819c223","userName":"bjensen","password":"s3cret"}"#;
/// let err = UserJson::new("2819c223", leaky.to_owned(), Vec::new(), Meta::default());
/// assert!(err.unwrap_err().to_string().contains("password"));
/// # Ok::<(), scim_core::provision::UserJsonError>(())
/// ```
#[derive(Debug, Clone)]
pub struct UserJson {
    id: String,
    text: String,
    /// The text between the object's braces.
    members: Range<usize>,
    groups: Vec<MultiValue>,
    meta: Meta,
}

/// Why a text cannot be served as a [`UserJson`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserJsonError {
    /// Not a single JSON object.
    #[error("the stored user is not a JSON object: {0}")]
    NotAnObject(#[source] serde_json::Error),
    /// `id` is missing, differs from the id given, appears twice or is spelt in another case.
    #[error(
        "the stored user's \"id\" is not {expected:?} (missing, different, repeated or in another case)"
    )]
    WrongId {
        /// The id given.
        expected: String,
    },
    /// An attribute the service writes itself (`groups`, `meta`), or `password`.
    #[error("the stored user holds {0:?}, which is not served from the stored text")]
    Reserved(String),
}

impl UserJson {
    /// The user `id` whose attributes are the JSON object `text`, served with `groups` and
    /// `meta`; an error when `text` is not an object, its `id` differs, or it holds `groups`,
    /// `meta` or `password`.
    pub fn new(
        id: impl Into<String>,
        text: String,
        groups: Vec<MultiValue>,
        meta: Meta,
    ) -> Result<Self, UserJsonError> {
        // (An owned id moves in: a database row's column is not copied again.)
        let id: String = id.into();
        let mut found_id = false;
        let mut problem = None;
        let mut reader = serde_json::Deserializer::from_str(&text);
        let parsed = reader
            .deserialize_map(Checked {
                id: &id,
                found_id: &mut found_id,
                problem: &mut problem,
            })
            .and_then(|()| reader.end());
        match problem {
            Some(Problem::Reserved(name)) => return Err(UserJsonError::Reserved(name.to_owned())),
            Some(Problem::WrongId) => {
                return Err(UserJsonError::WrongId { expected: id });
            }
            None => {}
        }
        parsed.map_err(UserJsonError::NotAnObject)?;
        if !found_id {
            return Err(UserJsonError::WrongId { expected: id });
        }
        // Parsed as one object, so the trimmed text starts with `{` and ends with `}`.
        let start = text.len() - text.trim_start().len();
        let end = text.trim_end().len();
        if end < start + 2 {
            return Err(UserJsonError::NotAnObject(de::Error::custom("empty")));
        }
        Ok(UserJson {
            id,
            members: start + 1..end - 1,
            text,
            groups,
            meta,
        })
    }

    /// The user's `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `meta`, as served (without `location`, which the service adds).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// `groups`, as served (without `$ref`s, which the service adds).
    pub fn groups(&self) -> &[MultiValue] {
        &self.groups
    }

    /// The text's own buffer cut to the object's opening brace and members (the closing brace
    /// and any white space around dropped), for the service to write the rest after them
    /// without copying the text; with `groups` and `meta`.
    pub(crate) fn into_open_object(self) -> (Vec<u8>, Vec<MultiValue>, Meta) {
        let mut bytes = self.text.into_bytes();
        bytes.truncate(self.members.end);
        // `members.start` follows the brace; text before the brace is white space.
        let brace = self.members.start.saturating_sub(1);
        if brace > 0 {
            bytes.drain(..brace);
        }
        (bytes, self.groups, self.meta)
    }
}

/// Names of the attributes the text must not hold.
const RESERVED: [&str; 3] = ["groups", "meta", "password"];

/// Walks the object's keys: values are skipped, but for `id`, which must equal `id`.
struct Checked<'a> {
    id: &'a str,
    found_id: &'a mut bool,
    /// What made the walk stop, when it is not the JSON itself.
    problem: &'a mut Option<Problem>,
}

enum Problem {
    Reserved(&'static str),
    WrongId,
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Id => {
                    let matches = map.next_value_seed(IdSeed(self.id))?;
                    if !matches || *self.found_id {
                        // (A second `id` would be served twice.)
                        *self.problem = Some(Problem::WrongId);
                        return Err(de::Error::custom("wrong id"));
                    }
                    *self.found_id = true;
                }
                Key::Reserved(name) => {
                    *self.problem = Some(Problem::Reserved(name));
                    return Err(de::Error::custom("reserved attribute"));
                }
                Key::IdInAnotherCase => {
                    *self.problem = Some(Problem::WrongId);
                    return Err(de::Error::custom("wrong id"));
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

enum Key {
    Id,
    IdInAnotherCase,
    Reserved(&'static str),
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        // Attribute names are case-insensitive (RFC 7643 §2.1).
        if v == "id" {
            return Ok(Key::Id);
        }
        if v.eq_ignore_ascii_case("id") {
            return Ok(Key::IdInAnotherCase);
        }
        Ok(RESERVED
            .iter()
            .find(|r| r.eq_ignore_ascii_case(v))
            .map_or(Key::Other, |r| Key::Reserved(r)))
    }
}

/// Whether a string value equals the expected id.
struct IdSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IdSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the id as a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn json(text: &str) -> Result<UserJson, UserJsonError> {
        UserJson::new("u1", text.to_owned(), Vec::new(), Meta::default())
    }

    #[test]
    fn an_object_with_its_id_is_taken_and_its_members_found() {
        let user =
            json(" \n{\"id\":\"u1\",\"userName\":\"b\\u00e9\",\"x\":{\"meta\":1}} ").unwrap();
        assert_eq!(user.id(), "u1");
        // The buffer keeps the brace and the members; white space around them goes.
        let (open, _, _) = user.into_open_object();
        assert_eq!(
            String::from_utf8(open).unwrap(),
            "{\"id\":\"u1\",\"userName\":\"b\\u00e9\",\"x\":{\"meta\":1}"
        );
        let (open, _, _) = json("{\"id\":\"u1\"}").unwrap().into_open_object();
        assert_eq!(open, b"{\"id\":\"u1\"");
        // An escaped id is compared unescaped.
        assert!(json(r#"{"id":"\u0075\u0031"}"#).is_ok());
    }

    #[test]
    fn what_cannot_be_served_as_it_is_is_refused() {
        for (text, needle) in [
            ("", "not a JSON object"),
            ("[]", "not a JSON object"),
            ("\"u1\"", "not a JSON object"),
            ("{\"id\":\"u1\"", "not a JSON object"),
            ("{\"id\":\"u1\"} {}", "not a JSON object"),
            ("{\"id\":\"u1\",}", "not a JSON object"),
            ("{}", "\"id\" is not \"u1\""),
            ("{\"userName\":\"b\"}", "\"id\" is not \"u1\""),
            ("{\"id\":\"u2\"}", "\"id\" is not \"u1\""),
            ("{\"id\":\"u1\",\"id\":\"u1\"}", "\"id\" is not \"u1\""),
            ("{\"id\":7}", "expected the id as a string"),
            ("{\"ID\":\"u1\"}", "\"id\" is not \"u1\""),
            ("{\"id\":\"u1\",\"password\":\"p\"}", "\"password\""),
            ("{\"id\":\"u1\",\"Groups\":[]}", "\"groups\""),
            ("{\"meta\":{},\"id\":\"u1\"}", "\"meta\""),
        ] {
            let err = json(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was taken"));
            assert!(err.to_string().contains(needle), "{text:?}: {err}");
        }
    }

    /// Values are skipped, not built, so nesting deeper than `serde_json`'s recursion limit
    /// for building values (128) is still served (the fuzz oracle allows for it).
    #[test]
    fn deep_values_are_skipped_without_a_depth_limit() {
        let text = format!(
            r#"{{"id":"u1","a":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(json(&text).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    }
}
