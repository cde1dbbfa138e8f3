//! The nom parser for filters (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and attribute paths.
//!
//! Every parser here is a nom parser over `&str` (`IResult`, nom's error trait, `Err::Failure`
//! for committed errors). The cold, intricate pieces (JSON numbers, escape sequences) are nom
//! combinators; the hot path (attribute paths, operators, whitespace, plain string literals) is
//! written as byte-level nom-shaped functions in `lex`, because profiling showed nom's `&str`
//! combinators decoding characters one by one where a byte table does.
//!
//! Precedence is one loop (`and` tighter than `or`), threading a [`State`] that counts nesting
//! depth and terms, so hostile input is cut off after a bounded amount of work and never recurses
//! deeper than [`Parser::max_depth`] levels.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, digit0, digit1, one_of, satisfy};
use nom::combinator::{map_opt, opt, recognize, value};
use nom::sequence::{pair, preceded};
use nom::{IResult, Parser as _};
use serde_json::Number;

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, Junction, PatchPath};
use crate::error::{ErrorKind, Expected, ParseError};
use crate::lex::{self, NAME, PATH, WORD, space0, take_class};
use crate::text::Text;

/// How closely the parser follows the RFC 7644 ABNF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// The ABNF to the letter, except that runs of spaces and tabs are accepted wherever one space
    /// is (and around the whole filter): real clients pad filters, and nothing is ambiguous.
    ///
    /// A schema URN is split from its attribute at its last `:`, as the ABNF reads, so Entra ID's
    /// `urn:...:enterprise:2.0:User.manager` is the attribute `User.manager` of the schema
    /// `urn:...:enterprise:2.0` here; lenient mode reads it as Entra ID means it.
    Strict,
    /// The ABNF plus what identity providers really send (the default, meant for servers):
    ///
    /// - `emails[type eq "work"].value eq "x"` in a filter, read as
    ///   `emails[type eq "work" and value eq "x"]` (any comparison or `pr` after the sub-attribute);
    /// - a well-known schema URN joined to its attribute with `.` instead of `:`, as Entra ID writes
    ///   `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager`;
    /// - `and(`, `or(` without a space before the parenthesis;
    /// - spaces and tabs around a PATCH path;
    /// - in a PATCH path, a string literal right after its operator (`members[value eq"x"]`), as
    ///   an example of RFC 7644 §3.5.2.2 writes it. Filters still need the space.
    #[default]
    Lenient,
}

/// Parser configuration: strictness and the limits that keep hostile input cheap.
///
/// ```
/// use scim_filter::{ErrorKind, Parser};
/// let parser = Parser::strict().max_depth(4);
/// assert!(parser.parse_filter(r#"userName eq "bjensen""#).is_ok());
/// let err = parser.parse_filter("((((((title pr))))))").unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::TooDeep { limit: 4 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Parser {
    mode: Mode,
    max_depth: usize,
    max_terms: usize,
    max_len: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::lenient()
    }
}

impl Parser {
    /// Default nesting limit of parentheses, `not` and value filters.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// Default limit on comparisons in one filter.
    pub const DEFAULT_MAX_TERMS: usize = 1000;
    /// Default limit on the input length, in bytes.
    pub const DEFAULT_MAX_LEN: usize = 64 * 1024;

    /// A lenient parser (see [`Mode::Lenient`]) with the default limits; what `FromStr` uses.
    pub const fn lenient() -> Self {
        Parser {
            mode: Mode::Lenient,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_terms: Self::DEFAULT_MAX_TERMS,
            max_len: Self::DEFAULT_MAX_LEN,
        }
    }

    /// A strict parser (see [`Mode::Strict`]) with the default limits.
    pub const fn strict() -> Self {
        Parser {
            mode: Mode::Strict,
            ..Self::lenient()
        }
    }

    /// Sets the mode.
    #[must_use]
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the nesting limit of parentheses, `not` and value filters.
    #[must_use]
    pub const fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the limit on comparisons (`attr op value` and `attr pr`) in one filter.
    #[must_use]
    pub const fn max_terms(mut self, terms: usize) -> Self {
        self.max_terms = terms;
        self
    }

