//! SCIM filters as SQL `WHERE` fragments.
//!
//! A translated filter selects exactly the rows [`Filter::matches_with`] (with the provisioner's
//! schemas) accepts; anything whose meaning SQL cannot reproduce exactly is left untranslated,
//! and the search evaluates it in memory instead (see [`crate::search`]).
//!
//! Where a value is read:
//! - Attributes with a column of their own (`id`, `externalId`, `userName`, `displayName`,
//!   `active`, `meta.created`, `meta.lastModified`) compare the column (`*_ci`: lower-cased).
//! - Every other attribute the schemas know (core, enterprise extension, any registered
//!   extension) is read from the row's `search` column: the resource's JSON with object keys
//!   ASCII-lower-cased (filters match attribute names ignoring ASCII case) and strings
//!   lower-cased as filters compare them (see [`crate::store::search_json`]). A single-valued
//!   attribute is a JSON path (`json_extract` on SQLite, `#>>` on PostgreSQL); a sub-attribute
//!   of a multi-valued one is an `EXISTS` over the array's elements (`json_each`,
//!   `jsonb_array_elements`); `emails[type eq "work" and value co "@x"]` puts the whole bracket
//!   on one element, as the evaluator does.
//! - The `value` of a user's multi-valued attributes in [`SIDE_VALUES`] (`emails.value`, ...)
//!   also lives in the indexed table `scim_user_values`, which string comparisons use.
//!
//! How the semantics carry over:
//! - Case-insensitive comparison (the default) compares the lower-cased copy with the literal
//!   lower-cased the same way (each character on its own); `caseExact` attributes compare a
//!   column as written (`id`, `externalId`), or the `search` copy, which keeps the strings of
//!   case-exact (and binary) attributes as written (by the schemas the row was written with).
//! - The JSON type of the value is checked as the evaluator does: a string literal compares
//!   with strings, `true`/`false` (any ASCII case) also equal booleans, a boolean literal equals
//!   a boolean or such a string; numbers and JSON date-times (no built-in attribute has them;
//!   `meta` has columns) are evaluated in memory, and so are the user's `groups` (a table of
//!   their own) and attributes no schema knows.
//! - `co`/`sw`/`ew` use `instr`/`strpos` and `substr` on character positions: no `LIKE`, so no
//!   wildcard to escape and no collation folding case behind our back. `gt`/`lt` compare in
//!   code-point order (PostgreSQL: `COLLATE "C"`), as Rust compares strings.
//! - Date-times in columns compare as instants: nanoseconds since the epoch in the row against
//!   the literal parsed by [`scim_filter::parse_datetime`].
//! - Every leaf is two-valued (an absent attribute makes it false, never SQL `NULL`), so `not`
//!   negates exactly: `not (title eq "x")` keeps resources without a title, as the evaluator does.
//! - Values are always bound parameters; column names and JSON keys come from fixed tables or
//!   from the schemas (keys are checked to be plain names before they go into SQL text).
//!
//! The translation assumes the stored JSON has the shape its schema gives it (a single-valued
//! attribute is not an array, the elements of a multi-valued complex attribute are objects), as
//! the typed `User` and `Group` write it.

use scim_core::schema::{AttributeDef, SchemaRegistry};
use scim_filter::{AttrInfo, AttrPath, AttrType, CompValue, CompareOp, Filter};

use crate::store::{Arg, Dialect, Fragment, fold};

/// The user's multi-valued complex attributes whose `value` is also kept in the indexed table
/// `scim_user_values` (lower-cased), by their key in the `search` JSON.
pub(crate) const SIDE_VALUES: &[&str] = &["emails", "phonenumbers", "ims", "entitlements", "roles"];

/// The user's single-valued string attributes also kept in `scim_user_values` (lower-cased, under
/// their key in the `search` JSON), because one value is shared by many users: `title` (a
/// `title eq` matching 2,500 of 100k users reads the ids from that table's covering index
/// instead of each matching row, which an index on the JSON path cannot avoid on SQLite).
/// Near-unique values (`employeeNumber`) are served well by their JSON path indexes.
pub(crate) const SIDE_SINGLES: &[&str] = &["title"];

/// A column a filter can use.
#[derive(Clone, Debug)]
pub(crate) enum Column {
    /// A string: SQL for its value as written and for its lower-cased copy (a column, or a
    /// JSON path into the lower-cased copy, `exact` then being the same path).
    Text { exact: String, folded: String },
    /// A boolean stored as 0/1.
    Bool(&'static str),
    /// An instant in nanoseconds since the epoch.
    Instant(&'static str),
}

/// Which resource's table a filter runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Users,
    Groups,
}

impl Table {
    pub(crate) fn core_urn(self) -> &'static str {
        match self {
            Table::Users => scim_core::urn::USER,
            Table::Groups => scim_core::urn::GROUP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Table::Users => "scim_users",
            Table::Groups => "scim_groups",
        }
    }

