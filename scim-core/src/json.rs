//! Case-insensitive access to JSON objects: SCIM attribute names match in any case
//! (RFC 7643 §2.1). Each lookup tries the exact key first, the common case, before a scan.

use serde_json::{Map, Value};

/// The member `name` of `map`.
pub(crate) fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The member `name` of `map`, mutably.
pub(crate) fn get_mut_ci<'m>(map: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Value> {
    let key = key_ci(map, name)?.to_owned();
    map.get_mut(&key)
}

/// The key of `map` that `name` refers to.
pub(crate) fn key_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    if let Some((k, _)) = map.get_key_value(name) {
        return Some(k.as_str());
    }
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

/// Removes the member `name` from `map`.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(map, name)?.to_owned();
    map.remove(&key)
}