    /// Sets the limit on the input length, in bytes.
    #[must_use]
    pub const fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// Parses a filter.
    pub fn parse_filter(&self, input: &str) -> Result<Filter, ParseError> {
        self.run(input, |st, i| {
            let (i, _) = space0(i);
            let (i, f) = st.or_expr(i, false)?;
            let (i, _) = space0(i);
            if i.is_empty() {
                Ok((i, f))
            } else {
                expected(i, Expected::LogicalOperator)
            }
        })
    }

    /// Parses a PATCH operation's `path`.
    pub fn parse_path(&self, input: &str) -> Result<PatchPath, ParseError> {
        self.run(input, |st, i| {
            // RFC 7644 §3.5.2.2's own example writes `members[value eq"2819c223..."]`.
            st.glued_string = st.lenient();
            let i = st.trim_lenient(i);
            let (i, attr) = attr_path(i, st.lenient(), Expected::AttrName)?;
            let (i, path) = match i.strip_prefix('[') {
                None => (i, PatchPath::attribute(attr)),
                Some(rest) => {
                    let (i, filter) = st.bracketed(i, rest)?;
                    let (i, sub_attr) = match i.strip_prefix('.') {
                        Some(rest) => {
                            let (i, name) = attr_name(rest)?;
                            (i, Some(Text::new(name)))
                        }
                        None => (i, None),
                    };
                    let path = PatchPath {
                        attr,
                        filter: Some(Box::new(filter)),
                        sub_attr,
                    };
                    (i, path)
                }
            };
            let i = st.trim_lenient(i);
            if i.is_empty() {
                Ok((i, path))
            } else {
                expected(i, Expected::End)
            }
        })
    }

    /// Parses an attribute path such as `name.givenName` (the form of `sortBy` and `attributes`).
    pub fn parse_attr_path(&self, input: &str) -> Result<AttrPath, ParseError> {
        self.run(input, |st, i| {
            let (i, attr) = attr_path(i, st.lenient(), Expected::AttrName)?;
            if i.is_empty() {
                Ok((i, attr))
            } else {
                expected(i, Expected::End)
            }
        })
    }

    fn run<'a, T>(
        &self,
        input: &'a str,
        body: impl FnOnce(&mut State, &'a str) -> Res<'a, T>,
    ) -> Result<T, ParseError> {
        if input.len() > self.max_len {
            let mut at = self.max_len;
            while !input.is_char_boundary(at) {
                at -= 1;
            }
            return Err(ParseError::new(
                input,
                at,
                ErrorKind::TooLong {
                    limit: self.max_len,
                },
            ));
        }
        let mut st = State {
            opts: *self,
            depth: 0,
            terms: 0,
            glued_string: false,
        };
        match body(&mut st, input) {
            Ok((_, v)) => Ok(v),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(ParseError::new(
                input,
                input.len().saturating_sub(e.at.len()),
                e.kind,
            )),
            // Every parser here is a `complete` parser; none asks for more input.
            Err(nom::Err::Incomplete(_)) => Err(ParseError::new(
                input,
                input.len(),
                ErrorKind::Expected(Expected::End),
            )),
        }
    }
}

/// The error carried through nom: where (the unparsed rest of the input) and what.
#[derive(Debug)]
pub(crate) struct PErr<'a> {
    at: &'a str,
    kind: ErrorKind,
}

impl<'a> nom::error::ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(at: &'a str, _: nom::error::ErrorKind) -> Self {
        PErr {
            at,
            kind: ErrorKind::Expected(Expected::Filter),
        }
    }

    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

#[cold]
fn fail<T>(at: &str, kind: ErrorKind) -> Res<'_, T> {
    Err(nom::Err::Failure(PErr { at, kind }))
}

#[cold]
fn expected<T>(at: &str, what: Expected) -> Res<'_, T> {
    fail(at, ErrorKind::Expected(what))
}

struct State {
    opts: Parser,
    depth: usize,
    terms: usize,
    /// A string literal may follow its operator without a space (lenient PATCH paths only).
    glued_string: bool,
}

