//! Why a frame could not be decoded: the layer where decoding stopped and, for a header cut
//! short, how many bytes it needed and how many were there (as etherparse's `LenError`,
//! whose figures are passed on where etherparse reads the layer).

use std::fmt;

use super::DecodeSkip;

/// A layer of a frame, as the decoder names where it stopped.
///
/// The variants are declared in the order of their [names](Layer::name).
///
/// ```
/// use helloscope_capture::decode::{decode_packet, Layer, LinkType};
/// // A Linux cooked (SLL) header is 16 bytes; 10 were captured.
/// let err = decode_packet(LinkType::LinuxSll, &[0; 10]).unwrap_err();
/// assert_eq!(err.layer(), Some(Layer::LinuxSll));
/// assert_eq!((Layer::LinuxSll.name(), Layer::GtpU.name()), ("linux_sll", "gtpu"));
/// assert_eq!(Layer::Vlan.to_string(), "802.1Q tag");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Layer {
    /// Cisco HDLC framing (address, control, EtherType).
    CiscoHdlc,
    /// ERSPAN type II or III header (inside GRE).
    Erspan,
    /// Ethernet II header.
    Ethernet,
    /// GENEVE header and its options (RFC 8926).
    Geneve,
    /// GRE header (RFC 2784, RFC 2890).
    Gre,
    /// GTP-U header and its extension headers (3GPP TS 29.281).
    GtpU,
    /// An IP header whose version nibble was not yet read (or is neither 4 nor 6).
    Ip,
    /// IP Authentication Header (RFC 4302).
    IpAuth,
    /// IPv4 header.
    Ipv4,
    /// IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header (hop-by-hop, routing, fragment, destination options).
    Ipv6Extension,
    /// Linux cooked capture v1 header (LINKTYPE_LINUX_SLL).
    LinuxSll,
    /// Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2).
    LinuxSll2,
    /// BSD loopback header (LINKTYPE_NULL, LINKTYPE_LOOP): the address family.
    Loopback,
    /// MPLS label stack entry, or the pseudo-wire control word after it (RFC 3032, RFC 4385).
    Mpls,
    /// PPP protocol field, or the HDLC-like framing before it (RFC 1661, RFC 1662).
    Ppp,
    /// PPPoE session header (RFC 2516).
    Pppoe,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
    /// IEEE 802.1Q / 802.1ad tag.
    Vlan,
    /// VXLAN header (RFC 7348).
    Vxlan,
}

impl Layer {
    /// A short stable name, for counters (`ipv6_extension`, `gtpu` …).
    pub fn name(self) -> &'static str {
        match self {
            Self::CiscoHdlc => "cisco_hdlc",
            Self::Erspan => "erspan",
            Self::Ethernet => "ethernet",
            Self::Geneve => "geneve",
            Self::Gre => "gre",
            Self::GtpU => "gtpu",
            Self::Ip => "ip",
            Self::IpAuth => "ip_auth",
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Ipv6Extension => "ipv6_extension",
            Self::LinuxSll => "linux_sll",
            Self::LinuxSll2 => "linux_sll2",
            Self::Loopback => "loopback",
            Self::Mpls => "mpls",
            Self::Ppp => "ppp",
            Self::Pppoe => "pppoe",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Vlan => "vlan",
            Self::Vxlan => "vxlan",
        }
    }

    /// The layers below IP: what [`DecodeSkip::BadLinkHeader`] counts when they are broken.
    fn is_link(self) -> bool {
        matches!(
            self,
            Self::CiscoHdlc
                | Self::Ethernet
                | Self::LinuxSll
                | Self::LinuxSll2
                | Self::Loopback
                | Self::Ppp
                | Self::Pppoe
                | Self::Vlan
        )
    }

    /// The layers whose payload is named by an IP protocol number.
    fn is_ip(self) -> bool {
        matches!(
            self,
            Self::Ip | Self::IpAuth | Self::Ipv4 | Self::Ipv6 | Self::Ipv6Extension
        )
    }

    /// From etherparse's name of a layer it read.
    fn from_etherparse(l: etherparse::err::Layer) -> Self {
        use etherparse::err::Layer as E;
        match l {
            E::LinuxSllHeader => Self::LinuxSll,
            E::Ethernet2Header | E::EtherPayload => Self::Ethernet,
            E::VlanHeader => Self::Vlan,
            E::Ipv4Header | E::Ipv4Packet => Self::Ipv4,
            E::Ipv6Header | E::Ipv6Packet => Self::Ipv6,
            E::IpAuthHeader => Self::IpAuth,
            E::Ipv6ExtHeader
            | E::Ipv6HopByHopHeader
            | E::Ipv6DestOptionsHeader
            | E::Ipv6RouteHeader
            | E::Ipv6FragHeader => Self::Ipv6Extension,
            E::UdpHeader | E::UdpPayload => Self::Udp,
            E::TcpHeader => Self::Tcp,
            _ => Self::Ip,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CiscoHdlc => "Cisco HDLC header",
            Self::Erspan => "ERSPAN header",
            Self::Ethernet => "Ethernet II header",
            Self::Geneve => "GENEVE header",
            Self::Gre => "GRE header",
            Self::GtpU => "GTP-U header",
            Self::Ip => "IP header",
            Self::IpAuth => "IP Authentication Header",
            Self::Ipv4 => "IPv4 header",
            Self::Ipv6 => "IPv6 header",
            Self::Ipv6Extension => "IPv6 extension header",
            Self::LinuxSll => "Linux cooked header",
            Self::LinuxSll2 => "Linux cooked v2 header",
            Self::Loopback => "BSD loopback header",
            Self::Mpls => "MPLS label stack entry",
            Self::Ppp => "PPP header",
            Self::Pppoe => "PPPoE session header",
            Self::Tcp => "TCP header",
            Self::Udp => "UDP header",
            Self::Vlan => "802.1Q tag",
            Self::Vxlan => "VXLAN header",
        })
    }
}

