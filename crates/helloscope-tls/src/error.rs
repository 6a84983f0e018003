//! The one error type of the crate, and the small nom plumbing that produces it.

use nom::error::{ErrorKind, ParseError};

/// Why bytes could not be parsed: which structure, and how many bytes were missing or which
/// field was wrong, for callers to match on.
///
/// [`Error::Incomplete`] means the bytes so far are a valid prefix and more are needed (only
/// the streaming entry points — records and handshake headers — return it);
/// [`Error::TooLong`] that a length is valid but past the caller's bound; every other case
/// is [`Error::Malformed`], naming the RFC structure and field that was wrong.
///
/// ```
/// use helloscope_tls::{parse_handshake, parse_record, Error, Structure};
/// // A handshake record header announcing 5 bytes, followed by 2.
/// let err = parse_record(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2]).unwrap_err();
/// assert_eq!(err, Error::Incomplete { needed: 3 });
/// // A Certificate message announcing 16 MiB, past a 64 KiB bound.
/// let err = parse_handshake(&[11, 0xff, 0xff, 0xff], 1 << 16).unwrap_err();
/// assert!(matches!(
///     err,
///     Error::TooLong { structure: Structure::Handshake, length: 0xff_ffff, limit: 0x1_0000 }
/// ));
/// match err {
///     Error::Malformed { structure, field } => println!("bad {field} in a {structure}"),
///     other => println!("{other}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is a valid prefix; `needed` more bytes are required to go on.
    #[error("incomplete: {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// The input cannot be what it claims to be.
    #[error("malformed {structure}: {field}")]
    Malformed {
        /// The RFC structure being read.
        structure: Structure,
        /// The field or rule that failed, in the RFC's words, e.g. `cipher_suites`
        /// (`truncated` when the structure ends before its fields do).
        field: &'static str,
    },
    /// A structure announces a length longer than the bound the caller set (a handshake
    /// message longer than [`HandshakeReassembler`](crate::HandshakeReassembler) buffers):
    /// not malformed, but not read.
    #[error("{structure} of {length} bytes, longer than the limit of {limit}")]
    TooLong {
        /// The structure whose length is announced.
        structure: Structure,
        /// The length it announces, in bytes.
        length: usize,
        /// The caller's bound, in bytes.
        limit: usize,
    },
}

/// The structure an [`Error`] is about, named as its RFC names it (its `Display`).
///
/// ```
/// assert_eq!(helloscope_tls::Structure::TlsPlaintext.to_string(), "TLSPlaintext");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Structure {
    /// The ClientHello (RFC 8446 §4.1.2).
    ClientHello,
    /// The ServerHello or HelloRetryRequest (RFC 8446 §4.1.3).
    ServerHello,
    /// A handshake message's header (RFC 8446 §4).
    Handshake,
    /// A record (RFC 8446 §5.1).
    TlsPlaintext,
    /// An alert (RFC 8446 §6).
    Alert,
    /// The SSLv2-compatible CLIENT-HELLO (RFC 6101 Appendix E.1, RFC 5246 Appendix E.2).
    Sslv2ClientHello,
    /// A DTLS record (RFC 6347 §4.1, RFC 9147 §4).
    DtlsPlaintext,
    /// A DTLS handshake message's header (RFC 6347 §4.2.2).
    DtlsHandshake,
    /// The DTLS HelloVerifyRequest (RFC 6347 §4.2.1).
    HelloVerifyRequest,
    /// A QUIC Initial packet: its protection or payload (RFC 9001 §5).
    QuicInitialPacket,
    /// A QUIC long header (RFC 9000 §17.2).
    QuicLongHeader,
    /// A frame of a QUIC packet (RFC 9000 §12.4).
    QuicFrame,
    /// The CRYPTO stream of QUIC Initial packets (RFC 9000 §19.6).
    QuicCryptoStream,
    /// A QUIC variable-length integer (RFC 9000 §16).
    QuicVarint,
    /// The encrypted_client_hello extension (RFC 9849, ECHClientHello).
    EchClientHello,
    /// The key_share extension of a ClientHello (RFC 8446 §4.2.8).
    KeyShareClientHello,
    /// The key_share extension of a ServerHello (RFC 8446 §4.2.8).
    KeyShareServerHello,
    /// The supported_groups extension (RFC 8446 §4.2.7).
    NamedGroupList,
    /// The pre_shared_key extension of a ClientHello (RFC 8446 §4.2.11).
    OfferedPsks,
    /// The padding extension (RFC 7685).
    PaddingExtension,
    /// The application_layer_protocol_negotiation extension (RFC 7301 §3.1).
    ProtocolNameList,
    /// The psk_key_exchange_modes extension (RFC 8446 §4.2.9).
    PskKeyExchangeModes,
    /// The server_name extension (RFC 6066 §3).
    ServerNameList,
    /// The signature_algorithms extension (RFC 8446 §4.2.3).
    SignatureSchemeList,
    /// The supported_versions extension (RFC 8446 §4.2.1).
    SupportedVersions,
    /// The ec_point_formats extension (RFC 8422 §5.1.2).
    EcPointFormatList,
    /// The renegotiation_info extension (RFC 5746 §3.2).
    RenegotiationInfo,
}

