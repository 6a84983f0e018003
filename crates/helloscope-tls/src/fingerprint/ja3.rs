//! JA3 and JA3S, as specified by Salesforce (github.com/salesforce/ja3): decimal values joined
//! by `-`, fields joined by `,`, GREASE values left out of every list, MD5 of the string.

use core::fmt;

use md5::{Digest, Md5};

use crate::client_hello::ClientHello;
use crate::grease::is_grease_u16;
use crate::registry::ExtensionType;
use crate::server_hello::ServerHello;

/// A JA3 or JA3S fingerprint: the full string and its MD5.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Ja3 {
    /// The string that is hashed, e.g. `771,4865-4866,0-43,29-23,0`.
    pub string: String,
    hash: [u8; 32],
}

impl Ja3 {
    fn from_bytes(bytes: Vec<u8>) -> Self {
        let digest = Md5::digest(&bytes);
        // Only ASCII digits, '-' and ',' are ever written.
        let string = String::from_utf8(bytes).unwrap_or_default();
        let mut hash = [0u8; 32];
        super::hex_lower(&digest, &mut hash);
        Ja3 { string, hash }
    }

    /// The MD5 of the string, 32 lower-case hex digits.
    pub fn hash(&self) -> &str {
        // Only ASCII hex digits are ever written to `hash`.
        core::str::from_utf8(&self.hash).unwrap_or_default()
    }
}

impl fmt::Display for Ja3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hash())
    }
}

/// The JA3 text being written: decimal values, `-` between the values of a list, `,` between
/// fields. Written at a cursor into a buffer sized beforehand for the longest text the values
/// could give: a `Vec` checked and grown byte by byte, or a copy of variable length per value
/// (a call to `memmove`), cost more than the MD5 of the whole text.
struct Text {
    buf: Vec<u8>,
    pos: usize,
}

impl Text {
    /// Room for `values` values of up to five digits, each with its separator, and the
    /// eight-byte writes of the last one.
    fn with_room(values: usize) -> Self {
        Text {
            buf: vec![0; 6 * values + 16],
            pos: 0,
        }
    }

    /// `v` in decimal, then `sep`, as one eight-byte store (see [`super::decimal_word`]).
    #[inline(always)]
    fn value(&mut self, v: u16, sep: u8) {
        let (digits, n) = super::decimal_word(u32::from(v));
        let word = digits | (u64::from(sep) << (8 * n));
        self.buf[self.pos..self.pos + 8].copy_from_slice(&word.to_le_bytes());
        self.pos += n + 1;
    }

    /// A list of values joined by `-`, then `end` (none for the last field).
    #[inline]
    fn list(&mut self, values: impl Iterator<Item = u16>, end: Option<u8>) {
        let start = self.pos;
        for v in values {
            self.value(v, b'-');
        }
        self.end_list(start, end);
    }

    /// [`Self::list`] of the big-endian u16 values in `bytes`, GREASE left out: a plain loop
    /// over the bytes (the iterator adapters cost a third of JA3's text).
    #[inline]
    fn u16_list(&mut self, bytes: &[u8], end: Option<u8>) {
        let start = self.pos;
        for c in bytes.chunks_exact(2) {
            let v = u16::from_be_bytes([c[0], c[1]]);
            if !is_grease_u16(v) {
                self.value(v, b'-');
            }
        }
        self.end_list(start, end);
    }

    fn end_list(&mut self, start: usize, end: Option<u8>) {
        // Each value was followed by a dash; the list's last one is not.
        if self.pos > start {
            self.pos -= 1;
        }
        if let Some(end) = end {
            self.buf[self.pos] = end;
            self.pos += 1;
        }
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.buf.truncate(self.pos);
        self.buf
    }
}

/// JA3 of a ClientHello:
/// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`.
///
/// `SSLVersion` is the hello's `legacy_version`; extensions are in wire order.
///
/// ```
/// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
/// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
/// let ja3 = helloscope_tls::ja3(&hello);
/// assert!(ja3.string.starts_with("771,4866-4867-4865-"));
/// assert_eq!(ja3.hash().len(), 32);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja3(hello: &ClientHello<'_>) -> Ja3 {
    let suites = hello.cipher_suites().as_bytes();
    // One walk for the room needed and the two lists JA3 reads after the extension types.
    let (mut groups, mut formats, mut n_ext) = (None, None, 0);
    for e in hello.extensions() {
        n_ext += 1;
        match e.ext_type {
            ExtensionType::SUPPORTED_GROUPS => groups = groups.or(Some(e.data)),
            ExtensionType::EC_POINT_FORMATS => formats = formats.or(Some(e.data)),
            _ => {}
        }
    }
    let groups = groups
        .and_then(|d| crate::extensions::parse_supported_groups(d).ok())
        .map_or(&[][..], |g| g.as_bytes());
    let formats = formats
        .and_then(|d| crate::extensions::parse_ec_point_formats(d).ok())
        .unwrap_or_default();
    let room = 1 + suites.len() / 2 + n_ext + groups.len() / 2 + formats.len();
    let mut s = Text::with_room(room);
    s.value(hello.legacy_version.to_wire(), b',');
    s.u16_list(suites, Some(b','));
    s.list(
        hello
            .extensions()
            .map(|e| e.ext_type.0)
            .filter(|&t| !is_grease_u16(t)),
        Some(b','),
    );
    s.u16_list(groups, Some(b','));
    s.list(formats.iter().map(|&f| u16::from(f)), None);
    Ja3::from_bytes(s.into_bytes())
}

/// JA3S of a ServerHello: `SSLVersion,Cipher,Extensions`.
///
/// ```
/// use helloscope_tls::{ServerHello, ja3s};
/// let mut body = vec![0x03, 0x03];
/// body.extend([7u8; 32]);
/// body.extend([0, 0xc0, 0x2f, 0]);
/// body.extend([0, 4, 0xff, 0x01, 0, 0]);
/// let j = ja3s(&ServerHello::parse(&body)?);
/// assert_eq!(j.string, "771,49199,65281");
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja3s(hello: &ServerHello<'_>) -> Ja3 {
    let mut s = Text::with_room(2 + hello.extensions().count());
    s.value(hello.legacy_version.to_wire(), b',');
    s.value(hello.cipher_suite.0, b',');
    s.list(
        hello
            .extensions()
            .map(|e| e.ext_type)
            .filter(|t: &ExtensionType| !t.is_grease())
            .map(|t| t.0),
        None,
    );
    Ja3::from_bytes(s.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        for v in [
            0u16, 7, 9, 10, 99, 100, 771, 999, 1000, 4865, 9999, 10_000, 65535,
        ] {
            let mut s = Text::with_room(2);
            s.value(v, b',');
            s.list([v, 1].into_iter(), None);
            assert_eq!(s.into_bytes(), format!("{v},{v}-1").as_bytes());
        }
    }
}
