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
