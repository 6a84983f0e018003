//! JA3 and JA3S, as specified by Salesforce (github.com/salesforce/ja3): decimal values joined
//! by `-`, fields joined by `,`, GREASE values left out of every list, MD5 of the string.

use core::fmt;

use md5::{Digest, Md5};

use crate::client_hello::ClientHello;
use crate::registry::ExtensionType;
use crate::server_hello::ServerHello;

/// A JA3 or JA3S fingerprint: the full string and its MD5.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

/// Appends `v` in decimal, then `sep`. By hand: `write!` costs more than the hash of the
/// whole string, and copying a slice of variable length calls `memmove` for every value. Here
/// the digits are laid out in one 8-byte word, appended whole, and the excess cut off.
#[inline]
fn push_dec_then(s: &mut Vec<u8>, v: u16, sep: u8) {
    let n = match v {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    };
    let mut word = [0u8; 8];
    let mut x = v;
    for d in word[..n].iter_mut().rev() {
        *d = b'0' + (x % 10) as u8;
        x /= 10;
    }
    word[n] = sep;
    let len = s.len();
    s.extend_from_slice(&word);
    s.truncate(len + n + 1);
}

/// Appends `v` in decimal.
fn push_dec(s: &mut Vec<u8>, v: u16) {
    push_dec_then(s, v, b',');
    s.pop();
}

/// Appends values in decimal joined by `-`.
fn push_dec_list(s: &mut Vec<u8>, values: impl Iterator<Item = u16>) {
    let len = s.len();
    for v in values {
        push_dec_then(s, v, b'-');
    }
    // Each value was followed by a dash; the list's last one is not.
    if s.len() > len {
        s.pop();
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
    let suites = hello.cipher_suites();
    // Room for every value at its longest: no growth on the way.
    let mut s = Vec::with_capacity(32 + 6 * (suites.len() + 48));
    push_dec_then(&mut s, hello.legacy_version.to_wire(), b',');
    push_dec_list(&mut s, suites.filter(|c| !c.is_grease()).map(|c| c.0));
    s.push(b',');
    // One walk: the extension types, and the two lists JA3 reads after them.
    let (mut groups, mut formats) = (None, None);
    let start = s.len();
    for e in hello.extensions() {
        match e.ext_type {
            ExtensionType::SUPPORTED_GROUPS => groups = groups.or(Some(e.data)),
            ExtensionType::EC_POINT_FORMATS => formats = formats.or(Some(e.data)),
            t if t.is_grease() => continue,
            _ => {}
        }
        push_dec_then(&mut s, e.ext_type.0, b'-');
    }
    if s.len() > start {
        s.pop();
    }
    s.push(b',');
    if let Some(Ok(groups)) = groups.map(crate::extensions::parse_supported_groups) {
        push_dec_list(&mut s, groups.filter(|g| !g.is_grease()).map(|g| g.0));
    }
    s.push(b',');
    if let Some(Ok(formats)) = formats.map(crate::extensions::parse_ec_point_formats) {
        push_dec_list(&mut s, formats.iter().map(|&f| f as u16));
    }
    Ja3::from_bytes(s)
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
    let mut s = Vec::with_capacity(64);
    push_dec(&mut s, hello.legacy_version.to_wire());
    s.push(b',');
    push_dec(&mut s, hello.cipher_suite.0);
    s.push(b',');
    push_dec_list(
        &mut s,
        hello
            .extensions()
            .map(|e| e.ext_type)
            .filter(|t: &ExtensionType| !t.is_grease())
            .map(|t| t.0),
    );
    Ja3::from_bytes(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        for v in [0u16, 7, 10, 99, 100, 771, 4865, 65535] {
            let mut s = Vec::new();
            push_dec(&mut s, v);
            assert_eq!(s, v.to_string().as_bytes());
        }
    }
}
