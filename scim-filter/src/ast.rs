//! The typed syntax tree of SCIM filters and PATCH paths.

use serde_json::Number;

use crate::text::Text;

/// An attribute path: an optional schema URN, an attribute name and at most one sub-attribute
/// (RFC 7644 §3.10), e.g. `name.givenName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
///
/// Names keep the case they were written in; comparisons against resources ignore case.
///
/// ```
/// use scim_filter::AttrPath;
/// let p: AttrPath = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
///     .parse()
///     .unwrap();
/// assert_eq!(p.schema(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
/// assert_eq!(p.name(), "manager");
/// assert_eq!(p.sub_attr(), Some("value"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The whole path in canonical form, `[urn ":"] name ["." sub]`: one string, so parsing a path
    /// costs one small-string construction and a `Filter` stays small.
    pub(crate) text: Text,
    /// Where the attribute name starts in `text` (0 without a schema).
    pub(crate) name_start: u32,
    /// Length of the attribute name.
    pub(crate) name_len: u32,
}

impl std::fmt::Debug for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttrPath")
            .field("schema", &self.schema())
            .field("name", &self.name())
            .field("sub_attr", &self.sub_attr())
            .finish()
    }
}

impl AttrPath {
    /// A path to a top-level attribute of the resource's core schema. Returns `None` unless `name`
    /// is a valid attribute name (`ALPHA *(ALPHA / DIGIT / "-" / "_")`, or `$ref`).
    ///
    /// ```
    /// use scim_filter::AttrPath;
    /// assert_eq!(AttrPath::new("userName").unwrap().to_string(), "userName");
    /// assert!(AttrPath::new("user name").is_none());
    /// ```
    pub fn new(name: &str) -> Option<Self> {
        crate::lex::is_attr_name(name).then(|| AttrPath::from_parts(Text::new(name), 0, name.len()))
    }

    /// This path with a sub-attribute; `None` unless `sub_attr` is a valid attribute name.
    #[must_use]
    pub fn with_sub_attr(self, sub_attr: &str) -> Option<Self> {
        crate::lex::is_attr_name(sub_attr).then(|| {
            let prefix = self.text.get(..self.name_end()).unwrap_or(&self.text);
            let text = Text::from(format!("{prefix}.{sub_attr}"));
            AttrPath { text, ..self }
        })
    }

    /// This path qualified by a schema URN; `None` unless `urn` is a plausible URN
    /// (`urn:` followed by URN characters, not ending in `:`).
    #[must_use]
    pub fn with_schema(self, urn: &str) -> Option<Self> {
        crate::parse::is_schema_urn(urn).then(|| {
            let text = Text::from(format!("{urn}:{}", self.without_schema()));
            AttrPath::from_parts(text, urn.len() + 1, self.name_len as usize)
        })
    }

    /// The schema URN prefix, if the path was written with one.
    pub fn schema(&self) -> Option<&str> {
        match self.name_start {
            0 => None,
            start => self.text.get(..start as usize - 1),
        }
    }

    /// The attribute name, as written.
    pub fn name(&self) -> &str {
        self.text
            .get(self.name_start as usize..self.name_end())
            .unwrap_or(&self.text)
    }

    /// The sub-attribute name, as written.
    pub fn sub_attr(&self) -> Option<&str> {
        self.text.get(self.name_end() + 1..)
    }

    /// `name` or `name.subAttr`, without the schema.
    pub fn without_schema(&self) -> &str {
        self.text
            .get(self.name_start as usize..)
            .unwrap_or(&self.text)
    }

    /// The whole path as it prints: `[urn:]name[.subAttr]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn name_end(&self) -> usize {
        self.name_start as usize + self.name_len as usize
    }

    /// Builds a path from validated parts: `text` is `[urn ":"] name ["." sub]`, with the name at
    /// `name_start` and `name_len` bytes long.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn from_parts(text: Text, name_start: usize, name_len: usize) -> Self {
        // Inputs are bounded by `Parser::max_len`, far below 4 GiB.
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        AttrPath {
            text,
            name_start: narrow(name_start),
            name_len: narrow(name_len),
        }
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, table 3), without `pr`, which takes no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains.
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `ge`: greater than or equal.
    Ge,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The canonical (lower-case) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// Whether this is an ordering operator (`gt`, `lt`, `ge`, `le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Lt | CompareOp::Ge | CompareOp::Le
        )
    }
}

