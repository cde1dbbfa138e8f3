//! Byte-level lexing primitives for the parser's hot path.
//!
//! The grammar's tokens are ASCII, so the lexers classify bytes through one lookup table instead
//! of decoding characters. Every split happens before an ASCII byte, which is always a character
//! boundary, so slicing never lands inside a multi-byte character.

/// `ALPHA / DIGIT / "-" / "_"`: the characters of an attribute name after the first.
pub(crate) const NAME: u8 = 1;
/// Characters of an attribute path token: name characters, `.`, `:`, `$`, the other characters a
/// URN may contain, and every non-ASCII byte (so a stray letter like `é` is reported precisely
/// by name validation instead of ending the token early).
pub(crate) const PATH: u8 = 2;
/// ASCII letters and digits: the characters of keywords and operators.
pub(crate) const WORD: u8 = 4;
/// Bytes that end the plain run of a string literal: `"`, `\` and control characters.
pub(crate) const STRING_STOP: u8 = 8;

static CLASS: [u8; 256] = classes();

// `b` runs over 0..256 and indexes a 256-entry table.
#[allow(clippy::indexing_slicing)]
const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_alphanumeric() {
            class |= NAME | PATH | WORD;
        }
        if c == b'-' || c == b'_' {
            class |= NAME | PATH;
        }
        if matches!(
            c,
            b'.' | b':' | b'$' | b'+' | b'%' | b'=' | b'@' | b';' | b'!' | b'*' | b'/' | b'~'
        ) || c >= 0x80
        {
            class |= PATH;
        }
        if c == b'"' || c == b'\\' || c < 0x20 {
            class |= STRING_STOP;
        }
        t[b] = class;
        b += 1;
    }
    t
}

/// Whether byte `b` belongs to `class`.
#[cfg_attr(not(debug_assertions), inline(always))]
// A `u8` index into a 256-entry table cannot be out of bounds.
#[allow(clippy::indexing_slicing)]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Splits `i` after its longest prefix of bytes in `class`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn take_class(i: &str, class: u8) -> (&str, &str) {
    let n = i.bytes().take_while(|&b| is(b, class)).count();
    i.split_at_checked(n).unwrap_or((i, ""))
}

/// Whether `s` is a valid attribute name: `ALPHA *(ALPHA / DIGIT / "-" / "_")`, or `$ref`.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn is_attr_name(s: &str) -> bool {
    match s.as_bytes().split_first() {
        Some((first, rest)) if first.is_ascii_alphabetic() => rest.iter().all(|&b| is(b, NAME)),
        Some((b'$', _)) => s.eq_ignore_ascii_case("$ref"),
        _ => false,
    }
}

/// The byte offset in `s` at which it stops being a valid attribute name (`s.len()` when the
/// whole of `s` is a name's prefix), for error positions.
pub(crate) fn name_error_offset(s: &str) -> usize {
    let b = s.as_bytes();
    match b.first() {
        Some(f) if f.is_ascii_alphabetic() => b.iter().position(|&c| !is(c, NAME)).unwrap_or(0),
        _ => 0,
    }
}

/// What [`scan_path`] saw.
pub(crate) struct PathScan {
    /// Length of the attribute path token.
    pub(crate) len: usize,
    /// Offset of the first `.`, if any.
    pub(crate) first_dot: Option<usize>,
    /// Whether the token contains a `:` (a URN prefix, or an error).
    pub(crate) colon: bool,
    /// Whether the token holds a byte other than name characters, `.` and `:`.
    pub(crate) other: bool,
    /// How many `.` the token holds.
    pub(crate) dots: u32,
}

/// Scans an attribute path token in one pass, noting where its first `.` is and whether it has a
/// `:`, so that the common `name` and `name.sub` forms need no second look.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn scan_path(b: &[u8]) -> PathScan {
    let mut scan = PathScan {
        len: 0,
        first_dot: None,
        colon: false,
        other: false,
        dots: 0,
    };
    loop {
        // Name characters are the common case: a tight loop, then a look at what stopped it.
        while b.get(scan.len).is_some_and(|&c| is(c, NAME)) {
            scan.len += 1;
        }
        match b.get(scan.len) {
            Some(b'.') => {
                scan.first_dot.get_or_insert(scan.len);
                scan.dots += 1;
            }
            Some(b':') => scan.colon = true,
            Some(&c) if is(c, PATH) => scan.other = true,
            _ => return scan,
        }
        scan.len += 1;
    }
}

/// The offset of the first byte that ends the plain run of a string literal (`"`, `\` or a
/// control character), if any.
///
/// Literals are the longest tokens of typical filters (UUIDs, URNs, e-mail addresses), so this
/// tests eight bytes per step: with `x` a little-endian word, `(v - 0x01..) & !v & 0x80..` flags
/// the zero bytes of `v` and `(x - 0x20..) & !x & 0x80..` the bytes below 0x20. A borrow can only
/// flag bytes above a true hit, never below one, so the lowest flag is the first stop.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn string_stop(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    const QUOTE: u64 = ONES * b'"' as u64;
    const BACKSLASH: u64 = ONES * b'\\' as u64;
    const SPACE: u64 = ONES * 0x20;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        let quote = x ^ QUOTE;
        let backslash = x ^ BACKSLASH;
        let flags = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(SPACE) & !x))
            & HIGH;
        if flags != 0 {
            return Some(base + (flags.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| is(c, STRING_STOP))
        .map(|p| base + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time scan agrees with the byte table on every stop byte at every position,
    /// also after bytes that make the subtraction borrow (0x00, 0x80, 0xff, `!`).
    #[test]
    fn string_stop_matches_the_byte_table() {
        let fillers = [b'a', b'!', b'#', 0x80, 0xff, 0xa0, 0x7f, b' '];
        for len in 0..20 {
            for filler in fillers {
                for stop_at in 0..=len {
                    for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, b'a'] {
                        let mut b = vec![filler; len];
                        if let Some(slot) = b.get_mut(stop_at) {
                            *slot = stop;
                        }
                        let expected = b.iter().position(|&c| is(c, STRING_STOP));
                        assert_eq!(string_stop(&b), expected, "{b:?}");
                    }
                }
            }
        }
    }
}