    /// The indexed column holding `path`'s value, if it has one.
    fn own_column(self, path: &AttrPath) -> Option<Column> {
        if let Some(urn) = path.schema() {
            if !urn.eq_ignore_ascii_case(self.core_urn()) {
                return None;
            }
        }
        let name = path.name();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let text = |exact: &str, folded: &str| {
            Some(Column::Text {
                exact: exact.to_owned(),
                folded: folded.to_owned(),
            })
        };
        match (path.sub_attr(), self) {
            (None, _) if is("id") => text("id", "id"),
            (None, _) if is("externalId") => text("external_id", "external_id_ci"),
            (None, _) if is("displayName") => text("display_name", "display_name_ci"),
            (None, Table::Users) if is("userName") => text("user_name", "user_name_ci"),
            (None, Table::Users) if is("active") => Some(Column::Bool("active")),
            (Some(sub), _) if is("meta") && sub.eq_ignore_ascii_case("created") => {
                Some(Column::Instant("created_ns"))
            }
            (Some(sub), _) if is("meta") && sub.eq_ignore_ascii_case("lastModified") => {
                Some(Column::Instant("last_modified_ns"))
            }
            _ => None,
        }
    }

    /// The column (or JSON path) `sortBy` orders on, with the attribute's characteristics:
    /// indexed columns, and single-valued case-insensitive strings of the stored JSON.
    pub(crate) fn sort_column(
        self,
        dialect: Dialect,
        schemas: &SchemaRegistry,
        path: &AttrPath,
    ) -> Option<(Column, AttrInfo)> {
        let info = schemas
            .resource(self.core_urn())
            .find(path.schema(), path.name(), path.sub_attr())
            .map(AttributeDef::info)?;
        if let Some(c) = self.own_column(path) {
            return Some((c, info));
        }
        match locate(self, schemas, path)? {
            Located::Single { keys, def, .. } if is_text(def) => {
                let v = dialect.json_value(Doc::Row, &keys);
                Some((
                    Column::Text {
                        exact: v.clone(),
                        folded: v,
                    },
                    info,
                ))
            }
            _ => None,
        }
    }
}

/// Where a path's value is in the `search` JSON.
enum Located<'s> {
    /// A single-valued attribute: `attr` are the keys of the attribute itself (what `pr` without
    /// a sub-attribute tests), `keys` those of the value compared (its sub-attribute, or the
    /// `value` of a complex attribute), of type `def`.
    Single {
        attr: Vec<String>,
        keys: Vec<String>,
        def: &'s AttributeDef,
    },
    /// A multi-valued attribute at `keys`, and the sub-attribute compared (`value` when the
    /// path names none and the attribute is complex), if any.
    Multi {
        keys: Vec<String>,
        attr: &'s AttributeDef,
        sub: Option<&'s AttributeDef>,
    },
}

/// A JSON key as it is in the `search` copy: ASCII-lower-cased. `None` for a name that is not a
/// plain attribute name or URN (it would have to be escaped inside SQL text).
fn key(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.' | b'$'));
    plain.then(|| name.to_ascii_lowercase())
}

/// Whether `def`'s values are strings in the JSON (binary ones as base64 text).
fn is_text(def: &AttributeDef) -> bool {
    matches!(
        def.info().kind(),
        AttrType::String | AttrType::Reference | AttrType::Binary
    )
}

/// Whether `def`'s strings compare as written: `caseExact`, or binary. The `search` copy keeps
/// those as written.
fn case_exact(def: &AttributeDef) -> bool {
    def.is_case_exact() || def.info().kind() == AttrType::Binary
}

/// The user's attributes that are not in the stored JSON: `groups` (from the memberships
/// table), `password` (a column of its own, never returned) and `meta` (columns).
const NOT_IN_JSON: &[&str] = &["groups", "password", "meta"];

/// The attribute `path` names (outside any `[...]`) and the `search` JSON keys leading to it,
/// by the schemas. Only users have the `search` column.
fn attribute<'s>(
    table: Table,
    schemas: &'s SchemaRegistry,
    path: &AttrPath,
) -> Option<(Vec<String>, &'s AttributeDef)> {
    if table != Table::Users {
        return None;
    }
    let core = table.core_urn();
    let urn = path.schema().unwrap_or(core);
    let attr = schemas.get(urn)?.attribute(path.name())?;
    let mut keys = Vec::with_capacity(3);
    if urn.eq_ignore_ascii_case(core) {
        if NOT_IN_JSON
            .iter()
            .any(|n| attr.name.eq_ignore_ascii_case(n))
        {
            return None;
        }
    } else {
        // An extension's attributes live in an object under its URN.
        keys.push(key(urn)?);
    }
    keys.push(key(&attr.name)?);
    Some((keys, attr))
}