/// The literal on the right of a comparison: `compValue` in RFC 7644.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number; integers stay exact.
    Number(Number),
    /// A JSON string, unescaped.
    String(Text),
}

/// A parsed SCIM filter (RFC 7644 §3.4.2.2).
///
/// `and` binds tighter than `or`: `a or b and c` is `Or[a, And[b, c]]`. Both are associative, so
/// a chain is kept flat: `a and b and c`, `(a and b) and c` and `a and (b and c)` are all
/// `And[a, b, c]`. The tree is therefore never deeper than the parser's nesting limit, whatever
/// the number of terms, and recursive walks (`Clone`, `Drop`, `==`, `Display`, [`matches`])
/// stay shallow.
///
/// [`matches`]: Filter::matches
///
/// ```
/// use scim_filter::Filter;
/// let f: Filter = r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
///     .parse()
///     .unwrap();
/// let user = serde_json::json!({
///     "userType": "Employee",
///     "emails": [{"type": "work", "value": "bjensen@EXAMPLE.com"}]
/// });
/// assert!(f.matches(&user));
/// // Runs of `and` stay flat, so adding a term needs no parentheses.
/// assert_eq!(
///     Filter::and(Filter::present("title".parse().unwrap()), f.clone()).to_string(),
///     r#"title pr and userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `attrPath op value`.
    Compare(AttrPath, CompareOp, CompValue),
    /// `attrPath[filter]`: one element of a multi-valued attribute satisfies the inner filter, whose
    /// attribute paths are relative to the element.
    ValuePath(AttrPath, Box<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `a and b and ...`: every operand holds. Two or more operands, none of them an `And`.
    And(Operands),
    /// `a or b or ...`: some operand holds. Two or more operands, none of them an `Or`.
    Or(Operands),
}

/// The operands of an [`Filter::And`] or [`Filter::Or`]: two or more, in order, never of the same
/// kind as their parent. Built through [`Filter::and`], [`Filter::or`], [`Filter::all`] and
/// [`Filter::any`], which flatten, so every `Filter` prints in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operands(Vec<Filter>);

impl Operands {
    /// The operands, in order.
    pub fn as_slice(&self) -> &[Filter] {
        &self.0
    }

    /// The operands, in order, by value.
    pub fn into_vec(self) -> Vec<Filter> {
        self.0
    }
}

impl std::ops::Deref for Operands {
    type Target = [Filter];
    fn deref(&self) -> &[Filter] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Operands {
    type Item = &'a Filter;
    type IntoIter = std::slice::Iter<'a, Filter>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Which n-ary operator a run of operands belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Junction {
    And,
    Or,
}

impl Junction {
    /// Appends `f` to `ops`, splicing in its operands when it is the same junction.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn push(self, ops: &mut Vec<Filter>, f: Filter) {
        // Looking at the tag before moving keeps the common case (a comparison) a single move.
        let same = matches!(
            (self, &f),
            (Junction::And, Filter::And(_)) | (Junction::Or, Filter::Or(_))
        );
        if !same {
            ops.push(f);
            return;
        }
        if let Filter::And(inner) | Filter::Or(inner) = f {
            ops.extend(inner.0);
        }
    }

    /// Appends every filter of `filters` to `ops`, each as [`push`](Self::push) does.
    pub(crate) fn extend(self, ops: &mut Vec<Filter>, filters: Vec<Filter>) {
        ops.reserve(filters.len());
        for f in filters {
            self.push(ops, f);
        }
    }

    /// The filter for a run of operands: `None` for none, the operand itself for one.
    pub(crate) fn finish(self, mut ops: Vec<Filter>) -> Option<Filter> {
        match ops.len() {
            0 => None,
            1 => ops.pop(),
            _ => Some(self.wrap(ops)),
        }
    }

    /// The filter for two or more flattened operands.
    pub(crate) fn wrap(self, ops: Vec<Filter>) -> Filter {
        match self {
            Junction::And => Filter::And(Operands(ops)),
            Junction::Or => Filter::Or(Operands(ops)),
        }
    }
}

impl Filter {
    /// `path pr`.
    pub fn present(path: AttrPath) -> Self {
        Filter::Present(path)
    }

