//! Every capture file people keep, made here from the real captures in `captures/`:
//! pcapng with several interfaces of different link types, several sections in either byte
//! order, every timestamp resolution and offset, every packet block; gzip, zstd and lz4
//! compressed captures, from files and standard input; rotated and overlapping pieces of one
//! capture. In each case the records must be those of the original captures (which
//! tests/captures.rs checks against captures/expected.jsonl).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, PacketSource, Stats};
use serde_json::Value;

/// One packet of a classic pcap file.
#[derive(Clone)]
struct Pkt {
    /// Nanoseconds since the epoch.
    ns: u64,
    wire_len: u32,
    data: Vec<u8>,
}

/// The link type and packets of a little-endian microsecond pcap file, read here without
/// the project's reader.
fn read_pcap(name: &str) -> (u16, Vec<Pkt>) {
    let b = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name),
    )
    .unwrap();
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    assert_eq!(
        u32_at(0),
        0xa1b2_c3d4,
        "{name}: little-endian, microseconds"
    );
    let link = u32_at(20) as u16;
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let caplen = u32_at(i + 8) as usize;
        out.push(Pkt {
            ns: u32_at(i) as u64 * 1_000_000_000 + u32_at(i + 4) as u64 * 1000,
            wire_len: u32_at(i + 12),
            data: b[i + 16..i + 16 + caplen].to_vec(),
        });
        i += 16 + caplen;
    }
    (link, out)
}

/// A classic pcap file of `packets` (little-endian, microseconds).
fn write_pcap(link: u16, packets: &[Pkt]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, link as u32] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for p in packets {
        let h = [
            (p.ns / 1_000_000_000) as u32,
            (p.ns % 1_000_000_000 / 1000) as u32,
            p.data.len() as u32,
            p.wire_len,
        ];
        for v in h {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&p.data);
    }
    b
}

/// A pcapng writer (draft-ietf-opsawg-pcapng), in either byte order.
struct Ng {
    out: Vec<u8>,
    big: bool,
}

impl Ng {
    fn new() -> Self {
        Ng {
            out: Vec::new(),
            big: false,
        }
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A block: type, total length, body padded to 32 bits, total length.
    fn block(&mut self, kind: u32, body: &[u8]) {
        let padded = (body.len() + 3) & !3;
        let len = (12 + padded) as u32;
        let (k, l) = (self.u32(kind), self.u32(len));
        self.out.extend_from_slice(&k);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&l);
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        body.extend_from_slice(&self.u16(code));
        body.extend_from_slice(&self.u16(value.len() as u16));
        body.extend_from_slice(value);
        body.resize((body.len() + 3) & !3, 0);
    }

    /// A Section Header Block in byte order `big`.
    fn section(&mut self, big: bool) {
        self.big = big;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1A2B_3C4D));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        self.option(&mut body, 4, b"helloscope tests"); // shb_userappl
        self.option(&mut body, 0, b"");
        self.block(0x0A0D_0D0A, &body);
    }

    /// An Interface Description Block with an `if_name`, and an `if_tsresol` and
    /// `if_tsoffset` when given.
    fn interface(&mut self, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(link));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(0));
        self.option(&mut body, 2, b"eth-test"); // if_name
        if let Some(r) = tsresol {
            self.option(&mut body, 9, &[r]);
        }
        if let Some(o) = tsoffset {
            let v = if self.big {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            self.option(&mut body, 14, &v);
        }
        self.option(&mut body, 0, b"");
        self.block(1, &body);
    }

    /// An Enhanced Packet Block (with a comment option) at `t` interface units.
    fn epb(&mut self, iface: u32, t: u64, p: &Pkt) {
        let mut body = Vec::new();
        for v in [
            iface,
            (t >> 32) as u32,
            t as u32,
            p.data.len() as u32,
            p.wire_len,
        ] {
            body.extend_from_slice(&self.u32(v));
        }
        body.extend_from_slice(&p.data);
        body.resize((body.len() + 3) & !3, 0);
        self.option(&mut body, 1, b"a comment"); // opt_comment
        self.option(&mut body, 0, b"");
        self.block(6, &body);
    }

    /// An obsolete Packet Block at `t` interface units.
    fn pb(&mut self, iface: u16, t: u64, p: &Pkt) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(iface));
        body.extend_from_slice(&self.u16(0)); // drops
        for v in [(t >> 32) as u32, t as u32, p.data.len() as u32, p.wire_len] {
            body.extend_from_slice(&self.u32(v));
        }
        body.extend_from_slice(&p.data);
        self.block(2, &body);
    }

    /// A Simple Packet Block (interface 0, no timestamp).
    fn spb(&mut self, p: &Pkt) {
        let mut body = self.u32(p.wire_len).to_vec();
        body.extend_from_slice(&p.data);
        self.block(3, &body);
    }

    /// Blocks a reader must skip: name resolution, interface statistics, decryption
    /// secrets, custom, and a type nobody knows.
    fn others(&mut self) {
        let mut nrb = Vec::new();
        nrb.extend_from_slice(&self.u16(1));
        nrb.extend_from_slice(&self.u16(14));
        nrb.extend_from_slice(&[127, 0, 0, 1]);
        nrb.extend_from_slice(b"localhost\0");
        nrb.resize(20, 0);
        nrb.extend_from_slice(&[0; 4]); // nrb_record_end
        self.block(4, &nrb);
        let isb: Vec<u8> = [0u32, 0, 0].iter().flat_map(|v| self.u32(*v)).collect();
        self.block(5, &isb);
        let mut dsb = self.u32(0x544c_534b).to_vec(); // TLS key log
        dsb.extend_from_slice(&self.u32(9));
        dsb.extend_from_slice(b"CLIENT_RA");
        self.block(10, &dsb);
        let mut custom = self.u32(32473).to_vec(); // a Private Enterprise Number
        custom.extend_from_slice(b"custom data");
        self.block(0x0000_0BAD, &custom);
        self.block(0x0000_7777, b"unknown");
    }
}