/// Where `path` (outside any `[...]`) is in the `search` JSON.
fn locate<'s>(table: Table, schemas: &'s SchemaRegistry, path: &AttrPath) -> Option<Located<'s>> {
    let (keys, attr) = attribute(table, schemas, path)?;
    let complex = attr.info().kind() == AttrType::Complex;
    let sub = match path.sub_attr() {
        Some(s) => Some(attr.sub_attribute(s)?),
        // A complex attribute compared without a sub-attribute compares its `value`.
        None if complex => attr.sub_attribute("value"),
        None => None,
    };
    if attr.multi_valued {
        if complex && sub.is_none() {
            return None;
        }
        return Some(Located::Multi { keys, attr, sub });
    }
    let (leaf, def) = match sub {
        Some(s) => {
            let mut leaf = keys.clone();
            leaf.push(key(&s.name)?);
            (leaf, s)
        }
        None => (keys.clone(), attr),
    };
    Some(Located::Single {
        attr: keys,
        keys: leaf,
        def,
    })
}

/// The JSON document a value is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Doc {
    /// The row's `search` column.
    Row,
    /// The current element of an `EXISTS` over a JSON array ([`Dialect::elements_exist`]).
    Element,
}

/// A JSON type as the evaluator tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonType {
    Text,
    True,
    False,
    Object,
}

impl Dialect {
    /// The document expression for `doc`.
    fn doc(self, doc: Doc) -> &'static str {
        match (self, doc) {
            (Dialect::Sqlite, Doc::Row) => "search",
            (Dialect::Sqlite, Doc::Element) => "e.value",
            (Dialect::Postgres, Doc::Row) => "CAST(search AS jsonb)",
            (Dialect::Postgres, Doc::Element) => "e.v",
        }
    }

    fn path(self, keys: &[String]) -> String {
        match self {
            Dialect::Sqlite => {
                let mut p = String::from("$");
                for k in keys {
                    p.push_str(".\"");
                    p.push_str(k);
                    p.push('"');
                }
                p
            }
            Dialect::Postgres => {
                let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
                format!("{{{}}}", quoted.join(","))
            }
        }
    }

    /// The scalar at `keys` in `doc` as SQL text (strings unquoted; `NULL` when absent). Also
    /// the expression of the `search` indexes (see `crate::schema`), which must be written the
    /// same way for the planner to use them.
    pub(crate) fn json_value(self, doc: Doc, keys: &[String]) -> String {
        match self {
            Dialect::Sqlite if keys.is_empty() && doc == Doc::Element => "e.value".to_owned(),
            Dialect::Sqlite => format!("json_extract({}, '{}')", self.doc(doc), self.path(keys)),
            Dialect::Postgres => format!("({} #>> '{}')", self.doc(doc), self.path(keys)),
        }
    }

    /// Whether the value at `keys` in `doc` has JSON type `t`: never SQL `NULL` (an absent
    /// value has no type), so that `NOT` negates it exactly.
    fn json_is(self, doc: Doc, keys: &[String], t: JsonType) -> String {
        match self {
            Dialect::Sqlite => {
                let ty = self.sqlite_json_type(doc, keys);
                let name = match t {
                    JsonType::Text => "text",
                    JsonType::True => "true",
                    JsonType::False => "false",
                    JsonType::Object => "object",
                };
                format!("{ty} IS '{name}'")
            }
            Dialect::Postgres => {
                let ty = format!("jsonb_typeof({} #> '{}')", self.doc(doc), self.path(keys));
                match t {
                    JsonType::Text => format!("{ty} IS NOT DISTINCT FROM 'string'"),
                    JsonType::Object => format!("{ty} IS NOT DISTINCT FROM 'object'"),
                    JsonType::True | JsonType::False => format!(
                        "({ty} IS NOT DISTINCT FROM 'boolean' AND {} = '{}')",
                        self.json_value(doc, keys),
                        t == JsonType::True
                    ),
                }
            }
        }
    }

    /// Whether the value at `keys` in the row's `search` column is a JSON string.
    pub(crate) fn json_is_string(self, keys: &[String]) -> String {
        self.json_is(Doc::Row, keys, JsonType::Text)
    }

    /// SQLite: the JSON type of the value at `keys` in `doc` (SQL `NULL` when absent). An
    /// element of a multi-valued primitive is read from `json_each`'s `type` column: its `value`
    /// is SQL (a string element unquoted, not JSON), which `json_type` would refuse.
    fn sqlite_json_type(self, doc: Doc, keys: &[String]) -> String {
        if keys.is_empty() && doc == Doc::Element {
            "e.type".to_owned()
        } else {
            format!("json_type({}, '{}')", self.doc(doc), self.path(keys))
        }
    }

    /// Whether the value at `keys` is JSON `null` or absent.
    fn json_is_null(self, doc: Doc, keys: &[String]) -> String {
        match self {
            Dialect::Sqlite => {
                let ty = self.sqlite_json_type(doc, keys);
                format!("({ty} IS NULL OR {ty} = 'null')")
            }
            Dialect::Postgres => {
                let ty = format!("jsonb_typeof({} #> '{}')", self.doc(doc), self.path(keys));
                format!("({ty} IS NULL OR {ty} = 'null')")
            }
        }
    }

    /// `EXISTS` an element of the JSON array at `keys` in the row's `search` column satisfying
    /// `cond` (written with [`Doc::Element`]); only object elements when `objects`.
    pub(crate) fn elements_exist(self, keys: &[String], cond: &str, objects: bool) -> String {
        let path = self.path(keys);
        match self {
            Dialect::Sqlite => {
                let only = if objects {
                    "e.type = 'object' AND "
                } else {
                    ""
                };
                format!(
                    "EXISTS (SELECT 1 FROM json_each(search, '{path}') AS e WHERE {only}({cond}))"
                )
            }
            Dialect::Postgres => {
                let only = if objects {
                    "jsonb_typeof(e.v) = 'object' AND "
                } else {
                    ""
                };
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN \
                     jsonb_typeof(CAST(search AS jsonb) #> '{path}') = 'array' THEN \
                     CAST(search AS jsonb) #> '{path}' ELSE '[]'::jsonb END) AS e(v) \
                     WHERE {only}({cond}))"
                )
            }
        }
    }

    /// Whether `haystack` contains the parameter `needle` (`instr`/`strpos`: no LIKE wildcards
    /// to escape, and case-sensitive on both).
    pub(crate) fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }
}