    /// `path op value`. Ordering operators with `true`, `false` or `null` cannot be parsed; building
    /// one here is allowed, and it prints a filter that the parser rejects.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Self {
        Filter::Compare(path, op, value)
    }

    /// `path eq "value"`, the most common filter of all.
    ///
    /// ```
    /// use scim_filter::{AttrPath, Filter};
    /// let f = Filter::eq_str(AttrPath::new("userName").unwrap(), "bjensen");
    /// assert_eq!(f.to_string(), r#"userName eq "bjensen""#);
    /// ```
    pub fn eq_str(path: AttrPath, value: &str) -> Self {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(Text::new(value)))
    }

    /// `path[filter]`. The RFC grammar has no value filter inside another; such a tree prints a
    /// filter that the parser rejects.
    pub fn value_path(path: AttrPath, filter: Filter) -> Self {
        Filter::ValuePath(path, Box::new(filter))
    }

    /// `left and right`, flattened: `and(and(a, b), c)` is `And[a, b, c]`.
    #[allow(clippy::should_implement_trait)]
    pub fn and(left: Filter, right: Filter) -> Self {
        Self::junction(Junction::And, left, right)
    }

    /// `left or right`, flattened: `or(a, or(b, c))` is `Or[a, b, c]`.
    pub fn or(left: Filter, right: Filter) -> Self {
        Self::junction(Junction::Or, left, right)
    }

    /// All of `filters` (flattened); `None` when there are none, the filter itself for one.
    ///
    /// ```
    /// use scim_filter::{AttrPath, Filter};
    /// let ids = ["a", "b", "c"].map(|id| Filter::eq_str(AttrPath::new("id").unwrap(), id));
    /// assert_eq!(Filter::any(ids).unwrap().to_string(), r#"id eq "a" or id eq "b" or id eq "c""#);
    /// ```
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Option<Self> {
        Self::collect(Junction::And, filters)
    }

    /// Any of `filters` (flattened); `None` when there are none, the filter itself for one.
    pub fn any(filters: impl IntoIterator<Item = Filter>) -> Option<Self> {
        Self::collect(Junction::Or, filters)
    }

    fn junction(j: Junction, left: Filter, right: Filter) -> Self {
        let mut ops = Vec::with_capacity(2);
        j.push(&mut ops, left);
        j.push(&mut ops, right);
        // Two pushes leave at least two operands.
        j.wrap(ops)
    }

    fn collect(j: Junction, filters: impl IntoIterator<Item = Filter>) -> Option<Self> {
        let mut ops = Vec::new();
        for f in filters {
            j.push(&mut ops, f);
        }
        j.finish(ops)
    }

    /// `not (inner)`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Filter) -> Self {
        Filter::Not(Box::new(inner))
    }
}

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath`, or `valuePath` with an optional
/// sub-attribute, e.g. `members[value eq "2819c223"].display`.
///
/// ```
/// use scim_filter::PatchPath;
/// let p: PatchPath = r#"emails[type eq "work"].value"#.parse().unwrap();
/// assert_eq!(p.attr().name(), "emails");
/// assert_eq!(p.filter().unwrap().to_string(), r#"type eq "work""#);
/// assert_eq!(p.sub_attr(), Some("value"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatchPath {
    pub(crate) attr: AttrPath,
    pub(crate) filter: Option<Box<Filter>>,
    pub(crate) sub_attr: Option<Text>,
}

impl PatchPath {
    /// A path naming an attribute (or sub-attribute) with no value filter.
    pub fn attribute(attr: AttrPath) -> Self {
        PatchPath {
            attr,
            filter: None,
            sub_attr: None,
        }
    }

    /// A value-filtered path `attr[filter]`, optionally followed by `.sub_attr`. `None` unless
    /// `sub_attr` is a valid attribute name.
    pub fn value_path(attr: AttrPath, filter: Filter, sub_attr: Option<&str>) -> Option<Self> {
        if let Some(sub) = sub_attr {
            if !crate::lex::is_attr_name(sub) {
                return None;
            }
        }
        Some(PatchPath {
            attr,
            filter: Some(Box::new(filter)),
            sub_attr: sub_attr.map(Text::new),
        })
    }

    /// The attribute the path starts from.
    pub fn attr(&self) -> &AttrPath {
        &self.attr
    }

    /// The value filter between brackets, if any.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_deref()
    }

    /// The sub-attribute after a value filter (`members[...].display`). A path without a value
    /// filter keeps its sub-attribute in [`attr`](Self::attr).
    pub fn sub_attr(&self) -> Option<&str> {
        self.sub_attr.as_deref()
    }
}
