//! ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).

use nom::bytes::complete::take;
use nom::combinator::verify;
use nom::number::complete::be_u16;

use crate::error::{field, finish, vec_u16, vec_u8, Error, PResult, Structure};
use crate::extensions::{self, Extension, Extensions, ProtocolNames};
use crate::registry::{CipherSuite, ExtensionType, NamedGroup, SignatureScheme, U16List};
use crate::version::TlsVersion;

/// A ClientHello, borrowing every list from the message body.
///
/// Parsing checks the framing of the whole message, extensions included, so the iterators
/// below cannot fail; the bodies of individual extensions are checked by their typed
/// readers when asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHello<'a> {
    /// `legacy_version` (the real offer is in supported_versions when present).
    pub legacy_version: TlsVersion,
    /// The 32-byte `random`.
    pub random: &'a [u8],
    /// `legacy_session_id`.
    pub session_id: &'a [u8],
    /// The DTLS `cookie` (RFC 6347 §4.2.1; `legacy_cookie` in DTLS 1.3), which follows the
    /// session ID in a DTLS ClientHello; `None` for a TLS ClientHello, which has no such field.
    pub cookie: Option<&'a [u8]>,
    cipher_suites: &'a [u8],
    /// `legacy_compression_methods`.
    pub compression_methods: &'a [u8],
    extensions: Option<&'a [u8]>,
    extensions_malformed: bool,
    /// Every field before the extensions was read (false only from
    /// [`ClientHello::parse_partial`]).
    whole: bool,
}

fn client_hello(i: &[u8], dtls: bool) -> PResult<'_, ClientHello<'_>> {
    let (i, legacy_version) = field("legacy_version", be_u16)(i)?;
    let (i, random) = field("random", take(32usize))(i)?;
    let (i, session_id) = field(
        "legacy_session_id",
        verify(vec_u8, |s: &[u8]| s.len() <= 32),
    )(i)?;
    let (i, cookie) = if dtls {
        let (i, c) = field("cookie", vec_u8)(i)?;
        (i, Some(c))
    } else {
        (i, None)
    };
    let (i, cipher_suites) = field(
        "cipher_suites",
        verify(vec_u16, |s: &[u8]| s.len().is_multiple_of(2)),
    )(i)?;
    let (i, compression_methods) = field("legacy_compression_methods", vec_u8)(i)?;
    let (extensions, extensions_malformed) = extensions::optional_extensions_block(i);
    let i = &i[i.len()..];
    Ok((
        i,
        ClientHello {
            legacy_version: TlsVersion::from_wire(legacy_version),
            random,
            session_id,
            cookie,
            cipher_suites,
            compression_methods,
            extensions,
            extensions_malformed,
            whole: true,
        },
    ))
}

/// [`client_hello`] field by field, keeping what was read before the first damage.
fn partial_client_hello(body: &[u8]) -> Option<ClientHello<'_>> {
    let (i, legacy_version) = be_u16::<_, nom::error::Error<&[u8]>>(body).ok()?;
    let mut h = ClientHello {
        legacy_version: TlsVersion::from_wire(legacy_version),
        random: &[],
        session_id: &[],
        cookie: None,
        cipher_suites: &[],
        compression_methods: &[],
        extensions: None,
        extensions_malformed: false,
        whole: false,
    };
    let Ok((i, random)) = field("random", take(32usize))(i) else {
        return Some(h);
    };
    h.random = random;
    let Ok((i, session_id)) = field(
        "legacy_session_id",
        verify(vec_u8, |s: &[u8]| s.len() <= 32),
    )(i) else {
        return Some(h);
    };
    h.session_id = session_id;
    // A list cut short by the end of the message: the suites that are there were read.
    let Some((n, rest)) = i.split_first_chunk::<2>() else {
        return Some(h);
    };
    let declared = usize::from(u16::from_be_bytes(*n));
    if declared > rest.len() || declared % 2 != 0 {
        h.cipher_suites = &rest[..declared.min(rest.len()) / 2 * 2];
        return Some(h);
    }
    h.cipher_suites = &rest[..declared];
    let i = &rest[declared..];
    let Ok((i, compression_methods)) = field("legacy_compression_methods", vec_u8)(i) else {
        return Some(h);
    };
    h.compression_methods = compression_methods;
    let (extensions, extensions_malformed) = extensions::optional_extensions_block(i);
    h.extensions = extensions;
    h.extensions_malformed = extensions_malformed;
    h.whole = true;
    Some(h)
}

