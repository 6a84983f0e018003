//! Damaged capture files: each gives the flows that were complete before the damage, one
//! clear message saying what was wrong and where, and exit status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name),
    )
    .unwrap()
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn analyze(p: &Path) -> (Output, Vec<Value>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl", p.to_str().unwrap()])
        .output()
        .unwrap();
    let recs = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, recs, err)
}

/// Offsets of the packet records of a little-endian classic pcap file.
fn records(pcap: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        out.push(i);
        i += 16 + u32::from_le_bytes(pcap[i + 8..i + 12].try_into().unwrap()) as usize;
    }
    out
}

#[test]
fn truncated_in_the_middle_of_a_packet() {
    let full = capture("openssl.pcap");
    let recs = records(&full);
    // Cut inside the record two thirds of the way through the file.
    let at = recs[recs.len() * 2 / 3] + 30;
    let p = tmp("truncated.pcap", &full[..at]);
    let (o, flows, err) = analyze(&p);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("truncated") && err.contains(&format!("offset {}", recs[recs.len() * 2 / 3])),
        "{err}"
    );
    assert!(
        err.contains(&format!("after packet {}", recs.len() * 2 / 3)),
        "{err}"
    );
    // Flows decided before the damage are all there, with their real outcomes.
    let (_, all, _) = analyze(&tmp("whole.pcap", &full));
    assert!(flows.len() >= 6, "{} flows before the damage", flows.len());
    let established_before = flows
        .iter()
        .filter(|f| f["outcome"] == "established")
        .count();
    assert!(established_before >= 5);
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("source");
        v
    };
    let all: Vec<Value> = all.into_iter().map(strip).collect();
    for f in flows.into_iter().filter(|f| f["end"] == "decided") {
        let f = strip(f);
        assert!(all.contains(&f), "{f} is reported as in the whole file");
    }
}

#[test]
fn corrupt_record_header() {
    let mut bytes = capture("openssl.pcap");
    let recs = records(&bytes);
    let bad = recs[40];
    bytes[bad + 8..bad + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let (o, flows, err) = analyze(&tmp("corrupt.pcap", &bytes));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains(&format!("corrupt packet record at byte offset {bad}")),
        "{err}"
    );
    assert!(err.contains("after packet 40"), "{err}");
    assert!(!flows.is_empty());
}

#[test]
fn caplen_larger_than_snaplen_is_read() {
    // The global header claims a 64-byte snap length; the records are longer. Like libpcap,
    // the records' own lengths are believed.
    let mut bytes = capture("openssl.pcap");
    bytes[16..20].copy_from_slice(&64u32.to_le_bytes());
    let (o, flows, err) = analyze(&tmp("snaplen.pcap", &bytes));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(flows.len(), 12);
}

#[test]
fn packets_cut_by_a_small_snaplen_inside_the_client_hello() {
    // Rewrite every record as if captured with -s 120: headers survive, hellos do not.
    let full = capture("openssl.pcap");
    let mut out = full[..24].to_vec();
    out[16..20].copy_from_slice(&120u32.to_le_bytes());
    for r in records(&full) {
        let caplen = u32::from_le_bytes(full[r + 8..r + 12].try_into().unwrap()) as usize;
        let keep = caplen.min(120);
        out.extend_from_slice(&full[r..r + 8]);
        out.extend_from_slice(&(keep as u32).to_le_bytes());
        out.extend_from_slice(&full[r + 12..r + 16]);
        out.extend_from_slice(&full[r + 16..r + 16 + keep]);
    }
    let (o, flows, err) = analyze(&tmp("cut.pcap", &out));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(flows.len(), 12, "every TLS flow is still found");
    for f in &flows {
        // A refusal is a 7-byte alert record, which fits in 120 bytes and is still seen.
        match f["outcome"].as_str().unwrap() {
            "incomplete" => {}
            "alert" => assert_eq!(f["alert"]["description"], "protocol_version"),
            o => panic!("outcome {o} for {f}"),
        }
        assert!(
            f["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "snaplen_cut"),
            "{f}"
        );
        assert!(f["ja4"].is_null(), "no fingerprint from a partial hello");
    }
}

#[test]
fn pcapng_with_an_unknown_block_type() {
    let bytes = capture("curl.pcapng");
    // Section Header Block length, then insert a 16-byte block of unknown type 0x0bad0bad.
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let mut out = bytes[..shb_len].to_vec();
    out.extend_from_slice(&0x0bad_0badu32.to_le_bytes());
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&bytes[shb_len..]);
    let (o, flows, err) = analyze(&tmp("unknown-block.pcapng", &out));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(flows.len(), 5);
}

#[test]
fn not_a_capture_and_empty_file() {
    for (name, bytes) in [
        ("notes.txt", b"this is not a capture\n".to_vec()),
        ("empty.pcap", Vec::new()),
    ] {
        let (o, flows, err) = analyze(&tmp(name, &bytes));
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(flows.is_empty());
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with("helloscope: ") && first.contains(name),
            "{first}"
        );
    }
}
