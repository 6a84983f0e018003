//! JA4, as specified by FoxIO in "JA4: TLS Client Fingerprinting" (technical_details/JA4.md,
//! BSD-3-Clause).
//!
//! Two rules here follow the specification where FoxIO's own reference code differs:
//! - GREASE is ignored everywhere, signature algorithms included, so that one client build
//!   gives one JA4 whatever GREASE values it drew for a connection;
//! - a first ALPN value whose first or last byte is not ASCII alphanumeric is represented by
//!   the first and last characters of its hex form (`0xAB 0xCD` gives `ad`); the reference
//!   implementation prints `99` there.

use core::fmt;

use super::{push_hex_list, sha256_12, two_digits, Text, Transport};
use crate::client_hello::ClientHello;
use crate::registry::ExtensionType;
use crate::version::TlsVersion;

/// Length of a JA4 fingerprint: `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub const JA4_LEN: usize = 36;

/// A JA4 fingerprint, held inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ja4([u8; JA4_LEN]);

impl Ja4 {
    /// The fingerprint text.
    pub fn as_str(&self) -> &str {
        // Built only from ASCII letters, digits and '_'.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Part a: `t13d1516h2`.
    pub fn a(&self) -> &str {
        &self.as_str()[..10]
    }
}

impl fmt::Display for Ja4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ja4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ja4({})", self.as_str())
    }
}

/// A short list kept on the stack: hellos rarely carry more than 64 of anything, and a heap
/// allocation costs as much as hashing a block.
type List = smallvec::SmallVec<[u16; 64]>;

/// The lists JA4 is made of, GREASE removed, ready to be hashed or printed raw.
struct Parts {
    a: [u8; 10],
    ciphers: List,
    /// Extensions in wire order (for the `_o` forms), SNI and ALPN included.
    extensions: List,
    sig_algs: List,
}

/// The two ALPN characters of part a (JA4S uses the same rule for the selected protocol).
pub(crate) fn alpn_chars(first: Option<&[u8]>) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match first {
        None | Some([]) => *b"00",
        Some(v) => {
            let (f, l) = (v[0], v[v.len() - 1]);
            if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
                [f, l]
            } else {
                // First and last characters of the hex form of the whole value.
                [HEX[(f >> 4) as usize], HEX[(l & 0xf) as usize]]
            }
        }
    }
}

/// The order in which JA4 picks the "highest" supported version: by wire value, as the
/// specification says, except that DTLS numbers count down (0xfefc, DTLS 1.3, is newer than
/// 0xfefd, DTLS 1.2), so among DTLS versions the newest wins.
#[inline]
fn version_key(v: TlsVersion) -> (u32, u16) {
    let wire = v.to_wire();
    match v {
        TlsVersion::Dtls10 | TlsVersion::Dtls12 | TlsVersion::Dtls13 => (u32::from(!wire), wire),
        _ => (u32::from(wire) << 16, wire),
    }
}

/// One walk over the hello gathers everything JA4 needs.
///
/// The version is the numerically highest non-GREASE supported_versions value when the
/// extension exists, else `legacy_version`. TLS 1.3 drafts (0x7fNN) are higher than 0x0304
/// numerically, so a draft-offering client gets `00`, as FoxIO's published values do.
#[inline(always)]
fn parts(hello: &ClientHello<'_>, transport: Transport) -> Parts {
    let ciphers: List = hello
        .cipher_suites()
        .filter(|c| !c.is_grease())
        .map(|c| c.0)
        .collect();
    let mut extensions = List::new();
    let mut has_sni = false;
    let mut alpn_first = None;
    let mut sig_algs = List::new();
    let mut version = None;
    for e in hello.extensions() {
        if e.ext_type.is_grease() {
            continue;
        }
        extensions.push(e.ext_type.0);
        match e.ext_type {
            ExtensionType::SERVER_NAME => has_sni = true,
            ExtensionType::ALPN if alpn_first.is_none() => {
                alpn_first = Some(
                    crate::extensions::parse_alpn(e.data)
                        .ok()
                        .and_then(|mut n| n.next()),
                );
            }
            ExtensionType::SIGNATURE_ALGORITHMS if sig_algs.is_empty() => {
                if let Ok(list) = crate::extensions::parse_signature_algorithms(e.data) {
                    sig_algs.extend(list.filter(|s| !s.is_grease()).map(|s| s.0));
                }
            }
            ExtensionType::SUPPORTED_VERSIONS if version.is_none() => {
                if let Ok(list) = crate::extensions::parse_supported_versions_client(e.data) {
                    version = list.filter(|v| !v.is_grease()).map(version_key).max();
                }
            }
            _ => {}
        }
    }
    let version = version
        .map(|(_, wire)| TlsVersion::from_wire(wire))
        .unwrap_or(hello.legacy_version)
        .ja4_code()
        .as_bytes();
    let nc = two_digits(ciphers.len());
    let ne = two_digits(extensions.len());
    let alpn = alpn_chars(alpn_first.flatten());
    let a = [
        transport.letter(),
        version[0],
        version[1],
        if has_sni { b'd' } else { b'i' },
        nc[0],
        nc[1],
        ne[0],
        ne[1],
        alpn[0],
        alpn[1],
    ];
    Parts {
        a,
        ciphers,
        extensions,
        sig_algs,
    }
}

