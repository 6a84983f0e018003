//! Hostile traffic against the sensor: each case runs the helloscope binary with small,
//! explicit limits, and checks that the peak memory it reports stays under a bound derived
//! from those limits, and that the drop counters say what was shed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../benches/gen/mod.rs"]
mod gen;

/// A pcap file (Ethernet), written packet by packet with the benchmarks' writer.
struct Pcap {
    path: PathBuf,
    w: gen::PcapWriter<std::io::BufWriter<std::fs::File>>,
}

impl Pcap {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("helloscope-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        Pcap {
            path,
            w: gen::PcapWriter::new(out),
        }
    }

    /// A segment with SYN and ACK as asked (acknowledging byte 1), PSH when it carries data.
    fn tcp(
        &mut self,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        syn: bool,
        ack: bool,
        payload: &[u8],
    ) {
        let flags = u8::from(syn) << 1 | u8::from(!payload.is_empty()) << 3 | u8::from(ack) << 4;
        self.w.tcp(src, dst, seq, u32::from(ack), flags, payload);
    }

    fn done(mut self) -> PathBuf {
        self.w.w.flush().unwrap();
        self.path
    }
}

/// The record's `flags` include `name`.
fn has_flag(record: &serde_json::Value, name: &str) -> bool {
    record["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == name)
}

struct Run {
    stderr: String,
    records: Vec<serde_json::Value>,
    peak_mib: u64,
}

fn run(path: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["analyze", "--format", "jsonl"];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let peak_mib = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    let records = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    eprintln!("{}: {stderr}", path.display());
    Run {
        stderr,
        records,
        peak_mib,
    }
}

/// A real ClientHello record (curl 7.88.1).
fn client_hello_record() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"
    ))
    .unwrap()
}

const SERVER: ([u8; 4], u16) = ([192, 0, 2, 1], 443);

fn client(n: u32) -> ([u8; 4], u16) {
    let ip = 0x0a00_0000 | (n >> 16);
    (ip.to_be_bytes(), 1024 + (n & 0xffff) as u16 % 60000)
}

/// A SYN flood over many ports: the table stays at its limit, evictions are counted, and the
/// flood costs no more memory than the limit allows.
#[test]
fn syn_flood() {
    let mut p = Pcap::new("synflood.pcap");
    let n = 300_000;
    for i in 0..n {
        p.tcp(client(i), SERVER, i, true, false, &[]);
    }
    let r = run(&p.done(), &["--max-flows", "10000"]);
    assert!(r.records.is_empty(), "no TLS in a SYN flood");
    assert!(
        r.stderr.contains("flows evicted from a full table"),
        "{}",
        r.stderr
    );
    assert!(r.peak_mib < 64, "peak {} MiB", r.peak_mib);
}

/// Connections that send half a ClientHello and stop: each holds at most its partial hello,
/// the table holds at most --max-flows of them, and the evicted ones are still reported.
#[test]
fn half_client_hellos() {
    let hello = client_hello_record();
    let half = &hello[..hello.len() / 2];
    let mut p = Pcap::new("halfhellos.pcap");
    let n = 100_000;
    for i in 0..n {
        p.tcp(client(i), SERVER, 1000, true, false, &[]);
        p.tcp(client(i), SERVER, 1001, false, true, half);
    }
    let r = run(&p.done(), &["--max-flows", "20000"]);
    assert_eq!(
        r.records.len(),
        n as usize,
        "every flow is reported, evicted or not"
    );
    assert!(r.records.iter().all(|f| f["outcome"] == "incomplete"));
    assert!(r.peak_mib < 96, "peak {} MiB", r.peak_mib);
}

/// A record header claiming 16 KiB and a handshake header claiming nearly as much, followed
/// by nothing, and a handshake header claiming 16 MiB: nothing is buffered for the promises,
/// the flows end incomplete, and the second one is flagged as over the buffer limit.
#[test]
fn lying_lengths() {
    let mut p = Pcap::new("lying.pcap");
    p.tcp(client(1), SERVER, 10, true, false, &[]);
    p.tcp(
        client(1),
        SERVER,
        11,
        false,
        true,
        &[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc],
    );
    p.tcp(client(2), SERVER, 10, true, false, &[]);
    let mut big = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
    big.extend(std::iter::repeat_n(0x41, 16384 - 4));
    p.tcp(client(2), SERVER, 11, false, true, &big[..1400]);
    p.tcp(client(2), SERVER, 1411, false, true, &big[1400..]);
    let r = run(&p.done(), &[]);
    assert_eq!(r.records.len(), 2);
    assert!(r.records.iter().all(|f| f["outcome"] == "incomplete"));
    let flagged = r
        .records
        .iter()
        .find(|f| f["client_port"] == client(2).1)
        .unwrap();
    assert!(has_flag(flagged, "buffer_limit"), "{flagged}");
    assert!(r.peak_mib < 32, "peak {} MiB", r.peak_mib);
}

