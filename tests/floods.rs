//! Floods of connections that never send a byte (#16): SYNs never answered, SYN/SYN-ACK
//! pairs that stop there, and scans (SYN then RST). Each is held in its compact form, so
//! the run stays small with the default options, and the real TLS flows of
//! `captures/openssl.pcap` mixed into the flood are reported exactly as without it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "../benches/gen/mod.rs"]
mod gen;

/// The frames of a little-endian, microsecond pcap file, with their times.
fn frames(pcap: &[u8]) -> Vec<(Duration, Vec<u8>)> {
    assert_eq!(pcap[..4], [0xd4, 0xc3, 0xb2, 0xa1], "little-endian microsecond pcap");
    let mut out = Vec::new();
    let mut i = 24;
    let u32_at = |i: usize| u32::from_le_bytes(pcap[i..i + 4].try_into().unwrap());
    while i + 16 <= pcap.len() {
        let ts = Duration::new(u64::from(u32_at(i)), u32_at(i + 4) * 1000);
        let len = u32_at(i + 8) as usize;
        out.push((ts, pcap[i + 16..i + 16 + len].to_vec()));
        i += 16 + len;
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Flood {
    /// SYNs never answered.
    Syn,
    /// SYN, SYN-ACK, and nothing more.
    Handshake,
    /// SYN, then the scanner's RST.
    Scan,
}

const SERVER: ([u8; 4], u16) = ([192, 0, 2, 1], 443);

/// Flood connection `n`'s client: distinct for every `n` below 2^24.
fn client(n: u32) -> ([u8; 4], u16) {
    let ip = 0x0a00_0000 | (n >> 8);
    (ip.to_be_bytes(), 1024 + (n & 0xff) as u16)
}

/// Writes the real capture's frames at their own times, with `n` flood connections spread
/// between them (each at the time of the frame before it); `n` = 0 writes the real capture
/// alone, the baseline.
fn write(name: &str, real: &[(Duration, Vec<u8>)], flood: Flood, n: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-floods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = gen::PcapWriter::new(out);
    let per_frame = n.div_ceil(real.len() as u32);
    let mut next = 0;
    for (ts, frame) in real {
        w.frame(*ts, frame);
        let us = ts.as_micros() as u64;
        for _ in 0..per_frame.min(n - next) {
            let c = client(next);
            let isn = next.wrapping_mul(2_654_435_761);
            w.set_time_us(us);
            w.tcp(c, SERVER, isn, 0, 0x02, &[]);
            match flood {
                Flood::Syn => {}
                Flood::Handshake => {
                    w.set_time_us(us);
                    w.tcp(SERVER, c, !isn, isn.wrapping_add(1), 0x12, &[]);
                }
                Flood::Scan => {
                    w.set_time_us(us);
                    w.tcp(c, SERVER, isn.wrapping_add(1), 0, 0x04, &[]);
                }
            }
            next += 1;
        }
    }
    assert_eq!(next, n);
    w.w.flush().unwrap();
    path
}

struct Run {
    stderr: String,
    /// The records, without the file name they came from.
    records: Vec<serde_json::Value>,
    peak_mib: u64,
}

fn run(path: &Path) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let peak_mib = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    let records = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            r.as_object_mut().unwrap().remove("source");
            r
        })
        .collect();
    eprintln!("{}: {stderr}", path.display());
    Run {
        stderr,
        records,
        peak_mib,
    }
}

fn flood(flood: Flood, name: &str) {
    let real = frames(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/captures/openssl.pcap")).unwrap(),
    );
    let baseline = run(&write("baseline.pcap", &real, flood, 0));
    assert_eq!(baseline.records.len(), 12, "the twelve handshakes of openssl.pcap");
    let n = 200_000;
    let r = run(&write(name, &real, flood, n));
    assert_eq!(r.records, baseline.records, "the same records as without the flood");
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
