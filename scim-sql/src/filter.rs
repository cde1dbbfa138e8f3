//! SCIM filters as SQL `WHERE` fragments, for the attributes that have a column of their own.
//!
//! A translated filter selects exactly the rows [`Filter::matches_with`] (with the built-in
//! schemas) accepts; anything whose meaning SQL cannot reproduce exactly is left untranslated,
//! and the search evaluates it in memory instead (see [`crate::search`]).
//!
//! How the semantics carry over:
//! - Case-insensitive comparison (the default) compares a `*_ci` column, lower-cased when written
//!   the way filters lower-case (each character on its own), with the literal lower-cased the same
//!   way; `caseExact` attributes (`id`, `externalId`) compare the column as written.
//! - `co`/`sw`/`ew` use `instr`/`strpos` and `substr` on character positions: no `LIKE`, so no
//!   wildcard to escape and no collation folding case behind our back. `gt`/`lt` compare in
//!   code-point order (PostgreSQL: `COLLATE "C"`), as Rust compares strings.
//! - Date-times (`meta.created`, `meta.lastModified`) compare as instants: nanoseconds since the
//!   epoch in the row against the literal parsed by [`scim_filter::parse_datetime`].
//! - Every leaf is two-valued (an absent attribute makes it false, never SQL `NULL`), so `not`
//!   negates exactly: `not (title eq "x")` keeps resources without a title, as the evaluator does.
//! - Values are always bound parameters; column names come from a fixed table.

use scim_filter::{AttrInfo, AttrPath, AttrType, AttributeSchema, CompValue, CompareOp, Filter};

use crate::store::{Arg, Dialect, Fragment, fold, instant_ns};

/// A column a filter can use.
#[derive(Clone, Debug)]
pub(crate) enum Column {
    /// A string: SQL for its value as written and for its lower-cased copy (a column, or a
    /// JSON path into the stored resource and its lower-cased copy).
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
    fn core_urn(self) -> &'static str {
        match self {
            Table::Users => scim_core::urn::USER,
            Table::Groups => scim_core::urn::GROUP,
        }
    }

    /// The column holding `path`'s value, if it has one.
    pub(crate) fn column(self, dialect: Dialect, path: &AttrPath) -> Option<Column> {
        if let Some(urn) = path.schema() {
            if !urn.eq_ignore_ascii_case(self.core_urn()) {
                return None;
            }
        }
        if self == Table::Users {
            if let Some(keys) = json_string_path(path) {
                return Some(Column::Text {
                    exact: dialect.json_text("resource", keys),
                    folded: dialect.json_text("search", keys),
                });
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
}

/// The User's single-valued string attributes without a column of their own, by their JSON keys
/// in the stored resource (the typed `User` always writes them as strings under these keys).
const USER_JSON_STRINGS: &[&[&str]] = &[
    &["nickName"],
    &["title"],
    &["userType"],
    &["preferredLanguage"],
    &["locale"],
    &["timezone"],
    &["name", "formatted"],
    &["name", "familyName"],
    &["name", "givenName"],
    &["name", "middleName"],
    &["name", "honorificPrefix"],
    &["name", "honorificSuffix"],
];

/// The JSON keys of `path` if it is one of [`USER_JSON_STRINGS`] (names matched ignoring case,
/// as filters match them).
fn json_string_path(path: &AttrPath) -> Option<&'static [&'static str]> {
    USER_JSON_STRINGS
        .iter()
        .copied()
        .find(|keys| match (keys, path.sub_attr()) {
            ([name], None) => name.eq_ignore_ascii_case(path.name()),
            ([name, sub], Some(s)) => {
                name.eq_ignore_ascii_case(path.name()) && sub.eq_ignore_ascii_case(s)
            }
            _ => false,
        })
}

/// The User's multi-valued complex attributes filtered in SQL, by JSON key, and the
/// sub-attributes that may be compared (strings; anything else is evaluated in memory).
const USER_MULTI: &[&str] = &["emails", "phoneNumbers", "ims"];
const MULTI_SUBS: &[&str] = &["value", "type", "display"];

/// The JSON key of `path`'s multi-valued attribute, and the sub-attribute it compares (`value`
/// when none is named, as the evaluator does for complex attributes).
fn multi_path(path: &AttrPath) -> Option<(&'static str, &'static str)> {
    let key = USER_MULTI
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(path.name()))?;
    let sub = path.sub_attr().unwrap_or("value");
    let sub = MULTI_SUBS
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(sub))?;
    Some((key, sub))
}

