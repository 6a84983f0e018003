//! The IP layer, through etherparse's lax slices: IPv4 (a total length of 0, as captures
//! taken on a sender with segmentation offload hold, or one smaller than the header, gives
//! way to the captured length, as in Wireshark), IPv6 with its extension headers, and the
//! fragment fields of both.

use std::net::IpAddr;

use etherparse::LaxIpSlice;

use super::{DecodeError, Layer};

/// Where a fragment's data goes in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragmentFields {
    pub(crate) id: u32,
    pub(crate) offset: u32,
    pub(crate) more: bool,
}

/// An IP header read: addresses, the protocol of what follows, and its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpLayer<'a> {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) protocol: u8,
    pub(crate) payload: &'a [u8],
    /// The packet's length field says more than was captured.
    pub(crate) incomplete: bool,
    pub(crate) fragment: Option<FragmentFields>,
    /// An extension header (or Authentication Header) that could not be read: the walk
    /// stopped before it, and `protocol` is its number.
    pub(crate) extension_error: Option<DecodeError>,
}

/// Where the IPv6 Fragment header of packet `b` (which ends at `end`) starts, walking the
/// extension headers that may come before it (RFC 8200 section 4.1).
fn fragment_header(b: &[u8], end: usize) -> Option<usize> {
    let (mut next, mut at) = (*b.get(6)?, 40);
    loop {
        let h = b.get(at..end.min(b.len()))?;
        let len = match next {
            44 => return (h.len() >= 8).then_some(at),
            // Hop-by-hop, routing, destination options: 8-byte units after the first 8.
            0 | 43 | 60 => (usize::from(*h.get(1)?) + 1) * 8,
            // Authentication header: 4-byte units, minus 2.
            51 => (usize::from(*h.get(1)?) + 2) * 4,
            _ => return None,
        };
        next = *h.first()?;
        at += len;
    }
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// One IPv4 or IPv6 header (with IPv6's extension headers, up to a fragment header).
pub(crate) fn ip(b: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    let (slice, ext_error) = LaxIpSlice::from_slice(b).map_err(DecodeError::from_ip)?;
    let extension_error = ext_error.map(|(e, _)| DecodeError::from_ip_extension(e));
    match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let p = v4.payload();
            let fragment = h.is_fragmenting_payload().then(|| FragmentFields {
                id: u32::from(h.identification()),
                offset: u32::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
            });
            Ok(IpLayer {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                // The protocol field itself: the authentication header, if any, is part of
                // a fragment's data.
                protocol: if fragment.is_some() {
                    h.protocol().0
                } else {
                    p.ip_number.0
                },
                payload: if fragment.is_some() {
                    let start = usize::from(h.ihl()) * 4;
                    let end = offset_in(b, p.payload) + p.payload.len();
                    b.get(start..end)
                        .ok_or_else(|| DecodeError::malformed(Layer::Ipv4, "IHL"))?
                } else {
                    p.payload
                },
                incomplete: p.incomplete,
                fragment,
                extension_error,
            })
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let p = v6.payload();
            let mut layer = IpLayer {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                protocol: p.ip_number.0,
                payload: p.payload,
                incomplete: p.incomplete,
                fragment: None,
                extension_error,
            };
            // The Fragment header is found and read here: etherparse 0.19 takes the offset's
            // low bits and the M flag from the wrong bits of it, and its iterator over
            // extension headers reads past the end of one cut short.
            let end = offset_in(b, p.payload) + p.payload.len();
            if let Some(at) = fragment_header(b, end) {
                let f = &b[at..at + 8];
                let word = u16::from_be_bytes([f[2], f[3]]);
                let (offset, more) = (u32::from(word >> 3) * 8, word & 1 == 1);
                if offset != 0 || more {
                    layer.protocol = f[0];
                    layer.payload = &b[at + 8..end];
                    layer.fragment = Some(FragmentFields {
                        id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                        offset,
                        more,
                    });
                }
            }
            Ok(layer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_total_length_zero_takes_the_captured_length() {
        // Total length 0 (segmentation offload on the capturing host), TCP, 4 bytes after.
        let mut b = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        b.extend_from_slice(&[1, 2, 3, 4]);
        let l = ip(&b).unwrap();
        assert_eq!((l.protocol, l.payload), (6, &[1, 2, 3, 4][..]));
        assert!(l.fragment.is_none());
        // Total length 24 with padding after it: the length field holds.
        b[3] = 22;
        assert_eq!(ip(&b).unwrap().payload, &[1, 2]);
    }

    #[test]
    fn ipv4_fragment_fields() {
        // id 0x1234, MF, offset 185 (1480 bytes), protocol UDP.
        let b = [
            0x45, 0, 0, 24, 0x12, 0x34, 0x20, 185, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9,
        ];
        let l = ip(&b).unwrap();
        assert_eq!(
            l.fragment,
            Some(FragmentFields {
                id: 0x1234,
                offset: 1480,
                more: true
            })
        );
        assert_eq!((l.protocol, l.payload), (17, &[9, 9, 9, 9][..]));
    }

    #[test]
    fn ipv6_fragment_header() {
        // IPv6, payload length 12, next header 44 (fragment): next TCP, offset 1 (8 bytes),
        // M clear, id 0xdeadbeef; 4 bytes of data.
        let mut b = vec![0x60, 0, 0, 0, 0, 12, 44, 64];
        b.extend_from_slice(&[1; 16]);
        b.extend_from_slice(&[2; 16]);
        b.extend_from_slice(&[6, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 5, 6, 7, 8]);
        let l = ip(&b).unwrap();
        assert_eq!(
            l.fragment,
            Some(FragmentFields {
                id: 0xdead_beef,
                offset: 8,
                more: false
            })
        );
        assert_eq!((l.protocol, l.payload), (6, &[5, 6, 7, 8][..]));
    }

    /// Found by the `decode` fuzz target: an IPv6 extension header cut short, which
    /// etherparse's extension iterator read past.
    #[test]
    fn a_cut_extension_header_is_not_read_past() {
        let frame = [
            0x00, 0x00, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x86, 0xdd, 0x60, 0x0d, 0xc7, 0xa6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x28, 0xff, 0xff, 0xff, 0xd5, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x11, 0x5a, 0xb7, 0xc8, 0x2e, 0x92,
            0x88, 0x82, 0xfb, 0x19, 0x16, 0x31, 0x80, 0x10, 0x00, 0x42, 0x00, 0x28, 0x00, 0x00,
            0x01, 0x01, 0x08, 0x0a, 0xa0, 0x56, 0x06, 0x83, 0x3d, 0x5e, 0x0e, 0x2c,
        ];
        let _ = ip(&frame[14..]);
        let _ = crate::decode::decode_packet(crate::decode::LinkType::Ethernet, &frame);
        // A fragment header behind a hop-by-hop header is found.
        let mut b = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        b.extend_from_slice(&[1; 32]);
        b.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop, next: fragment
        b.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 9, 7, 7, 7, 7, 7, 7, 7, 7]);
        let l = ip(&b).unwrap();
        assert_eq!(
            l.fragment,
            Some(FragmentFields {
                id: 9,
                offset: 0,
                more: true
            })
        );
        assert_eq!((l.protocol, l.payload), (6, &[7; 8][..]));
    }
}
