//! GRE (RFC 2784 with the key and sequence number of RFC 2890) and the ERSPAN headers it
//! carries (type I, II and III, draft-foschiano-erspan).

use super::{DecodeError, Layer, Next, Tunnel, TunnelStack};

const CHECKSUM: u16 = 0x8000;
const ROUTING: u16 = 0x4000;
const KEY: u16 = 0x2000;
const SEQUENCE: u16 = 0x1000;

/// A GRE header. Version 0 only (version 1 is PPTP's); source routing (the deprecated R
/// flag of RFC 1701) is refused.
pub(crate) fn gre<'a>(b: &'a [u8], stack: &mut TunnelStack) -> Result<Next<'a>, DecodeError> {
    let [f0, f1, p0, p1, ..] = *b else {
        return Err(DecodeError::len(Layer::Gre, 4, b.len()));
    };
    let flags = u16::from_be_bytes([f0, f1]);
    let protocol = u16::from_be_bytes([p0, p1]);
    if flags & 0x0007 != 0 || flags & ROUTING != 0 {
        return Err(DecodeError::unsupported(Layer::Gre, protocol));
    }
    // The optional fields' length is known from the flags alone: checked once.
    let at = 4 + 4
        * (usize::from(flags & CHECKSUM != 0)
            + usize::from(flags & KEY != 0)
            + usize::from(flags & SEQUENCE != 0));
    let payload = b
        .get(at..)
        .ok_or_else(|| DecodeError::len(Layer::Gre, at, b.len()))?;
    let key = (flags & KEY != 0).then(|| {
        let k = if flags & CHECKSUM != 0 { 8 } else { 4 };
        u32::from_be_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]])
    });
    let sequenced = flags & SEQUENCE != 0;
    match protocol {
        // ERSPAN type I has no header of its own and no sequence number; type II has both.
        0x88be if !sequenced => {
            stack.push(Tunnel::Erspan1);
            Ok(Next::Ethernet(payload))
        }
        0x88be => erspan2(payload, stack),
        0x22eb => erspan3(payload, stack),
        t => {
            stack.push(key.map_or(Tunnel::Gre, Tunnel::GreKey));
            Ok(Next::EtherType(Layer::Gre, t, payload))
        }
    }
}

/// ERSPAN type II: version 1 (4 bits), VLAN (12), CoS (3), En (2), T (1), session ID (10),
/// reserved (12), index (20); then the mirrored Ethernet frame.
fn erspan2<'a>(b: &'a [u8], stack: &mut TunnelStack) -> Result<Next<'a>, DecodeError> {
    let h = b
        .get(..8)
        .ok_or_else(|| DecodeError::len(Layer::Erspan, 8, b.len()))?;
    if h[0] >> 4 != 1 {
        return Err(DecodeError::malformed(Layer::Erspan, "Ver"));
    }
    stack.push(Tunnel::Erspan2(u16::from_be_bytes([h[2], h[3]]) & 0x3ff));
    Ok(Next::Ethernet(&b[8..]))
}

/// ERSPAN type III: version 2 (4 bits), VLAN (12), CoS (3), BSO (2), T (1), session ID (10),
/// timestamp (32), SGT (16), P (1), FT (5), HW ID (6), D (1), Gra (2), O (1); an 8-byte
/// platform sub-header when O is set; then the mirrored frame (FT 0 Ethernet, FT 2 IP).
fn erspan3<'a>(b: &'a [u8], stack: &mut TunnelStack) -> Result<Next<'a>, DecodeError> {
    let h = b
        .get(..12)
        .ok_or_else(|| DecodeError::len(Layer::Erspan, 12, b.len()))?;
    if h[0] >> 4 != 2 {
        return Err(DecodeError::malformed(Layer::Erspan, "Ver"));
    }
    stack.push(Tunnel::Erspan3(u16::from_be_bytes([h[2], h[3]]) & 0x3ff));
    let frame_type = (h[10] >> 2) & 0x1f;
    let at = if h[11] & 1 == 1 { 20 } else { 12 };
    let payload = b
        .get(at..)
        .ok_or_else(|| DecodeError::len(Layer::Erspan, at, b.len()))?;
    match frame_type {
        0 => Ok(Next::Ethernet(payload)),
        2 => Ok(Next::Ip(payload)),
        t => Err(DecodeError::unsupported(Layer::Erspan, u16::from(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sequence_and_checksum() {
        // C, K and S set: checksum+reserved, key 7, sequence 1, protocol IPv4.
        let b = [
            0xb0, 0x00, 0x08, 0x00, 0xaa, 0xbb, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0x45,
        ];
        let mut s = TunnelStack::new();
        assert!(matches!(
            gre(&b, &mut s),
            Ok(Next::EtherType(Layer::Gre, 0x0800, [0x45]))
        ));
        assert_eq!(s.names(), ["gre:key=7"]);
        // Plain GRE, transparent Ethernet bridging.
        let mut s = TunnelStack::new();
        assert!(matches!(
            gre(&[0, 0, 0x65, 0x58, 1], &mut s),
            Ok(Next::EtherType(Layer::Gre, 0x6558, [1]))
        ));
        assert_eq!(s.names(), ["gre"]);
        // Version 1 (PPTP) is not decoded.
        assert_eq!(
            gre(&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0], &mut s).err(),
            Some(DecodeError::unsupported(Layer::Gre, 0x880b))
        );
        // Key flag (RFC 2890: 4 more bytes) but the key is cut off after 1.
        assert_eq!(
            gre(&[0x20, 0, 8, 0, 0], &mut s).err(),
            Some(DecodeError::len(Layer::Gre, 8, 5))
        );
        assert_eq!(
            gre(&[0, 0], &mut s).err(),
            Some(DecodeError::len(Layer::Gre, 4, 2))
        );
    }

    #[test]
    fn erspan_sessions() {
        // Type II: GRE with S, protocol 0x88be, seq; ERSPAN ver 1, VLAN 0, session 3.
        let b = [
            0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 9, 0x10, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0xee,
        ];
        let mut s = TunnelStack::new();
        assert!(matches!(gre(&b, &mut s), Ok(Next::Ethernet([0xee]))));
        assert_eq!(s.names(), ["erspan2:session=3"]);
        // Type I: no sequence number, no ERSPAN header.
        let mut s = TunnelStack::new();
        assert!(matches!(
            gre(&[0, 0, 0x88, 0xbe, 0xee], &mut s),
            Ok(Next::Ethernet([0xee]))
        ));
        assert_eq!(s.names(), ["erspan1"]);
        // Type III: ver 2, session 1023, FT 0, O clear.
        let b = [
            0x00, 0x00, 0x22, 0xeb, 0x20, 0x00, 0x03, 0xff, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0xee,
        ];
        let mut s = TunnelStack::new();
        assert!(matches!(gre(&b, &mut s), Ok(Next::Ethernet([0xee]))));
        assert_eq!(s.names(), ["erspan3:session=1023"]);
        // Type III with FT 2 (IP) and the platform sub-header.
        let mut b3 = b[..16].to_vec();
        b3[14] = 2 << 2;
        b3[15] = 1;
        b3.extend_from_slice(&[0; 8]);
        b3.push(0x45);
        assert!(matches!(gre(&b3, &mut s), Ok(Next::Ip([0x45]))));
    }
}
