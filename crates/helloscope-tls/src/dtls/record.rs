//! The DTLS record layer (RFC 6347 §4.1; RFC 9147 §4 for DTLS 1.3's `DTLSPlaintext`): type,
//! version, epoch, 48-bit sequence number, length, fragment. Several records may share one
//! datagram; a record never spans datagrams.

use nom::bytes::complete::take;
use nom::combinator::{peek, verify};
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::sequence::tuple;

use crate::error::{field, finish, Error, PResult, Structure};
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
    let (rest, record) = finish(Structure::DtlsPlaintext, dtls_plaintext(datagram))?;
    Ok((record, rest))
}

/// `DTLSPlaintext`: type, version, epoch, the 48-bit sequence_number, then the fragment with
/// its `u16` length. A header cut short is `truncated` before any of its fields is judged.
fn dtls_plaintext(i: &[u8]) -> PResult<'_, (&[u8], DtlsRecord<'_>)> {
    field("truncated", peek(take(DTLS_RECORD_HEADER_LEN)))(i)?;
    let (i, content_type) = field(
        "content_type",
        verify(be_u8, |&t| (20..=63).contains(&t) && t & 0xe0 != 0x20),
    )(i)?;
    let (i, version) = field(
        "version",
        verify(be_u16, |&v| {
            let [hi, lo] = v.to_be_bytes();
            is_dtls_version(hi, lo)
        }),
    )(i)?;
    let (i, (epoch, sequence_hi, sequence_lo)) = tuple((be_u16, be_u16, be_u32))(i)?;
    let (i, length) = field(
        "length",
        verify(be_u16, |&l| usize::from(l) <= MAX_FRAGMENT_LEN),
    )(i)?;
    let (i, fragment) = field("length", take(length))(i)?;
    Ok((
        i,
        (
            i,
            DtlsRecord {
                content_type,
                version: TlsVersion::from_wire(version),
                epoch,
                sequence_number: u64::from(sequence_hi) << 32 | u64::from(sequence_lo),
                fragment,
            },
        ),
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
