//! Floods of connections that never send a byte (#16): SYNs never answered, SYN/SYN-ACK
//! pairs that stop there, and scans (SYN then RST). Each is held in its compact form, so
//! the run stays small with the default options, and the real TLS flows of
//! `captures/openssl.pcap` mixed into the flood are reported exactly as without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;
#[path = "../benches/gen/mod.rs"]
mod gen;

use gen::Flood;

fn write(name: &str, real: &[(Duration, Vec<u8>)], flood: Flood, n: u32) -> PathBuf {
    gen::flood_file("floods", name, real, flood, n)
}

fn run(path: &Path) -> common::Run {
    common::analyze(path, &[])
}

fn flood(flood: Flood, name: &str) {
    let real = gen::openssl_frames();
    let baseline = run(&write("baseline.pcap", &real, flood, 0));
    assert_eq!(
        baseline.records.len(),
        12,
        "the twelve handshakes of openssl.pcap"
    );
    let n = 200_000;
    let r = run(&write(name, &real, flood, n));
    assert_eq!(
        r.records, baseline.records,
        "the same records as without the flood"
    );
    assert!(
        r.stderr.contains("200000 connections without data"),
        "each flood connection counted once: {}",
        r.stderr
    );
    // A full flow per connection took about 500 bytes: 100 MiB for these.
    assert!(r.peak_mib < 48, "peak {} MiB: {}", r.peak_mib, r.stderr);
}

#[test]
fn unanswered_syns() {
    flood(Flood::Syn, "syns.pcap");
}

#[test]
fn handshakes_without_data() {
    flood(Flood::Handshake, "handshakes.pcap");
}

#[test]
fn scans() {
    flood(Flood::Scan, "scans.pcap");
}

/// A real ClientHello record (curl 7.88.1).
fn client_hello_record() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"
    ))
    .unwrap()
}

/// Connections whose first segments leave the compact form other than by a data segment of
/// the usual kind: TCP Fast Open (the hello in the SYN), a SYN repeated with another ISN (the
/// reassembler then takes the ISN the data agrees with), and a hello after a FIN-less pure
/// ACK handshake. Each is read from its hello's first byte, as it was with full flows.
#[test]
fn hellos_after_the_compact_form() {
    const SERVER: ([u8; 4], u16) = ([192, 0, 2, 1], 443);
    let dir = std::env::temp_dir().join(format!("helloscope-floods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("compact.pcap");
    let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = gen::PcapWriter::new(out);
    let hello = client_hello_record();
    let (c1, c2, c3) = (
        ([10, 9, 0, 1], 40001),
        ([10, 9, 0, 2], 40002),
        ([10, 9, 0, 3], 40003),
    );
    // Fast Open: the hello rides on the SYN.
    w.tcp(c1, SERVER, 1000, 0, 0x02, &hello);
    w.tcp(SERVER, c1, 7000, 1001 + hello.len() as u32, 0x12, &[]);
    // A SYN, then another with a new ISN, then the handshake and the hello after the second.
    w.tcp(c2, SERVER, 100, 0, 0x02, &[]);
    w.tcp(c2, SERVER, 5000, 0, 0x02, &[]);
    w.tcp(SERVER, c2, 9000, 5001, 0x12, &[]);
    w.tcp(c2, SERVER, 5001, 9001, 0x10, &[]);
    w.tcp(c2, SERVER, 5001, 9001, 0x18, &hello);
    // The server's SYN-ACK seen first (the SYN missed), then the hello.
    w.tcp(SERVER, c3, 3000, 801, 0x12, &[]);
    w.tcp(c3, SERVER, 801, 3001, 0x10, &[]);
    w.tcp(c3, SERVER, 801, 3001, 0x18, &hello);
    w.w.flush().unwrap();
    drop(w);
    let r = run(&path);
    assert_eq!(r.records.len(), 3, "{}", r.stderr);
    for rec in &r.records {
        assert!(
            !rec["versions_offered"].as_array().unwrap().is_empty(),
            "{rec}"
        );
        let flags = rec["flags"].as_array().unwrap();
        assert!(
            !flags.iter().any(|f| f == "midstream" || f == "gap"),
            "{rec}"
        );
    }
}
