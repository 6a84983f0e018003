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

/// Appends `v` in decimal. By hand: `write!` costs more than the hash of the whole string.
#[inline]
fn push_dec(s: &mut Vec<u8>, v: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    s.extend_from_slice(&buf[i..]);
}

fn push_dec_list(s: &mut Vec<u8>, values: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in values {
        if !first {
            s.push(b'-');
        }
        first = false;
        push_dec(s, v);
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
    let mut s = Vec::with_capacity(256);
    push_dec(&mut s, hello.legacy_version.to_wire());
    s.push(b',');
    push_dec_list(
        &mut s,
        hello
            .cipher_suites()
            .filter(|c| !c.is_grease())
            .map(|c| c.0),
    );
    s.push(b',');
    push_dec_list(
        &mut s,
        hello
            .extensions()
            .filter(|e| !e.ext_type.is_grease())
            .map(|e| e.ext_type.0),
    );
    s.push(b',');
    if let Some(groups) = hello.supported_groups() {
        push_dec_list(&mut s, groups.filter(|g| !g.is_grease()).map(|g| g.0));
    }
    s.push(b',');
    if let Some(formats) = hello.ec_point_formats() {
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
