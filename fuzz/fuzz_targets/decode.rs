//! The packet decoder, for every link type, fast path and general path alike.
#![no_main]
use helloscope_capture::decode::{decode_tcp, decode_tcp_general, LinkType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for link in [
        LinkType::Null,
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll2,
    ] {
        let fast = decode_tcp(link, data);
        let general = decode_tcp_general(link, data);
        // Where both decode a whole segment they must agree on it.
        if let (Ok(a), Ok(b)) = (&fast, &general) {
            if !a.truncated {
                assert_eq!(a, b);
            }
        }
    }
});
