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

/// Appends `v` as four lower-case hex digits.
#[cfg(feature = "ja4s")]
#[inline]
pub(crate) fn push_hex4(out: &mut Text, v: u16) {
    out.extend_from_slice(&[
        HEX[(v >> 12) as usize & 0xf],
        HEX[(v >> 8) as usize & 0xf],
        HEX[(v >> 4) as usize & 0xf],
        HEX[v as usize & 0xf],
    ]);
}

/// Appends a comma-separated list of four-digit hex values.
#[inline]
pub(crate) fn push_hex_list(out: &mut Text, values: &[u16]) {
    // Five bytes per value, written into a fixed chunk and appended in one go.
    let mut chunk = [b','; 5 * 32];
    for group in values.chunks(32) {
        for (i, v) in group.iter().enumerate() {
            let o = 5 * i;
            chunk[o] = HEX[(v >> 12) as usize & 0xf];
            chunk[o + 1] = HEX[(v >> 8) as usize & 0xf];
            chunk[o + 2] = HEX[(v >> 4) as usize & 0xf];
            chunk[o + 3] = HEX[*v as usize & 0xf];
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

/// The decimal digits of `v` (below 100 000) at the start of a little-endian word, and how
/// many there are: all five computed without a branch on the value, the leading zeros shifted
/// out. A writer stores the whole word and moves on by the count; JA3's values (all u16) are
/// written this way, and the CLI's small numbers too.
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
    let n = 1
        + usize::from(v >= 10)
        + usize::from(v >= 100)
        + usize::from(v >= 1000)
        + usize::from(v >= 10_000);
    let digits = u64::from_le_bytes([
        b'0' + (v / 10_000 % 10) as u8,
        b'0' + (v / 1000 % 10) as u8,
        b'0' + (v / 100 % 10) as u8,
        b'0' + (v / 10 % 10) as u8,
        b'0' + (v % 10) as u8,
        0,
        0,
        0,
    ]);
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
    pub(crate) const fn letter(self) -> u8 {
        match self {
            Transport::Tcp => b't',
            Transport::Quic => b'q',
            Transport::Dtls => b'd',
        }
    }
}
