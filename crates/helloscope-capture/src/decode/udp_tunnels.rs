//! The tunnels carried in UDP: VXLAN (RFC 7348), GENEVE (RFC 8926), GTP-U (3GPP TS 29.281).
//! A datagram is read as one only when its port is the tunnel's and the bits that identify
//! the header (flags, version, message type) check out; otherwise it is an ordinary UDP
//! datagram. A header so identified and then cut short, or carrying what is not decoded, is
//! an error of its layer.

use super::{DecodeError, Layer, Next, Tunnel, TunnelStack};

/// VXLAN's IANA port.
pub const VXLAN_PORT: u16 = 4789;
/// The port Linux used for VXLAN before IANA assigned one.
pub const VXLAN_LINUX_PORT: u16 = 8472;
/// GENEVE's port.
pub const GENEVE_PORT: u16 = 6081;
/// GTP-U's port.
pub const GTPU_PORT: u16 = 2152;

/// A tunnel found, or not (an ordinary datagram).
type Found<'a> = Result<Option<(Next<'a>, Tunnel)>, DecodeError>;

/// The tunnel a UDP datagram from `src_port` to `dst_port` carries, if any; `Ok(None)` leaves
/// it an ordinary datagram.
pub(crate) fn udp_tunnel<'a>(
    src_port: u16,
    dst_port: u16,
    payload: &'a [u8],
    stack: &mut TunnelStack,
) -> Result<Option<Next<'a>>, DecodeError> {
    let found = match dst_port {
        VXLAN_PORT | VXLAN_LINUX_PORT => vxlan(payload)?,
        GENEVE_PORT => geneve(payload)?,
        // Both ends of a GTP-U path use 2152.
        _ if dst_port == GTPU_PORT || src_port == GTPU_PORT => gtpu(payload)?,
        _ => return Ok(None),
    };
    Ok(found.map(|(next, t)| {
        stack.push(t);
        next
    }))
}

/// VXLAN: flags (8, I set; the three low reserved bits clear), 24 reserved bits (group
/// policy in VXLAN-GBP), VNI (24), reserved (8); then an Ethernet frame.
fn vxlan(b: &[u8]) -> Found<'_> {
    match b.first() {
        Some(f) if f & 0x08 != 0 && f & 0x07 == 0 => {}
        _ => return Ok(None),
    }
    let h = b
        .get(..8)
        .ok_or_else(|| DecodeError::len(Layer::Vxlan, 8, b.len()))?;
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    Ok(Some((Next::Ethernet(&b[8..]), Tunnel::Vxlan(vni))))
}

/// GENEVE: version (2, = 0), options length (6, in 4-byte words), O, C, reserved (6),
/// protocol type (16), VNI (24), reserved (8), options; then what the protocol type says
/// (Ethernet 0x6558, IPv4, IPv6).
fn geneve(b: &[u8]) -> Found<'_> {
    match b.first() {
        Some(v) if v >> 6 == 0 => {}
        _ => return Ok(None),
    }
    let h = b
        .get(..8)
        .ok_or_else(|| DecodeError::len(Layer::Geneve, 8, b.len()))?;
    let at = 8 + usize::from(h[0] & 0x3f) * 4;
    let payload = b
        .get(at..)
        .ok_or_else(|| DecodeError::len(Layer::Geneve, at, b.len()))?;
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let next = match u16::from_be_bytes([h[2], h[3]]) {
        0x6558 => Next::Ethernet(payload),
        0x0800 | 0x86dd => Next::Ip(payload),
        t => return Err(DecodeError::unsupported(Layer::Geneve, t)),
    };
    Ok(Some((next, Tunnel::Geneve(vni))))
}

