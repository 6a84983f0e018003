//! Hello extensions (RFC 8446 §4.2): the list in wire order as (type, raw body), and typed
//! readers for the bodies this crate interprets.
//!
//! Every reader takes the `extension_data` of one extension and checks it completely: the
//! iterators it returns cannot fail afterwards.

use nom::bytes::complete::take;
use nom::combinator::{all_consuming, verify};
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::sequence::tuple;

use crate::error::{fail, field, finish, vec_u16, vec_u8, Error, PResult, Structure};
use crate::registry::{ExtensionType, NamedGroup, SignatureScheme, U16List};
use crate::version::TlsVersion;

/// One extension: its type and its body, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extension<'a> {
    /// `extension_type`.
    pub ext_type: ExtensionType,
    /// `extension_data`, without its length prefix.
    pub data: &'a [u8],
}

/// The extensions of a hello, in wire order. Framing was checked when the hello was parsed.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    rest: &'a [u8],
}

impl<'a> Extensions<'a> {
    pub(crate) fn new(block: &'a [u8]) -> Self {
        Extensions { rest: block }
    }

    /// The bytes of the extensions not walked yet, each with its four-byte header: a bound
    /// for anything written from them (the whole block before the first `next`).
    ///
    /// ```
    /// # let bytes = helloscope_tls::doc_sample::CURL_CLIENT_HELLO;
    /// let hello = helloscope_tls::parse_client_hello_record(bytes)?;
    /// let mut exts = hello.extensions();
    /// let all = exts.as_bytes().len();
    /// let first = exts.next().unwrap();
    /// assert_eq!(exts.as_bytes().len(), all - 4 - first.data.len());
    /// # Ok::<(), helloscope_tls::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    #[inline]
    fn next(&mut self) -> Option<Extension<'a>> {
        let r = self.rest;
        if r.len() < 4 {
            return None;
        }
        let ext_type = ExtensionType(u16::from_be_bytes([r[0], r[1]]));
        let len = u16::from_be_bytes([r[2], r[3]]) as usize;
        let data = r.get(4..4 + len)?;
        self.rest = &r[4 + len..];
        Some(Extension { ext_type, data })
    }
}

/// Reads an extensions block leniently: the well-formed prefix of the list, and whether
/// anything after it was malformed (a length running past the message, a truncated
/// extension). A passive observer still wants the fingerprint of a sloppy hello; the flag
/// says it was sloppy.
pub(crate) fn extensions_block(i: &[u8]) -> (&[u8], bool) {
    let (declared, mut malformed) = match i {
        [a, b, rest @ ..] => {
            let len = u16::from_be_bytes([*a, *b]) as usize;
            if len <= rest.len() {
                (&rest[..len], len != rest.len())
            } else {
                (rest, true)
            }
        }
        _ => (&i[..0], true),
    };
    let mut good = 0;
    let mut walk = declared;
    while !walk.is_empty() {
        match tuple((be_u16::<_, FieldError>, vec_u16))(walk) {
            Ok((r, _)) => {
                good = declared.len() - r.len();
                walk = r;
            }
            Err(_) => {
                malformed = true;
                break;
            }
        }
    }
    (&declared[..good], malformed)
}

/// The optional extensions block that ends both hellos: absent (TLS 1.2 and earlier allow
/// that), or read leniently. Returns the block and whether it was malformed.
pub(crate) fn optional_extensions_block(rest: &[u8]) -> (Option<&[u8]>, bool) {
    if rest.is_empty() {
        (None, false)
    } else {
        let (e, bad) = extensions_block(rest);
        (Some(e), bad)
    }
}

fn u16_list_u16<'a>(name: &'static str, min: usize, i: &'a [u8]) -> PResult<'a, &'a [u8]> {
    field(
        name,
        verify(vec_u16, |b: &[u8]| {
            b.len().is_multiple_of(2) && b.len() >= min
        }),
    )(i)
}

fn body<'a, T>(
    structure: Structure,
    data: &'a [u8],
    p: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, Error> {
    finish(structure, all_consuming(p)(data))
}