/// Inside `attr[...]`: where the element's sub-attributes are, and whose they are.
#[derive(Clone, Debug)]
struct Scope<'s> {
    /// The element document and the keys leading to the bracket's object within it.
    doc: Doc,
    prefix: Vec<String>,
    /// The attribute the bracket filters.
    attr: &'s AttributeDef,
}

/// Translates filters for one table and dialect, with attribute characteristics from `schemas`.
pub(crate) struct Translator<'s> {
    pub(crate) dialect: Dialect,
    pub(crate) table: Table,
    pub(crate) schemas: &'s SchemaRegistry,
    /// The tenant, bound in subqueries on `scim_user_values`.
    pub(crate) tenant: &'s str,
    scope: Option<Scope<'s>>,
}

impl<'s> Translator<'s> {
    pub(crate) fn new(
        dialect: Dialect,
        table: Table,
        schemas: &'s SchemaRegistry,
        tenant: &'s str,
    ) -> Self {
        Translator {
            dialect,
            table,
            schemas,
            tenant,
            scope: None,
        }
    }

    fn within(&self, scope: Scope<'s>) -> Self {
        Translator {
            dialect: self.dialect,
            table: self.table,
            schemas: self.schemas,
            tenant: self.tenant,
            scope: Some(scope),
        }
    }

    /// The whole filter as SQL, or `None` if some part of it has no exact translation.
    pub(crate) fn translate(&self, f: &Filter) -> Option<Fragment> {
        match f {
            Filter::And(ops) => self.junction(ops, " AND "),
            Filter::Or(ops) => self.junction(ops, " OR "),
            Filter::Not(inner) => {
                let inner = self.translate(inner)?;
                Some(Fragment {
                    text: format!("(NOT {})", inner.text),
                    args: inner.args,
                })
            }
            Filter::Present(path) => self.present(path),
            Filter::Compare(path, op, value) => self.compare(path, *op, value),
            Filter::ValuePath(path, inner) => self.value_path(path, inner),
        }
    }

    /// As much of the filter as translates, when it is an `and` of parts: the SQL for the parts
    /// that translate and the parts left to evaluate in memory. Any other filter is all or
    /// nothing.
    pub(crate) fn split(&self, f: &Filter) -> (Option<Fragment>, Vec<Filter>) {
        if let Some(all) = self.translate(f) {
            return (Some(all), Vec::new());
        }
        let Filter::And(ops) = f else {
            return (None, vec![f.clone()]);
        };
        let mut pushed = Vec::new();
        let mut rest = Vec::new();
        for op in ops {
            match self.translate(op) {
                Some(frag) => pushed.push(frag),
                None => rest.push(op.clone()),
            }
        }
        (join(pushed, " AND "), rest)
    }

    fn junction(&self, ops: &[Filter], sep: &str) -> Option<Fragment> {
        let parts = ops
            .iter()
            .map(|f| self.translate(f))
            .collect::<Option<Vec<_>>>()?;
        join(parts, sep)
    }

    /// A path inside `[...]`: a sub-attribute of the bracket's element.
    fn in_scope(scope: &Scope<'s>, path: &AttrPath) -> Option<(Vec<String>, &'s AttributeDef)> {
        if path.schema().is_some() || path.sub_attr().is_some() {
            return None;
        }
        let def = scope.attr.sub_attribute(path.name())?;
        let mut keys = scope.prefix.clone();
        keys.push(key(&def.name)?);
        Some((keys, def))
    }