/// The string hashed for part c: extensions (sorted or not) then `_` and signature algorithms.
fn c_input(out: &mut Text, exts: &[u16], sig_algs: &[u16]) {
    push_hex_list(out, exts);
    if !sig_algs.is_empty() {
        out.push(b'_');
        push_hex_list(out, sig_algs);
    }
}

fn assemble(a: &[u8; 10], ciphers: &[u16], exts: &[u16], sig_algs: &[u16]) -> Ja4 {
    let mut out = [0u8; JA4_LEN];
    out[..10].copy_from_slice(a);
    out[10] = b'_';
    out[23] = b'_';
    let mut buf = Text::new();
    if ciphers.is_empty() {
        out[11..23].copy_from_slice(b"000000000000");
    } else {
        push_hex_list(&mut buf, ciphers);
        out[11..23].copy_from_slice(&sha256_12(&buf));
    }
    if exts.is_empty() {
        out[24..36].copy_from_slice(b"000000000000");
    } else {
        buf.clear();
        c_input(&mut buf, exts, sig_algs);
        out[24..36].copy_from_slice(&sha256_12(&buf));
    }
    Ja4(out)
}

fn sorted_without_sni_alpn(p: &Parts) -> (List, List) {
    let mut ciphers = p.ciphers.clone();
    ciphers.sort_unstable();
    let mut exts: List = p
        .extensions
        .iter()
        .copied()
        .filter(|&e| e != ExtensionType::SERVER_NAME.0 && e != ExtensionType::ALPN.0)
        .collect();
    exts.sort_unstable();
    (ciphers, exts)
}

/// JA4 of a ClientHello.
///
/// ```
/// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
/// use helloscope_tls::{ja4, Transport};
/// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
/// let fp = ja4(&hello, Transport::Tcp);
/// assert_eq!(fp.a(), "t13d3112h2");
/// assert_eq!(fp.as_str().len(), 36);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja4(hello: &ClientHello<'_>, transport: Transport) -> Ja4 {
    let mut p = parts(hello, transport);
    // Sort in place: the original order is not needed for the hashed form.
    p.ciphers.sort_unstable();
    p.extensions
        .retain(|e| *e != ExtensionType::SERVER_NAME.0 && *e != ExtensionType::ALPN.0);
    p.extensions.sort_unstable();
    assemble(&p.a, &p.ciphers, &p.extensions, &p.sig_algs)
}

/// JA4 and `ja4_r` together, for the price of one: the raw form is the text that is hashed.
///
/// ```
/// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
/// use helloscope_tls::{ja4, ja4_r, ja4_with_raw, Transport};
/// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
/// let (fp, raw) = ja4_with_raw(&hello, Transport::Tcp);
/// assert_eq!(fp, ja4(&hello, Transport::Tcp));
/// assert_eq!(raw, ja4_r(&hello, Transport::Tcp));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja4_with_raw(hello: &ClientHello<'_>, transport: Transport) -> (Ja4, String) {
    let mut p = parts(hello, transport);
    p.ciphers.sort_unstable();
    p.extensions
        .retain(|e| *e != ExtensionType::SERVER_NAME.0 && *e != ExtensionType::ALPN.0);
    p.extensions.sort_unstable();
    let mut out = [0u8; JA4_LEN];
    out[..10].copy_from_slice(&p.a);
    out[10] = b'_';
    out[23] = b'_';
    let mut raw = Text::new();
    raw.extend_from_slice(&p.a);
    raw.push(b'_');
    let b_start = raw.len();
    push_hex_list(&mut raw, &p.ciphers);
    if p.ciphers.is_empty() {
        out[11..23].copy_from_slice(b"000000000000");
    } else {
        out[11..23].copy_from_slice(&sha256_12(&raw[b_start..]));
    }
    raw.push(b'_');
    let c_start = raw.len();
    c_input(&mut raw, &p.extensions, &p.sig_algs);
    if p.extensions.is_empty() {
        out[24..36].copy_from_slice(b"000000000000");
    } else {
        out[24..36].copy_from_slice(&sha256_12(&raw[c_start..]));
    }
    (
        Ja4(out),
        String::from_utf8(raw.to_vec()).unwrap_or_default(),
    )
}

