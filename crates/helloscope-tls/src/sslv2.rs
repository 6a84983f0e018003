//! The SSL 2.0-compatible CLIENT-HELLO (RFC 5246 appendix E.2, RFC 6101 appendix E), which old
//! Java, .NET and OpenSSL clients send so that SSL 2.0 servers can answer too.

use crate::error::{Error, Structure};
use crate::version::TlsVersion;

/// An SSLv2-format CLIENT-HELLO, borrowing from the input.
///
/// ```
/// use helloscope_tls::{Sslv2ClientHello, TlsVersion};
/// // Record header 0x80 0x1c (28 bytes), CLIENT-HELLO, TLS 1.0, 3 cipher specs, 16-byte challenge.
/// let mut b = vec![0x80, 0x1c, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10];
/// b.extend([0x00, 0x00, 0x2f]);
/// b.extend([0x42; 16]);
/// let (hello, rest) = Sslv2ClientHello::parse(&b)?;
/// assert_eq!(hello.version, TlsVersion::Tls10);
/// assert_eq!(hello.cipher_specs().collect::<Vec<_>>(), [0x00002f]);
/// assert!(rest.is_empty());
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sslv2ClientHello<'a> {
    /// The highest version the client supports (0x0002 for SSL 2.0, 0x0301 for TLS 1.0 …).
    pub version: TlsVersion,
    cipher_specs: &'a [u8],
    /// The session id (empty or 16 bytes).
    pub session_id: &'a [u8],
    /// The challenge (16 to 32 bytes).
    pub challenge: &'a [u8],
}

impl<'a> Sslv2ClientHello<'a> {
    /// True when `stream` starts like an SSLv2 CLIENT-HELLO: two-byte header with the high bit
    /// set, then message type 1 and a major version of 0 (SSL 2.0) or 3.
    pub fn looks_like(stream: &[u8]) -> bool {
        matches!(stream, [h, _, 1, 0 | 3, ..] if h & 0x80 != 0)
    }

    /// Parses the hello from the start of `stream`, returning it and the bytes after it.
    pub fn parse(stream: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        let malformed = |field| Error::Malformed {
            structure: Structure::Sslv2ClientHello,
            field,
        };
        if stream.len() < 2 {
            return Err(Error::Incomplete {
                needed: 2 - stream.len(),
            });
        }
        if stream[0] & 0x80 == 0 {
            // The three-byte header form carries padding and is never used for hellos.
            return Err(malformed("record header"));
        }
        let len = (u16::from_be_bytes([stream[0], stream[1]]) & 0x7fff) as usize;
        let end = 2 + len;
        if stream.len() < end {
            return Err(Error::Incomplete {
                needed: end - stream.len(),
            });
        }
        let m = &stream[2..end];
        if m.len() < 9 {
            return Err(malformed("length"));
        }
        if m[0] != 1 {
            return Err(malformed("msg_type"));
        }
        let version = TlsVersion::from_wire(u16::from_be_bytes([m[1], m[2]]));
        let cs_len = u16::from_be_bytes([m[3], m[4]]) as usize;
        let sid_len = u16::from_be_bytes([m[5], m[6]]) as usize;
        let ch_len = u16::from_be_bytes([m[7], m[8]]) as usize;
        if !cs_len.is_multiple_of(3) || cs_len == 0 {
            return Err(malformed("cipher_spec_length"));
        }
        if sid_len != 0 && sid_len != 16 {
            return Err(malformed("session_id_length"));
        }
        if !(16..=32).contains(&ch_len) {
            return Err(malformed("challenge_length"));
        }
        if 9 + cs_len + sid_len + ch_len != m.len() {
            return Err(malformed("length"));
        }
        let cipher_specs = &m[9..9 + cs_len];
        let session_id = &m[9 + cs_len..9 + cs_len + sid_len];
        let challenge = &m[9 + cs_len + sid_len..];
        Ok((
            Sslv2ClientHello {
                version,
                cipher_specs,
                session_id,
                challenge,
            },
            &stream[end..],
        ))
    }

    /// The three-byte cipher specs, in wire order. TLS cipher suites appear as `0x00XXYY`.
    pub fn cipher_specs(&self) -> impl Iterator<Item = u32> + 'a {
        self.cipher_specs
            .chunks_exact(3)
            .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
    }
}
