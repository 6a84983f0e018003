//! TCP cases of real captures, made from the hellos of `captures/`: stray segments over the
//! start of a ClientHello, and retransmissions of it that disagree. Each capture is read
//! clean, then with the segments injected; every record must be the clean capture's, with
//! `overlap_conflict` set exactly on the flows whose copies disagreed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, LinkType};

#[path = "../../../benches/gen/ip_packets.rs"]
mod ip_packets;

use ip_packets::Packets;

/// The IP packets of the TLS-over-TCP captures in `captures/`, each capture on its own.
fn real_packets() -> Vec<(&'static str, Packets)> {
    ip_packets::of_tcp_captures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures"))
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
/// junk's end): that is what the server received, so the sensor keeps it too. The stream the
/// server got does not start with a ClientHello: the flow is not TLS, and not reported. The
/// same junk without that ACK costs nothing (see `junk_before_the_hello`).
#[test]
fn junk_the_server_acknowledged_is_kept() {
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
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
        let junked = keys(&pkts, &hellos, 0);
        for (k, r) in &clean {
            if junked.contains_key(k) {
                assert!(!got.contains_key(k), "{name}: {k:?}");
            } else {
                assert_eq!(&got[k], r, "{name}: {k:?}");
            }
        }
    }
}

/// The captures split by direction, as a tap on one fibre or asymmetric routing gives them:
/// the server's side alone reports every flow whose server answered with a ServerHello,
/// with what the server chose and no client fields; the client's side alone reports every
/// flow with its ClientHello and no server fields. The outcome names the side not seen.
#[test]
fn one_direction_captures() {
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        // The client of each connection: the sender of its SYN.
        let clients: std::collections::HashSet<SocketAddr> = pkts
            .iter()
            .filter(|(_, ip)| tcp(ip).is_some_and(|t| ip[t.at + 13] & 0x12 == 0x02))
            .map(|(_, ip)| endpoints(ip).0)
            .collect();
        let (from_clients, from_servers): (Packets, Packets) = pkts
            .iter()
            .filter(|(_, ip)| tcp(ip).is_some())
            .cloned()
            .partition(|(_, ip)| clients.contains(&endpoints(ip).0));
        let servers_only = records(&from_servers);
        let answered: Vec<_> = clean
            .iter()
            .filter(|(_, r)| r.server_hello.is_some())
            .collect();
        assert!(answered.len() >= 3, "{name}");
        assert_eq!(
            servers_only.keys().collect::<Vec<_>>(),
            answered.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            "{name}: every flow the server answered"
        );
        for (k, want) in answered {
            let r = &servers_only[k];
            assert_eq!(r.server_hello, want.server_hello, "{name} {k:?}");
            assert_eq!(r.client_hello, None);
            assert_eq!(r.outcome.name(), "client_unseen", "{name} {k:?}");
            assert!(!r.flags.midstream, "the SYN-ACK opened it");
        }
        let clients_only = records(&from_clients);
        assert_eq!(
            clients_only.keys().collect::<Vec<_>>(),
            clean.keys().collect::<Vec<_>>(),
            "{name}: every flow"
        );
        for (k, want) in &clean {
            let r = &clients_only[k];
            assert_eq!(r.client_hello, want.client_hello, "{name} {k:?}");
            assert_eq!(r.server_hello, None);
            assert_eq!(r.outcome.name(), "server_unseen", "{name} {k:?}");
        }
    }
}

/// Where the parts of a ClientHello record lie in it, walked here by hand (RFC 8446
/// §4.1.2): the end of `legacy_version`, of the cipher-suite list, and each extension's
/// (type, start, end).
struct Layout {
    version_end: usize,
    suites: (usize, usize),
    extensions: Vec<(u16, usize, usize)>,
}

fn layout(p: &[u8]) -> Layout {
    let u16_at = |i: usize| usize::from(u16::from_be_bytes([p[i], p[i + 1]]));
    let version_end = 9 + 2;
    let sid = version_end + 32;
    let suites = sid + 1 + usize::from(p[sid]);
    let suites_end = suites + 2 + u16_at(suites);
    let comp_end = suites_end + 1 + usize::from(p[suites_end]);
    let mut extensions = Vec::new();
    let mut at = comp_end + 2;
    let end = (comp_end + 2 + u16_at(comp_end)).min(p.len());
    while at + 4 <= end {
        let next = at + 4 + u16_at(at + 2);
        extensions.push((u16_at(at) as u16, at, next));
        at = next;
    }
    Layout {
        version_end,
        suites: (suites + 2, suites_end),
        extensions,
    }
}

/// The flows of `pkts` whose ClientHello is whole in one segment and offers a server name
/// and supported_versions, with that segment's index.
fn whole_hellos(pkts: &Packets) -> Vec<usize> {
    hello_segments(pkts)
        .into_iter()
        .filter(|&i| {
            let p = payload(&pkts[i].1);
            let len = u16::from_be_bytes([p[3], p[4]]) as usize;
            let l = layout(p);
            p.len() == 5 + len
                && [0, 43]
                    .iter()
                    .all(|t| l.extensions.iter().any(|e| e.0 == *t))
        })
        .collect()
}

