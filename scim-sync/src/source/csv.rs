//! A small RFC 4180 reader for the user CSV export: quoted fields, `""` escapes, line breaks
//! inside quotes, CRLF or LF. Written here rather than taken from the `csv` crate because the
//! format is one fixed table and errors must name the line and column the way the rest of the
//! crate does; the whole reader is a few dozen lines.

use std::collections::BTreeMap;

use scim_core::{Group, Member, MultiValue, Name, User};

use crate::SyncError;

const COLUMNS: [&str; 7] = [
    "userName",
    "externalId",
    "givenName",
    "familyName",
    "email",
    "active",
    "groups",
];

/// One record and the line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

fn records(text: &str) -> Result<Vec<Record>, SyncError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next() {
                            None => {
                                return Err(SyncError::Csv {
                                    line: start,
                                    field: None,
                                    message: "a quoted field is never closed".into(),
                                });
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',' | '\r' | '\n') => {}
                        Some(_) => {
                            return Err(SyncError::Csv {
                                line,
                                field: None,
                                message: "text after a closing quote; quote the whole field and \
                                          double the quotes inside"
                                    .into(),
                            });
                        }
                    }
                }
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') => {
                    return Err(SyncError::Csv {
                        line,
                        field: None,
                        message: "a quote inside an unquoted field".into(),
                    });
                }
                Some(c) => field.push(c),
            }
        }
        // Blank lines carry no user; skipping them forgives a trailing newline or two.
        if !(fields.len() == 1 && fields.first().is_some_and(String::is_empty)) {
            out.push(Record {
                line: start,
                fields,
            });
        }
    }
    Ok(out)
}

/// Users, and the groups their `groups` column names, from a CSV export.
pub(super) fn read_users(text: &str) -> Result<(Vec<User>, Vec<Group>), SyncError> {
    let mut rows = records(text)?.into_iter();
    let Some(header) = rows.next() else {
        return Err(SyncError::Csv {
            line: 1,
            field: None,
            message: format!("empty file; expected a header row ({})", COLUMNS.join(",")),
        });
    };
    // Column index for each known column name.
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, name) in header.fields.iter().enumerate() {
        let name = name.trim();
        let Some(known) = COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(name)) else {
            return Err(SyncError::Csv {
                line: header.line,
                field: Some(name.to_owned()),
                message: format!("unknown column; expected some of {}", COLUMNS.join(",")),
            });
        };
        if index.insert(known, i).is_some() {
            return Err(SyncError::Csv {
                line: header.line,
                field: Some((*known).to_owned()),
                message: "column named twice".into(),
            });
        }
    }
    if !index.contains_key("userName") {
        return Err(SyncError::Csv {
            line: header.line,
            field: Some("userName".into()),
            message: "the header has no userName column".into(),
        });
    }

    let mut users = Vec::new();
    // Group name as first written -> member user names, in file order.
    let mut groups: Vec<Group> = Vec::new();
    let mut group_index: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows {
        if row.fields.len() != header.fields.len() {
            return Err(SyncError::Csv {
                line: row.line,
                field: None,
                message: format!(
                    "{} fields, but the header has {}",
                    row.fields.len(),
                    header.fields.len()
                ),
            });
        }
        let get = |column: &str| -> Option<&str> {
            index
                .get(column)
                .and_then(|&i| row.fields.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(user_name) = get("userName") else {
            return Err(SyncError::Csv {
                line: row.line,
                field: Some("userName".into()),
                message: "empty; every user needs a userName".into(),
            });
        };
        let mut user = User::new(user_name);
        user.external_id = get("externalId").map(str::to_owned);
        let given = get("givenName").map(str::to_owned);
        let family = get("familyName").map(str::to_owned);
        if given.is_some() || family.is_some() {
            user.name = Some(Name {
                given_name: given,
                family_name: family,
                ..Name::default()
            });
        }
        if let Some(email) = get("email") {
            let mut value = MultiValue::new(email);
            value.primary = Some(true);
            user.emails = vec![value];
        }
        user.active = match get("active").map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("true" | "yes" | "1") => Some(true),
            Some("false" | "no" | "0") => Some(false),
            Some(other) => {
                return Err(SyncError::Csv {
                    line: row.line,
                    field: Some("active".into()),
                    message: format!("expected true or false, found `{other}`"),
                });
            }
        };
        for name in get("groups").into_iter().flat_map(|g| g.split(';')) {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let key = name.to_lowercase();
            let at = if let Some(&at) = group_index.get(&key) {
                at
            } else {
                groups.push(Group::new(name));
                group_index.insert(key, groups.len() - 1);
                groups.len() - 1
            };
            if let Some(group) = groups.get_mut(at) {
                group.members.push(Member::new(user_name));
            }
        }
        users.push(user);
    }
    Ok((users, groups))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn quoted_fields_and_line_breaks() {
        let recs = records("a,\"b,\"\"c\"\"\nd\",e\r\nf,g,h\n\n").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].fields, ["a", "b,\"c\"\nd", "e"]);
        assert_eq!(recs[1].line, 3);
        assert_eq!(recs[1].fields, ["f", "g", "h"]);
    }

    #[test]
    fn errors_name_the_line() {
        let err = records("a,b\n\"open,c\n").err().unwrap().to_string();
        assert_eq!(err, "CSV line 2: a quoted field is never closed");
        let err = records("a,b\nx\"y,z\n").err().unwrap().to_string();
        assert_eq!(err, "CSV line 2: a quote inside an unquoted field");
    }
}
