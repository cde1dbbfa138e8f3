//! Extension objects keyed by schema URN.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ScimError;

/// A schema extension with a typed representation, such as
/// [`EnterpriseUser`](crate::EnterpriseUser).
pub trait SchemaExtension: Serialize + DeserializeOwned {
    /// The extension's schema URN, which is also its key in the resource.
    const URN: &'static str;
}

/// The extension objects of a resource, keyed by schema URN (RFC 7643 §3.3).
///
/// Keys are matched case-insensitively; insertion order is kept, and inserting a URN that is
/// already present (in any case) replaces its value. Values are stored as JSON so that unknown
/// extensions survive a round trip unchanged; typed access goes through [`Extensions::get`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extensions {
    entries: Vec<(String, Value)>,
}

impl Extensions {
    /// No extensions.
    pub const fn new() -> Self {
        Extensions {
            entries: Vec::new(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many extensions there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The URNs and values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The raw value of the extension `urn` (matched case-insensitively).
    pub fn get_raw(&self, urn: &str) -> Option<&Value> {
        self.position(urn)
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    /// The raw value of the extension `urn`, mutably.
    pub fn get_raw_mut(&mut self, urn: &str) -> Option<&mut Value> {
        self.position(urn)
            .and_then(|i| self.entries.get_mut(i))
            .map(|(_, v)| v)
    }

    /// Sets the raw value of the extension `urn`, replacing one of the same URN in any case
    /// (the stored key becomes `urn` as given).
    pub fn insert(&mut self, urn: String, value: Value) {
        match self.position(&urn).and_then(|i| self.entries.get_mut(i)) {
            Some(slot) => *slot = (urn, value),
            None => self.entries.push((urn, value)),
        }
    }

    /// Removes the extension `urn`, returning its value.
    pub fn remove(&mut self, urn: &str) -> Option<Value> {
        self.position(urn).map(|i| self.entries.remove(i).1)
    }

    /// The extension `E`, decoded (attribute names case-insensitive). `Ok(None)` when absent.
    pub fn get<E: SchemaExtension>(&self) -> Result<Option<E>, ScimError> {
        self.get_as(E::URN)
    }

    /// The extension `urn` decoded as `T`. `Ok(None)` when absent or null.
    pub fn get_as<T: DeserializeOwned>(&self, urn: &str) -> Result<Option<T>, ScimError> {
        match self.get_raw(urn) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| ScimError::from_json_in(&e, urn)),
        }
    }

    /// Stores the extension `E` under its URN, replacing any previous value.
    pub fn set<E: SchemaExtension>(&mut self, ext: &E) -> Result<(), ScimError> {
        self.set_as(E::URN, ext)
    }

    /// Stores `value` as the extension `urn`, replacing any previous value.
    pub fn set_as<T: Serialize>(&mut self, urn: &str, value: &T) -> Result<(), ScimError> {
        let v = serde_json::to_value(value).map_err(|e| ScimError::from_json_in(&e, urn))?;
        self.insert(urn.to_owned(), v);
        Ok(())
    }

    fn position(&self, urn: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(urn))
    }
}

impl FromIterator<(String, Value)> for Extensions {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut out = Extensions::new();
        for (k, v) in iter {
            out.insert(k, v);
        }
        out
    }
}
