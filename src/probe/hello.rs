//! The ClientHellos the probe sends: one per protocol version, each offering exactly that
//! version (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2, RFC 6101 §5.6.1.2).
//!
//! Each hello is what a plain client of that version would send, with a broad cipher list, so
//! that a server refusing it refuses the version and not a cipher or a missing extension.

use helloscope_tls::TlsVersion;

/// TLS_FALLBACK_SCSV (RFC 7507).
pub const TLS_FALLBACK_SCSV: u16 = 0x5600;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3): SSL 3.0 has no extensions to carry it.
const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;

/// The versions probed, oldest first.
pub const PROBED: [TlsVersion; 5] = [
    TlsVersion::Ssl3,
    TlsVersion::Tls10,
    TlsVersion::Tls11,
    TlsVersion::Tls12,
    TlsVersion::Tls13,
];

/// CBC, RC4 and 3DES suites that SSL 3.0 to TLS 1.1 servers choose from (RFC 4492, 5246,
/// 2246): ECDHE first, then DHE, then plain RSA.
const LEGACY_SUITES: &[u16] = &[
    0xc00a, 0xc014, 0xc009, 0xc013, // ECDHE-{ECDSA,RSA}-AES{256,128}-SHA
    0x0039, 0x0033, // DHE-RSA-AES{256,128}-SHA
    0x0035, 0x002f, // RSA-AES{256,128}-SHA
    0xc008, 0xc012, 0x0016, 0x000a, // 3DES
    0xc007, 0xc011, 0x0005, 0x0004, // RC4
    0x0088, 0x0045, 0x0084, 0x0041, // Camellia
];

/// TLS 1.2's AEAD and SHA-2 suites (RFC 5288, 5289, 7905), before the legacy ones.
const TLS12_SUITES: &[u16] = &[
    0xc02c, 0xc030, 0xc02b, 0xc02f, // ECDHE-{ECDSA,RSA}-AES-GCM
    0xcca9, 0xcca8, 0xccaa, // CHACHA20-POLY1305
    0x009f, 0x009e, // DHE-RSA-AES-GCM
    0xc024, 0xc028, 0xc023, 0xc027, // ECDHE SHA-2 CBC
    0x006b, 0x0067, // DHE-RSA SHA-2 CBC
    0x009d, 0x009c, 0x003d, 0x003c, // RSA GCM and SHA-2 CBC
];

/// TLS 1.3's suites (RFC 8446 §B.4).
const TLS13_SUITES: &[u16] = &[0x1301, 0x1302, 0x1303];

/// x25519, secp256r1, secp384r1, secp521r1, x448, ffdhe2048, ffdhe3072.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100, 0x0101];

/// ECDSA, RSA-PSS, EdDSA, RSA PKCS#1 and (TLS 1.2) SHA-1 schemes.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0401,
    0x0501, 0x0601, 0x0203, 0x0201,
];

/// The x25519 group, whose key share the TLS 1.3 hello carries.
const X25519: u16 = 0x001d;

/// What one hello asks for.
#[derive(Clone, Copy, Debug)]
pub struct HelloSpec<'a> {
    /// The one version offered.
    pub version: TlsVersion,
    /// The server_name to send, if any.
    pub sni: Option<&'a str>,
    /// Add TLS_FALLBACK_SCSV: "this is a retry at a lower version than I support".
    pub fallback_scsv: bool,
}

