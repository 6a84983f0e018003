//! QUIC packet headers (RFC 9000 §17): the long header of Initial, 0-RTT, Handshake and Retry
//! packets, Version Negotiation, and the walk over the packets coalesced in one datagram
//! (§12.2).

use core::fmt;

use super::read_varint;
use crate::error::{Error, Structure};

/// A QUIC version number, with the versions whose Initial packets this crate can read named.
///
/// ```
/// use helloscope_tls::quic::QuicVersion;
/// assert_eq!(QuicVersion(1).to_string(), "v1");
/// assert_eq!(QuicVersion(0x6b33_43cf).to_string(), "v2");
/// assert_eq!(QuicVersion(0xff00_001d).to_string(), "draft-29");
/// assert_eq!(QuicVersion(0x5130_3530).to_string(), "0x51303530");
/// assert!(QuicVersion(0x1a2a_3a4a).is_reserved());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuicVersion(pub u32);

impl QuicVersion {
    /// Version 0: the Version Negotiation packet (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Self = Self(0);
    /// QUIC version 1 (RFC 9000).
    pub const V1: Self = Self(0x0000_0001);
    /// QUIC version 2 (RFC 9369).
    pub const V2: Self = Self(0x6b33_43cf);
    /// draft-ietf-quic-transport-29, the last draft widely deployed.
    pub const DRAFT_29: Self = Self(0xff00_001d);

    /// True for the versions whose Initial packets can be decrypted here (v1, v2, draft-29).
    pub const fn is_supported(self) -> bool {
        matches!(self.0, 0x0000_0001 | 0x6b33_43cf | 0xff00_001d)
    }

    /// True for the versions reserved to exercise version negotiation (RFC 9000 §15:
    /// `0x?a?a?a?a`).
    pub const fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// `v1`, `v2`, `draft-29`; `None` for other versions.
    pub const fn name(self) -> Option<&'static str> {
        match self.0 {
            0x0000_0001 => Some("v1"),
            0x6b33_43cf => Some("v2"),
            0xff00_001d => Some("draft-29"),
            _ => None,
        }
    }

    /// The long packet type encoded by the two type bits of the first byte. Version 2
    /// rotates them (RFC 9369 §3.2); every other version uses RFC 9000's.
    pub const fn packet_type(self, first_byte: u8) -> LongPacketType {
        let bits = (first_byte >> 4) & 0x03;
        let bits = if self.0 == Self::V2.0 {
            (bits + 3) & 0x03
        } else {
            bits
        };
        match bits {
            0 => LongPacketType::Initial,
            1 => LongPacketType::ZeroRtt,
            2 => LongPacketType::Handshake,
            _ => LongPacketType::Retry,
        }
    }
}

impl fmt::Display for QuicVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:08x}", self.0),
        }
    }
}

/// The type of a long-header packet (RFC 9000 §17.2, Table 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LongPacketType {
    /// Initial: carries the first CRYPTO frames, under keys anyone can derive.
    Initial,
    /// 0-RTT: early application data.
    ZeroRtt,
    /// Handshake: the rest of the TLS handshake, under handshake keys.
    Handshake,
    /// Retry: the server asks the client to start again with a token.
    Retry,
}

/// One packet of a datagram, its header read as far as it is readable without keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A Version Negotiation packet: the server does not speak the client's version.
    VersionNegotiation {
        /// Destination Connection ID (the client's Source Connection ID).
        dcid: &'a [u8],
        /// Source Connection ID.
        scid: &'a [u8],
        /// The versions the server supports, four bytes each.
        versions: &'a [u8],
    },
    /// A long-header packet of a known layout.
    Long(LongHeader<'a>),
    /// A short-header (1-RTT) packet; it runs to the end of the datagram.
    Short {
        /// The whole packet, header protected.
        packet: &'a [u8],
    },
}

/// A long header (RFC 9000 §17.2), packet number still protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LongHeader<'a> {
    /// The packet's type.
    pub packet_type: LongPacketType,
    /// Its version.
    pub version: QuicVersion,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// The token of an Initial or Retry packet (a Retry's token runs to its integrity tag).
    pub token: &'a [u8],
    /// The whole packet, header protected: for Initial, 0-RTT and Handshake packets up to the
    /// end given by its Length field; for Retry, the rest of the datagram.
    pub packet: &'a [u8],
    /// Offset of the packet number in `packet` (0 for Retry, which has none).
    pub pn_offset: usize,
}

fn malformed(field: &'static str) -> Error {
    Error::Malformed {
        structure: Structure::QuicLongHeader,
        field,
    }
}

fn connection_id(i: &[u8], max: usize) -> Result<(&[u8], &[u8]), Error> {
    let (&len, rest) = i.split_first().ok_or(malformed("truncated"))?;
    let len = usize::from(len);
    if len > max {
        return Err(malformed("connection ID length"));
    }
    if rest.len() < len {
        return Err(malformed("truncated"));
    }
    Ok(rest.split_at(len))
}

