//! Traffic generator shared by `examples/loadgen.rs` (large pcap files) and the criterion
//! benchmarks (in-memory packet sets): it replays the real handshakes of `captures/` with
//! rewritten addresses, ports and sequence numbers, deterministically from a seed.
#![allow(dead_code)]

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use helloscope_capture::{decode_tcp, PacketSource};

pub mod ip_packets;

/// One packet of a template flow.
#[derive(Clone)]
struct TPacket {
    from_client: bool,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    /// Sequence offset from the sender's initial sequence number.
    seq_off: u32,
    payload: Vec<u8>,
}

pub struct Template {
    packets: Vec<TPacket>,
    established: bool,
}

/// A flow being read: client end, server end, client ISN, server ISN, packets.
type Reading = ((IpAddr, u16), (IpAddr, u16), u32, Option<u32>, Vec<TPacket>);

/// Reads every TCP flow of the captures that starts with a SYN.
pub fn templates(dir: &Path) -> Vec<Template> {
    let expected = std::fs::read_to_string(dir.join("expected.jsonl")).unwrap();
    let mut established_ports = std::collections::HashSet::new();
    for l in expected.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["outcome"] == "established" {
            established_ports.insert((
                v["file"].as_str().unwrap().to_owned(),
                v["client_port"].as_u64().unwrap() as u16,
            ));
        }
    }
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let mut src = PacketSource::open_file(f.to_str().unwrap()).unwrap();
        let link = src.link_type();
        let mut flows: Vec<Reading> = Vec::new();
        while let Some(p) = src.next_packet().unwrap() {
            let Ok(s) = decode_tcp(link, p.data) else {
                continue;
            };
            let a = (s.src, s.src_port);
            let b = (s.dst, s.dst_port);
            let i = flows
                .iter()
                .position(|f| (f.0 == a && f.1 == b) || (f.0 == b && f.1 == a));
            let i = match i {
                Some(i) => i,
                None if s.syn && !s.ack => {
                    flows.push((a, b, s.seq, None, Vec::new()));
                    flows.len() - 1
                }
                None => continue,
            };
            let fl = &mut flows[i];
            let from_client = a == fl.0;
            if !from_client && s.syn {
                fl.3 = Some(s.seq);
            }
            let isn = if from_client { Some(fl.2) } else { fl.3 };
            let Some(isn) = isn else { continue };
            fl.4.push(TPacket {
                from_client,
                syn: s.syn,
                ack: s.ack,
                fin: s.fin,
                rst: s.rst,
                seq_off: s.seq.wrapping_sub(isn),
                payload: s.payload.to_vec(),
            });
        }
        for (c, _, _, _, packets) in flows {
            if packets.iter().any(|p| !p.payload.is_empty()) {
                out.push(Template {
                    established: established_ports.contains(&(name.clone(), c.1)),
                    packets,
                });
            }
        }
    }
    out
}