fn key(r: &FlowRecord) -> (Duration, String, String) {
    (r.first_seen, r.client.to_string(), r.server.to_string())
}

/// Records and counters of one source through the library.
fn run_source(mut src: PacketSource) -> (Vec<FlowRecord>, Stats, bool) {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    let failed = a.run(&mut src, &mut |r| out.push(r)).is_err();
    a.finish(&mut |r| out.push(r));
    out.sort_by_key(key);
    (out, a.stats().clone(), failed)
}

fn run_bytes(bytes: Vec<u8>) -> (Vec<FlowRecord>, Stats, bool) {
    run_source(PacketSource::from_reader("test", Box::new(std::io::Cursor::new(bytes))).unwrap())
}

/// The records of the three classic captures, each analysed on its own.
fn originals(files: &[&str]) -> Vec<FlowRecord> {
    let mut all = Vec::new();
    for f in files {
        let (recs, _, failed) = run_bytes(
            std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("captures")
                    .join(f),
            )
            .unwrap(),
        );
        assert!(!failed && !recs.is_empty(), "{f}");
        all.extend(recs);
    }
    all.sort_by_key(key);
    all
}

const THREE: [&str; 3] = ["openssl.pcap", "libraries.pcap", "ipv6.pcap"];

/// The three captures (Ethernet, Linux cooked v2, Linux cooked v1) as interfaces of one
/// pcapng, their packets interleaved in time order as a multi-interface dumpcap writes them:
/// microseconds, nanoseconds, and microseconds with an offset of 10^9 seconds. A fourth
/// interface of a link type not decoded (802.11) carries one packet; blocks of every other
/// kind lie between.
fn mixed_pcapng() -> Vec<u8> {
    const OFFSET: i64 = 1_000_000_000;
    let mut ng = Ng::new();
    ng.section(false);
    ng.interface(1, None, None);
    ng.interface(276, Some(9), None);
    ng.interface(113, Some(6), Some(OFFSET));
    ng.interface(105, None, None);
    ng.others();
    let mut all: Vec<(u32, Pkt)> = Vec::new();
    for (i, f) in THREE.iter().enumerate() {
        let (link, pkts) = read_pcap(f);
        assert_eq!(link, [1, 276, 113][i]);
        all.extend(pkts.into_iter().map(|p| (i as u32, p)));
    }
    all.sort_by_key(|(_, p)| p.ns);
    for (n, (iface, p)) in all.iter().enumerate() {
        let t = match iface {
            0 => p.ns / 1000,
            1 => p.ns,
            _ => p.ns / 1000 - (OFFSET as u64) * 1_000_000,
        };
        ng.epb(*iface, t, p);
        if n == all.len() / 2 {
            let radio = Pkt {
                ns: p.ns,
                wire_len: 10,
                data: vec![0x80; 10],
            };
            ng.epb(3, p.ns / 1000, &radio);
            ng.others();
        }
    }
    ng.out
}