/// A ClientHello as one handshake record. `random` fills the hello's random, its session id
/// (TLS 1.3 middlebox compatibility, RFC 8446 §D.4) and the X25519 key share: a probe does no
/// key exchange, and any 32 bytes are a valid X25519 public key (RFC 7748 §5).
pub fn client_hello_record(spec: &HelloSpec<'_>, random: &[u8; 96]) -> Vec<u8> {
    let body = client_hello(spec, random);
    let mut hs = Vec::with_capacity(body.len() + 4);
    hs.push(1); // client_hello
    put_u24(&mut hs, body.len());
    hs.extend_from_slice(&body);
    let mut rec = Vec::with_capacity(hs.len() + 5);
    rec.push(22); // handshake
                  // legacy_record_version: 0x0301 as every TLS client sends in its first record; an SSL 3.0
                  // hello says 0x0300, which an SSL 3.0-only server may insist on.
    let record_version = if spec.version == TlsVersion::Ssl3 {
        0x0300
    } else {
        0x0301
    };
    rec.extend_from_slice(&u16::to_be_bytes(record_version));
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn client_hello(spec: &HelloSpec<'_>, random: &[u8; 96]) -> Vec<u8> {
    let v = spec.version;
    let mut b = Vec::with_capacity(512);
    // legacy_version: TLS 1.3 is offered in supported_versions only (RFC 8446 §4.1.2).
    let legacy = if v == TlsVersion::Tls13 {
        TlsVersion::Tls12
    } else {
        v
    };
    b.extend_from_slice(&legacy.to_wire().to_be_bytes());
    b.extend_from_slice(&random[..32]);
    if v == TlsVersion::Tls13 {
        b.push(32);
        b.extend_from_slice(&random[32..64]);
    } else {
        b.push(0);
    }
    let mut suites: Vec<u16> = match v {
        TlsVersion::Tls13 => TLS13_SUITES.to_vec(),
        TlsVersion::Tls12 => [TLS12_SUITES, LEGACY_SUITES].concat(),
        _ => LEGACY_SUITES.to_vec(),
    };
    if v == TlsVersion::Ssl3 {
        suites.push(EMPTY_RENEGOTIATION_INFO_SCSV);
    }
    if spec.fallback_scsv {
        suites.push(TLS_FALLBACK_SCSV);
    }
    put_u16(&mut b, suites.len() * 2);
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression_methods: null
    if v == TlsVersion::Ssl3 {
        // SSL 3.0 defines no extensions; some SSL 3.0 stacks reject a hello that has them.
        return b;
    }
    let exts = extensions(spec, &random[64..96]);
    put_u16(&mut b, exts.len());
    b.extend_from_slice(&exts);
    b
}

fn extensions(spec: &HelloSpec<'_>, key_share: &[u8]) -> Vec<u8> {
    let v = spec.version;
    let mut e = Vec::with_capacity(256);
    if let Some(name) = spec.sni {
        // server_name (RFC 6066 §3): one host_name entry.
        let mut d = Vec::new();
        put_u16(&mut d, name.len() + 3);
        d.push(0);
        put_u16(&mut d, name.len());
        d.extend_from_slice(name.as_bytes());
        ext(&mut e, 0x0000, &d);
    }
    ext(&mut e, 0x000a, &u16_list(GROUPS)); // supported_groups
    if v != TlsVersion::Tls13 {
        ext(&mut e, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
        ext(&mut e, 0xff01, &[0]); // renegotiation_info, empty (RFC 5746)
    }
    if v >= TlsVersion::Tls12 {
        ext(&mut e, 0x000d, &u16_list(SIGNATURE_ALGORITHMS));
    }
    if v == TlsVersion::Tls13 {
        // supported_versions (RFC 8446 §4.2.1): TLS 1.3 alone.
        ext(&mut e, 0x002b, &[2, 0x03, 0x04]);
        // psk_key_exchange_modes: psk_dhe_ke; some servers require it beside key_share.
        ext(&mut e, 0x002d, &[1, 1]);
        // key_share (RFC 8446 §4.2.8): one x25519 share.
        let mut d = Vec::new();
        put_u16(&mut d, 4 + key_share.len());
        d.extend_from_slice(&X25519.to_be_bytes());
        put_u16(&mut d, key_share.len());
        d.extend_from_slice(key_share);
        ext(&mut e, 0x0033, &d);
    }
    e
}

fn ext(out: &mut Vec<u8>, t: u16, data: &[u8]) {
    out.extend_from_slice(&t.to_be_bytes());
    put_u16(out, data.len());
    out.extend_from_slice(data);
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut d = Vec::with_capacity(2 + 2 * items.len());
    put_u16(&mut d, 2 * items.len());
    for i in items {
        d.extend_from_slice(&i.to_be_bytes());
    }
    d
}

fn put_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u16).to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use helloscope_tls::parse_client_hello_record;

    #[test]
    fn each_hello_parses_back_to_exactly_its_version() {
        for v in PROBED {
            for scsv in [false, true] {
                let spec = HelloSpec {
                    version: v,
                    sni: Some("api.example.com"),
                    fallback_scsv: scsv,
                };
                let rec = client_hello_record(&spec, &[7; 96]);
                let ch = parse_client_hello_record(&rec).unwrap();
                assert_eq!(ch.offered_versions(), [v], "{v}");
                assert_eq!(ch.highest_version(), v);
                assert_eq!(ch.has_fallback_scsv(), scsv);
                if v == TlsVersion::Ssl3 {
                    assert_eq!(ch.server_name_str(), None);
                } else {
                    assert_eq!(ch.server_name_str(), Some("api.example.com"));
                }
            }
        }
    }
}
