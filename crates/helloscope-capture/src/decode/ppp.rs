//! PPP (RFC 1661) protocol fields and PPPoE session headers (RFC 2516).

use super::{DecodeError, Layer, Next};

/// The EtherType that carries what PPP protocol `p` carries.
fn ether_type_of(p: u16) -> Option<u16> {
    match p {
        0x0021 => Some(0x0800),
        0x0057 => Some(0x86dd),
        0x0281 => Some(0x8847),
        0x0283 => Some(0x8848),
        _ => None,
    }
}

/// A PPP protocol field (one byte when compressed: its low bit is set) and what follows.
pub(crate) fn protocol(b: &[u8]) -> Result<Next<'_>, DecodeError> {
    let (p, rest) = match b {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [a, c, rest @ ..] => (u16::from_be_bytes([*a, *c]), rest),
        _ => return Err(DecodeError::len(Layer::Ppp, 2, b.len())),
    };
    match ether_type_of(p) {
        Some(t) => Ok(Next::EtherType(Layer::Ppp, t, rest)),
        None => Err(DecodeError::unsupported(Layer::Ppp, p)),
    }
}

/// A PPPoE session header: version/type (1), code (1), session id (2), length (2), then PPP.
pub(crate) fn pppoe_session(b: &[u8]) -> Result<Next<'_>, DecodeError> {
    match b {
        [_, _, _, _, _, _, rest @ ..] => protocol(rest),
        _ => Err(DecodeError::len(Layer::Pppoe, 6, b.len())),
    }
}