#[test]
fn one_pcapng_with_three_link_types_gives_the_records_of_the_three_captures() {
    let (got, stats, failed) = run_bytes(mixed_pcapng());
    assert!(!failed);
    let want = originals(&THREE);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "records differ from the original captures'");
    assert_eq!(
        stats
            .skipped
            .get(&helloscope_capture::DecodeSkip::UnsupportedLinkType),
        Some(&1)
    );
    let packets: usize = THREE.iter().map(|f| read_pcap(f).1.len()).sum();
    assert_eq!(
        stats.packets,
        packets as u64 + 1,
        "the 802.11 packet is counted"
    );
}

#[test]
fn sections_in_both_byte_orders_and_every_packet_block() {
    // Three sections, one capture each in time order; interface numbers start again at 0
    // in every section. Big-endian microseconds in EPBs, little-endian nanoseconds in
    // obsolete Packet Blocks, big-endian units of 10^-7 seconds in EPBs.
    let mut caps: Vec<(&str, Vec<Pkt>)> = THREE.iter().map(|f| (*f, read_pcap(f).1)).collect();
    caps.sort_by_key(|(_, p)| p[0].ns);
    let mut ng = Ng::new();
    for (n, (f, pkts)) in caps.iter().enumerate() {
        let link = read_pcap(f).0;
        ng.section(n % 2 == 0);
        // An interface not used first, so that packets name interface 1.
        ng.interface(1, None, None);
        match n {
            0 => {
                ng.interface(link, None, None);
                pkts.iter().for_each(|p| ng.epb(1, p.ns / 1000, p));
            }
            1 => {
                ng.interface(link, Some(9), None);
                pkts.iter().for_each(|p| ng.pb(1, p.ns, p));
            }
            _ => {
                ng.interface(link, Some(7), None);
                pkts.iter().for_each(|p| ng.epb(1, p.ns / 100, p));
            }
        }
        ng.others();
    }
    let (got, _, failed) = run_bytes(ng.out);
    assert!(!failed);
    assert!(got == originals(&THREE));
}

#[test]
fn simple_packet_blocks_carry_no_time_and_take_the_one_before() {
    let (link, pkts) = read_pcap("openssl.pcap");
    let mut ng = Ng::new();
    ng.section(true);
    ng.interface(link, None, None);
    pkts.iter().for_each(|p| ng.spb(p));
    let (got, stats, failed) = run_bytes(ng.out);
    assert!(!failed);
    assert_eq!(stats.packets, pkts.len() as u64);
    let untimed = |mut v: Vec<FlowRecord>| {
        v.iter_mut().for_each(|r| {
            r.first_seen = Duration::ZERO;
            r.last_seen = Duration::ZERO;
        });
        v.sort_by_key(key);
        v
    };
    assert!(untimed(got) == untimed(originals(&["openssl.pcap"])));
}

/// The project's reader and libpcap's give the same packets for every pcapng libpcap can
/// read: the project's own curl capture and the public corpus (written by many tools).
#[cfg(feature = "live")]
#[test]
fn same_packets_as_libpcap_on_every_pcapng_at_hand() {
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/curl.pcapng")];
    let corpus = Path::new("/work/shared/corpus");
    let mut stack = vec![corpus.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pcapng") {
                files.push(p);
            }
        }
    }
    let mut compared = 0;
    for f in &files {
        let Ok(mut lib) = pcap::Capture::from_file(f) else {
            continue;
        };
        let mut ours = PacketSource::open_file(f.to_str().unwrap()).unwrap();
        let mut n = 0;
        loop {
            let theirs = lib.next_packet();
            let mine = ours.next_packet();
            match (theirs, mine) {
                (Ok(t), Ok(Some(m))) => {
                    let ts = Duration::new(t.header.ts.tv_sec as u64, 0)
                        + Duration::from_micros(t.header.ts.tv_usec as u64);
                    // libpcap gives microseconds: ours, cut to them, must agree.
                    let ours_us = Duration::from_micros(m.ts.as_micros() as u64);
                    assert_eq!(ours_us, ts, "{f:?} packet {n}");
                    assert_eq!(m.wire_len, t.header.len, "{f:?} packet {n}");
                    assert_eq!(m.data, t.data, "{f:?} packet {n}");
                    n += 1;
                }
                (Err(pcap::Error::NoMorePackets), Ok(None)) => break,
                (t, m) => panic!(
                    "{f:?} packet {n}: libpcap {:?}, ours {:?}",
                    t.err(),
                    m.err()
                ),
            }
        }
        assert!(n > 0, "{f:?}");
        compared += 1;
    }
    assert!(compared >= 1);
}