/// The sequence offset just past the last byte one side of a template sent.
fn end_seq(t: &Template, from_client: bool) -> u32 {
    t.packets
        .iter()
        .filter(|p| p.from_client == from_client)
        .map(|p| p.seq_off + p.payload.len() as u32)
        .max()
        .unwrap_or(1)
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

pub struct Endpoint {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    isn_c: u32,
    isn_s: u32,
}

/// Frames out, as a pcap stream (`out` is any writer: a file, or a Vec in memory).
pub struct PcapWriter<W: Write> {
    pub w: W,
    ts_us: u64,
    pub packets: u64,
    pub bytes: u64,
    frame: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(w: W) -> Self {
        Self::with_link_type(w, 1)
    }

    /// A writer of frames of libpcap link type `link` (see [`PcapWriter::frame`]).
    pub fn with_link_type(mut w: W, link: u32) -> Self {
        // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen 262144, link type.
        w.write_all(&0xa1b2c3d4u32.to_le_bytes()).unwrap();
        w.write_all(&2u16.to_le_bytes()).unwrap();
        w.write_all(&4u16.to_le_bytes()).unwrap();
        w.write_all(&[0; 8]).unwrap();
        w.write_all(&(if link == 1 { 65535u32 } else { 262144 }).to_le_bytes())
            .unwrap();
        w.write_all(&link.to_le_bytes()).unwrap();
        PcapWriter {
            w,
            ts_us: 1_700_000_000_000_000,
            packets: 0,
            bytes: 0,
            frame: Vec::with_capacity(2048),
        }
    }

    /// Stamps the next packet `us` microseconds after the epoch (then 7 µs apart again).
    pub fn set_time_us(&mut self, us: u64) {
        self.ts_us = us - 7;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src.0);
        ip[16..20].copy_from_slice(&dst.0);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.ts_us += 7;
        let len = f.len() as u32;
        self.w
            .write_all(&((self.ts_us / 1_000_000) as u32).to_le_bytes())
            .unwrap();
        self.w
            .write_all(&((self.ts_us % 1_000_000) as u32).to_le_bytes())
            .unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(f).unwrap();
        self.packets += 1;
        self.bytes += 16 + len as u64;
    }

    /// Writes `frame` as it is, captured at `ts`.
    pub fn frame(&mut self, ts: std::time::Duration, frame: &[u8]) {
        let len = frame.len() as u32;
        self.w
            .write_all(&(ts.as_secs() as u32).to_le_bytes())
            .unwrap();
        self.w.write_all(&ts.subsec_micros().to_le_bytes()).unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(frame).unwrap();
        self.packets += 1;
        self.bytes += 16 + len as u64;
    }

    /// One UDP datagram in Ethernet/IPv4 (UDP checksum 0: none, as IPv4 allows).
    pub fn udp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) {
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src.0);
        ip[16..20].copy_from_slice(&dst.0);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&src.1.to_be_bytes());
        f.extend_from_slice(&dst.1.to_be_bytes());
        f.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        self.ts_us += 7;
        let len = f.len() as u32;
        self.w
            .write_all(&((self.ts_us / 1_000_000) as u32).to_le_bytes())
            .unwrap();
        self.w
            .write_all(&((self.ts_us % 1_000_000) as u32).to_le_bytes())
            .unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(&len.to_le_bytes()).unwrap();
        self.w.write_all(f).unwrap();
        self.packets += 1;
        self.bytes += 16 + len as u64;
    }

    fn replay(&mut self, e: &Endpoint, p: &TPacket) {
        let (src, dst, isn, peer_isn) = if p.from_client {
            (e.client, e.server, e.isn_c, e.isn_s)
        } else {
            (e.server, e.client, e.isn_s, e.isn_c)
        };
        let flags = (p.fin as u8)
            | (p.syn as u8) << 1
            | (p.rst as u8) << 2
            | (!p.payload.is_empty() as u8) << 3
            | (p.ack as u8) << 4;
        self.tcp(
            src,
            dst,
            isn.wrapping_add(p.seq_off),
            peer_isn.wrapping_add(1),
            flags,
            &p.payload,
        );
    }
}

pub fn endpoint(rng: &mut Rng, n: u64) -> Endpoint {
    let c = 0x0a00_0000u32 | (n as u32 & 0x00ff_ffff);
    let s = 0xc633_6400u32 | (rng.next() % 200) as u32; // 198.51.100.0/24
    Endpoint {
        client: (c.to_be_bytes(), 1024 + (n % 60000) as u16),
        server: (s.to_be_bytes(), 443),
        isn_c: rng.next() as u32,
        isn_s: rng.next() as u32,
    }
}