/// The `and` operands collected so far: one filter, or two and more.
enum AndRun {
    One(Filter),
    Many(Vec<Filter>),
}

impl AndRun {
    fn and(self, right: Filter) -> AndRun {
        let mut ops = match self {
            AndRun::One(left) => {
                let mut ops = Vec::with_capacity(4);
                Junction::And.push(&mut ops, left);
                ops
            }
            AndRun::Many(ops) => ops,
        };
        Junction::And.push(&mut ops, right);
        AndRun::Many(ops)
    }

    fn finish(self) -> Filter {
        match self {
            AndRun::One(f) => f,
            AndRun::Many(ops) => Junction::And.wrap(ops),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Logic {
    And,
    Or,
}

impl State {
    fn lenient(&self) -> bool {
        self.opts.mode == Mode::Lenient
    }

    fn trim_lenient<'a>(&self, i: &'a str) -> &'a str {
        if self.lenient() { space0(i).0 } else { i }
    }

    fn enter<'a>(&mut self, at: &'a str) -> Res<'a, ()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return fail(
                at,
                ErrorKind::TooDeep {
                    limit: self.opts.max_depth,
                },
            );
        }
        Ok((at, ()))
    }

    fn count_term<'a>(&mut self, at: &'a str) -> Res<'a, ()> {
        self.terms += 1;
        if self.terms > self.opts.max_terms {
            return fail(
                at,
                ErrorKind::TooManyTerms {
                    limit: self.opts.max_terms,
                },
            );
        }
        Ok((at, ()))
    }

    /// `FILTER *(SP ("and" / "or") SP FILTER)`, with `and` binding tighter than `or`. Runs of
    /// the same operator are collected flat (both are associative): `run` is the current run of
    /// `and` operands, `ors` the finished `or` operands before it. Nothing is allocated until a
    /// second operand arrives.
    fn or_expr<'a>(&mut self, i: &'a str, in_brackets: bool) -> Res<'a, Filter> {
        let (i, first) = self.unary(i, in_brackets)?;
        // Most filters are one comparison: return it as it is.
        let Some((mut rest, mut logic)) = self.logical(i)? else {
            return Ok((i, first));
        };
        let mut run = AndRun::One(first);
        let mut ors = Vec::new();
        let mut i;
        loop {
            let (after, right) = self.unary(rest, in_brackets)?;
            run = match (logic, run) {
                (Logic::And, run) => run.and(right),
                (Logic::Or, run) => {
                    Junction::Or.push(&mut ors, run.finish());
                    AndRun::One(right)
                }
            };
            i = after;
            match self.logical(i)? {
                Some((r, l)) => (rest, logic) = (r, l),
                None => break,
            }
        }
        let last = run.finish();
        if ors.is_empty() {
            return Ok((i, last));
        }
        Junction::Or.push(&mut ors, last);
        Ok((i, Junction::Or.wrap(ors)))
    }

    /// Looks ahead for `SP ("and" / "or") SP`; returns the input after it, or `None` (consuming
    /// nothing) when the next token is something else.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn logical<'a>(&self, i: &'a str) -> Result<Option<(&'a str, Logic)>, nom::Err<PErr<'a>>> {
        // Fast path: ` and ` or ` or ` in lower case with single spaces, then the next operand.
        let fast = match *i.as_bytes() {
            [b' ', b'a', b'n', b'd', b' ', next, ..] => Some((5, Logic::And, next)),
            [b' ', b'o', b'r', b' ', next, ..] => Some((4, Logic::Or, next)),
            _ => None,
        };
        if let Some((len, logic, next)) = fast {
            if next != b' ' && next != b'\t' {
                if let Some(rest) = i.get(len..) {
                    return Ok(Some((rest, logic)));
                }
            }
        }
        let (rest, ws) = space0(i);
        if ws.is_empty() || !matches!(rest.as_bytes().first(), Some(b'a' | b'A' | b'o' | b'O')) {
            return Ok(None);
        }
        let (after, logic) = if let Some(after) = lex::keyword(rest, "and", WORD) {
            (after, Logic::And)
        } else if let Some(after) = lex::keyword(rest, "or", WORD) {
            (after, Logic::Or)
        } else {
            return Ok(None);
        };
        let (after, ws) = space0(after);
        if after.is_empty() {
            return expected::<()>(after, Expected::Filter).map(|_| None);
        }
        if ws.is_empty() && !(self.lenient() && after.starts_with('(')) {
            return expected::<()>(after, Expected::Whitespace).map(|_| None);
        }
        Ok(Some((after, logic)))
    }

    /// `"not" "(" FILTER ")"`, `"(" FILTER ")"`, or an attribute expression.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn unary<'a>(&mut self, i: &'a str, in_brackets: bool) -> Res<'a, Filter> {
        if let Some(rest) = i.strip_prefix('(') {
            let (i, inner) = self.group(rest, i, in_brackets)?;
            return Ok((i, inner));
        }
        if !matches!(i.as_bytes().first(), Some(b'n' | b'N')) {
            return self.attr_exp(i, in_brackets);
        }
        if let Some(rest) = lex::keyword(i, "not", PATH) {
            let (after_ws, _) = space0(rest);
            if let Some(inner) = after_ws.strip_prefix('(') {
                let (i, inner) = self.group(inner, i, in_brackets)?;
                return Ok((i, Filter::Not(Box::new(inner))));
            }
            // `not` may still be an attribute name (`not pr`, `not[...]`); otherwise it wants a
            // parenthesis.
            if !starts_with_operator(after_ws) && !rest.starts_with('[') {
                return expected(after_ws, Expected::OpenParen);
            }
        }
        self.attr_exp(i, in_brackets)
    }

    /// The rest of a parenthesised group after `(`; `open` points at the group's start.
    #[inline(never)]
    fn group<'a>(&mut self, rest: &'a str, open: &'a str, in_brackets: bool) -> Res<'a, Filter> {
        self.enter(open)?;
        let (i, _) = space0(rest);
        let (i, inner) = self.or_expr(i, in_brackets)?;
        let (i, _) = space0(i);
        let Some(i) = i.strip_prefix(')') else {
            return expected(i, Expected::CloseParen);
        };
        self.depth -= 1;
        Ok((i, inner))
    }

    /// The rest of a value filter after `[`, through the closing `]`.
    #[inline(never)]
    fn bracketed<'a>(&mut self, open: &'a str, rest: &'a str) -> Res<'a, Filter> {
        self.enter(open)?;
        let (i, _) = space0(rest);
        let (i, inner) = self.or_expr(i, true)?;
        let (i, _) = space0(i);
        let Some(i) = i.strip_prefix(']') else {
            return expected(i, Expected::CloseBracket);
        };
        self.depth -= 1;
        Ok((i, inner))
    }

    /// `attrPath SP "pr"`, `attrPath SP compareOp SP compValue`, or `attrPath "[" valFilter "]"`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn attr_exp<'a>(&mut self, i: &'a str, in_brackets: bool) -> Res<'a, Filter> {
        self.count_term(i)?;
        let (i, path) = attr_path(i, self.lenient(), Expected::Filter)?;
        if let Some(rest) = i.strip_prefix('[') {
            if in_brackets {
                return fail(i, ErrorKind::NestedValueFilter);
            }
            let (i, inner) = self.bracketed(i, rest)?;
            if self.lenient() {
                if let Some(rest) = i.strip_prefix('.') {
                    // `emails[type eq "work"].value eq "x"`: the comparison joins the bracket.
                    self.count_term(rest)?;
                    let (i, sub) = attr_name(rest)?;
                    let sub_path = AttrPath::from_parts(Text::new(sub), 0, sub.len());
                    let (i, cmp) = comparison(i, sub_path, self.glued_string)?;
                    let inner = Filter::and(inner, cmp);
                    return Ok((i, Filter::ValuePath(path, Box::new(inner))));
                }
            }
            return Ok((i, Filter::ValuePath(path, Box::new(inner))));
        }
        comparison(i, path, self.glued_string)
    }
}

