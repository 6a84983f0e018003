//! Link, network and transport decoding: from one captured frame to the TCP segment (or UDP
//! datagram, or IP fragment) inside it, through any stack of tunnels.
//!
//! One decoder per layer: the link headers of each libpcap link type, Ethernet and
//! its tags, PPP and PPPoE, IP (etherparse's lax slices), GRE and ERSPAN, MPLS, and the UDP
//! tunnels VXLAN, GENEVE and GTP-U. Plain Ethernet/IPv4/IPv6 with TCP is read at fixed
//! offsets ([`decode_tcp`]'s fast path); everything else walks the layers once each,
//! collecting the encapsulations in a [`TunnelStack`] (no allocation).

use std::net::IpAddr;

mod error;
mod ethernet;
mod gre;
mod ip;
mod link;
mod mpls;
mod ppp;
mod tunnel;
mod udp_tunnels;

pub use error::{DecodeError, Layer, LenError};
pub use tunnel::{Tunnel, TunnelStack, MAX_TUNNELS};
pub use udp_tunnels::{GENEVE_PORT, GTPU_PORT, VXLAN_LINUX_PORT, VXLAN_PORT};

/// libpcap link-layer header types (LINKTYPE_*) this decoder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_PPP (9): PPP, with or without the HDLC-like address and control bytes.
    Ppp,
    /// LINKTYPE_PPP_HDLC (50): PPP in HDLC-like framing (RFC 1662).
    PppHdlc,
    /// LINKTYPE_PPP_ETHER (51): a PPPoE session header, then PPP.
    PppEther,
    /// LINKTYPE_RAW (101, and DLT 12/14 on some systems): a bare IPv4 or IPv6 packet.
    Raw,
    /// LINKTYPE_C_HDLC (104): Cisco HDLC.
    CiscoHdlc,
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
            9 => Self::Ppp,
            50 => Self::PppHdlc,
            51 => Self::PppEther,
            12 | 14 | 101 => Self::Raw,
            104 => Self::CiscoHdlc,
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
#[non_exhaustive]
pub struct TcpSegment<'a> {
    /// Source address (of the innermost IP header).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when `ack` is set).
    pub ack_number: u32,
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
    /// The encapsulations the segment came through, outermost first (empty for most).
    pub tunnel: TunnelStack,
}

/// A UDP datagram that is not a tunnel this decoder opens, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpDatagram<'a> {
    /// Source address (of the innermost IP header).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// The datagram's data, as captured (bounded by the UDP length field).
    pub payload: &'a [u8],
    /// The capture kept fewer bytes than the datagram carried.
    pub truncated: bool,
    /// The encapsulations the datagram came through, outermost first.
    pub tunnel: TunnelStack,
}

/// One fragment of an IP datagram (IPv4, or IPv6 with a Fragment header), to be put back
/// together by the caller before the transport layer can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IpFragment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The protocol of the whole datagram's payload (IPv4 protocol, or the Fragment header's
    /// next header).
    pub protocol: u8,
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// Where this fragment's data starts in the datagram's payload, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// This fragment's data.
    pub data: &'a [u8],
    /// The capture kept fewer bytes than the fragment carried.
    pub truncated: bool,
    /// The encapsulations the fragment came through, outermost first.
    pub tunnel: TunnelStack,
}

/// What a frame holds, as far as the decoder reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram that is not a tunnel.
    Udp(UdpDatagram<'a>),
    /// An IP fragment (the datagram's transport header is not read until it is whole).
    Fragment(IpFragment<'a>),
}

/// Why a frame gave no TCP segment, or was not analysed: the key of
/// [`Stats::skipped`](crate::Stats::skipped). Each reason is counted, none is fatal. The
/// decoder's own errors ([`DecodeError`]) say more (the layer, the bytes missing) and are
/// counted under their [`DecodeError::skip`].
///
/// The variants are declared in the order of their [names](DecodeSkip::name), so that
/// counters list in the same order whether keyed by the variant or by its name.
///
/// ```
/// use helloscope_capture::decode::{decode_tcp, DecodeSkip, LinkType};
/// // An IPv4 header announcing UDP (17): not a TCP segment.
/// let mut pkt = [0u8; 28];
/// pkt[0] = 0x45;
/// pkt[3] = 28;
/// pkt[9] = 17;
/// assert_eq!(decode_tcp(LinkType::Raw, &pkt).unwrap_err().skip(), DecodeSkip::NotTcp);
/// assert_eq!(DecodeSkip::NotTcp.name(), "not_tcp");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DecodeSkip {
    /// The link header could not be read (too short, unknown address family …).
    BadLinkHeader,
    /// An IP fragment ([`decode_tcp`] does not reassemble; the [`Analyzer`](crate::Analyzer)
    /// does).
    IpFragment,
    /// The IP or TCP header is malformed, or cut short by the snap length.
    Malformed,
    /// Neither IPv4 nor IPv6 (ARP, LLDP …).
    NotIp,
    /// IP, but not TCP (UDP, ICMP …).
    NotTcp,
    /// Stamped after [`MAX_TIMESTAMP`](crate::MAX_TIMESTAMP), which no output can print.
    TimestampOutOfRange,
    /// Nested deeper than the decoder follows (32 layers).
    TooDeep,
    /// Captured on an interface whose link type is not decoded (802.11 …).
    UnsupportedLinkType,
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
            Self::TooDeep => "too_deep",
            Self::TimestampOutOfRange => "timestamp_out_of_range",
            Self::UnsupportedLinkType => "unsupported_link_type",
        }
    }
}