impl<'a> ClientHello<'a> {
    /// Parses the body of a client_hello handshake message (after its four-byte header).
    ///
    /// ```
    /// use helloscope_tls::{ClientHello, TlsVersion};
    /// let mut body = vec![0x03, 0x03];
    /// body.extend([0u8; 32]); // random
    /// body.extend([0, 0, 2, 0x13, 0x01, 1, 0]); // no session id, one suite, null compression
    /// let ch = ClientHello::parse(&body)?;
    /// assert_eq!(ch.legacy_version, TlsVersion::Tls12);
    /// assert_eq!(ch.cipher_suites().count(), 1);
    /// assert!(!ch.has_extensions_block());
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        finish(Structure::ClientHello, client_hello(body, false))
    }

    /// Parses the body of a DTLS client_hello (after its twelve-byte DTLS handshake header
    /// and reassembly): the same fields with a `cookie` after the session ID (RFC 6347
    /// §4.2.1, RFC 9147 §5.3).
    ///
    /// ```
    /// use helloscope_tls::{ClientHello, TlsVersion};
    /// let mut body = vec![0xfe, 0xfd];
    /// body.extend([0u8; 32]); // random
    /// body.extend([0, 2, 0xc0, 0xde]); // no session id, a two-byte cookie
    /// body.extend([0, 2, 0xc0, 0x2b, 1, 0]); // one suite, null compression
    /// let ch = ClientHello::parse_dtls(&body)?;
    /// assert_eq!(ch.legacy_version, TlsVersion::Dtls12);
    /// assert_eq!(ch.cookie, Some(&[0xc0, 0xde][..]));
    /// assert_eq!(ch.cipher_suites().count(), 1);
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn parse_dtls(body: &'a [u8]) -> Result<Self, Error> {
        finish(Structure::ClientHello, client_hello(body, true))
    }

    /// The cipher suites in wire order, GREASE and SCSVs included.
    #[inline]
    pub fn cipher_suites(&self) -> U16List<'a, CipherSuite> {
        U16List::new(self.cipher_suites)
    }

    /// Reads as much of a damaged or cut client_hello body as is well formed: the fields up
    /// to the first damage, the rest empty (a cipher-suite list cut short holds the suites
    /// that are there; the extensions are the well-formed prefix of their block). `None`
    /// when not even `legacy_version` is there. [`Self::is_damaged`] says whether anything
    /// was left out.
    ///
    /// ```
    /// use helloscope_tls::{ClientHello, TlsVersion};
    /// let mut body = vec![0x03, 0x03];
    /// body.extend([0u8; 32]); // random
    /// body.extend([0, 0, 4, 0x13, 0x01]); // no session id, two suites announced, one there
    /// let ch = ClientHello::parse_partial(&body).unwrap();
    /// assert_eq!(ch.legacy_version, TlsVersion::Tls12);
    /// assert_eq!(ch.cipher_suites().count(), 1);
    /// assert!(ch.is_damaged());
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn parse_partial(body: &'a [u8]) -> Option<Self> {
        match Self::parse(body) {
            Ok(h) => Some(h),
            Err(_) => partial_client_hello(body),
        }
    }

    /// True when some of the message could not be read: a field before the extensions
    /// ([`Self::parse_partial`]) or the extensions block past some point
    /// ([`Self::extensions_malformed`]).
    pub fn is_damaged(&self) -> bool {
        !self.whole || self.extensions_malformed
    }

    /// True when the message carries an extensions block (even an empty one).
    pub fn has_extensions_block(&self) -> bool {
        self.extensions.is_some()
    }

    /// True when the extensions block was malformed past some point (a length running past
    /// the message, a truncated extension, trailing bytes): [`Self::extensions`] then holds
    /// the well-formed prefix, which is what fingerprints are computed over.
    pub fn extensions_malformed(&self) -> bool {
        self.extensions_malformed
    }

    /// The extensions in wire order.
    #[inline]
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions::new(self.extensions.unwrap_or(&[]))
    }

    /// The body of the first extension of type `t`.
    pub fn extension(&self, t: ExtensionType) -> Option<&'a [u8]> {
        self.extensions()
            .find(|e: &Extension<'_>| e.ext_type == t)
            .map(|e| e.data)
    }

    /// The first host_name of server_name; `None` when absent or malformed.
    pub fn server_name(&self) -> Option<&'a [u8]> {
        extensions::parse_server_name(self.extension(ExtensionType::SERVER_NAME)?)
            .ok()
            .flatten()
    }

    /// The server name as text, when it is valid UTF-8 (host names are ASCII).
    pub fn server_name_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.server_name()?).ok()
    }

    /// The ALPN protocol names offered; `None` when absent or malformed.
    pub fn alpn(&self) -> Option<ProtocolNames<'a>> {
        extensions::parse_alpn(self.extension(ExtensionType::ALPN)?).ok()
    }

    /// supported_versions, in wire order with GREASE; `None` when absent or malformed.
    pub fn supported_versions(&self) -> Option<U16List<'a, TlsVersion>> {
        extensions::parse_supported_versions_client(
            self.extension(ExtensionType::SUPPORTED_VERSIONS)?,
        )
        .ok()
    }

    /// supported_groups; `None` when absent or malformed.
    pub fn supported_groups(&self) -> Option<U16List<'a, NamedGroup>> {
        extensions::parse_supported_groups(self.extension(ExtensionType::SUPPORTED_GROUPS)?).ok()
    }

    /// ec_point_formats; `None` when absent or malformed.
    pub fn ec_point_formats(&self) -> Option<&'a [u8]> {
        extensions::parse_ec_point_formats(self.extension(ExtensionType::EC_POINT_FORMATS)?).ok()
    }

    /// signature_algorithms in wire order; `None` when absent or malformed.
    pub fn signature_algorithms(&self) -> Option<U16List<'a, SignatureScheme>> {
        extensions::parse_signature_algorithms(self.extension(ExtensionType::SIGNATURE_ALGORITHMS)?)
            .ok()
    }

    /// The groups of the key_share entries, in wire order; `None` when absent or malformed.
    pub fn key_share_groups(&self) -> Option<impl Iterator<Item = NamedGroup> + 'a> {
        let entries =
            extensions::parse_key_share_client(self.extension(ExtensionType::KEY_SHARE)?).ok()?;
        Some(entries.map(|e| e.group))
    }

    /// True when TLS_FALLBACK_SCSV (RFC 7507) is among the cipher suites: this hello is a
    /// retry at a lower version after a failed attempt.
    pub fn has_fallback_scsv(&self) -> bool {
        self.cipher_suites()
            .any(|c| c == CipherSuite::TLS_FALLBACK_SCSV)
    }

    /// True when TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746) is among the cipher suites.
    pub fn has_renegotiation_scsv(&self) -> bool {
        self.cipher_suites()
            .any(|c| c == CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
    }

    /// The versions this hello offers, highest first, GREASE removed: supported_versions when
    /// present, else `legacy_version` alone.
    ///
    /// A pre-1.3 client that sends `legacy_version` 1.2 will in practice also accept 1.0 and
    /// 1.1, but nothing on the wire says so; this reports what the wire says.
    pub fn offered_versions(&self) -> Vec<TlsVersion> {
        if let Some(sv) = self.supported_versions() {
            let mut v: Vec<TlsVersion> = sv.filter(|v| !v.is_grease()).collect();
            if !v.is_empty() {
                v.sort_unstable_by(|a, b| b.cmp(a));
                v.dedup();
                return v;
            }
        }
        vec![self.legacy_version]
    }

    /// The highest version offered (see [`ClientHello::offered_versions`]).
    pub fn highest_version(&self) -> TlsVersion {
        if let Some(sv) = self.supported_versions() {
            if let Some(max) = sv.filter(|v| !v.is_grease()).max() {
                return max;
            }
        }
        self.legacy_version
    }
}

/// Parses a ClientHello from the start of a TLS byte stream: the first record must be a
/// handshake record whose first message is a complete ClientHello.
///
/// Hellos that span records (post-quantum key shares make them larger than one TCP segment,
/// and some stacks split them over records) need [`crate::HandshakeReassembler`].
///
/// ```
/// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
/// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
/// assert_eq!(hello.server_name_str(), Some("api.procore.com"));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_client_hello_record(stream: &[u8]) -> Result<ClientHello<'_>, Error> {
    let (record, _) = crate::record::parse_record(stream)?;
    if record.content_type != crate::record::ContentType::Handshake {
        return Err(Error::Malformed {
            structure: Structure::TlsPlaintext,
            field: "not a handshake record",
        });
    }
    let (msg, _) = crate::handshake::parse_handshake(record.fragment, record.fragment.len())?;
    if msg.msg_type != crate::handshake::HandshakeType::CLIENT_HELLO {
        return Err(Error::Malformed {
            structure: Structure::Handshake,
            field: "msg_type is not client_hello",
        });
    }
    ClientHello::parse(msg.body)
}
