//! [`FileSource`]: a directory exported to a JSON or CSV file.

use std::path::Path;

use async_trait::async_trait;
use scim_core::{Group, User};
use serde::Deserialize;

use super::{Cursor, DirectorySource, SourcePage};
use crate::SyncError;

/// How many resources one page of a [`FileSource`] holds by default.
const FILE_PAGE: usize = 500;

/// A directory read from an export file, held in memory and served in pages.
///
/// Two formats:
/// - JSON: `{"users": [...SCIM users], "groups": [...SCIM groups]}` (either key may be missing);
///   group members name users by `id`, `externalId` or `userName`.
/// - CSV of users, with a header row naming the columns `userName`, `externalId`, `givenName`,
///   `familyName`, `email`, `active`, `groups` (any order, any case; only `userName` is
///   required). `groups` is a `;`-separated list of group names: the groups of the export are
///   the names that occur there.
///
/// Errors name the line (and for CSV the column) at fault.
#[derive(Clone, Debug, Default)]
pub struct FileSource {
    users: Vec<User>,
    groups: Vec<Group>,
    page_size: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Export {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    groups: Vec<Group>,
}

impl FileSource {
    /// A source holding `users` and `groups` as they are.
    pub fn new(users: Vec<User>, groups: Vec<Group>) -> Result<Self, SyncError> {
        check_unique(&users, &groups)?;
        Ok(FileSource {
            users,
            groups,
            page_size: FILE_PAGE,
        })
    }

    /// Reads a JSON export.
    ///
    /// ```
    /// use scim_sync::FileSource;
    ///
    /// let err = FileSource::from_json_str(r#"{"users": [{"userName": 42}]}"#).unwrap_err();
    /// assert!(err.to_string().starts_with("JSON export line 1, column"), "{err}");
    /// ```
    pub fn from_json_str(json: &str) -> Result<Self, SyncError> {
        let export: Export = serde_json::from_str(json).map_err(|e| SyncError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        FileSource::new(export.users, export.groups)
    }

    /// Reads a CSV export of users (see the type's documentation for the columns).
    pub fn from_csv_str(csv: &str) -> Result<Self, SyncError> {
        let (users, groups) = super::csv::read_users(csv)?;
        FileSource::new(users, groups)
    }

    /// Reads `path`: CSV when its name ends in `.csv` (any case), JSON otherwise.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, SyncError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SyncError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let is_csv = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"));
        if is_csv {
            FileSource::from_csv_str(&text)
        } else {
            FileSource::from_json_str(&text)
        }
    }

    /// Serves pages of `page_size` resources (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The users of the export.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The groups of the export.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }
}

/// Two users with one `userName` or `externalId` (or two groups with one name) cannot both be
/// matched to the target: say so instead of letting one silently win.
fn check_unique(users: &[User], groups: &[Group]) -> Result<(), SyncError> {
    let mut names = std::collections::HashSet::new();
    let mut external = std::collections::HashSet::new();
    for user in users {
        if !names.insert(user.user_name.to_lowercase()) {
            return Err(SyncError::Duplicate {
                kind: "user",
                key: user.user_name.clone(),
            });
        }
        if let Some(ext) = &user.external_id
            && !external.insert(ext.clone())
        {
            return Err(SyncError::Duplicate {
                kind: "user",
                key: ext.clone(),
            });
        }
    }
    names.clear();
    external.clear();
    for group in groups {
        if !names.insert(group.display_name.to_lowercase()) {
            return Err(SyncError::Duplicate {
                kind: "group",
                key: group.display_name.clone(),
            });
        }
        if let Some(ext) = &group.external_id
            && !external.insert(ext.clone())
        {
            return Err(SyncError::Duplicate {
                kind: "group",
                key: ext.clone(),
            });
        }
    }
    Ok(())
}

fn page<T: Clone>(items: &[T], cursor: Option<&Cursor>, size: usize) -> SourcePage<T> {
    // A cursor this source did not hand out reads as the end rather than an error: the only
    // cursors it sees are its own.
    let start = cursor.map_or(Some(0), |c| c.as_str().parse::<usize>().ok());
    let Some(start) = start else {
        return (Vec::new(), None);
    };
    let end = start.saturating_add(size).min(items.len());
    let chunk = items.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    let next = (end < items.len()).then(|| Cursor::new(end.to_string()));
    (chunk, next)
}

#[async_trait]
impl DirectorySource for FileSource {
    async fn users_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<User>, SyncError> {
        Ok(page(&self.users, cursor.as_ref(), self.page_size))
    }

    async fn groups_page(&self, cursor: Option<Cursor>) -> Result<SourcePage<Group>, SyncError> {
        Ok(page(&self.groups, cursor.as_ref(), self.page_size))
    }
}
