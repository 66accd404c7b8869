//! What a JSON string holds as it is: everything but a quote, a backslash
//! and the control bytes, which must be escaped. The reader and the writer
//! of the hand-written codecs both look for these bytes.

/// Where a JSON string's plain run from `start` ends: at the first quote,
/// backslash or control byte, if there is one. Eight bytes at a time: the
/// strings are short (ids, names), where a vectorized search's call and
/// set-up cost more than they save.
pub(super) fn plain_end(bytes: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // Sets the high bit of the first byte of `word` below `limit` (and maybe
    // of later ones, which the lowest set bit ignores).
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * limit as u64) & !word & HIGHS;
    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let stops = below(word ^ (ONES * b'"' as u64), 1)
            | below(word ^ (ONES * b'\\' as u64), 1)
            | below(word, 0x20);
        if stops != 0 {
            return Some(at + (stops.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    let offset = rest
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
    Some(at + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_string_ends_at_the_first_quote_backslash_or_control_byte(
            bytes in proptest::collection::vec(prop_oneof![
                1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20, 12 => 0x20u8..=0xff
            ], 0..40),
            start in 0usize..40,
        ) {
            let start = start.min(bytes.len());
            let expected = bytes[start..]
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
                .map(|offset| start + offset);
            prop_assert_eq!(plain_end(&bytes, start), expected);
        }
    }
}