    fn present(&self, path: &AttrPath) -> Option<Fragment> {
        if let Some(scope) = &self.scope {
            let (keys, _) = Self::in_scope(scope, path)?;
            return Some(Fragment::raw(&self.json_present(scope.doc, &keys)));
        }
        if let Some(column) = self.table.own_column(path) {
            return Some(Fragment::raw(&match column {
                Column::Text { exact, .. } => {
                    format!("({exact} IS NOT NULL AND {exact} <> '')")
                }
                Column::Bool(c) | Column::Instant(c) => format!("({c} IS NOT NULL)"),
            }));
        }
        match locate(self.table, self.schemas, path)? {
            // `name pr` tests the object, `name.givenName pr` the sub-attribute.
            Located::Single { attr, keys, .. } => {
                let keys = if path.sub_attr().is_none() {
                    attr
                } else {
                    keys
                };
                Some(Fragment::raw(&self.json_present(Doc::Row, &keys)))
            }
            Located::Multi { keys, attr, .. } => {
                let cond = match path.sub_attr() {
                    // Some element is present: a non-empty object, string, or any boolean.
                    None => self.json_present(Doc::Element, &[]),
                    Some(s) => {
                        let sub = attr.sub_attribute(s)?;
                        self.json_present(Doc::Element, &[key(&sub.name)?])
                    }
                };
                let objects = path.sub_attr().is_some();
                Some(Fragment::raw(&format!(
                    "({})",
                    self.dialect.elements_exist(&keys, &cond, objects)
                )))
            }
        }
    }

    /// `pr` on a JSON value: a non-empty string or object, or any boolean (numbers and arrays
    /// are not in the shapes translated).
    fn json_present(&self, doc: Doc, keys: &[String]) -> String {
        let d = self.dialect;
        let v = d.json_value(doc, keys);
        let object_text = match d {
            // An element of `json_each` over JSONB is JSONB itself: `json` makes it text.
            Dialect::Sqlite if doc == Doc::Element && keys.is_empty() => format!("json({v})"),
            Dialect::Sqlite => v.clone(),
            Dialect::Postgres => format!("CAST({} #> '{}' AS TEXT)", d.doc(doc), d.path(keys)),
        };
        format!(
            "(({} AND {v} <> '') OR {} OR {} OR ({} AND {object_text} <> '{{}}'))",
            d.json_is(doc, keys, JsonType::Text),
            d.json_is(doc, keys, JsonType::True),
            d.json_is(doc, keys, JsonType::False),
            d.json_is(doc, keys, JsonType::Object),
        )
    }

    fn value_path(&self, path: &AttrPath, inner: &Filter) -> Option<Fragment> {
        if self.scope.is_some() || path.sub_attr().is_some() {
            return None;
        }
        if self.table.own_column(path).is_some() {
            return None;
        }
        let (keys, attr) = attribute(self.table, self.schemas, path)?;
        if attr.info().kind() != AttrType::Complex {
            return None;
        }
        if attr.multi_valued {
            let t = self.within(Scope {
                doc: Doc::Element,
                prefix: Vec::new(),
                attr,
            });
            let cond = t.translate(inner)?;
            Some(Fragment {
                text: format!("({})", self.dialect.elements_exist(&keys, &cond.text, true)),
                args: cond.args,
            })
        } else {
            // `name[givenName eq "x"]`: the filter on the object itself, when it is one.
            let t = self.within(Scope {
                doc: Doc::Row,
                prefix: keys.clone(),
                attr,
            });
            let cond = t.translate(inner)?;
            Some(Fragment {
                text: format!(
                    "({} AND {})",
                    self.dialect.json_is(Doc::Row, &keys, JsonType::Object),
                    cond.text
                ),
                args: cond.args,
            })
        }
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, value: &CompValue) -> Option<Fragment> {
        if let Some(scope) = &self.scope {
            let (keys, def) = Self::in_scope(scope, path)?;
            return self.json_compare(scope.doc, &keys, def, op, value);
        }
        if let Some(column) = self.table.own_column(path) {
            let info = self
                .schemas
                .resource(self.table.core_urn())
                .find(path.schema(), path.name(), path.sub_attr())?
                .info();
            return self.column_compare(&column, info, op, value);
        }
        match locate(self.table, self.schemas, path)? {
            Located::Single { keys, def, .. } => {
                if let Some(f) = self.side_single(&keys, def, op, value) {
                    return Some(f);
                }
                self.json_compare(Doc::Row, &keys, def, op, value)
            }
            Located::Multi { keys, attr, sub } => self.multi_compare(&keys, attr, sub, op, value),
        }
    }

    /// A string comparison on one of [`SIDE_SINGLES`], through `scim_user_values`: the typed
    /// `User` writes those attributes as strings only, so the table holds every value the
    /// comparison could match (`ne`: no such row).
    fn side_single(
        &self,
        keys: &[String],
        def: &AttributeDef,
        op: CompareOp,
        value: &CompValue,
    ) -> Option<Fragment> {
        let [k] = keys else { return None };
        let attr = SIDE_SINGLES.iter().copied().find(|s| s == k)?;
        let CompValue::String(lit) = value else {
            return None;
        };
        if self.table != Table::Users || !is_text(def) || case_exact(def) {
            return None;
        }
        Some(if op == CompareOp::Ne {
            let f = self.side_compare(attr, CompareOp::Eq, lit);
            Fragment {
                text: format!("(NOT {})", f.text),
                args: f.args,
            }
        } else {
            self.side_compare(attr, op, lit)
        })
    }

