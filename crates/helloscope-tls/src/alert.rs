//! Alerts (RFC 8446 §6, RFC 5246 §7.2).

use core::fmt;

use nom::combinator::all_consuming;
use nom::number::complete::be_u8;
use nom::sequence::tuple;

use crate::error::{field, finish, Error, PResult, Structure};

/// `AlertLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertLevel {
    /// warning (1).
    Warning,
    /// fatal (2).
    Fatal,
    /// Any other value (seen when an encrypted alert is read as plaintext).
    Unknown(u8),
}

impl AlertLevel {
    /// The name RFC 5246 §7.2 gives the level (`warning`, `fatal`), `None` for other values.
    ///
    /// ```
    /// use helloscope_tls::AlertLevel;
    /// assert_eq!(AlertLevel::Fatal.name(), Some("fatal"));
    /// assert_eq!(AlertLevel::Unknown(9).name(), None);
    /// ```
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Self::Warning => Some("warning"),
            Self::Fatal => Some("fatal"),
            Self::Unknown(_) => None,
        }
    }
}

impl fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(v) => write!(f, "level_{v}"),
            named => f.write_str(named.name().unwrap_or_default()),
        }
    }
}

/// `AlertDescription` (IANA "TLS Alerts").
///
/// ```
/// use helloscope_tls::AlertDescription;
/// assert_eq!(AlertDescription(70).to_string(), "protocol_version");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// close_notify (0).
    pub const CLOSE_NOTIFY: Self = Self(0);
    /// handshake_failure (40).
    pub const HANDSHAKE_FAILURE: Self = Self(40);
    /// protocol_version (70): the peer refuses every offered version.
    pub const PROTOCOL_VERSION: Self = Self(70);
    /// inappropriate_fallback (86, RFC 7507).
    pub const INAPPROPRIATE_FALLBACK: Self = Self(86);

    /// The registry name, if assigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            121 => "ech_required",
            _ => return None,
        })
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "alert_{}", self.0),
        }
    }
}

/// One alert.
///
/// ```
/// use helloscope_tls::{Alert, AlertLevel, AlertDescription};
/// let a = Alert::parse(&[2, 70])?;
/// assert_eq!(a.level, AlertLevel::Fatal);
/// assert_eq!(a.description, AlertDescription::PROTOCOL_VERSION);
/// assert_eq!(a.to_string(), "fatal protocol_version");
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Alert {
    /// Level.
    pub level: AlertLevel,
    /// Description.
    pub description: AlertDescription,
}

impl Alert {
    /// Parses the first alert of an alert record's fragment. A fragment that is not exactly
    /// two bytes long is an encrypted alert and cannot be read.
    pub fn parse(fragment: &[u8]) -> Result<Alert, Error> {
        finish(
            Structure::Alert,
            field("length (encrypted?)", all_consuming(alert))(fragment),
        )
    }
}

/// `struct { AlertLevel level; AlertDescription description; } Alert;`
fn alert(i: &[u8]) -> PResult<'_, Alert> {
    let (i, (level, description)) = tuple((be_u8, be_u8))(i)?;
    let level = match level {
        1 => AlertLevel::Warning,
        2 => AlertLevel::Fatal,
        v => AlertLevel::Unknown(v),
    };
    Ok((
        i,
        Alert {
            level,
            description: AlertDescription(description),
        },
    ))
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.level, self.description)
    }
}
