//! A resource written as served: `meta.location` and the `$ref`s of `groups` and `members` set
//! while it is serialised, from a shared (unmodified) resource.
//!
//! The `GET` of one resource is the request identity providers make most. The in-memory
//! provisioner hands out the resource it keeps (see
//! [`Provisioner::get_user_shared`](crate::provision::Provisioner::get_user_shared)), so setting
//! these URLs on a copy would cost a deep clone of every string of the resource; here they are
//! written into the output instead. Every resource the service answers goes out this way,
//! as bytes (a plain `GET`) or as a `serde_json::Value` to project; a user a backend hands over
//! as JSON text ([`UserJson`]) goes out as that text with `groups` and `meta` written beside it.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::route::encode_segment_into;
use crate::de::Overrides;
use crate::provision::UserJson;
use crate::resource::{Group, Member, Meta, MultiValue, User};

/// `{base_url}/{endpoint}/{id}`, the id percent-encoded as a path segment.
pub(crate) fn resource_url(base_url: &str, endpoint: &str, id: &str) -> String {
    let mut url = String::with_capacity(base_url.len() + endpoint.len() + id.len() + 2);
    url.push_str(base_url);
    url.push('/');
    url.push_str(endpoint);
    url.push('/');
    encode_segment_into(&mut url, id);
    url
}

/// The `$ref` a group's member gets when it has none: by its `type`; `None` when the type is
/// neither `User` nor `Group` or the member has no `value`.
pub(crate) fn member_ref(base_url: &str, member: &Member) -> Option<String> {
    if member.reference.is_some() {
        return None;
    }
    let endpoint = match member.kind.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("User") => "Users",
        Some(t) if t.eq_ignore_ascii_case("Group") => "Groups",
        _ => return None,
    };
    let id = member.value.as_deref()?;
    Some(resource_url(base_url, endpoint, id))
}

/// The `$ref` a user's `groups` entry gets when it has none.
pub(crate) fn group_ref(base_url: &str, group: &MultiValue) -> Option<String> {
    if group.reference.is_some() {
        return None;
    }
    let id = group.value.as_deref()?;
    Some(resource_url(base_url, "Groups", id))
}

/// Serialises `user` as served.
pub(crate) fn serve_user<S: Serializer>(
    s: S,
    user: &User,
    base_url: &str,
    location: &str,
) -> Result<S::Ok, S::Error> {
    let over = Served {
        list_key: "groups",
        list: &user.groups,
        meta: user.meta.as_ref(),
        base_url,
        location,
    };
    user.serialize_with(s, &over)
}

/// Serialises `group` as served.
pub(crate) fn serve_group<S: Serializer>(
    s: S,
    group: &Group,
    base_url: &str,
    location: &str,
) -> Result<S::Ok, S::Error> {
    let over = Served {
        list_key: "members",
        list: &group.members,
        meta: group.meta.as_ref(),
        base_url,
        location,
    };
    group.serialize_with(s, &over)
}

/// `user` as served: its stored members as they are, in the buffer of its text (see
/// [`UserJson::into_open_object`]), then `groups` (with `$ref`s) and `meta` (with `location`),
/// which the text does not hold ([`UserJson::new`] checked).
pub(crate) fn user_json_body(
    user: UserJson,
    base_url: &str,
    location: &str,
) -> serde_json::Result<Vec<u8>> {
    let (mut out, groups, meta) = user.into_open_object();
    if !groups.is_empty() {
        out.extend_from_slice(b",\"groups\":");
        write_groups(&mut out, &groups, base_url)?;
    }
    out.extend_from_slice(b",\"meta\":");
    write_meta(&mut out, &meta, location)?;
    out.push(b'}');
    Ok(out)
}

