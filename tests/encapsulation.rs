//! Every flow of the real captures in `captures/`, carried every way the decoder reads:
//! each IP packet re-written inside each encapsulation (and nested ones), and fragmented at
//! several sizes (IPv4 and IPv6, in order and reversed, inside and outside tunnels). The
//! generator is deterministic; the pcap files are written with the benchmarks' writer and
//! read by the helloscope binary. Every record of a re-written capture must be the record
//! of the plain capture, with the `tunnel` key naming the encapsulation, and `--threads 2`
//! must give what one thread gives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use helloscope_capture::LinkType;

#[path = "../benches/gen/mod.rs"]
mod gen;

use gen::ip_packets::Packets;

/// The IP packets of every TCP capture in `captures/`, each capture on its own.
fn real_packets() -> Vec<(&'static str, Packets)> {
    gen::ip_packets::of_tcp_captures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"))
}

fn is_v6(ip: &[u8]) -> bool {
    ip[0] >> 4 == 6
}

fn ether_type(ip: &[u8]) -> [u8; 2] {
    if is_v6(ip) {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

/// The IP protocol number that carries `ip` inside another IP header.
fn ip_in_ip(ip: &[u8]) -> u8 {
    if is_v6(ip) {
        41
    } else {
        4
    }
}

fn eth(ether_type: [u8; 2], payload: &[u8]) -> Vec<u8> {
    [
        &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1][..],
        &ether_type,
        payload,
    ]
    .concat()
}

fn eth_ip(ip: &[u8]) -> Vec<u8> {
    eth(ether_type(ip), ip)
}

fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header (no options) with `protocol`, identification `id`, fragment offset (in
/// bytes) and more-fragments flag, before `payload`.
fn ipv4_frag(protocol: u8, id: u16, offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    let frag = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = protocol;
    h[12..16].copy_from_slice(&[192, 0, 2, 10]);
    h[16..20].copy_from_slice(&[192, 0, 2, 20]);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    [&h[..], payload].concat()
}

fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_frag(protocol, 1, 0, false, payload)
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb]);
    [&h[..], payload].concat()
}

/// A UDP datagram (checksum 0: the decoder does not check it).
fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    [
        &src.to_be_bytes()[..],
        &dst.to_be_bytes(),
        &len.to_be_bytes(),
        &[0, 0],
        payload,
    ]
    .concat()
}

fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    [&[0x08, 0, 0, 0, v[1], v[2], v[3], 0][..], frame].concat()
}

/// GRE with the flags asked for (checksum, key, sequence).
fn gre(csum: bool, key: Option<u32>, seq: Option<u32>, proto: [u8; 2], payload: &[u8]) -> Vec<u8> {
    let flags =
        u16::from(csum) << 15 | u16::from(key.is_some()) << 13 | u16::from(seq.is_some()) << 12;
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto);
    if csum {
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    if let Some(k) = key {
        g.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = seq {
        g.extend_from_slice(&s.to_be_bytes());
    }
    [&g[..], payload].concat()
}

fn erspan2(session: u16, frame: &[u8]) -> Vec<u8> {
    let s = session.to_be_bytes();
    let h = [0x10, 0x2a, s[0] & 0x03, s[1], 0, 0, 0, 7];
    gre(
        false,
        None,
        Some(1),
        [0x88, 0xbe],
        &[&h[..], frame].concat(),
    )
}

fn erspan3(session: u16, frame: &[u8]) -> Vec<u8> {
    let s = session.to_be_bytes();
    let h = [0x20, 0x00, s[0] & 0x03, s[1], 1, 2, 3, 4, 0, 0, 0, 0];
    gre(
        false,
        None,
        Some(1),
        [0x22, 0xeb],
        &[&h[..], frame].concat(),
    )
}

fn geneve(vni: u32, proto: [u8; 2], payload: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    // Two words of options: class 0x0102, type 3, length 1 word, 4 bytes of data.
    let h = [
        0x02, 0, proto[0], proto[1], v[1], v[2], v[3], 0, 0x01, 0x02, 0x03, 0x01, 9, 9, 9, 9,
    ];
    [&h[..], payload].concat()
}

/// GTP-U G-PDU with a sequence number and one PDU session container extension header.
fn gtpu(teid: u32, ip: &[u8]) -> Vec<u8> {
    let body = [&[0u8, 1, 0, 0x85, 1, 0x10, 0x09, 0x00][..], ip].concat();
    let mut h = vec![0x36, 0xff];
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&teid.to_be_bytes());
    [&h[..], &body].concat()
}

