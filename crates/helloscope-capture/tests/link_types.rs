//! Every link type the decoder reads, exercised on real traffic: the frames of
//! captures/openssl.pcap (Ethernet) rewritten with each other link header, as tcpdump on
//! other systems or interfaces would write them. Every variant must give the same flows.

use std::time::Duration;

use helloscope_capture::{Analyzer, FlowConfig, FlowRecord, LinkType, PacketSource};

/// Timestamped frames.
type Frames = Vec<(Duration, Vec<u8>)>;

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures/openssl.pcap");

fn ethernet_frames() -> Frames {
    let mut src = PacketSource::open_file(CAPTURE).unwrap();
    assert_eq!(src.link_type(), LinkType::Ethernet);
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        out.push((p.ts, p.data.to_vec()));
    }
    out
}

fn flows(link: LinkType, frames: &[(Duration, Vec<u8>)]) -> Vec<FlowRecord> {
    let mut a = Analyzer::new(FlowConfig::default());
    let mut out = Vec::new();
    for (ts, f) in frames {
        a.process(*ts, link, f, &mut |r| out.push(r));
    }
    a.finish(&mut |r| out.push(r));
    assert_eq!(
        a.stats().skipped.values().sum::<u64>(),
        0,
        "{link:?}: {:?}",
        a.stats().skipped
    );
    out.sort_by_key(|r| r.client.port());
    out
}

fn rewrite(
    frames: &[(Duration, Vec<u8>)],
    f: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<(Duration, Vec<u8>)> {
    frames.iter().map(|(t, d)| (*t, f(d))).collect()
}

#[test]
fn same_flows_under_every_link_header() {
    let eth = ethernet_frames();
    let want = flows(LinkType::Ethernet, &eth);
    assert_eq!(want.len(), 12);
    let ip = |d: &[u8]| d[14..].to_vec();
    let with = |prefix: &[u8]| {
        let prefix = prefix.to_vec();
        move |d: &[u8]| [prefix.as_slice(), &d[14..]].concat()
    };
    let vlan = |d: &[u8]| [&d[..12], &[0x81, 0x00, 0x00, 0x2a][..], &d[12..]].concat();
    let qinq = |d: &[u8]| {
        [
            &d[..12],
            &[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x2a][..],
            &d[12..],
        ]
        .concat()
    };
    // SLL: packet type, ARPHRD_ETHER, address length 6, address (8), protocol IPv4.
    let sll = with(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00]);
    // SLL2: protocol IPv4, reserved, ifindex 1, ARPHRD_ETHER, packet type, address length.
    let sll2 = with(&[
        0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ]);
    let cases: Vec<(&str, LinkType, Frames)> = vec![
        ("802.1Q", LinkType::Ethernet, rewrite(&eth, vlan)),
        ("QinQ", LinkType::Ethernet, rewrite(&eth, qinq)),
        ("raw IP", LinkType::Raw, rewrite(&eth, ip)),
        ("LINKTYPE_IPV4", LinkType::Ipv4, rewrite(&eth, ip)),
        (
            "BSD NULL, little-endian AF_INET",
            LinkType::Null,
            rewrite(&eth, with(&[2, 0, 0, 0])),
        ),
        (
            "BSD NULL, big-endian AF_INET",
            LinkType::Null,
            rewrite(&eth, with(&[0, 0, 0, 2])),
        ),
        (
            "OpenBSD LOOP",
            LinkType::Loop,
            rewrite(&eth, with(&[0, 0, 0, 2])),
        ),
        ("Linux SLL", LinkType::LinuxSll, rewrite(&eth, sll)),
        ("Linux SLL2", LinkType::LinuxSll2, rewrite(&eth, sll2)),
        // PPP protocol 0x0021 (IPv4): bare, with HDLC address and control, compressed.
        ("PPP", LinkType::Ppp, rewrite(&eth, with(&[0x00, 0x21]))),
        (
            "PPP with address and control",
            LinkType::Ppp,
            rewrite(&eth, with(&[0xff, 0x03, 0x00, 0x21])),
        ),
        (
            "PPP, protocol field compressed",
            LinkType::Ppp,
            rewrite(&eth, with(&[0x21])),
        ),
        (
            "PPP in HDLC framing",
            LinkType::PppHdlc,
            rewrite(&eth, with(&[0xff, 0x03, 0x00, 0x21])),
        ),
        (
            "Cisco HDLC",
            LinkType::CiscoHdlc,
            rewrite(&eth, with(&[0x0f, 0x00, 0x08, 0x00])),
        ),
        // PPPoE session header (version/type 0x11, code 0, session 0x0001, length), PPP.
        (
            "PPP over Ethernet without Ethernet",
            LinkType::PppEther,
            rewrite(
                &eth,
                with(&[0x11, 0x00, 0x00, 0x01, 0x05, 0xdc, 0x00, 0x21]),
            ),
        ),
        (
            "PPPoE",
            LinkType::Ethernet,
            rewrite(&eth, |d| {
                [
                    &d[..12],
                    &[0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x05, 0xdc, 0x00, 0x21][..],
                    &d[14..],
                ]
                .concat()
            }),
        ),
    ];
    for (name, link, frames) in cases {
        assert_eq!(flows(link, &frames), want, "{name}");
    }
}

#[test]
fn unsupported_and_broken_link_headers_are_counted_not_fatal() {
    let eth = ethernet_frames();
    // An unknown address family under NULL, and frames too short for their link header.
    let bad_af = rewrite(&eth, |d| [&[99, 0, 0, 0][..], &d[14..]].concat());
    let mut a = Analyzer::new(FlowConfig::default());
    for (ts, f) in &bad_af {
        a.process(*ts, LinkType::Null, f, &mut |_| {
            panic!("no flow from garbage")
        });
    }
    a.process(Duration::ZERO, LinkType::LinuxSll2, &[0x08], &mut |_| {});
    a.process(Duration::ZERO, LinkType::Ethernet, &[], &mut |_| {});
    let s = a.stats();
    assert_eq!(
        s.skipped[&helloscope_capture::DecodeSkip::BadLinkHeader],
        bad_af.len() as u64 + 2
    );
    assert_eq!(s.packets, bad_af.len() as u64 + 2);
}
