//! Ethernet II (through etherparse), IEEE 802.1Q/802.1ad tags, and what each EtherType leads
//! to.

use etherparse::{Ethernet2Slice, SingleVlanSlice};

use super::{ppp, DecodeError, Layer, LenError, Next};

/// An Ethernet II header.
#[inline]
pub(crate) fn ethernet(b: &[u8]) -> Result<Next<'_>, DecodeError> {
    let e = Ethernet2Slice::from_slice_without_fcs(b).map_err(LenError::from)?;
    Ok(Next::EtherType(
        Layer::Ethernet,
        e.ether_type().0,
        e.payload_slice(),
    ))
}

/// The layer an EtherType `t`, found in layer `from`, announces.
pub(crate) fn by_ether_type(from: Layer, t: u16, b: &[u8]) -> Result<Next<'_>, DecodeError> {
    match t {
        0x0800 | 0x86dd => Ok(Next::Ip(b)),
        // 802.1Q, 802.1ad (QinQ outer), and the pre-standard 0x9100.
        0x8100 | 0x88a8 | 0x9100 => {
            let v = SingleVlanSlice::from_slice(b).map_err(LenError::from)?;
            Ok(Next::EtherType(
                Layer::Vlan,
                v.ether_type().0,
                v.payload_slice(),
            ))
        }
        0x8847 | 0x8848 => Ok(Next::Mpls(b)),
        0x8864 => ppp::pppoe_session(b),
        // Transparent Ethernet bridging (GRE, GENEVE): a whole Ethernet frame.
        0x6558 => Ok(Next::Ethernet(b)),
        _ => Err(DecodeError::unsupported(from, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_ether_types() {
        // QinQ: 802.1ad tag (VLAN 100), 802.1Q tag (VLAN 42), IPv6.
        let b = [0x00, 0x64, 0x81, 0x00, 0x00, 0x2a, 0x86, 0xdd, 0x60];
        let mut next = by_ether_type(Layer::Ethernet, 0x88a8, &b).unwrap();
        for _ in 0..2 {
            next = match next {
                Next::EtherType(Layer::Vlan, t, rest) => {
                    by_ether_type(Layer::Vlan, t, rest).unwrap()
                }
                other => panic!("{other:?}"),
            };
        }
        assert!(matches!(next, Next::Ip([0x60])));
        let eth = Layer::Ethernet;
        assert!(matches!(
            by_ether_type(eth, 0x8847, &[1]),
            Ok(Next::Mpls([1]))
        ));
        assert!(matches!(
            by_ether_type(eth, 0x6558, &[2]),
            Ok(Next::Ethernet([2]))
        ));
        // ARP, and an 802.1Q tag (4 bytes) of which 2 were captured.
        assert_eq!(
            by_ether_type(eth, 0x0806, &[]).err(),
            Some(DecodeError::Unsupported {
                layer: eth,
                protocol: 0x0806
            })
        );
        assert_eq!(
            by_ether_type(eth, 0x8100, &[0, 1]).err(),
            Some(DecodeError::len(Layer::Vlan, 4, 2))
        );
        assert_eq!(
            ethernet(&[0; 13]).err(),
            Some(DecodeError::len(Layer::Ethernet, 14, 13))
        );
    }
}
