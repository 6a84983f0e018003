//! The SSL 2.0-compatible CLIENT-HELLO (RFC 5246 appendix E.2, RFC 6101 appendix E), which old
//! Java, .NET and OpenSSL clients send so that SSL 2.0 servers can answer too.

use nom::bytes::complete::take;
use nom::combinator::all_consuming;
use nom::number::complete::{be_u16, be_u8};
use nom::sequence::tuple;
use nom::Needed;

use crate::error::{fail, field, finish, Error, PResult, Structure};
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
        match record(stream) {
            Ok((rest, hello)) => Ok((hello, rest)),
            Err(nom::Err::Incomplete(Needed::Size(n))) => {
                Err(Error::Incomplete { needed: n.get() })
            }
            Err(e) => finish(Structure::Sslv2ClientHello, Err(e)),
        }
    }

    /// The three-byte cipher specs, in wire order. TLS cipher suites appear as `0x00XXYY`.
    pub fn cipher_specs(&self) -> impl Iterator<Item = u32> + 'a {
        self.cipher_specs
            .chunks_exact(3)
            .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
    }
}

/// The record: a two-byte header (high bit set, then the length) and the CLIENT-HELLO it
/// carries. Streaming, so that a cut record asks for the bytes it lacks.
fn record(i: &[u8]) -> PResult<'_, Sslv2ClientHello<'_>> {
    let (i, header) = nom::number::streaming::be_u16(i)?;
    if header & 0x8000 == 0 {
        // The three-byte header form carries padding and is never used for hellos.
        return fail("record header");
    }
    let (rest, message) = nom::bytes::streaming::take(header & 0x7fff)(i)?;
    let (_, hello) = client_hello(message)?;
    Ok((rest, hello))
}

/// CLIENT-HELLO: msg_type, version, the three lengths, then the cipher specs, session id and
/// challenge they announce, filling the record exactly.
fn client_hello(i: &[u8]) -> PResult<'_, Sslv2ClientHello<'_>> {
    let (i, (msg_type, version, cipher_spec_length, session_id_length, challenge_length)) =
        field("length", tuple((be_u8, be_u16, be_u16, be_u16, be_u16)))(i)?;
    if msg_type != 1 {
        return fail("msg_type");
    }
    if cipher_spec_length % 3 != 0 || cipher_spec_length == 0 {
        return fail("cipher_spec_length");
    }
    if session_id_length != 0 && session_id_length != 16 {
        return fail("session_id_length");
    }
    if !(16..=32).contains(&challenge_length) {
        return fail("challenge_length");
    }
    let (i, (cipher_specs, session_id, challenge)) = field(
        "length",
        all_consuming(tuple((
            take(cipher_spec_length),
            take(session_id_length),
            take(challenge_length),
        ))),
    )(i)?;
    Ok((
        i,
        Sslv2ClientHello {
            version: TlsVersion::from_wire(version),
            cipher_specs,
            session_id,
            challenge,
        },
    ))
}