/// The `bulk` mix: `nflows` established flows, handshakes first, then application data until
/// `size` bytes of pcap have been written.
pub fn bulk<W: Write>(
    w: &mut PcapWriter<W>,
    all: &[Template],
    rng: &mut Rng,
    size: u64,
    nflows: u64,
) {
    let est: Vec<&Template> = all.iter().filter(|t| t.established).collect();
    let eps: Vec<Endpoint> = (0..nflows).map(|n| endpoint(rng, n)).collect();
    let tpl: Vec<&Template> = (0..nflows)
        .map(|_| est[(rng.next() % est.len() as u64) as usize])
        .collect();
    let mut sent: Vec<(u32, u32)> = tpl
        .iter()
        .map(|t| {
            let c = end_seq(t, true);
            let s = end_seq(t, false);
            (c, s)
        })
        .collect();
    // Handshakes first, each flow's packets up to its first FIN/RST.
    for (e, t) in eps.iter().zip(&tpl) {
        for p in t.packets.iter().take_while(|p| !p.fin && !p.rst) {
            w.replay(e, p);
        }
    }
    // Then application data: a 1448-byte data segment from a random flow's server
    // side, an ACK back, and now and then a request from the client.
    let mut record = vec![0u8; 1448];
    record[..3].copy_from_slice(&[0x17, 0x03, 0x03]);
    let body = (1448 - 5) as u16;
    record[3..5].copy_from_slice(&body.to_be_bytes());
    while w.bytes < size {
        let i = (rng.next() % nflows) as usize;
        let e = &eps[i];
        for b in record[5..].iter_mut().step_by(61) {
            *b = rng.next() as u8;
        }
        let (c, s) = sent[i];
        w.tcp(
            e.server,
            e.client,
            e.isn_s.wrapping_add(s),
            e.isn_c.wrapping_add(c),
            0x18,
            &record,
        );
        sent[i].1 = s.wrapping_add(record.len() as u32);
        if rng.next().is_multiple_of(2) {
            w.tcp(
                e.client,
                e.server,
                e.isn_c.wrapping_add(c),
                e.isn_s.wrapping_add(sent[i].1),
                0x10,
                &[],
            );
        }
        if rng.next().is_multiple_of(8) {
            let req = &record[..300];
            w.tcp(
                e.client,
                e.server,
                e.isn_c.wrapping_add(c),
                e.isn_s.wrapping_add(sent[i].1),
                0x18,
                req,
            );
            sent[i].0 = c.wrapping_add(300);
        }
    }
}

/// `payloads` (consecutive segments of a client's first flight) with the ClientHello's
/// extensions in a new order, as Chromium sends them on every connection: its GREASE
/// extensions stay first and last and pre_shared_key last, the others are shuffled. Cut again
/// at the same segment lengths. `None` for a hello that does not start with a GREASE
/// extension (clients that keep their order) or does not parse.
fn chromium_shuffled(payloads: &[&[u8]], rng: &mut Rng) -> Option<Vec<Vec<u8>>> {
    let flight: Vec<u8> = payloads.concat();
    let h = helloscope_tls::parse_client_hello_record(&flight).ok()?;
    let types: Vec<u16> = h.extensions().map(|e| e.ext_type.0).collect();
    if !helloscope_tls::is_grease_u16(*types.first()?) || types.len() < 4 {
        return None;
    }
    // Record header, handshake header, version, random, session id, suites, compression,
    // extensions length: then the extensions, each 4 bytes and its body.
    let mut at = 5 + 4 + 2 + 32 + 1 + h.session_id.len();
    at += 2 + h.cipher_suites().as_bytes().len() + 1 + h.compression_methods.len() + 2;
    let mut spans = Vec::new();
    for e in h.extensions() {
        spans.push((at, at + 4 + e.data.len()));
        at += 4 + e.data.len();
    }
    let last = types.len() - 1 - usize::from(types[types.len() - 1] == 41);
    let mut order: Vec<usize> = (0..types.len()).collect();
    for i in (2..last).rev() {
        let j = 1 + (rng.next() % i as u64) as usize;
        order.swap(i, j);
    }
    let mut out = flight[..spans[0].0].to_vec();
    for &i in &order {
        out.extend_from_slice(&flight[spans[i].0..spans[i].1]);
    }
    out.extend_from_slice(&flight[at..]);
    let mut cut = Vec::new();
    let mut rest = &out[..];
    for p in payloads {
        cut.push(rest[..p.len()].to_vec());
        rest = &rest[p.len()..];
    }
    Some(cut)
}

