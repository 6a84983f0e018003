//! Protocol versions (the `ProtocolVersion` of RFC 8446 §4.1.2 and its SSL/DTLS ancestors).

use core::fmt;

use crate::grease::is_grease_u16;

/// A protocol version as it appears on the wire: SSL 2.0 and 3.0, TLS 1.0 to 1.3, the
/// TLS 1.3 drafts, DTLS, GREASE (RFC 8701) and anything else.
///
/// Comparisons (`<`, `max`) order versions by what they mean, not by their wire value:
/// SSL 2.0 < SSL 3.0 < TLS 1.0 < TLS 1.1 < TLS 1.2 < TLS 1.3 drafts < TLS 1.3; DTLS, GREASE and
/// unknown values sort below SSL 2.0 because nothing can be said of their strength.
///
/// ```
/// use helloscope_tls::TlsVersion;
/// let v = TlsVersion::from_wire(0x0303);
/// assert_eq!(v, TlsVersion::Tls12);
/// assert_eq!(v.to_string(), "TLS 1.2");
/// assert!(TlsVersion::Tls11 < TlsVersion::Tls12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// SSL 2.0 (0x0002).
    Ssl2,
    /// SSL 3.0 (0x0300).
    Ssl3,
    /// TLS 1.0 (0x0301).
    Tls10,
    /// TLS 1.1 (0x0302).
    Tls11,
    /// TLS 1.2 (0x0303).
    Tls12,
    /// TLS 1.3 (0x0304).
    Tls13,
    /// A TLS 1.3 draft, 0x7fNN for draft NN (the number is kept).
    Tls13Draft(u8),
    /// DTLS 1.0 (0xfeff).
    Dtls10,
    /// DTLS 1.2 (0xfefd).
    Dtls12,
    /// DTLS 1.3 (0xfefc).
    Dtls13,
    /// A GREASE value (RFC 8701), such as 0x0a0a.
    Grease(u16),
    /// Any other value.
    Unknown(u16),
}

impl TlsVersion {
    /// Interprets a wire value.
    pub const fn from_wire(v: u16) -> Self {
        match v {
            0x0002 => Self::Ssl2,
            0x0300 => Self::Ssl3,
            0x0301 => Self::Tls10,
            0x0302 => Self::Tls11,
            0x0303 => Self::Tls12,
            0x0304 => Self::Tls13,
            0x7f00..=0x7fff => Self::Tls13Draft((v & 0xff) as u8),
            0xfeff => Self::Dtls10,
            0xfefd => Self::Dtls12,
            0xfefc => Self::Dtls13,
            v if is_grease_u16(v) => Self::Grease(v),
            v => Self::Unknown(v),
        }
    }

    /// The wire value.
    pub const fn to_wire(self) -> u16 {
        match self {
            Self::Ssl2 => 0x0002,
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
            Self::Tls13Draft(n) => 0x7f00 | n as u16,
            Self::Dtls10 => 0xfeff,
            Self::Dtls12 => 0xfefd,
            Self::Dtls13 => 0xfefc,
            Self::Grease(v) | Self::Unknown(v) => v,
        }
    }

    /// True for GREASE values.
    pub const fn is_grease(self) -> bool {
        matches!(self, Self::Grease(_))
    }

    /// True for the versions this crate names (everything but GREASE and unknown values).
    pub const fn is_known(self) -> bool {
        !matches!(self, Self::Grease(_) | Self::Unknown(_))
    }