    /// A comparison on a multi-valued attribute: some element's value (`ne` and `eq null`: no
    /// element's) satisfies it.
    fn multi_compare(
        &self,
        keys: &[String],
        attr: &'s AttributeDef,
        sub: Option<&'s AttributeDef>,
        op: CompareOp,
        value: &CompValue,
    ) -> Option<Fragment> {
        let (sub_keys, def) = match sub {
            Some(s) => (vec![key(&s.name)?], s),
            None => (Vec::new(), attr),
        };
        let any = |op: CompareOp, value: &CompValue| -> Option<Fragment> {
            if let (Some(side), CompValue::String(s)) = (self.side_table(keys, sub), value) {
                if is_text(def) && !case_exact(def) && op != CompareOp::Ne {
                    return Some(self.side_compare(side, op, s));
                }
            }
            let cond = match value {
                CompValue::Null => Fragment::raw(&format!(
                    "(NOT {})",
                    self.dialect.json_is_null(Doc::Element, &sub_keys)
                )),
                v => self.json_compare(Doc::Element, &sub_keys, def, op, v)?,
            };
            Some(Fragment {
                text: format!(
                    "({})",
                    self.dialect.elements_exist(keys, &cond.text, sub.is_some())
                ),
                args: cond.args,
            })
        };
        let negate = |f: Fragment| Fragment {
            text: format!("(NOT {})", f.text),
            args: f.args,
        };
        match (op, value) {
            // `eq null` holds when no element has a non-null value, `ne null` when one has.
            (CompareOp::Eq, CompValue::Null) => any(CompareOp::Ne, &CompValue::Null).map(negate),
            (CompareOp::Ne, CompValue::Null) => any(CompareOp::Ne, &CompValue::Null),
            (_, CompValue::Null) => Some(Fragment::raw("(1 = 0)")),
            // `ne` holds when no element equals the value.
            (CompareOp::Ne, v) => any(CompareOp::Eq, v).map(negate),
            (op, v) => any(op, v),
        }
    }