/// The `handshakes` mix: `nflows` short flows, each a SYN, SYN-ACK, the client's first flight,
/// the server's first payload segment and the client's FIN. With `shuffle`, Chromium's hellos
/// get a new extension order on every connection, as Chromium does.
pub fn handshakes<W: Write>(
    w: &mut PcapWriter<W>,
    all: &[Template],
    rng: &mut Rng,
    nflows: u64,
    shuffle: bool,
) {
    for n in 0..nflows {
        let t = &all[(rng.next() % all.len() as u64) as usize];
        let e = endpoint(rng, n);
        // SYN, SYN-ACK, the client's first flight, the server's first payload segment,
        // and the client's FIN: the part of a flow that decides its outcome.
        let mut kept: Vec<TPacket> = Vec::new();
        let mut client_data = false;
        let mut server_data = false;
        for p in &t.packets {
            let keep = if p.syn {
                true
            } else if p.payload.is_empty() {
                false
            } else if p.from_client && !server_data {
                client_data = true;
                true
            } else if !p.from_client && client_data && !server_data {
                server_data = true;
                true
            } else {
                false
            };
            if keep {
                kept.push(p.clone());
            }
        }
        if shuffle {
            let flight: Vec<usize> = (0..kept.len())
                .filter(|&i| kept[i].from_client && !kept[i].payload.is_empty())
                .collect();
            let payloads: Vec<&[u8]> = flight.iter().map(|&i| &kept[i].payload[..]).collect();
            if let Some(cut) = chromium_shuffled(&payloads, rng) {
                for (&i, p) in flight.iter().zip(cut) {
                    kept[i].payload = p;
                }
            }
        }
        for p in &kept {
            w.replay(&e, p);
        }
        let fin_seq = end_seq(t, true);
        w.tcp(
            e.client,
            e.server,
            e.isn_c.wrapping_add(fin_seq),
            e.isn_s.wrapping_add(1),
            0x11,
            &[],
        );
    }
}

/// A QUIC connection of `captures/quic.pcap`: its datagrams in order, and which side sent each.
pub struct QuicTemplate {
    datagrams: Vec<(bool, Vec<u8>)>,
}

/// Every QUIC connection of `captures/quic.pcap` whose handshake completed (its server port
/// answered, and 1-RTT packets went both ways).
pub fn quic_templates(dir: &Path) -> Vec<QuicTemplate> {
    let mut src = PacketSource::open_file(dir.join("quic.pcap").to_str().unwrap()).unwrap();
    let link = src.link_type();
    let mut flows: Vec<((IpAddr, u16), QuicTemplate)> = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        let Some(d) = helloscope_capture::udp::decode_udp(link, p.data) else {
            continue;
        };
        let (a, b) = ((d.src, d.src_port), (d.dst, d.dst_port));
        let i = match flows.iter().position(|f| f.0 == a || f.0 == b) {
            Some(i) => i,
            None => {
                flows.push((
                    a,
                    QuicTemplate {
                        datagrams: Vec::new(),
                    },
                ));
                flows.len() - 1
            }
        };
        let from_client = flows[i].0 == a;
        flows[i].1.datagrams.push((from_client, d.payload.to_vec()));
    }
    flows
        .into_iter()
        .map(|f| f.1)
        .filter(|t| {
            let short = |c: bool| t.datagrams.iter().any(|d| d.0 == c && d.1[0] & 0x80 == 0);
            short(true) && short(false)
        })
        .collect()
}

/// The `quic` mix: `nflows` QUIC connections, each a recorded aioquic handshake replayed
/// from a new client address and port: every one is found, its Initial keys derived, its
/// Initials decrypted and its hellos parsed anew.
pub fn quic<W: Write>(w: &mut PcapWriter<W>, all: &[QuicTemplate], rng: &mut Rng, nflows: u64) {
    for n in 0..nflows {
        let t = &all[(rng.next() % all.len() as u64) as usize];
        let e = endpoint(rng, n);
        for (from_client, d) in &t.datagrams {
            if *from_client {
                w.udp(e.client, e.server, d);
            } else {
                w.udp(e.server, e.client, d);
            }
        }
    }
}