/// `SP "pr"` or `SP compareOp SP compValue`, after an attribute path.
#[cfg_attr(not(debug_assertions), inline(always))]
fn comparison(i: &str, path: AttrPath, glued_string: bool) -> Res<'_, Filter> {
    // Fast path for the shape nearly every client sends: one space, a two-letter operator in
    // lower case, one space (` eq "x"`), or ` pr` at the end of a term.
    if let [b' ', a, b, next, ..] = *i.as_bytes() {
        if next == b' ' {
            if let (Some(Operator::Compare(op)), Some(v)) = (parse_operator_bytes(a, b), i.get(4..))
            {
                if !matches!(v.as_bytes().first(), Some(b' ' | b'\t')) {
                    return comparison_value(path, op, v);
                }
            }
        }
    } else if let [b' ', b'p', b'r'] = *i.as_bytes() {
        return Ok(("", Filter::Present(path)));
    }
    let (i, ws) = space0(i);
    if ws.is_empty() {
        return expected(
            i,
            if at_token_end(i) {
                Expected::Operator
            } else {
                Expected::Whitespace
            },
        );
    }
    let (word, after_op) = take_class(i, WORD);
    let op = match parse_operator(word) {
        Some(Operator::Compare(op)) => op,
        Some(Operator::Present) => return Ok((after_op, Filter::Present(path))),
        None => return expected(i, Expected::Operator),
    };
    let (v_start, ws) = space0(after_op);
    if ws.is_empty() && !(glued_string && v_start.starts_with('"')) {
        return expected(
            v_start,
            if at_token_end(v_start) {
                Expected::Value
            } else {
                Expected::Whitespace
            },
        );
    }
    comparison_value(path, op, v_start)
}