/// Reads the packet at the front of `datagram`, returning it and the packets coalesced after
/// it.
///
/// A long header of an unknown version has a layout nobody can know past its connection IDs
/// (RFC 8999): it is refused as malformed, with field `version`.
///
/// ```
/// use helloscope_tls::quic::{parse_packet, LongPacketType, Packet, QuicVersion};
/// # let datagram = helloscope_tls::doc_sample::quic_client_initial();
/// // RFC 9001 Appendix A.2: the client's first Initial.
/// let (packet, rest) = parse_packet(&datagram)?;
/// let Packet::Long(h) = packet else { panic!() };
/// assert_eq!((h.packet_type, h.version), (LongPacketType::Initial, QuicVersion::V1));
/// assert_eq!(h.dcid, [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
/// assert!(rest.is_empty());
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_packet(datagram: &[u8]) -> Result<(Packet<'_>, &[u8]), Error> {
    // Read by hand, not with nom: it runs on every packet of every QUIC datagram followed.
    // The same checks as nom functions (be_u8, be_u32, a connection_id of be_u8 then take,
    // the token and Length through the varint reader) made `analyze` of 20,000 generated
    // QUIC handshakes cost 4,931,373,322 instructions instead of 4,924,087,987, and the quic
    // module's own functions 168.5 M instead of 163.9 M (cachegrind; `loadgen quic --flows
    // 20000`); tests/cold_structures.rs pins its errors, and passed on both.
    let Some(&first) = datagram.first() else {
        return Err(malformed("truncated"));
    };
    if first & 0x80 == 0 {
        return Ok((Packet::Short { packet: datagram }, &[]));
    }
    let version = datagram
        .get(1..5)
        .map(|v| QuicVersion(u32::from_be_bytes([v[0], v[1], v[2], v[3]])))
        .ok_or(malformed("truncated"))?;
    // Version-independent properties (RFC 8999 §5.1) allow 255-byte connection IDs; version 1
    // and its kin limit them to 20.
    let max_cid = if version.is_supported() { 20 } else { 255 };
    let (dcid, i) = connection_id(&datagram[5..], max_cid)?;
    let (scid, i) = connection_id(i, max_cid)?;
    if version == QuicVersion::NEGOTIATION {
        if i.len() % 4 != 0 {
            return Err(malformed("supported versions"));
        }
        return Ok((
            Packet::VersionNegotiation {
                dcid,
                scid,
                versions: i,
            },
            &[],
        ));
    }
    if !version.is_supported() {
        return Err(malformed("version"));
    }
    let packet_type = version.packet_type(first);
    let (token, i) = match packet_type {
        LongPacketType::Initial => {
            let (len, i) = read_varint(i)?;
            let len = usize::try_from(len).map_err(|_| malformed("token length"))?;
            if i.len() < len {
                return Err(malformed("token length"));
            }
            let (t, i) = i.split_at(len);
            (t, i)
        }
        LongPacketType::Retry => {
            // The token runs to the 16-byte Retry Integrity Tag (RFC 9001 §5.8).
            let Some(token_len) = i.len().checked_sub(16) else {
                return Err(malformed("retry integrity tag"));
            };
            let header = Packet::Long(LongHeader {
                packet_type,
                version,
                dcid,
                scid,
                token: &i[..token_len],
                packet: datagram,
                pn_offset: 0,
            });
            return Ok((header, &[]));
        }
        _ => (&[][..], i),
    };
    let (length, i) = read_varint(i)?;
    let pn_offset = datagram.len() - i.len();
    let length = usize::try_from(length).map_err(|_| malformed("length"))?;
    if i.len() < length {
        return Err(malformed("length"));
    }
    let end = pn_offset + length;
    Ok((
        Packet::Long(LongHeader {
            packet_type,
            version,
            dcid,
            scid,
            token,
            packet: &datagram[..end],
            pn_offset,
        }),
        &datagram[end..],
    ))
}

/// The packets coalesced in one datagram (RFC 9000 §12.2), in order. Iteration stops at the
/// first packet that does not parse (its error is kept in [`Packets::stopped_by`]) and after a
/// short-header packet, which runs to the end of the datagram.
///
/// ```
/// use helloscope_tls::quic::{Packet, Packets};
/// # let datagram = helloscope_tls::doc_sample::quic_client_initial();
/// assert_eq!(Packets::new(&datagram).count(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Packets<'a> {
    rest: &'a [u8],
    stopped_by: Option<Error>,
}

impl<'a> Packets<'a> {
    /// The packets of `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Packets {
            rest: datagram,
            stopped_by: None,
        }
    }

    /// Why iteration stopped early, if it did.
    pub fn stopped_by(&self) -> Option<Error> {
        self.stopped_by
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        // Datagrams are padded after their last packet with zeros by some stacks: a zero
        // first byte is a short header without the fixed bit, which no sender produces.
        if self.rest.is_empty() || self.rest[0] == 0 {
            return None;
        }
        match parse_packet(self.rest) {
            Ok((p, rest)) => {
                self.rest = rest;
                Some(p)
            }
            Err(e) => {
                self.stopped_by = Some(e);
                self.rest = &[];
                None
            }
        }
    }
}

/// True when `datagram` starts like a client's or server's Initial packet of a version this
/// crate reads: long header with the fixed bit, a supported version, type Initial. Five byte
/// comparisons, for finding QUIC on any port.
///
/// ```
/// use helloscope_tls::quic::looks_like_initial;
/// # let datagram = helloscope_tls::doc_sample::quic_client_initial();
/// assert!(looks_like_initial(&datagram));
/// assert!(!looks_like_initial(b"\x16\xfe\xfd"));
/// ```
#[inline]
pub fn looks_like_initial(datagram: &[u8]) -> bool {
    let Some(h) = datagram.get(..6) else {
        return false;
    };
    let version = QuicVersion(u32::from_be_bytes([h[1], h[2], h[3], h[4]]));
    h[0] & 0xc0 == 0xc0
        && version.is_supported()
        && version.packet_type(h[0]) == LongPacketType::Initial
}
