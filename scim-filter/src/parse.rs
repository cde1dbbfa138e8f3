//! The nom parser for filters (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and attribute paths.
//!
//! The cold, intricate pieces (JSON numbers, escape sequences) are nom combinators over `&str`
//! (`IResult`, nom's error trait, `Err::Failure` for committed errors). The hot path (attribute
//! paths, operators, whitespace, plain string literals, and/or runs) is a cursor: a [`State`]
//! holding a byte offset, one method per grammar level, each returning its value in a
//! `Result<T, Halt>` no wider than `T`, with the error kept in the state. Callgrind showed that
//! threading `IResult<&str, Filter, _>` through every level cost more than the lexing itself:
//! each level re-wrapped and copied the 64-byte `Filter` and the rest of the input.
//!
//! Precedence is one loop (`and` tighter than `or`); the [`State`] counts nesting depth and terms,
//! so hostile input is cut off after a bounded amount of work and never recurses deeper than
//! [`Parser::max_depth`] levels.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, digit0, digit1, one_of, satisfy};
use nom::combinator::{map_opt, opt, recognize, value};
use nom::sequence::{pair, preceded};
use nom::{IResult, Parser as _};
use serde_json::Number;

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, Junction, PatchPath};
use crate::error::{ErrorKind, Expected, ParseError};
use crate::lex::{self, NAME, PATH, WORD, take_class};
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
    #[inline]
    pub fn parse_filter(&self, input: &str) -> Result<Filter, ParseError> {
        if input.len() > self.max_len {
            return Err(self.too_long(input));
        }
        let mut st = State::new(input, *self);
        st.skip_space();
        // A tail call: the first term, and with it the single comparison most filters are, is
        // built straight into the caller's result (see `Outcome`).
        st.unary(false, Top)
    }

    /// Parses a PATCH operation's `path`.
    pub fn parse_path(&self, input: &str) -> Result<PatchPath, ParseError> {
        self.run(input, |st| {
            // RFC 7644 §3.5.2.2's own example writes `members[value eq"2819c223..."]`.
            st.glued_string = st.lenient();
            st.trim_lenient();
            let attr = st.attr_path(st.lenient(), Expected::AttrName)?;
            let path = if st.peek() == Some(b'[') {
                let open = st.pos;
                st.pos += 1;
                let filter = st.bracketed(open)?;
                let sub_attr = if st.peek() == Some(b'.') {
                    st.pos += 1;
                    Some(Text::new(st.attr_name()?))
                } else {
                    None
                };
                PatchPath {
                    attr,
                    filter: Some(Box::new(filter)),
                    sub_attr,
                }
            } else {
                PatchPath::attribute(attr)
            };
            st.trim_lenient();
            if st.at_end() {
                Ok(path)
            } else {
                Err(st.expected(st.pos, Expected::End))
            }
        })
    }

    /// Parses an attribute path such as `name.givenName` (the form of `sortBy` and `attributes`).
    pub fn parse_attr_path(&self, input: &str) -> Result<AttrPath, ParseError> {
        self.run(input, |st| {
            let attr = st.attr_path(st.lenient(), Expected::AttrName)?;
            if st.at_end() {
                Ok(attr)
            } else {
                Err(st.expected(st.pos, Expected::End))
            }
        })
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn run<'a, T>(
        &self,
        input: &'a str,
        body: impl FnOnce(&mut State<'a>) -> Step<T>,
    ) -> Result<T, ParseError> {
        if input.len() > self.max_len {
            return Err(self.too_long(input));
        }
        let mut st = State::new(input, *self);
        match body(&mut st) {
            Ok(v) => Ok(v),
            Err(Halt) => Err(st.into_error()),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_long(&self, input: &str) -> ParseError {
        let mut at = self.max_len;
        while !input.is_char_boundary(at) {
            at -= 1;
        }
        ParseError::new(
            input,
            at,
            ErrorKind::TooLong {
                limit: self.max_len,
            },
        )
    }
}

/// The error carried through the nom sub-parsers: where (the unparsed rest of the input) and what.
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

/// What the nom sub-parsers (numbers, escape sequences) return.
type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

#[cold]
fn fail<T>(at: &str, kind: ErrorKind) -> Res<'_, T> {
    Err(nom::Err::Failure(PErr { at, kind }))
}

/// The parse stopped on an error, which [`State`] holds. Carrying no data keeps every
/// `Result<T, Halt>` as small as `T` itself, so the hot path returns filters in registers or one
/// slot instead of copying them through wider `Result`s at each grammar level.
struct Halt;

/// What each grammar level returns; the value is in the `Ok`, the position in [`State::pos`].
type Step<T> = Result<T, Halt>;

/// What the first term of a whole filter returns: the filter, or the finished error.
type FStep = Result<Filter, ParseError>;

/// How a term's parse ends: inside a filter, as a [`Step`]; as the first term of a whole filter,
/// as the filter's own result ([`FStep`]), the rest of the filter parsed after the term.
///
/// Each move of a freshly built `Filter` costs store-forwarding stalls (its fields are written
/// piecewise, then copied in 16-byte loads): returning the first term through the type of
/// [`Parser::parse_filter`]'s result lets a single comparison, most filters, be written once, into
/// the caller's result. Inner terms keep the narrower [`Step`], whose error carries nothing.
trait Outcome: Sized {
    /// What the term's function returns.
    type Ret;
    /// Whether the term starts a whole filter.
    const TOP: bool;
    /// The term `f`, which ends the input (or any term, when not `TOP`).
    fn ok(self, st: &mut State<'_>, f: Filter) -> Self::Ret;
    /// The error the state holds.
    fn halt(self, st: &mut State<'_>) -> Self::Ret;
    /// The whole filter starting with the term `f` (only called when `TOP`).
    fn rest(self, st: &mut State<'_>, f: Filter) -> Self::Ret;
}

/// A term inside a filter, returned as it is.
struct Inner;

impl Outcome for Inner {
    type Ret = Step<Filter>;
    const TOP: bool = false;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn ok(self, _: &mut State<'_>, f: Filter) -> Self::Ret {
        Ok(f)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn halt(self, _: &mut State<'_>) -> Self::Ret {
        Err(Halt)
    }
    fn rest(self, _: &mut State<'_>, f: Filter) -> Self::Ret {
        Ok(f)
    }
}

/// The first term of a whole filter, returned as the filter's result.
struct Top;

impl Outcome for Top {
    type Ret = FStep;
    const TOP: bool = true;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn ok(self, _: &mut State<'_>, f: Filter) -> Self::Ret {
        Ok(f)
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn halt(self, st: &mut State<'_>) -> Self::Ret {
        Err(st.take_error())
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn rest(self, st: &mut State<'_>, f: Filter) -> Self::Ret {
        st.top_rest(f)
    }
}

/// An operand pushed straight into the vector of the operator before it: into an `and` run
/// flattened (`run`), into an `or`'s operands as it is.
struct Push<'v> {
    ops: &'v mut Vec<Filter>,
    run: bool,
}

impl Outcome for Push<'_> {
    type Ret = Step<()>;
    const TOP: bool = false;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn ok(self, _: &mut State<'_>, f: Filter) -> Self::Ret {
        if self.run {
            Junction::And.push(self.ops, f);
        } else {
            self.ops.push(f);
        }
        Ok(())
    }
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn halt(self, _: &mut State<'_>) -> Self::Ret {
        Err(Halt)
    }
    fn rest(self, st: &mut State<'_>, f: Filter) -> Self::Ret {
        self.ok(st, f)
    }
}

/// The value of a [`Step`], or the [`Outcome`] of its error, returned from the enclosing function.
macro_rules! tri {
    ($st:expr, $out:expr, $step:expr) => {
        match $step {
            Ok(v) => v,
            Err(Halt) => return $out.halt($st),
        }
    };
}

/// The cursor over the input, with the limits and counters that bound the work on hostile input.
struct State<'a> {
    input: &'a str,
    /// Byte offset of the next unread byte; always on a character boundary.
    pos: usize,
    opts: Parser,
    depth: usize,
    terms: usize,
    /// A string literal may follow its operator without a space (lenient PATCH paths only).
    glued_string: bool,
    /// Where and why parsing stopped, once a step returned [`Halt`].
    error: Option<(usize, ErrorKind)>,
}

/// A simple attribute path (`name` or `name.sub`) as a span of the input: small enough to travel
/// in registers until the filter that holds it is built.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
    name_len: u32,
}

/// An attribute path, or what it is built from.
trait PathArg {
    /// The path; `input` is the parser's input.
    fn into_path(self, input: &str) -> AttrPath;
}

impl PathArg for AttrPath {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn into_path(self, _: &str) -> AttrPath {
        self
    }
}

impl PathArg for Span {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn into_path(self, input: &str) -> AttrPath {
        let (start, len) = (self.start as usize, self.len as usize);
        // The span was scanned from `input`: both ends are before ASCII bytes or at its end.
        let token = input.get(start..start + len).unwrap_or("");
        AttrPath::from_parts(Text::new(token), 0, self.name_len as usize)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Logic {
    And,
    Or,
}

impl<'a> State<'a> {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn new(input: &'a str, opts: Parser) -> Self {
        State {
            input,
            pos: 0,
            opts,
            depth: 0,
            terms: 0,
            glued_string: false,
            error: None,
        }
    }

    // --- Cursor primitives. ---

    /// The input from byte `at` on (empty past the end).
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn bytes_at(&self, at: usize) -> &'a [u8] {
        self.input.as_bytes().get(at..).unwrap_or_default()
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn byte_at(&self, at: usize) -> Option<u8> {
        self.input.as_bytes().get(at).copied()
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn peek(&self) -> Option<u8> {
        self.byte_at(self.pos)
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The text from byte `at` on, for the sub-parsers that work on `&str`.
    fn str_at(&self, at: usize) -> &'a str {
        self.input.get(at..).unwrap_or("")
    }

    /// How many bytes of `class` start at `at`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn class_len(&self, at: usize, class: u8) -> usize {
        self.bytes_at(at)
            .iter()
            .take_while(|&&b| lex::is(b, class))
            .count()
    }

    /// How many spaces and tabs start at `at`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn space_len(&self, at: usize) -> usize {
        self.bytes_at(at)
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    }

    /// Skips `*(SP / HTAB)`; returns how many bytes it skipped.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn skip_space(&mut self) -> usize {
        if !matches!(self.peek(), Some(b' ' | b'\t')) {
            return 0;
        }
        let n = self.space_len(self.pos);
        self.pos += n;
        n
    }

    /// Whether the input at `at` is `keyword` in any case, not followed by a byte of `class`;
    /// returns the offset after it.
    fn keyword_at(&self, at: usize, keyword: &str, class: u8) -> Option<usize> {
        let rest = self.bytes_at(at);
        let head = rest.get(..keyword.len())?;
        let ends = rest.get(keyword.len()).is_none_or(|&b| !lex::is(b, class));
        (ends && head.eq_ignore_ascii_case(keyword.as_bytes())).then_some(at + keyword.len())
    }

    /// Whether byte `at` is the end of the input or a closing `)` or `]`.
    fn at_token_end(&self, at: usize) -> bool {
        matches!(self.byte_at(at), None | Some(b')' | b']'))
    }

    // --- Errors: recorded once, off the hot path. ---

    #[cold]
    #[inline(never)]
    fn fail(&mut self, at: usize, kind: ErrorKind) -> Halt {
        self.error = Some((at, kind));
        Halt
    }

    #[cold]
    #[inline(never)]
    fn expected(&mut self, at: usize, what: Expected) -> Halt {
        self.fail(at, ErrorKind::Expected(what))
    }

    /// Records the error of a nom sub-parser, whose position is the unparsed rest of the input.
    #[cold]
    #[inline(never)]
    fn nom_failed(&mut self, e: nom::Err<PErr<'_>>) -> Halt {
        match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => {
                let at = self.input.len().saturating_sub(e.at.len());
                self.fail(at, e.kind)
            }
            // Every sub-parser here is a `complete` parser; none asks for more input.
            nom::Err::Incomplete(_) => self.expected(self.input.len(), Expected::End),
        }
    }

    #[cold]
    #[inline(never)]
    fn into_error(mut self) -> ParseError {
        self.take_error()
    }

    /// The error recorded by the step that returned [`Halt`].
    #[cold]
    #[inline(never)]
    fn take_error(&mut self) -> ParseError {
        let (at, kind) = self
            .error
            .take()
            .unwrap_or((self.input.len(), ErrorKind::Expected(Expected::End)));
        ParseError::new(self.input, at, kind)
    }

    // --- Limits and modes. ---

    fn lenient(&self) -> bool {
        self.opts.mode == Mode::Lenient
    }

    fn trim_lenient(&mut self) {
        if self.lenient() {
            self.skip_space();
        }
    }

    fn enter(&mut self, at: usize) -> Step<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            let limit = self.opts.max_depth;
            return Err(self.fail(at, ErrorKind::TooDeep { limit }));
        }
        Ok(())
    }

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn count_term(&mut self, at: usize) -> Step<()> {
        self.terms += 1;
        if self.terms > self.opts.max_terms {
            let limit = self.opts.max_terms;
            return Err(self.fail(at, ErrorKind::TooManyTerms { limit }));
        }
        Ok(())
    }

    // --- Grammar. ---

    /// `FILTER *(SP ("and" / "or") SP FILTER)`, with `and` binding tighter than `or`. Runs of
    /// the same operator are collected flat (both are associative): `run` is the current run of
    /// `and` operands, `ors` the finished `or` operands before it. Nothing is allocated until a
    /// second operand arrives. Inlined into its two callers (groups and value filters), so that
    /// the operand comes back through one return slot fewer.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn or_expr(&mut self, in_brackets: bool) -> Step<Filter> {
        let first = self.unary(in_brackets, Inner)?;
        // Most filters are one comparison: return it as it is.
        let Some(logic) = self.logical()? else {
            return Ok(first);
        };
        self.or_rest(first, logic, in_brackets)
    }

    /// The rest of a whole filter after its first term `first`: `and`/`or` runs, then the end.
    #[inline(never)]
    fn top_rest(&mut self, first: Filter) -> FStep {
        let f = match self.logical() {
            Ok(None) => first,
            Ok(Some(logic)) => match self.or_rest(first, logic, false) {
                Ok(f) => f,
                Err(Halt) => return Err(self.take_error()),
            },
            Err(Halt) => return Err(self.take_error()),
        };
        self.skip_space();
        if self.at_end() {
            Ok(f)
        } else {
            self.expected(self.pos, Expected::LogicalOperator);
            Err(self.take_error())
        }
    }

    /// The outcome of a term `f` that is parsed: the whole filter from it when it is the first.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn term<O: Outcome>(&mut self, f: Step<Filter>, out: O) -> O::Ret {
        match f {
            Ok(f) if O::TOP && !self.at_end() => out.rest(self, f),
            Ok(f) => out.ok(self, f),
            Err(Halt) => out.halt(self),
        }
    }

    /// The operands after the first `and`/`or` of a run; kept out of line so that the single
    /// comparison, by far the most common filter, carries none of its state.
    #[inline(never)]
    fn or_rest(&mut self, first: Filter, first_logic: Logic, in_brackets: bool) -> Step<Filter> {
        // `ands` is the current run of `and` operands, `ors` the `or` operands. Each operand is
        // parsed straight into the vector of the operator before it (moving a freshly built
        // filter stalls on store forwarding): into `ands` flattened at once, as an `and` run is
        // closed as a whole; into `ors` as it is, as one that an `and` follows moves back out, much
        // later, to start a run. Vectors are sized up front, as growing from empty through
        // `RawVec::grow_one` cost as much as parsing a comparison (callgrind).
        let mut ands: Vec<Filter> = Vec::new();
        let mut ors: Vec<Filter> = Vec::new();
        match first_logic {
            Logic::And => {
                ands = Vec::with_capacity(4);
                Junction::And.push(&mut ands, first);
            }
            Logic::Or => {
                ors = Vec::with_capacity(4);
                ors.push(first);
            }
        }
        let mut logic = first_logic;
        loop {
            match logic {
                Logic::And => {
                    let run = Push {
                        ops: &mut ands,
                        run: true,
                    };
                    self.unary(in_brackets, run)?;
                }
                Logic::Or => {
                    let operands = Push {
                        ops: &mut ors,
                        run: false,
                    };
                    self.unary(in_brackets, operands)?;
                }
            }
            let next = self.logical()?;
            match (logic, next) {
                // `a or b and c`: `b` starts a run.
                (Logic::Or, Some(Logic::And)) => {
                    if let Some(f) = ors.pop() {
                        if ands.capacity() == 0 {
                            ands = Vec::with_capacity(4);
                        }
                        Junction::And.push(&mut ands, f);
                    }
                }
                // `a and b or c`: the run `a and b` ends, with two operands or more.
                (Logic::And, Some(Logic::Or)) => {
                    if ors.capacity() == 0 {
                        ors = Vec::with_capacity(4);
                    }
                    ors.push(Junction::And.wrap(std::mem::take(&mut ands)));
                }
                _ => {}
            }
            match next {
                Some(l) => logic = l,
                None => break,
            }
        }
        if logic == Logic::And {
            let run = Junction::And.wrap(ands);
            if ors.is_empty() {
                return Ok(run);
            }
            ors.push(run);
        }
        // A parenthesised `or` among the operands is flattened into them.
        if ors.iter().any(|f| matches!(f, Filter::Or(_))) {
            let nested = std::mem::take(&mut ors);
            Junction::Or.extend(&mut ors, nested);
        }
        Ok(Junction::Or.wrap(ors))
    }

    /// Looks ahead for `SP ("and" / "or") SP` and skips it, or returns `None` (consuming nothing)
    /// when the next token is something else.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn logical(&mut self) -> Step<Option<Logic>> {
        // Fast path: ` and ` or ` or ` in lower case with single spaces, then the next operand.
        let fast = match *self.bytes_at(self.pos) {
            [b' ', b'a', b'n', b'd', b' ', next, ..] => Some((5, Logic::And, next)),
            [b' ', b'o', b'r', b' ', next, ..] => Some((4, Logic::Or, next)),
            [] => return Ok(None),
            _ => None,
        };
        if let Some((len, logic, next)) = fast {
            if next != b' ' && next != b'\t' {
                self.pos += len;
                return Ok(Some(logic));
            }
        }
        self.logical_slow()
    }

    /// [`logical`](Self::logical) for other spacing and case, and its errors.
    #[inline(never)]
    fn logical_slow(&mut self) -> Step<Option<Logic>> {
        let ws = self.space_len(self.pos);
        let word = self.pos + ws;
        if ws == 0 || !matches!(self.byte_at(word), Some(b'a' | b'A' | b'o' | b'O')) {
            return Ok(None);
        }
        let (after, logic) = if let Some(after) = self.keyword_at(word, "and", WORD) {
            (after, Logic::And)
        } else if let Some(after) = self.keyword_at(word, "or", WORD) {
            (after, Logic::Or)
        } else {
            return Ok(None);
        };
        let ws = self.space_len(after);
        let next = after + ws;
        if next >= self.input.len() {
            return Err(self.expected(next, Expected::Filter));
        }
        if ws == 0 && !(self.lenient() && self.byte_at(next) == Some(b'(')) {
            return Err(self.expected(next, Expected::Whitespace));
        }
        self.pos = next;
        Ok(Some(logic))
    }

    /// `"not" "(" FILTER ")"`, `"(" FILTER ")"`, or an attribute expression.
    #[inline(never)]
    fn unary<O: Outcome>(&mut self, in_brackets: bool, out: O) -> O::Ret {
        match self.peek() {
            Some(b'(') => {
                let open = self.pos;
                self.pos += 1;
                let f = self.group(open, in_brackets);
                self.term(f, out)
            }
            Some(b'n' | b'N') => {
                let f = self.maybe_not(in_brackets);
                self.term(f, out)
            }
            _ => self.attr_exp(in_brackets, out),
        }
    }

    /// `not (filter)`, or an attribute whose name starts with `n`.
    #[inline(never)]
    fn maybe_not(&mut self, in_brackets: bool) -> Step<Filter> {
        let start = self.pos;
        if let Some(after_not) = self.keyword_at(start, "not", PATH) {
            let after_ws = after_not + self.space_len(after_not);
            if self.byte_at(after_ws) == Some(b'(') {
                self.pos = after_ws + 1;
                let inner = self.group(start, in_brackets)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // `not` may still be an attribute name (`not pr`, `not[...]`); otherwise it wants a
            // parenthesis.
            let operator_follows = starts_with_operator(self.bytes_at(after_ws));
            if !operator_follows && self.byte_at(after_not) != Some(b'[') {
                return Err(self.expected(after_ws, Expected::OpenParen));
            }
        }
        self.attr_exp(in_brackets, Inner)
    }

    /// The rest of a parenthesised group after `(`; `open` is where the group starts.
    #[inline(never)]
    fn group(&mut self, open: usize, in_brackets: bool) -> Step<Filter> {
        self.enter(open)?;
        self.skip_space();
        let inner = self.or_expr(in_brackets)?;
        self.skip_space();
        if self.peek() != Some(b')') {
            return Err(self.expected(self.pos, Expected::CloseParen));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// The rest of a value filter after `[`, through the closing `]`; `open` is the `[`.
    #[inline(never)]
    fn bracketed(&mut self, open: usize) -> Step<Filter> {
        self.enter(open)?;
        self.skip_space();
        let inner = self.or_expr(true)?;
        self.skip_space();
        if self.peek() != Some(b']') {
            return Err(self.expected(self.pos, Expected::CloseBracket));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// `attrPath SP "pr"`, `attrPath SP compareOp SP compValue`, or `attrPath "[" valFilter "]"`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn attr_exp<O: Outcome>(&mut self, in_brackets: bool, out: O) -> O::Ret {
        tri!(self, out, self.count_term(self.pos));
        // The common path is kept as a span until the filter is built, so that its text is
        // written once, into the result (building it first and moving it cost store-forwarding
        // stalls).
        let path = match self.simple_path() {
            Ok(span) if self.peek() != Some(b'[') => return self.comparison(span, out),
            Ok(span) => span.into_path(self.input),
            Err(scan) => tri!(
                self,
                out,
                self.attr_path_rest(&scan, self.lenient(), Expected::Filter)
            ),
        };
        if self.peek() == Some(b'[') {
            let f = self.value_path(path, in_brackets);
            return self.term(f, out);
        }
        self.comparison(path, out)
    }

    /// `attrPath "[" valFilter "]"` from the `[`.
    #[inline(never)]
    fn value_path(&mut self, path: AttrPath, in_brackets: bool) -> Step<Filter> {
        let open = self.pos;
        if in_brackets {
            return Err(self.fail(open, ErrorKind::NestedValueFilter));
        }
        self.pos += 1;
        let inner = self.bracketed(open)?;
        if self.lenient() && self.peek() == Some(b'.') {
            // `emails[type eq "work"].value eq "x"`: the comparison joins the bracket.
            self.pos += 1;
            self.count_term(self.pos)?;
            let sub = self.attr_name()?;
            let sub_path = AttrPath::from_parts(Text::new(sub), 0, sub.len());
            let cmp = self.comparison(sub_path, Inner)?;
            let inner = Filter::and(inner, cmp);
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        Ok(Filter::ValuePath(path, Box::new(inner)))
    }

    /// `SP "pr"` or `SP compareOp SP compValue`, after an attribute path.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn comparison<P: PathArg, O: Outcome>(&mut self, path: P, out: O) -> O::Ret {
        // Fast path for the shape nearly every client sends: one space, a two-letter operator in
        // lower case, one space (` eq "x"`), or ` pr` at the end of a term.
        match *self.bytes_at(self.pos) {
            [b' ', a, b, b' ', ref value @ ..] => match parse_operator_bytes(a, b) {
                Some(Operator::Compare(op)) if !matches!(value.first(), Some(b' ' | b'\t')) => {
                    self.pos += 4;
                    return self.comparison_value(path, op, out);
                }
                // `title pr and ...`, `title pr or ...`.
                Some(Operator::Present) => {
                    self.pos += 3;
                    return self.present(path, out);
                }
                _ => {}
            },
            // ` pr` then the end or a closing bracket.
            [b' ', b'p', b'r'] | [b' ', b'p', b'r', b')' | b']', ..] => {
                self.pos += 3;
                return self.present(path, out);
            }
            _ => {}
        }
        self.comparison_slow(path, out)
    }

    /// `path pr`, the cursor after `pr`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn present<P: PathArg, O: Outcome>(&mut self, path: P, out: O) -> O::Ret {
        // Built in the result in both branches, never moved; see `Outcome`.
        if O::TOP && !self.at_end() {
            return out.rest(self, Filter::Present(path.into_path(self.input)));
        }
        out.ok(self, Filter::Present(path.into_path(self.input)))
    }

    /// [`comparison`](Self::comparison) for other spacing and case, and its errors.
    #[inline(never)]
    fn comparison_slow<P: PathArg, O: Outcome>(&mut self, path: P, out: O) -> O::Ret {
        let ws = self.skip_space();
        if ws == 0 {
            let what = if self.at_token_end(self.pos) {
                Expected::Operator
            } else {
                Expected::Whitespace
            };
            self.expected(self.pos, what);
            return out.halt(self);
        }
        let op_at = self.pos;
        let after_op = op_at + self.class_len(op_at, WORD);
        let word = self
            .input
            .as_bytes()
            .get(op_at..after_op)
            .unwrap_or_default();
        let op = match parse_operator(word) {
            Some(Operator::Compare(op)) => op,
            Some(Operator::Present) => {
                self.pos = after_op;
                return self.present(path, out);
            }
            None => {
                self.expected(op_at, Expected::Operator);
                return out.halt(self);
            }
        };
        let ws = self.space_len(after_op);
        let v_start = after_op + ws;
        if ws == 0 && !(self.glued_string && self.byte_at(v_start) == Some(b'"')) {
            let what = if self.at_token_end(v_start) {
                Expected::Value
            } else {
                Expected::Whitespace
            };
            self.expected(v_start, what);
            return out.halt(self);
        }
        self.pos = v_start;
        self.comparison_value(path, op, out)
    }

    /// The value of `path op value`, from its first byte.
    #[inline(never)]
    fn comparison_value<P: PathArg, O: Outcome>(
        &mut self,
        path: P,
        op: CompareOp,
        out: O,
    ) -> O::Ret {
        let v_start = self.pos;
        // Fast path: a string literal without escapes followed by the end of the term, built
        // straight into the result (staging the value first cost store-forwarding stalls).
        if self.peek() == Some(b'"') {
            let body = v_start + 1;
            if let Some(stop) = lex::string_stop(self.bytes_at(body)) {
                let end = body + stop;
                if self.byte_at(end) == Some(b'"')
                    && matches!(
                        self.byte_at(end + 1),
                        None | Some(b')' | b']' | b' ' | b'\t')
                    )
                {
                    // Both ends are ASCII bytes, hence character boundaries.
                    let plain = self.input.get(body..end).unwrap_or("");
                    self.pos = end + 1;
                    let path = path.into_path(self.input);
                    let value = CompValue::String(Text::new(plain));
                    // Built in the result in both branches, never moved; see `Outcome`.
                    if O::TOP && !self.at_end() {
                        return out.rest(self, Filter::Compare(path, op, value));
                    }
                    return out.ok(self, Filter::Compare(path, op, value));
                }
            }
        }
        let value = tri!(self, out, self.comp_value());
        if op.is_ordering() && matches!(value, CompValue::Bool(_) | CompValue::Null) {
            self.fail(v_start, ErrorKind::OrderingWithBooleanOrNull);
            return out.halt(self);
        }
        if !matches!(self.peek(), None | Some(b')' | b']' | b' ' | b'\t')) {
            self.expected(self.pos, Expected::Whitespace);
            return out.halt(self);
        }
        let f = Filter::Compare(path.into_path(self.input), op, value);
        self.term(Ok(f), out)
    }

    /// `compValue = false / null / true / number / string`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn comp_value(&mut self) -> Step<CompValue> {
        match self.peek() {
            Some(b'"') => self.string_literal(),
            _ => self.other_value(),
        }
    }

    /// A number, `true`, `false` or `null`.
    #[inline(never)]
    fn other_value(&mut self) -> Step<CompValue> {
        let start = self.pos;
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => match number(self.str_at(start)) {
                Ok((rest, value)) => {
                    self.pos = self.input.len() - rest.len();
                    Ok(value)
                }
                Err(e) => Err(self.nom_failed(e)),
            },
            // Not JSON numbers, but clearly meant as numbers: say so rather than "expected a value".
            Some(b'+' | b'.') if self.byte_at(start + 1).is_some_and(|b| b.is_ascii_digit()) => {
                Err(self.fail(start, ErrorKind::InvalidNumber))
            }
            Some(_) => {
                let len = self.class_len(start, WORD);
                let word = self
                    .input
                    .as_bytes()
                    .get(start..start + len)
                    .unwrap_or_default();
                let value = if word.eq_ignore_ascii_case(b"true") {
                    CompValue::Bool(true)
                } else if word.eq_ignore_ascii_case(b"false") {
                    CompValue::Bool(false)
                } else if word.eq_ignore_ascii_case(b"null") {
                    CompValue::Null
                } else {
                    return Err(self.expected(start, Expected::Value));
                };
                self.pos = start + len;
                Ok(value)
            }
            None => Err(self.expected(start, Expected::Value)),
        }
    }

    /// A JSON string literal, starting at its opening quote.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn string_literal(&mut self) -> Step<CompValue> {
        let quote = self.pos;
        let body = quote + 1;
        // Fast path: no escapes, so the value is a slice of the input.
        let stop = lex::string_stop(self.bytes_at(body));
        let Some(stop) = stop else {
            return Err(self.fail(quote, ErrorKind::UnterminatedString));
        };
        let end = body + stop;
        match self.byte_at(end) {
            Some(b'"') => {
                // Both ends are ASCII bytes, hence character boundaries.
                let plain = self.input.get(body..end).unwrap_or("");
                self.pos = end + 1;
                Ok(CompValue::String(Text::new(plain)))
            }
            Some(b'\\') => self.escaped_string(quote, end),
            _ => Err(self.fail(end, ErrorKind::ControlCharacter)),
        }
    }

    /// The rest of a string literal with escapes, from the first backslash at `esc`.
    #[inline(never)]
    fn escaped_string(&mut self, quote: usize, esc: usize) -> Step<CompValue> {
        let plain = self.input.get(quote + 1..esc).unwrap_or("");
        let mut out = String::with_capacity(self.input.len() - quote);
        out.push_str(plain);
        match unescape(self.str_at(quote), self.str_at(esc), &mut out) {
            Ok((rest, ())) => {
                self.pos = self.input.len() - rest.len();
                Ok(CompValue::String(Text::from(out)))
            }
            Err(e) => Err(self.nom_failed(e)),
        }
    }

    /// `[URI ":"] ATTRNAME *1subAttr`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn attr_path(&mut self, lenient: bool, what: Expected) -> Step<AttrPath> {
        match self.simple_path() {
            Ok(span) => Ok(span.into_path(self.input)),
            Err(scan) => self.attr_path_rest(&scan, lenient, what),
        }
    }

    /// The common attribute path, `name` or `name.sub` made of name characters only, as a span
    /// (the cursor moves past it); anything else leaves the cursor and returns the scan.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn simple_path(&mut self) -> Result<Span, lex::PathScan> {
        let start = self.pos;
        let b = self.bytes_at(start);
        let scan = lex::scan_path(b);
        if scan.len > 0 && !scan.colon && !scan.other && scan.dots <= 1 {
            // The scan has seen every byte, so each part is valid exactly when it starts with a
            // letter.
            let starts_alpha = |at: usize| b.get(at).is_some_and(u8::is_ascii_alphabetic);
            if starts_alpha(0) && scan.first_dot.is_none_or(|d| starts_alpha(d + 1)) {
                let name_len = scan.first_dot.unwrap_or(scan.len);
                // Spans are 32-bit; a path beyond 4 GiB of input takes the general route.
                if let (Ok(s), Ok(len), Ok(name_len)) = (
                    u32::try_from(start),
                    u32::try_from(scan.len),
                    u32::try_from(name_len),
                ) {
                    self.pos = start + scan.len;
                    return Ok(Span {
                        start: s,
                        len,
                        name_len,
                    });
                }
            }
        }
        Err(scan)
    }

    /// [`attr_path`](Self::attr_path) for what [`simple_path`](Self::simple_path) declined.
    #[inline(never)]
    fn attr_path_rest(
        &mut self,
        scan: &lex::PathScan,
        lenient: bool,
        what: Expected,
    ) -> Step<AttrPath> {
        let start = self.pos;
        let i = self.str_at(start);
        // The scan stops before an ASCII byte or at the end: a character boundary.
        let Some(token) = i.get(..scan.len).filter(|t| !t.is_empty()) else {
            return Err(self.expected(start, what));
        };
        self.attr_path_slow(token, scan.colon, scan.first_dot, lenient)
    }

    /// [`attr_path`](Self::attr_path) for schema URNs, and its errors; `token` starts at `pos`.
    #[inline(never)]
    fn attr_path_slow(
        &mut self,
        token: &'a str,
        colon: bool,
        first_dot: Option<usize>,
        lenient: bool,
    ) -> Step<AttrPath> {
        let start = self.pos;
        let (schema, names_from, dot) = if colon {
            let (schema, from) = match split_schema(token, lenient) {
                Ok(split) => split,
                Err(offset) => return Err(self.fail(start + offset, ErrorKind::InvalidUrn)),
            };
            let dot = token
                .get(from..)
                .and_then(|n| n.find('.'))
                .map(|d| from + d);
            (schema, from, dot)
        } else {
            (None, 0, first_dot)
        };
        let (name, sub_attr) = match dot {
            Some(d) => (
                token.get(names_from..d).unwrap_or(""),
                Some(token.get(d + 1..).unwrap_or("")),
            ),
            None => (token.get(names_from..).unwrap_or(""), None),
        };
        if !lex::is_attr_name(name) {
            let at = start + names_from + lex::name_error_offset(name);
            return Err(self.expected(at, Expected::AttrName));
        }
        if let Some(sub) = sub_attr {
            let sub_from = start + names_from + name.len() + 1;
            if let Some(dot) = sub.find('.') {
                return Err(self.fail(sub_from + dot, ErrorKind::SubAttributeDepth));
            }
            if !lex::is_attr_name(sub) {
                let at = sub_from + lex::name_error_offset(sub);
                return Err(self.expected(at, Expected::AttrName));
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
        self.pos = start + token.len();
        Ok(AttrPath::from_parts(text, names_from, name.len()))
    }

    /// `ATTRNAME = ALPHA *(nameChar)`, or `$ref`, as a whole token.
    fn attr_name(&mut self) -> Step<&'a str> {
        let start = self.pos;
        let i = self.str_at(start);
        let (name, rest) = take_class(i, NAME);
        let (name, rest) = if name.is_empty() && i.starts_with('$') {
            i.split_at_checked(4).unwrap_or((i, ""))
        } else {
            (name, rest)
        };
        let continues = rest.as_bytes().first().is_some_and(|&b| lex::is(b, NAME));
        if lex::is_attr_name(name) && !continues {
            self.pos = start + name.len();
            Ok(name)
        } else {
            Err(self.expected(start, Expected::AttrName))
        }
    }
}

enum Operator {
    Compare(CompareOp),
    Present,
}

/// A comparison operator or `pr`, in any case.
#[cfg_attr(not(debug_assertions), inline(always))]
fn parse_operator(word: &[u8]) -> Option<Operator> {
    let &[a, b] = word else {
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

/// Whether `b` starts with an operator word.
fn starts_with_operator(b: &[u8]) -> bool {
    let len = b.iter().take_while(|&&c| lex::is(c, WORD)).count();
    parse_operator(b.get(..len).unwrap_or_default()).is_some()
}

/// Schema URNs whose attributes Entra ID sometimes joins with `.` (lenient mode only).
const KNOWN_SCHEMAS: [&str; 5] = [
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "urn:scim:schemas:extension:enterprise:1.0",
    "urn:scim:schemas:core:1.0",
];

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