/// Reads server_name (RFC 6066 §3) and returns the first `host_name` entry.
///
/// ```
/// use helloscope_tls::extensions::parse_server_name;
/// let data = [0, 8, 0, 0, 5, b'a', b'.', b'c', b'o', b'm'];
/// assert_eq!(parse_server_name(&data)?, Some(&b"a.com"[..]));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_server_name(data: &[u8]) -> Result<Option<&[u8]>, Error> {
    body(Structure::ServerNameList, data, |i| {
        let (rest, list) = field("server_name_list", vec_u16)(i)?;
        let mut walk = list;
        let mut host = None;
        while !walk.is_empty() {
            let (r, (name_type, name)) = field("ServerName", tuple((be_u8, vec_u16)))(walk)?;
            if name_type == 0 && host.is_none() {
                host = Some(name);
            }
            walk = r;
        }
        Ok((rest, host))
    })
}

/// The protocol names of an ALPN `ProtocolNameList` (RFC 7301 §3.1), in wire order.
#[derive(Clone, Debug)]
pub struct ProtocolNames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ProtocolNames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, r) = self.rest.split_first()?;
        let name = r.get(..len as usize)?;
        self.rest = &r[len as usize..];
        Some(name)
    }
}

/// Reads application_layer_protocol_negotiation (RFC 7301): the protocol names, in order.
///
/// ```
/// use helloscope_tls::extensions::parse_alpn;
/// let data = [0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'];
/// let names: Vec<&[u8]> = parse_alpn(&data)?.collect();
/// assert_eq!(names, [&b"h2"[..], &b"http/1.1"[..]]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_alpn(data: &[u8]) -> Result<ProtocolNames<'_>, Error> {
    body(Structure::ProtocolNameList, data, |i| {
        let (rest, list) = field("protocol_name_list", vec_u16)(i)?;
        let mut walk = list;
        while !walk.is_empty() {
            // Empty names are forbidden (ProtocolName<1..2^8-1>) but seen in the wild; keep
            // them so fingerprints see what the client sent.
            let (r, _) = field("ProtocolName", vec_u8)(walk)?;
            walk = r;
        }
        Ok((rest, ProtocolNames { rest: list }))
    })
}

/// Reads a ClientHello's supported_versions (RFC 8446 §4.2.1): the offered versions in wire
/// order, GREASE included.
///
/// ```
/// use helloscope_tls::{extensions::parse_supported_versions_client, TlsVersion};
/// let v: Vec<TlsVersion> = parse_supported_versions_client(&[4, 0x03, 0x04, 0x03, 0x03])?.collect();
/// assert_eq!(v, [TlsVersion::Tls13, TlsVersion::Tls12]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_supported_versions_client(data: &[u8]) -> Result<U16List<'_, TlsVersion>, Error> {
    body(Structure::SupportedVersions, data, |i| {
        let (rest, list) = field(
            "versions",
            verify(vec_u8, |b: &[u8]| {
                b.len().is_multiple_of(2) && !b.is_empty()
            }),
        )(i)?;
        Ok((rest, U16List::new(list)))
    })
}

/// Reads a ServerHello's supported_versions: the one selected version.
///
/// ```
/// use helloscope_tls::{extensions::parse_supported_versions_server, TlsVersion};
/// assert_eq!(parse_supported_versions_server(&[0x03, 0x04])?, TlsVersion::Tls13);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_supported_versions_server(data: &[u8]) -> Result<TlsVersion, Error> {
    body(Structure::SupportedVersions, data, |i| {
        let (rest, v) = field("selected_version", be_u16)(i)?;
        Ok((rest, TlsVersion::from_wire(v)))
    })
}

/// Reads supported_groups (RFC 8422 §5.1.1, RFC 8446 §4.2.7).
///
/// ```
/// use helloscope_tls::{extensions::parse_supported_groups, NamedGroup};
/// let g: Vec<NamedGroup> = parse_supported_groups(&[0, 4, 0x00, 0x1d, 0x00, 0x17])?.collect();
/// assert_eq!(g, [NamedGroup::X25519, NamedGroup::SECP256R1]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_supported_groups(data: &[u8]) -> Result<U16List<'_, NamedGroup>, Error> {
    body(Structure::NamedGroupList, data, |i| {
        let (rest, list) = u16_list_u16("named_group_list", 0, i)?;
        Ok((rest, U16List::new(list)))
    })
}

