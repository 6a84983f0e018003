//! Writes large, deterministic captures for benchmarks by replaying the real handshakes of
//! `captures/` with rewritten addresses, ports and sequence numbers.
//!
//! ```text
//! cargo run --release --example loadgen -- bulk bulk.pcap [--size-mb 1024] [--flows 4000] [--seed 1]
//! cargo run --release --example loadgen -- handshakes hs.pcap [--flows 1000000] [--seed 1] [--shuffle-chromium]
//! cargo run --release --example loadgen -- quic quic.pcap [--flows 100000] [--seed 1]
//! cargo run --release --example loadgen -- syns|synacks|scans|halfhellos flood.pcap [--flows 1000000]
//! ```
//!
//! `bulk`: a few thousand established TLS flows, their handshakes followed by application data
//! in both directions (full-size data segments, ACKs and requests, about 950 bytes a packet on
//! average), interleaved across flows as on a gateway. `handshakes`: many short flows, each a
//! SYN, SYN-ACK, the client's hello, the server's first flight and a FIN; with
//! `--shuffle-chromium`, Chromium's hellos get a new extension order on every connection, as
//! Chromium does (replayed byte for byte, every connection of a client build looks the same).
//! `quic`: QUIC connections, each a whole aioquic handshake of `captures/quic.pcap` (Initials
//! to be decrypted, Handshake and 1-RTT packets) from a new client address and port.
//! `syns`, `synacks`, `scans`: connections that never send a byte (SYNs never answered,
//! SYN/SYN-ACK pairs, SYN then RST), and `halfhellos`, connections whose
//! client sends the first half of a ClientHello and nothing more, each with the twelve real
//! handshakes of `captures/openssl.pcap` spread among them.
//! The output is pcap with Ethernet/IPv4 framing; the same seed gives the same bytes.

#[path = "../benches/gen/mod.rs"]
mod gen;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str, d: u64| -> u64 {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().unwrap())
            .unwrap_or(d)
    };
    let (Some(mix), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: loadgen bulk|handshakes|quic|syns|synacks|scans|halfhellos OUT.pcap [--size-mb N] [--flows N] [--seed N] \
             [--shuffle-chromium]"
        );
        std::process::exit(2);
    };
    let mut rng = gen::Rng(get("--seed", 1).max(1));
    let all = gen::templates(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    let file = BufWriter::with_capacity(1 << 20, File::create(out).unwrap());
    let mut w = gen::PcapWriter::new(file);
    match mix.as_str() {
        "bulk" => gen::bulk(
            &mut w,
            &all,
            &mut rng,
            get("--size-mb", 1024) << 20,
            get("--flows", 4000),
        ),
        "handshakes" => gen::handshakes(
            &mut w,
            &all,
            &mut rng,
            get("--flows", 1_000_000),
            args.iter().any(|a| a == "--shuffle-chromium"),
        ),
        "quic" => gen::quic(
            &mut w,
            &gen::quic_templates(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")),
            &mut rng,
            get("--flows", 100_000),
        ),
        // The floods of #16, with the real handshakes of captures/openssl.pcap among them.
        "syns" | "synacks" | "scans" | "halfhellos" => gen::flood(
            &mut w,
            &gen::frames(
                &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/openssl.pcap"))
                    .unwrap(),
            ),
            match mix.as_str() {
                "syns" => gen::Flood::Syn,
                "synacks" => gen::Flood::Handshake,
                "halfhellos" => gen::Flood::HalfHello,
                _ => gen::Flood::Scan,
            },
            get("--flows", 1_000_000) as u32,
        ),
        m => {
            eprintln!(
                "loadgen: unknown mix {m:?} (bulk, handshakes, quic, syns, synacks, scans or halfhellos)"
            );
            std::process::exit(2);
        }
    }
    w.w.flush().unwrap();
    eprintln!(
        "loadgen: {} packets, {} bytes, {} templates",
        w.packets,
        w.bytes,
        all.len()
    );
}
