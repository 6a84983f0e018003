//! ns per ClientHello over real ClientHellos taken from captures/ (Chromium, curl/OpenSSL,
//! gnutls, Java, python, openssl s_client):
//!
//! - "full parse" and "tls-parser full parse" read the same fields to the same typed forms:
//!   record header, handshake header, legacy_version, random, session id, every cipher suite,
//!   the compression methods, and every extension, each parsed the way tls-parser's
//!   `parse_tls_client_hello_extensions` parses it: server_name to its host names,
//!   supported_groups, signature_algorithms, supported_versions and psk_key_exchange_modes to
//!   their lists, ALPN to its protocol names; ec_point_formats, key_share, pre_shared_key,
//!   padding, renegotiation_info and unknown extensions to their bytes. Both visit every
//!   item (tls-parser builds vectors of them, helloscope walks borrowed lists), and the setup
//!   checks that both read the same values;
//! - "parse" is the framing check the pipeline pays per hello (record, handshake and hello
//!   framing; extensions read later only when asked for), "parse+ja3+ja4" the pipeline's work
//!   per distinct hello;
//! - "hashes only" is the floor under parse + JA3 + JA4: the MD5 of the hello's JA3 string and
//!   the two SHA-256 of its JA4 inputs, with nothing built.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use helloscope_capture::{decode_tcp, PacketSource};
use helloscope_tls::extensions as ext;
use helloscope_tls::{
    ja3, ja4, ja4_r, parse_client_hello_record, ClientHello, ExtensionType, Transport,
};
use md5::{Digest, Md5};
use sha2::Sha256;
use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

/// The first client flight (the ClientHello record) of the connection from `client_port`.
fn first_flight(file: &Path, client_port: u16) -> Vec<u8> {
    let mut src = PacketSource::open_file(file.to_str().unwrap()).unwrap();
    let link = src.link_type();
    let mut bytes = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        let Ok(seg) = decode_tcp(link, p.data) else {
            continue;
        };
        if seg.src_port != client_port || seg.payload.is_empty() {
            continue;
        }
        bytes.extend_from_slice(seg.payload);
        let need = 5 + u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        if bytes.len() >= need {
            bytes.truncate(need);
            return bytes;
        }
    }
    panic!(
        "no ClientHello from port {client_port} in {}",
        file.display()
    );
}

/// One real hello per client program, found through captures/expected.jsonl.
pub fn hellos() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let text = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    let mut seen: HashMap<String, Vec<u8>> = HashMap::new();
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let client = e["client"].as_str().unwrap().to_owned();
        // The richest hello of each program: the one offering the most versions.
        if seen.contains_key(&client) && e["versions_offered"].as_array().unwrap().len() < 2 {
            continue;
        }
        let file = dir.join(e["file"].as_str().unwrap());
        let hello = first_flight(&file, e["client_port"].as_u64().unwrap() as u16);
        seen.insert(client, hello);
    }
    let mut v: Vec<_> = seen.into_iter().collect();
    v.sort();
    v
}

/// What a full parse saw, folded so that nothing is optimised away and so that the two
/// parsers can be checked to have read the same things: the header fields, the sum of the
/// cipher suites, the number of extensions, and the sum of the typed lists' items.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    header: usize,
    ciphers: usize,
    extensions: usize,
    typed: usize,
}

/// Every field of a ClientHello record read to its typed form (see the module doc). `None`
/// if anything is malformed.
fn full_parse(bytes: &[u8]) -> Option<Seen> {
    let h: ClientHello<'_> = parse_client_hello_record(bytes).ok()?;
    let header = h.legacy_version.to_wire() as usize
        + h.random[31] as usize
        + h.session_id.len()
        + h.compression_methods.len();
    let ciphers = h.cipher_suites().map(|c| c.0 as usize).sum();
    let (mut extensions, mut typed) = (0, 0);
    for e in h.extensions() {
        extensions += 1;
        typed += match e.ext_type {
            ExtensionType::SERVER_NAME => {
                ext::parse_server_name(e.data).ok()?.map_or(0, <[u8]>::len)
            }
            ExtensionType::SUPPORTED_GROUPS => ext::parse_supported_groups(e.data)
                .ok()?
                .map(|g| g.0 as usize)
                .sum(),
            ExtensionType::SIGNATURE_ALGORITHMS => ext::parse_signature_algorithms(e.data)
                .ok()?
                .map(|s| s.0 as usize)
                .sum(),
            ExtensionType::SUPPORTED_VERSIONS => ext::parse_supported_versions_client(e.data)
                .ok()?
                .map(|v| v.to_wire() as usize)
                .sum(),
            ExtensionType::ALPN => ext::parse_alpn(e.data).ok()?.map(<[u8]>::len).sum(),
            ExtensionType::PSK_KEY_EXCHANGE_MODES => {
                ext::parse_psk_key_exchange_modes(e.data).ok()?.len()
            }
            _ => 0,
        };
    }
    Some(Seen {
        header,
        ciphers,
        extensions,
        typed,
    })
}

