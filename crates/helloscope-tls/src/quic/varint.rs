//! Variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
//! length (1, 2, 4 or 8 bytes), the rest is the value in network byte order.

use crate::error::{Error, Structure};

/// Reads one variable-length integer from the front of `input`, returning it and the rest.
///
/// ```
/// use helloscope_tls::quic::read_varint;
/// // RFC 9000 §A.1's examples.
/// assert_eq!(read_varint(&[0x25])?, (37, &[][..]));
/// assert_eq!(read_varint(&[0x7b, 0xbd])?.0, 15_293);
/// assert_eq!(read_varint(&[0x9d, 0x7f, 0x3e, 0x7d])?.0, 494_878_333);
/// assert_eq!(read_varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c])?.0, 151_288_809_941_952_652);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[inline]
pub fn read_varint(input: &[u8]) -> Result<(u64, &[u8]), Error> {
    // Read by hand, not with nom: it runs several times on every QUIC packet and frame, and
    // the nom version (be_u8 for the prefix, then be_u8, be_u24 or take(7) by its two bits),
    // with the long header in nom too, made `analyze` of 20,000 generated QUIC handshakes
    // cost 4,954,755,138 instructions instead of 4,924,087,987, and the quic module's own
    // functions 170.9 M instead of 163.9 M (cachegrind; `loadgen quic --flows 20000`).
    let Some(&first) = input.first() else {
        return Err(truncated());
    };
    let len = 1usize << (first >> 6);
    let Some(bytes) = input.get(..len) else {
        return Err(truncated());
    };
    let mut v = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        v = v << 8 | u64::from(b);
    }
    Ok((v, &input[len..]))
}

fn truncated() -> Error {
    Error::Malformed {
        structure: Structure::QuicVarint,
        field: "truncated",
    }
}
