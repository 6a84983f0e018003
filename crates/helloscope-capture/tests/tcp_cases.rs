//! TCP cases of real captures, made from the hellos of `captures/`: stray segments over the
//! start of a ClientHello, and retransmissions of it that disagree. Each capture is read
//! clean, then with the segments injected; every record must be the clean capture's, with
//! `overlap_conflict` set exactly on the flows whose copies disagreed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, LinkType, PacketSource};

/// Timestamped IP packets.
type Packets = Vec<(Duration, Vec<u8>)>;

/// The IP packets of the TLS-over-TCP captures in `captures/`, each capture on its own.
fn real_packets() -> Vec<(&'static str, Packets)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures");
    let mut out = Vec::new();
    for f in ["openssl.pcap", "libraries.pcap", "ipv6.pcap", "curl.pcapng"] {
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
        assert!(pkts.len() > 10, "{f}");
        out.push((f, pkts));
    }
    out
}

/// A TCP segment of an IP packet (IPv4 with any options, IPv6 without extension headers),
/// as offsets into it.
struct Tcp {
    /// Start of the TCP header.
    at: usize,
    /// Start of the payload.
    data: usize,
    end: usize,
}

fn tcp(ip: &[u8]) -> Option<Tcp> {
    let (proto, at, end) = if ip[0] >> 4 == 4 {
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        (ip[9], usize::from(ip[0] & 0xf) * 4, total.min(ip.len()))
    } else {
        let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        (ip[6], 40, (40 + plen).min(ip.len()))
    };
    if proto != 6 {
        return None;
    }
    let data = at + usize::from(ip[at + 12] >> 4) * 4;
    Some(Tcp { at, data, end })
}

fn endpoints(ip: &[u8]) -> (SocketAddr, SocketAddr) {
    let t = tcp(ip).unwrap();
    let port = |i: usize| u16::from_be_bytes([ip[t.at + i], ip[t.at + i + 1]]);
    let (src, dst): (std::net::IpAddr, std::net::IpAddr) = if ip[0] >> 4 == 4 {
        (
            <[u8; 4]>::try_from(&ip[12..16]).unwrap().into(),
            <[u8; 4]>::try_from(&ip[16..20]).unwrap().into(),
        )
    } else {
        (
            <[u8; 16]>::try_from(&ip[8..24]).unwrap().into(),
            <[u8; 16]>::try_from(&ip[24..40]).unwrap().into(),
        )
    };
    (SocketAddr::new(src, port(0)), SocketAddr::new(dst, port(2)))
}

fn seq(ip: &[u8]) -> u32 {
    let t = tcp(ip).unwrap();
    u32::from_be_bytes(ip[t.at + 4..t.at + 8].try_into().unwrap())
}

fn payload(ip: &[u8]) -> &[u8] {
    let t = tcp(ip).unwrap();
    &ip[t.data..t.end]
}

/// `ip` carrying `data` at sequence number `seq` instead, lengths (and the IPv4 header
/// checksum) made true.
fn with_payload(ip: &[u8], seq: u32, data: &[u8]) -> Vec<u8> {
    let t = tcp(ip).unwrap();
    let mut out = [&ip[..t.data], data].concat();
    out[t.at + 4..t.at + 8].copy_from_slice(&seq.to_be_bytes());
    if out[0] >> 4 == 4 {
        let total = out.len() as u16;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        out[10..12].fill(0);
        let hl = t.at;
        let mut sum = 0u32;
        for w in out[..hl].chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        out[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    } else {
        let plen = (out.len() - 40) as u16;
        out[4..6].copy_from_slice(&plen.to_be_bytes());
    }
    out
}

/// `ip` as a pure ACK of `ack` (its payload dropped).
fn pure_ack(ip: &[u8], ack: u32) -> Vec<u8> {
    let t = tcp(ip).unwrap();
    let mut out = with_payload(ip, seq(ip), &[]);
    out[t.at + 8..t.at + 12].copy_from_slice(&ack.to_be_bytes());
    out[t.at + 13] = 0x10;
    out
}

/// Index of each ClientHello segment: the first client payload of a flow starting a TLS
/// handshake record holding a ClientHello.
fn hello_segments(pkts: &Packets) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, (_, ip)) in pkts.iter().enumerate() {
        if tcp(ip).is_none() {
            continue;
        }
        let p = payload(ip);
        if p.len() > 9 && p[0] == 0x16 && p[1] == 3 && p[5] == 1 && seen.insert(endpoints(ip)) {
            out.push(i);
        }
    }
    out
}