/// tls-parser's full parse of the same record: the record and the ClientHello, then its
/// extensions with `parse_tls_client_hello_extensions`, every item visited.
fn tls_parser_full_parse(bytes: &[u8]) -> Option<Seen> {
    let (_, rec) = tls_parser::parse_tls_plaintext(bytes).ok()?;
    let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))) = rec.msg.first() else {
        return None;
    };
    let header = ch.version.0 as usize
        + ch.random[31] as usize
        + ch.session_id.map_or(0, <[u8]>::len)
        + ch.comp.len();
    let ciphers = ch.ciphers.iter().map(|c| c.0 as usize).sum();
    let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext?).ok()?;
    let mut typed = 0;
    for e in &exts {
        typed += match e {
            TlsExtension::SNI(names) => names.iter().map(|(_, h)| h.len()).sum(),
            TlsExtension::EllipticCurves(g) => g.iter().map(|g| g.0 as usize).sum(),
            TlsExtension::SignatureAlgorithms(s) => s.iter().map(|&s| s as usize).sum(),
            TlsExtension::SupportedVersions(v) => v.iter().map(|v| v.0 as usize).sum(),
            TlsExtension::ALPN(p) => p.iter().map(|p| p.len()).sum(),
            TlsExtension::PskExchangeModes(m) => m.len(),
            _ => 0,
        };
    }
    Some(Seen {
        header,
        ciphers,
        extensions: exts.len(),
        typed,
    })
}

fn bench(c: &mut Criterion) {
    for (client, bytes) in hellos() {
        let mut g = c.benchmark_group(format!("hello/{client}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("parse", |b| {
            b.iter(|| {
                parse_client_hello_record(black_box(&bytes))
                    .unwrap()
                    .cipher_suites()
                    .len()
            })
        });
        g.bench_function("parse+ja3+ja4", |b| {
            b.iter(|| {
                let h = parse_client_hello_record(black_box(&bytes)).unwrap();
                (ja3(&h), ja4(&h, Transport::Tcp))
            })
        });
        let h = parse_client_hello_record(&bytes).unwrap();
        g.bench_function("ja3 only", |b| b.iter(|| ja3(black_box(&h))));
        g.bench_function("ja4 only", |b| {
            b.iter(|| ja4(black_box(&h), Transport::Tcp))
        });
        // The texts JA3 and JA4 hash, taken from their own outputs: JA3's string, and ja4_r's
        // parts b and c (the sorted ciphers; the extensions with the signature algorithms).
        let ja3_text = ja3(&h).string.into_bytes();
        let raw = ja4_r(&h, Transport::Tcp);
        let (_, bc) = raw.split_once('_').unwrap();
        let (b_text, c_text) = bc.split_once('_').unwrap();
        g.bench_function("hashes only", |b| {
            b.iter(|| {
                (
                    Md5::digest(black_box(&ja3_text)),
                    Sha256::digest(black_box(b_text.as_bytes())),
                    Sha256::digest(black_box(c_text.as_bytes())),
                )
            })
        });
        assert!(
            full_parse(&bytes).is_some(),
            "{client}: helloscope's full parse"
        );
        assert!(
            tls_parser_full_parse(&bytes).is_some(),
            "{client}: tls-parser's full parse"
        );
        g.bench_function("full parse", |b| {
            b.iter(|| full_parse(black_box(&bytes)).unwrap())
        });
        g.bench_function("tls-parser full parse", |b| {
            b.iter(|| tls_parser_full_parse(black_box(&bytes)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