/// The value of `path op value`, from its first byte.
#[cfg_attr(not(debug_assertions), inline(always))]
fn comparison_value(path: AttrPath, op: CompareOp, v_start: &str) -> Res<'_, Filter> {
    let (rest, value) = comp_value(v_start)?;
    if op.is_ordering() && matches!(value, CompValue::Bool(_) | CompValue::Null) {
        return fail(v_start, ErrorKind::OrderingWithBooleanOrNull);
    }
    if !at_token_end(rest) && !rest.starts_with([' ', '\t']) {
        return expected(rest, Expected::Whitespace);
    }
    Ok((rest, Filter::Compare(path, op, value)))
}

/// Whether `i` is at the end of the input or at a closing `)` or `]`.
fn at_token_end(i: &str) -> bool {
    i.is_empty() || i.starts_with([')', ']'])
}

enum Operator {
    Compare(CompareOp),
    Present,
}

/// A comparison operator or `pr`, in any case.
#[cfg_attr(not(debug_assertions), inline(always))]
fn parse_operator(word: &str) -> Option<Operator> {
    let &[a, b] = word.as_bytes() else {
        return None;
    };
    parse_operator_bytes(a, b)
}

/// A two-byte operator or `pr`, in any case.
#[cfg_attr(not(debug_assertions), inline(always))]
fn parse_operator_bytes(a: u8, b: u8) -> Option<Operator> {
    if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
        return None;
    }
    // Both are ASCII letters: setting bit 5 lower-cases them.
    Some(Operator::Compare(match [a | 0x20, b | 0x20] {
        [b'e', b'q'] => CompareOp::Eq,
        [b'n', b'e'] => CompareOp::Ne,
        [b'c', b'o'] => CompareOp::Co,
        [b's', b'w'] => CompareOp::Sw,
        [b'e', b'w'] => CompareOp::Ew,
        [b'g', b't'] => CompareOp::Gt,
        [b'l', b't'] => CompareOp::Lt,
        [b'g', b'e'] => CompareOp::Ge,
        [b'l', b'e'] => CompareOp::Le,
        [b'p', b'r'] => return Some(Operator::Present),
        _ => return None,
    }))
}

fn starts_with_operator(i: &str) -> bool {
    parse_operator(take_class(i, WORD).0).is_some()
}

/// Schema URNs whose attributes Entra ID sometimes joins with `.` (lenient mode only).
const KNOWN_SCHEMAS: [&str; 5] = [
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:scim:schemas:extension:enterprise:1.0",
    "urn:scim:schemas:core:1.0",
];