/// The frames of a little-endian, microsecond pcap file, with their times.
pub fn frames(pcap: &[u8]) -> Vec<(std::time::Duration, Vec<u8>)> {
    assert_eq!(
        pcap[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let mut out = Vec::new();
    let mut i = 24;
    let u32_at = |i: usize| u32::from_le_bytes(pcap[i..i + 4].try_into().unwrap());
    while i + 16 <= pcap.len() {
        let ts = std::time::Duration::new(u64::from(u32_at(i)), u32_at(i + 4) * 1000);
        let len = u32_at(i + 8) as usize;
        out.push((ts, pcap[i + 16..i + 16 + len].to_vec()));
        i += 16 + len;
    }
    out
}

/// The frames of `captures/openssl.pcap`: the real handshakes that floods are mixed with.
pub fn openssl_frames() -> Vec<(std::time::Duration, Vec<u8>)> {
    frames(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/captures/openssl.pcap"
        ))
        .unwrap(),
    )
}

/// Writes [`flood`]'s capture to `name` in a directory of the temporary folder named after
/// `tag` and this process, and returns its path.
pub fn flood_file(
    tag: &str,
    name: &str,
    real: &[(std::time::Duration, Vec<u8>)],
    kind: Flood,
    n: u32,
) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = PcapWriter::new(out);
    flood(&mut w, real, kind, n);
    w.w.flush().unwrap();
    path
}

#[derive(Clone, Copy, PartialEq)]
pub enum Flood {
    /// SYNs never answered.
    Syn,
    /// SYN, SYN-ACK, and nothing more.
    Handshake,
    /// SYN, then the scanner's RST.
    Scan,
    /// SYN, SYN-ACK, then the first half of a real ClientHello (curl's), never completed
    /// nor answered: a followed TLS flow holding a partial hello in its buffers until it
    /// times out, the costliest thing a connection can make the analyzer hold.
    HalfHello,
}

/// The first half of curl 7.88.1's ClientHello record: enough for its headers to be checked
/// (the flow is TLS), too little for the hello (its bytes are held).
fn half_hello() -> &'static [u8] {
    const HELLO: &[u8] =
        include_bytes!("../../crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
    &HELLO[..HELLO.len() / 2]
}

const FLOOD_SERVER: ([u8; 4], u16) = ([192, 0, 2, 1], 443);

/// Flood connection `n`'s client: distinct for every `n` below 2^24.
fn flood_client(n: u32) -> ([u8; 4], u16) {
    let ip = 0x0a00_0000 | (n >> 8);
    (ip.to_be_bytes(), 1024 + (n & 0xff) as u16)
}

/// Writes the real capture's frames at their own times, with `n` flood connections spread
/// between them (each at the time of the frame before it); `n` = 0 writes the real capture
/// alone.
pub fn flood<W: Write>(
    w: &mut PcapWriter<W>,
    real: &[(std::time::Duration, Vec<u8>)],
    flood: Flood,
    n: u32,
) {
    let per_frame = n.div_ceil(real.len() as u32);
    let mut next = 0;
    for (ts, frame) in real {
        w.frame(*ts, frame);
        let us = ts.as_micros() as u64;
        for _ in 0..per_frame.min(n - next) {
            let c = flood_client(next);
            let isn = next.wrapping_mul(2_654_435_761);
            w.set_time_us(us);
            w.tcp(c, FLOOD_SERVER, isn, 0, 0x02, &[]);
            match flood {
                Flood::Syn => {}
                Flood::Handshake => {
                    w.set_time_us(us);
                    w.tcp(FLOOD_SERVER, c, !isn, isn.wrapping_add(1), 0x12, &[]);
                }
                Flood::Scan => {
                    w.set_time_us(us);
                    w.tcp(c, FLOOD_SERVER, isn.wrapping_add(1), 0, 0x04, &[]);
                }
                Flood::HalfHello => {
                    w.set_time_us(us);
                    w.tcp(FLOOD_SERVER, c, !isn, isn.wrapping_add(1), 0x12, &[]);
                    w.set_time_us(us);
                    let ack = (!isn).wrapping_add(1);
                    w.tcp(
                        c,
                        FLOOD_SERVER,
                        isn.wrapping_add(1),
                        ack,
                        0x18,
                        half_hello(),
                    );
                }
            }
            next += 1;
        }
    }
    assert_eq!(next, n);
}