    /// The attribute key in `scim_user_values` when `keys`/`sub` are the `value` of one of
    /// [`SIDE_VALUES`].
    fn side_table(&self, keys: &[String], sub: Option<&AttributeDef>) -> Option<&'static str> {
        if self.table != Table::Users {
            return None;
        }
        let [k] = keys else { return None };
        if !sub.is_some_and(|s| s.name.eq_ignore_ascii_case("value")) {
            return None;
        }
        SIDE_VALUES.iter().copied().find(|s| s == k)
    }

    /// Some value of `attr` (one of [`SIDE_VALUES`] or [`SIDE_SINGLES`]) compares with `lit`,
    /// through the index on `scim_user_values`.
    fn side_compare(&self, attr: &'static str, op: CompareOp, lit: &str) -> Fragment {
        let rows = self.side_rows(attr, op, lit);
        Fragment {
            text: format!(
                "({}.id IN (SELECT user_id FROM scim_user_values WHERE {}))",
                self.table.name(),
                rows.text
            ),
            args: rows.args,
        }
    }

    /// The condition on rows of `scim_user_values` of [`Translator::side_compare`].
    fn side_rows(&self, attr: &'static str, op: CompareOp, lit: &str) -> Fragment {
        let cond = self.text("value", op, &fold(lit));
        let mut f = Fragment::default();
        let tenant = f.bind(Arg::Text(self.tenant.to_owned()));
        f.text = format!("tenant = {tenant} AND attr = '{attr}' AND {}", cond.text);
        f.args.extend(cond.args);
        f
    }

    /// When `f` is one comparison that [`Translator::translate`] answers from
    /// `scim_user_values` alone (`title eq "x"`, `emails.value co "@x"`, ...; never `ne`): the
    /// condition on that table's rows. The users matching `f` are then exactly the distinct
    /// `user_id`s of those rows (each user's rows are written and deleted with it, in its
    /// transaction), so counting them needs no look-up in `scim_users`.
    pub(crate) fn side_rows_of(&self, f: &Filter) -> Option<Fragment> {
        let Filter::Compare(path, op, CompValue::String(lit)) = f else {
            return None;
        };
        if *op == CompareOp::Ne
            || self.scope.is_some()
            || self.table != Table::Users
            || self.table.own_column(path).is_some()
        {
            return None;
        }
        let (attr, def) = match locate(self.table, self.schemas, path)? {
            Located::Single { keys, def, .. } => {
                let [k] = keys.as_slice() else { return None };
                (SIDE_SINGLES.iter().copied().find(|s| s == k)?, def)
            }
            Located::Multi { keys, attr, sub } => {
                (self.side_table(&keys, sub)?, sub.unwrap_or(attr))
            }
        };
        (is_text(def) && !case_exact(def)).then(|| self.side_rows(attr, *op, lit))
    }

    /// A comparison on a JSON value of type given by `def`.
    fn json_compare(
        &self,
        doc: Doc,
        keys: &[String],
        def: &AttributeDef,
        op: CompareOp,
        value: &CompValue,
    ) -> Option<Fragment> {
        let dl = self.dialect;
        if !(is_text(def) || def.info().kind() == AttrType::Boolean) {
            // Numbers, date-times in JSON and complex values: in memory.
            return None;
        }
        let exact = case_exact(def);
        let lit = |s: &str| if exact { s.to_owned() } else { fold(s) };
        let negate = |f: Fragment| Fragment {
            text: format!("(NOT {})", f.text),
            args: f.args,
        };
        let val = dl.json_value(doc, keys);
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => Some(Fragment::raw(&dl.json_is_null(doc, keys))),
            (CompareOp::Ne, CompValue::Null) => {
                Some(negate(Fragment::raw(&dl.json_is_null(doc, keys))))
            }
            (_, CompValue::Null) => Some(Fragment::raw("(1 = 0)")),
            (CompareOp::Ne, v) => self
                .json_compare(doc, keys, def, CompareOp::Eq, v)
                .map(negate),
            (op, CompValue::String(s)) => {
                // A string compares with strings; `"true"`/`"false"` also equal booleans.
                let mut parts = Vec::new();
                let lit = lit(s);
                let t = self.text(&val, op, &lit);
                // On SQLite `json_extract` gives a string as TEXT, a boolean or number as a
                // number, and an object or array as its JSON text; so equality with a literal
                // not shaped like JSON text holds for strings only, and the type check (which
                // reads the row) can go: an index on the path answers alone.
                let gate =
                    if dl == Dialect::Sqlite && op == CompareOp::Eq && !lit.starts_with(['{', '['])
                    {
                        format!("{val} IS NOT NULL")
                    } else {
                        dl.json_is(doc, keys, JsonType::Text)
                    };
                parts.push(Fragment {
                    text: format!("({gate} AND {})", t.text),
                    args: t.args,
                });
                if op == CompareOp::Eq {
                    match parse_bool(s) {
                        Some(true) => {
                            parts.push(Fragment::raw(&dl.json_is(doc, keys, JsonType::True)));
                        }
                        Some(false) => {
                            parts.push(Fragment::raw(&dl.json_is(doc, keys, JsonType::False)));
                        }
                        None => {}
                    }
                }
                join(parts, " OR ")
            }
            (CompareOp::Eq, CompValue::Bool(want)) => {
                let mut f = Fragment::default();
                let p = f.bind(Arg::Text(want.to_string()));
                let t = if *want {
                    JsonType::True
                } else {
                    JsonType::False
                };
                // The lower-cased copy holds "TRUE" as "true"; a case-exact string is as
                // written ("true"/"false" only need ASCII, which `lower` folds on both).
                let val = if exact { format!("lower({val})") } else { val };
                f.text = format!(
                    "({} OR ({} AND {val} = {p}))",
                    dl.json_is(doc, keys, t),
                    dl.json_is(doc, keys, JsonType::Text)
                );
                Some(f)
            }
            // Numbers never equal strings or booleans; ordering a boolean is false.
            (_, CompValue::Bool(_) | CompValue::Number(_)) => Some(Fragment::raw("(1 = 0)")),
        }
    }

    fn column_compare(
        &self,
        column: &Column,
        info: AttrInfo,
        op: CompareOp,
        value: &CompValue,
    ) -> Option<Fragment> {
        let (null_col, kind) = match column {
            Column::Text { exact, .. } => (exact.as_str(), AttrType::String),
            Column::Bool(c) => (*c, AttrType::Boolean),
            Column::Instant(c) => (*c, AttrType::DateTime),
        };
        // The schema must agree with the column's type, or the evaluator's rules differ.
        if info.kind() != kind {
            return None;
        }
        let never = || Some(Fragment::raw("(1 = 0)"));
        let negate = |f: Fragment| Fragment {
            text: format!("(NOT {})", f.text),
            args: f.args,
        };
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => {
                Some(Fragment::raw(&format!("({null_col} IS NULL)")))
            }
            (CompareOp::Ne, CompValue::Null) => {
                Some(Fragment::raw(&format!("({null_col} IS NOT NULL)")))
            }
            (_, CompValue::Null) => never(),
            // `ne` is the negation of `eq`, absent attributes included.
            (CompareOp::Ne, value) => self
                .column_compare(column, info, CompareOp::Eq, value)
                .map(negate),
            (op, value) => match (column, value) {
                (Column::Text { exact, folded }, CompValue::String(s)) => {
                    let (col, lit) = if info.case_exact() {
                        (exact, s.to_string())
                    } else {
                        (folded, fold(s))
                    };
                    let t = self.text(col, op, &lit);
                    Some(Fragment {
                        text: format!("({col} IS NOT NULL AND {})", t.text),
                        args: t.args,
                    })
                }
                // "True"/"false" strings equal booleans, in any ASCII case.
                (Column::Text { exact, .. }, CompValue::Bool(b)) if op == CompareOp::Eq => {
                    let mut f = Fragment::default();
                    let p = f.bind(Arg::Text(b.to_string()));
                    f.text = format!("({exact} IS NOT NULL AND lower({exact}) = {p})");
                    // lower() is ASCII-only on SQLite; "true"/"false" only need ASCII.
                    Some(f)
                }
                (Column::Bool(c), CompValue::Bool(b)) if op == CompareOp::Eq => {
                    Some(bool_eq(c, *b))
                }
                (Column::Bool(c), CompValue::String(s)) if op == CompareOp::Eq => {
                    match parse_bool(s) {
                        Some(b) => Some(bool_eq(c, b)),
                        None => never(),
                    }
                }
                (Column::Instant(c), CompValue::String(s)) => {
                    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                        return None;
                    }
                    // Only an instant compares as one; any other literal compares as text,
                    // which the row's nanoseconds cannot: evaluate it in memory.
                    let ns = scim_filter::parse_datetime(s)
                        .and_then(|t| crate::store::instant_ns(&t))?;
                    let mut f = Fragment::default();
                    let p = f.bind(Arg::Int(ns));
                    f.text = format!("({c} IS NOT NULL AND {c} {} {p})", sql_op(op));
                    Some(f)
                }
                _ => never(),
            },
        }
    }

    /// `col op lit` on strings, `lit` already folded when `col` is (a non-`NULL` `col` is the
    /// caller's to check).
    fn text(&self, col: &str, op: CompareOp, lit: &str) -> Fragment {
        let chars = i64::try_from(lit.chars().count()).unwrap_or(i64::MAX);
        let mut f = Fragment::default();
        let cond = match op {
            CompareOp::Co => {
                let p = f.bind(Arg::Text(lit.to_owned()));
                self.dialect.contains(col, p)
            }
            CompareOp::Sw => {
                let n = f.bind(Arg::Int(chars));
                let p = f.bind(Arg::Text(lit.to_owned()));
                format!("substr({col}, 1, CAST({n} AS INTEGER)) = {p}")
            }
            CompareOp::Ew => {
                let n1 = f.bind(Arg::Int(chars));
                let n2 = f.bind(Arg::Int(chars));
                let p = f.bind(Arg::Text(lit.to_owned()));
                format!(
                    "length({col}) >= {n1} AND substr({col}, CAST(length({col}) - {n2} + 1 AS INTEGER)) = {p}"
                )
            }
            CompareOp::Eq => {
                let p = f.bind(Arg::Text(lit.to_owned()));
                format!("{col} = {p}")
            }
            op => {
                let p = f.bind(Arg::Text(lit.to_owned()));
                format!("{} {} {p}", self.dialect.binary(col), sql_op(op))
            }
        };
        f.text = format!("({cond})");
        f
    }
}

