//! [`DeprovisionedUsers`]: what [`CloudProvisioner`](super::CloudProvisioner) remembers of
//! deprovisioned users that Atlassian Cloud has no field for.
//!
//! On Data Center the `anonymize` originals and the "deleted through SCIM" mark live in the
//! product (a user property or attribute that people browsing the product do not see). Cloud's
//! user provisioning API keeps only its published user schema, and every attribute it keeps
//! shows in Atlassian Administration and on the account's profile: anonymized values kept
//! there would not be anonymous. So they are kept on this side, in a [`DeprovisionedUsers`]
//! store: [`InMemoryDeprovisioned`] by default (lost on restart), [`JsonFileDeprovisioned`] to
//! keep them in a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use http::StatusCode;
use scim_core::ScimError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What is remembered of one deprovisioned Cloud user (by its SCIM id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Deprovisioned {
    /// Deprovisioned by a SCIM `DELETE` under `anonymize` or `keep`: the account stays in
    /// Cloud, and SCIM answers 404 for its id, as for a deleted user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// While anonymized: the user's own `userName`, `emails`, `displayName` and `name` (the
    /// attributes anonymization replaced in Cloud), as a SCIM JSON object. SCIM shows these,
    /// and reactivating or creating the user again writes them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<Value>,
    /// Deactivated by the identity provider under `keep`: the account stays active in Cloud,
    /// and SCIM shows the user `active: false` (as the identity provider set it) until it
    /// sets `active: true` again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idp_inactive: bool,
}

impl Deprovisioned {
    /// Whether there is nothing to remember.
    pub fn is_empty(&self) -> bool {
        !self.hidden && self.original.is_none() && !self.idp_inactive
    }
}

/// Where [`CloudProvisioner`](super::CloudProvisioner) keeps [`Deprovisioned`] entries, by
/// SCIM user id. Calls are short and synchronous (a map, a small file).
pub trait DeprovisionedUsers: Send + Sync + std::fmt::Debug {
    /// The entry of user `id`, if any.
    fn get(&self, id: &str) -> Result<Option<Deprovisioned>, ScimError>;

    /// Sets (or, with `None` or an empty entry, forgets) the entry of user `id`.
    fn set(&self, id: &str, entry: Option<Deprovisioned>) -> Result<(), ScimError>;
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn apply(map: &mut BTreeMap<String, Deprovisioned>, id: &str, entry: Option<Deprovisioned>) {
    match entry.filter(|e| !e.is_empty()) {
        Some(e) => {
            map.insert(id.to_owned(), e);
        }
        None => {
            map.remove(id);
        }
    }
}

/// [`DeprovisionedUsers`] in memory: lost when the process ends (anonymized users then show
/// their anonymous values until the identity provider writes them again, and users hidden by
/// a SCIM `DELETE` show again).
#[derive(Debug, Default)]
pub struct InMemoryDeprovisioned {
    entries: Mutex<BTreeMap<String, Deprovisioned>>,
}

impl InMemoryDeprovisioned {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl DeprovisionedUsers for InMemoryDeprovisioned {
    fn get(&self, id: &str) -> Result<Option<Deprovisioned>, ScimError> {
        Ok(locked(&self.entries).get(id).cloned())
    }

    fn set(&self, id: &str, entry: Option<Deprovisioned>) -> Result<(), ScimError> {
        apply(&mut locked(&self.entries), id, entry);
        Ok(())
    }
}

/// [`DeprovisionedUsers`] in a JSON file (an object keyed by SCIM user id), read when opened
/// and rewritten whole (to a temporary file, then renamed over it) on every change. For one
/// process at a time; it holds original names and emails, so keep it as private as the
/// identity provider's data.
#[derive(Debug)]
pub struct JsonFileDeprovisioned {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Deprovisioned>>,
}

impl JsonFileDeprovisioned {
    /// Opens the store at `path`, empty when the file does not exist yet; an error when it
    /// exists but cannot be read as one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, crate::AtlassianError> {
        let path = path.as_ref().to_path_buf();
        let bad = |why: String| {
            crate::AtlassianError::InvalidConfig(format!(
                "deprovisioned-users file {}: {why}",
                path.display()
            ))
        };
        let entries = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => BTreeMap::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(JsonFileDeprovisioned {
            path,
            entries: Mutex::new(entries),
        })
    }

    fn save(&self, entries: &BTreeMap<String, Deprovisioned>) -> Result<(), ScimError> {
        let failed = |why: String| {
            ScimError::other(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                format_args!(
                    "the deprovisioned-users file {} could not be written: {why}",
                    self.path.display()
                ),
            )
        };
        let bytes = serde_json::to_vec_pretty(entries).map_err(|e| failed(e.to_string()))?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        std::fs::write(&tmp, bytes).map_err(|e| failed(e.to_string()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| failed(e.to_string()))
    }
}

impl DeprovisionedUsers for JsonFileDeprovisioned {
    fn get(&self, id: &str) -> Result<Option<Deprovisioned>, ScimError> {
        Ok(locked(&self.entries).get(id).cloned())
    }

    fn set(&self, id: &str, entry: Option<Deprovisioned>) -> Result<(), ScimError> {
        let mut entries = locked(&self.entries);
        let mut next = entries.clone();
        apply(&mut next, id, entry);
        if next == *entries {
            return Ok(());
        }
        // Written before it is believed: a failed write changes nothing.
        self.save(&next)?;
        *entries = next;
        Ok(())
    }
}

/// A dry run's view of a store: reads what it holds, keeps nothing (the writes it would
/// describe never reached Cloud).
#[derive(Debug)]
pub(super) struct HeldBack(pub(super) std::sync::Arc<dyn DeprovisionedUsers>);

impl DeprovisionedUsers for HeldBack {
    fn get(&self, id: &str) -> Result<Option<Deprovisioned>, ScimError> {
        self.0.get(id)
    }

    fn set(&self, _id: &str, _entry: Option<Deprovisioned>) -> Result<(), ScimError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_survives_reopening_and_forgets_empty_entries() {
        let dir = std::env::temp_dir().join(format!("scim-kept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("deprovisioned.json");
        let _ = std::fs::remove_file(&path);
        let store = JsonFileDeprovisioned::open(&path).unwrap();
        let entry = Deprovisioned {
            hidden: true,
            original: Some(serde_json::json!({"userName": "alice@example.com"})),
            idp_inactive: false,
        };
        store.set("u1", Some(entry.clone())).unwrap();
        let kept = Deprovisioned {
            idp_inactive: true,
            ..Deprovisioned::default()
        };
        store.set("u3", Some(kept.clone())).unwrap();
        store.set("u2", Some(Deprovisioned::default())).unwrap();
        let reopened = JsonFileDeprovisioned::open(&path).unwrap();
        assert_eq!(reopened.get("u1").unwrap(), Some(entry));
        assert_eq!(reopened.get("u2").unwrap(), None);
        assert_eq!(reopened.get("u3").unwrap(), Some(kept));
        reopened.set("u1", None).unwrap();
        let again = JsonFileDeprovisioned::open(&path).unwrap();
        assert_eq!(again.get("u1").unwrap(), None);
        std::fs::write(&path, b"not json").unwrap();
        let err = JsonFileDeprovisioned::open(&path).unwrap_err();
        assert!(err.to_string().contains("deprovisioned.json"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
