//! ns per ClientHello: parse alone, parse + JA3 + JA4, and tls-parser's parse of the same
//! bytes, over real ClientHellos taken from captures/ (Chromium, curl/OpenSSL, gnutls, Java,
//! python, openssl s_client). "hashes only" is the floor under parse + JA3 + JA4: the MD5 of
//! the hello's JA3 string and the two SHA-256 of its JA4 inputs, with nothing built.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use helloscope_capture::{decode_tcp, PacketSource};
use helloscope_tls::{ja3, ja4, ja4_r, parse_client_hello_record, Transport};
use md5::{Digest, Md5};
use sha2::Sha256;

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
        g.bench_function("tls-parser parse", |b| {
            b.iter(|| {
                tls_parser::parse_tls_plaintext(black_box(&bytes))
                    .unwrap()
                    .1
                    .msg
                    .len()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
