//! MPLS label stacks (RFC 3032) and what follows the bottom of the stack.

use super::{DecodeError, Layer, Next, Tunnel, TunnelStack};

/// A label stack: every entry is pushed as an `mpls:label=N` layer. MPLS does not say what
/// follows the bottom entry, so it is guessed as Wireshark does: IPv4 or IPv6 by the first
/// nibble, a pseudo-wire control word (first nibble 0, RFC 4385) then Ethernet, or else
/// Ethernet (a pseudo-wire without control word).
pub(crate) fn label_stack<'a>(
    mut b: &'a [u8],
    stack: &mut TunnelStack,
) -> Result<Next<'a>, DecodeError> {
    loop {
        let [a, c, d, _ttl, rest @ ..] = b else {
            return Err(DecodeError::len(Layer::Mpls, 4, b.len()));
        };
        let label = u32::from(*a) << 12 | u32::from(*c) << 4 | u32::from(*d) >> 4;
        stack.push(Tunnel::Mpls(label));
        b = rest;
        if d & 1 == 1 {
            break;
        }
    }
    Ok(match b.first().map(|x| x >> 4) {
        Some(4) | Some(6) => Next::Ip(b),
        Some(0) => Next::Ethernet(
            b.get(4..)
                .ok_or_else(|| DecodeError::len(Layer::Mpls, 4, b.len()))?,
        ),
        Some(_) => Next::Ethernet(b),
        None => return Err(DecodeError::len(Layer::Mpls, 1, 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_labels_then_ipv4() {
        // Label 16 (0x00010), TC 0, S 0, TTL 64; label 1048575 (0xfffff), S 1, TTL 1.
        let b = [0x00, 0x01, 0x00, 0x40, 0xff, 0xff, 0xf1, 0x01, 0x45, 0x00];
        let mut s = TunnelStack::new();
        match label_stack(&b, &mut s) {
            Ok(Next::Ip([0x45, 0x00])) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(s.names(), ["mpls:label=16", "mpls:label=1048575"]);
    }

    #[test]
    fn pseudo_wire_with_and_without_control_word() {
        let mut s = TunnelStack::new();
        let cw = [0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0, 0xaa];
        assert!(matches!(
            label_stack(&cw, &mut s),
            Ok(Next::Ethernet([0xaa]))
        ));
        let bare = [0x00, 0x01, 0x01, 0x40, 0x22, 0xbb];
        assert!(matches!(
            label_stack(&bare, &mut s),
            Ok(Next::Ethernet([0x22, 0xbb]))
        ));
        // No bottom of stack before the end: the next 4-byte entry is missing.
        assert_eq!(
            label_stack(&[0, 1, 0, 64], &mut s).err(),
            Some(DecodeError::len(Layer::Mpls, 4, 0))
        );
        // A control word (first nibble 0) of 4 bytes cut after 2.
        assert_eq!(
            label_stack(&[0, 1, 1, 64, 0, 0], &mut s).err(),
            Some(DecodeError::len(Layer::Mpls, 4, 2))
        );
    }
}
