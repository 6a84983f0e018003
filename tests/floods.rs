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

use gen::Flood;

fn frames() -> Vec<(Duration, Vec<u8>)> {
    gen::frames(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/captures/openssl.pcap"
        ))
        .unwrap(),
    )
}

fn write(name: &str, real: &[(Duration, Vec<u8>)], flood: Flood, n: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-floods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = gen::PcapWriter::new(out);
    gen::flood(&mut w, real, flood, n);
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
    let real = frames();
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
