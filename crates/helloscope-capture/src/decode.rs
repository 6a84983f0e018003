//! Link, network and transport decoding: from one captured frame to the TCP segment inside it.
//!
//! etherparse does the layers it knows (Ethernet with 802.1Q/QinQ, Linux SLL, IPv4, IPv6 and
//! its extension headers, TCP); the link headers it does not know (SLL2, BSD NULL/LOOP) are a
//! few fixed bytes and are read here.

use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

/// libpcap link-layer header types (LINKTYPE_*) this decoder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101, and DLT 12/14 on some systems): a bare IPv4 or IPv6 packet.
    Raw,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture v1 (`tcpdump -i any`, older libpcap).
    LinuxSll,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture v2.
    LinuxSll2,
}

impl LinkType {
    /// Maps a libpcap link-type number; `None` for the ones this decoder cannot read.
    pub fn from_linktype(n: i32) -> Option<Self> {
        Some(match n {
            0 => Self::Null,
            1 => Self::Ethernet,
            12 | 14 | 101 => Self::Raw,
            108 => Self::Loop,
            113 => Self::LinuxSll,
            228 => Self::Ipv4,
            229 => Self::Ipv6,
            276 => Self::LinuxSll2,
            _ => return None,
        })
    }
}

/// The TCP segment found in a frame, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// The segment's data, as captured.
    pub payload: &'a [u8],
    /// The capture kept fewer bytes than the segment carried (a small snap length): the rest
    /// of `payload` is missing.
    pub truncated: bool,
}

/// Why a frame gave no TCP segment. Each reason is counted, none is fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeSkip {
    /// The link header could not be read (too short, unknown address family …).
    BadLinkHeader,
    /// Neither IPv4 nor IPv6 (ARP, LLDP …).
    NotIp,
    /// The IP or TCP header is malformed, or cut short by the snap length.
    Malformed,
    /// A non-first IP fragment, or a first fragment (not reassembled).
    IpFragment,
    /// IP, but not TCP (UDP, ICMP …).
    NotTcp,
}

impl DecodeSkip {
    /// A short stable name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            Self::BadLinkHeader => "bad_link_header",
            Self::NotIp => "not_ip",
            Self::Malformed => "malformed",
            Self::IpFragment => "ip_fragment",
            Self::NotTcp => "not_tcp",
        }
    }
}

fn ethertype_for_af(af: u32) -> Option<u16> {
    match af {
        2 => Some(0x0800),
        // AF_INET6 differs by system: Linux 10, FreeBSD/NetBSD/OpenBSD 24, 28, 30.
        10 | 24 | 28 | 30 => Some(0x86dd),
        _ => None,
    }
}

/// Decodes one frame of link type `link` down to its TCP segment.
///
/// ```
/// use helloscope_capture::decode::{decode_tcp, LinkType};
/// // A raw IPv4 packet: 127.0.0.1:40000 -> 127.0.0.1:443, SYN, no payload.
/// let pkt = [
///     0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
///     0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
/// ];
/// let seg = decode_tcp(LinkType::Raw, &pkt).unwrap();
/// assert_eq!((seg.src_port, seg.dst_port, seg.syn), (40000, 443, true));
/// ```
#[inline(always)]
pub fn decode_tcp(link: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>, DecodeSkip> {
    // Most frames on a gateway are untagged Ethernet with IPv4 or IPv6 and TCP: read those
    // few fixed fields directly (the pipeline benchmark shows general slicing costing more
    // than the flow lookup itself); everything else goes through etherparse.
    let l3 = match link {
        LinkType::Ethernet => frame
            .get(14..)
            .map(|ip| (u16::from_be_bytes([frame[12], frame[13]]), ip)),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => match frame.first().map(|b| b >> 4) {
            Some(4) => Some((0x0800, frame)),
            Some(6) => Some((0x86dd, frame)),
            _ => None,
        },
        LinkType::LinuxSll => frame
            .get(16..)
            .map(|ip| (u16::from_be_bytes([frame[14], frame[15]]), ip)),
        LinkType::LinuxSll2 => frame
            .get(20..)
            .map(|ip| (u16::from_be_bytes([frame[0], frame[1]]), ip)),
        LinkType::Null | LinkType::Loop => None,
    };
    let fast = match l3 {
        Some((0x0800, ip)) => fast_ipv4(ip),
        Some((0x86dd, ip)) => fast_ipv6(ip),
        _ => None,
    };
    match fast {
        Some(seg) => Ok(seg),
        None => decode_tcp_general(link, frame),
    }
}

/// IPv4 without options problems, not fragmented, carrying TCP; `None` sends the packet to
/// the general decoder (which also reports what was wrong).
#[inline(always)]
fn fast_ipv4(ip: &[u8]) -> Option<TcpSegment<'_>> {
    let ihl = ((*ip.first()? & 0x0f) as usize) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl + 20 || ip[9] != 6 {
        return None;
    }
    // More-fragments flag or a fragment offset.
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if total < ihl + 20 {
        return None;
    }
    // Cut by the snap length: keep what was captured, and say so.
    let truncated = total > ip.len();
    let total = total.min(ip.len());
    let src = IpAddr::V4(std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    fast_tcp(src, dst, &ip[ihl..total], truncated)
}

/// IPv6 whose next header is TCP (no extension headers).
#[inline(always)]
fn fast_ipv6(ip: &[u8]) -> Option<TcpSegment<'_>> {
    if ip.len() < 40 + 20 || ip[0] >> 4 != 6 || ip[6] != 6 {
        return None;
    }
    let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    if plen < 20 {
        return None;
    }
    let truncated = 40 + plen > ip.len();
    let plen = plen.min(ip.len() - 40);
    let a: [u8; 16] = ip[8..24].try_into().ok()?;
    let b: [u8; 16] = ip[24..40].try_into().ok()?;
    fast_tcp(
        IpAddr::V6(a.into()),
        IpAddr::V6(b.into()),
        &ip[40..40 + plen],
        truncated,
    )
}