/// GTP-U version 1 carrying user data (G-PDU, message type 255): flags (version 1, PT 1,
/// E, S, PN), type, length, TEID; sequence number, N-PDU number and next extension type when
/// any of E, S, PN is set; then the extension headers (length in 4-byte words, next type
/// last); then an IP packet.
fn gtpu(b: &[u8]) -> Found<'_> {
    match b {
        [f, 0xff, ..] if f >> 5 == 1 && f & 0x10 != 0 && f & 0x08 == 0 => {}
        _ => return Ok(None),
    }
    let short = |need: usize| DecodeError::len(Layer::GtpU, need, b.len());
    let h = b.get(..8).ok_or_else(|| short(8))?;
    let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let mut at = 8;
    if h[0] & 0x07 != 0 {
        let mut next_ext = *b.get(11).ok_or_else(|| short(12))?;
        at = 12;
        // E clear: the next-extension field is there but not meaningful.
        if h[0] & 0x04 == 0 {
            next_ext = 0;
        }
        while next_ext != 0 {
            let words = usize::from(*b.get(at).ok_or_else(|| short(at + 1))?);
            if words == 0 {
                return Err(DecodeError::malformed(
                    Layer::GtpU,
                    "Extension Header Length",
                ));
            }
            at += words * 4;
            next_ext = *b.get(at - 1).ok_or_else(|| short(at))?;
        }
    }
    let payload = &b[at.min(b.len())..];
    match payload.first().map(|v| v >> 4) {
        Some(4 | 6) => Ok(Some((Next::Ip(payload), Tunnel::GtpU(teid)))),
        // A G-PDU without an IP packet (an Ethernet or unstructured PDU session).
        v => Err(DecodeError::unsupported(
            Layer::GtpU,
            u16::from(v.unwrap_or(0)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &TunnelStack) -> Vec<String> {
        s.names()
    }

    #[test]
    fn vxlan_header() {
        let mut b = vec![0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0];
        b.extend_from_slice(&[0xaa; 14]);
        let mut s = TunnelStack::new();
        assert!(matches!(
            udp_tunnel(50000, 4789, &b, &mut s),
            Ok(Some(Next::Ethernet(e))) if e.len() == 14
        ));
        assert_eq!(names(&s), ["vxlan:vni=5001"]);
        assert!(matches!(udp_tunnel(50000, 8472, &b, &mut s), Ok(Some(_))));
        // The 8-byte header cut after 5.
        assert_eq!(
            udp_tunnel(50000, 4789, &b[..5], &mut s).err(),
            Some(DecodeError::len(Layer::Vxlan, 8, 5))
        );
        // Another port, or the I flag clear: an ordinary datagram.
        assert!(matches!(udp_tunnel(50000, 4790, &b, &mut s), Ok(None)));
        b[0] = 0;
        assert!(matches!(udp_tunnel(50000, 4789, &b, &mut s), Ok(None)));
    }

    #[test]
    fn geneve_with_options() {
        // Options length 2 words, protocol Ethernet, VNI 7; 8 bytes of options.
        let mut b = vec![0x02, 0, 0x65, 0x58, 0, 0, 7, 0];
        b.extend_from_slice(&[1; 8]);
        b.push(0xaa);
        let mut s = TunnelStack::new();
        assert!(matches!(
            udp_tunnel(1, 6081, &b, &mut s),
            Ok(Some(Next::Ethernet([0xaa])))
        ));
        assert_eq!(names(&s), ["geneve:vni=7"]);
        // The options (8 + 2 words = 16 bytes) cut after 12.
        assert_eq!(
            udp_tunnel(1, 6081, &b[..12], &mut s).err(),
            Some(DecodeError::len(Layer::Geneve, 16, 12))
        );
        b[0] = 0x42; // version 1
        assert!(matches!(udp_tunnel(1, 6081, &b, &mut s), Ok(None)));
    }

    #[test]
    fn gtpu_with_sequence_and_extension() {
        // Version 1, PT 1, E and S set; G-PDU; TEID 0x01020304; seq 0, N-PDU 0, next ext
        // 0x85 (PDU session container) of one word ending with next type 0; then IPv6.
        let b = [
            0x36, 0xff, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00, 0x60,
        ];
        let mut s = TunnelStack::new();
        assert!(matches!(
            udp_tunnel(2152, 2152, &b, &mut s),
            Ok(Some(Next::Ip([0x60])))
        ));
        assert_eq!(names(&s), ["gtpu:teid=16909060"]);
        // The extension header (one 4-byte word from offset 12) cut after 2 of its bytes.
        assert_eq!(
            udp_tunnel(2152, 2152, &b[..14], &mut s).err(),
            Some(DecodeError::len(Layer::GtpU, 16, 14))
        );
        // Plain, no optional fields.
        let b = [0x30, 0xff, 0, 1, 0, 0, 0, 9, 0x45];
        assert!(matches!(udp_tunnel(40000, 2152, &b, &mut s), Ok(Some(_))));
        // An echo request (type 1) is not user data.
        let b = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
        assert!(matches!(udp_tunnel(40000, 2152, &b, &mut s), Ok(None)));
    }
}