/// A user's `groups` with their `$ref`s, byte for byte as [`Refs`] writes them. A store's
/// groups hold `value`, `display` and `type` only: those are written field by field, without a
/// serialiser's round trip per field; any other group goes the general way.
fn write_groups(
    out: &mut Vec<u8>,
    groups: &[MultiValue],
    base_url: &str,
) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if group.primary.is_some() || group.reference.is_some() || !group.other.is_empty() {
            serde_json::to_writer(&mut *out, &Ref(group, base_url))?;
            continue;
        }
        let reference = group_ref(base_url, group);
        // In the order `MultiValue` serialises its fields.
        let fields = [
            ("value", group.value.as_deref()),
            ("display", group.display.as_deref()),
            ("type", group.kind.as_deref()),
            ("$ref", reference.as_deref()),
        ];
        write_object(out, fields)?;
    }
    out.push(b']');
    Ok(())
}

/// An object of the string `fields` that are present, in the order given.
fn write_object<'a>(
    out: &mut Vec<u8>,
    fields: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
) -> serde_json::Result<()> {
    out.push(b'{');
    let mut first = true;
    for (key, value) in fields {
        let Some(value) = value else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        write_str(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// `meta` with `location` set, as [`MetaOut`] writes it, without going through a map
/// serialiser for the five strings a store's `meta` holds (about 1k of a SQLite GET's 41k
/// instructions). A `meta` with attributes of its own beyond those goes the general way; the
/// fields are in the order `Meta` serialises them.
fn write_meta(out: &mut Vec<u8>, meta: &Meta, location: &str) -> serde_json::Result<()> {
    if !meta.other.is_empty() {
        return serde_json::to_writer(&mut *out, &MetaOut(Some(meta), location));
    }
    let fields = [
        ("resourceType", meta.resource_type.as_deref()),
        ("created", meta.created.as_deref()),
        ("lastModified", meta.last_modified.as_deref()),
        ("location", Some(location)),
        ("version", meta.version.as_deref()),
    ];
    write_object(out, fields)
}

/// `value` as a JSON string. Instants, versions and URLs need no escapes: those are copied as
/// they are, and only a string with a quote, a backslash or a control character goes through
/// `serde_json` (which escapes exactly those), as each `to_writer` call costs about as much as a
/// short string's bytes.
#[expect(
    clippy::needless_bitwise_bool,
    reason = "lazy operators would branch on every byte and keep the loop from being vectorised"
)]
fn write_str(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    // A fold, not `any`: without an early exit the loop runs on whole vectors of bytes.
    let escapes = value.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escapes {
        return serde_json::to_writer(&mut *out, value);
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
    Ok(())
}

/// What a served resource writes differently: `meta` (with `location`) and the list whose
/// items get `$ref`s (`groups` of a user, `members` of a group).
struct Served<'a, T> {
    list_key: &'static str,
    list: &'a [T],
    meta: Option<&'a Meta>,
    base_url: &'a str,
    location: &'a str,
}

impl<T: WithRef> Overrides for Served<'_, T> {
    fn write<M: SerializeMap>(&self, key: &str, map: &mut M) -> Option<Result<(), M::Error>> {
        if key == "meta" {
            Some(map.serialize_entry("meta", &MetaOut(self.meta, self.location)))
        } else if key == self.list_key && !self.list.is_empty() {
            // (Empty lists are not written, as for every other list.)
            Some(map.serialize_entry(self.list_key, &Refs(self.list, self.base_url)))
        } else {
            None
        }
    }
}

/// `meta` with `location` set (a resource without `meta` gets one holding only `location`).
struct MetaOut<'a>(Option<&'a Meta>, &'a str);

impl Serialize for MetaOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let location = Location(self.1);
        match self.0 {
            Some(meta) => meta.serialize_with(s, &location),
            None => Meta::default().serialize_with(s, &location),
        }
    }
}

struct Location<'a>(&'a str);

impl Overrides for Location<'_> {
    fn write<M: SerializeMap>(&self, key: &str, map: &mut M) -> Option<Result<(), M::Error>> {
        (key == "location").then(|| map.serialize_entry("location", self.0))
    }
}

