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
/// the table holds at most --max-flows of them, and the evicted ones are still reported, with
/// what came of the hello (the server name lies in the half that came) and flagged
/// `malformed`; no packet of the server's is in the capture (`server_unseen`).
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
    assert!(r.records.iter().all(|f| f["outcome"] == "server_unseen"));
    assert!(r
        .records
        .iter()
        .all(|f| f["sni"] == "api.procore.com" && has_flag(f, "malformed") && f["ja3"].is_null()));
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
    // The server sent nothing the capture holds.
    assert!(r.records.iter().all(|f| f["outcome"] == "server_unseen"));
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
    // Below its share of --max-memory-mib, the option is the bound: nothing is shed for memory.
    assert!(
        !r.stderr.contains("shed for --max-memory-mib"),
        "{}",
        r.stderr
    );
    // Above it, the share is (3/16 of the 240 MiB the flows get of the default 256 MiB), and
    // what it sheds is counted as shed for memory.
    let clamped = run(&path, &["--max-buffer-mib", "1024"]);
    assert!(clamped.peak_mib < 80, "peak {} MiB", clamped.peak_mib);
    assert!(
        clamped
            .stderr
            .contains("memory bound 256 MiB reached: dropping flows' reassembly buffers")
            && clamped
                .stderr
                .contains("shed for --max-memory-mib: buffers="),
        "{}",
        clamped.stderr
    );
    let unbounded = run(
        &path,
        &["--max-buffer-mib", "1024", "--max-memory-mib", "0"],
    );
    assert!(
        unbounded.peak_mib > r.peak_mib + 40,
        "the budget is what bounds it: {} vs {}",
        unbounded.peak_mib,
        r.peak_mib
    );
}

/// Runs the binary with `args` (the capture path last), returning stdout, stderr and whether
/// it exited with 0 or 1 (a policy verdict), never 101 (a panic).
fn run_any(path: &Path, args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .arg("analyze")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{:?}: {err}",
        o.status
    );
    (out, err)
}

/// The curl ClientHello with its 15-byte server name `api.procore.com` replaced by another
/// of the same length (every length field stays true).
fn hello_with_sni(sni: &[u8]) -> Vec<u8> {
    assert_eq!(sni.len(), 15);
    let mut hello = client_hello_record();
    let at = hello
        .windows(15)
        .position(|w| w == b"api.procore.com")
        .unwrap();
    hello[at..at + 15].copy_from_slice(sni);
    hello
}

/// A connection: SYN, SYN-ACK, then the client's `segments` one after the other.
fn connection(p: &mut Pcap, n: u32, segments: &[&[u8]]) {
    p.tcp(client(n), SERVER, 1000, true, false, &[]);
    p.tcp(SERVER, client(n), 5000, true, true, &[]);
    let mut seq = 1001u32;
    for s in segments {
        p.tcp(client(n), SERVER, seq, false, true, s);
        seq += s.len() as u32;
    }
}