/// MPLS label stack entries, the last with the bottom-of-stack bit.
fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        out.extend_from_slice(&(l << 12 | bos << 8 | 64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// An encapsulation: its name, the link type of the frames it writes, what it does to an
/// IP packet, and the `tunnel` value the records must carry.
struct Encap {
    name: &'static str,
    link: u32,
    wrap: fn(&[u8]) -> Vec<u8>,
    tunnel: &'static [&'static str],
}

fn encapsulations() -> Vec<Encap> {
    vec![
        Encap {
            name: "ip-in-ipv4",
            link: 1,
            wrap: |ip| eth_ip(&ipv4(ip_in_ip(ip), ip)),
            tunnel: &["ipv4"],
        },
        Encap {
            name: "ip-in-ipv6",
            link: 1,
            wrap: |ip| eth_ip(&ipv6(ip_in_ip(ip), ip)),
            tunnel: &["ipv6"],
        },
        Encap {
            name: "gre",
            link: 1,
            wrap: |ip| eth_ip(&ipv4(47, &gre(false, None, None, ether_type(ip), ip))),
            tunnel: &["gre"],
        },
        Encap {
            name: "gre-key-seq-csum-over-ipv6",
            link: 1,
            wrap: |ip| eth_ip(&ipv6(47, &gre(true, Some(7), Some(99), ether_type(ip), ip))),
            tunnel: &["gre:key=7"],
        },
        Encap {
            name: "gre-transparent-ethernet",
            link: 1,
            wrap: |ip| {
                eth_ip(&ipv4(
                    47,
                    &gre(false, Some(9), None, [0x65, 0x58], &eth_ip(ip)),
                ))
            },
            tunnel: &["gre:key=9"],
        },
        Encap {
            name: "erspan1",
            link: 1,
            wrap: |ip| {
                eth_ip(&ipv4(
                    47,
                    &gre(false, None, None, [0x88, 0xbe], &eth_ip(ip)),
                ))
            },
            tunnel: &["erspan1"],
        },
        Encap {
            name: "erspan2",
            link: 1,
            wrap: |ip| eth_ip(&ipv4(47, &erspan2(3, &eth_ip(ip)))),
            tunnel: &["erspan2:session=3"],
        },
        Encap {
            name: "erspan3",
            link: 1,
            wrap: |ip| eth_ip(&ipv4(47, &erspan3(1000, &eth_ip(ip)))),
            tunnel: &["erspan3:session=1000"],
        },
        Encap {
            name: "vxlan",
            link: 1,
            wrap: |ip| eth_ip(&ipv4(17, &udp(51000, 4789, &vxlan(5001, &eth_ip(ip))))),
            tunnel: &["vxlan:vni=5001"],
        },
        Encap {
            name: "vxlan-linux-port-over-ipv6",
            link: 1,
            wrap: |ip| eth_ip(&ipv6(17, &udp(51000, 8472, &vxlan(1, &eth_ip(ip))))),
            tunnel: &["vxlan:vni=1"],
        },
        Encap {
            name: "geneve-ethernet",
            link: 1,
            wrap: |ip| {
                eth_ip(&ipv4(
                    17,
                    &udp(40000, 6081, &geneve(77, [0x65, 0x58], &eth_ip(ip))),
                ))
            },
            tunnel: &["geneve:vni=77"],
        },
        Encap {
            name: "geneve-ip",
            link: 1,
            wrap: |ip| {
                eth_ip(&ipv4(
                    17,
                    &udp(40000, 6081, &geneve(78, ether_type(ip), ip)),
                ))
            },
            tunnel: &["geneve:vni=78"],
        },
        Encap {
            name: "gtpu",
            link: 1,
            wrap: |ip| eth_ip(&ipv6(17, &udp(2152, 2152, &gtpu(0x0102_0304, ip)))),
            tunnel: &["gtpu:teid=16909060"],
        },
        Encap {
            name: "mpls-over-ethernet",
            link: 1,
            wrap: |ip| eth([0x88, 0x47], &mpls(&[16, 17], ip)),
            tunnel: &["mpls:label=16", "mpls:label=17"],
        },
        Encap {
            name: "mpls-in-gre",
            link: 1,
            wrap: |ip| {
                eth_ip(&ipv4(
                    47,
                    &gre(false, None, None, [0x88, 0x47], &mpls(&[100], ip)),
                ))
            },
            tunnel: &["gre", "mpls:label=100"],
        },
        Encap {
            name: "mpls-pseudo-wire-control-word",
            link: 1,
            wrap: |ip| {
                eth(
                    [0x88, 0x47],
                    &mpls(&[200], &[&[0, 0, 0, 0][..], &eth_ip(ip)].concat()),
                )
            },
            tunnel: &["mpls:label=200"],
        },
        Encap {
            name: "mpls-then-erspan2",
            link: 1,
            wrap: |ip| {
                eth(
                    [0x88, 0x47],
                    &mpls(&[16], &ipv4(47, &erspan2(3, &eth_ip(ip)))),
                )
            },
            tunnel: &["mpls:label=16", "erspan2:session=3"],
        },
        Encap {
            name: "gre-then-vxlan-over-vlan",
            link: 1,
            wrap: |ip| {
                let inner = ipv4(17, &udp(1, 4789, &vxlan(5001, &eth_ip(ip))));
                let outer = ipv6(47, &gre(false, Some(7), None, [0x08, 0x00], &inner));
                eth([0x81, 0x00], &[&[0, 42, 0x86, 0xdd][..], &outer].concat())
            },
            tunnel: &["gre:key=7", "vxlan:vni=5001"],
        },
        Encap {
            name: "ipv4-in-ipv6-then-vxlan-then-gtpu",
            link: 1,
            wrap: |ip| {
                let g = ipv4(17, &udp(2152, 2152, &gtpu(9, ip)));
                let v = ipv4(17, &udp(1, 4789, &vxlan(1, &eth_ip(&g))));
                eth_ip(&ipv6(4, &v))
            },
            tunnel: &["ipv6", "vxlan:vni=1", "gtpu:teid=9"],
        },
        Encap {
            name: "pppoe-then-geneve",
            link: 1,
            wrap: |ip| {
                let g = ipv4(17, &udp(1, 6081, &geneve(5, ether_type(ip), ip)));
                let ppp = [&[0x11, 0, 0, 1, 0, 0, 0x00, 0x21][..], &g].concat();
                eth([0x88, 0x64], &ppp)
            },
            tunnel: &["geneve:vni=5"],
        },
        Encap {
            name: "ppp-link-then-gre",
            link: 9,
            wrap: |ip| {
                let g = ipv4(47, &gre(false, Some(1), None, ether_type(ip), ip));
                [&[0xff, 0x03, 0x00, 0x21][..], &g].concat()
            },
            tunnel: &["gre:key=1"],
        },
        Encap {
            name: "cisco-hdlc-link-then-mpls",
            link: 104,
            wrap: |ip| [&[0x0f, 0x00, 0x88, 0x47][..], &mpls(&[300], ip)].concat(),
            tunnel: &["mpls:label=300"],
        },
    ]
}

/// Cuts `ip` into fragments whose IP packets are at most `size` bytes (unchanged when it
/// fits). IPv6 gets a Fragment header after its fixed header.
fn fragment(ip: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    if ip.len() <= size {
        return vec![ip.to_vec()];
    }
    if is_v6(ip) {
        let next = ip[6];
        let payload = &ip[40..];
        let chunk = (size - 48) / 8 * 8;
        let mut out = Vec::new();
        for (i, c) in payload.chunks(chunk).enumerate() {
            let offset = i * chunk;
            let more = offset + c.len() < payload.len();
            let word = (offset as u16) | u16::from(more);
            let mut f = vec![next, 0];
            f.extend_from_slice(&word.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(c);
            let mut p = ip[..40].to_vec();
            p[4..6].copy_from_slice(&(f.len() as u16).to_be_bytes());
            p[6] = 44;
            p.extend_from_slice(&f);
            out.push(p);
        }
        out
    } else {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let payload = &ip[ihl..];
        let chunk = (size - ihl) / 8 * 8;
        let mut out = Vec::new();
        for (i, c) in payload.chunks(chunk).enumerate() {
            let offset = i * chunk;
            let more = offset + c.len() < payload.len();
            let mut h = ip[..ihl].to_vec();
            h[2..4].copy_from_slice(&((ihl + c.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&(id as u16).to_be_bytes());
            let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&word.to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let sum = checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(c);
            out.push(h);
        }
        out
    }
}

fn out_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("helloscope-encap-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(path: &Path, link: u32, frames: &[(Duration, Vec<u8>)]) {
    let mut w = gen::PcapWriter::with_link_type(Vec::new(), link);
    for (ts, f) in frames {
        w.frame(*ts, f);
    }
    std::fs::write(path, &w.w).unwrap();
}

/// The records helloscope writes for `path`, keyed by client and server (the `source` key
/// dropped), and its counters line.
fn records(path: &Path, threads: usize) -> (BTreeMap<String, serde_json::Value>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args([
            "analyze",
            "--format",
            "jsonl",
            "--threads",
            &threads.to_string(),
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut out = BTreeMap::new();
    for l in String::from_utf8(o.stdout).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        v.as_object_mut().unwrap().remove("source");
        let key = format!(
            "{}:{} {}:{} {}",
            v["client_ip"], v["client_port"], v["server_ip"], v["server_port"], v["ts"]
        );
        assert!(out.insert(key, v).is_none(), "two records of one flow");
    }
    (out, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The plain records of each capture (Ethernet, the IP packets as captured).
fn plain(dir: &Path, name: &str, pkts: &Packets) -> BTreeMap<String, serde_json::Value> {
    let path = dir.join(format!("{name}.plain.pcap"));
    let frames: Packets = pkts.iter().map(|(t, ip)| (*t, eth_ip(ip))).collect();
    write(&path, 1, &frames);
    let (r, _) = records(&path, 1);
    assert!(r.len() >= 3, "{name}: {} records", r.len());
    assert!(r.values().all(|v| v.get("tunnel").is_none()));
    r
}

/// `want` with `tunnel` set on every record.
fn with_tunnel(
    want: &BTreeMap<String, serde_json::Value>,
    tunnel: &[&str],
) -> BTreeMap<String, serde_json::Value> {
    want.iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            if !tunnel.is_empty() {
                v["tunnel"] = serde_json::json!(tunnel);
            }
            (k.clone(), v)
        })
        .collect()
}

#[test]
fn every_encapsulation_gives_the_plain_records() {
    let dir = out_dir("every_encaps");
    for (name, pkts) in real_packets() {
        let want = plain(&dir, name, &pkts);
        for e in encapsulations() {
            let path = dir.join(format!("{name}.{}.pcap", e.name));
            let frames: Packets = pkts.iter().map(|(t, ip)| (*t, (e.wrap)(ip))).collect();
            write(&path, e.link, &frames);
            let (got, _) = records(&path, 1);
            assert_eq!(got, with_tunnel(&want, e.tunnel), "{name} in {}", e.name);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fragmented_packets_give_the_plain_records_with_one_thread_or_two() {
    let dir = out_dir("fragmented_p");
    for (name, pkts) in real_packets() {
        let want = plain(&dir, name, &pkts);
        for size in [256, 576, 1280] {
            for reversed in [false, true] {
                let mut frames = Packets::new();
                for (i, (t, ip)) in pkts.iter().enumerate() {
                    let mut frags = fragment(ip, size, i as u32 + 1);
                    if reversed {
                        frags.reverse();
                    }
                    frames.extend(frags.iter().map(|f| (*t, eth_ip(f))));
                }
                assert!(
                    frames.len() > pkts.len() || size == 1280,
                    "{name} at {size}"
                );
                let path = dir.join(format!("{name}.frag{size}.{reversed}.pcap"));
                write(&path, 1, &frames);
                let (got, counters) = records(&path, 1);
                assert_eq!(
                    got, want,
                    "{name} fragmented at {size}, reversed {reversed}"
                );
                let (got2, counters2) = records(&path, 2);
                assert_eq!(got2, want, "{name} at {size}, two threads\n{counters}");
                // The same counters too (packets, reassembled datagrams …).
                let without_memory = |c: &str| c.split(", peak memory").next().unwrap().to_owned();
                assert_eq!(without_memory(&counters2), without_memory(&counters));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fragmented tunnel (the outer VXLAN packets cut at 576 bytes), and fragments inside a
/// tunnel (the inner packets cut at 256 bytes, each fragment carried in GRE).
#[test]
fn fragments_outside_and_inside_tunnels() {
    let dir = out_dir("fragments_ou");
    for (name, pkts) in real_packets() {
        let want = plain(&dir, name, &pkts);
        let mut outer = Packets::new();
        let mut inner = Packets::new();
        for (i, (t, ip)) in pkts.iter().enumerate() {
            let v = ipv4_frag(17, 1, 0, false, &udp(9, 4789, &vxlan(5001, &eth_ip(ip))));
            for f in fragment(&v, 576, i as u32 + 1).into_iter().rev() {
                outer.push((*t, eth_ip(&f)));
            }
            for f in fragment(ip, 256, i as u32 + 1) {
                let g = ipv6(47, &gre(false, Some(7), None, ether_type(&f), &f));
                inner.push((*t, eth_ip(&g)));
            }
        }
        for (what, frames, tunnel) in [
            ("outer", outer, &["vxlan:vni=5001"][..]),
            ("inner", inner, &["gre:key=7"][..]),
        ] {
            let path = dir.join(format!("{name}.{what}-frag.pcap"));
            write(&path, 1, &frames);
            let want = with_tunnel(&want, tunnel);
            assert_eq!(records(&path, 1).0, want, "{name}: {what}");
            assert_eq!(records(&path, 2).0, want, "{name}: {what}, two threads");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One connection seen on two mirrored paths (two VXLAN networks) is two flows, told apart
/// by their `tunnel`.
#[test]
fn one_flow_on_two_mirrored_paths_is_two_records() {
    let dir = out_dir("one_flow_on_");
    let (name, pkts) = real_packets().remove(0);
    let want = plain(&dir, name, &pkts);
    let mut frames = Packets::new();
    for (t, ip) in &pkts {
        for vni in [10, 20] {
            let f = eth_ip(&ipv4(17, &udp(1, 4789, &vxlan(vni, &eth_ip(ip)))));
            frames.push((*t, f));
        }
    }
    let path = dir.join("mirrored.pcap");
    write(&path, 1, &frames);
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl"])
        .arg(&path)
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2 * want.len());
    for vni in ["vxlan:vni=10", "vxlan:vni=20"] {
        assert_eq!(
            lines.iter().filter(|v| v["tunnel"][0] == vni).count(),
            want.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every encapsulated frame cut at every length, and with each byte changed, decodes to a
/// result or a counted reason, never a panic; the analyzer takes them all.
#[test]
fn damaged_tunnel_frames_are_counted_not_fatal() {
    let (_, pkts) = real_packets().remove(0);
    let ip = &pkts.iter().max_by_key(|p| p.1.len()).unwrap().1[..];
    for e in encapsulations() {
        let frame = (e.wrap)(ip);
        let link = LinkType::from_linktype(e.link as i32).unwrap();
        let mut a = helloscope_capture::Analyzer::new(helloscope_capture::FlowConfig::default());
        let mut n = 0;
        for cut in 0..frame.len().min(200) {
            a.process(Duration::ZERO, link, &frame[..cut], &mut |_| {});
            n += 1;
        }
        for at in 0..frame.len().min(200) {
            for x in [0x00, 0xff, frame[at] ^ 0x08] {
                let mut f = frame.clone();
                f[at] = x;
                let _ = helloscope_capture::decode_packet(link, &f);
                a.process(Duration::ZERO, link, &f, &mut |_| {});
                n += 1;
            }
        }
        a.finish(&mut |_| {});
        assert_eq!(a.stats().packets, n, "{}", e.name);
    }
}

/// Captures taken on the sending host with segmentation offload hold IPv4 packets whose
/// total length is 0: the length is taken from the captured bytes, as Wireshark does, and
/// the records are the plain capture's.
#[test]
fn ipv4_total_length_zero_is_read_from_the_captured_bytes() {
    let dir = out_dir("offload");
    let mut tried = 0;
    for (name, pkts) in real_packets() {
        if pkts.iter().all(|(_, ip)| is_v6(ip)) {
            continue;
        }
        let want = plain(&dir, name, &pkts);
        let frames: Packets = pkts
            .iter()
            .map(|(t, ip)| {
                let mut ip = ip.clone();
                if !is_v6(&ip) {
                    ip[2..4].copy_from_slice(&[0, 0]);
                    ip[10..12].copy_from_slice(&[0, 0]);
                    let sum = checksum(&ip[..20]);
                    ip[10..12].copy_from_slice(&sum.to_be_bytes());
                }
                (*t, eth_ip(&ip))
            })
            .collect();
        let path = dir.join(format!("{name}.offload.pcap"));
        write(&path, 1, &frames);
        assert_eq!(records(&path, 1).0, want, "{name}");
        tried += 1;
    }
    assert!(tried >= 2);
    let _ = std::fs::remove_dir_all(&dir);
}
