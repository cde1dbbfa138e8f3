//! [`ParseError`]: what went wrong, where, and what was expected there.

use std::fmt;

/// What the parser expected at the position of a [`ParseError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// The start of a filter: an attribute path, `not (` or `(`.
    Filter,
    /// An attribute name (`ALPHA *(ALPHA / DIGIT / "-" / "_")` or `$ref`).
    AttrName,
    /// A comparison operator or `pr`.
    Operator,
    /// One or more spaces or tabs.
    Whitespace,
    /// A literal: a string in double quotes, a number, `true`, `false` or `null`.
    Value,
    /// `and`, `or`, or the end of the filter.
    LogicalOperator,
    /// `(` after `not`.
    OpenParen,
    /// `)` closing a group.
    CloseParen,
    /// `]` closing a value filter.
    CloseBracket,
    /// The end of the input.
    End,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Filter => "an attribute path, `not (` or `(`",
            Expected::AttrName => {
                "an attribute name (a letter followed by letters, digits, `-` or `_`)"
            }
            Expected::Operator => {
                "a comparison operator (eq, ne, co, sw, ew, gt, lt, ge, le) or pr"
            }
            Expected::Whitespace => "a space",
            Expected::Value => "a value (a string in double quotes, a number, true, false or null)",
            Expected::LogicalOperator => "`and`, `or` or the end of the filter",
            Expected::OpenParen => "`(` after `not`",
            Expected::CloseParen => "`)`",
            Expected::CloseBracket => "`]`",
            Expected::End => "the end of the input",
        })
    }
}

/// The kind of a [`ParseError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input does not follow the grammar; the parser wanted something else here.
    Expected(Expected),
    /// A string literal has no closing `"`.
    UnterminatedString,
    /// A string literal contains an unknown escape such as `\a`, or a malformed `\u` escape.
    InvalidEscape,
    /// A `\u` escape names a lone UTF-16 surrogate.
    LoneSurrogate,
    /// A string literal contains a raw control character (U+0000 to U+001F), which JSON forbids.
    ControlCharacter,
    /// A number is not a JSON number (leading zeros, a bare `.` or exponent) or is out of range.
    InvalidNumber,
    /// A schema URN prefix is malformed, e.g. `urn:attr` or a URN with no attribute after it.
    InvalidUrn,
    /// `gt`, `lt`, `ge` or `le` with `true`, `false` or `null` (RFC 7644 §3.4.2.2).
    OrderingWithBooleanOrNull,
    /// An attribute path with more than one sub-attribute, such as `name.givenName.x`.
    SubAttributeDepth,
    /// `[...]` inside `[...]`.
    NestedValueFilter,
    /// Parentheses, `not` and brackets nest deeper than the parser's limit.
    TooDeep {
        /// The configured nesting limit.
        limit: usize,
    },
    /// The filter has more comparisons than the parser's limit.
    TooManyTerms {
        /// The configured term limit.
        limit: usize,
    },
    /// The input is longer than the parser's limit, in bytes.
    TooLong {
        /// The configured length limit.
        limit: usize,
    },
}

/// A filter, path or attribute path that could not be parsed.
///
/// Its `Display` is written to be sent to the client as the `detail` of a SCIM `invalidFilter` or
/// `invalidPath` error: it names the byte offset, what was found there and what was expected.
///
/// ```
/// use scim_filter::Filter;
/// let err = "title prand x pr".parse::<Filter>().unwrap_err();
/// assert_eq!(err.offset(), 6);
/// assert_eq!(err.found(), "prand");
/// assert_eq!(
///     err.to_string(),
///     "expected a comparison operator (eq, ne, co, sw, ew, gt, lt, ge, le) or pr at byte 6, found `prand`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    offset: usize,
    found: String,
    kind: ErrorKind,
}

impl ParseError {
    #[cold]
    pub(crate) fn new(input: &str, offset: usize, kind: ErrorKind) -> Self {
        let offset = offset.min(input.len());
        ParseError {
            offset,
            found: token_at(input, offset),
            kind,
        }
    }

    /// The byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The token found at [`offset`](Self::offset), shortened to 40 characters; empty at the end of
    /// the input.
    pub fn found(&self) -> &str {
        &self.found
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What the parser expected, for syntax errors.
    pub fn expected(&self) -> Option<Expected> {
        match self.kind {
            ErrorKind::Expected(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Expected(e) => write!(f, "expected {e}")?,
            ErrorKind::UnterminatedString => f.write_str("string literal has no closing quote")?,
            ErrorKind::InvalidEscape => f.write_str(
                "invalid escape in string literal (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
            )?,
            ErrorKind::LoneSurrogate => {
                f.write_str("\\u escape is an unpaired UTF-16 surrogate")?;
            }
            ErrorKind::ControlCharacter => {
                f.write_str("control character in string literal must be escaped")?;
            }
            ErrorKind::InvalidNumber => f.write_str("invalid number")?,
            ErrorKind::InvalidUrn => {
                f.write_str("invalid schema URN prefix (expected urn:...:attributeName)")?;
            }
            ErrorKind::OrderingWithBooleanOrNull => f.write_str(
                "gt, lt, ge and le cannot compare with true, false or null",
            )?,
            ErrorKind::SubAttributeDepth => {
                f.write_str("an attribute path has at most one sub-attribute")?;
            }
            ErrorKind::NestedValueFilter => {
                f.write_str("a value filter cannot contain another value filter")?;
            }
            ErrorKind::TooDeep { limit } => {
                write!(f, "filter nests deeper than {limit} levels")?;
            }
            ErrorKind::TooManyTerms { limit } => {
                write!(f, "filter has more than {limit} comparisons")?;
            }
            ErrorKind::TooLong { limit } => {
                return write!(f, "input is longer than {limit} bytes");
            }
        }
        if self.found.is_empty() {
            write!(f, " at byte {}, found the end of the input", self.offset)
        } else {
            write!(f, " at byte {}, found `{}`", self.offset, self.found)
        }
    }
}

/// The token starting at `offset`, for error messages: a quoted string, a word, or one character.
fn token_at(input: &str, offset: usize) -> String {
    const MAX_CHARS: usize = 40;
    let Some(rest) = input.get(offset..) else {
        return String::new();
    };
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return String::new();
    };
    let end = if first == '"' {
        // Through the closing quote, skipping escaped characters.
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in chars {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = i + 1;
                break;
            }
        }
        end
    } else if first == '\\' {
        // An escape sequence: the backslash and the character after it.
        1 + chars.next().map_or(0, |(_, c)| c.len_utf8())
    } else if is_word_char(first) {
        rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    let token = rest.get(..end).unwrap_or(rest);
    match token.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", token.get(..cut).unwrap_or(token)),
        None => token.to_owned(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$' | '+')
}