/// Found by a review: any first client segment of one to three bytes with the high bit set
/// counted as the start of an SSLv2 hello, so a telnet session was a TLS flow. Real openings
/// of protocols that are not TLS, whole and cut into one-, two- and three-byte segments, and
/// random bytes (half of them starting like TLS or SSLv2): none is reported; a real
/// ClientHello one byte per segment in the same capture is.
#[test]
fn nothing_that_is_not_tls_is_reported_as_tls() {
    let openings: Vec<(&str, Vec<u8>)> = vec![
        // Telnet option negotiation (RFC 854/857/858): WILL ECHO, WILL SGA, DO TTYPE.
        (
            "telnet",
            vec![0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03, 0xff, 0xfd, 0x18],
        ),
        (
            "telnet, DO first",
            vec![0xff, 0xfd, 0x03, 0xff, 0xfb, 0x18, 0xff, 0xfb, 0x1f],
        ),
        (
            "ssh",
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec(),
        ),
        // NetBIOS session header, then an SMB2 NEGOTIATE header.
        ("smb", {
            let mut v = vec![0x00, 0x00, 0x00, 0x66, 0xfe, b'S', b'M', b'B', 0x40, 0x00];
            v.extend([0u8; 30]);
            v
        }),
        // TPKT, X.224 Connection Request, RDP Negotiation Request (TLS | CredSSP), as mstsc.
        (
            "rdp",
            vec![
                0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08,
                0x00, 0x03, 0x00, 0x00, 0x00,
            ],
        ),
        // HTTP/2 with prior knowledge: the preface, then an empty SETTINGS frame.
        ("h2c", {
            let mut v = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            v.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
            v
        }),
        // What an SSLv2 header's first bytes can be, and then are not.
        (
            "sslv2 start, bad version",
            vec![0x80, 0x2e, 0x01, 0x07, 0x00, 0, 0, 0, 0, 0, 0],
        ),
        (
            "sslv2 start, lengths disagree",
            vec![0x80, 0x2e, 0x01, 0x03, 0x01, 0, 9, 0, 0, 0, 16],
        ),
        (
            "tls start, not a hello",
            vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c],
        ),
        (
            "tls start, hello too short",
            vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x04],
        ),
    ];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut random = Vec::new();
    for i in 0..400 {
        let len = 1 + next() as usize % 40;
        let mut v: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        match i % 4 {
            0 => v[0] |= 0x80,
            1 => v[0] = 0x16,
            _ => {}
        }
        random.push(v);
    }
    let mut p = Pcap::new("not-tls.pcap");
    let mut n = 0;
    for (_, bytes) in &openings {
        for size in [1, 2, 3, bytes.len()] {
            let segments: Vec<&[u8]> = bytes.chunks(size).collect();
            connection(&mut p, n, &segments);
            n += 1;
        }
    }
    for bytes in &random {
        let cut = 1 + (next() as usize % bytes.len());
        connection(&mut p, n, &[&bytes[..cut], &bytes[cut..]]);
        n += 1;
    }
    let hello = client_hello_record();
    let one_byte: Vec<&[u8]> = hello.chunks(1).collect();
    connection(&mut p, n, &one_byte);
    let r = run(&p.done(), &[]);
    let snis: Vec<&serde_json::Value> = r.records.iter().map(|f| &f["sni"]).collect();
    assert_eq!(snis, ["api.procore.com"], "only the real hello: {snis:?}");
    assert_eq!(r.records[0]["client_port"], client(n).1);
}