/// Checks a damaged hello's record against the clean one: `legacy_version` always, the
/// server name and the versions offered when their extensions lie before the damage at
/// `damage`, the suites that were there, the extensions before the damage, no fingerprint,
/// and the `malformed` flag.
fn check_damaged(what: &str, p: &[u8], damage: usize, clean: &FlowRecord, got: &FlowRecord) {
    let want = clean.client_hello.as_ref().unwrap();
    let ch = got
        .client_hello
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: a hello"));
    let l = layout(p);
    let before: Vec<_> = l.extensions.iter().filter(|e| e.2 <= damage).collect();
    let read = |t: u16| before.iter().any(|e| e.0 == t);
    assert_eq!(ch.legacy_version, want.legacy_version, "{what}");
    assert!(damage >= l.version_end);
    let sni = if read(0) { want.sni.clone() } else { None };
    assert_eq!(ch.sni, sni, "{what}");
    if read(43) {
        assert_eq!(ch.versions_offered, want.versions_offered, "{what}");
        assert_eq!(ch.version_offered_max, want.version_offered_max, "{what}");
    } else {
        assert_eq!(&ch.versions_offered[..], &[want.legacy_version], "{what}");
    }
    let suites = if damage >= l.suites.1 {
        want.cipher_count
    } else {
        damage.saturating_sub(l.suites.0) / 2
    };
    assert_eq!(ch.cipher_count, suites, "{what}");
    let types: Vec<u16> = before.iter().map(|e| e.0).collect();
    assert_eq!(ch.extensions, types, "{what}");
    assert_eq!(
        (&ch.ja3, &ch.ja3_string, &ch.ja4, &ch.ja4_r),
        (&None, &None, &None, &None),
        "{what}: fingerprints need every input"
    );
    assert!(got.flags.malformed, "{what}");
}

/// A ClientHello whose extensions are damaged (an extension's length running past the
/// message) after the server name and supported_versions, and at each extension before: the
/// record holds what was read before the damage, without fingerprints, flagged `malformed`.
#[test]
fn damaged_extensions() {
    let mut tried = 0;
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        for i in whole_hellos(&pkts) {
            let ip = &pkts[i].1;
            let p = payload(ip);
            let key = endpoints(ip);
            for &(t, at, _) in &layout(p).extensions {
                let mut bad = p.to_vec();
                bad[at + 2..at + 4].copy_from_slice(&[0xff, 0xff]);
                let mut damaged = pkts.clone();
                damaged[i].1 = with_payload(ip, seq(ip), &bad);
                let got = records(&damaged);
                let what = format!("{name} {key:?}: extension {t} at {at}");
                check_damaged(&what, p, at, &clean[&key], &got[&key]);
                assert_eq!(got[&key].server_hello, clean[&key].server_hello, "{what}");
                for (k, r) in &clean {
                    if *k != key {
                        assert_eq!(&got[k], r, "{what}: another flow");
                    }
                }
                tried += 1;
            }
        }
    }
    assert!(tried >= 50, "{tried}");
}

/// A ClientHello cut short (the client's later segments lost, or the connection gone) in
/// the random, in the cipher suites, after the server name, after supported_versions and at
/// its last byte: what came of it is reported, flagged `malformed`.
#[test]
fn hello_cut_short() {
    let mut tried = 0;
    for (name, pkts) in real_packets() {
        let clean = records(&pkts);
        for i in whole_hellos(&pkts) {
            let ip = &pkts[i].1;
            let p = payload(ip);
            let key = endpoints(ip);
            let l = layout(p);
            let end_of = |t: u16| l.extensions.iter().find(|e| e.0 == t).unwrap().2;
            for cut in [
                l.version_end + 10,
                l.suites.0 + 5,
                end_of(0) + 1,
                end_of(43) + 1,
                p.len() - 1,
            ]
            .map(|c| c.min(p.len() - 1))
            {
                // The client's data stops there; everything else is as captured.
                let cut_pkts: Packets = pkts
                    .iter()
                    .enumerate()
                    .filter(|(k, (_, q))| {
                        *k <= i || tcp(q).is_none() || endpoints(q) != key || payload(q).is_empty()
                    })
                    .map(|(k, (t, q))| {
                        if k == i {
                            (*t, with_payload(q, seq(q), &p[..cut]))
                        } else {
                            (*t, q.clone())
                        }
                    })
                    .collect();
                let got = records(&cut_pkts);
                let what = format!("{name} {key:?}: cut at {cut}");
                check_damaged(&what, p, cut, &clean[&key], &got[&key]);
                tried += 1;
            }
        }
    }
    assert!(tried >= 30, "{tried}");
}