// ---- the command line: compression, standard input, directories, rotation, overlap ----

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("helloscope-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn helloscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helloscope"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.unwrap_or_default().to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

/// The jsonl records of a run, each without its `source`, sorted; and the sources.
fn records(o: &Output) -> (Vec<String>, Vec<(String, String)>) {
    let mut recs = Vec::new();
    let mut sources = Vec::new();
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let mut v: Value = serde_json::from_str(l).unwrap();
        let src = v.as_object_mut().unwrap().remove("source").unwrap();
        sources.push((
            v["ts"].as_str().unwrap().to_owned(),
            src.as_str().unwrap().to_owned(),
        ));
        recs.push(v.to_string());
    }
    recs.sort();
    (recs, sources)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

fn lz4(b: &[u8]) -> Vec<u8> {
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_captures_from_files_and_standard_input() {
    let d = tmpdir("compressed");
    let plain = mixed_pcapng();
    let p = d.join("mixed.pcapng");
    std::fs::write(&p, &plain).unwrap();
    let want = helloscope(&["analyze", "--format", "jsonl", p.to_str().unwrap()], None);
    assert_eq!(want.status.code(), Some(0));
    let (want, _) = records(&want);
    assert_eq!(want.len(), originals(&THREE).len());
    let classic =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/openssl.pcap")).unwrap();
    let classic_want = records(&helloscope(
        &["analyze", "--format", "jsonl", "captures/openssl.pcap"],
        None,
    ))
    .0;
    for (name, squash) in [
        ("gz", gzip as fn(&[u8]) -> Vec<u8>),
        ("zst", zstd),
        ("lz4", lz4),
    ] {
        // Named so that the name says nothing: the magic decides.
        let f = d.join(format!("mixed-{name}.cap"));
        std::fs::write(&f, squash(&plain)).unwrap();
        for threads in ["1", "2"] {
            let o = helloscope(
                &[
                    "analyze",
                    "--format",
                    "jsonl",
                    "--threads",
                    threads,
                    f.to_str().unwrap(),
                ],
                None,
            );
            assert_eq!(o.status.code(), Some(0), "{name}");
            assert_eq!(records(&o).0, want, "{name} --threads {threads}");
        }
        let o = helloscope(
            &["analyze", "--format", "jsonl", "-"],
            Some(&squash(&plain)),
        );
        assert_eq!(o.status.code(), Some(0), "{name} on standard input");
        let (got, sources) = records(&o);
        assert_eq!(got, want, "{name} on standard input");
        assert!(sources.iter().all(|s| s.1 == "-"));
        let o = helloscope(
            &["analyze", "--format", "jsonl", "-"],
            Some(&squash(&classic)),
        );
        assert_eq!(records(&o).0, classic_want, "classic pcap in {name}");
    }
    // gzip members one after the other (`cat a.gz b.gz`) are one stream, as gzip reads them.
    let half = plain.len() / 2;
    let mut two = gzip(&plain[..half]);
    two.extend(gzip(&plain[half..]));
    let o = helloscope(&["analyze", "--format", "jsonl", "-"], Some(&two));
    assert_eq!(records(&o).0, want, "two gzip members");
    // A compressed file that is not a capture inside: one clear message.
    let o = helloscope(
        &["analyze", "-"],
        Some(&zstd(b"hello, not a capture at all")),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown file format inside zstd"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}

/// Offsets of the packets that are a TCP SYN without ACK in an Ethernet/IPv4 capture.
fn syns(pkts: &[Pkt]) -> Vec<usize> {
    (0..pkts.len())
        .filter(|&i| {
            let d = &pkts[i].data;
            d.len() > 47 && d[12..14] == [8, 0] && d[23] == 6 && {
                let flags = d[14 + (d[14] & 15) as usize * 4 + 13];
                flags & 0x12 == 0x02
            }
        })
        .collect()
}

#[test]
fn rotated_pieces_in_a_directory_give_the_unsplit_records() {
    let (link, pkts) = read_pcap("openssl.pcap");
    // Cut right after a SYN and its SYN-ACK, a third and two thirds of the way: those
    // connections have their handshake in one piece and their hellos in the next.
    let s = syns(&pkts);
    let cut1 = s[s.len() / 3] + 2;
    let cut2 = s[s.len() * 2 / 3] + 2;
    let pieces = [&pkts[..cut1], &pkts[cut1..cut2], &pkts[cut2..]];
    let d = tmpdir("rotated");
    // Names in the reverse of their time order, one piece compressed, one pcapng, and a
    // file that is no capture.
    let names = ["c.pcap", "b.pcap.zst", "a.pcapng"];
    for (i, piece) in pieces.iter().enumerate() {
        let bytes = match i {
            0 => write_pcap(link, piece),
            1 => zstd(&write_pcap(link, piece)),
            _ => {
                let mut ng = Ng::new();
                ng.section(false);
                ng.interface(link, Some(9), None);
                piece.iter().for_each(|p| ng.epb(0, p.ns, p));
                ng.out
            }
        };
        std::fs::write(d.join(names[i]), bytes).unwrap();
    }
    std::fs::write(d.join("README.txt"), "captures of the test\n").unwrap();
    let unsplit = helloscope(
        &["analyze", "--format", "jsonl", "captures/openssl.pcap"],
        None,
    );
    let (want, _) = records(&unsplit);
    let dir = d.to_str().unwrap();
    for threads in ["1", "2"] {
        let o = helloscope(
            &["analyze", "--format", "jsonl", "--threads", threads, dir],
            None,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(
            err.contains("README.txt") && err.contains("skipped"),
            "{err}"
        );
        let (got, sources) = records(&o);
        assert_eq!(got, want, "--threads {threads}");
        // Each record names the piece that holds its flow's first packet.
        let rfc3339 = |ns: u64| {
            let t = std::time::UNIX_EPOCH + Duration::from_nanos(ns);
            humantime::format_rfc3339_micros(t).to_string()
        };
        for (ts, src) in sources {
            let i = names.iter().position(|n| src.ends_with(n)).unwrap();
            let (first, last) = (
                rfc3339(pieces[i][0].ns),
                rfc3339(pieces[i].last().unwrap().ns),
            );
            assert!(first <= ts && ts <= last, "{ts} is not in {src}");
        }
    }
    // Without one flow table across the pieces, the cut connections would be midstream.
    let separately: usize = names
        .iter()
        .map(|n| {
            let o = helloscope(
                &["analyze", "--format", "jsonl", d.join(n).to_str().unwrap()],
                None,
            );
            records(&o)
                .0
                .iter()
                .filter(|r| r.contains("\"midstream\""))
                .count()
        })
        .sum();
    assert!(separately > 0, "the cuts split connections");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn overlapping_files_are_merged_by_time() {
    // Every other packet to each file: both span the whole capture, and every connection
    // is in both.
    for file in ["openssl.pcap", "libraries.pcap"] {
        let (link, pkts) = read_pcap(file);
        let d = tmpdir(&format!("overlap-{file}"));
        let even: Vec<Pkt> = pkts.iter().step_by(2).cloned().collect();
        let odd: Vec<Pkt> = pkts.iter().skip(1).step_by(2).cloned().collect();
        let (a, b) = (d.join("even.pcap.gz"), d.join("odd.pcap"));
        std::fs::write(&a, gzip(&write_pcap(link, &even))).unwrap();
        std::fs::write(&b, write_pcap(link, &odd)).unwrap();
        let orig = format!("captures/{file}");
        let (want, _) = records(&helloscope(&["analyze", "--format", "jsonl", &orig], None));
        for threads in ["1", "2"] {
            let o = helloscope(
                &[
                    "analyze",
                    "--format",
                    "jsonl",
                    "--threads",
                    threads,
                    b.to_str().unwrap(),
                    a.to_str().unwrap(),
                ],
                None,
            );
            assert_eq!(o.status.code(), Some(0));
            assert_eq!(records(&o).0, want, "{file} --threads {threads}");
        }
        // One half on standard input (which cannot be read twice), the other from a file.
        let o = helloscope(
            &["analyze", "--format", "jsonl", "-", b.to_str().unwrap()],
            Some(&gzip(&write_pcap(link, &even))),
        );
        assert_eq!(o.status.code(), Some(0));
        let (got, sources) = records(&o);
        assert_eq!(got, want, "{file} with standard input");
        assert!(sources.iter().any(|s| s.1 == "-"));
        std::fs::remove_dir_all(&d).ok();
    }
}

/// Without libpcap (no `live` feature) there is no BPF compiler: `-f` is a usage error that
/// names the feature, not a silent "no filter".
#[cfg(not(feature = "live"))]
#[test]
fn a_filter_without_libpcap_says_which_feature_it_needs() {
    let o = helloscope(&["analyze", "-f", "ip6", "captures/openssl.pcap"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`live` feature") && err.contains("libpcap-dev"),
        "{err}"
    );
}

#[cfg(feature = "live")]
#[test]
fn a_filter_is_compiled_for_each_link_type() {
    let d = tmpdir("filter");
    let p = d.join("mixed.pcapng");
    std::fs::write(&p, mixed_pcapng()).unwrap();
    // ipv6.pcap (Linux cooked v1) is the one capture over IPv6: its flows, and no other.
    let o = helloscope(
        &[
            "analyze",
            "--format",
            "jsonl",
            "-f",
            "ip6",
            p.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (got, _) = records(&o);
    let (want, _) = records(&helloscope(
        &["analyze", "--format", "jsonl", "captures/ipv6.pcap"],
        None,
    ));
    assert!(!want.is_empty());
    assert_eq!(got, want);
    // And the other two, by the complement.
    let o = helloscope(
        &[
            "analyze",
            "--format",
            "jsonl",
            "-f",
            "not ip6",
            p.to_str().unwrap(),
        ],
        None,
    );
    let (got, _) = records(&o);
    let mut want: Vec<String> = ["captures/openssl.pcap", "captures/libraries.pcap"]
        .iter()
        .flat_map(|f| records(&helloscope(&["analyze", "--format", "jsonl", f], None)).0)
        .collect();
    want.sort();
    assert_eq!(got, want);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_damaged_pcapng_block_ends_the_read_with_a_clear_message() {
    let d = tmpdir("damaged");
    let good = mixed_pcapng();
    // Find the Enhanced Packet Blocks (little-endian file).
    let mut epbs = Vec::new();
    let mut i = 0;
    while i + 8 <= good.len() {
        let kind = u32::from_le_bytes(good[i..i + 4].try_into().unwrap());
        let len = u32::from_le_bytes(good[i + 4..i + 8].try_into().unwrap()) as usize;
        if kind == 6 {
            epbs.push((i, len));
        }
        i += len;
    }
    let (at, len) = epbs[epbs.len() * 2 / 3];
    let packet = epbs.iter().position(|e| e.0 == at).unwrap();
    // Its trailing length does not match.
    let mut bad = good.clone();
    bad[at + len - 4] ^= 0x40;
    let cases: HashMap<&str, (Vec<u8>, &str)> = HashMap::from([
        ("corrupt", (bad, "its two lengths differ")),
        ("truncated", (good[..at + 20].to_vec(), "truncated")),
    ]);
    for (name, (bytes, why)) in cases {
        let p = d.join(format!("{name}.pcapng"));
        std::fs::write(&p, &bytes).unwrap();
        let o = helloscope(&["analyze", "--format", "jsonl", p.to_str().unwrap()], None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(err.contains(&format!("at byte offset {at}")), "{err}");
        assert!(err.contains(&format!("after packet {packet}")), "{err}");
        let (flows, _) = records(&o);
        assert!(
            flows.len() >= 5,
            "{name}: {} flows before the damage",
            flows.len()
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

/// Damage anywhere in a pcapng (flipped bytes in block headers, lengths, options, packets;
/// cuts) ends in packets or one error, never a panic, with every packet inside its bounds.
#[test]
fn damaged_pcapng_anywhere_never_panics() {
    let good = mixed_pcapng();
    let good = &good[..good.len().min(16 << 10)];
    // A fixed linear congruential sequence: the same damage on every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    let mut errors = 0;
    for round in 0..1500 {
        let mut b = good.to_vec();
        for _ in 0..1 + next() % 4 {
            let i = next() % b.len();
            b[i] = match next() % 3 {
                0 => b[i] ^ (1 << (next() % 8)),
                1 => 0xff,
                _ => 0,
            };
        }
        if round % 5 == 0 {
            b.truncate(next() % b.len());
        }
        let Ok(mut src) = PacketSource::from_reader("damaged", Box::new(std::io::Cursor::new(b)))
        else {
            errors += 1;
            continue;
        };
        let mut a = Analyzer::new(FlowConfig::default());
        loop {
            match src.next_packet() {
                Ok(Some(p)) => {
                    assert!(p.data.len() <= 262_144);
                    a.process(p.ts, p.link, p.data, &mut |_| {});
                }
                Ok(None) => break,
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
        a.finish(&mut |_| {});
    }
    assert!(errors > 100, "damage was found: {errors} errors");
}
