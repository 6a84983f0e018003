//! ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4).

use nom::bytes::complete::take;
use nom::combinator::verify;
use nom::number::complete::{be_u16, be_u8};

use crate::error::{field, finish, vec_u8, Error, PResult, Structure};
use crate::extensions::{self, Extensions};
use crate::registry::{CipherSuite, ExtensionType, NamedGroup};
use crate::version::TlsVersion;

/// The fixed `random` that marks a ServerHello as a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What the last eight bytes of a ServerHello random say about a downgrade (RFC 8446 §4.1.3):
/// a TLS 1.3 server that negotiates less writes a sentinel there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DowngradeSentinel {
    /// `DOWNGRD\x01`: a TLS 1.3 server negotiated TLS 1.2.
    Tls12,
    /// `DOWNGRD\x00`: a TLS 1.3 (or 1.2) server negotiated TLS 1.1 or below.
    Tls11OrBelow,
}

/// A ServerHello (or HelloRetryRequest), borrowing from the message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerHello<'a> {
    /// `legacy_version` (0x0303 in TLS 1.3; the real version is in supported_versions).
    pub legacy_version: TlsVersion,
    /// The 32-byte `random`.
    pub random: &'a [u8],
    /// `legacy_session_id_echo`.
    pub session_id: &'a [u8],
    /// The selected cipher suite.
    pub cipher_suite: CipherSuite,
    /// The selected compression method.
    pub compression_method: u8,
    extensions: Option<&'a [u8]>,
    extensions_malformed: bool,
}

fn server_hello(i: &[u8]) -> PResult<'_, ServerHello<'_>> {
    let (i, legacy_version) = field("legacy_version", be_u16)(i)?;
    let (i, random) = field("random", take(32usize))(i)?;
    // TLS 1.3 drafts before 22 put the real version in this field and dropped the session
    // id and compression method (draft-ietf-tls-tls13-21 §4.1.3); some of their servers
    // already wrote 0x0304 there. The final format always has 0x0303.
    let early_draft = matches!(
        TlsVersion::from_wire(legacy_version),
        TlsVersion::Tls13Draft(0..=21) | TlsVersion::Tls13
    );
    let (i, session_id) = if early_draft {
        (i, &i[..0])
    } else {
        field(
            "legacy_session_id_echo",
            verify(vec_u8, |s: &[u8]| s.len() <= 32),
        )(i)?
    };
    let (i, cipher_suite) = field("cipher_suite", be_u16)(i)?;
    let (i, compression_method) = if early_draft {
        (i, 0)
    } else {
        field("legacy_compression_method", be_u8)(i)?
    };
    let (extensions, extensions_malformed) = extensions::optional_extensions_block(i);
    let i = &i[i.len()..];
    Ok((
        i,
        ServerHello {
            legacy_version: TlsVersion::from_wire(legacy_version),
            random,
            session_id,
            cipher_suite: CipherSuite(cipher_suite),
            compression_method,
            extensions,
            extensions_malformed,
        },
    ))
}

impl<'a> ServerHello<'a> {
    /// Parses the body of a server_hello handshake message.
    ///
    /// ```
    /// use helloscope_tls::{ServerHello, TlsVersion, CipherSuite};
    /// let mut body = vec![0x03, 0x03];
    /// body.extend([7u8; 32]);
    /// body.extend([0, 0x13, 0x01, 0]); // no session id, TLS_AES_128_GCM_SHA256, null
    /// body.extend([0, 6, 0x00, 0x2b, 0, 2, 0x03, 0x04]); // supported_versions: TLS 1.3
    /// let sh = ServerHello::parse(&body)?;
    /// assert_eq!(sh.selected_version(), TlsVersion::Tls13);
    /// assert_eq!(sh.cipher_suite, CipherSuite(0x1301));
    /// assert!(!sh.is_hello_retry_request());
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        finish(Structure::ServerHello, server_hello(body))
    }

    /// True when the extensions block was malformed past some point (a length running past
    /// the message, a truncated extension, trailing bytes): [`Self::extensions`] then holds
    /// the well-formed prefix, which is what fingerprints are computed over.
    pub fn extensions_malformed(&self) -> bool {
        self.extensions_malformed
    }

    /// The extensions in wire order.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions::new(self.extensions.unwrap_or(&[]))
    }

    /// True when the message carries an extensions block.
    pub fn has_extensions_block(&self) -> bool {
        self.extensions.is_some()
    }

    /// The body of the first extension of type `t`.
    pub fn extension(&self, t: ExtensionType) -> Option<&'a [u8]> {
        self.extensions().find(|e| e.ext_type == t).map(|e| e.data)
    }

    /// True for a HelloRetryRequest, recognised by its fixed random (RFC 8446 §4.1.3).
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_REQUEST_RANDOM
    }

    /// The negotiated version: supported_versions when present (TLS 1.3), else
    /// `legacy_version`.
    pub fn selected_version(&self) -> TlsVersion {
        self.extension(ExtensionType::SUPPORTED_VERSIONS)
            .and_then(|d| extensions::parse_supported_versions_server(d).ok())
            .unwrap_or(self.legacy_version)
    }

    /// The ALPN protocol the server selected.
    pub fn alpn(&self) -> Option<&'a [u8]> {
        extensions::parse_alpn(self.extension(ExtensionType::ALPN)?)
            .ok()?
            .next()
    }

    /// The key_share group (for a HelloRetryRequest, the group the server asks for).
    pub fn key_share_group(&self) -> Option<NamedGroup> {
        extensions::parse_key_share_server(self.extension(ExtensionType::KEY_SHARE)?).ok()
    }

    /// The downgrade sentinel in the random, if any.
    pub fn downgrade_sentinel(&self) -> Option<DowngradeSentinel> {
        match self.random.get(24..32)? {
            b"DOWNGRD\x01" => Some(DowngradeSentinel::Tls12),
            b"DOWNGRD\x00" => Some(DowngradeSentinel::Tls11OrBelow),
            _ => None,
        }
    }
}