fn bool_eq(column: &str, b: bool) -> Fragment {
    let mut f = Fragment::default();
    let p = f.bind(Arg::Int(i64::from(b)));
    f.text = format!("({column} IS NOT NULL AND {column} = {p})");
    f
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        // `co`/`sw`/`ew` never get here (callers translate them first); `=` is harmless.
        CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "=",
    }
}

/// `parts` joined by `sep` in parentheses; `None` for none.
fn join(parts: Vec<Fragment>, sep: &str) -> Option<Fragment> {
    if parts.is_empty() {
        return None;
    }
    let mut out = Fragment::default();
    out.text.push('(');
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.text.push_str(sep);
        }
        out.text.push_str(&p.text);
        out.args.extend(p.args);
    }
    out.text.push(')');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side_rows(filter: &str) -> Option<String> {
        let schemas = SchemaRegistry::builtin();
        let t = Translator::new(Dialect::Sqlite, Table::Users, schemas, "acme");
        let f: Filter = filter.parse().expect("a filter");
        t.side_rows_of(&f).map(|f| f.text)
    }

    /// Only a lone comparison that the values table answers by itself is counted there.
    #[test]
    fn a_lone_comparison_on_the_values_table_is_counted_from_it() {
        for f in [
            r#"title eq "Engineer""#,
            r#"title co "eng""#,
            r#"emails.value eq "a@example.com""#,
            r#"emails co "@example.com""#,
            r#"phoneNumbers.value sw "+1""#,
        ] {
            let rows = side_rows(f).unwrap_or_else(|| panic!("{f}: not counted from the values"));
            assert!(rows.starts_with("tenant = "), "{f}: {rows}");
        }
        for f in [
            // `ne` holds for users without any row.
            r#"title ne "Engineer""#,
            r#"emails.value ne "a@example.com""#,
            // Not a string, or not in the values table.
            "title pr",
            "title eq null",
            r#"userName eq "bjensen""#,
            r#"name.familyName eq "Jensen""#,
            r#"emails.type eq "work""#,
            // More than one comparison.
            r#"title eq "a" and emails co "x""#,
            r#"title eq "a" or title eq "b""#,
            r#"not (title eq "a")"#,
            r#"emails[value eq "a@example.com"]"#,
        ] {
            assert_eq!(side_rows(f), None, "{f}");
        }
    }
}