/// The records of `pkts`, by client and server.
fn records(pkts: &Packets) -> BTreeMap<(SocketAddr, SocketAddr), FlowRecord> {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = BTreeMap::new();
    let mut put = |r: FlowRecord| {
        assert!(
            out.insert((r.client, r.server), r).is_none(),
            "one record per flow"
        );
    };
    for (ts, ip) in pkts {
        a.process(*ts, LinkType::Raw, ip, &mut put);
    }
    a.finish(&mut put);
    out
}

/// `pkts` with `extra[k]` inserted before (or, when `after`, after) packet `at[k]`.
fn inject(pkts: &Packets, extra: &[(usize, bool, Vec<u8>)]) -> Packets {
    let mut out = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        for (_, _, e) in extra.iter().filter(|(at, after, _)| *at == i && !after) {
            out.push((p.0, e.clone()));
        }
        out.push(p.clone());
        for (_, _, e) in extra.iter().filter(|(at, after, _)| *at == i && *after) {
            out.push((p.0, e.clone()));
        }
    }
    out
}

/// Checks the records of a capture with segments injected into the flows of `touched`
/// (each with the packets added) against the clean ones: the same, but for the packet count
/// and `overlap_conflict`, set on exactly the flows of `conflicting`.
fn same_records(
    name: &str,
    clean: &BTreeMap<(SocketAddr, SocketAddr), FlowRecord>,
    got: &BTreeMap<(SocketAddr, SocketAddr), FlowRecord>,
    added: &BTreeMap<(SocketAddr, SocketAddr), u64>,
    conflicting: bool,
) {
    assert_eq!(
        clean.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{name}: the same flows"
    );
    for (k, want) in clean {
        let mut want = want.clone();
        if let Some(n) = added.get(k) {
            want.packets += n;
            want.flags.overlap_conflict |= conflicting;
        }
        assert_eq!(got[k], want, "{name}: flow {k:?}");
    }
}

/// Flows' keys as the records have them (client, server) for hello segments `hellos`.
fn keys(pkts: &Packets, hellos: &[usize], n: u64) -> BTreeMap<(SocketAddr, SocketAddr), u64> {
    hellos.iter().map(|&i| (endpoints(&pkts[i].1), n)).collect()
}

/// A one- and a two-byte segment of junk at the hello's sequence number, captured before
/// the hello (a middlebox's, or an insertion meant for the sensor alone): the hello is read
/// as without them, and the flow is flagged.
#[test]
fn junk_before_the_hello() {
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        let hellos = hello_segments(&pkts);
        assert!(hellos.len() >= 3, "{name}: {} hellos", hellos.len());
        for junk in [&[0x00u8][..], &[0x0d, 0x0a], &[0x16, 0x00]] {
            let extra: Vec<_> = hellos
                .iter()
                .map(|&i| {
                    let ip = &pkts[i].1;
                    (i, false, with_payload(ip, seq(ip), junk))
                })
                .collect();
            let got = records(&inject(&pkts, &extra));
            same_records(name, &clean, &got, &keys(&pkts, &hellos, 1), true);
        }
    }
}

/// Where a hello's server name starts in `hello`, found as the clean record reads it.
fn sni_at(hello: &[u8], sni: &str) -> usize {
    hello
        .windows(sni.len())
        .position(|w| w == sni.as_bytes())
        .unwrap()
}

/// The hello, then another copy of it that disagrees (in the record header, in the random,
/// in the server name): the first copy, which made a hello, is kept, and the flow is
/// flagged; an identical retransmission is not a conflict.
#[test]
fn retransmission_of_the_hello() {
    let mut tried = 0;
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        let hellos: Vec<usize> = hello_segments(&pkts)
            .into_iter()
            .filter(|&i| {
                // A hello whole in its segment, with a server name.
                let p = payload(&pkts[i].1);
                let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
                let r = &clean[&endpoints(&pkts[i].1)];
                p.len() >= 5 + len && r.client_hello.as_ref().unwrap().sni.is_some()
            })
            .collect();
        tried += hellos.len();
        for change in ["none", "header", "random", "sni"] {
            let extra: Vec<_> = hellos
                .iter()
                .map(|&i| {
                    let ip = &pkts[i].1;
                    let mut copy = payload(ip).to_vec();
                    let sni = clean[&endpoints(ip)]
                        .client_hello
                        .as_ref()
                        .unwrap()
                        .sni
                        .clone();
                    let at = match change {
                        "none" => None,
                        "header" => Some(2),
                        "random" => Some(20),
                        _ => Some(sni_at(&copy, &sni.unwrap())),
                    };
                    if let Some(at) = at {
                        // Another letter: the name stays a name.
                        copy[at] = if copy[at] == b'x' { b'y' } else { b'x' };
                    }
                    (i, true, with_payload(ip, seq(ip), &copy))
                })
                .collect();
            let got = records(&inject(&pkts, &extra));
            let what = format!("{name}, change in {change}");
            same_records(
                &what,
                &clean,
                &got,
                &keys(&pkts, &hellos, 1),
                change != "none",
            );
        }
    }
    assert!(tried >= 10, "{tried} hellos");
}