    /// The version's name, `"TLS 1.2"`, for the named versions; drafts, GREASE and unknown
    /// values have none (their [`Display`](fmt::Display) form says what they are).
    ///
    /// ```
    /// use helloscope_tls::TlsVersion;
    /// assert_eq!(TlsVersion::from_wire(0x0303).name(), Some("TLS 1.2"));
    /// assert_eq!(TlsVersion::from_wire(0x7f17).name(), None);
    /// assert_eq!(TlsVersion::from_wire(0x7f17).to_string(), "TLS 1.3 draft 23");
    /// ```
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::Ssl2 => "SSL 2.0",
            Self::Ssl3 => "SSL 3.0",
            Self::Tls10 => "TLS 1.0",
            Self::Tls11 => "TLS 1.1",
            Self::Tls12 => "TLS 1.2",
            Self::Tls13 => "TLS 1.3",
            Self::Dtls10 => "DTLS 1.0",
            Self::Dtls12 => "DTLS 1.2",
            Self::Dtls13 => "DTLS 1.3",
            Self::Tls13Draft(_) | Self::Grease(_) | Self::Unknown(_) => return None,
        })
    }

    /// The two characters JA4 uses for this version ("13", "12", "s3", "d2" …, "00" otherwise).
    pub const fn ja4_code(self) -> &'static str {
        match self {
            Self::Tls13 => "13",
            Self::Tls12 => "12",
            Self::Tls11 => "11",
            Self::Tls10 => "10",
            Self::Ssl3 => "s3",
            Self::Ssl2 => "s2",
            Self::Dtls10 => "d1",
            Self::Dtls12 => "d2",
            Self::Dtls13 => "d3",
            _ => "00",
        }
    }

    /// The TLS version a DTLS version is built on (RFC 6347 §1: DTLS 1.0 is TLS 1.1's, DTLS
    /// 1.2 is TLS 1.2's; RFC 9147: DTLS 1.3 is TLS 1.3's), so that a policy's minimum TLS
    /// version applies to DTLS too; every other version is itself.
    ///
    /// ```
    /// use helloscope_tls::TlsVersion;
    /// assert_eq!(TlsVersion::Dtls12.tls_equivalent(), TlsVersion::Tls12);
    /// assert_eq!(TlsVersion::Dtls10.tls_equivalent(), TlsVersion::Tls11);
    /// assert_eq!(TlsVersion::Tls10.tls_equivalent(), TlsVersion::Tls10);
    /// ```
    pub const fn tls_equivalent(self) -> Self {
        match self {
            Self::Dtls10 => Self::Tls11,
            Self::Dtls12 => Self::Tls12,
            Self::Dtls13 => Self::Tls13,
            v => v,
        }
    }

    /// Strength rank used by `Ord`: higher is newer.
    const fn rank(self) -> u32 {
        match self {
            Self::Grease(v) | Self::Unknown(v) => v as u32,
            Self::Dtls10 => 0x1_0000,
            Self::Dtls12 => 0x1_0001,
            Self::Dtls13 => 0x1_0002,
            Self::Ssl2 => 0x2_0000,
            Self::Ssl3 => 0x2_0300,
            Self::Tls10 => 0x2_0301,
            Self::Tls11 => 0x2_0302,
            Self::Tls12 => 0x2_0303,
            Self::Tls13Draft(n) => 0x2_0400 | n as u32,
            Self::Tls13 => 0x2_0500,
        }
    }
}

impl PartialOrd for TlsVersion {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TlsVersion {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl From<u16> for TlsVersion {
    fn from(v: u16) -> Self {
        Self::from_wire(v)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(n), _) => f.write_str(n),
            (None, Self::Tls13Draft(n)) => write!(f, "TLS 1.3 draft {n}"),
            (None, Self::Grease(v)) => write!(f, "GREASE 0x{v:04x}"),
            (None, _) => write!(f, "0x{:04x}", self.to_wire()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_for_every_value() {
        for v in 0..=u16::MAX {
            assert_eq!(TlsVersion::from_wire(v).to_wire(), v);
        }
    }

    #[test]
    fn names_and_order() {
        assert_eq!(TlsVersion::from_wire(0x0300).to_string(), "SSL 3.0");
        assert_eq!(TlsVersion::from_wire(0x0002).to_string(), "SSL 2.0");
        assert_eq!(
            TlsVersion::from_wire(0x7f17).to_string(),
            "TLS 1.3 draft 23"
        );
        assert_eq!(TlsVersion::from_wire(0x1a1a), TlsVersion::Grease(0x1a1a));
        assert!(TlsVersion::Tls13Draft(28) < TlsVersion::Tls13);
        assert!(TlsVersion::Tls12 < TlsVersion::Tls13Draft(18));
        assert!(TlsVersion::Ssl2 < TlsVersion::Ssl3);
        assert!(TlsVersion::Grease(0xfafa) < TlsVersion::Ssl2);
        assert_eq!(TlsVersion::Dtls12.ja4_code(), "d2");
        assert_eq!(TlsVersion::Tls13Draft(18).ja4_code(), "00");
    }
}