/// `ja4_o`: JA4 over the lists in wire order, SNI and ALPN kept in the extensions.
pub fn ja4_o(hello: &ClientHello<'_>, transport: Transport) -> Ja4 {
    let p = parts(hello, transport);
    assemble(&p.a, &p.ciphers, &p.extensions, &p.sig_algs)
}

fn raw(a: &[u8; 10], ciphers: &[u16], exts: &[u16], sig_algs: &[u16]) -> String {
    let mut out = Text::new();
    out.extend_from_slice(a);
    out.push(b'_');
    push_hex_list(&mut out, ciphers);
    out.push(b'_');
    c_input(&mut out, exts, sig_algs);
    String::from_utf8(out.into_vec()).unwrap_or_default()
}

/// `ja4_r`: the raw, unhashed JA4 with sorted lists.
///
/// ```
/// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
/// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
/// let r = helloscope_tls::ja4_r(&hello, helloscope_tls::Transport::Tcp);
/// assert!(r.starts_with("t13d3112h2_002f,0033,0035,"));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn ja4_r(hello: &ClientHello<'_>, transport: Transport) -> String {
    let p = parts(hello, transport);
    let (c, e) = sorted_without_sni_alpn(&p);
    raw(&p.a, &c, &e, &p.sig_algs)
}

/// `ja4_ro`: the raw JA4 in wire order, SNI and ALPN kept.
pub fn ja4_ro(hello: &ClientHello<'_>, transport: Transport) -> String {
    let p = parts(hello, transport);
    raw(&p.a, &p.ciphers, &p.extensions, &p.sig_algs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of JA4.md, "ALPN Extension Value".
    #[test]
    fn alpn_rule_of_the_specification() {
        assert_eq!(&alpn_chars(Some(b"h2")), b"h2");
        assert_eq!(&alpn_chars(Some(b"http/1.1")), b"h1");
        assert_eq!(&alpn_chars(Some(b"h")), b"hh");
        assert_eq!(&alpn_chars(Some(b"")), b"00");
        assert_eq!(&alpn_chars(None), b"00");
        assert_eq!(&alpn_chars(Some(&[0xab])), b"ab");
        assert_eq!(&alpn_chars(Some(&[0x20])), b"20");
        assert_eq!(&alpn_chars(Some(&[0xab, 0xcd])), b"ad");
        assert_eq!(&alpn_chars(Some(&[0x20, 0x61])), b"21");
        assert_eq!(&alpn_chars(Some(&[0x30, 0xab])), b"3b");
        assert_eq!(&alpn_chars(Some(&[0x61, 0x20])), b"60");
        assert_eq!(&alpn_chars(Some(&[0x30, 0x31, 0xab, 0xcd])), b"3d");
        assert_eq!(&alpn_chars(Some(&[0x30, 0xab, 0xcd, 0x31])), b"01");
    }

    /// The worked example of JA4.md: its part b and part c strings hash to the published
    /// values.
    #[test]
    fn hashes_of_the_specification_example() {
        let mut ciphers = vec![
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        ciphers.sort_unstable();
        let mut b = Text::new();
        push_hex_list(&mut b, &ciphers);
        assert_eq!(&sha256_12(&b), b"8daaf6152771");
        let exts = [
            0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
            0x0033, 0x4469, 0xff01,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let mut c = Text::new();
        c_input(&mut c, &exts, &sigs);
        assert_eq!(&sha256_12(&c), b"e5627efa2ab1");
        c.clear();
        c_input(&mut c, &exts, &[]);
        assert_eq!(&sha256_12(&c), b"6d807ffa2a79");
    }
}