/// Reads ec_point_formats (RFC 8422 §5.1.2): the format bytes.
///
/// ```
/// use helloscope_tls::extensions::parse_ec_point_formats;
/// assert_eq!(parse_ec_point_formats(&[1, 0])?, &[0]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_ec_point_formats(data: &[u8]) -> Result<&[u8], Error> {
    body(
        Structure::EcPointFormatList,
        data,
        field("ec_point_format_list", vec_u8),
    )
}

/// Reads signature_algorithms or signature_algorithms_cert (RFC 8446 §4.2.3), in wire order.
///
/// ```
/// use helloscope_tls::{extensions::parse_signature_algorithms, SignatureScheme};
/// let s: Vec<SignatureScheme> = parse_signature_algorithms(&[0, 2, 0x08, 0x04])?.collect();
/// assert_eq!(s, [SignatureScheme::RSA_PSS_RSAE_SHA256]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_signature_algorithms(data: &[u8]) -> Result<U16List<'_, SignatureScheme>, Error> {
    body(Structure::SignatureSchemeList, data, |i| {
        let (rest, list) = u16_list_u16("supported_signature_algorithms", 0, i)?;
        Ok((rest, U16List::new(list)))
    })
}

/// One `KeyShareEntry` (RFC 8446 §4.2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyShareEntry<'a> {
    /// The group of the share.
    pub group: NamedGroup,
    /// The public value.
    pub key_exchange: &'a [u8],
}

/// The entries of a ClientHello key_share, in wire order.
#[derive(Clone, Debug)]
pub struct KeyShareEntries<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for KeyShareEntries<'a> {
    type Item = KeyShareEntry<'a>;

    fn next(&mut self) -> Option<KeyShareEntry<'a>> {
        let (r, (g, k)) = tuple((be_u16::<_, FieldError>, vec_u16))(self.rest).ok()?;
        self.rest = r;
        Some(KeyShareEntry {
            group: NamedGroup(g),
            key_exchange: k,
        })
    }
}

use crate::error::FieldError;

/// Reads a ClientHello key_share (`KeyShareClientHello`).
///
/// ```
/// use helloscope_tls::{extensions::parse_key_share_client, NamedGroup};
/// let data = [0, 6, 0x00, 0x1d, 0, 2, 0xaa, 0xbb];
/// let e: Vec<_> = parse_key_share_client(&data)?.collect();
/// assert_eq!(e[0].group, NamedGroup::X25519);
/// assert_eq!(e[0].key_exchange, &[0xaa, 0xbb]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_key_share_client(data: &[u8]) -> Result<KeyShareEntries<'_>, Error> {
    body(Structure::KeyShareClientHello, data, |i| {
        let (rest, list) = field("client_shares", vec_u16)(i)?;
        let mut walk = list;
        while !walk.is_empty() {
            let (r, _) = field("KeyShareEntry", tuple((be_u16, vec_u16)))(walk)?;
            walk = r;
        }
        Ok((rest, KeyShareEntries { rest: list }))
    })
}

/// Reads a ServerHello key_share (`KeyShareServerHello`), or a HelloRetryRequest's
/// (`KeyShareHelloRetryRequest`, just the selected group).
///
/// ```
/// use helloscope_tls::{extensions::parse_key_share_server, NamedGroup};
/// // HelloRetryRequest form: the group alone.
/// assert_eq!(parse_key_share_server(&[0x00, 0x17])?, NamedGroup::SECP256R1);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_key_share_server(data: &[u8]) -> Result<NamedGroup, Error> {
    body(Structure::KeyShareServerHello, data, |i| {
        let (r, g) = field("group", be_u16)(i)?;
        if r.is_empty() {
            return Ok((r, NamedGroup(g)));
        }
        let (r, _) = field("key_exchange", vec_u16)(r)?;
        Ok((r, NamedGroup(g)))
    })
}

/// A ClientHello's pre_shared_key offer (RFC 8446 §4.2.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OfferedPsks<'a> {
    /// Number of `PskIdentity` entries.
    pub identity_count: usize,
    /// The raw `identities` list.
    pub identities: &'a [u8],
    /// The raw `binders` list.
    pub binders: &'a [u8],
}

