//! JA4S, as specified by FoxIO (JA4+ technical details). JA4S is licensed under the FoxIO
//! License 1.1 — free for non-commercial use, patent pending — which is why this module is
//! only built with the `ja4s` cargo feature.
//!
//! `JA4S = (t|q|d)(version)(extension count)(ALPN first+last)_(cipher hex)_(sha256 of the
//! extensions in wire order, truncated to 12)`.

use core::fmt;

use super::{push_hex4, push_hex_list, sha256_12, two_digits, Text, Transport};
use crate::server_hello::ServerHello;

/// A JA4S fingerprint, e.g. `t130200_1301_234ea6891581`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ja4s([u8; 25]);

impl Ja4s {
    /// The fingerprint text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Ja4s {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ja4s {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ja4s({})", self.as_str())
    }
}

fn a_and_exts(hello: &ServerHello<'_>, transport: Transport) -> ([u8; 7], Vec<u16>) {
    let exts: Vec<u16> = hello
        .extensions()
        .filter(|e| !e.ext_type.is_grease())
        .map(|e| e.ext_type.0)
        .collect();
    let version = hello.selected_version().ja4_code().as_bytes();
    let n = two_digits(exts.len());
    let alpn = super::ja4::alpn_chars(hello.alpn());
    (
        [
            transport.letter(),
            version[0],
            version[1],
            n[0],
            n[1],
            alpn[0],
            alpn[1],
        ],
        exts,
    )
}

/// JA4S of a ServerHello (or HelloRetryRequest).
///
/// ```
/// use helloscope_tls::{ServerHello, ja4s, Transport};
/// let mut body = vec![0x03, 0x03];
/// body.extend([7u8; 32]);
/// body.extend([0, 0x13, 0x01, 0]);
/// body.extend([0, 6, 0x00, 0x2b, 0, 2, 0x03, 0x04]);
/// let fp = ja4s(&ServerHello::parse(&body)?, Transport::Tcp);
/// assert!(fp.as_str().starts_with("t130100_1301_"));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja4s(hello: &ServerHello<'_>, transport: Transport) -> Ja4s {
    let (a, exts) = a_and_exts(hello, transport);
    let mut out = [0u8; 25];
    out[..7].copy_from_slice(&a);
    out[7] = b'_';
    let mut c = Text::new();
    push_hex4(&mut c, hello.cipher_suite.0);
    out[8..12].copy_from_slice(&c);
    out[12] = b'_';
    if exts.is_empty() {
        out[13..].copy_from_slice(b"000000000000");
    } else {
        let mut buf = Text::new();
        push_hex_list(&mut buf, &exts);
        out[13..].copy_from_slice(&sha256_12(&buf));
    }
    Ja4s(out)
}

/// `ja4s_r`: the raw JA4S, extensions listed instead of hashed.
pub fn ja4s_r(hello: &ServerHello<'_>, transport: Transport) -> String {
    let (a, exts) = a_and_exts(hello, transport);
    let mut out = Text::new();
    out.extend_from_slice(&a);
    out.push(b'_');
    push_hex4(&mut out, hello.cipher_suite.0);
    out.push(b'_');
    push_hex_list(&mut out, &exts);
    String::from_utf8(out.into_vec()).unwrap_or_default()
}
