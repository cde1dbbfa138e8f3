//! Random text for what must not be guessed or collide (passwords nobody types, stable ids):
//! std's per-process random `SipHash` keys, seeded by the operating system, so no
//! random-number crate is needed for values no one ever has to enter.

use std::fmt::Write;
use std::hash::{BuildHasher, Hasher};

/// `words` x 64 random bits in lower-case hex, from fresh `RandomState`s (each has its own
/// keys) hashing the word's index and the time.
pub(crate) fn random_hex(words: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(16 * words as usize);
    for i in 0..words {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(i);
        h.write_u128(nanos);
        // Writing to a String cannot fail.
        let _ = write!(out, "{:016x}", h.finish());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_of_the_asked_length_and_never_twice_the_same() {
        let a = super::random_hex(2);
        let b = super::random_hex(2);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