/// A million tiny records: a ClientHello delivered one byte per record, then nonsense
/// one-byte records. The hello is still read, memory stays flat.
#[test]
fn a_million_tiny_records() {
    let hello = client_hello_record();
    let body = &hello[5..];
    let mut stream = Vec::new();
    for b in body {
        stream.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x01, *b]);
    }
    let filler = 1_000_000 - body.len();
    for _ in 0..filler {
        stream.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]);
    }
    let mut p = Pcap::new("tiny.pcap");
    p.tcp(client(3), SERVER, 100, true, false, &[]);
    for (i, chunk) in stream.chunks(1440).enumerate() {
        p.tcp(
            client(3),
            SERVER,
            101 + (i * 1440) as u32,
            false,
            true,
            chunk,
        );
    }
    let r = run(&p.done(), &[]);
    assert_eq!(r.records.len(), 1);
    assert_eq!(
        r.records[0]["sni"], "api.procore.com",
        "the hello is read, one byte per record"
    );
    assert!(r.peak_mib < 32, "peak {} MiB", r.peak_mib);
}

/// An SSLv2-format hello (as old Java and .NET clients send) one byte per segment: the first
/// byte alone already counts as the start of a hello, and the hello is read whole.
#[test]
fn sslv2_hello_one_byte_per_segment() {
    // Record header (length 34), CLIENT-HELLO, TLS 1.0, 3 cipher specs (the fallback SCSV
    // among them), no session id, a 16-byte challenge.
    let mut hello = vec![
        0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
    ];
    hello.extend([0x00, 0x00, 0x2f, 0x00, 0x56, 0x00, 0x00, 0x00, 0x0a]);
    hello.extend([0x5a; 16]);
    let mut p = Pcap::new("sslv2-tiny.pcap");
    p.tcp(client(4), SERVER, 100, true, false, &[]);
    p.tcp(SERVER, client(4), 500, true, true, &[]);
    for (i, b) in hello.iter().enumerate() {
        p.tcp(client(4), SERVER, 101 + i as u32, false, true, &[*b]);
    }
    let r = run(&p.done(), &[]);
    assert_eq!(r.records.len(), 1, "{}", r.stderr);
    let f = &r.records[0];
    assert_eq!(f["sslv2_hello"], true);
    assert_eq!(f["versions_offered"], serde_json::json!(["TLS 1.0"]));
    assert_eq!(f["fallback_scsv"], true);
}

/// Overlapping segments with different contents: the copy that completes the bytes first is
/// read, and the flow is flagged.
#[test]
fn conflicting_overlaps() {
    let hello = client_hello_record();
    let mut forged = hello.clone();
    for b in &mut forged[100..200] {
        *b ^= 0x55;
    }
    let mut p = Pcap::new("overlap.pcap");
    p.tcp(client(4), SERVER, 0, true, false, &[]);
    // The forged copy of bytes 100.. arrives early and is held; then the genuine whole hello.
    p.tcp(client(4), SERVER, 101, false, true, &forged[100..]);
    p.tcp(client(4), SERVER, 1, false, true, &hello);
    let r = run(&p.done(), &[]);
    assert_eq!(r.records.len(), 1);
    let f = &r.records[0];
    assert!(has_flag(f, "overlap_conflict"), "{f}");
    assert_eq!(f["sni"], "api.procore.com", "the in-order copy won");
    assert!(r.stderr.contains("conflicting overlapping segments"));
}

/// Many flows each holding out-of-order data up to the per-flow limit: the total budget
/// (--max-buffer-mib) caps what they hold together, and the shedding is counted and flagged.
#[test]
fn out_of_order_data_against_the_total_budget() {
    let mut p = Pcap::new("ooo.pcap");
    let chunk = vec![0x17u8; 1400];
    let flows = 2000u32;
    for i in 0..flows {
        p.tcp(client(i), SERVER, 0, true, false, &[]);
        // 40 segments beyond a one-byte hole: 56 KB held per flow if nothing stopped it.
        for k in 0..40u32 {
            p.tcp(client(i), SERVER, 2 + k * 1400, false, true, &chunk);
        }
    }
    let path = p.done();
    let r = run(&path, &["--max-buffer-mib", "8"]);
    assert!(
        r.stderr
            .contains("flow buffers dropped to stay under --max-buffer-mib"),
        "{}",
        r.stderr
    );
    // 2000 x 56 KB would be 110 MB; the budget keeps it near 8 MiB plus the table.
    assert!(r.peak_mib < 48, "peak {} MiB", r.peak_mib);
    let unbounded = run(&path, &["--max-buffer-mib", "1024"]);
    assert!(
        unbounded.peak_mib > r.peak_mib + 40,
        "the budget is what bounds it: {} vs {}",
        unbounded.peak_mib,
        r.peak_mib
    );
}