/// A header cut short: `layer` needed `required_len` bytes and `len` were there (counted
/// from the start of that layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LenError {
    /// The layer being read.
    pub layer: Layer,
    /// Bytes the layer needs (its fixed part, or what its own length fields announce).
    pub required_len: usize,
    /// Bytes there were.
    pub len: usize,
}

impl LenError {
    /// `layer` needed `required_len` bytes and had `len`.
    pub fn new(layer: Layer, required_len: usize, len: usize) -> Self {
        LenError {
            layer,
            required_len,
            len,
        }
    }

    /// Bytes missing.
    pub fn missing(&self) -> usize {
        self.required_len.saturating_sub(self.len)
    }
}

impl From<etherparse::err::LenError> for LenError {
    fn from(e: etherparse::err::LenError) -> Self {
        LenError::new(Layer::from_etherparse(e.layer), e.required_len, e.len)
    }
}

/// Why a frame gave no packet: the layer where decoding stopped, and what was wrong there.
/// [`DecodeError::skip`] is the reason it is counted under in
/// [`Stats::skipped`](crate::Stats::skipped).
///
/// ```
/// use helloscope_capture::decode::{decode_packet, DecodeError, DecodeSkip, Layer, LenError, LinkType};
/// // An Ethernet frame announcing IPv4, cut after 8 bytes of the IPv4 header.
/// let mut frame = vec![0u8; 14 + 8];
/// frame[12..14].copy_from_slice(&[0x08, 0x00]);
/// frame[14] = 0x45;
/// let err = decode_packet(LinkType::Ethernet, &frame).unwrap_err();
/// match err {
///     DecodeError::Len(LenError { layer: Layer::Ipv4, required_len, len, .. }) => {
///         assert_eq!((required_len, len), (20, 8));
///     }
///     other => panic!("{other}"),
/// }
/// assert_eq!(err.skip(), DecodeSkip::Malformed);
/// assert_eq!(err.to_string(), "IPv4 header cut short: 20 bytes needed, 8 present");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// A header cut short (by the snap length, or a length field saying more than there is).
    Len(LenError),
    /// A header field with a value this layer cannot have: `field` in the RFC's words.
    Malformed {
        /// The layer.
        layer: Layer,
        /// The field (`Version`, `IHL`, `Data Offset` …).
        field: &'static str,
    },
    /// `layer` carries something this decoder does not read: `protocol` is what the layer's
    /// own field says follows (an EtherType for Ethernet, VLAN, SLL, HDLC, GRE and GENEVE; the
    /// PPP protocol; the IP protocol number for IP; the frame type for ERSPAN; the IP version
    /// nibble for GTP-U). GRE of another version than 0 (PPTP's) or with source routing is
    /// reported with its protocol type.
    Unsupported {
        /// The layer.
        layer: Layer,
        /// What it says follows.
        protocol: u16,
    },
    /// An IP fragment ([`decode_tcp`](super::decode_tcp) does not reassemble; the
    /// [`Analyzer`](crate::Analyzer) does).
    IpFragment,
    /// Nested deeper than the decoder follows (32 layers).
    TooDeep,
}

