//! GREASE values (RFC 8701): reserved values that clients sprinkle into every list so that
//! servers learn to ignore what they do not know.

/// True for the sixteen 16-bit GREASE values 0x0a0a, 0x1a1a … 0xfafa (RFC 8701 §2), used for
/// cipher suites, extensions, named groups, signature algorithms and versions.
///
/// ```
/// use helloscope_tls::is_grease_u16;
/// assert!(is_grease_u16(0x2a2a));
/// assert!(!is_grease_u16(0x2a2b));
/// assert!(!is_grease_u16(0x0303));
/// ```
#[inline]
pub const fn is_grease_u16(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// True for the eight-bit GREASE values of PskKeyExchangeModes (0x0b, 0x2a, 0x49 … 0xe5;
/// RFC 8701 §2: 0x0B + 0x1F * n).
///
/// ```
/// use helloscope_tls::is_grease_u8;
/// assert!(is_grease_u8(0x2a));
/// assert!(!is_grease_u8(0x01));
/// ```
#[inline]
pub const fn is_grease_u8(v: u8) -> bool {
    v >= 0x0b && (v - 0x0b).is_multiple_of(0x1f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_sixteen_u16_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease_u16(v)).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[0], 0x0a0a);
        assert_eq!(all[15], 0xfafa);
    }

    #[test]
    fn exactly_eight_u8_values() {
        let all: Vec<u8> = (0..=u8::MAX).filter(|&v| is_grease_u8(v)).collect();
        assert_eq!(all, vec![0x0b, 0x2a, 0x49, 0x68, 0x87, 0xa6, 0xc5, 0xe4]);
    }
}