/// Reads a ClientHello's pre_shared_key.
///
/// ```
/// use helloscope_tls::extensions::parse_pre_shared_key_client;
/// let mut data = vec![0, 7, 0, 1, 0xee, 0, 0, 0, 1, 0, 33, 32];
/// data.extend([0u8; 32]);
/// assert_eq!(parse_pre_shared_key_client(&data)?.identity_count, 1);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_pre_shared_key_client(data: &[u8]) -> Result<OfferedPsks<'_>, Error> {
    body(Structure::OfferedPsks, data, |i| {
        let (r, identities) = field("identities", vec_u16)(i)?;
        let mut walk = identities;
        let mut identity_count = 0;
        while !walk.is_empty() {
            let (w, _) = field("PskIdentity", tuple((vec_u16, be_u32)))(walk)?;
            walk = w;
            identity_count += 1;
        }
        let (r, binders) = field("binders", vec_u16)(r)?;
        Ok((
            r,
            OfferedPsks {
                identity_count,
                identities,
                binders,
            },
        ))
    })
}

/// Reads psk_key_exchange_modes (RFC 8446 §4.2.9): the mode bytes (0 psk_ke, 1 psk_dhe_ke).
///
/// ```
/// use helloscope_tls::extensions::parse_psk_key_exchange_modes;
/// assert_eq!(parse_psk_key_exchange_modes(&[1, 1])?, &[1]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_psk_key_exchange_modes(data: &[u8]) -> Result<&[u8], Error> {
    body(
        Structure::PskKeyExchangeModes,
        data,
        field("ke_modes", vec_u8),
    )
}

/// A ClientHello's encrypted_client_hello (draft-ietf-tls-esni §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchClientHello<'a> {
    /// The outer form, as sent on the wire (also what "ECH GREASE" looks like).
    Outer {
        /// HPKE KDF id.
        kdf_id: u16,
        /// HPKE AEAD id.
        aead_id: u16,
        /// The ECHConfig id.
        config_id: u8,
        /// The encapsulated key.
        enc: &'a [u8],
        /// The encrypted inner ClientHello.
        payload: &'a [u8],
    },
    /// The inner marker (an empty body after the type byte).
    Inner,
}

/// Reads encrypted_client_hello.
///
/// ```
/// use helloscope_tls::extensions::{parse_encrypted_client_hello, EchClientHello};
/// let data = [0, 0, 1, 0, 1, 7, 0, 1, 0xaa, 0, 1, 0xbb];
/// assert!(matches!(parse_encrypted_client_hello(&data)?, EchClientHello::Outer { config_id: 7, .. }));
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_encrypted_client_hello(data: &[u8]) -> Result<EchClientHello<'_>, Error> {
    body(Structure::EchClientHello, data, |i| {
        let (r, kind) = field("type", be_u8)(i)?;
        match kind {
            0 => {
                let (r, (kdf_id, aead_id, config_id, enc, payload)) = field(
                    "ECHClientHello",
                    tuple((be_u16, be_u16, be_u8, vec_u16, vec_u16)),
                )(r)?;
                Ok((
                    r,
                    EchClientHello::Outer {
                        kdf_id,
                        aead_id,
                        config_id,
                        enc,
                        payload,
                    },
                ))
            }
            1 => Ok((r, EchClientHello::Inner)),
            _ => fail("type"),
        }
    })
}

/// Reads renegotiation_info (RFC 5746 §3.2): `renegotiated_connection`, empty on a first
/// handshake.
///
/// ```
/// use helloscope_tls::extensions::parse_renegotiation_info;
/// assert_eq!(parse_renegotiation_info(&[0])?, &[] as &[u8]);
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_renegotiation_info(data: &[u8]) -> Result<&[u8], Error> {
    body(
        Structure::RenegotiationInfo,
        data,
        field("renegotiated_connection", vec_u8),
    )
}

/// Reads padding (RFC 7685): its length, checking that every byte is zero as required.
///
/// ```
/// use helloscope_tls::extensions::parse_padding;
/// assert_eq!(parse_padding(&[0; 5])?, 5);
/// assert!(parse_padding(&[0, 1]).is_err());
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_padding(data: &[u8]) -> Result<usize, Error> {
    body(Structure::PaddingExtension, data, |i| {
        let (r, z) = field(
            "zeros",
            verify(take(i.len()), |b: &[u8]| b.iter().all(|&x| x == 0)),
        )(i)?;
        Ok((r, z.len()))
    })
}