#[inline(always)]
fn fast_tcp(src: IpAddr, dst: IpAddr, tcp: &[u8], truncated: bool) -> Option<TcpSegment<'_>> {
    let doff = ((tcp.get(12)? >> 4) as usize) * 4;
    if doff < 20 || doff > tcp.len() {
        return None;
    }
    let flags = tcp[13];
    Some(TcpSegment {
        src,
        dst,
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        syn: flags & 0x02 != 0,
        ack: flags & 0x10 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: &tcp[doff..],
        truncated,
    })
}

/// The general decoder: every link type and header this crate reads, through etherparse.
#[cold]
#[inline(never)]
pub fn decode_tcp_general(link: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>, DecodeSkip> {
    let sliced = match link {
        // PPPoE session frames (RFC 2516), which etherparse does not read: Ethernet header,
        // six bytes of PPPoE, two of PPP protocol, then IP.
        LinkType::Ethernet if frame.get(12..14) == Some(&[0x88, 0x64]) => match frame.get(20..22) {
            Some([0x00, 0x21]) | Some([0x00, 0x57]) => SlicedPacket::from_ip(&frame[22..]),
            Some(_) => return Err(DecodeSkip::NotIp),
            None => return Err(DecodeSkip::BadLinkHeader),
        },
        LinkType::Ethernet => SlicedPacket::from_ethernet(frame),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => SlicedPacket::from_ip(frame),
        // SLL: packet type (2), ARPHRD (2), address length (2), address (8), protocol (2).
        // Read by hand: etherparse refuses ARPHRD types other than Ethernet, and `-i any`
        // captures loopback traffic as ARPHRD_LOOPBACK.
        LinkType::LinuxSll => {
            if frame.len() < 16 {
                return Err(DecodeSkip::BadLinkHeader);
            }
            let proto = u16::from_be_bytes([frame[14], frame[15]]);
            SlicedPacket::from_ether_type(etherparse::EtherType(proto), &frame[16..])
        }
        LinkType::LinuxSll2 => {
            // SLL2: protocol type (2), reserved (2), ifindex (4), ARPHRD (2), packet type (1),
            // address length (1), address (8).
            if frame.len() < 20 {
                return Err(DecodeSkip::BadLinkHeader);
            }
            let proto = u16::from_be_bytes([frame[0], frame[1]]);
            SlicedPacket::from_ether_type(etherparse::EtherType(proto), &frame[20..])
        }
        LinkType::Null | LinkType::Loop => {
            let Some(h) = frame.get(..4) else {
                return Err(DecodeSkip::BadLinkHeader);
            };
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
            let Some(et) = ethertype_for_af(af) else {
                return Err(DecodeSkip::BadLinkHeader);
            };
            SlicedPacket::from_ether_type(etherparse::EtherType(et), &frame[4..])
        }
    };
    let sliced = sliced.map_err(|_| DecodeSkip::Malformed)?;
    let (src, dst, fragmented) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.is_payload_fragmented(),
        ),
        Some(NetSlice::Ipv6(v6)) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.is_payload_fragmented(),
        ),
        _ => return Err(DecodeSkip::NotIp),
    };
    match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Ok(TcpSegment {
            src,
            dst,
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            truncated: false,
        }),
        Some(_) => Err(DecodeSkip::NotTcp),
        None if fragmented => Err(DecodeSkip::IpFragment),
        None => Err(DecodeSkip::NotTcp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_frame(payload: &[u8]) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1234, 1000)
            .ack(99)
            .psh();
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn fast_and_general_decoders_agree() {
        let mut frames = vec![v4_frame(b"hello"), v4_frame(b"")];
        // Ethernet padding after a short IPv4 packet must not become payload.
        let mut padded = v4_frame(b"");
        padded.extend_from_slice(&[0; 6]);
        frames.push(padded);
        let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 64)
            .tcp(1, 2, 3, 4)
            .syn();
        let mut v6 = Vec::new();
        b.write(&mut v6, b"x").unwrap();
        frames.push(v6);
        for f in &frames {
            assert_eq!(
                decode_tcp(LinkType::Ethernet, f),
                decode_tcp_general(LinkType::Ethernet, f)
            );
        }
        assert_eq!(
            decode_tcp(LinkType::Ethernet, &frames[2]).unwrap().payload,
            b""
        );
        // Cut short by the snap length: the fast path keeps what was captured and says so.
        let cut = &frames[0][..frames[0].len() - 2];
        let seg = decode_tcp(LinkType::Ethernet, cut).unwrap();
        assert!(seg.truncated);
        assert_eq!(seg.payload, b"hel");
        assert!(
            !decode_tcp(LinkType::Ethernet, &frames[0])
                .unwrap()
                .truncated
        );
    }
}
