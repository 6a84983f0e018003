//! The per-packet pipeline on in-memory packet sets (no file I/O): the `bulk` mix (established
//! flows carrying data: the fast path) and the `handshakes` mix (short flows: parsing and
//! fingerprints), the `quic` mix (QUIC handshakes: Initial keys derived, packets decrypted,
//! hellos parsed; reported in handshakes per second), plus the flow table's insert, lookup and
//! eviction.

mod gen;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use helloscope_capture::{Analyzer, FlowConfig, LinkType};

/// Frames of a generated pcap held in memory: (timestamp, bytes).
fn frames(pcap: &[u8]) -> Vec<(Duration, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        let u = |o: usize| u32::from_le_bytes(pcap[i + o..i + o + 4].try_into().unwrap());
        let (s, us, len) = (u(0), u(4), u(8) as usize);
        out.push((
            Duration::new(s as u64, us * 1000),
            pcap[i + 16..i + 16 + len].to_vec(),
        ));
        i += 16 + len;
    }
    out
}

fn mix(name: &str) -> Vec<(Duration, Vec<u8>)> {
    let all = gen::templates(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    let mut rng = gen::Rng(1);
    let mut w = gen::PcapWriter::new(Vec::new());
    match name {
        "bulk" => gen::bulk(&mut w, &all, &mut rng, 64 << 20, 500),
        _ => gen::handshakes(&mut w, &all, &mut rng, 20_000, false),
    }
    frames(&w.w)
}

fn run(packets: &[(Duration, Vec<u8>)], cfg: FlowConfig) -> u64 {
    let mut a = Analyzer::new(cfg);
    let mut n = 0;
    for (ts, f) in packets {
        a.process(*ts, LinkType::Ethernet, f, &mut |_| n += 1);
    }
    a.finish(&mut |_| n += 1);
    n
}

fn pipeline(c: &mut Criterion) {
    for name in ["bulk", "handshakes"] {
        let packets = mix(name);
        let bytes: usize = packets.iter().map(|p| p.1.len() + 16).sum();
        let mut g = c.benchmark_group(format!("pipeline/{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(packets.len() as u64));
        g.bench_function("packets", |b| {
            b.iter(|| run(black_box(&packets), FlowConfig::default()))
        });
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("bytes", |b| {
            b.iter(|| run(black_box(&packets), FlowConfig::default()))
        });
        g.finish();
    }
}

/// The flow table alone: SYNs of new flows (insert), the same SYNs again (lookup of followed
/// flows), the later packets of flows already decided (lookup of finished flows: the fast
/// path), and a table one tenth the size of the flow count (eviction).
/// QUIC handshakes per second, decryption included: each element is one whole connection.
fn quic(c: &mut Criterion) {
    const FLOWS: u64 = 2_000;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut w = gen::PcapWriter::new(Vec::new());
    gen::quic(&mut w, &gen::quic_templates(&dir), &mut gen::Rng(1), FLOWS);
    let packets = frames(&w.w);
    assert_eq!(
        run(&packets, FlowConfig::default()),
        FLOWS,
        "one record per handshake"
    );
    let mut g = c.benchmark_group("pipeline/quic");
    g.sample_size(10);
    g.throughput(Throughput::Elements(FLOWS));
    g.bench_function("handshakes", |b| {
        b.iter(|| run(black_box(&packets), FlowConfig::default()))
    });
    g.finish();
}

/// The flow table alone: SYNs of new flows (insert), their repeats (lookup), and a table one
/// tenth the size of the flow count (eviction).
fn flow_table(c: &mut Criterion) {
    let packets = mix("handshakes");
    let syns: Vec<&(Duration, Vec<u8>)> =
        packets.iter().filter(|p| p.1[47] & 0x12 == 0x02).collect();
    // Every packet that is not a SYN (the client's and the server's): once the whole mix has
    // been through the analyzer, each belongs to a decided flow, so each is one lookup in the
    // finished-flow table and nothing else (a SYN would start a new flow instead).
    let later: Vec<&(Duration, Vec<u8>)> = packets.iter().filter(|p| p.1[47] & 0x02 == 0).collect();
    let decided = || {
        let mut a = Analyzer::new(FlowConfig::default());
        for (ts, f) in &packets {
            a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
        }
        a
    };
    let replay_later = |a: &mut Analyzer| {
        for (ts, f) in &later {
            a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
        }
    };
    {
        // The lookup measured below is the fast path, for every packet replayed.
        let mut a = decided();
        let before = a.stats().packets_fast_path;
        replay_later(&mut a);
        assert_eq!(
            a.stats().packets_fast_path - before,
            later.len() as u64,
            "every replayed packet took the finished-flow table's fast path"
        );
    }
    let mut g = c.benchmark_group("flow_table");
    g.throughput(Throughput::Elements(syns.len() as u64));
    g.bench_function("insert", |b| {
        b.iter(|| {
            let mut a = Analyzer::new(FlowConfig::default());
            for (ts, f) in &syns {
                a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
            }
            a.flows_in_table()
        })
    });
    g.bench_function("lookup followed", |b| {
        b.iter_batched(
            || {
                let mut a = Analyzer::new(FlowConfig::default());
                for (ts, f) in &syns {
                    a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
                }
                a
            },
            |mut a| {
                for (ts, f) in &syns {
                    a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
                }
                a // dropped outside the measurement
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(later.len() as u64));
    g.bench_function("lookup finished", |b| {
        b.iter_batched(
            decided,
            |mut a| {
                replay_later(&mut a);
                a // dropped outside the measurement
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(syns.len() as u64));
    g.bench_function("insert with eviction", |b| {
        let mut cfg = FlowConfig::default();
        cfg.max_flows = syns.len() / 10;
        b.iter(|| {
            let mut a = Analyzer::new(cfg.clone());
            for (ts, f) in &syns {
                a.process(*ts, LinkType::Ethernet, f, &mut |_| {});
            }
            a.stats().evicted_table_full
        })
    });
    g.finish();
}

/// The reassembler against an attacker's segmentation: 65 535 one-byte segments behind a
/// hole (held, then drained when the hole fills), in order and in reverse order, and every
/// other byte (one held range each, up to the range cap).
fn reassembly(c: &mut Criterion) {
    use helloscope_capture::reassembly::StreamReassembler;
    let n = 65_535u32;
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Elements(n as u64));
    let orders: [(&str, Vec<u32>); 3] = [
        ("one-byte segments behind a hole", (1..=n).collect()),
        (
            "one-byte segments behind a hole, reversed",
            (1..=n).rev().collect(),
        ),
        (
            "every other byte behind a hole",
            (1..=n).step_by(2).collect(),
        ),
    ];
    for (name, order) in orders {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = StreamReassembler::default();
                r.on_syn(0);
                let mut delivered = 0usize;
                for &i in &order {
                    r.on_segment(1 + i, &[i as u8], 1 << 17, &mut |d| delivered += d.len());
                }
                r.on_segment(1, &[0], 1 << 17, &mut |d| delivered += d.len());
                delivered
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline, quic, flow_table, reassembly);
criterion_main!(benches);