impl DecodeError {
    /// The reason this error is counted under.
    pub fn skip(&self) -> DecodeSkip {
        match self {
            Self::Len(LenError { layer, .. }) | Self::Malformed { layer, .. } => {
                if layer.is_link() {
                    DecodeSkip::BadLinkHeader
                } else {
                    DecodeSkip::Malformed
                }
            }
            Self::Unsupported { layer, .. } => {
                if layer.is_ip() {
                    DecodeSkip::NotTcp
                } else {
                    DecodeSkip::NotIp
                }
            }
            Self::IpFragment => DecodeSkip::IpFragment,
            Self::TooDeep => DecodeSkip::TooDeep,
        }
    }

    /// The layer where decoding stopped (none for a fragment, or a stack too deep).
    pub fn layer(&self) -> Option<Layer> {
        match self {
            Self::Len(LenError { layer, .. })
            | Self::Malformed { layer, .. }
            | Self::Unsupported { layer, .. } => Some(*layer),
            Self::IpFragment | Self::TooDeep => None,
        }
    }

    /// `layer` needed `required_len` bytes and had `len`.
    #[cold]
    pub(crate) fn len(layer: Layer, required_len: usize, len: usize) -> Self {
        Self::Len(LenError::new(layer, required_len, len))
    }

    #[cold]
    pub(crate) fn malformed(layer: Layer, field: &'static str) -> Self {
        Self::Malformed { layer, field }
    }

    #[cold]
    pub(crate) fn unsupported(layer: Layer, protocol: u16) -> Self {
        Self::Unsupported { layer, protocol }
    }

    /// From etherparse's error for an IP header.
    pub(crate) fn from_ip(e: etherparse::err::ip::LaxHeaderSliceError) -> Self {
        use etherparse::err::ip::{HeaderError as H, LaxHeaderSliceError as E};
        match e {
            E::Len(l) => Self::Len(l.into()),
            E::Content(H::UnsupportedIpVersion { .. }) => Self::malformed(Layer::Ip, "Version"),
            E::Content(H::Ipv4HeaderLengthSmallerThanHeader { .. }) => {
                Self::malformed(Layer::Ipv4, "IHL")
            }
        }
    }

    /// From etherparse's error for an IPv6 extension header or an Authentication Header.
    pub(crate) fn from_ip_extension(e: etherparse::err::ipv6_exts::HeaderSliceError) -> Self {
        use etherparse::err::ipv6_exts::{HeaderError as H, HeaderSliceError as E};
        match e {
            E::Len(l) => Self::Len(l.into()),
            E::Content(H::HopByHopNotAtStart) => {
                Self::malformed(Layer::Ipv6Extension, "Next Header")
            }
            E::Content(H::IpAuth(_)) => Self::malformed(Layer::IpAuth, "Payload Len"),
        }
    }

    /// From etherparse's error for a TCP header.
    pub(crate) fn from_tcp(e: etherparse::err::tcp::HeaderSliceError) -> Self {
        use etherparse::err::tcp::HeaderSliceError as E;
        match e {
            E::Len(l) => Self::Len(LenError::new(Layer::Tcp, l.required_len, l.len)),
            E::Content(_) => Self::malformed(Layer::Tcp, "Data Offset"),
        }
    }
}

impl From<LenError> for DecodeError {
    fn from(e: LenError) -> Self {
        Self::Len(e)
    }
}

impl fmt::Display for LenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cut short: {} bytes needed, {} present",
            self.layer, self.required_len, self.len
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Len(l) => l.fmt(f),
            Self::Malformed { layer, field } => write!(f, "{layer}: bad {field}"),
            Self::Unsupported { layer, protocol } => {
                write!(f, "{layer} carries 0x{protocol:04x}, not decoded")
            }
            Self::IpFragment => f.write_str("IP fragment"),
            Self::TooDeep => f.write_str("nested deeper than 32 layers"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl std::error::Error for LenError {}

impl From<DecodeError> for DecodeSkip {
    fn from(e: DecodeError) -> Self {
        e.skip()
    }
}