/// A keep-alive probe (one garbage byte at the sequence number before the hello's) before
/// the hello: it lies before the data, disagrees with nothing, and changes nothing, whether
/// the capture holds the SYN or starts mid-connection.
#[test]
fn keep_alive_probe_before_the_hello() {
    for (name, pkts) in real_packets() {
        let hellos = hello_segments(&pkts);
        let probes = |pkts: &Packets| -> Vec<_> {
            hello_segments(pkts)
                .iter()
                .map(|&i| {
                    let ip = &pkts[i].1;
                    (i, false, with_payload(ip, seq(ip).wrapping_sub(1), &[0x00]))
                })
                .collect()
        };
        let clean = records(&pkts);
        let got = records(&inject(&pkts, &probes(&pkts)));
        same_records(name, &clean, &got, &keys(&pkts, &hellos, 1), false);
        // Without the connection's opening: the probe is the first segment seen.
        let midstream: Packets = pkts
            .iter()
            .filter(|(_, ip)| tcp(ip).is_none_or(|t| ip[t.at + 13] & 0x02 == 0))
            .cloned()
            .collect();
        let clean = records(&midstream);
        assert!(clean.values().all(|r| r.flags.midstream), "{name}");
        assert!(clean.values().filter(|r| r.client_hello.is_some()).count() >= 3);
        let got = records(&inject(&midstream, &probes(&midstream)));
        let hellos = hello_segments(&midstream);
        // The probe starts no flow: it is not counted in the record.
        same_records(name, &clean, &got, &keys(&midstream, &hellos, 0), false);
    }
}

/// The keep-alive's garbage byte and the hello's first one in one two-byte segment, ahead of
/// the hello: the hello's copy of its first byte is read, and the flow is flagged.
#[test]
fn two_byte_probe_over_the_start_of_the_hello() {
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        let hellos = hello_segments(&pkts);
        let extra: Vec<_> = hellos
            .iter()
            .map(|&i| {
                let ip = &pkts[i].1;
                (
                    i,
                    false,
                    with_payload(ip, seq(ip).wrapping_sub(1), &[0x00, 0x00]),
                )
            })
            .collect();
        let got = records(&inject(&pkts, &extra));
        same_records(name, &clean, &got, &keys(&pkts, &hellos, 1), true);
    }
}

/// Junk at the hello's sequence number that the server acknowledged (its ACK names the
/// junk's end): that is what the server received, so the sensor keeps it too. The hello
/// that follows is not read as a hello, and the flow is not reported with one.
#[test]
fn junk_the_server_acknowledged_is_kept() {
    for (name, pkts) in real_packets() {
        let hellos = hello_segments(&pkts);
        let mut extra = Vec::new();
        for &i in &hellos {
            let ip = &pkts[i].1;
            let (client, server) = endpoints(ip);
            // A server packet of the flow to write the ACK from.
            let from_server = pkts
                .iter()
                .find(|(_, p)| tcp(p).is_some() && endpoints(p) == (server, client))
                .unwrap();
            extra.push((i, false, with_payload(ip, seq(ip), &[0x00, 0x00])));
            extra.push((i, false, pure_ack(&from_server.1, seq(ip).wrapping_add(2))));
        }
        let got = records(&inject(&pkts, &extra));
        for &i in &hellos {
            let (client, server) = endpoints(&pkts[i].1);
            if let Some(r) = got.get(&(client, server)) {
                assert!(r.client_hello.is_none(), "{name}: {client} -> {server}");
                assert!(r.flags.overlap_conflict, "{name}: {client} -> {server}");
            }
        }
    }
}