impl std::fmt::Display for DecodeSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
pub fn decode_tcp(link: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    match fast(link, frame) {
        Some(seg) => Ok(seg),
        None => decode_tcp_general(link, frame),
    }
}

/// The fast path: `None` sends the frame to the general decoder.
#[inline(always)]
pub(crate) fn fast(link: LinkType, frame: &[u8]) -> Option<TcpSegment<'_>> {
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
        _ => None,
    };
    match l3 {
        Some((0x0800, ip)) => fast_ipv4(ip),
        Some((0x86dd, ip)) => fast_ipv6(ip),
        _ => None,
    }
}

/// Decodes one frame of link type `link` to its TCP segment, its UDP datagram or its IP
/// fragment, through any tunnels. Plain TCP takes [`decode_tcp`]'s fast path.
///
/// ```
/// use helloscope_capture::decode::{decode_packet, Decoded, LinkType};
/// // A raw IPv4 packet: 10.0.0.1:5353 -> 10.0.0.2:53, UDP, payload "hi".
/// let pkt = [
///     0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
///     0x14, 0xe9, 0x00, 0x35, 0, 10, 0, 0, b'h', b'i',
/// ];
/// let Ok(Decoded::Udp(d)) = decode_packet(LinkType::Raw, &pkt) else { panic!() };
/// assert_eq!((d.dst_port, d.payload), (53, &b"hi"[..]));
/// ```
#[inline(always)]
pub fn decode_packet(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match fast(link, frame) {
        Some(seg) => Ok(Decoded::Tcp(seg)),
        None => decode_general(link, frame),
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
        ack_number: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        syn: flags & 0x02 != 0,
        ack: flags & 0x10 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: &tcp[doff..],
        truncated,
        tunnel: TunnelStack::new(),
    })
}

/// The general decoder of TCP: every link type, header and tunnel this crate reads.
#[cold]
#[inline(never)]
pub fn decode_tcp_general(link: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    match decode_general(link, frame)? {
        Decoded::Tcp(seg) => Ok(seg),
        Decoded::Udp(d) => Err(DecodeError::unsupported(
            if d.src.is_ipv4() {
                Layer::Ipv4
            } else {
                Layer::Ipv6
            },
            17,
        )),
        Decoded::Fragment(_) => Err(DecodeError::IpFragment),
    }
}

/// The general decoder: every layer, one walk each.
#[cold]
#[inline(never)]
pub fn decode_general(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    walk(link::link_header(link, frame)?, TunnelStack::new())
}

/// Decodes the payload of a reassembled IP datagram (`protocol`, from `src` to `dst`) that
/// came through `tunnel`: the transport header, and whatever tunnel it opens.
pub fn decode_reassembled<'a>(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload: &'a [u8],
    tunnel: TunnelStack,
) -> Result<Decoded<'a>, DecodeError> {
    let mut stack = tunnel;
    let layer = ip::IpLayer {
        src,
        dst,
        protocol,
        payload,
        incomplete: false,
        fragment: None,
        extension_error: None,
    };
    match ip_payload(layer, &mut stack)? {
        Step::Done(d) => Ok(d),
        Step::Next(n) => walk(n, stack),
    }
}

