//! Ethernet II (through etherparse), IEEE 802.1Q/802.1ad tags, and what each EtherType leads
//! to.

use etherparse::{Ethernet2Slice, SingleVlanSlice};

use super::{ppp, DecodeSkip, Next};

/// An Ethernet II header.
#[inline]
pub(crate) fn ethernet(b: &[u8]) -> Result<Next<'_>, DecodeSkip> {
    let e = Ethernet2Slice::from_slice_without_fcs(b).map_err(|_| DecodeSkip::BadLinkHeader)?;
    Ok(Next::EtherType(e.ether_type().0, e.payload_slice()))
}

/// The layer an EtherType announces.
pub(crate) fn by_ether_type(t: u16, b: &[u8]) -> Result<Next<'_>, DecodeSkip> {
    match t {
        0x0800 | 0x86dd => Ok(Next::Ip(b)),
        // 802.1Q, 802.1ad (QinQ outer), and the pre-standard 0x9100.
        0x8100 | 0x88a8 | 0x9100 => {
            let v = SingleVlanSlice::from_slice(b).map_err(|_| DecodeSkip::BadLinkHeader)?;
            Ok(Next::EtherType(v.ether_type().0, v.payload_slice()))
        }
        0x8847 | 0x8848 => Ok(Next::Mpls(b)),
        0x8864 => ppp::pppoe_session(b),
        // Transparent Ethernet bridging (GRE, GENEVE): a whole Ethernet frame.
        0x6558 => Ok(Next::Ethernet(b)),
        _ => Err(DecodeSkip::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_ether_types() {
        // QinQ: 802.1ad tag (VLAN 100), 802.1Q tag (VLAN 42), IPv6.
        let b = [0x00, 0x64, 0x81, 0x00, 0x00, 0x2a, 0x86, 0xdd, 0x60];
        let mut next = by_ether_type(0x88a8, &b).unwrap();
        for _ in 0..2 {
            next = match next {
                Next::EtherType(t, rest) => by_ether_type(t, rest).unwrap(),
                other => panic!("{other:?}"),
            };
        }
        assert!(matches!(next, Next::Ip([0x60])));
        assert!(matches!(by_ether_type(0x8847, &[1]), Ok(Next::Mpls([1]))));
        assert!(matches!(
            by_ether_type(0x6558, &[2]),
            Ok(Next::Ethernet([2]))
        ));
        assert_eq!(by_ether_type(0x0806, &[]).err(), Some(DecodeSkip::NotIp));
        assert_eq!(
            by_ether_type(0x8100, &[0, 1]).err(),
            Some(DecodeSkip::BadLinkHeader)
        );
        assert_eq!(ethernet(&[0; 13]).err(), Some(DecodeSkip::BadLinkHeader));
    }
}