/// Translates filters for one table and dialect, with attribute characteristics from `schema`.
pub(crate) struct Translator<'s, S: AttributeSchema> {
    pub(crate) dialect: Dialect,
    pub(crate) table: Table,
    pub(crate) schema: &'s S,
    /// Inside `attr[...]`: the multi-valued attribute whose elements paths are relative to.
    pub(crate) element: Option<&'static str>,
}

impl<S: AttributeSchema> Translator<'_, S> {
    /// The whole filter as SQL, or `None` if some part of it has no exact translation.
    pub(crate) fn translate(&self, f: &Filter) -> Option<Fragment> {
        if let Some(frag) = self.multi_valued(f) {
            return frag;
        }
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
            Filter::Present(path) => {
                let (column, _) = self.resolve(path)?;
                Some(Fragment::raw(&match column {
                    Column::Text { exact, .. } => {
                        format!("({exact} IS NOT NULL AND {exact} <> '')")
                    }
                    Column::Bool(c) | Column::Instant(c) => format!("({c} IS NOT NULL)"),
                }))
            }
            Filter::Compare(path, op, value) => self.compare(path, *op, value),
            Filter::ValuePath(..) => None,
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

    /// The SQL for `path`'s value and the schema's word on it: a column (or JSON path) of the
    /// row, or inside `[...]` a sub-attribute of the current element.
    fn resolve(&self, path: &AttrPath) -> Option<(Column, AttrInfo)> {
        let Some(key) = self.element else {
            let column = self.table.column(self.dialect, path)?;
            let info = self
                .schema
                .attribute(path.schema(), path.name(), path.sub_attr())?;
            return Some((column, info));
        };
        if path.schema().is_some() || path.sub_attr().is_some() {
            return None;
        }
        let sub = MULTI_SUBS
            .iter()
            .copied()
            .find(|s| s.eq_ignore_ascii_case(path.name()))?;
        let info = self.schema.attribute(None, key, Some(sub))?;
        // Elements are read from the lower-cased copy only: case-exact ones need the original.
        if info.case_exact() {
            return None;
        }
        let expr = self.dialect.element_text(sub);
        Some((
            Column::Text {
                exact: expr.clone(),
                folded: expr,
            },
            info,
        ))
    }

    /// Filters on a multi-valued attribute (`emails[...]`, `emails.value co ...`, `emails pr`)
    /// as `EXISTS` over its elements: `Some(None)` when it is one that cannot be translated,
    /// `None` when the filter is not about a multi-valued attribute.
    #[allow(clippy::option_option)]
    fn multi_valued(&self, f: &Filter) -> Option<Option<Fragment>> {
        let (Filter::Compare(path, ..) | Filter::Present(path) | Filter::ValuePath(path, _)) = f
        else {
            return None;
        };
        if self.table != Table::Users
            || path
                .schema()
                .is_some_and(|u| !u.eq_ignore_ascii_case(self.table.core_urn()))
        {
            return None;
        }
        let Some((key, sub)) = multi_path(path) else {
            // A multi-valued attribute we do not translate, or a sub-attribute we do not.
            let known = USER_MULTI
                .iter()
                .any(|k| k.eq_ignore_ascii_case(path.name()));
            return known.then_some(None);
        };
        if self.element.is_some() {
            return Some(None);
        }
        let inner = Translator {
            dialect: self.dialect,
            table: self.table,
            schema: self.schema,
            element: Some(key),
        };
        let sub_path = AttrPath::new(sub)?;
        let exists = |cond: Option<Fragment>, negated: bool| {
            cond.map(|c| Fragment {
                text: format!(
                    "({}{})",
                    if negated { "NOT " } else { "" },
                    self.dialect.elements_exist(key, &c.text)
                ),
                args: c.args,
            })
        };
        Some(match f {
            Filter::ValuePath(p, filter) if p.sub_attr().is_none() => {
                exists(inner.translate(filter), false)
            }
            Filter::Present(p) if p.sub_attr().is_some() => {
                exists(inner.translate(&Filter::present(sub_path)), false)
            }
            // `ne` and `eq null` hold when no element has the value.
            Filter::Compare(_, op, value) => match (op, value) {
                (CompareOp::Eq, CompValue::Null) => exists(
                    inner.compare(&sub_path, CompareOp::Ne, &CompValue::Null),
                    true,
                ),
                (CompareOp::Ne, CompValue::Null) => exists(
                    inner.compare(&sub_path, CompareOp::Ne, &CompValue::Null),
                    false,
                ),
                (_, CompValue::Null) => Some(Fragment::raw("(1 = 0)")),
                (CompareOp::Ne, v) => exists(inner.compare(&sub_path, CompareOp::Eq, v), true),
                (op, v) => exists(inner.compare(&sub_path, *op, v), false),
            },
            _ => None,
        })
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, value: &CompValue) -> Option<Fragment> {
        let (column, info) = self.resolve(path)?;
        let (null_col, kind) = match &column {
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
            (CompareOp::Ne, value) => self.compare(path, CompareOp::Eq, value).map(negate),
            (op, value) => match (&column, value) {
                (Column::Text { exact, folded }, CompValue::String(s)) => {
                    Some(self.text(op, exact, folded, info.case_exact(), s))
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
                    let ns = scim_filter::parse_datetime(s).and_then(|t| instant_ns(&t))?;
                    let mut f = Fragment::default();
                    let p = f.bind(Arg::Int(ns));
                    f.text = format!("({c} IS NOT NULL AND {c} {} {p})", sql_op(op));
                    Some(f)
                }
                _ => never(),
            },
        }
    }

    fn text(
        &self,
        op: CompareOp,
        exact: &str,
        folded: &str,
        case_exact: bool,
        lit: &str,
    ) -> Fragment {
        let (col, lit) = if case_exact {
            (exact, lit.to_owned())
        } else {
            (folded, fold(lit))
        };
        let chars = i64::try_from(lit.chars().count()).unwrap_or(i64::MAX);
        let mut f = Fragment::default();
        let cond = match op {
            CompareOp::Co => {
                let p = f.bind(Arg::Text(lit));
                self.dialect.contains(col, p)
            }
            CompareOp::Sw => {
                let n = f.bind(Arg::Int(chars));
                let p = f.bind(Arg::Text(lit));
                format!("substr({col}, 1, CAST({n} AS INTEGER)) = {p}")
            }
            CompareOp::Ew => {
                let n1 = f.bind(Arg::Int(chars));
                let n2 = f.bind(Arg::Int(chars));
                let p = f.bind(Arg::Text(lit));
                format!(
                    "length({col}) >= {n1} AND substr({col}, CAST(length({col}) - {n2} + 1 AS INTEGER)) = {p}"
                )
            }
            CompareOp::Eq => {
                let p = f.bind(Arg::Text(lit));
                format!("{col} = {p}")
            }
            op => {
                let p = f.bind(Arg::Text(lit));
                format!("{} {} {p}", self.dialect.binary(col), sql_op(op))
            }
        };
        f.text = format!("({col} IS NOT NULL AND {cond})");
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