/// `[URI ":"] ATTRNAME *1subAttr`.
#[cfg_attr(not(debug_assertions), inline(always))]
fn attr_path(i: &str, lenient: bool, what: Expected) -> Res<'_, AttrPath> {
    let scan = lex::scan_path(i);
    let (token, rest) = i.split_at_checked(scan.len).unwrap_or((i, ""));
    if token.is_empty() {
        return expected(i, what);
    }
    let at = |offset: usize| i.get(offset..).unwrap_or("");
    let (schema, names_from, dot) = if scan.colon {
        let (schema, from) = split_schema(token, lenient).map_err(|offset| {
            nom::Err::Failure(PErr {
                at: at(offset),
                kind: ErrorKind::InvalidUrn,
            })
        })?;
        let dot = token
            .get(from..)
            .and_then(|n| n.find('.'))
            .map(|d| from + d);
        (schema, from, dot)
    } else {
        (None, 0, scan.first_dot)
    };
    let (name, sub_attr) = match dot {
        Some(d) => (
            token.get(names_from..d).unwrap_or(""),
            Some(token.get(d + 1..).unwrap_or("")),
        ),
        None => (token.get(names_from..).unwrap_or(""), None),
    };
    // The common case: `name` or `name.sub` made of name characters only. The scan has seen every
    // byte, so each part is valid exactly when it starts with a letter.
    if !scan.colon && !scan.other && scan.dots <= 1 {
        let starts_alpha = |s: &str| s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
        if starts_alpha(name) && sub_attr.is_none_or(starts_alpha) {
            return Ok((rest, AttrPath::from_parts(Text::new(token), 0, name.len())));
        }
    }
    if !lex::is_attr_name(name) {
        return expected(
            at(names_from + lex::name_error_offset(name)),
            Expected::AttrName,
        );
    }
    if let Some(sub) = sub_attr {
        let sub_from = names_from + name.len() + 1;
        if let Some(dot) = sub.find('.') {
            return fail(at(sub_from + dot), ErrorKind::SubAttributeDepth);
        }
        if !lex::is_attr_name(sub) {
            return expected(
                at(sub_from + lex::name_error_offset(sub)),
                Expected::AttrName,
            );
        }
    }
    let text = match schema {
        // Entra's `urn:...:User.manager`: stored with the canonical `:` separator.
        Some(urn) if token.as_bytes().get(urn.len()) == Some(&b'.') => {
            let names = token.get(names_from..).unwrap_or("");
            Text::from(format!("{urn}:{names}"))
        }
        _ => Text::new(token),
    };
    Ok((rest, AttrPath::from_parts(text, names_from, name.len())))
}

/// Splits a path token into its schema URN (if any) and the offset of the attribute names after
/// it. On error, returns the offset in `token` of the problem.
fn split_schema(token: &str, lenient: bool) -> Result<(Option<&str>, usize), usize> {
    let is_urn = token
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        return if token.as_bytes().contains(&b':') {
            Err(0)
        } else {
            Ok((None, 0))
        };
    }
    if lenient {
        for known in KNOWN_SCHEMAS {
            let sep = token.as_bytes().get(known.len());
            if let (Some(head), Some(b'.' | b':')) = (token.get(..known.len()), sep) {
                // Only when no other `:` follows: otherwise the last colon splits, as in strict mode,
                // so lenient accepts everything strict does.
                let rest = token.as_bytes().get(known.len() + 1..).unwrap_or_default();
                if head.eq_ignore_ascii_case(known) && !rest.contains(&b':') {
                    return Ok((Some(head), known.len() + 1));
                }
            }
        }
    }
    // The attribute follows the URN's last colon: URNs contain dots (`...:2.0:User:name.givenName`).
    let colon = token.rfind(':').unwrap_or(0);
    let schema = token.get(..colon).unwrap_or("");
    if !is_schema_urn(schema) {
        return Err(0);
    }
    Ok((Some(schema), colon + 1))
}

