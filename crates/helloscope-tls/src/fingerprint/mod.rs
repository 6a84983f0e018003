//! Fingerprints of hellos: JA3 and JA3S (Salesforce), JA4 and, behind the `ja4s` feature,
//! JA4S (FoxIO).

pub mod ja3;
pub mod ja4;
#[cfg(feature = "ja4s")]
pub mod ja4s;

use sha2::{Digest, Sha256};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Text being built for hashing or printing, on the stack while it is short (a heap
/// allocation costs as much as hashing a block).
pub(crate) type Text = smallvec::SmallVec<[u8; 512]>;

/// The four lower-case hex digits of `v`, first digit in the lowest byte, computed in one
/// register: the nibbles are spread one per byte, then each byte becomes `'0'..'9'` or
/// `'a'..'f'` by adding `'0'` and, where the nibble is over 9, the gap up to `'a'`. Four table
/// loads and four byte stores per value cost twice as much, and JA4 writes ~40 values.
#[inline(always)]
pub(crate) fn hex4_word(v: u16) -> u32 {
    let v = u32::from(v);
    // High byte in lane 0, low byte in lane 2, so each nibble lands in its own byte below.
    let y = (v >> 8) | ((v & 0xff) << 16);
    let nibbles = ((y >> 4) & 0x000f_000f) | ((y & 0x000f_000f) << 8);
    // 0x01 in each byte whose nibble is 10 or more.
    let over9 = ((nibbles + 0x0606_0606) >> 4) & 0x0101_0101;
    nibbles + 0x3030_3030 + over9 * (u32::from(b'a' - b'0') - 10)
}

/// Appends `v` as four lower-case hex digits.
#[cfg(feature = "ja4s")]
#[inline]
pub(crate) fn push_hex4(out: &mut Text, v: u16) {
    out.extend_from_slice(&hex4_word(v).to_le_bytes());
}

/// Appends a comma-separated list of four-digit hex values.
#[inline]
pub(crate) fn push_hex_list(out: &mut Text, values: &[u16]) {
    // Each value as one eight-byte store into a chunk on the stack (four digits, the comma,
    // three bytes the next value overwrites), the chunk appended in one copy.
    let mut chunk = [0u8; 5 * 32 + 3];
    for group in values.chunks(32) {
        for (i, &v) in group.iter().enumerate() {
            let word = u64::from(hex4_word(v)) | u64::from(b',') << 32;
            chunk[5 * i..5 * i + 8].copy_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&chunk[..5 * group.len()]);
    }
    // Each value was followed by a comma; the list's last one is not.
    if !values.is_empty() {
        out.pop();
    }
}

/// The first 12 hex digits of SHA-256 of `data`, lower case.
#[inline]
pub(crate) fn sha256_12(data: &[u8]) -> [u8; 12] {
    let digest = Sha256::digest(data);
    let mut out = [0u8; 12];
    for (i, b) in digest[..6].iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
    out
}

/// Lower-case hex of a whole digest.
pub(crate) fn hex_lower(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
}

/// The two ASCII digits of each value below 100, the first in the low byte.
const DIGIT_PAIRS: [u16; 100] = {
    let mut t = [0u16; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = (b'0' + (i / 10) as u8) as u16 | (((b'0' + (i % 10) as u8) as u16) << 8);
        i += 1;
    }
    t
};

/// The decimal digits of `v` (below 100 000) at the start of a little-endian word, and how
/// many there are, without a branch on the value. A writer stores the whole word and moves on
/// by the count; JA3's values (all u16) are written this way, and the CLI's small numbers too.
///
/// ```
/// use helloscope_tls::fingerprint::decimal_word;
/// let (word, n) = decimal_word(4865);
/// assert_eq!(&word.to_le_bytes()[..n], b"4865");
/// assert_eq!(decimal_word(0), (u64::from(b'0'), 1));
/// ```
#[inline(always)]
pub fn decimal_word(v: u32) -> (u64, usize) {
    debug_assert!(v < 100_000);
    // v / 10⁴ in fixed point with 32 fraction bits (429 497 = ⌈2³²/10⁴⌉): the integer part is
    // the first digit, and each product of the fraction by 100 brings the next two digits into
    // the integer part, read from a table. Three multiplies where dividing by 10⁴, 10³, 10²
    // and 10 took six or more in a chain, which made the multiplier the bottleneck of JA3.
    // The rounding of the constant never reaches a digit below 100 000 (a test checks every
    // value).
    let y = u64::from(v) * 429_497;
    let first = y >> 32;
    let y = (y & 0xffff_ffff) * 100;
    let second = DIGIT_PAIRS[(y >> 32) as usize];
    let y = (y & 0xffff_ffff) * 100;
    let third = DIGIT_PAIRS[(y >> 32) as usize];
    let digits = (first + u64::from(b'0')) | u64::from(second) << 8 | u64::from(third) << 24;
    // The count from comparisons, not from the digits: a writer's position depends on it,
    // and this keeps the multiplies off the path from one value to the next.
    let n = 1
        + usize::from(v >= 10)
        + usize::from(v >= 100)
        + usize::from(v >= 1000)
        + usize::from(v >= 10_000);
    (digits >> (8 * (5 - n)), n)
}

/// Two decimal digits, capped at 99 as JA4 requires.
#[inline]
pub(crate) fn two_digits(n: usize) -> [u8; 2] {
    let n = n.min(99) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

/// The transport a hello travelled over; JA4 and JA4S start with its letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Transport {
    /// TLS over TCP: `t`.
    #[default]
    Tcp,
    /// QUIC: `q`.
    Quic,
    /// DTLS: `d`.
    Dtls,
}

impl Transport {
    /// `tcp`, `quic` or `dtls`.
    ///
    /// ```
    /// assert_eq!(helloscope_tls::Transport::Quic.name(), "quic");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic",
            Transport::Dtls => "dtls",
        }
    }

    pub(crate) const fn letter(self) -> u8 {
        match self {
            Transport::Tcp => b't',
            Transport::Quic => b'q',
            Transport::Dtls => b'd',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_word_every_value() {
        for v in 0..100_000u32 {
            let (word, n) = decimal_word(v);
            let bytes = word.to_le_bytes();
            assert_eq!(&bytes[..n], v.to_string().as_bytes(), "{v}");
            assert!(
                bytes[n..].iter().all(|&b| b == 0),
                "{v}: bytes after the digits"
            );
        }
    }

    #[test]
    fn hex4_word_every_value() {
        for v in 0..=u16::MAX {
            assert_eq!(
                hex4_word(v).to_le_bytes(),
                format!("{v:04x}").as_bytes(),
                "{v}"
            );
        }
    }

    #[test]
    fn hex_list() {
        for values in [&[][..], &[0x0a0a], &[0x1301, 0xc02b, 0xffff, 0]] {
            let mut out = Text::from_slice(b"x_");
            push_hex_list(&mut out, values);
            let want: Vec<String> = values.iter().map(|v| format!("{v:04x}")).collect();
            assert_eq!(out.as_slice(), format!("x_{}", want.join(",")).as_bytes());
        }
    }
}
