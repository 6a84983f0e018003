//! Differential test against tls-parser: every ClientHello that tls-parser accepts, in the
//! project's captures and the shared corpus, this crate accepts with the same version, cipher
//! suites and extension list. Both parsers get the very same bytes (the client's first record).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use helloscope_capture::{decode_tcp, PacketSource};
use tls_parser::{
    parse_tls_extensions, parse_tls_plaintext, TlsExtensionType, TlsMessage, TlsMessageHandshake,
};

fn pcaps(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            pcaps(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

/// First records of client flows that start like a ClientHello.
fn first_records(file: &Path) -> Vec<Vec<u8>> {
    let Ok(mut src) = PacketSource::open_file(file.to_str().unwrap()) else {
        return vec![];
    };
    let link = src.link_type();
    let mut flows: HashMap<(std::net::IpAddr, u16, std::net::IpAddr, u16), Vec<u8>> =
        HashMap::new();
    let mut done = Vec::new();
    while let Ok(Some(p)) = src.next_packet() {
        let Ok(seg) = decode_tcp(link, p.data) else {
            continue;
        };
        if seg.payload.is_empty() {
            continue;
        }
        let key = (seg.src, seg.src_port, seg.dst, seg.dst_port);
        let buf = flows.entry(key).or_default();
        if buf.is_empty() && !matches!(seg.payload, [0x16, 3, _, _, _, 1, ..]) {
            buf.push(0); // not a hello: never collect this flow
            continue;
        }
        if buf.first() == Some(&0) || buf.len() > 70_000 {
            continue;
        }
        buf.extend_from_slice(seg.payload);
        let need = 5 + u16::from_be_bytes([buf[3], buf[4]]) as usize;
        if buf.len() >= need {
            done.push(buf[..need].to_vec());
            buf.clear();
            buf.push(0);
        }
    }
    done
}

#[test]
fn same_answers_as_tls_parser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    pcaps(&root.join("captures"), &mut files);
    let corpus = std::env::var_os("HELLOSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"));
    if corpus.is_dir() {
        pcaps(&corpus, &mut files);
    } else {
        eprintln!(
            "differential: {} not found; captures/ only",
            corpus.display()
        );
    }
    let (mut compared, mut rejected_by_tls_parser, mut lenient) = (0, 0, 0);
    for f in &files {
        for rec in first_records(f) {
            let Ok((_, plain)) = parse_tls_plaintext(&rec) else {
                rejected_by_tls_parser += 1;
                continue;
            };
            let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(theirs))) =
                plain.msg.first()
            else {
                continue;
            };
            let ours = helloscope_tls::parse_client_hello_record(&rec).unwrap_or_else(|e| {
                panic!("{}: tls-parser accepts a hello we refuse: {e}", f.display())
            });
            assert_eq!(
                ours.legacy_version.to_wire(),
                theirs.version.0,
                "{}",
                f.display()
            );
            let our_suites: Vec<u16> = ours.cipher_suites().map(|c| c.0).collect();
            let their_suites: Vec<u16> = theirs.ciphers.iter().map(|c| c.0).collect();
            assert_eq!(our_suites, their_suites, "{}", f.display());
            // A malformed extensions block is read leniently here (the well-formed prefix) and
            // by each parser its own way: compare the lists only when it is well formed.
            if ours.extensions_malformed() {
                lenient += 1;
            } else if let Some(ext) = theirs.ext {
                if let Ok((_, exts)) = parse_tls_extensions(ext) {
                    let their_types: Vec<u16> =
                        exts.iter().map(|e| TlsExtensionType::from(e).0).collect();
                    // tls-parser reports every GREASE extension as 0xfafa, whatever its value.
                    let our_types: Vec<u16> = ours
                        .extensions()
                        .map(|e| {
                            if e.ext_type.is_grease() {
                                0xfafa
                            } else {
                                e.ext_type.0
                            }
                        })
                        .collect();
                    assert_eq!(our_types, their_types, "{}", f.display());
                }
            }
            compared += 1;
        }
    }
    eprintln!(
        "differential: {compared} hellos compared ({lenient} with a malformed extension block), \
         {rejected_by_tls_parser} rejected by tls-parser, {} files",
        files.len()
    );
    assert!(compared >= 25, "only {compared} hellos compared");
}
