//! The IP packets of the bundled TCP captures, each capture on its own: what the tests that
//! re-write real traffic (tunnels, fragments, stray segments) start from. Shared by the
//! root package's tests (through `gen`) and the capture crate's (included by path).

use std::path::Path;
use std::time::Duration;

use helloscope_capture::{LinkType, PacketSource};

/// Timestamped IP packets (IPv4 or IPv6, from the link header on).
pub type Packets = Vec<(Duration, Vec<u8>)>;

/// The TLS-over-TCP captures of `captures/` that these tests re-write.
pub const TCP_CAPTURES: [&str; 4] = ["openssl.pcap", "libraries.pcap", "ipv6.pcap", "curl.pcapng"];

/// The IP packets of each of [`TCP_CAPTURES`] in `dir` (the repository's `captures/`), by name.
/// Frames that carry no IPv4 or IPv6 packet (ARP, loopback chatter) are left out.
pub fn of_tcp_captures(dir: &Path) -> Vec<(&'static str, Packets)> {
    TCP_CAPTURES
        .into_iter()
        .map(|f| {
            let mut src = PacketSource::open_file(dir.join(f).to_str().unwrap()).unwrap();
            let link = src.link_type();
            let mut pkts = Vec::new();
            while let Some(p) = src.next_packet().unwrap() {
                let d = p.data;
                let (proto, ip) = match link {
                    LinkType::Ethernet => (d.get(12..14), d.get(14..)),
                    LinkType::LinuxSll => (d.get(14..16), d.get(16..)),
                    LinkType::LinuxSll2 => (d.get(0..2), d.get(20..)),
                    other => panic!("{f}: link type {other:?}"),
                };
                if let (Some([0x08, 0x00] | [0x86, 0xdd]), Some(ip)) = (proto, ip) {
                    pkts.push((p.ts, ip.to_vec()));
                }
            }
            assert!(pkts.len() > 10, "{f}: only {} IP packets", pkts.len());
            (f, pkts)
        })
        .collect()
}
