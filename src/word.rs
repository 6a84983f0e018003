//! Bytes tested eight at a time, as one `u64` word: the text writers check every string a
//! peer chose before writing it, almost every string is clean, and a loop over its bytes cost
//! more than the rest of the line.

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The first eight bytes of `c`, little-endian.
#[inline(always)]
pub(crate) fn load(c: &[u8]) -> u64 {
    u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
}

/// Non-zero when some byte of `x` is below `n` (`n <= 0x80`): the classic test, made exact
/// (for every byte value) by `!x & HIGH`.
#[inline(always)]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
}

/// Non-zero when some byte of `x` is `b`.
#[inline(always)]
pub(crate) fn has(x: u64, b: u8) -> u64 {
    below(x ^ (ONES * u64::from(b)), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each test against the byte loop it stands for, with the tested byte at every place
    /// among every other value.
    #[test]
    fn words_agree_with_the_bytes() {
        for v in 0..=255u8 {
            for fill in [0u8, 0x20, 0x41, 0x7f, 0x80, 0xff] {
                for at in 0..8 {
                    let mut b = [fill; 8];
                    b[at] = v;
                    let x = load(&b);
                    for n in [1u8, 0x20, 0x80] {
                        assert_eq!(below(x, n) != 0, b.iter().any(|&c| c < n), "{b:?} < {n}");
                    }
                    for t in [b'"', b'\\', 0x7f] {
                        assert_eq!(has(x, t) != 0, b.contains(&t), "{b:?} has {t}");
                    }
                }
            }
        }
    }
}
