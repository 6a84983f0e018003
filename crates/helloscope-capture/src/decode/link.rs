//! Link-layer headers: from a captured frame of a libpcap link type to the next layer.
//!
//! Ethernet is read by [`super::ethernet`]; the link headers etherparse does not know (BSD
//! NULL/LOOP, Linux SLL and SLL2 with any ARPHRD, PPP and Cisco HDLC framings) are a few
//! fixed bytes and are read here.

use super::{ppp, DecodeError, Layer, LinkType, Next};

fn ethertype_for_af(af: u32) -> Option<u16> {
    match af {
        2 => Some(0x0800),
        // AF_INET6 differs by system: Linux 10, FreeBSD/NetBSD/OpenBSD 24, 28, 30.
        10 | 24 | 28 | 30 => Some(0x86dd),
        _ => None,
    }
}

/// The layer after the link header of `frame`.
pub(crate) fn link_header(link: LinkType, frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let short = |layer, need| DecodeError::len(layer, need, frame.len());
    Ok(match link {
        LinkType::Ethernet => Next::Ethernet(frame),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Next::Ip(frame),
        // SLL: packet type (2), ARPHRD (2), address length (2), address (8), protocol (2).
        // Read by hand: etherparse refuses ARPHRD types other than Ethernet, and `-i any`
        // captures loopback traffic as ARPHRD_LOOPBACK.
        LinkType::LinuxSll => {
            let p = frame
                .get(14..16)
                .ok_or_else(|| short(Layer::LinuxSll, 16))?;
            Next::EtherType(
                Layer::LinuxSll,
                u16::from_be_bytes([p[0], p[1]]),
                &frame[16..],
            )
        }
        // SLL2: protocol type (2), reserved (2), ifindex (4), ARPHRD (2), packet type (1),
        // address length (1), address (8).
        LinkType::LinuxSll2 => {
            if frame.len() < 20 {
                return Err(short(Layer::LinuxSll2, 20));
            }
            Next::EtherType(
                Layer::LinuxSll2,
                u16::from_be_bytes([frame[0], frame[1]]),
                &frame[20..],
            )
        }
        LinkType::Null | LinkType::Loop => {
            let h = frame.get(..4).ok_or_else(|| short(Layer::Loopback, 4))?;
            let h = [h[0], h[1], h[2], h[3]];
            // NULL is in the capturing host's byte order, which the file does not record;
            // the family is small, so whichever reading is small is the right one.
            let af = if link == LinkType::Loop {
                u32::from_be_bytes(h)
            } else {
                let le = u32::from_le_bytes(h);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(h)
                }
            };
            // An unknown family is counted as a bad link header, as it always was.
            let t = ethertype_for_af(af)
                .ok_or_else(|| DecodeError::malformed(Layer::Loopback, "address family"))?;
            Next::EtherType(Layer::Loopback, t, &frame[4..])
        }
        // DLT 9: PPP (RFC 1661), with the HDLC-like address and control bytes (RFC 1662) when
        // the first two bytes are 0xff 0x03, as libpcap documents.
        LinkType::Ppp => match frame {
            [0xff, 0x03, rest @ ..] => ppp::protocol(rest)?,
            _ => ppp::protocol(frame)?,
        },
        // DLT 50: PPP in HDLC-like framing; some systems write Cisco HDLC frames under it.
        LinkType::PppHdlc => match frame {
            [0xff, 0x03, rest @ ..] => ppp::protocol(rest)?,
            [0x0f | 0x8f, ..] => cisco_hdlc(frame)?,
            [] => return Err(short(Layer::Ppp, 2)),
            _ => return Err(DecodeError::malformed(Layer::Ppp, "Address")),
        },
        LinkType::CiscoHdlc => cisco_hdlc(frame)?,
        // DLT 51: a PPPoE header without the Ethernet header before it.
        LinkType::PppEther => ppp::pppoe_session(frame)?,
    })
}

/// Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control (0), an EtherType.
fn cisco_hdlc(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    match frame {
        [0x0f | 0x8f, 0x00, a, b, rest @ ..] => Ok(Next::EtherType(
            Layer::CiscoHdlc,
            u16::from_be_bytes([*a, *b]),
            rest,
        )),
        [0x0f | 0x8f, 0x00, ..] | [0x0f | 0x8f] | [] => {
            Err(DecodeError::len(Layer::CiscoHdlc, 4, frame.len()))
        }
        [0x0f | 0x8f, ..] => Err(DecodeError::malformed(Layer::CiscoHdlc, "Control")),
        _ => Err(DecodeError::malformed(Layer::CiscoHdlc, "Address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppp_and_hdlc_headers() {
        let ip = [0x45u8, 0, 0, 20];
        // PPP with address/control, with a compressed protocol field, and bare.
        for f in [
            &[0xff, 0x03, 0x00, 0x21][..],
            &[0x21][..],
            &[0x00, 0x21][..],
        ] {
            let mut frame = f.to_vec();
            frame.extend_from_slice(&ip);
            match link_header(LinkType::Ppp, &frame) {
                Ok(Next::EtherType(Layer::Ppp, 0x0800, rest)) => assert_eq!(rest, ip),
                other => panic!("{f:?}: {other:?}"),
            }
        }
        // PPP IPv6 (0x0057) in HDLC framing.
        match link_header(LinkType::PppHdlc, &[0xff, 0x03, 0x00, 0x57, 0x60]) {
            Ok(Next::EtherType(Layer::Ppp, 0x86dd, [0x60])) => {}
            other => panic!("{other:?}"),
        }
        // Cisco HDLC: 0x0f, 0x00, EtherType 0x86dd; also under DLT 50.
        for link in [LinkType::CiscoHdlc, LinkType::PppHdlc] {
            match link_header(link, &[0x0f, 0x00, 0x86, 0xdd, 0x60]) {
                Ok(Next::EtherType(Layer::CiscoHdlc, 0x86dd, [0x60])) => {}
                other => panic!("{other:?}"),
            }
        }
        // The 4-byte header cut after 2.
        assert_eq!(
            link_header(LinkType::CiscoHdlc, &[0x0f, 0x00]).err(),
            Some(DecodeError::len(Layer::CiscoHdlc, 4, 2))
        );
    }

    #[test]
    fn pppoe_without_ethernet() {
        // ver/type 0x11, code 0 (session), session 0x1234, length 6, PPP 0x0021.
        let f = [0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0x00, 0x21, 0x45];
        match link_header(LinkType::PppEther, &f) {
            Ok(Next::EtherType(Layer::Ppp, 0x0800, [0x45])) => {}
            other => panic!("{other:?}"),
        }
    }
}