/// Found by a review: a server name is printed raw, so a client sending escape sequences
/// or a line break in its SNI clears or recolours the terminal, or forges table lines. In
/// the table, the report and csv they are escaped as tcpdump prints them; a csv cell that a
/// spreadsheet would run is neutralised.
#[test]
fn server_names_from_the_wire_are_printed_safely() {
    let evil = b"\x1b[2J\x1b[31m\r\nabcd";
    let formula = b"=1+cmd|' /C ca";
    let formula = &[&formula[..], b"l"].concat();
    let mut p = Pcap::new("evil-sni.pcap");
    connection(&mut p, 1, &[&hello_with_sni(evil)]);
    connection(&mut p, 2, &[&hello_with_sni(formula)]);
    let path = p.done();
    let escaped = "\\x1b[2J\\x1b[31m\\r\\nabcd";
    let clean = |s: &str| !s.chars().any(|c| c.is_control() && c != '\n');
    let (table, _) = run_any(&path, &["--format", "table"]);
    assert!(clean(&table), "{table:?}");
    assert!(table.contains(escaped), "{table}");
    assert_eq!(table.lines().count(), 3, "a header and two rows: {table}");
    let (csv, _) = run_any(&path, &["--format", "csv"]);
    assert!(clean(&csv), "{csv:?}");
    assert!(csv.contains(escaped), "{csv}");
    assert!(csv.contains(",'=1+cmd|' /C cal,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let (_, report) = run_any(&path, &["--format", "jsonl", "--report"]);
    assert!(clean(&report), "{report:?}");
    assert!(report.contains(escaped), "{report}");
    // jsonl keeps the name exact, escaped as JSON.
    let (jsonl, _) = run_any(&path, &["--format", "jsonl"]);
    assert!(
        jsonl.contains(r#""sni":"\u001b[2J\u001b[31m\r\nabcd""#),
        "{jsonl}"
    );
}

/// Found by a review: the report's groups are keyed by what clients choose, without a bound.
/// 10 500 server names: 10 000 groups, and one `other` row counting the rest.
#[test]
fn report_groups_are_bounded() {
    let mut p = Pcap::new("many-snis.pcap");
    for i in 0..10_500u32 {
        let sni = format!("h{i:05}.examples");
        connection(&mut p, i, &[&hello_with_sni(sni.as_bytes())]);
    }
    let (_, report) = run_any(&p.done(), &["--format", "jsonl", "--report"]);
    assert!(
        report.contains("500 flows past the first 10000 groups are counted in the `other` row"),
        "{}",
        &report[..500]
    );
    let rows = report.lines().filter(|l| l.contains(".examples")).count();
    assert_eq!(rows, 10_000);
    let other = report.lines().find(|l| l.contains(" other ")).unwrap();
    assert!(other.split_whitespace().any(|w| w == "500"), "{other}");
}

/// A minimal pcapng file (section header, one Ethernet interface with microsecond stamps,
/// enhanced packet blocks) holding the frames `frames` at their times in microseconds.
fn pcapng(name: &str, frames: &[(u64, Vec<u8>)]) -> PathBuf {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len().next_multiple_of(4);
        out.extend((kind).to_le_bytes());
        out.extend((len as u32).to_le_bytes());
        out.extend(body);
        out.resize(out.len() + body.len().next_multiple_of(4) - body.len(), 0);
        out.extend((len as u32).to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend(u64::MAX.to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = vec![1, 0, 0, 0];
    idb.extend(65535u32.to_le_bytes());
    block(&mut out, 1, &idb);
    for (us, frame) in frames {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend(((us >> 32) as u32).to_le_bytes());
        epb.extend((*us as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend(frame);
        block(&mut out, 6, &epb);
    }
    let dir = std::env::temp_dir().join(format!("helloscope-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// The frames of a pcap written by the benchmarks' writer (after its 24-byte header).
fn frames_of(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[i + 8..i + 12].try_into().unwrap()) as usize;
        out.push(pcap[i + 16..i + 16 + len].to_vec());
        i += 16 + len;
    }
    out
}

/// Found by a review: a pcapng time past the year 9999 made the table, csv and the report
/// panic, and jsonl print a wrong year. Such a frame is skipped and counted; a flow in the
/// last second of 9999 is printed right in every format.
#[test]
fn timestamps_up_to_the_year_9999_print_and_later_ones_are_skipped() {
    let mut p = Pcap::new("frames.pcap");
    connection(&mut p, 1, &[&client_hello_record()]);
    connection(&mut p, 2, &[&client_hello_record()]);
    let frames = frames_of(&std::fs::read(p.done()).unwrap());
    let last_us = 253_402_300_799_999_999u64; // 9999-12-31T23:59:59.999999Z
    let mut stamped: Vec<(u64, Vec<u8>)> = Vec::new();
    for (k, f) in frames.into_iter().enumerate() {
        // The first connection in the last seconds of 9999, the second one after it.
        let us = if k < 3 {
            last_us - 3 + k as u64
        } else {
            last_us + 1 + k as u64
        };
        stamped.push((us, f));
    }
    let path = pcapng("year9999.pcapng", &stamped);
    let want = "9999-12-31T23:59:59.999996Z";
    let (jsonl, err) = run_any(&path, &["--format", "jsonl"]);
    assert!(err.contains("timestamp_out_of_range=3"), "{err}");
    let records: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{jsonl}");
    assert_eq!(records[0]["ts"], want);
    let (csv, _) = run_any(&path, &["--format", "csv"]);
    assert!(csv.lines().nth(1).unwrap().starts_with(want), "{csv}");
    let (_, report) = run_any(&path, &["--format", "jsonl", "--report"]);
    assert!(report.contains("9999-12-31T23:59:59"), "{report}");
    let (table, _) = run_any(&path, &["--format", "table"]);
    assert!(table.contains("api.procore.com"), "{table}");
}

/// Found by a review: 65 535 one-byte segments behind a hole took seconds (the held segments
/// were searched linearly and rescanned). The hello at the start is read once the hole
/// fills, and what was held stayed within the per-direction bound (the rest is dropped and
/// flagged).
#[test]
fn one_byte_segments_behind_a_hole() {
    let mut stream = client_hello_record();
    while stream.len() < 65_536 {
        stream.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]);
    }
    stream.truncate(65_536);
    let mut p = Pcap::new("hole.pcap");
    p.tcp(client(1), SERVER, 1000, true, false, &[]);
    for (i, b) in stream.iter().enumerate().skip(1) {
        p.tcp(client(1), SERVER, 1001 + i as u32, false, true, &[*b]);
    }
    p.tcp(client(1), SERVER, 1001, false, true, &stream[..1]);
    let r = run(&p.done(), &[]);
    assert_eq!(r.records.len(), 1, "{}", r.stderr);
    assert_eq!(r.records[0]["sni"], "api.procore.com");
    assert!(
        has_flag(&r.records[0], "buffer_limit"),
        "64 KiB and a range: over"
    );
    assert!(r.peak_mib < 32, "peak {} MiB", r.peak_mib);
}