/// Whether `s` is a plausible schema URN: `urn:`, then URN characters, not ending in `:`.
pub(crate) fn is_schema_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && s.len() > 4
        && !s.ends_with(':')
        && !s.contains("::")
        && s.bytes().all(|b| lex::is(b, PATH))
}

/// `ATTRNAME = ALPHA *(nameChar)`, or `$ref`, as a whole token.
fn attr_name(i: &str) -> Res<'_, &str> {
    let (name, rest) = take_class(i, NAME);
    let (name, rest) = if name.is_empty() && i.starts_with('$') {
        i.split_at_checked(4).unwrap_or((i, ""))
    } else {
        (name, rest)
    };
    let continues = rest.as_bytes().first().is_some_and(|&b| lex::is(b, NAME));
    if lex::is_attr_name(name) && !continues {
        Ok((rest, name))
    } else {
        expected(i, Expected::AttrName)
    }
}

/// `compValue = false / null / true / number / string`.
#[cfg_attr(not(debug_assertions), inline(always))]
fn comp_value(i: &str) -> Res<'_, CompValue> {
    match i.as_bytes().first() {
        Some(b'"') => string_literal(i),
        Some(b'-' | b'0'..=b'9') => number(i),
        // Not JSON numbers, but clearly meant as numbers: say so rather than "expected a value".
        Some(b'+' | b'.') if i.as_bytes().get(1).is_some_and(u8::is_ascii_digit) => {
            fail(i, ErrorKind::InvalidNumber)
        }
        Some(_) => {
            let (word, rest) = take_class(i, WORD);
            let value = if word.eq_ignore_ascii_case("true") {
                CompValue::Bool(true)
            } else if word.eq_ignore_ascii_case("false") {
                CompValue::Bool(false)
            } else if word.eq_ignore_ascii_case("null") {
                CompValue::Null
            } else {
                return expected(i, Expected::Value);
            };
            Ok((rest, value))
        }
        None => expected(i, Expected::Value),
    }
}

/// `number = [ "-" ] int [ frac ] [ exp ]` (RFC 8259 §6), recognised as text; the flag says
/// whether it is an integer (no fraction, no exponent).
fn json_number(i: &str) -> Res<'_, (&str, bool)> {
    let int = alt((
        tag("0"),
        recognize(pair(satisfy(|c| matches!(c, '1'..='9')), digit0)),
    ));
    let frac = pair(char('.'), digit1);
    let exp = (one_of("eE"), opt(one_of("+-")), digit1);
    let (rest, (_, _, frac, exp)) = (opt(char('-')), int, opt(frac), opt(exp)).parse(i)?;
    // Measured by length: nom's `consumed` compares pointers, which an empty rest at the very
    // end of the input does not always share with the input.
    let text = i.get(..i.len() - rest.len()).unwrap_or(i);
    Ok((rest, (text, frac.is_none() && exp.is_none())))
}

/// A JSON number; integers that fit stay exact, others become `f64`.
fn number(i: &str) -> Res<'_, CompValue> {
    let invalid = || fail(i, ErrorKind::InvalidNumber);
    let Ok((rest, (text, integer))) = json_number(i) else {
        return invalid();
    };
    // A number that stops where more of a number was due: `01`, `1.`, `1e`, `1e+`.
    match rest.as_bytes().first() {
        Some(b'0'..=b'9') => return invalid(),
        Some(b'.') if !text.contains('.') => return invalid(),
        Some(b'e' | b'E' | b'+' | b'-') if !text.contains(['e', 'E']) => return invalid(),
        _ => {}
    }
    let number = if integer {
        if let Ok(u) = text.parse::<u64>() {
            Some(Number::from(u))
        } else if let Ok(n) = text.parse::<i64>() {
            Some(Number::from(n))
        } else {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        }
    } else {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    };
    match number {
        Some(n) => Ok((rest, CompValue::Number(n))),
        None => invalid(),
    }
}