/// The next layer to read.
#[derive(Debug)]
pub(crate) enum Next<'a> {
    /// An Ethernet II frame.
    Ethernet(&'a [u8]),
    /// What an EtherType (or a field in its numbering) of a layer announces.
    EtherType(Layer, u16, &'a [u8]),
    /// An MPLS label stack.
    Mpls(&'a [u8]),
    /// An IPv4 or IPv6 packet.
    Ip(&'a [u8]),
}

enum Step<'a> {
    Done(Decoded<'a>),
    Next(Next<'a>),
}

/// Most layers walked: far more than any real stack; only a crafted frame gets there.
const MAX_LAYERS: usize = 32;

fn walk(mut next: Next<'_>, mut stack: TunnelStack) -> Result<Decoded<'_>, DecodeError> {
    for _ in 0..MAX_LAYERS {
        next = match next {
            Next::Ethernet(b) => ethernet::ethernet(b)?,
            Next::EtherType(from, t, b) => ethernet::by_ether_type(from, t, b)?,
            Next::Mpls(b) => mpls::label_stack(b, &mut stack)?,
            Next::Ip(b) => {
                let layer = ip::ip(b)?;
                if let Some(f) = layer.fragment {
                    return Ok(Decoded::Fragment(IpFragment {
                        src: layer.src,
                        dst: layer.dst,
                        protocol: layer.protocol,
                        id: f.id,
                        offset: f.offset,
                        more: f.more,
                        data: layer.payload,
                        truncated: layer.incomplete,
                        tunnel: stack,
                    }));
                }
                match ip_payload(layer, &mut stack)? {
                    Step::Done(d) => return Ok(d),
                    Step::Next(n) => n,
                }
            }
        };
    }
    Err(DecodeError::TooDeep)
}

/// What an IP packet's payload holds: TCP, UDP (or a tunnel in it), IP in IP, GRE.
fn ip_payload<'a>(l: ip::IpLayer<'a>, stack: &mut TunnelStack) -> Result<Step<'a>, DecodeError> {
    match l.protocol {
        6 => {
            let tcp = etherparse::TcpSlice::from_slice(l.payload).map_err(DecodeError::from_tcp)?;
            Ok(Step::Done(Decoded::Tcp(TcpSegment {
                src: l.src,
                dst: l.dst,
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack_number: tcp.acknowledgment_number(),
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                payload: tcp.payload(),
                truncated: l.incomplete,
                tunnel: *stack,
            })))
        }
        17 => {
            let udp = etherparse::UdpSlice::from_slice_lax(l.payload)
                .map_err(|e| LenError::new(Layer::Udp, e.required_len, e.len))?;
            let (sp, dp) = (udp.source_port(), udp.destination_port());
            if let Some(n) = udp_tunnels::udp_tunnel(sp, dp, udp.payload(), stack)? {
                return Ok(Step::Next(n));
            }
            Ok(Step::Done(Decoded::Udp(UdpDatagram {
                src: l.src,
                dst: l.dst,
                src_port: sp,
                dst_port: dp,
                payload: udp.payload(),
                truncated: l.incomplete || usize::from(udp.length()) > udp.slice().len(),
                tunnel: *stack,
            })))
        }
        4 | 41 => {
            stack.push(if l.src.is_ipv4() {
                Tunnel::Ipv4
            } else {
                Tunnel::Ipv6
            });
            Ok(Step::Next(Next::Ip(l.payload)))
        }
        47 => Ok(Step::Next(gre::gre(l.payload, stack)?)),
        // An extension header etherparse could not read stopped the walk there: say what
        // was wrong with it rather than that its number is not TCP.
        p => Err(l.extension_error.unwrap_or_else(|| {
            DecodeError::unsupported(
                if l.src.is_ipv4() {
                    Layer::Ipv4
                } else {
                    Layer::Ipv6
                },
                u16::from(p),
            )
        })),
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

    /// A TCP segment inside VXLAN, by hand: outer IPv4/UDP to 4789, VNI 5001, inner
    /// Ethernet/IPv4/TCP acknowledging 0x01020304.
    #[test]
    fn tcp_in_vxlan_by_hand() {
        let inner = v4_frame(b"hi");
        let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0];
        vx.extend_from_slice(&inner);
        let mut udp = vec![0xc3, 0x50, 0x12, 0xb5];
        udp.extend_from_slice(&((8 + vx.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&vx);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        ip[2..4].copy_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&udp);
        let Ok(Decoded::Tcp(seg)) = decode_packet(LinkType::Raw, &ip) else {
            panic!("{:?}", decode_packet(LinkType::Raw, &ip));
        };
        assert_eq!(
            (seg.src, seg.dst_port, seg.ack_number, seg.payload),
            ("10.0.0.1".parse().unwrap(), 443, 99, &b"hi"[..])
        );
        assert_eq!(seg.tunnel.names(), ["vxlan:vni=5001"]);
        assert_eq!(decode_tcp(LinkType::Raw, &ip), Ok(seg));
        // The I flag clear: an ordinary datagram to port 4789.
        ip[28] = 0;
        let Ok(Decoded::Udp(d)) = decode_packet(LinkType::Raw, &ip) else {
            panic!()
        };
        assert_eq!(
            (d.dst_port, d.payload.len(), d.tunnel.is_empty()),
            (4789, vx.len(), true)
        );
        assert_eq!(
            decode_tcp(LinkType::Raw, &ip),
            Err(DecodeError::Unsupported {
                layer: Layer::Ipv4,
                protocol: 17
            })
        );
    }
}
