//! Parses every single-segment ClientHello and ServerHello record of the given captures N
//! times, reading every extension the way benches/hello.rs's "full parse" does: a
//! deterministic loop for `valgrind --tool=cachegrind` (instruction counts do not depend on
//! the machine's load, unlike criterion's timings). Run it with N = 0 as well to subtract the
//! cost of reading the captures.
//!
//! `cargo run --release --example hello_loop -- N FILE...`
use std::hint::black_box;

use helloscope_capture::{decode_tcp, PacketSource};
use helloscope_tls::extensions as ext;
use helloscope_tls::{parse_client_hello_record, parse_record, ExtensionType, ServerHello};

fn full_parse(bytes: &[u8]) -> usize {
    let Ok(h) = parse_client_hello_record(bytes) else {
        // A ServerHello record: its header, then the body after the handshake header.
        let Ok((rec, _)) = parse_record(bytes) else {
            return 0;
        };
        let Some(body) = rec.fragment.get(4..) else {
            return 0;
        };
        return ServerHello::parse(body).map_or(0, |s| s.extensions().count());
    };
    let mut n = h.random[31] as usize + h.session_id.len();
    n += h.cipher_suites().map(|c| c.0 as usize).sum::<usize>();
    for e in h.extensions() {
        n += match e.ext_type {
            ExtensionType::SERVER_NAME => ext::parse_server_name(e.data)
                .ok()
                .flatten()
                .map_or(0, <[u8]>::len),
            ExtensionType::SUPPORTED_GROUPS => {
                ext::parse_supported_groups(e.data).map_or(0, |g| g.map(|g| g.0 as usize).sum())
            }
            ExtensionType::SIGNATURE_ALGORITHMS => {
                ext::parse_signature_algorithms(e.data).map_or(0, |s| s.map(|s| s.0 as usize).sum())
            }
            ExtensionType::SUPPORTED_VERSIONS => ext::parse_supported_versions_client(e.data)
                .map_or(0, |v| v.map(|v| v.to_wire() as usize).sum()),
            ExtensionType::ALPN => ext::parse_alpn(e.data).map_or(0, |p| p.map(<[u8]>::len).sum()),
            ExtensionType::PSK_KEY_EXCHANGE_MODES => {
                ext::parse_psk_key_exchange_modes(e.data).map_or(0, <[u8]>::len)
            }
            _ => 0,
        };
    }
    n
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: hello_loop N FILE...");
    let mut hellos = Vec::new();
    for file in args {
        let mut src = PacketSource::open_file(&file).expect("open");
        let link = src.link_type();
        while let Some(p) = src.next_packet().unwrap() {
            let Ok(seg) = decode_tcp(link, p.data) else {
                continue;
            };
            let d = seg.payload;
            if d.len() > 9 && d[0] == 0x16 && (d[5] == 1 || d[5] == 2) {
                let need = 5 + u16::from_be_bytes([d[3], d[4]]) as usize;
                if d.len() >= need {
                    hellos.push(d[..need].to_vec());
                }
            }
        }
    }
    let mut x = 0usize;
    for _ in 0..n {
        for h in &hellos {
            x += full_parse(black_box(h));
        }
    }
    println!("{} hellos, {x}", hellos.len());
}