/// A `$ref` to write in place of the stored (absent) one, if any.
struct RefOut(Option<String>);

impl Overrides for RefOut {
    fn write<M: SerializeMap>(&self, key: &str, map: &mut M) -> Option<Result<(), M::Error>> {
        match &self.0 {
            Some(url) if key == "$ref" => Some(map.serialize_entry("$ref", url)),
            _ => None,
        }
    }
}

/// A list item whose `$ref`, when absent, is derived from the item.
trait WithRef {
    fn derived_ref(&self, base_url: &str) -> Option<String>;
    fn write<S: Serializer>(&self, s: S, over: &RefOut) -> Result<S::Ok, S::Error>;
}

impl WithRef for MultiValue {
    fn derived_ref(&self, base_url: &str) -> Option<String> {
        group_ref(base_url, self)
    }
    fn write<S: Serializer>(&self, s: S, over: &RefOut) -> Result<S::Ok, S::Error> {
        self.serialize_with(s, over)
    }
}

impl WithRef for Member {
    fn derived_ref(&self, base_url: &str) -> Option<String> {
        member_ref(base_url, self)
    }
    fn write<S: Serializer>(&self, s: S, over: &RefOut) -> Result<S::Ok, S::Error> {
        self.serialize_with(s, over)
    }
}

/// A list written with each item's `$ref` filled in.
struct Refs<'a, T>(&'a [T], &'a str);

impl<T: WithRef> Serialize for Refs<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Ref(item, self.1))?;
        }
        seq.end()
    }
}

struct Ref<'a, T>(&'a T, &'a str);

