//! The packet decoder, for every link type, fast path and general path alike, through every
//! tunnel decoder; and the IP reassembler, fed the fragments the decoder finds (the input is
//! also cut into frames, so that several fragments of one datagram meet).
#![no_main]
use std::time::Duration;

use helloscope_capture::decode::{
    decode_packet, decode_reassembled, decode_tcp, decode_tcp_general, Decoded, LinkType,
};
use helloscope_capture::defrag::{DefragConfig, Defragmenter};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 12] = [
    LinkType::Null,
    LinkType::Ethernet,
    LinkType::Ppp,
    LinkType::PppHdlc,
    LinkType::PppEther,
    LinkType::Raw,
    LinkType::CiscoHdlc,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll2,
];

fuzz_target!(|data: &[u8]| {
    for link in LINKS {
        let fast = decode_tcp(link, data);
        let general = decode_tcp_general(link, data);
        // Where both decode a whole segment they must agree on it.
        if let (Ok(a), Ok(b)) = (&fast, &general) {
            if !a.truncated {
                assert_eq!(a, b);
            }
        }
        if let Ok(Decoded::Tcp(s)) = decode_packet(link, data) {
            assert_eq!(Ok(s), fast);
        }
    }
    // The first byte picks a link type, the rest is frames separated by 0xff.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let mut cfg = DefragConfig::default();
    cfg.max_bytes = 1 << 16;
    cfg.max_datagrams = 4;
    cfg.timeout = Duration::from_secs(2);
    let mut d = Defragmenter::new(cfg);
    for (i, frame) in rest.split(|&b| b == 0xff).enumerate() {
        let ts = Duration::from_millis(i as u64 * 300);
        let Ok(Decoded::Fragment(f)) = decode_packet(link, frame) else {
            continue;
        };
        let mut whole = d.push(&f, ts);
        for _ in 0..4 {
            let Some(w) = whole.take() else { break };
            if let Ok(Decoded::Fragment(inner)) =
                decode_reassembled(w.src, w.dst, w.protocol, &w.data, w.tunnel)
            {
                whole = d.push(&inner, ts);
            }
        }
        assert!(d.held_bytes() <= 1 << 16);
        assert!(d.open_datagrams() <= 4);
    }
});