impl Structure {
    /// The structure's name in its RFC.
    pub fn name(self) -> &'static str {
        match self {
            Structure::ClientHello => "ClientHello",
            Structure::ServerHello => "ServerHello",
            Structure::Handshake => "Handshake",
            Structure::TlsPlaintext => "TLSPlaintext",
            Structure::Alert => "Alert",
            Structure::Sslv2ClientHello => "SSLv2 CLIENT-HELLO",
            Structure::DtlsPlaintext => "DTLSPlaintext",
            Structure::DtlsHandshake => "DTLS Handshake",
            Structure::HelloVerifyRequest => "HelloVerifyRequest",
            Structure::QuicInitialPacket => "QUIC Initial packet",
            Structure::QuicLongHeader => "QUIC long header",
            Structure::QuicFrame => "QUIC frame",
            Structure::QuicCryptoStream => "QUIC crypto stream",
            Structure::QuicVarint => "QUIC variable-length integer",
            Structure::EchClientHello => "ECHClientHello",
            Structure::KeyShareClientHello => "KeyShareClientHello",
            Structure::KeyShareServerHello => "KeyShareServerHello",
            Structure::NamedGroupList => "NamedGroupList",
            Structure::OfferedPsks => "OfferedPsks",
            Structure::PaddingExtension => "PaddingExtension",
            Structure::ProtocolNameList => "ProtocolNameList",
            Structure::PskKeyExchangeModes => "PskKeyExchangeModes",
            Structure::ServerNameList => "ServerNameList",
            Structure::SignatureSchemeList => "SignatureSchemeList",
            Structure::SupportedVersions => "SupportedVersions",
            Structure::EcPointFormatList => "ECPointFormatList",
            Structure::RenegotiationInfo => "RenegotiationInfo",
        }
    }
}

impl std::fmt::Display for Structure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The nom error used inside the crate: only the name of the field that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
}

impl<I> ParseError<I> for FieldError {
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        FieldError { field: "" }
    }
    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, FieldError>;

/// Names the field a sub-parser reads, unless an inner parser already named it.
pub(crate) fn field<'a, T>(
    name: &'static str,
    mut p: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, T> {
    move |i| {
        p(i).map_err(|e| {
            e.map(|mut fe| {
                if fe.field.is_empty() {
                    fe.field = name;
                }
                fe
            })
        })
    }
}

/// A failure with a field name, for checks that are not nom parsers.
pub(crate) fn fail<T>(name: &'static str) -> PResult<'static, T> {
    Err(nom::Err::Error(FieldError { field: name }))
}

/// Turns a nom result over a complete message into the public error.
pub(crate) fn finish<T>(structure: Structure, r: PResult<'_, T>) -> Result<T, Error> {
    match r {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Incomplete(_)) => Err(Error::Malformed {
            structure,
            field: "truncated",
        }),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(Error::Malformed {
            structure,
            field: if e.field.is_empty() {
                "truncated"
            } else {
                e.field
            },
        }),
    }
}

/// Reads a vector with a `u8` length prefix (RFC 8446 §3.4 `opaque x<0..2^8-1>`).
pub(crate) fn vec_u8(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u8)(i)
}

/// Reads a vector with a `u16` length prefix (`opaque x<0..2^16-1>`).
pub(crate) fn vec_u16(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u16)(i)
}
