//! The multi-segment ClientHello of a real Chromium (captures/ipv6.pcap), replayed in
//! shuffled, duplicated and overlapping segmentations, gives the JA4 of the original.

use std::net::IpAddr;
use std::time::Duration;

use etherparse::PacketBuilder;
use helloscope_capture::{decode_tcp, Analyzer, FlowConfig, FlowRecord, LinkType, PacketSource};

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/ipv6.pcap");

struct FirstFlight {
    client: ([u8; 16], u16),
    server: ([u8; 16], u16),
    isn: u32,
    bytes: Vec<u8>,
    segments: usize,
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(_) => panic!("the Chromium flows are IPv6"),
    }
}

/// The client's first flight of the first Chromium connection (server port 4442).
fn chromium_first_flight() -> FirstFlight {
    let mut src = PacketSource::open_file(CAPTURE).unwrap();
    let mut flight: Option<FirstFlight> = None;
    while let Some(p) = src.next_packet().unwrap() {
        let Ok(seg) = decode_tcp(LinkType::LinuxSll, p.data) else {
            continue;
        };
        if seg.dst_port != 4442 {
            continue;
        }
        match &mut flight {
            None if seg.syn => {
                flight = Some(FirstFlight {
                    client: (v6(seg.src), seg.src_port),
                    server: (v6(seg.dst), seg.dst_port),
                    isn: seg.seq,
                    bytes: Vec::new(),
                    segments: 0,
                })
            }
            Some(f) if seg.src_port == f.client.1 && !seg.payload.is_empty() => {
                if seg.seq != f.isn.wrapping_add(1 + f.bytes.len() as u32) {
                    break; // past the first flight
                }
                f.bytes.extend_from_slice(seg.payload);
                f.segments += 1;
                // The ClientHello record ends here when the record length is reached.
                let need = 5 + u16::from_be_bytes([f.bytes[3], f.bytes[4]]) as usize;
                if f.bytes.len() >= need {
                    break;
                }
            }
            _ => {}
        }
    }
    flight.expect("a Chromium connection in captures/ipv6.pcap")
}

fn frame(f: &FirstFlight, seq_off: u32, data: &[u8], syn: bool) -> Vec<u8> {
    let b = PacketBuilder::ipv6(f.client.0, f.server.0, 64);
    let b = if syn {
        b.tcp(f.client.1, f.server.1, f.isn, 65535).syn()
    } else {
        b.tcp(
            f.client.1,
            f.server.1,
            f.isn.wrapping_add(1 + seq_off),
            65535,
        )
        .ack(1)
    };
    let mut out = Vec::with_capacity(b.size(data.len()));
    b.write(&mut out, data).unwrap();
    out
}

/// Feeds a SYN, then the given (offset, length) pieces of the first flight, and returns the
/// flow's JA4.
fn ja4_of(f: &FirstFlight, pieces: &[(usize, usize)]) -> Option<String> {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out: Vec<FlowRecord> = Vec::new();
    let ts = Duration::from_secs(1_700_000_000);
    a.process(ts, LinkType::Raw, &frame(f, 0, &[], true), &mut |r| {
        out.push(r)
    });
    for &(off, len) in pieces {
        let end = (off + len).min(f.bytes.len());
        a.process(
            ts,
            LinkType::Raw,
            &frame(f, off as u32, &f.bytes[off..end], false),
            &mut |r| out.push(r),
        );
    }
    a.finish(&mut |r| out.push(r));
    assert_eq!(out.len(), 1, "{pieces:?} {:?}", a.stats());
    out[0]
        .client_hello
        .as_ref()
        .and_then(|c| c.ja4.as_deref().map(str::to_owned))
}

fn chunks(total: usize, size: usize, step: usize) -> Vec<(usize, usize)> {
    (0..total).step_by(step).map(|o| (o, size)).collect()
}

/// A fixed-seed shuffle (xorshift), so a failure replays the same order.
fn shuffled<T: Clone>(v: &[T], mut seed: u64) -> Vec<T> {
    let mut v = v.to_vec();
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

#[test]
fn same_ja4_whatever_the_segmentation() {
    let f = chromium_first_flight();
    assert!(
        f.segments >= 2,
        "the capture's ClientHello spans {} segments",
        f.segments
    );
    let n = f.bytes.len();
    let original = ja4_of(&f, &[(0, n)]).expect("JA4 of the whole hello");
    assert!(original.starts_with("t13d"), "{original}");

    let small = chunks(n, 100, 100);
    let cases: Vec<(&str, Vec<(usize, usize)>)> = vec![
        ("in order, 100-byte segments", small.clone()),
        ("reversed", small.iter().rev().copied().collect()),
        (
            "every segment twice",
            small.iter().flat_map(|&p| [p, p]).collect(),
        ),
        (
            "overlapping 300-byte segments every 200",
            chunks(n, 300, 200),
        ),
        (
            "overlapping, reversed",
            chunks(n, 300, 200).into_iter().rev().collect(),
        ),
        (
            "one byte at a time, shuffled",
            shuffled(&chunks(n, 1, 1), 7),
        ),
    ];
    for (name, pieces) in cases {
        assert_eq!(
            ja4_of(&f, &pieces).as_deref(),
            Some(original.as_str()),
            "{name}"
        );
    }
    for seed in 1..20 {
        let pieces: Vec<_> = shuffled(&chunks(n, 250, 170), seed);
        assert_eq!(
            ja4_of(&f, &pieces).as_deref(),
            Some(original.as_str()),
            "seed {seed}"
        );
    }
}

#[test]
fn a_hole_that_never_fills_is_reported_incomplete_with_a_gap() {
    let f = chromium_first_flight();
    let n = f.bytes.len();
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    let ts = Duration::from_secs(1);
    a.process(ts, LinkType::Raw, &frame(&f, 0, &[], true), &mut |r| {
        out.push(r)
    });
    // The server's SYN-ACK: its side is in the capture (a capture without it says so).
    let syn_ack = {
        let b = PacketBuilder::ipv6(f.server.0, f.client.0, 64)
            .tcp(f.server.1, f.client.1, 5000, 65535)
            .syn()
            .ack(f.isn.wrapping_add(1));
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    };
    a.process(ts, LinkType::Raw, &syn_ack, &mut |r| out.push(r));
    // Everything but bytes 500..600.
    a.process(
        ts,
        LinkType::Raw,
        &frame(&f, 0, &f.bytes[..500], false),
        &mut |r| out.push(r),
    );
    a.process(
        ts,
        LinkType::Raw,
        &frame(&f, 600, &f.bytes[600..n], false),
        &mut |r| out.push(r),
    );
    a.finish(&mut |r| out.push(r));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].outcome.name(), "incomplete");
    assert!(out[0].flags.gap);
    assert!(out[0].client_hello.is_none());
}