/// A JSON string literal, starting at its opening quote.
#[cfg_attr(not(debug_assertions), inline(always))]
fn string_literal(i: &str) -> Res<'_, CompValue> {
    let body = i.get(1..).unwrap_or("");
    // Fast path: no escapes, so the value is a slice of the input.
    let stop = body.bytes().position(|b| lex::is(b, lex::STRING_STOP));
    let Some(stop) = stop else {
        return fail(i, ErrorKind::UnterminatedString);
    };
    let (plain, tail) = body.split_at_checked(stop).unwrap_or((body, ""));
    match tail.as_bytes().first() {
        Some(b'"') => Ok((
            tail.get(1..).unwrap_or(""),
            CompValue::String(Text::new(plain)),
        )),
        Some(b'\\') => {
            let mut out = String::with_capacity(body.len());
            out.push_str(plain);
            let (rest, ()) = unescape(i, tail, &mut out)?;
            Ok((rest, CompValue::String(Text::from(out))))
        }
        _ => fail(tail, ErrorKind::ControlCharacter),
    }
}

/// Decodes the rest of a string literal from the first escape; `start` is the opening quote.
fn unescape<'a>(start: &'a str, mut i: &'a str, out: &mut String) -> Res<'a, ()> {
    loop {
        let mut chars = i.chars();
        match chars.next() {
            None => return fail(start, ErrorKind::UnterminatedString),
            Some('"') => return Ok((chars.as_str(), ())),
            Some('\\') => {
                let (after, c) = escape_sequence(start, i)?;
                out.push(c);
                i = after;
            }
            Some(c) if (c as u32) < 0x20 => return fail(i, ErrorKind::ControlCharacter),
            Some(c) => {
                out.push(c);
                i = chars.as_str();
            }
        }
    }
}

/// One escape sequence, from its backslash: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
/// `\t`, or `\uXXXX` (a surrogate pair being two of them).
fn escape_sequence<'a>(start: &'a str, esc: &'a str) -> Res<'a, char> {
    let mut simple = alt((
        value('"', char('"')),
        value('\\', char('\\')),
        value('/', char('/')),
        value('\u{8}', char('b')),
        value('\u{c}', char('f')),
        value('\n', char('n')),
        value('\r', char('r')),
        value('\t', char('t')),
    ));
    let body = esc.get(1..).unwrap_or("");
    if body.is_empty() {
        return fail(start, ErrorKind::UnterminatedString);
    }
    let simple: Res<'_, char> = simple.parse(body);
    if let Ok((rest, c)) = simple {
        return Ok((rest, c));
    }
    let Ok((rest, hi)) = preceded(char('u'), hex4).parse(body) else {
        return fail(esc, ErrorKind::InvalidEscape);
    };
    let code = match hi {
        0xD800..=0xDBFF => {
            let Ok((rest2, lo)) = preceded(tag("\\u"), hex4).parse(rest) else {
                return fail(esc, ErrorKind::LoneSurrogate);
            };
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return fail(rest, ErrorKind::LoneSurrogate);
            }
            return match char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)) {
                Some(c) => Ok((rest2, c)),
                None => fail(esc, ErrorKind::LoneSurrogate),
            };
        }
        0xDC00..=0xDFFF => return fail(esc, ErrorKind::LoneSurrogate),
        code => code,
    };
    match char::from_u32(code) {
        Some(c) => Ok((rest, c)),
        None => fail(esc, ErrorKind::InvalidEscape),
    }
}

/// Four hex digits, as a number.
fn hex4(i: &str) -> Res<'_, u32> {
    map_opt(take_while_m_n(4, 4, |c: char| c.is_ascii_hexdigit()), |h| {
        u32::from_str_radix(h, 16).ok()
    })
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number at the very end of the input keeps all its digits (nom's `consumed` lost the last).
    #[test]
    fn numbers_at_the_end_of_the_input_keep_every_digit() {
        for (text, expected) in [
            ("10", "10"),
            ("10 x", "10"),
            ("-2.5e3", "-2.5e3"),
            ("0", "0"),
        ] {
            let (_, (got, _)) = json_number(text).unwrap();
            assert_eq!(got, expected);
        }
        let f = Parser::strict().parse_filter("n le 10").unwrap();
        assert_eq!(f.to_string(), "n le 10");
    }
}
