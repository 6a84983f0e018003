//! Decode errors name the layer where decoding stopped and, for a header cut short, the bytes
//! it needed and the bytes there were. Real frames of the bundled captures are cut at the
//! header boundaries; the expected lengths are the headers' own (Ethernet II 14 bytes, IPv4
//! IHL × 4, IPv6 40, TCP Data Offset × 4, Linux cooked 16 and 20), read from the frames'
//! fields, not from the decoder.

use std::time::Duration;

use helloscope_capture::decode::{decode_packet, DecodeError, DecodeSkip, Layer, LenError};
use helloscope_capture::{Analyzer, FlowConfig, LinkType, PacketSource};

fn capture(name: &str) -> String {
    format!("{}/../../captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The first frame of `file` whose TCP segment carries data, and the link type.
fn first_data_frame(file: &str) -> (LinkType, Vec<u8>) {
    let mut src = PacketSource::open_file(&capture(file)).unwrap();
    while let Some(p) = src.next_packet().unwrap() {
        if let Ok(helloscope_capture::Decoded::Tcp(s)) = decode_packet(p.link, p.data) {
            if !s.payload.is_empty() {
                return (p.link, p.data.to_vec());
            }
        }
    }
    panic!("{file}: no TCP segment with data");
}

fn len_error(link: LinkType, frame: &[u8]) -> LenError {
    match decode_packet(link, frame) {
        Err(DecodeError::Len(e)) => e,
        other => panic!("{} bytes: {other:?}", frame.len()),
    }
}

#[test]
fn a_real_ethernet_frame_cut_at_every_layer() {
    let (link, frame) = first_data_frame("openssl.pcap");
    assert_eq!(link, LinkType::Ethernet);
    assert_eq!(&frame[12..14], [0x08, 0x00], "IPv4");
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let doff = usize::from(frame[14 + ihl + 12] >> 4) * 4;
    let tcp = 14 + ihl;

    for (cut, layer, required, present) in [
        (0, Layer::Ethernet, 14, 0),
        (10, Layer::Ethernet, 14, 10),
        (14 + 12, Layer::Ipv4, 20, 12),
        (tcp + 12, Layer::Tcp, 20, 12),
        // Past the fixed part, inside the options the Data Offset announces.
        (tcp + 20 + 4, Layer::Tcp, doff, 24),
    ] {
        if required <= present {
            continue; // a TCP header without options has nothing to cut inside them
        }
        let e = len_error(link, &frame[..cut]);
        assert_eq!(
            (e.layer, e.required_len, e.len, e.missing()),
            (layer, required, present, required - present),
            "cut at {cut}"
        );
    }
    // The link layer counts as a bad link header, the others as malformed.
    let mut a = Analyzer::new(FlowConfig::default());
    for cut in [10, 14 + 12, tcp + 12] {
        a.process(Duration::ZERO, link, &frame[..cut], &mut |_| {});
    }
    let s = a.stats();
    assert_eq!(s.skipped[&DecodeSkip::BadLinkHeader], 1);
    assert_eq!(s.skipped[&DecodeSkip::Malformed], 2);
}

#[test]
fn cooked_captures_and_ipv6_cut_short() {
    let (link, frame) = first_data_frame("ipv6.pcap");
    assert_eq!(link, LinkType::LinuxSll);
    assert_eq!(&frame[14..16], [0x86, 0xdd], "IPv6");
    let e = len_error(link, &frame[..10]);
    assert_eq!((e.layer, e.required_len, e.len), (Layer::LinuxSll, 16, 10));
    let e = len_error(link, &frame[..16 + 20]);
    assert_eq!((e.layer, e.required_len, e.len), (Layer::Ipv6, 40, 20));
    assert_eq!(
        DecodeError::Len(e).to_string(),
        "IPv6 header cut short: 40 bytes needed, 20 present"
    );

    let (link, frame) = first_data_frame("libraries.pcap");
    assert_eq!(link, LinkType::LinuxSll2);
    let e = len_error(link, &frame[..12]);
    assert_eq!((e.layer, e.required_len, e.len), (Layer::LinuxSll2, 20, 12));
}

#[test]
fn what_a_layer_announces_and_is_not_decoded() {
    let (link, frame) = first_data_frame("openssl.pcap");
    // The EtherType made ARP's (0x0806): not IP, at the Ethernet layer.
    let mut arp = frame.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let e = decode_packet(link, &arp).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Unsupported {
            layer: Layer::Ethernet,
            protocol: 0x0806
        }
    );
    assert_eq!(e.skip(), DecodeSkip::NotIp);
    // The IPv4 protocol made ICMP's (1): IP, not TCP. (The header checksum is not checked.)
    let mut icmp = frame.clone();
    icmp[14 + 9] = 1;
    let e = decode_packet(link, &icmp).unwrap_err();
    assert_eq!(
        (e, e.skip(), e.layer()),
        (
            DecodeError::Unsupported {
                layer: Layer::Ipv4,
                protocol: 1
            },
            DecodeSkip::NotTcp,
            Some(Layer::Ipv4)
        )
    );
    // Version 5 in the version nibble: the IP header's Version field.
    let mut v5 = frame.clone();
    v5[14] = 0x55;
    assert_eq!(
        decode_packet(link, &v5).unwrap_err(),
        DecodeError::Malformed {
            layer: Layer::Ip,
            field: "Version"
        }
    );
    // A TCP Data Offset of 4 words, less than the 5 of the fixed header.
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let mut doff = frame.clone();
    doff[14 + ihl + 12] = 0x40 | (doff[14 + ihl + 12] & 0x0f);
    assert_eq!(
        decode_packet(link, &doff).unwrap_err(),
        DecodeError::Malformed {
            layer: Layer::Tcp,
            field: "Data Offset"
        }
    );
}

/// An IPv6 hop-by-hop header (RFC 8200 section 4.3: Hdr Ext Len in 8-octet units, not
/// counting the first 8) announcing 16 bytes of which 8 were captured.
#[test]
fn an_ipv6_extension_header_cut_short() {
    let mut ip = vec![0x60, 0, 0, 0, 0, 16, 0, 64];
    ip.extend_from_slice(&[1; 16]);
    ip.extend_from_slice(&[2; 16]);
    ip.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0]);
    let e = len_error(LinkType::Raw, &ip);
    assert_eq!(
        (e.layer, e.required_len, e.len),
        (Layer::Ipv6Extension, 16, 8)
    );
    assert_eq!(DecodeError::Len(e).skip(), DecodeSkip::Malformed);
}