impl<T: WithRef> Serialize for Ref<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s, &RefOut(self.0.derived_ref(self.1)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::super::kind::Kind;
    use super::{group_ref, member_ref};
    use crate::resource::{Group, Meta, User};

    const BASE: &str = "https://scim.example.com/scim/v2";

    /// The copy the served bytes must equal: `meta.location` and the missing `$ref`s set on a
    /// clone, as a provisioner that hands out owned resources would have to.
    trait Prepared: Kind {
        fn prepared(&self, location: &str) -> Self;
    }

    fn located(meta: &mut Option<Meta>, location: &str) {
        meta.get_or_insert_with(Meta::default).location = Some(location.to_owned());
    }

    impl Prepared for User {
        fn prepared(&self, location: &str) -> Self {
            let mut copy = self.clone();
            located(&mut copy.meta, location);
            for g in &mut copy.groups {
                if let Some(url) = group_ref(BASE, g) {
                    g.reference = Some(url);
                }
            }
            copy
        }
    }

    impl Prepared for Group {
        fn prepared(&self, location: &str) -> Self {
            let mut copy = self.clone();
            located(&mut copy.meta, location);
            for m in &mut copy.members {
                if let Some(url) = member_ref(BASE, m) {
                    m.reference = Some(url);
                }
            }
            copy
        }
    }

    /// The bytes the service serves, and those of the prepared copy serialised plainly.
    fn both<T: Prepared>(resource: &T, location: &str) -> (String, String) {
        let mut served = Vec::new();
        resource
            .serialize_served(
                &mut serde_json::Serializer::new(&mut served),
                BASE,
                location,
            )
            .unwrap();
        let plain = serde_json::to_vec(&resource.prepared(location)).unwrap();
        (
            String::from_utf8(served).unwrap(),
            String::from_utf8(plain).unwrap(),
        )
    }

    #[test]
    fn a_user_is_written_as_the_prepared_copy_would_be() {
        let full: User = serde_json::from_value(json!({
            "id": "u 1/é",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@example.com", "primary": true}],
            "groups": [
                {"value": "g1", "display": "Admins", "type": "direct"},
                {"value": "g/2", "$ref": "https://elsewhere.example/Groups/g2"},
                {"display": "no value"}
            ],
            "meta": {"resourceType": "User", "version": "W/\"3\"",
                     "location": "https://stale.example/Users/u"},
            "nonStandard": [1, 2],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
        }))
        .unwrap();
        let location = format!("{BASE}/Users/u%201%2F%C3%A9");
        let (served, plain) = both(&full, &location);
        assert_eq!(served, plain);
        assert!(served.contains(r#""$ref":"https://scim.example.com/scim/v2/Groups/g1""#));
        // A `$ref` already there is kept; an entry without a value gets none.
        assert!(served.contains(r#""$ref":"https://elsewhere.example/Groups/g2""#));
        assert!(!served.contains("Groups/g%2F2"), "{served}");
        assert_eq!(served.matches("$ref").count(), 2, "{served}");
        assert!(
            served.contains(&format!(r#""location":"{location}""#)),
            "{served}"
        );

        // No meta at all: one holding the location is written; no groups: none are.
        let bare = User::new("alice");
        let (served, plain) = both(&bare, "https://x/Users/1");
        assert_eq!(served, plain);
        assert!(
            served.contains(r#""meta":{"location":"https://x/Users/1"}"#),
            "{served}"
        );
        assert!(!served.contains("groups"), "{served}");
    }

    #[test]
    fn a_group_is_written_as_the_prepared_copy_would_be() {
        let group: Group = serde_json::from_value(json!({
            "id": "g1",
            "displayName": "Admins",
            "members": [
                {"value": "u1", "type": "User", "display": "Barbara"},
                {"value": "g 2", "type": "group"},
                {"value": "u3", "type": "User", "$ref": "https://elsewhere.example/u3"},
                {"value": "x4"},
                {"type": "User"}
            ],
            "meta": {"resourceType": "Group", "created": "2026-01-01T00:00:00Z"}
        }))
        .unwrap();
        let (served, plain) = both(&group, &format!("{BASE}/Groups/g1"));
        assert_eq!(served, plain);
        assert!(served.contains(r#""$ref":"https://scim.example.com/scim/v2/Users/u1""#));
        assert!(served.contains(r#""$ref":"https://scim.example.com/scim/v2/Groups/g%202""#));
        assert!(served.contains(r#""$ref":"https://elsewhere.example/u3""#));
        assert_eq!(served.matches("$ref").count(), 3, "{served}");

        let empty = Group::new("Nobody");
        let (served, plain) = both(&empty, "https://x/Groups/2");
        assert_eq!(served, plain);
        assert!(!served.contains("members"), "{served}");
    }

    /// The body written from stored text, and the typed one, as JSON values.
    fn from_text_and_typed(user: &User, location: &str) -> (serde_json::Value, serde_json::Value) {
        let mut stored = user.clone();
        stored.meta = None;
        stored.groups = Vec::new();
        stored.password = None;
        let text = serde_json::to_string(&serde_json::to_value(&stored).unwrap()).unwrap();
        let fetched = crate::provision::UserJson::new(
            user.id.as_deref().unwrap(),
            text,
            user.groups.clone(),
            user.meta.clone().unwrap_or_default(),
        )
        .unwrap();
        let written = super::user_json_body(fetched, BASE, location).unwrap();
        let mut typed = Vec::new();
        user.serialize_served(&mut serde_json::Serializer::new(&mut typed), BASE, location)
            .unwrap();
        (
            serde_json::from_slice(&written).unwrap(),
            serde_json::from_slice(&typed).unwrap(),
        )
    }

    #[test]
    fn a_user_written_from_stored_text_is_the_typed_user_served() {
        let full: User = serde_json::from_value(json!({
            "id": "u 1/é",
            "userName": "bjensen",
            "name": {"givenName": "Bar\"bara"},
            "emails": [{"value": "b@example.com", "primary": true}],
            "groups": [
                {"value": "g1", "display": "Admins", "type": "direct"},
                {"value": "g/2", "$ref": "https://elsewhere.example/Groups/g2"}
            ],
            "meta": {"resourceType": "User", "version": "W/\"3\"", "created": "2026-01-01T00:00:00Z"},
            "nonStandard": [1, 2],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
        }))
        .unwrap();
        let location = format!("{BASE}/Users/u%201%2F%C3%A9");
        let (written, typed) = from_text_and_typed(&full, &location);
        assert_eq!(written, typed);
        assert_eq!(written["meta"]["location"], json!(location));
        assert_eq!(
            written["groups"][0]["$ref"],
            json!("https://scim.example.com/scim/v2/Groups/g1")
        );

        // No groups: none are written; meta gets its location all the same.
        let mut bare = User::new("alice");
        bare.id = Some("a".to_owned());
        let (written, typed) = from_text_and_typed(&bare, "https://x/Users/a");
        assert_eq!(written, typed);
        assert!(written.get("groups").is_none(), "{written}");

        // Every meta string, escaped; and a meta with an attribute of its own (written the
        // general way).
        let odd: User = serde_json::from_value(json!({
            "id": "o",
            "userName": "odd",
            "meta": {"resourceType": "Us\"er", "created": "\u{1}", "lastModified": "é\\",
                     "version": "W/\"9\""}
        }))
        .unwrap();
        let (written, typed) = from_text_and_typed(&odd, "https://x/Users/\"o");
        assert_eq!(written, typed);
        assert_eq!(written["meta"]["created"], json!("\u{1}"));
        let mut extra = odd.clone();
        if let Some(meta) = extra.meta.as_mut() {
            meta.other.insert("revision".to_owned(), json!(4));
        }
        let (written, typed) = from_text_and_typed(&extra, "https://x/Users/o");
        assert_eq!(written, typed);
        assert_eq!(written["meta"]["revision"], json!(4));
    }

    /// The copied strings are byte for byte what `serde_json` writes, for every character that
    /// decides between the two ways and for text around them.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut samples: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
        samples.extend(
            [
                "",
                "2026-12-07T19:29:40.123456789Z",
                "W/\"17\"",
                "https://scim.example.com/scim/v2/Users/2819c223-7f76",
                "tab\there",
                "é ✈ \u{7f} \u{10ffff}",
                "end\\",
            ]
            .map(str::to_owned),
        );
        for sample in samples {
            let mut out = b"x".to_vec();
            super::write_str(&mut out, &sample).unwrap();
            let expected = format!("x{}", serde_json::to_string(&sample).unwrap());
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{sample:?}");
        }
    }

    /// Groups written field by field are byte for byte what the general serialiser writes,
    /// whichever fields they hold; those with more go the general way.
    #[test]
    fn groups_are_written_as_the_general_serialiser_writes_them() {
        use crate::resource::MultiValue;
        let plain = |value: Option<&str>, display: Option<&str>, kind: Option<&str>| MultiValue {
            value: value.map(str::to_owned),
            display: display.map(str::to_owned),
            kind: kind.map(str::to_owned),
            ..MultiValue::default()
        };
        let mut with_ref = plain(Some("g3"), None, None);
        with_ref.reference = Some("https://elsewhere.example/g3".to_owned());
        let mut primary = plain(Some("g4"), Some("Four"), Some("direct"));
        primary.primary = Some(true);
        let mut extra = plain(Some("g5"), None, None);
        extra.other.insert("origin".to_owned(), json!("okta"));
        let groups = [
            plain(Some("g1"), Some("Tour Guides"), Some("direct")),
            plain(Some("g 2/é"), Some("Q\"uote\\s \u{1}"), Some("indirect")),
            plain(None, Some("No value"), None),
            plain(Some("g6"), None, None),
            with_ref,
            primary,
            extra,
        ];
        for n in 0..=groups.len() {
            let some = &groups[..n];
            let mut fast = Vec::new();
            super::write_groups(&mut fast, some, BASE).unwrap();
            let general = serde_json::to_vec(&super::Refs(some, BASE)).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(general).unwrap()
            );
        }
    }
}
