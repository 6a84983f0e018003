//! The DTLS record layer (RFC 6347 §4.1; RFC 9147 §4 for DTLS 1.3's `DTLSPlaintext`): type,
//! version, epoch, 48-bit sequence number, length, fragment. Several records may share one
//! datagram; a record never spans datagrams.

use crate::error::{Error, Structure};
use crate::record::{ContentType, MAX_FRAGMENT_LEN};
use crate::version::TlsVersion;

/// Size of a DTLS record header.
pub const DTLS_RECORD_HEADER_LEN: usize = 13;

/// One DTLS record with its fragment borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DtlsRecord<'a> {
    /// The content type (as a wire byte: DTLS 1.3's ciphertext records use others).
    pub content_type: u8,
    /// The record version: 0xfeff (DTLS 1.0) or 0xfefd (DTLS 1.2, and DTLS 1.3's plaintext).
    pub version: TlsVersion,
    /// The epoch: 0 until the first ChangeCipherSpec (or DTLS 1.3 key change), then
    /// encrypted.
    pub epoch: u16,
    /// The 48-bit sequence number.
    pub sequence_number: u64,
    /// The fragment.
    pub fragment: &'a [u8],
}

impl DtlsRecord<'_> {
    /// The content type, when it is one of the registry's.
    pub fn content_type(&self) -> Option<ContentType> {
        ContentType::from_wire(self.content_type)
    }

    /// True for epoch 0, whose records are in clear.
    pub fn is_plaintext(&self) -> bool {
        self.epoch == 0
    }
}

fn malformed(field: &'static str) -> Error {
    Error::Malformed {
        structure: Structure::DtlsPlaintext,
        field,
    }
}

/// True for the record versions of DTLS: 0xfeff, 0xfefd, 0xfefc (which RFC 9147 forbids in
/// records, but which a datagram could still carry), and 0x0100, the DTLS 1.0 of OpenSSL
/// before 0.9.8f (`DTLS1_BAD_VER`, still spoken by old Cisco AnyConnect gateways).
#[inline]
pub(crate) fn is_dtls_version(hi: u8, lo: u8) -> bool {
    (hi == 0xfe && matches!(lo, 0xff | 0xfd | 0xfc)) || (hi, lo) == (0x01, 0x00)
}

/// Parses the DTLS record at the front of `datagram`, returning it and the rest.
///
/// DTLS 1.3's unified-header ciphertext records (first byte `001xxxxx`) are not
/// `DTLSPlaintext`: they are refused with field `content_type`.
///
/// ```
/// use helloscope_tls::dtls::parse_dtls_record;
/// use helloscope_tls::TlsVersion;
/// // An alert record: epoch 0, sequence number 5, fatal handshake_failure.
/// let datagram = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 2, 2, 40];
/// let (r, rest) = parse_dtls_record(&datagram)?;
/// assert_eq!((r.version, r.epoch, r.sequence_number), (TlsVersion::Dtls12, 0, 5));
/// assert_eq!(r.fragment, [2, 40]);
/// assert!(rest.is_empty());
/// # Ok::<(), helloscope_tls::Error>(())
/// ```
pub fn parse_dtls_record(datagram: &[u8]) -> Result<(DtlsRecord<'_>, &[u8]), Error> {
    let Some(h) = datagram.get(..DTLS_RECORD_HEADER_LEN) else {
        return Err(malformed("truncated"));
    };
    if !(20..=63).contains(&h[0]) || h[0] & 0xe0 == 0x20 {
        return Err(malformed("content_type"));
    }
    if !is_dtls_version(h[1], h[2]) {
        return Err(malformed("version"));
    }
    let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
    if len > MAX_FRAGMENT_LEN {
        return Err(malformed("length"));
    }
    let Some(fragment) = datagram.get(DTLS_RECORD_HEADER_LEN..DTLS_RECORD_HEADER_LEN + len) else {
        return Err(malformed("length"));
    };
    let mut seq = [0u8; 8];
    seq[2..].copy_from_slice(&h[5..11]);
    Ok((
        DtlsRecord {
            content_type: h[0],
            version: TlsVersion::from_wire(u16::from_be_bytes([h[1], h[2]])),
            epoch: u16::from_be_bytes([h[3], h[4]]),
            sequence_number: u64::from_be_bytes(seq),
            fragment,
        },
        &datagram[DTLS_RECORD_HEADER_LEN + len..],
    ))
}

/// The records of one datagram, in order; iteration stops at the first that does not parse
/// (kept in [`DtlsRecords::stopped_by`]).
///
/// ```
/// use helloscope_tls::dtls::DtlsRecords;
/// let alert = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 2, 2, 40];
/// let two = [alert, alert].concat();
/// assert_eq!(DtlsRecords::new(&two).count(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct DtlsRecords<'a> {
    rest: &'a [u8],
    stopped_by: Option<Error>,
}

impl<'a> DtlsRecords<'a> {
    /// The records of `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        DtlsRecords {
            rest: datagram,
            stopped_by: None,
        }
    }

    /// Why iteration stopped before the end of the datagram, if it did.
    pub fn stopped_by(&self) -> Option<Error> {
        self.stopped_by
    }
}

impl<'a> Iterator for DtlsRecords<'a> {
    type Item = DtlsRecord<'a>;

    fn next(&mut self) -> Option<DtlsRecord<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_dtls_record(self.rest) {
            Ok((r, rest)) => {
                self.rest = rest;
                Some(r)
            }
            Err(e) => {
                self.stopped_by = Some(e);
                self.rest = &[];
                None
            }
        }
    }
}
