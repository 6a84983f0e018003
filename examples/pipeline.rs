//! Runs the capture pipeline over a file with no output, and prints packets/s and flows/s:
//! the library's cost alone, without the CLI's formatting.
//!
//! `cargo run --release --example pipeline -- FILE [--in-memory] [--no-fingerprint-cache]`
//!
//! `--no-fingerprint-cache` computes every hello's fingerprints afresh: the cost when every
//! connection's hello differs (generated captures replay a few hellos many times; real
//! Chromium shuffles its extension order on every connection).
use std::time::Instant;

use helloscope_capture::{Analyzer, FlowConfig, PacketSource};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = &args[0];
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let mut src = PacketSource::open_file(path).expect("open");
    let cold = args.iter().any(|a| a == "--no-fingerprint-cache");
    let mut cfg = FlowConfig::default();
    cfg.fingerprint_cache = if cold { 0 } else { 4096 };
    let mut a = Analyzer::new(cfg);
    let mut records = 0u64;
    let mut bytes = 0u64;
    let t;
    if in_memory {
        let mut pkts = Vec::new();
        while let Some(p) = src.next_packet().unwrap() {
            pkts.push((p.ts, p.link, p.data.to_vec()));
        }
        t = Instant::now();
        for (ts, link, d) in &pkts {
            bytes += d.len() as u64 + 16;
            a.process(*ts, *link, d, &mut |_| records += 1);
        }
    } else {
        t = Instant::now();
        while let Some(p) = src.next_packet().unwrap() {
            bytes += p.data.len() as u64 + 16;
            a.process(p.ts, p.link, p.data, &mut |_| records += 1);
        }
    }
    a.finish(&mut |_| records += 1);
    let s = t.elapsed().as_secs_f64();
    let st = a.stats();
    println!(
        "{path}: {:.3} s, {} packets ({:.2} M/s), {:.0} MB/s, {} records ({:.0} flows/s)",
        s,
        st.packets,
        st.packets as f64 / s / 1e6,
        bytes as f64 / s / 1e6,
        records,
        records as f64 / s
    );
}
